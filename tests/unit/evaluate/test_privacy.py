"""Known-answer tests of the privacy family on real data (UCI Adult).

Four "synthetic" tables of 2,000 rows, scored against the same real train and holdout:

* ``copy``: the training rows themselves (the worst generator);
* ``other``: a second real sample of the same population, disjoint from train and holdout
  (a generator that learned the population and nothing about individuals);
* ``copula``: a Gaussian copula fitted on train;
* ``half``: half copies of training rows, half real outside rows (a partial leak).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sosie.datasets import load_adult
from sosie.errors import InvalidDataError
from sosie.evaluate.privacy import (
    attribute_inference,
    distance_to_closest_record,
    membership_inference,
    privacy_metrics,
)
from sosie.generators import GaussianCopulaGenerator
from sosie.schema import infer_schema

N = 2000
MIA = ("mia_distance", "mia_density", "mia_shadow")


@pytest.fixture(scope="module")
def adult_split():
    df = load_adult("all").sample(frac=1.0, random_state=0).reset_index(drop=True)
    schema = infer_schema(df)
    train = df.iloc[:N].reset_index(drop=True)
    holdout = df.iloc[N : 2 * N].reset_index(drop=True)
    other = df.iloc[2 * N : 3 * N].reset_index(drop=True)
    return train, holdout, other, schema


@pytest.fixture(scope="module")
def scenarios(adult_split):
    train, holdout, other, schema = adult_split
    copula = GaussianCopulaGenerator(rng=0).fit(train, schema=schema).sample(N, rng=1)
    half = pd.concat([train.iloc[: N // 2], other.iloc[: N // 2]], ignore_index=True)
    syn = {"copy": train, "other": other, "copula": copula, "half": half}
    out = {}
    for name, s in syn.items():
        res = privacy_metrics(train, holdout, s, schema, sensitive=["income", "age"], rng=0)
        out[name] = {r.name: r for r in res}
    return out


def test_all_results_are_privacy_and_self_describing(scenarios):
    names = [
        "dcr_share",
        "exact_copies",
        "nndr",
        *MIA,
        "attribute_inference[income]",
        "attribute_inference[age]",
    ]
    for res in scenarios.values():
        assert list(res) == names
        for r in res.values():
            assert r.family == "privacy"
            assert r.baseline is not None and math.isfinite(r.baseline)
            assert r.ci is not None and r.ci[0] <= r.value <= r.ci[1]
            assert 0.0 <= r.normalized <= 1.0
            assert "attacker" in r.description
            json.dumps(r.to_dict(), allow_nan=False)  # JSON-ready


def test_copy_of_train_is_flagged(scenarios):
    r = scenarios["copy"]
    assert r["exact_copies"].value == 1.0
    assert r["exact_copies"].normalized == 0.0
    assert r["dcr_share"].value > 0.95
    assert r["dcr_share"].normalized < 0.1
    assert r["nndr"].value == 0.0 < r["nndr"].baseline
    assert r["mia_distance"].value > 0.95
    assert r["mia_distance"].ci[0] > 0.9
    assert r["mia_distance"].normalized < 0.1
    # DOMIAS and the (copula-)shadow attack are weaker against verbatim copies, but see them
    assert r["mia_density"].ci[0] > 0.55
    assert r["mia_shadow"].ci[0] > 0.55
    # a 5-NN attacker trained on copies recovers training records' values
    assert r["attribute_inference[income]"].ci[0] > 0.1
    assert r["attribute_inference[age]"].ci[0] > 0.3
    assert r["attribute_inference[income]"].normalized < 0.2


def test_second_real_sample_is_private(scenarios):
    r = scenarios["other"]
    assert r["exact_copies"].value <= r["exact_copies"].baseline + 0.005
    assert abs(r["dcr_share"].value - 0.5) < 0.04
    assert r["nndr"].normalized > 0.9
    for name in (*MIA, "dcr_share"):
        assert r[name].value < 0.56, name
        lo, hi = r[name].ci
        assert lo <= r[name].baseline <= hi, name  # the interval covers the random guess
        assert r[name].normalized > 0.85, name
    for name in ("attribute_inference[income]", "attribute_inference[age]"):
        lo, hi = r[name].ci
        assert lo <= 0.0 <= hi, name


def test_gaussian_copula_is_close_to_private(scenarios):
    r = scenarios["copula"]
    assert r["exact_copies"].value < 0.01
    for name in (*MIA, "dcr_share"):
        assert r[name].value < 0.58, name
        assert r[name].normalized > 0.8, name
    assert r["attribute_inference[income]"].value < 0.03


def test_half_leak_lands_in_between(scenarios):
    copy, half, other = scenarios["copy"], scenarios["half"], scenarios["other"]
    assert abs(half["exact_copies"].value - 0.5) < 0.01
    for name in ("dcr_share", "mia_distance"):
        # half the members are copied: about 0.5 * 1 + 0.5 * 0.5
        assert 0.65 < half[name].value < 0.85, name
        assert other[name].value < half[name].value < copy[name].value, name
        assert copy[name].normalized < half[name].normalized < other[name].normalized, name
    ai = "attribute_inference[income]"
    assert other[ai].value < half[ai].value < copy[ai].value
    # the 5th percentile of NNDR sees a leak of 50 % as a leak
    assert half["nndr"].value == 0.0


class _CopyGenerator:
    """A 'generator' that returns its training rows (to train leaky shadow models)."""

    def __init__(self, seed: int):
        self.seed = seed

    def fit(self, data, *, schema=None):
        self.data_ = data.reset_index(drop=True)
        return self

    def sample(self, n, *, rng=None):
        g = np.random.default_rng(rng)
        idx = (
            g.permutation(len(self.data_))[:n]
            if n <= len(self.data_)
            else g.integers(0, len(self.data_), n)
        )
        return self.data_.iloc[idx].reset_index(drop=True)


def test_shadow_attack_with_the_right_family_sees_copies(adult_split):
    train, holdout, other, schema = adult_split
    leaky = membership_inference(
        train, holdout, train, schema, attacks=["shadow"], rng=0, generator_factory=_CopyGenerator
    )[0]
    assert leaky.value > 0.9
    assert leaky.details["shadow_family"] == "_CopyGenerator"
    assert "_CopyGenerator" in leaky.description
    private = membership_inference(
        train, holdout, other, schema, attacks=["shadow"], rng=0, generator_factory=_CopyGenerator
    )[0]
    assert private.value < 0.56
    default = membership_inference(train, holdout, other, schema, attacks=["shadow"], rng=0)[0]
    assert default.details["shadow_family"] == "gaussian_copula"


def test_plot_details_layouts(scenarios):
    r = scenarios["half"]
    for name in MIA:
        d = r[name].details
        fpr, tpr = np.array(d["roc"]["fpr"]), np.array(d["roc"]["tpr"])
        assert 2 <= len(fpr) == len(tpr) <= 100
        assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
        assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
        assert set(d["tpr_at_fpr"]) == {"0.001", "0.01", "0.1"}
        assert d["n_members"] == d["n_non_members"] == N // 2
    h = r["dcr_share"].details["dcr_histogram"]
    assert len(h["bin_edges"]) == len(h["synthetic"]) + 1 == len(h["holdout"]) + 1
    assert h["bin_edges"][0] == 0.0
    assert (np.diff(h["bin_edges"]) > 0).all()
    assert sum(h["synthetic"]) == pytest.approx(1.0) and sum(h["holdout"]) == pytest.approx(1.0)
    # half the synthetic rows sit on a training row: the first bin holds at least that
    assert h["synthetic"][0] >= 0.5 > h["holdout"][0]
    nh = r["nndr"].details["nndr_histogram"]
    assert len(nh["bin_edges"]) == len(nh["synthetic"]) + 1
    assert (
        r["dcr_share"].details["n_train_searched"] == r["dcr_share"].details["n_holdout_searched"]
    )


def test_deterministic_with_a_fixed_rng(adult_split):
    train, holdout, other, schema = adult_split
    a = privacy_metrics(
        train[:600], holdout[:600], other[:600], schema, sensitive=["sex"], rng=3, n_boot=30
    )
    b = privacy_metrics(
        train[:600], holdout[:600], other[:600], schema, sensitive=["sex"], rng=3, n_boot=30
    )
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]
    c = privacy_metrics(
        train[:600], holdout[:600], other[:600], schema, sensitive=["sex"], rng=4, n_boot=30
    )
    assert [x.to_dict() for x in a] != [x.to_dict() for x in c]


def test_exact_copies_compare_values_not_dtypes(adult_split):
    train, holdout, _, schema = adult_split
    syn = train.iloc[:500].astype({"age": float, "capital_gain": float})[
        list(reversed(train.columns))
    ]
    syn = syn.reset_index(drop=True)
    syn.loc[:99, "age"] += 0.5  # 100 rows no longer match
    r = distance_to_closest_record(train, holdout, syn, schema, rng=0, n_boot=20)[1]
    assert r.name == "exact_copies"
    assert r.value == pytest.approx(0.8)
    assert r.details["n_copies"] == 400


def test_dcr_subsampling_is_stated_and_baseline_follows_sizes(adult_split):
    train, holdout, other, schema = adult_split
    eq = distance_to_closest_record(
        train, holdout[:500], other, schema, rng=0, max_queries=300, n_boot=20
    )[0]
    d = eq.details
    assert d["n_train_searched"] == d["n_holdout_searched"] == 500
    assert d["n_synthetic_queries"] == 300 and d["subsampled"]
    assert eq.baseline == 0.5
    uneq = distance_to_closest_record(
        train, holdout[:500], train, schema, rng=0, equal_size=False, n_boot=20
    )[0]
    assert uneq.baseline == pytest.approx(N / (N + 500))
    assert uneq.value > 0.99  # every copied row is found when all of train is searched
    assert uneq.normalized < 0.1


def test_density_reference_never_holds_the_non_member_candidates(monkeypatch):
    import sosie.evaluate.privacy as P

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"x": rng.normal(size=900), "y": rng.normal(size=900), "c": rng.choice(list("abc"), 900)}
    )
    schema = infer_schema(df)
    train, holdout = df.iloc[:300], df.iloc[300:]
    calls = []
    real = P._log_kde

    def spy(points, centers, **kw):
        calls.append((points.copy(), centers.copy()))
        return real(points, centers, **kw)

    monkeypatch.setattr(P, "_log_kde", spy)
    res = membership_inference(train, holdout, train, schema, attacks=["density"], rng=1, n_boot=10)
    r = res[0]
    (cand, syn_centers), (cand2, ref_centers) = calls
    assert np.array_equal(cand, cand2)
    n = r.details["n_members"]
    members, non_members = cand[:n], cand[n:]
    # the spy sees the right sets: the synthetic table is the training table here
    member_to_syn = np.sqrt(((members[:, None, :] - syn_centers[None]) ** 2).sum(-1))
    assert member_to_syn.min(1).max() < 1e-6
    # no non-member candidate is among the reference rows (all rows are distinct here)
    dist = np.sqrt(((non_members[:, None, :] - ref_centers[None]) ** 2).sum(-1))
    assert dist.min() > 1e-9
    assert len(ref_centers) + len(non_members) <= len(holdout)
    assert r.details["n_auxiliary"] == len(holdout) // 2


def test_numeric_sensitive_uses_r2(scenarios):
    d = scenarios["copy"]["attribute_inference[age]"].details
    assert d["score"] == "R2"
    assert d["train_r2"] > d["holdout_r2"]
    assert "age" not in d["quasi_identifiers"] and "income" not in d["quasi_identifiers"]
    d = scenarios["other"]["attribute_inference[income]"].details
    assert d["score"] == "accuracy"
    assert d["majority_accuracy"] > 0.6  # about 76 % earn <=50K
    assert d["holdout_accuracy"] > d["majority_accuracy"] - 0.1


def test_bad_inputs_raise_clear_errors(adult_split):
    train, holdout, other, schema = adult_split
    with pytest.raises(InvalidDataError, match="nope"):
        attribute_inference(train, holdout, other, schema, ["nope"])
    with pytest.raises(InvalidDataError, match="attacks"):
        membership_inference(train, holdout, other, schema, attacks=["telepathy"])
    with pytest.raises(InvalidDataError, match="income"):
        distance_to_closest_record(train, holdout, other.drop(columns=["income"]), schema)
    with pytest.raises(InvalidDataError, match="every column"):
        attribute_inference(train, holdout, other, schema, list(train.columns))


def test_does_not_touch_global_random_state(adult_split, global_rng_guard):
    train, holdout, other, schema = adult_split
    privacy_metrics(
        train[:300], holdout[:300], other[:300], schema, sensitive=["sex"], rng=0, n_boot=10
    )


@pytest.mark.slow
def test_adult_size_known_answers():
    """Full Adult: 32,561 train rows, 16,281 holdout rows, 32,561 synthetic rows."""
    train, holdout = load_adult("train"), load_adult("test")
    schema = infer_schema(train)
    copula = GaussianCopulaGenerator(rng=0).fit(train, schema=schema).sample(len(train), rng=1)
    priv = {
        r.name: r
        for r in privacy_metrics(train, holdout, copula, schema, sensitive=["income"], rng=0)
    }
    for name in MIA:
        assert priv[name].value < 0.56, name
    copy = {r.name: r for r in privacy_metrics(train, holdout, train, schema, rng=0)}
    assert copy["exact_copies"].value == 1.0
    assert copy["mia_distance"].value > 0.99
    # train is subsampled to the holdout's size: copies of the other half are not seen
    assert 0.7 < copy["dcr_share"].value < 0.8
