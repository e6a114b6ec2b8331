"""Drift on real data with a real shift (UCI Adult: people under 40 vs 40 and over) and
without one (two random halves), through the API and the CLI (exit codes for pipelines)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sosie.cli import main
from sosie.datasets import load_adult
from sosie.evaluate.drift import DriftThresholds, benjamini_hochberg, drift, psi


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult().sample(8000, random_state=0).reset_index(drop=True)


def test_random_halves_do_not_drift(adult):
    ev = drift(adult.iloc[:4000], adult.iloc[4000:], rng=0)
    d = ev.meta["drift"]
    assert d["verdict"] == "ok" and d["drifted"] == []
    assert 0.4 < ev.summary["detection_auc"] < 0.6
    assert ev.summary["psi_max"] < 0.05


def test_an_older_population_is_a_major_drift(adult):
    # Setup: the generator learned people under 40; the new data are 40 and over (age dropped,
    # so the drift must be found through the other columns)
    young = adult[adult["age"] < 40].drop(columns="age")
    old = adult[adult["age"] >= 40].drop(columns="age")
    # Run
    ev = drift(young, old, rng=0)
    # Assert: marital status and relationship shift most; the joint classifier sees it
    d = ev.meta["drift"]
    assert d["verdict"] == "refit"
    assert [c["column"] for c in d["columns"][:2]] == ["marital_status", "relationship"]
    assert all(c["level"] == "major" and c["q_value"] < 1e-6 for c in d["columns"][:2])
    assert ev.summary["detection_auc"] > 0.75
    by_name = {c["column"]: c for c in d["columns"]}
    assert by_name["race"]["level"] == "stable" and not by_name["race"]["drifted"]
    # looser thresholds turn the same drift into "watch"
    loose = DriftThresholds(psi_refit=2.0, auc_refit=0.95)
    assert drift(young, old, thresholds=loose, rng=0).meta["drift"]["verdict"] == "watch"


def test_psi_bins_a_spike_of_zeros_finely():
    # capital gain is 0 for ~92% of people: a shift among the others must still show
    g = np.random.default_rng(0)
    ref = np.where(g.random(5000) < 0.9, 0.0, g.lognormal(8, 1, 5000))
    cur = np.where(g.random(5000) < 0.9, 0.0, g.lognormal(9, 1, 5000))
    ev = drift(pd.DataFrame({"gain": ref}), pd.DataFrame({"gain": cur}), rng=0)
    col = ev.meta["drift"]["columns"][0]
    # deciles alone would give two bins (0 and the rest) and a PSI of ~0; the shifted tenth
    # of the data can reach ~0.1 at most
    assert 0.05 < col["psi"] and col["q_value"] < 0.01


def test_psi_and_fdr_known_answers():
    assert psi(np.array([1, 1, 2]), np.array([2, 2, 4])) == 0.0
    p = 0.3 * np.log(0.8 / 0.5) + 0.3 * np.log(0.5 / 0.2)
    assert psi(np.array([5, 5]), np.array([8, 2])) == pytest.approx(p)
    q = benjamini_hochberg(np.array([0.001, np.nan, 0.5, 0.02]))
    assert q[0] == pytest.approx(0.003) and np.isnan(q[1]) and q[3] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="psi_watch <= psi_refit"):
        DriftThresholds(psi_watch=0.3, psi_refit=0.2)


def test_cli_exit_codes_and_model_reference(tmp_path, adult, capsys):
    young = adult[adult["age"] < 40]
    old = adult[adult["age"] >= 40]
    young.iloc[:2000].to_csv(tmp_path / "ref.csv", index=False)
    young.iloc[2000:].to_csv(tmp_path / "young.csv", index=False)
    old.to_csv(tmp_path / "old.csv", index=False)
    base = ["--quiet", "drift", "--reference", str(tmp_path / "ref.csv")]
    assert main([*base, "--current", str(tmp_path / "young.csv")]) == 0
    out = tmp_path / "drift.html"
    assert main([*base, "--current", str(tmp_path / "old.csv"), "-o", str(out)]) == 1
    page = out.read_text()
    assert "Drift verdict" in page and "refit" in page
    # the page speaks of reference and current rows, and shows no empty evaluation families
    assert "Drift detection ROC" in page and "give the synthetic data away" not in page
    assert "not evaluated" not in page and "No fidelity metrics" not in page
    assert json.loads(out.with_suffix(".json").read_text())["meta"]["drift"]["verdict"] == "refit"
    assert main([*base, "--current", str(tmp_path / "old.csv"), "--fail-on", "never"]) == 0
    # the fitted generator as the reference: its samples stand for what it learned
    model = tmp_path / "m.sosie"
    assert main(["--quiet", "fit", str(tmp_path / "ref.csv"), "-o", str(model)]) == 0
    code = main(["--quiet", "drift", "--model", str(model), "--current", str(tmp_path / "old.csv")])
    assert code == 1
    capsys.readouterr()
    assert main(["drift", "--current", str(tmp_path / "old.csv")]) == 2
    assert "--reference (the training data) or --model" in capsys.readouterr().err
