"""Constraints: vocabulary, discovery (known answers, real tables), construction, rejection."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.constraints import (
    Check,
    Combinations,
    Determines,
    Formula,
    Grid,
    Inequality,
    NullIff,
    constraint_from_dict,
    constraint_validity,
    discover,
)
from sosie.datasets import load_rdataset
from sosie.errors import ConditionError, SchemaError, SosieWarning
from sosie.generators import GaussianCopulaGenerator, get_generator
from sosie.schema import TableSchema, infer_schema

EVERY_KIND = [
    Formula("total", "price * qty", decimals=2),
    Determines(["sub_grade"], "grade", mapping=[["B3", "B"], ["C1", "C"]]),
    Combinations(["city", "state"], allowed=[["Austin", "TX"], ["Paris", "TX"]]),
    Inequality("start", "end", strict=True),
    Grid("amount", 20, offset=5),
    NullIff("income_joint", "application_type == 'individual'"),
    Check("a + b <= c", name="budget"),
]


# -- vocabulary ------------------------------------------------------------------------
@pytest.mark.parametrize("c", EVERY_KIND, ids=lambda c: c.kind)
def test_json_round_trip(c):
    d = json.loads(json.dumps(c.to_dict()))
    assert d["kind"] == c.kind
    assert constraint_from_dict(d) == c


def test_schema_json_carries_constraints():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 3.0]})
    s = infer_schema(df)
    s.constraints = [Inequality("a", "b")]
    back = TableSchema.from_json(s.to_json())
    assert back.constraints == [Inequality("a", "b")]
    assert "constraints" not in infer_schema(df).to_dict()  # none: the JSON is unchanged


@pytest.mark.parametrize(
    ("d", "found"),
    [
        ({"kind": "sum"}, "'sum'"),
        ({"kind": "grid", "column": "x"}, "none"),  # step missing
        ({"kind": "grid", "column": "x", "step": -2}, "-2"),
        ({"kind": "inequality", "low": "a", "high": "b", "lo": 1}, "'lo'"),
        ({"kind": "formula", "column": "y", "expression": "__import__('os')"}, "__import__"),
        ({"kind": "check", "expression": "a > 0", "provenance": "guess"}, "'guess'"),
    ],
)
def test_bad_constraints_are_named(d, found):
    with pytest.raises((SchemaError, sosie.errors.SpecError)) as e:
        constraint_from_dict(d)
    assert found in str(e.value)


def test_callable_check_is_not_written_as_json():
    c = Check(lambda df: df["x"] > 0, name="x positive")
    with pytest.raises(SchemaError, match="expression string"):
        c.to_dict()


def test_holds_known_answers():
    df = pd.DataFrame(
        {
            "price": [1.5, 2.0, 1.0],
            "qty": [2, 3, 1],
            "total": [3.0, 5.0, 1.004],  # row 2 is a rounding of 1.0
            "start": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-03"]),
            "end": pd.to_datetime(["2024-01-02", "2024-01-05", None]),
            "amount": [25, 45, 30],
        }
    )
    assert Formula("total", "price * qty", decimals=2).holds(df).tolist() == [True, False, True]
    assert Inequality("start", "end", strict=True).holds(df).tolist() == [True, False, True]
    assert Inequality("start", "end").holds(df).tolist() == [True, True, True]
    assert Grid("amount", 20, offset=5).holds(df).tolist() == [True, True, False]


def test_constraint_validity_learns_mappings_from_real():
    real = pd.DataFrame({"sub": ["B1", "B2", "C1"] * 10, "grade": ["B", "B", "C"] * 10})
    fake = pd.DataFrame({"sub": ["B1", "C1", "C1", "B2"], "grade": ["B", "B", "C", "B"]})
    row = constraint_validity(real, fake, [Determines(["sub"], "grade")])[0]
    assert row["real"] == 1.0 and row["synthetic"] == 0.75 and row["synthetic_violations"] == 1


# -- discovery: known answers ------------------------------------------------------------
def _known_table(n=3000, seed=0):
    r = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "plan": r.choice(["a", "b", "c"], n),
            "minutes": np.round(r.uniform(0, 300, n), 1),
            "rate": r.choice([0.1, 0.2, 0.25], n),
            "noise": r.normal(0, 1, n),
        }
    )
    df["charge"] = np.round(df["minutes"] * 0.17, 2)
    df["cost"] = np.round(df["minutes"] * df["rate"], 3)
    df["per_min"] = np.round(df["cost"] / df["minutes"].clip(lower=0.1), 6)
    df["tier"] = df["plan"].map({"a": "low", "b": "low", "c": "high"})
    df["start"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 300, n), unit="D")
    df["end"] = df["start"] + pd.to_timedelta(r.integers(0, 60, n), unit="D")
    df["amount"] = r.integers(1, 50, n) * 20
    df["income_joint"] = np.where(df["plan"] == "c", np.round(r.uniform(10, 99, n), 2), np.nan)
    return df


def test_discover_known_relations():
    found = {c.describe() for c in discover(_known_table())}
    assert "charge = 0.17 * minutes" in found
    assert "plan determines tier" in found
    assert "start <= end" in found
    assert "amount in steps of 20" in found
    assert "income_joint is missing iff plan in ('a', 'b')" in found, found
    # a product of two columns
    assert any(f.startswith("cost = ") and "minutes" in f and "rate" in f for f in found), found


def test_discover_finds_nothing_in_independent_columns():
    r = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "x": r.normal(size=2000),
            "y": r.normal(size=2000),
            "c": r.choice(list("abcd"), 2000),
            "d": r.choice(list("xyz"), 2000),
            "k": r.integers(0, 1000, 2000),
        }
    )
    assert discover(df) == []


def test_discover_needs_evidence_not_luck():
    # 12 rows where 'a' happens to determine 'b' and x < y by accident: not enough evidence
    r = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "a": list("pqrstuvwxyzo"),
            "b": r.choice(["u", "v"], 12),
            "x": np.arange(12.0),
            "y": np.arange(12.0) + 0.5,
        }
    )
    assert [c for c in discover(df) if c.kind == "determines"] == []


def test_discover_confidence_threshold():
    df = _known_table()
    df.loc[0, "end"] = df.loc[0, "start"] - pd.Timedelta(days=1)  # one broken row
    strict = {c.describe() for c in discover(df, kinds=["inequality"])}
    loose = {c.describe() for c in discover(df, kinds=["inequality"], min_confidence=0.999)}
    assert "start <= end" not in strict and "start <= end" in loose


# -- discovery: real tables ----------------------------------------------------------------
def test_discover_churn_charges():
    churn = load_rdataset("modeldata", "mlc_churn")
    found = {c.describe() for c in discover(churn)}
    for period, rate in (("day", 0.17), ("eve", 0.085), ("night", 0.045), ("intl", 0.27)):
        assert f"total_{period}_charge = {rate} * total_{period}_minutes" in found


def test_discover_loans():
    loans = load_rdataset("openintro", "loans_full_schema")
    found = {c.describe() for c in discover(loans)}
    assert "sub_grade determines grade" in found
    assert "loan_amount in steps of 25" in found
    assert "annual_income_joint is missing iff application_type == 'individual'" in found
    assert "open_credit_lines <= total_credit_lines" in found
    # paid_total is the sum of its parts on all rows but one (half a cent off): found when
    # one row in a thousand may break it
    loose = {c.describe() for c in discover(loans, kinds=["formula"], min_confidence=0.999)}
    assert "paid_total = paid_principal + paid_interest + paid_late_fees" in loose


def test_discover_adult(adult_train):
    found = {c.describe() for c in discover(adult_train)}
    assert "education determines education_num" in found


# -- construction in the generators ---------------------------------------------------------
@pytest.fixture(scope="module")
def known():
    df = _known_table()
    gen = GaussianCopulaGenerator(rng=0).fit(df)
    return df, gen


def test_every_discovered_constraint_kept(known):
    df, gen = known
    out = gen.sample(3000, rng=1)
    rows = constraint_validity(df, out, gen.schema_)
    assert len(rows) >= 6
    for row in rows:
        assert row["real"] == 1.0 and row["synthetic"] == 1.0, row
    assert {r["kept"] for r in gen.constraints_.describe_roles()} == {"by construction"}
    # the derived columns were not modelled
    modelled = {c.source for c in gen.preprocessor_.model_columns}
    assert "charge" not in modelled and "tier" not in modelled


def test_without_constraints_they_break(known):
    df, _ = known
    plain = GaussianCopulaGenerator(rng=0).fit(df, schema=infer_schema(df))
    out = plain.sample(3000, rng=1)
    rows = {r["constraint"]: r["synthetic"] for r in constraint_validity(df, out, discover(df))}
    assert rows["charge = 0.17 * minutes"] < 0.2
    assert rows["start <= end"] < 0.9


def test_conditions_on_computed_columns(known):
    _, gen = known
    out = gen.sample(200, conditions={"tier": "high"}, rng=2)
    assert (out["tier"] == "high").all() and (out["plan"] == "c").all()
    per_row = pd.DataFrame({"tier": ["low", "high"] * 50})
    out = gen.sample(100, conditions=per_row, rng=3)
    assert out["tier"].tolist() == per_row["tier"].tolist()
    with pytest.raises(ConditionError, match="computed by the constraint"):
        gen.sample(10, conditions={"charge": 3.4})


def test_save_load_keeps_constraints(known, tmp_path):
    _, gen = known
    gen.save(tmp_path / "m.sosie")
    loaded = sosie.load(tmp_path / "m.sosie")
    pd.testing.assert_frame_equal(loaded.sample(500, rng=4), gen.sample(500, rng=4))
    assert loaded.schema_.constraints == gen.schema_.constraints


def test_user_constraints_and_custom_predicate(adult_train):
    df = adult_train.sample(3000, random_state=0).reset_index(drop=True)
    schema = infer_schema(df)
    schema.constraints = [
        Check("capital_gain == 0 or capital_loss == 0"),
        Check(lambda d: d["hours_per_week"] <= d["age"] + 40, name="hours below age + 40"),
    ]
    gen = get_generator("arf")(n_estimators=10, max_iters=2, rng=0).fit(df, schema=schema)
    out = gen.sample(2000, rng=1)
    assert len(out) == 2000
    assert ((out["capital_gain"] == 0) | (out["capital_loss"] == 0)).all()
    assert (out["hours_per_week"] <= out["age"] + 40).all()
    with pytest.raises(SchemaError, match="callable"):
        gen.save("unused.sosie")


def test_impossible_rule_is_bounded_and_says_so():
    df = pd.DataFrame({"x": np.linspace(0, 1, 200), "y": np.linspace(1, 0, 200)})
    schema = infer_schema(df)
    schema.constraints = [Check("x > 2", name="x above its range")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    with pytest.warns(SosieWarning, match=r"made 0 of 50 rows.*'x above its range'"):
        out = gen.sample(50, rng=1)
    assert len(out) == 0


def test_datetime_strings_with_timezone_keep_order():
    r = np.random.default_rng(3)
    start = pd.Timestamp("2024-03-01", tz="Europe/Paris") + pd.to_timedelta(
        r.integers(0, 2000, 800), unit="h"
    )
    df = pd.DataFrame({"start": start, "end": start + pd.to_timedelta(r.integers(1, 72, 800), "h")})
    df["start_s"] = df["start"].dt.strftime("%Y-%m-%d %H:%M")
    df["end_s"] = df["end"].dt.strftime("%Y-%m-%d %H:%M")
    schema = infer_schema(df)
    schema.constraints = [Inequality("start", "end", strict=True), Inequality("start_s", "end_s")]
    out = GaussianCopulaGenerator(rng=0).fit(df, schema=schema).sample(1000, rng=1)
    assert str(out["start"].dt.tz) == "Europe/Paris"
    assert (out["start"] < out["end"]).all()
    assert (pd.to_datetime(out["start_s"]) <= pd.to_datetime(out["end_s"])).all()


def test_cycles_and_double_producers_fall_back_to_checks():
    r = np.random.default_rng(4)
    a = r.uniform(0, 10, 500)
    df = pd.DataFrame({"a": a, "b": a + 1.0})
    schema = infer_schema(df)
    schema.constraints = [Formula("b", "a + 1"), Formula("a", "b - 1"), Inequality("a", "b")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    roles = [r["kept"] for r in gen.constraints_.describe_roles()]
    assert roles == ["by construction", "bounded rejection", "bounded rejection"]
    out = gen.sample(300, rng=1)
    assert np.allclose(out["b"], out["a"] + 1)


def test_declared_constraint_on_unknown_column_is_named():
    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)})
    schema = infer_schema(df)
    schema.constraints = [Inequality("a", "bb")]
    with pytest.raises(SchemaError, match=r"no column 'bb'.*did you mean 'b'"):
        GaussianCopulaGenerator().fit(df, schema=schema)


def test_real_data_breaking_a_declared_rule_is_counted():
    df = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) + 1})
    df.loc[3, "b"] = 0.0
    schema = infer_schema(df)
    schema.constraints = [Inequality("a", "b")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    assert gen.constraints_.describe_roles()[0]["real_violations"] == 1
    out = gen.sample(500, rng=2)
    assert (out["a"] <= out["b"]).all()


def test_discovery_never_touches_global_random_state(global_rng_guard):
    discover(_known_table(800))


def test_fit_without_schema_discovers(known):
    _, gen = known
    assert any(c.provenance == "inferred" for c in gen.schema_.constraints)
    assert all(c.evidence for c in gen.schema_.constraints)


def test_warnings_are_not_raised_for_easy_checks(adult_train):
    df = adult_train.sample(2000, random_state=1).reset_index(drop=True)
    schema = infer_schema(df, constraints=True)
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SosieWarning)
        gen.sample(1000, conditions={"sex": "Female"}, rng=0)


def test_inequality_direction_keeps_the_spikier_column():
    r = np.random.default_rng(5)
    n = 3000
    amount = r.choice([5000, 10000, 15000, 20000], n).astype(float)  # round amounts: spiky
    df = pd.DataFrame({"amount": amount, "balance": np.round(amount * r.uniform(0, 1, n), 2)})
    schema = infer_schema(df)
    schema.constraints = [Inequality("balance", "amount")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    assert gen.constraints_.modes_ == {0: "ratio"}  # the balance is rebuilt, not the amount
    assert "share of amount" in gen.constraints_.describe_roles()[0]["method"]
    out = gen.sample(2000, rng=1)
    assert (out["balance"] <= out["amount"]).all() and (out["balance"] >= 0).all()
    assert set(out["amount"].unique()) <= {5000.0, 10000.0, 15000.0, 20000.0}
    # the other way round: a spiky low (a 40-hour week) is modelled, the high rebuilt
    hours = r.choice([40, 40, 40, 40, 20, 30, 50, 60], n)
    df = pd.DataFrame({"hours": hours, "cap": np.round(hours + r.uniform(0, 10, n), 1)})
    schema = infer_schema(df)
    schema.constraints = [Inequality("hours", "cap")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    assert gen.constraints_.modes_ == {0: "gap"}
    out = gen.sample(2000, rng=1)
    assert (out["hours"] <= out["cap"]).all()
    assert abs((out["hours"] == 40).mean() - (df["hours"] == 40).mean()) < 0.03


def test_chains_and_conditional_nulls_are_one_construction():
    """loans_full_schema: many inequalities share columns (bounds of one column, chains) and
    a joint income that is missing iff the application is individual and above the income."""
    loans = load_rdataset("openintro", "loans_full_schema")
    schema = infer_schema(loans)
    schema.constraints = discover(loans, schema, kinds=["inequality", "null_iff"])
    assert len(schema.constraints) >= 20
    gen = GaussianCopulaGenerator(rng=0).fit(loans, schema=schema)
    assert {r["kept"] for r in gen.constraints_.describe_roles()} == {"by construction"}
    raw = gen._generate(3000, {}, np.random.SeedSequence(1))  # before any redrawing
    assert gen.constraints_.valid_rows(raw).all()
    joint = raw["application_type"] == "joint"
    assert raw.loc[joint, "annual_income_joint"].notna().all()
    assert raw.loc[~joint, "annual_income_joint"].isna().all()
    assert (raw.loc[joint, "annual_income"] <= raw.loc[joint, "annual_income_joint"]).all()
    assert abs(joint.mean() - (loans["application_type"] == "joint").mean()) < 0.03


def test_mixed_directions_when_no_single_one_fits():
    """a <= b <= d where a is missing on some rows (so b cannot be a gap above it) and d is
    missing on others (so b cannot be a share of it): each rule takes its own direction."""
    r = np.random.default_rng(6)
    n = 2000
    b = np.round(r.uniform(10, 100, n), 1)
    df = pd.DataFrame(
        {
            "a": np.where(r.random(n) < 0.2, np.nan, np.round(b * r.uniform(0, 1, n), 1)),
            "b": b,
            "d": np.where(r.random(n) < 0.2, np.nan, np.round(b + r.uniform(0, 50, n), 1)),
        }
    )
    schema = infer_schema(df)
    schema.constraints = [Inequality("a", "b"), Inequality("b", "d")]
    gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    assert gen.constraints_.modes_ == {0: "ratio", 1: "gap"}
    assert {r["kept"] for r in gen.constraints_.describe_roles()} == {"by construction"}
    out = gen.sample(2000, rng=1)
    assert len(out) == 2000
    assert all(r["synthetic"] == 1.0 for r in constraint_validity(df, out, schema.constraints))
    assert 0.1 < out["a"].isna().mean() < 0.3 and 0.1 < out["d"].isna().mean() < 0.3
