"""Controlled demographics on real data (UCI Adult): target group shares met by native
conditioning, the label made independent of the groups, and the before/after bias audit."""

from __future__ import annotations

import pandas as pd
import pytest

from sosie.demographics import bias_audit, rake, sample_demographics
from sosie.errors import InvalidDataError
from sosie.evaluate import split_holdout
from sosie.generators import make_generator
from sosie.report import render_html

TARGETS = {
    "sex": {"Female": 0.5, "Male": 0.5},
    "race": {"White": 0.5, "Black": 0.2, "Asian-Pac-Islander": 0.15,
             "Amer-Indian-Eskimo": 0.1, "Other": 0.05},
}  # fmt: skip


@pytest.fixture(scope="module")
def split(adult_train):
    return split_holdout(adult_train.sample(8000, random_state=3), target="income", rng=0)


@pytest.fixture(scope="module", params=["gaussian_copula", "arf"])
def fitted(request, split):
    params = {"n_estimators": 10, "max_iters": 3} if request.param == "arf" else {}
    return make_generator(request.param, rng=0, **params).fit(split[0])


def _shares(s: pd.Series) -> pd.Series:
    return s.value_counts(normalize=True)


def test_rake_keeps_odds_ratios_and_refuses_the_impossible():
    idx = pd.MultiIndex.from_product([["F", "M"], ["a", "b"]], names=["sex", "race"])
    joint = pd.Series([0.1, 0.2, 0.3, 0.4], index=idx)
    r = rake(joint, {"sex": {"F": 0.5, "M": 0.5}, "race": {"a": 0.5, "b": 0.5}})
    assert r.groupby(level="sex").sum().tolist() == pytest.approx([0.5, 0.5])
    assert r.groupby(level="race").sum().tolist() == pytest.approx([0.5, 0.5])
    odds = lambda p: p[("F", "a")] * p[("M", "b")] / (p[("F", "b")] * p[("M", "a")])  # noqa: E731
    assert odds(r) == pytest.approx(odds(joint))
    with pytest.raises(InvalidDataError, match="'X'"):
        rake(joint, {"sex": {"F": 0.5, "X": 0.5}})


def test_target_shares_are_met_and_associations_kept(fitted, split):
    train = split[0]
    out = sample_demographics(fitted, 4000, targets=TARGETS, reference=train, rng=0)
    assert len(out) == 4000
    for col, want in TARGETS.items():
        got = _shares(out[col])
        for v, s in want.items():
            assert abs(got[v] - s) < 0.004, (col, v, got[v])
    # the label is free: it follows the model, so its rate still differs by sex as in real data
    rate = out.groupby("sex")["income"].apply(lambda s: (s == ">50K").mean())
    assert rate["Male"] - rate["Female"] > 0.1
    # the rest of each row follows the group as the model knows it (conditioning keeps it)
    free = fitted.sample(8000, rng=1)
    for d in (out, free):
        d["husband"] = d["relationship"] == "Husband"
    assert out.groupby("sex")["husband"].mean()["Male"] == pytest.approx(
        free.groupby("sex")["husband"].mean()["Male"], abs=0.05
    )


def test_independent_label(fitted, split):
    train = split[0]
    out = sample_demographics(fitted, 3000, targets={"sex": TARGETS["sex"]}, label="income",
                              independent_label=True, reference=train, rng=1)  # fmt: skip
    rate = out.groupby("sex")["income"].apply(lambda s: (s == ">50K").mean())
    overall = (train["income"] == ">50K").mean()
    assert abs(rate["Male"] - rate["Female"]) < 0.002
    assert abs(rate.mean() - overall) < 0.005
    chosen = sample_demographics(fitted, 2000, targets={"sex": TARGETS["sex"]}, label="income",
                                 independent_label=True, label_shares={">50K": 0.5, "<=50K": 0.5},
                                 reference=train, rng=1)  # fmt: skip
    assert (chosen["income"] == ">50K").mean() == 0.5


