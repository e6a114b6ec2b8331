"""Adversarial random forests: learning, native conditioning, reproducibility, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.errors import SchemaError, SosieWarning
from sosie.evaluate.fidelity import fidelity_metrics
from sosie.generators import GaussianCopulaGenerator, get_generator
from sosie.generators.arf import ARFGenerator, _atoms, _node_bounds

PARAMS = {"n_estimators": 20, "max_iters": 3}


@pytest.fixture(scope="module")
def real(adult_train) -> pd.DataFrame:
    return adult_train.sample(4000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def arf(real) -> ARFGenerator:
    return ARFGenerator(**PARAMS, rng=0).fit(real)


def _scores(real, synth, schema) -> dict[str, float]:
    res = fidelity_metrics(real, synth, schema, rng=0, max_rows=3000)
    return {r.name: r.value for r in res}


def test_registered():
    assert get_generator("arf") is ARFGenerator


def test_learns_beyond_marginals_and_copula(real, arf):
    rng = np.random.default_rng(0)
    indep = pd.DataFrame({c: real[c].to_numpy()[rng.permutation(len(real))] for c in real})
    base = _scores(real, indep, arf.schema_)
    ours = _scores(real, arf.sample(len(real), rng=1), arf.schema_)
    cop = GaussianCopulaGenerator(rng=0).fit(real)
    theirs = _scores(real, cop.sample(len(real), rng=1), cop.schema_)
    assert ours["detection_auc"] < base["detection_auc"] - 0.15
    assert ours["detection_auc"] < theirs["detection_auc"] - 0.05
    assert ours["pair_trends"] > theirs["pair_trends"]
    assert ours["column_shapes"] > 0.97
    assert arf.accuracy_history_[-1] < arf.accuracy_history_[0]


def test_condition_on_category_shifts_other_columns(real, arf):
    out = arf.sample(3000, conditions={"income": ">50K"}, rng=2)
    assert (out["income"] == ">50K").all()
    rich = real[real["income"] == ">50K"]
    assert out["education_num"].mean() == pytest.approx(rich["education_num"].mean(), abs=0.5)
    male = (out["sex"] == "Male").mean()
    assert male == pytest.approx((rich["sex"] == "Male").mean(), abs=0.05)
    assert male > (real["sex"] == "Male").mean() + 0.1  # moved away from the marginal


def test_condition_on_two_columns(adult_train, real, arf):
    out = arf.sample(3000, conditions={"sex": "Female", "age": 45}, rng=3)
    assert (out["sex"] == "Female").all() and (out["age"] == 45).all()
    ref = adult_train[(adult_train["sex"] == "Female") & adult_train["age"].between(43, 47)]
    rate = (ref["income"] == ">50K").mean()
    got = (out["income"] == ">50K").mean()
    assert got == pytest.approx(rate, abs=0.06)
    assert got < (real["income"] == ">50K").mean()  # women of 45 earn less than average here


def test_condition_on_numeric_value(adult_train, arf):
    young = arf.sample(2000, conditions={"age": 22}, rng=4)
    old = arf.sample(2000, conditions={"age": 50}, rng=4)
    assert (young["age"] == 22).all()
    ref = adult_train[adult_train["age"].between(21, 23)]
    assert (young["income"] == ">50K").mean() == pytest.approx(
        (ref["income"] == ">50K").mean(), abs=0.04
    )
    assert (young["marital_status"] == "Never-married").mean() > 0.6
    assert (old["income"] == ">50K").mean() > (young["income"] == ">50K").mean() + 0.2


def test_condition_on_null(real, arf):
    out = arf.sample(1000, conditions={"workclass": None}, rng=5)
    assert out["workclass"].isna().all()
    # in Adult, occupation is missing whenever workclass is (patterns drawn jointly)
    assert out["occupation"].isna().mean() > 0.95
    assert real["occupation"].isna().mean() < 0.1
    # native conditioning agrees with the model's own joint
    free = arf.sample(40000, rng=5)
    joint = free.loc[free["workclass"].isna(), "occupation"].isna().mean()
    assert out["occupation"].isna().mean() == pytest.approx(joint, abs=0.05)


def test_per_row_conditions(arf):
    cond = pd.DataFrame({"age": [20, 60] * 500, "sex": ["Male", "Female"] * 500})
    out = arf.sample(1000, conditions=cond, rng=6)
    assert out["age"].tolist() == cond["age"].tolist()
    assert out["sex"].tolist() == cond["sex"].tolist()


def test_impossible_evidence_falls_back_with_a_warning():
    rng = np.random.default_rng(0)
    n = 600
    c = np.repeat(["a", "b"], n // 2)
    x = np.where(c == "a", rng.uniform(0, 1, n), rng.uniform(10, 11, n)).round(3)
    df = pd.DataFrame({"c": c, "x": x})
    gen = ARFGenerator(n_estimators=5, alpha=0.0, rng=0).fit(df)
    ok = gen.sample(200, conditions={"x": 10.5}, rng=0)
    assert (ok["c"] == "b").all()
    with pytest.warns(SosieWarning, match="no leaf covers"):
        out = gen.sample(50, conditions={"c": "a", "x": 10.5}, rng=0)
    assert len(out) == 50 and (out["c"] == "a").all() and (out["x"] == 10.5).all()


def test_same_rng_same_model_and_samples(real, arf, global_rng_guard):
    other = ARFGenerator(**PARAMS, rng=0).fit(real)
    np.testing.assert_array_equal(other.leaf_weight_, arf.leaf_weight_)
    pd.testing.assert_frame_equal(other.sample(500, rng=9), arf.sample(500, rng=9))
    a, b = arf.sample(200, rng=1), arf.sample(200, rng=2)
    assert not a.equals(b)


def test_save_load_identical(arf, tmp_path):
    path = arf.save(tmp_path / "arf.sosie")
    loaded = sosie.load(path)
    assert isinstance(loaded, ARFGenerator)
    pd.testing.assert_frame_equal(loaded.sample(800, rng=3), arf.sample(800, rng=3))
    cond = {"sex": "Female", "age": 41}
    pd.testing.assert_frame_equal(
        loaded.sample(300, conditions=cond, rng=4), arf.sample(300, conditions=cond, rng=4)
    )


def test_truncnorm_keeps_point_masses(real):
    gen = ARFGenerator(n_estimators=10, max_iters=1, continuous="truncnorm", rng=0).fit(real)
    out = gen.sample(4000, rng=0)
    zero_real = (real["capital_gain"] == 0).mean()
    assert (out["capital_gain"] == 0).mean() == pytest.approx(zero_real, abs=0.03)
    assert out["age"].between(real["age"].min(), real["age"].max()).all()
    out = gen.sample(500, conditions={"age": 33, "capital_gain": 0}, rng=0)
    assert (out["age"] == 33).all() and (out["capital_gain"] == 0).all()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"n_estimators": 0}, ValueError),
        ({"n_estimators": 2.5}, ValueError),
        ({"min_samples_leaf": 0}, ValueError),
        ({"max_iters": -1}, ValueError),
        ({"delta": 0.7}, ValueError),
        ({"alpha": -1}, ValueError),
        ({"alpha": "a"}, ValueError),
        ({"n_jobs": 0}, ValueError),
        ({"continuous": "kde"}, SchemaError),
    ],
)
def test_bad_params_rejected(real, params, error):
    with pytest.raises(error, match=next(iter(params))):
        ARFGenerator(**params).fit(real.head(50))


def test_helpers():
    assert _atoms(np.array([0.0] * 90 + list(range(1, 11)))).tolist() == [0.0]
    from sklearn.tree import DecisionTreeClassifier

    X = np.array([[0.0, 5], [1, 5], [2, 5], [3, 5]])
    tree = DecisionTreeClassifier(random_state=0).fit(X, [0, 0, 1, 1]).tree_
    lo, hi = _node_bounds(tree, {0: 0}, 1)
    leaves = np.flatnonzero(tree.children_left == -1)
    assert sorted(zip(lo[leaves, 0], hi[leaves, 0], strict=True)) == [(-np.inf, 1.5), (1.5, np.inf)]
