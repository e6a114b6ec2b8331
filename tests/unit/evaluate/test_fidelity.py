"""Fidelity metrics: known answers on real data (UCI Adult) and on constructed tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sosie.errors import InvalidDataError
from sosie.evaluate._core import MetricResult
from sosie.evaluate.fidelity import (
    _grouped_folds,
    column_shapes,
    coverage,
    detection,
    fidelity_metrics,
    missing_values,
    pair_trends,
    quality_score,
)
from sosie.generators.copula import GaussianCopulaGenerator
from sosie.schema import infer_schema

N = 5000  # rows per table in the Adult scenarios

NAMES = [
    "column_shapes",
    "pair_trends",
    "missing_values",
    "range_coverage",
    "category_coverage",
    "new_category_rate",
    "out_of_range_rate",
    "detection_auc",
]


def _shuffle_columns(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every column permuted on its own: marginals kept, dependence destroyed."""
    g = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[g.permutation(len(df))] for c in df.columns})


@pytest.fixture(scope="module")
def adult_tables(adult_train):
    # Setup: two disjoint real samples, a copy, independent marginals and a copula sample
    perm = np.random.default_rng(0).permutation(len(adult_train))
    real = adult_train.iloc[perm[:N]].reset_index(drop=True)
    other = adult_train.iloc[perm[N : 2 * N]].reset_index(drop=True)
    schema = infer_schema(adult_train)
    copula = GaussianCopulaGenerator(rng=0).fit(real, schema=schema).sample(N, rng=1)
    return {
        "real": real,
        "schema": schema,
        "synthetic": {
            "real_half": other,
            "copy": real.copy(),
            "shuffled": _shuffle_columns(real, 1),
            "copula": copula,
        },
    }


@pytest.fixture(scope="module")
def adult_results(adult_tables):
    # Run: every fidelity metric for every scenario (once per module)
    real, schema = adult_tables["real"], adult_tables["schema"]
    return {
        label: {m.name: m for m in fidelity_metrics(real, syn, schema, rng=0)}
        for label, syn in adult_tables["synthetic"].items()
    }


# --------------------------------------------------------------------------- known answers on Adult


def test_second_real_sample_scores_near_perfect(adult_results):
    r = adult_results["real_half"]
    assert r["column_shapes"].value > 0.97
    assert r["pair_trends"].value > 0.95
    assert 0.4 < r["detection_auc"].value < 0.6
    assert r["missing_values"].value > 0.97
    assert r["new_category_rate"].value < 0.001


def test_copy_of_training_data_is_undetectable(adult_results):
    r = adult_results["copy"]
    assert r["column_shapes"].value == pytest.approx(1.0)
    assert r["pair_trends"].value == pytest.approx(1.0)
    assert r["missing_values"].value == pytest.approx(1.0)
    assert r["range_coverage"].value == pytest.approx(1.0)
    assert r["category_coverage"].value == pytest.approx(1.0)
    # grouped folds: identical rows never straddle folds (ungrouped CV gives about 0.35)
    assert abs(r["detection_auc"].value - 0.5) < 0.03
    assert r["detection_auc"].normalized > 0.94


def test_independent_marginals_keep_shapes_but_lose_trends(adult_results):
    real_half, shuffled = adult_results["real_half"], adult_results["shuffled"]
    assert shuffled["column_shapes"].value > 0.97
    assert shuffled["pair_trends"].value < real_half["pair_trends"].value - 0.03
    # on the associated pairs (SDMetrics' view) the gap is much wider
    assoc = shuffled["pair_trends"].details["associated_pairs"]
    assert assoc["value"] < real_half["pair_trends"].details["associated_pairs"]["value"] - 0.1
    assert shuffled["detection_auc"].value > 0.75
    # the joint null pattern is broken even though null shares are kept
    mv = shuffled["missing_values"].details
    assert mv["column_similarity"] == pytest.approx(1.0)
    assert mv["joint_similarity"] < 0.99


def test_copula_lands_between_real_and_independent_marginals(adult_results):
    real_half, copula, shuffled = (adult_results[k] for k in ("real_half", "copula", "shuffled"))
    auc = [r["detection_auc"].value for r in (real_half, copula, shuffled)]
    assert auc[0] < auc[1] < auc[2]
    trends = [r["pair_trends"].value for r in (real_half, copula, shuffled)]
    assert trends[2] < trends[1] <= trends[0] + 0.005
    assert copula["column_shapes"].value > 0.9


