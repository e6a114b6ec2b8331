"""Constraints in a rule-based spec, and the constraint-validity evidence (metric, report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sosie.constraints import Formula, Inequality, NullIff, constraint_validity, discover
from sosie.errors import SpecError
from sosie.evaluate import evaluate, split_holdout
from sosie.evaluate.fidelity import constraint_validity_metric
from sosie.generators import GaussianCopulaGenerator, get_generator
from sosie.generators.rules._spec import load_spec
from sosie.report import render_html
from sosie.schema import infer_schema

SPEC = {
    "columns": {
        "kind": {"distribution": "categorical", "categories": {"shop": 0.6, "atm": 0.4}},
        "start": {"distribution": "uniform", "low": 0, "high": 10, "decimals": 2},
        "end": {"distribution": "uniform", "low": 0, "high": 20, "decimals": 2},
        "amount": {"distribution": "integer", "low": 1, "high": 400},
        "fee": {"expr": "round(amount * 0.02, 2)"},
        "pin_tries": {"distribution": "integer", "low": 0, "high": 3},
        "level": {"distribution": "categorical", "categories": ["a1", "a2", "b1"]},
        "band": {"expr": "'a' if level in ('a1', 'a2') else 'b'"},
    },
    "constraints": [
        {"kind": "inequality", "low": "start", "high": "end"},
        {"kind": "grid", "column": "amount", "step": 20},
        {"kind": "formula", "column": "fee", "expression": "amount * 0.02", "decimals": 2},
        {"kind": "null_iff", "column": "pin_tries", "when": "kind == 'shop'"},
        {
            "kind": "determines",
            "columns": ["level"],
            "column": "band",
            "mapping": [["a1", "a"], ["a2", "a"], ["b1", "b"]],
        },
        {"kind": "check", "expression": "fee <= 8"},
    ],
}


def test_spec_constraints_hold_on_every_row():
    gen = get_generator("rules")(spec=SPEC, rng=0).fit()
    out = gen.sample(3000, rng=1)
    assert len(out) == 3000
    assert len(gen.schema_.constraints) == 6
    rows = constraint_validity(out, out, gen.schema_.constraints, schema=gen.schema_)
    assert all(r["synthetic"] == 1.0 for r in rows), rows
    assert out.loc[out["kind"] == "shop", "pin_tries"].isna().all()
    assert out.loc[out["kind"] == "atm", "pin_tries"].notna().all()
    assert gen.schema_["pin_tries"].nullable


def test_spec_constraints_errors_are_named():
    bad = {
        "columns": {"x": {"distribution": "uniform", "low": 0, "high": 1, "null_rate": 0.1}},
        "constraints": [
            {"kind": "inequality", "low": "x", "high": "y"},
            {"kind": "determines", "columns": ["x"], "column": "x"},
            {"kind": "null_iff", "column": "x", "when": "x > 0.5"},
            {"kind": "grid", "column": "x"},
        ],
    }
    with pytest.raises(SpecError) as e:
        load_spec(bad)
    text = str(e.value)
    assert "constraints[0]" in text and "'y'" in text
    assert "constraints[1]" in text and "mapping" in text
    assert "constraints[2]" in text and "null_rate" in text
    assert "constraints[3]" in text and "'step'" in text


def test_spec_constraint_that_cannot_hold_says_so():
    spec = {
        "columns": {
            "a": {"distribution": "uniform", "low": 5, "high": 6},
            "b": {"distribution": "uniform", "low": 0, "high": 1},
        },
        "constraints": [{"kind": "inequality", "low": "a", "high": "b"}],
        "max_rounds": 3,
    }
    with pytest.raises(SpecError, match=r"a <= b"):
        get_generator("rules")(spec=spec, rng=0).fit().sample(100)


# -- evidence -------------------------------------------------------------------------------
def test_validity_metric_known_answers():
    real = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) + 1, "c": 2 * np.arange(20.0)})
    real.loc[0, "b"] = -1.0  # the real data breaks the inequality once
    schema = infer_schema(real)
    schema.constraints = [Inequality("a", "b"), Formula("c", "2 * a")]
    fake = real.copy()
    fake.loc[1:4, "c"] = 0.0  # 4 rows break the formula (row 0 breaks both rules)
    m = constraint_validity_metric(real, fake, schema)
    assert m.value == pytest.approx(15 / 20)
    assert m.baseline == pytest.approx(19 / 20)
    assert m.normalized == pytest.approx((15 / 20) / (19 / 20))
    rows = {r["constraint"]: r for r in m.details["constraints"]}
    assert rows["c = 2 * a"]["synthetic_violations"] == 4
    assert rows["a <= b"]["real"] == pytest.approx(0.95)


def test_evaluate_discovers_and_reports_validity(adult_small):
    train, hold = split_holdout(adult_small, target="income", rng=0)
    gen = GaussianCopulaGenerator(rng=0).fit(train)  # discovers education -> education_num
    plain = GaussianCopulaGenerator(rng=0).fit(train, schema=infer_schema(train))
    for g, expected in ((gen, 1.0), (plain, None)):
        syn = g.sample(len(train), rng=1)
        ev = evaluate(train, hold, syn, families=("fidelity",), rng=0)
        m = ev["constraint_validity"]
        rules = {r["constraint"] for r in m.details["constraints"]}
        assert "education determines education_num" in rules
        if expected is not None:
            assert ev.summary["constraint_validity"] == expected
        else:  # the copula alone breaks the dependency on many rows (0.71 here)
            assert ev.summary["constraint_validity"] < 0.9
    page = render_html(ev)
    assert "Constraint validity" in page and "education determines education_num" in page
    assert "Synthetic rows breaking it" in page


def test_report_escapes_constraint_text():
    real = pd.DataFrame({"x<script>": np.arange(30.0), "y": np.arange(30.0) + 1})
    schema = infer_schema(real)
    schema.constraints = [NullIff("y", "isnull(x)")]  # unknown column: named at use
    with pytest.raises(Exception, match="'x'"):
        constraint_validity_metric(real, real, schema)
    schema.constraints = discover(real, kinds=["inequality"])
    m = constraint_validity_metric(real, real, schema)
    page = render_html(evaluate(real, real, real, schema=schema, families=("fidelity",), rng=0))
    assert m.value == 1.0 and "x&lt;script&gt;" in page and "x<script>" not in page
