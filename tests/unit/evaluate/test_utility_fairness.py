"""Utility (TSTR vs TRTR) and the bias audit, on real Adult data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sosie.evaluate import split_holdout
from sosie.evaluate.fairness import (
    demographic_parity_difference,
    equalized_odds_difference,
    fairness_metrics,
)
from sosie.evaluate.utility import infer_task, utility_metrics
from sosie.schema import infer_schema


@pytest.fixture(scope="module")
def adult_parts(adult_train):
    df = adult_train.sample(9000, random_state=3).reset_index(drop=True)
    train, rest = df.iloc[:3000], df.iloc[3000:]
    hold, other = rest.iloc[:3000].reset_index(drop=True), rest.iloc[3000:].reset_index(drop=True)
    return train.reset_index(drop=True), hold, other, infer_schema(adult_train)


def _by_name(results):
    return {r.name: r for r in results}


def test_real_sample_from_same_population_matches_trtr(adult_parts):
    train, hold, other, schema = adult_parts
    res = _by_name(utility_metrics(train, hold, other, schema, "income", rng=0, n_boot=50))
    auc = res["utility_roc_auc"]
    assert auc.baseline > 0.85  # TRTR is sane before we trust TSTR
    assert abs(auc.value - auc.baseline) < 0.02
    assert res["tstr_ratio"].value == pytest.approx(1.0, abs=0.03)
    assert auc.ci[0] < auc.value < auc.ci[1]
    assert set(auc.details["models"]) == {"gradient_boosting", "linear"}


def test_useless_synthetic_data_scores_low(adult_parts):
    train, hold, other, schema = adult_parts
    rng = np.random.default_rng(0)
    shuffled = other.copy()
    shuffled["income"] = rng.permutation(
        shuffled["income"].to_numpy()
    )  # label unrelated to features
    res = _by_name(utility_metrics(train, hold, shuffled, schema, "income", rng=0, n_boot=0))
    assert res["utility_roc_auc"].value < 0.6
    assert res["tstr_ratio"].value < 0.7
    assert res["tstr_ratio"].normalized < 0.7
    # augmentation with noise does not beat real data alone by much
    aug = res["utility_roc_auc"].details["models"]["gradient_boosting"]["augmented"]
    assert aug <= res["utility_roc_auc"].baseline + 0.01


def test_regression_target(adult_parts):
    train, hold, other, schema = adult_parts
    assert infer_task(schema, "hours_per_week") == "regression"
    res = _by_name(utility_metrics(train, hold, other, schema, "hours_per_week", rng=0, n_boot=0))
    assert {"utility_r2", "utility_mae", "tstr_ratio"} <= set(res)
    assert res["utility_r2"].baseline > 0.05
    assert res["utility_mae"].goal == "minimize"


def test_gaps_match_fairlearn():
    fairlearn = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(1)
    g = rng.choice(["a", "b", "c"], 2000, p=[0.5, 0.3, 0.2])
    y = rng.random(2000) < np.where(g == "a", 0.4, 0.2)
    p = rng.random(2000) < np.where(g == "b", 0.5, 0.3)
    assert demographic_parity_difference(p, g) == pytest.approx(
        fairlearn.demographic_parity_difference(y, p, sensitive_features=g)
    )
    assert equalized_odds_difference(y, p, g) == pytest.approx(
        fairlearn.equalized_odds_difference(y, p, sensitive_features=g)
    )


def test_bias_audit_on_adult(adult_parts):
    train, hold, other, schema = adult_parts
    res = _by_name(fairness_metrics(train, hold, other, schema, ["sex"], target="income", rng=0))
    assert res["sensitive_distribution[sex]"].value > 0.97
    assert res["group_fidelity[sex]"].value > 0.9
    gaps = res["dp_gap[sex]"].details["gaps"]
    assert gaps["real"] > 0.1  # the real-data model is far from demographic parity on Adult
    assert abs(gaps["synthetic"] - gaps["real"]) < 0.05
    # a synthetic set with only men breaks the audit
    men = other[other["sex"] == "Male"]
    res2 = _by_name(fairness_metrics(train, hold, men, schema, ["sex"], target="income", rng=0))
    assert res2["sensitive_distribution[sex]"].value < 0.75


def test_bad_sensitive_column(adult_parts):
    from sosie.errors import InvalidDataError

    train, hold, other, schema = adult_parts
    with pytest.raises(InvalidDataError, match="age"):
        fairness_metrics(train, hold, other, schema, ["age", "nope"])


def test_split_holdout_is_stratified_and_disjoint(adult_train):
    train, hold = split_holdout(adult_train, target="income", holdout=0.25, rng=0)
    assert len(train) + len(hold) == len(adult_train)
    assert abs((hold["income"] == ">50K").mean() - (adult_train["income"] == ">50K").mean()) < 0.002
    again = split_holdout(adult_train, target="income", holdout=0.25, rng=0)
    pd.testing.assert_frame_equal(again[1], hold)