def test_results_follow_the_metric_contract(adult_results):
    for label, results in adult_results.items():
        assert list(results) == NAMES, label
        for m in results.values():
            assert m.family == "fidelity"
            assert m.description and "\n" not in m.description
            assert 0.0 <= m.normalized <= 1.0, (label, m.name)
            assert m.range[0] <= m.value <= m.range[1], (label, m.name)
            text = json.dumps(m.to_dict(), allow_nan=False)  # JSON-ready, no NaN
            assert MetricResult.from_dict(json.loads(text)).name == m.name
            if m.ci is not None:
                assert m.ci[0] <= m.value + 1e-9 and m.value - 1e-9 <= m.ci[1], (
                    label,
                    m.name,
                    m.ci,
                )
        q = quality_score(results.values())
        assert q == pytest.approx(
            (results["column_shapes"].value + results["pair_trends"].value) / 2
        )


def test_detection_explains_what_gives_the_synthetic_rows_away(adult_tables):
    # Setup: a real sample whose only defect is a shifted "age"
    real, schema = adult_tables["real"], adult_tables["schema"]
    syn = adult_tables["synthetic"]["real_half"].copy()
    syn["age"] = syn["age"] + 15
    # Run
    r = detection(real, syn, schema, max_rows=3000, rng=0)
    # Assert
    assert r.value > 0.85
    assert r.details["top_features"][0]["name"] == "age"
    roc = r.details["roc"]
    assert 2 < len(roc["fpr"]) <= 100
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["tpr"]) >= 0)
    assert r.details["n_rows"] == {"real": 3000, "synthetic": 3000}
    assert len(r.details["fold_auc"]) == 5
    assert r.target_value == 0.5 and r.goal == "target"


def test_same_seed_same_results_and_global_rng_untouched(adult_tables, global_rng_guard):
    real, schema = adult_tables["real"].iloc[:1500], adult_tables["schema"]
    syn = adult_tables["synthetic"]["copula"].iloc[:1500]
    a = fidelity_metrics(real, syn, schema, rng=7)
    b = fidelity_metrics(real, syn, schema, rng=7)
    assert [m.to_dict() for m in a] == [m.to_dict() for m in b]


# --------------------------------------------------------------------------- column shapes