def test_without_reference_the_model_supplies_the_joint(split):
    gen = make_generator("gaussian_copula", rng=0).fit(split[0])
    a = sample_demographics(gen, 1000, targets={"sex": TARGETS["sex"]}, rng=5)
    b = sample_demographics(gen, 1000, targets={"sex": TARGETS["sex"]}, rng=5)
    pd.testing.assert_frame_equal(a, b)
    assert a["sex"].value_counts().to_dict() == {"Female": 500, "Male": 500}


def test_bad_requests_are_reported_at_once(split):
    gen = make_generator("gaussian_copula", rng=0).fit(split[0])
    with pytest.raises(InvalidDataError) as e:
        sample_demographics(gen, 0, targets={"sex": {"Female": 0.6, "Male": 0.6}, "nope": {"a": 1}},
                            label_shares={"x": 1.0})  # fmt: skip
    text = str(e.value)
    assert "sum to 1" in text and "'nope'" in text and "n_rows" in text
    assert "label_shares" in text
    with pytest.raises(InvalidDataError, match="not fitted"):
        sample_demographics(make_generator("gaussian_copula"), 10, targets=TARGETS)


def test_bias_audit_before_and_after(split):
    train, hold = split
    gen = make_generator("gaussian_copula", rng=0).fit(train)
    before = gen.sample(len(train), rng=1)
    after = sample_demographics(gen, len(train), targets={"sex": TARGETS["sex"]}, label="income",
                                independent_label=True, reference=train, rng=2)  # fmt: skip
    ev = bias_audit(train, hold, before, after, sensitive=["sex"], target="income",
                    targets={"sex": TARGETS["sex"]}, rng=0)  # fmt: skip
    shares = ev["target_shares[sex]"]
    assert shares.value > 0.999 and shares.baseline < 0.9  # Adult is two-thirds men
    parity = ev["label_parity[sex]"]
    assert parity.baseline > 0.15 and parity.value < 0.005  # real data: ~0.19
    dp = ev["dp_gap[sex]"]
    assert dp.value < dp.breakdown["before"] - 0.03  # the downstream model is fairer
    assert ev["audit_roc_auc"].breakdown["real data"] > 0.85
    page = render_html(ev)
    assert "label_parity[sex]" in page and "target" in page and "<svg" in page


def test_cli_sample_with_shares_then_audit(tmp_path, split, capsys):
    from sosie.cli import main

    train, hold = split
    model = tmp_path / "m.sosie"
    make_generator("gaussian_copula", rng=0).fit(train).save(model)
    paths = {k: tmp_path / f"{k}.csv" for k in ("real", "holdout", "before", "after")}
    train.to_csv(paths["real"], index=False)
    hold.to_csv(paths["holdout"], index=False)
    base = ["-q", "sample", str(model), "-n", "2000", "--seed", "1"]
    assert main([*base, "-o", str(paths["before"])]) == 0
    args = ["--shares", "sex=Female:0.5,Male:0.5", "--independent-label", "income"]
    assert main([*base, *args, "-o", str(paths["after"])]) == 0
    after = pd.read_csv(paths["after"])
    assert after["sex"].value_counts().to_dict() == {"Female": 1000, "Male": 1000}
    card = (tmp_path / "after.card.json").read_text()
    assert "target_shares" in card and "Female" in card
    out = tmp_path / "audit.html"
    code = main(["-q", "audit", *(f"--{k}={v}" for k, v in paths.items()), "--sensitive", "sex",
                 "--target", "income", "--shares", "sex=Female:0.5,Male:0.5", "-o", str(out)])  # fmt: skip
    assert code == 0 and "label_parity[sex]" in out.read_text()
    assert main([*base, "--shares", "sex=Female", "-o", str(paths["after"])]) == 2
    assert "column=value:share" in capsys.readouterr().err
