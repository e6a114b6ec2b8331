"""Model-collapse study on real data (UCI Adult): the measures against known answers, the study's
bookkeeping (shared generation 0, training-set sizes per regime, seeds), the published finding
(replace loses the tails, accumulate keeps them), bad input, the report and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sosie.cli import main
from sosie.datasets import load_adult
from sosie.errors import InvalidDataError
from sosie.evaluate import split_holdout
from sosie.evaluate.collapse import COLLAPSE_QUANTITIES, collapse, tail_coverage
from sosie.generators import GaussianCopulaGenerator
from sosie.report import render_html

COLS = ["age", "workclass", "education", "marital_status", "occupation", "race", "sex",
        "hours_per_week", "capital_gain", "native_country", "income"]  # fmt: skip


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult()[COLS].sample(6000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def small(adult) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_holdout(adult.iloc[:1500], target="income", rng=0)


def test_tail_coverage_known_answers(adult):
    # Setup: the real data against itself, and against a copy with its tails cut
    same = tail_coverage(adult, adult)
    categorical = [c for c in COLS if adult[c].dtype == object]
    n_rare = sum((adult[c].value_counts(normalize=True) < 0.01).sum() for c in categorical)
    assert n_rare > 20, "Adult has rare categories"
    cut = adult.copy()
    for c in categorical:
        vc = cut[c].value_counts(normalize=True)
        cut[c] = cut[c].where(~cut[c].isin(vc[vc < 0.01].index), vc.index[0])
    lo, hi = adult["hours_per_week"].quantile([0.01, 0.99])
    cut["hours_per_week"] = cut["hours_per_week"].clip(lo, hi)
    # Run
    after = tail_coverage(adult, cut)
    # Assert: everything kept, then no rare category left; the clipped column loses its tails
    assert same["tail_coverage"] == 1.0 and same["distinct_ratio"] == 1.0
    assert same["variance_ratio"] == pytest.approx(1.0)
    assert after["rare_category_coverage"] == 0.0
    assert after["distinct_ratio"] < 0.9
    assert after["extreme_quantile_coverage"] < same["extreme_quantile_coverage"]
    with pytest.raises(ValueError, match="rare_share"):
        tail_coverage(adult, adult, rare_share=1.5)


N_ROWS = 400


@pytest.fixture(scope="module")
def study(small):
    train, holdout = small
    return collapse(
        train, holdout, generations=2, n_rows=N_ROWS, target="income", max_rows=1000, rng=3
    )


def test_study_bookkeeping(small, study):
    train, _ = small
    n, ev = N_ROWS, study
    rows = ev.meta["collapse"]["rows"]
    by = {(r["regime"], r["generation"]): r for r in rows}
    # generation 0 is fitted once on the real data and shared
    g0 = [by[(reg, 0)] for reg in ("replace", "accumulate", "mix")]
    assert all(r["train_rows"] == len(train) for r in g0)
    assert g0[0]["tail_coverage"] == g0[1]["tail_coverage"] == g0[2]["tail_coverage"]
    # training sets: the last sample (replace, mix: n rows), real + every sample (accumulate)
    assert [by[("replace", g)]["train_rows"] for g in (1, 2)] == [n, n]
    assert [by[("mix", g)]["train_rows"] for g in (1, 2)] == [n, n]
    assert [by[("accumulate", g)]["train_rows"] for g in (1, 2)] == [
        len(train) + n,
        len(train) + 2 * n,
    ]
    # one metric per quantity, each with a curve per regime over the generations
    assert [m.name for m in ev] == list(COLLAPSE_QUANTITIES)
    curves = ev["tail_coverage"].details["curves"]
    assert curves["x"] == [0, 1, 2] and set(curves["series"]) == {"replace", "accumulate", "mix"}
    assert ev["tstr"].baseline == ev.meta["collapse"]["trtr"] > 0.75  # TRTR ROC-AUC on Adult
    assert 0.5 < by[("replace", 0)]["tstr"] <= 1.0
    # the value is the last generation of the regime that lost most
    assert ev["tail_coverage"].value == min(ev["tail_coverage"].breakdown.values())
    assert len(ev.meta["collapse"]["findings"]) == 3
    # JSON round trip
    from sosie.evaluate import Evaluation

    assert Evaluation.from_json(ev.to_json()).meta["collapse"]["rows"][0]["regime"] == "replace"


def test_same_seed_same_study_and_generator_forms(small):
    train, holdout = small
    kw = dict(generations=1, regimes=("replace",), n_rows=300, max_rows=500, rng=7)
    a = collapse(train, holdout, **kw)
    b = collapse(train, holdout, generator=GaussianCopulaGenerator(), **kw)
    c = collapse(train, holdout, generator=lambda s: GaussianCopulaGenerator(rng=s), **kw)
    frames = [pd.DataFrame(ev.meta["collapse"]["rows"]) for ev in (a, b, c)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])
    d = collapse(train, holdout, **{**kw, "rng": 8})
    assert not pd.DataFrame(d.meta["collapse"]["rows"]).equals(frames[0])


def test_bad_input_is_reported_at_once(small):
    train, holdout = small
    with pytest.raises(InvalidDataError) as e:
        collapse(train, holdout, generations=0, regimes=("mix", "recycle"), mix_share=1.5)
    text = str(e.value)
    assert "generations" in text and "recycle" in text and "mix_share" in text
    with pytest.raises(InvalidDataError, match="table"):
        collapse(train, holdout, generator="sequence_gru")
    with pytest.raises(InvalidDataError, match="nope"):
        collapse(train, holdout, target="nope")


@pytest.mark.slow
def test_replace_loses_the_tails_and_accumulate_keeps_them(adult):
    # Setup: the published finding on real data: a Gaussian copula refitted on its own samples
    # (replace) loses rare categories and tail mass generation after generation; with the real
    # data kept (accumulate) it does not.
    train, holdout = split_holdout(adult, target="income", rng=0)
    # Run
    ev = collapse(
        train,
        holdout,
        generations=5,
        regimes=("replace", "accumulate"),
        n_rows=2000,
        max_rows=1500,
        rng=0,
    )
    rows = ev.meta["collapse"]["rows"]
    rep = [r for r in rows if r["regime"] == "replace"]
    acc = [r for r in rows if r["regime"] == "accumulate"]
    # Assert: rare categories die out (a category that misses one sample never returns) and the
    # variety shrinks under replace; with the real data kept they do not
    assert rep[-1]["rare_category_coverage"] < 0.7 * rep[0]["rare_category_coverage"]
    assert acc[-1]["rare_category_coverage"] >= 0.85 * acc[0]["rare_category_coverage"]
    assert rep[-1]["tail_coverage"] < acc[-1]["tail_coverage"] - 0.1
    assert rep[-1]["distinct_ratio"] < acc[-1]["distinct_ratio"] - 0.05
    assert rep[-1]["detection_auc"] > acc[-1]["detection_auc"]
    assert ev["tail_coverage"].breakdown["replace"] == ev["tail_coverage"].value


def test_report_has_the_curves_and_the_table(study):
    page = render_html(study, title="collapse")
    assert "Model collapse" in page and 'id="generations"' in page
    assert page.count("<circle") == 7 * 3 * 3  # a marker per regime and generation per plot
    assert "accumulate" in page and "TRTR" in page
    # a study shows no n/a cards for the four evaluation families
    assert "not evaluated" not in page and "No fidelity metrics" not in page


def test_cli_writes_report_and_json(tmp_path, small, capsys):
    train, _ = small
    src = tmp_path / "adult.csv"
    train.to_csv(src, index=False)
    out = tmp_path / "collapse.html"
    code = main(
        [
            "-q", "collapse", str(src), "--target", "income", "--generations", "1",
            "--regimes", "replace,mix", "--n-rows", "300", "-p", "max_atoms=64", "-o", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["collapse"]["regimes"] == ["replace", "mix"]
    assert "max_atoms=64" in data["meta"]["generator"]
    assert "<svg" in out.read_text()
    assert main(["-q", "collapse", str(src), "--regimes", "recycle", "-o", str(out)]) == 2
    assert main(["-q", "collapse", str(src), "-p", "nope=1", "-o", str(out)]) == 2
    assert "nope" in capsys.readouterr().err


def test_ratio_score_is_symmetric():
    from sosie.evaluate.collapse import _ratio_score

    assert _ratio_score(1.0) == 1.0
    assert _ratio_score(0.5) == _ratio_score(2.0) == 0.5
    assert np.isnan(_ratio_score(float("nan")))


def test_report_escapes_study_strings():
    from sosie.evaluate.collapse import _evaluation

    evil = "<script>alert(1)</script>"
    rows = [
        {
            "regime": evil,
            "generation": g,
            "train_rows": 10,
            **dict.fromkeys(COLLAPSE_QUANTITIES, 0.5),
        }
        for g in (0, 1)
    ]
    ev = _evaluation(rows, regimes=(evil,), generations=1, trtr=0.9, headline="roc_auc",
                     meta={"kind": "collapse", "generator": evil})  # fmt: skip
    page = render_html(ev)
    assert "<script" not in page and "&lt;script&gt;" in page