def test_column_shapes_known_answers():
    # Setup: N(0,1) vs N(0.5,1): KS = 2 Phi(0.25) - 1 = 0.197; categories 50/50 vs 70/30: TVD 0.2
    g = np.random.default_rng(0)
    n = 20_000
    real = pd.DataFrame({"x": g.normal(size=n), "c": np.repeat(["a", "b"], n // 2)})
    syn = pd.DataFrame(
        {"x": g.normal(0.5, size=n), "c": np.r_[["a"] * (n * 7 // 10), ["b"] * (n * 3 // 10)]}
    )
    # Run
    r = column_shapes(real, syn, infer_schema(real), rng=0)
    # Assert
    assert r.breakdown["x"] == pytest.approx(1 - 0.1974, abs=0.015)
    assert r.breakdown["c"] == pytest.approx(0.8, abs=1e-9)
    assert r.value == pytest.approx((r.breakdown["x"] + 0.8) / 2)
    assert r.ci[0] < r.value < r.ci[1]


def test_column_shapes_details_layout_for_plots(adult_results):
    cols = adult_results["copula"]["column_shapes"].details["columns"]
    age, fnlwgt, country = cols["age"], cols["fnlwgt"], cols["native_country"]
    for d in (age, fnlwgt):
        assert d["kind"] == "numeric"
        widths = np.diff(d["edges"])
        assert len(d["real"]) == len(d["synthetic"]) == len(widths)
        assert np.sum(np.array(d["real"]) * widths) == pytest.approx(1.0, abs=1e-3)
        assert np.sum(np.array(d["synthetic"]) * widths) == pytest.approx(1.0, abs=1e-3)
    assert len(fnlwgt["edges"]) == 31
    assert country["kind"] == "categorical"
    assert len(country["categories"]) == 21 and country["categories"][-1] == "<other>"
    assert country["categories"][0] == "United-States"
    assert sum(country["real"]) == pytest.approx(1.0, abs=1e-4)
    sex = cols["sex"]
    assert sorted(sex["categories"]) == ["Female", "Male"] and "<other>" not in sex["categories"]


def test_column_shapes_ignore_nulls_and_compare_categories_by_text():
    # Setup: the same values, as int vs float-with-nulls; nulls only on one side
    real = pd.DataFrame({"code": [1, 2, 2, 3] * 25, "x": np.arange(100.0)})
    syn = pd.DataFrame({"code": [1.0, 2.0, 2.0, 3.0, None] * 20, "x": np.r_[np.arange(100.0)]})
    schema = infer_schema(real).update("code", type="categorical")
    # Run
    r = column_shapes(real, syn, schema, n_boot=0)
    cov = {m.name: m for m in coverage(real, syn, schema)}
    # Assert: 1.0 and 1 are one category, so shapes match and nothing is "new"
    assert r.breakdown["code"] == pytest.approx(1.0)
    assert r.ci is None
    assert cov["new_category_rate"].value == 0.0
    assert cov["category_coverage"].value == 1.0


def test_datetimes_are_compared_as_numbers():
    # Setup: dates, and the same dates shifted by 60 days
    days = pd.date_range("2020-01-01", periods=365, freq="D")
    real = pd.DataFrame({"when": days.strftime("%Y-%m-%d")})
    syn = pd.DataFrame({"when": (days + pd.Timedelta(days=60)).strftime("%Y-%m-%d")})
    schema = infer_schema(real)
    assert schema["when"].type.value == "datetime"
    # Run
    same = column_shapes(real, real, schema, n_boot=0)
    shifted = column_shapes(real, syn, schema, n_boot=0)
    cov = {m.name: m for m in coverage(real, syn, schema)}
    # Assert
    assert same.value == 1.0
    assert shifted.value == pytest.approx(1 - 60 / 365, abs=0.01)
    assert shifted.details["columns"]["when"]["unit"] == "days since 1970-01-01"
    assert cov["out_of_range_rate"].value == pytest.approx(60 / 365, abs=0.01)
    assert cov["range_coverage"].value == pytest.approx(1 - 60 / 364, abs=0.01)


# --------------------------------------------------------------------------- pair trends


def test_pair_trends_known_answers():
    # Setup: real x, y with Pearson r = 0.8 and c = f(x); synthetic with all three independent
    g = np.random.default_rng(0)
    n = 20_000
    x = g.normal(size=n)
    y = 0.8 * x + 0.6 * g.normal(size=n)
    real = pd.DataFrame({"x": x, "y": y, "c": np.where(x > 0, "pos", "neg")})
    syn = _shuffle_columns(real, 2)
    # Run
    r = pair_trends(real, syn, infer_schema(real), n_boot=0, rng=0)
    # Assert: 1 - |0.8 - 0| / 2 = 0.6; c|x: the joint on 2 x 19 cells moves half its mass
    assert r.breakdown["x|y"] == pytest.approx(0.6, abs=0.02)
    assert r.breakdown["x|c"] == pytest.approx(0.5, abs=0.02)
    assert r.breakdown["y|c"] < 0.8
    d = r.details
    assert d["columns"] == ["x", "y", "c"] and d["measure"] == "cramers_v"
    assert d["real"][0][2] > 0.8 and d["synthetic"][0][2] < 0.05  # Cramér's V of x, c
    assert d["correlation"]["real"][0][1] == pytest.approx(0.8, abs=0.02)
    assert d["score"][0][0] is None or math.isnan(d["score"][0][0])
    assert d["pair_metric"] == {"x|y": "correlation", "x|c": "contingency", "y|c": "contingency"}


def test_pair_trends_see_dependence_on_a_column_of_zeros():
    # Setup: a "capital gain" that is 0 in 90 % of rows and large for one group only
    g = np.random.default_rng(0)
    n = 10_000
    rich = g.random(n) < 0.2
    gain = np.where(rich & (g.random(n) < 0.5), g.integers(1000, 9000, n), 0)
    real = pd.DataFrame({"gain": gain, "group": np.where(rich, "rich", "poor")})
    syn = _shuffle_columns(real, 3)
    # Run
    r = pair_trends(real, syn, infer_schema(real), n_boot=0, rng=0)
    # Assert: quantile bins must keep the atom at 0 apart from the positive values
    assert r.breakdown["gain|group"] < 0.93


def test_pair_trends_subsample_and_pair_limit_are_reported(adult_tables):
    real, schema = adult_tables["real"], adult_tables["schema"]
    syn = adult_tables["synthetic"]["copula"]
    r = pair_trends(real, syn, schema, max_pairs=20, max_rows=1000, n_boot=5, rng=0)
    assert len(r.breakdown) == 20
    assert r.details["pairs_evaluated"] == 20 and r.details["pairs_total"] == 105
    assert r.details["subsampled"] is True
    assert r.details["n_rows"] == {"real": 1000, "synthetic": 1000}
    assert len(r.details["real"]) == 15 and len(r.details["real"][0]) == 15


# --------------------------------------------------------------------------- missing values


def test_missing_values_joint_pattern():
    # Setup: a and b are missing together in 20 % of real rows; the synthetic rows keep the
    # shares but make them independent
    g = np.random.default_rng(0)
    n = 10_000
    both = g.random(n) < 0.2
    real = pd.DataFrame(
        {"a": np.where(both, np.nan, 1.0), "b": np.where(both, None, "x"), "z": 1.5}
    )
    real["z"] = g.normal(size=n)
    syn = real.copy()
    syn["b"] = syn["b"].to_numpy()[g.permutation(n)]
    # Run
    r = missing_values(real, syn, infer_schema(real), rng=0)
    # Assert: joint patterns {none 0.8, both 0.2} vs {none .64, a .16, b .16, both .04}: TVD 0.32
    assert r.details["column_similarity"] == pytest.approx(1.0)
    assert r.details["joint_similarity"] == pytest.approx(0.68, abs=0.02)
    assert r.value == pytest.approx((1.0 + 0.68) / 2, abs=0.01)
    assert r.breakdown == {"a": 1.0, "b": 1.0, "z": 1.0}
    p = r.details["patterns"]
    assert p["labels"][:2] == ["(none)", "a+b"]
    assert p["real"][1] == pytest.approx(0.2, abs=0.02)
    assert r.ci[0] <= r.value <= r.ci[1]


def test_missing_values_without_nulls_scores_one():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]})
    r = missing_values(df, df, infer_schema(df), n_boot=0)
    assert r.value == 1.0 and r.details["patterns"]["labels"] == []


# --------------------------------------------------------------------------- coverage


def test_coverage_rates(adult_tables):
    # Setup: a real sample with a new category and out-of-range ages planted in 10 % of rows
    real, schema = adult_tables["real"], adult_tables["schema"]
    syn = adult_tables["synthetic"]["real_half"].copy()
    bad = np.arange(len(syn)) % 10 == 0
    syn.loc[bad, "race"] = "Martian"
    syn.loc[bad, "age"] = 150
    # Run
    res = {m.name: m for m in coverage(real, syn, schema)}
    # Assert
    assert res["new_category_rate"].breakdown["race"] == pytest.approx(0.1)
    assert res["new_category_rate"].breakdown["sex"] == 0.0
    assert res["new_category_rate"].goal == "minimize"
    assert res["new_category_rate"].normalized == pytest.approx(1 - res["new_category_rate"].value)
    assert res["out_of_range_rate"].breakdown["age"] == pytest.approx(0.1)
    assert res["range_coverage"].details["ranges"]["age"]["synthetic_max"] == 150
    assert res["category_coverage"].breakdown["race"] == 1.0


def test_coverage_without_applicable_columns_is_nan():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    res = {m.name: m for m in coverage(df, df, infer_schema(df))}
    assert math.isnan(res["category_coverage"].value)
    assert "no categorical" in res["category_coverage"].details["reason"]
    assert res["range_coverage"].value == 1.0


# --------------------------------------------------------------------------- detection


def test_grouped_folds_keep_identical_rows_together():
    g = np.random.default_rng(0)
    groups = g.integers(0, 300, 2000)
    y = (g.random(2000) < 0.5).astype(float)
    folds = _grouped_folds(groups, y, 5, g)
    for grp in np.unique(groups):
        assert np.unique(folds[groups == grp]).size == 1
    sizes = np.bincount(folds)
    assert sizes.min() > 0.6 * sizes.max()


def test_detection_of_a_copy_with_many_duplicate_rows_is_half():
    # Setup: a table of few distinct rows, so most rows have identical twins
    g = np.random.default_rng(0)
    df = pd.DataFrame({"a": g.choice(list("abc"), 3000), "b": g.integers(0, 4, 3000)})
    # Run
    r = detection(df, df.copy(), infer_schema(df), rng=0)
    # Assert
    assert r.value == pytest.approx(0.5, abs=0.02)
    assert r.details["n_distinct_rows"] <= 12


def test_detection_balances_tables_and_caps_rows(adult_tables):
    real, schema = adult_tables["real"], adult_tables["schema"]
    syn = adult_tables["synthetic"]["copula"].iloc[:700]
    r = detection(real, syn, schema, max_rows=1000, n_folds=3, rng=0)
    assert r.details["n_rows"] == {"real": 700, "synthetic": 700}
    assert r.details["n_folds"] == 3


# --------------------------------------------------------------------------- API


def test_missing_column_is_reported():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(InvalidDataError, match="'b'"):
        column_shapes(df, df[["a"]], infer_schema(df))


def test_quality_score_needs_both_parts():
    shapes = MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.9, 0.9, "x")
    assert math.isnan(quality_score([shapes]))
