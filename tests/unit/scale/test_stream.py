"""Streaming sampling to a dataset folder: parts, atomic appearance, resume after a crash
without duplicate or missing rows, request checks; on a model of real data (UCI Adult)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sosie
from sosie.errors import DataSourceError, InvalidDataError
from sosie.generators import GaussianCopulaGenerator
from sosie.scale import _dataset


@pytest.fixture(scope="module")
def model_path(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "adult.sosie"
    GaussianCopulaGenerator(rng=0).fit(adult_small).save(path)
    return path


@pytest.fixture
def gen(model_path):
    return sosie.load(model_path)  # a fresh copy: its sampling stream starts at the same place


def _crash_after(monkeypatch, k: int):
    real = _dataset.write_part
    calls = {"n": 0}

    def flaky(target, folder, i, df, fmt):
        if calls["n"] == k:
            raise KeyboardInterrupt("simulated crash")
        calls["n"] += 1
        return real(target, folder, i, df, fmt)

    monkeypatch.setattr(_dataset, "write_part", flaky)


def test_parts_rows_and_metadata(gen, tmp_path):
    out = gen.sample_to(tmp_path / "adult", 23_000, chunk_rows=5_000, rng=4)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["_sosie_dataset.json", *(f"part-0000{i}.parquet" for i in range(5))]
    df = pd.read_parquet(out)
    assert len(df) == 23_000 and list(df.columns) == gen.schema_.names
    meta = json.loads((out / "_sosie_dataset.json").read_text())
    assert meta["n_rows"] == 23_000 and meta["parts"] == 5 and meta["seed"]["entropy"] == 4
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    # part i is sample(rows_i, rng=child i of the seed): the same as sampling it directly
    first = gen.sample(5_000, rng=_dataset.part_seed(meta["seed"], 0))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "part-00000.parquet"), first,
                                  check_dtype=False)  # fmt: skip


def test_a_crash_leaves_no_dataset_and_the_rerun_completes_it_identically(
    model_path, tmp_path, monkeypatch
):
    whole = sosie.load(model_path).sample_to(tmp_path / "whole", 20_000, chunk_rows=4_000, rng=9)
    _crash_after(monkeypatch, 2)
    target = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        sosie.load(model_path).sample_to(target, 20_000, chunk_rows=4_000, rng=9)
    assert not target.exists()
    partial = _dataset.partial_dir(target)
    assert sorted(p.name for p in partial.glob("part-*")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    monkeypatch.undo()
    sosie.load(model_path).sample_to(target, 20_000, chunk_rows=4_000, rng=9)
    assert not partial.exists()
    a, b = pd.read_parquet(whole), pd.read_parquet(target)
    assert len(b) == 20_000
    pd.testing.assert_frame_equal(a, b)


def test_resume_without_a_seed_reuses_the_recorded_one(model_path, tmp_path, monkeypatch):
    expected = sosie.load(model_path).sample_to(tmp_path / "a", 9_000, chunk_rows=3_000)
    _crash_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        sosie.load(model_path).sample_to(tmp_path / "b", 9_000, chunk_rows=3_000)
    monkeypatch.undo()
    out = sosie.load(model_path).sample_to(tmp_path / "b", 9_000, chunk_rows=3_000)
    pd.testing.assert_frame_equal(pd.read_parquet(expected), pd.read_parquet(out))


def test_a_different_request_does_not_mix_with_an_unfinished_one(gen, tmp_path, monkeypatch):
    _crash_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        gen.sample_to(tmp_path / "x", 9_000, chunk_rows=3_000, rng=1)
    monkeypatch.undo()
    with pytest.raises(DataSourceError, match="different chunk_rows, seed"):
        gen.sample_to(tmp_path / "x", 9_000, chunk_rows=2_000, rng=2)


def test_csv_conditions_overwrite_and_bad_requests(gen, tmp_path):
    out = gen.sample_to(tmp_path / "rich.csv", 3_000, chunk_rows=1_000, rng=0,
                        conditions={"income": ">50K"})  # fmt: skip
    parts = sorted(out.glob("part-*.csv"))
    assert len(parts) == 3
    df = pd.concat(pd.read_csv(p) for p in parts)
    assert len(df) == 3_000 and (df["income"] == ">50K").all()
    with pytest.raises(DataSourceError, match="overwrite=True"):
        gen.sample_to(out, 10, rng=0)
    assert len(pd.read_csv(gen.sample_to(out, 10, rng=0, overwrite=True) / "part-00000.csv")) == 10
    with pytest.raises(InvalidDataError) as e:
        gen.sample_to(tmp_path / "bad", -1, chunk_rows=0, conditions=pd.DataFrame({"a": [1]}))
    text = str(e.value)
    assert "n_rows" in text and "chunk_rows" in text and "conditions" in text
    with pytest.raises(DataSourceError, match="object-store URI pyarrow can open"):
        gen.sample_to("nope://bucket/out", 10)
    with pytest.raises(DataSourceError, match="parquet or csv"):
        gen.sample_to(tmp_path / "o", 10, format="xlsx")


def test_read_sample_is_uniform_and_recorded_in_the_model(gen, tmp_path):
    from sosie.scale import read_sample

    big = gen.sample_to(tmp_path / "big", 60_000, chunk_rows=7_000, rng=2)
    full = pd.read_parquet(big)
    s = read_sample(big, 6_000, rng=0, batch_rows=5_000)
    assert len(s) == 6_000 and s.attrs["sosie_sample"]["of"] == 60_000
    pd.testing.assert_frame_equal(s, read_sample(big, 6_000, rng=0, batch_rows=33_333))
    # a uniform sample: shares and means match the whole table within sampling error
    assert abs(s["age"].mean() - full["age"].mean()) < 0.6  # sd ~13.6 / sqrt(6000) = 0.18
    share = lambda d: (d["income"] == ">50K").mean()  # noqa: E731
    assert abs(share(s) - share(full)) < 0.02
    m = GaussianCopulaGenerator(rng=0).fit(s)
    assert m.fit_sample_["rows"] == 6_000 and m.fit_sample_["of"] == 60_000
    path = m.save(tmp_path / "m.sosie")
    assert sosie.load(path).fit_sample_ == m.fit_sample_
    from sosie.card import build_card

    assert build_card(m)["input"]["sampled_from"]["of"] == 60_000
    assert len(read_sample(big, 10**9)) == 60_000  # a sample larger than the table: all rows


def test_cli_streams_and_fits_on_a_sample(model_path, tmp_path):
    from sosie.cli import main

    out = tmp_path / "synth"
    assert main(["-q", "sample", str(model_path), "-n", "20000", "--chunk-rows", "5000",
                 "--seed", "1", "-o", str(out)]) == 0  # fmt: skip
    assert len(list(out.glob("part-*.parquet"))) == 4 and (tmp_path / "synth.card.json").exists()
    m = tmp_path / "m2.sosie"
    assert main(["-q", "fit", str(out), "--sample-rows", "3000", "--seed", "0", "-o", str(m)]) == 0
    assert sosie.load(m).fit_sample_["of"] == 20_000


def test_evaluate_large_on_parquet_datasets_matches_in_memory(gen, adult_train, tmp_path):
    pytest.importorskip("dask", reason="needs the optional extra 'scale'")
    from sosie.evaluate.fidelity import column_shapes, pair_trends
    from sosie.scale import evaluate_large

    real = adult_train.iloc[:12_000]
    (tmp_path / "real").mkdir()
    for i in range(4):  # a real dataset of four Parquet files
        real.iloc[i * 3_000 : (i + 1) * 3_000].to_parquet(tmp_path / "real" / f"r{i}.parquet")
    syn = gen.sample_to(tmp_path / "syn", 16_000, chunk_rows=4_000, rng=3)
    ev = evaluate_large(tmp_path / "real", syn, holdout=adult_train.iloc[20_000:23_000],
                        schema=gen.schema_, sample_rows=3_000, rng=0)  # fmt: skip
    syn_df = pd.read_parquet(syn)
    exact = column_shapes(real, syn_df, gen.schema_, n_boot=0)
    big = ev["column_shapes"]
    assert big.value == pytest.approx(exact.value, abs=0.003)
    for col, v in exact.breakdown.items():
        assert big.breakdown[col] == pytest.approx(v, abs=0.01), col
    # pair trends on every row (bins from the real sample) agree with the in-memory metric
    trends = pair_trends(real, syn_df, gen.schema_, n_boot=0)
    assert ev["pair_trends"].value == pytest.approx(trends.value, abs=0.01)
    assert ev["pair_trends"].details["pairs_evaluated"] == trends.details["pairs_evaluated"]
    assert ev.meta["large"]["rows"] == {"real": 12_000, "synthetic": 16_000, "holdout": 3_000}
    assert 0.5 < ev["detection_auc"].value < 0.95 and "dcr_share" in ev
    # real against itself: every row identical in distribution
    same = evaluate_large(real, real, schema=gen.schema_, sample_rows=2_000, rng=0)
    assert same["column_shapes"].value == 1.0 and same["pair_trends"].value == 1.0


def test_cli_evaluate_large(model_path, adult_train, tmp_path):
    pytest.importorskip("dask", reason="needs the optional extra 'scale'")
    from sosie.cli import main

    adult_train.iloc[:8_000].to_parquet(tmp_path / "real.parquet")
    adult_train.iloc[8_000:11_000].to_parquet(tmp_path / "holdout.parquet")
    syn = sosie.load(model_path).sample_to(tmp_path / "syn", 10_000, chunk_rows=5_000, rng=0)
    out = tmp_path / "eval"
    code = main(["-q", "evaluate", "--large", "--real", str(tmp_path / "real.parquet"),
                 "--holdout", str(tmp_path / "holdout.parquet"), "--synthetic", str(syn),
                 "--model", str(model_path), "--sample-rows", "2000", "-o", str(out)])  # fmt: skip
    assert code == 0
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["meta"]["large"]["rows"]["synthetic"] == 10_000
    assert {"column_shapes", "dcr_share"} <= {m["name"] for m in ev["metrics"]}
    assert (out / "report.html").exists() and (out / "card.json").exists()
