"""The inspection demo end to end (small configuration) and the ``sosie images`` commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("PIL")

import sosie
from sosie.cli import main
from sosie.errors import InvalidDataError
from sosie.generators import GaussianCopulaGenerator
from sosie.images import load_image_folder
from sosie.images.inspect import InspectConfig, inspect_demo

TINY = InspectConfig(
    n_train=200,
    n_test=150,
    defect_rate=0.05,
    n_sim_only=60,
    detector_images=200,
    diffusion_steps=4,
    diffusion_channels=(8, 16, 16),
    sample_steps=2,
)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--quiet", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("inspect")
    return out, inspect_demo(out, config=TINY, rng=0, verbose=False, n_threads=1)


def test_demo_writes_report_card_results_and_folders(demo):
    out, res = demo
    assert {p.name for p in out.iterdir()} >= {
        "report.html",
        "results.json",
        "card.json",
        "card.md",
        "real_train",
        "real_test",
        "synthetic_sim_nominal",
        "synthetic_sim_randomized",
        "synthetic_diffusion",
    }
    page = (out / "report.html").read_text()
    assert 'Which set plays "real"' in page and "No real board photographs are used" in page
    assert page.count('<img class="thumb" src="data:image/png;base64,') >= 8
    card = json.loads((out / "card.json").read_text())
    assert "plays REAL" in card["roles"]["real_train"] and "synthetic" in card["roles"]["diffusion"]
    assert json.loads((out / "results.json").read_text())["models"].keys() == res["models"].keys()


def test_demo_sets_and_scores_are_consistent(demo):
    out, res = demo
    train = load_image_folder(out / "real_train")
    n_def = int((train.labels != train.classes.index("ok")).sum())
    assert (
        len(train) == TINY.n_train
        and n_def
        == res["sets"]["real_train"]["n_images"] - res["sets"]["real_train"]["counts"]["ok"]
    )
    # synthetic defects bring the training set to the requested defect share
    n_add = res["sets"]["sim_nominal"]["n_images"]
    assert abs((n_def + n_add) / (TINY.n_train + n_add) - TINY.defect_share) < 0.01
    nominal = load_image_folder(out / "synthetic_sim_nominal")
    assert nominal.counts()["ok"] == 0 and len(nominal) == n_add  # defects only
    assert res["sets"]["diffusion"]["counts"] == {"ok": 0, "defect": n_add}
    for name, m in res["models"].items():
        assert 0.0 <= m["recall"] <= 1.0, name
        assert m["flagged"] <= TINY.n_test
        assert set(m["recall_by_type"]) == set(sosie.images.DEFECT_TYPES)
        assert 0.0 <= m["recall_at_1pct_fpr"] <= 1.0, name
    assert "real_plus_diffusion" in res["models"] and "sim_randomized_only" in res["models"]
    assert res["domain_gap"]["frechet_distance_real_train_to_real_test"] >= 0


def test_demo_rejects_bad_config(tmp_path):
    with pytest.raises(InvalidDataError, match="defect_share"):
        inspect_demo(tmp_path, config=InspectConfig(defect_share=0.01), verbose=False)
    with pytest.raises(InvalidDataError, match="size"):
        inspect_demo(tmp_path, config=InspectConfig(size=32), verbose=False)
    with pytest.raises(InvalidDataError, match="'moderate' or 'wide'"):
        inspect_demo(tmp_path, config=InspectConfig(randomization="factory"), verbose=False)


def test_cli_simulate_fit_sample_evaluate(capsys, tmp_path):
    sim = tmp_path / "boards"
    code, _, _ = run(
        capsys, "images", "simulate", "-n", "40", "-o", str(sim), "--defect-rate", "0.5"
    )
    assert code == 0 and (sim / "annotations.json").is_file()
    boards = load_image_folder(sim)
    assert len(boards) == 40 and boards.annotations is not None
    model = tmp_path / "m.sosie"
    code, _, _ = run(
        capsys,
        "images",
        "fit",
        str(sim),
        "-o",
        str(model),
        "--steps",
        "2",
        "-p",
        "channels=[8, 16]",
        "-p",
        "sample_steps=2",
    )
    assert code == 0 and sosie.load(model).steps_ == 2
    made = tmp_path / "made"
    code, _, _ = run(
        capsys, "images", "sample", str(model), "-n", "6", "-o", str(made), "--label", "ok"
    )
    assert code == 0
    batch = load_image_folder(made)
    assert len(batch) == 6 and set(batch.label_names) == {"ok"}
    assert batch.shape == boards.shape
    report = tmp_path / "r.html"
    code, _, _ = run(
        capsys,
        "images",
        "evaluate",
        str(sim),
        str(sim),
        str(made),
        "-o",
        str(report),
    )
    assert code == 0 and report.is_file() and report.with_suffix(".json").is_file()


def test_cli_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(
        capsys, "images", "simulate", "-o", str(tmp_path / "x"), "--randomization", "foggy"
    )
    assert code == 2 and "expected one of none, moderate, wide, factory" in err
    assert not (tmp_path / "x").exists()
    code, _, err = run(
        capsys, "images", "fit", str(tmp_path / "missing"), "-o", str(tmp_path / "m")
    )
    assert code == 2 and "no such folder" in err
    table_model = tmp_path / "t.sosie"
    GaussianCopulaGenerator(rng=0).fit(pd.DataFrame({"x": np.arange(10.0)})).save(table_model)
    code, _, err = run(capsys, "images", "sample", str(table_model), "-o", str(tmp_path / "o"))
    assert code == 2 and "expected an image model" in err


def test_cli_inspect_demo_prints_scores_and_writes_report(capsys, tmp_path, monkeypatch):
    # the CLI's wiring, on the tiny configuration (``--quick`` takes about 35 s)
    monkeypatch.setattr(InspectConfig, "quick", classmethod(lambda cls: TINY))
    out = tmp_path / "demo"
    code = main(["images", "inspect-demo", "--quick", "--no-diffusion", "-o", str(out)])
    cap = capsys.readouterr()
    printed = cap.out + cap.err
    assert code == 0 and (out / "report.html").is_file()
    assert "real_plus_sim_randomized" in printed and "recall@1%FA" in printed
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["diffusion"] is False and "real_plus_diffusion" not in res["models"]
