"""Loading and validating rule-based specs: sources, line numbers, every kind of mistake."""

from __future__ import annotations

import json
import textwrap

import pytest

from sosie.errors import SpecError
from sosie.generators.rules._spec import (
    RuleSpec,
    example_path,
    load_spec,
    spec_columns_summary,
)

GOOD = textwrap.dedent(
    """\
    name: shop
    columns:
      kind:
        distribution: categorical
        categories: {shop: 0.7, atm: 0.3}
      amount:
        distribution: lognormal
        mu: 3
        sigma: 1
      fee:
        expr: "amount * 0.02"
    rules:
      - check: "amount > 0"
    """
)


def problems(source) -> list[str]:
    with pytest.raises(SpecError) as e:
        load_spec(source)
    assert e.value.errors, "SpecError should list its problems"
    return [str(p) for p in e.value.errors]


def one_problem(source, *needles: str) -> str:
    found = problems(source)
    hits = [p for p in found if all(n in p for n in needles)]
    assert hits, f"no problem mentions {needles}; got {found}"
    return hits[0]


# -- sources -------------------------------------------------------------------------------------
def test_loads_from_yaml_text_dict_json_and_files(tmp_path):
    from_text = load_spec(GOOD)
    assert isinstance(from_text, RuleSpec) and from_text.name == "shop"
    assert [c.name for c in from_text.columns] == ["kind", "amount", "fee"]
    import yaml

    as_dict = yaml.safe_load(GOOD)
    assert load_spec(as_dict).output_columns == from_text.output_columns
    assert load_spec(json.dumps(as_dict)).output_columns == from_text.output_columns
    y = tmp_path / "shop.yml"
    y.write_text(GOOD)
    j = tmp_path / "shop.json"
    j.write_text(json.dumps(as_dict, indent=2))
    assert load_spec(y).source == "shop.yml"
    assert load_spec(str(j)).output_columns == from_text.output_columns
    assert load_spec(from_text) is from_text
    # to_dict round trip
    assert load_spec(from_text.to_dict()).output_columns == from_text.output_columns


def test_missing_file_and_bad_syntax():
    assert "no_such.yaml" in one_problem("no_such.yaml", "readable")
    msg = one_problem("columns:\n  x: {distribution: normal\n", "valid YAML")
    assert "line" in msg
    msg = one_problem('{"columns": {"x": }}', "valid JSON")
    assert "line 1" in msg
    # a YAML flow mapping is not mistaken for broken JSON
    assert load_spec("{columns: {x: {distribution: uuid}}}").output_columns == ["x"]


# -- field + line in every message -----------------------------------------------------------------
def bad_file(tmp_path, text: str):
    p = tmp_path / "card.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_typo_in_distribution_names_file_line_and_field(tmp_path):
    p = bad_file(
        tmp_path,
        """\
        columns:
          kind:
            distribution: categorical
            categories: [a, b]
          amount:
            distribution: lognormall
            mu: 3
            sigma: 1
        """,
    )
    msg = one_problem(p, "columns.amount.distribution")
    assert msg.startswith(
        "card.yaml line 6, columns.amount.distribution: expected one of normal, lognormal"
    )
    assert "found 'lognormall'" in msg and "did you mean 'lognormal'" in msg


def test_several_typos_are_all_reported_with_their_lines(tmp_path):
    p = bad_file(
        tmp_path,
        """\
        columns:
          a:
            distribution: normal
            mean: 0
            sdt: 1
          b:
            distribution: categorical
            categories: [x, y]
            weights: [0, 0]
          c:
            distribution: datetime
            start: "2024-02-30"
            end: "2024-03-01"
          d:
            expr: "a + e"
          e:
            distribution: exponential
            scale: -2
        rules:
          - check: "a > b_typo"
        """,
    )
    found = problems(p)
    text = "\n".join(found)
    assert "card.yaml line 5, columns.a.sdt" in text and "did you mean 'std'" in text
    assert "card.yaml line 2, columns.a: expected the parameter 'std'" in text
    assert "card.yaml line 9, columns.b.weights: expected weights that sum to more than 0" in text
    assert "card.yaml line 12, columns.c.start" in text and "'2024-02-30'" in text
    assert "card.yaml line 15, columns.d.expr" in text and "move 'e' above 'd'" in text
    assert "card.yaml line 18, columns.e.scale: expected a number > 0, found -2" in text
    assert "card.yaml line 20, rules[0].check" in text and "'b_typo'" in text
    assert len(found) == 7


def test_json_file_gets_line_numbers_too(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(
        json.dumps(
            {"columns": {"x": {"distribution": "normal", "mean": 0, "std": "wide"}}}, indent=2
        )
    )
    assert one_problem(p, "columns.x.std").startswith("s.json line 6, columns.x.std")


def test_duplicate_keys_are_reported():
    msg = one_problem(
        "columns:\n  x: {distribution: uuid}\n  x: {distribution: uuid}\n", "duplicate"
    )
    assert "line 3" in msg


def test_dict_specs_name_the_field_without_a_line():
    msg = one_problem({"columns": {"x": {"distribution": "poisson"}}}, "lam")
    assert msg.startswith("columns.x: expected the parameter 'lam'")


# -- references, cycles, per, lookups -------------------------------------------------------------------
def test_unknown_names_self_references_and_forward_references():
    spec = {
        "columns": {
            "a": {"expr": "a + 1"},
            "b": {"expr": "c * 2"},
            "c": {"distribution": "normal", "mean": "zz", "std": 1},
        }
    }
    text = "\n".join(problems(spec))
    assert "columns.a.expr" in text and "refers to itself" in text
    assert "columns.b.expr" in text and "move 'c' above 'b'" in text
    assert "columns.c.mean" in text and "unknown name 'zz'" in text


def test_sequences_cannot_be_referenced_and_order_by_must_exist():
    spec = {
        "columns": {
            "id": {"distribution": "sequence"},
            "x": {"expr": "id * 2"},
        },
        "order_by": ["id"],
        "rules": ["id > 0"],
    }
    text = "\n".join(problems(spec))
    assert "columns.x.expr" in text and "sequence" in text
    assert "order_by[0]" in text
    assert "rules[0].check" in text


def test_per_needs_a_group_column_and_same_group_references():
    spec = {
        "columns": {
            "x": {"distribution": "normal", "mean": 0, "std": 1},
            "y": {"distribution": "normal", "per": "x", "mean": 0, "std": 1},
            "host": {"distribution": "entity", "count": 3},
            "z": {"distribution": "normal", "per": "host", "mean": "x", "std": 1},
            "w": {"distribution": "entity", "count": 3, "weights": "x"},
        }
    }
    text = "\n".join(problems(spec))
    assert "columns.y.per: expected an entity, categorical or bernoulli column" in text
    assert "columns.z.mean: expected only 'host' or other columns drawn per 'host'" in text
    assert "columns.w.weights" in text


def test_lookup_keys_must_match_the_categories():
    spec = {
        "columns": {
            "k": {"distribution": "categorical", "categories": ["grocery", "atm"]},
            "x": {
                "distribution": "normal",
                "mean": {"by": "k", "values": {"grocey": 1, "atm": 2}},
                "std": 1,
            },
        }
    }
    text = "\n".join(problems(spec))
    assert "columns.x.mean.values.grocey" in text and "did you mean 'grocery'" in text
    assert "no entry for 'grocery'" in text


def test_labels_and_rules_must_be_boolean():
    spec = {
        "columns": {
            "x": {"distribution": "normal", "mean": 0, "std": 1},
            "lab": {"label": "x * 2"},
        },
        "rules": ["x + 1"],
    }
    text = "\n".join(problems(spec))
    assert "columns.lab.label: expected a true/false expression" in text
    assert "rules[0].check: expected a true/false expression" in text


def test_unsafe_expressions_are_refused_at_load():
    for bad in (
        "__import__('os').system('echo hi')",
        "amount.__class__",
        "[c for c in amount]",
        "lambda: 1",
        "amount[0]",
        "eval('1')",
        "round(amount, ndigits=2)",
    ):
        msg = one_problem(
            {"columns": {"amount": {"distribution": "uuid"}, "y": {"expr": bad}}}, "columns.y.expr"
        )
        assert repr(bad) in msg or bad in msg


def test_other_checks():
    text = "\n".join(
        problems(
            {
                "columns": {
                    "e": {"distribution": "event_time", "rate": 1, "scale": 2},
                    "f": {"distribution": "faker", "provider": "nmae"},
                    "g": {"distribution": "faker", "provider": "name", "locale": "xx_YY"},
                    "u": {"distribution": "uniform", "low": 2, "high": 1},
                    "b": {"distribution": "bernoulli", "p": 1.5},
                    "m": {"distribution": "normal", "mean": 0, "std": 1, "min": 3, "max": 1},
                    "l": {"label": "e > 0", "noise": 0.9},
                    "bad name": {"distribution": "uuid"},
                    "both": {"distribution": "uuid", "expr": "1"},
                },
                "max_rounds": -1,
                "colums": {},
            }
        )
    )
    for needle in (
        "columns.e: expected a 'start'",
        "exactly one of 'rate' or 'scale'",
        "columns.f.provider",
        "did you mean 'name'",
        "columns.g.locale",
        "columns.u.high",
        "columns.b.p: expected a probability",
        "columns.m.max: expected max greater than min",
        "columns.l.noise",
        "columns.bad name",
        "columns.both: expected exactly one of",
        "max_rounds",
        "colums: expected one of the top-level keys",
    ):
        assert needle in text, needle


# -- rules by construction -------------------------------------------------------------------------
def test_simple_rules_become_constructive_bounds():
    spec = load_spec(
        {
            "columns": {
                "k": {"distribution": "categorical", "categories": ["a", "b"]},
                "x": {"distribution": "lognormal", "mu": 0, "sigma": 1},
            },
            "rules": ["x >= 0.5", {"when": "k == 'a'", "check": "x % 5 == 0 and x <= 100"}],
        }
    )
    cons = spec.column("x").constructive
    assert {(c.lo, c.hi, c.grid, c.when is not None) for c in cons} == {
        (0.5, None, None, False),
        (None, None, 5.0, True),
        (None, 100.0, None, True),
    }


# -- summary ------------------------------------------------------------------------------------------
def test_summary_types_and_facts():
    spec = load_spec(example_path("card_transactions"))
    s = {x.name: x for x in spec_columns_summary(spec)}
    assert "home_radius_km" not in s  # hidden
    assert (s["transaction_id"].semantic_type, s["transaction_id"].facts) == (
        "id",
        {"id_format": "TX{d9}"},
    )
    # an entity key repeats across rows: categorical (a foreign key), not a unique id
    assert s["customer_id"].semantic_type == "categorical"
    assert (
        len(s["customer_id"].facts["categories"]) == 5000
        and s["customer_id"].facts["high_cardinality"]
    )
    assert s["customer_name"].facts == {"locale": "en_US", "pii_kind": "name"}
    assert s["merchant_category"].facts["categories"][:2] == ["grocery", "restaurant"]
    assert s["amount"].facts == {"dtype": "float", "min": 1.0, "max": 20000.0, "decimals": 2}
    assert s["timestamp"].facts["resolution"] == "s"
    assert s["is_fraud"].semantic_type == "boolean" and s["is_fraud"].pandas_dtype == "bool"
    assert s["currency"].semantic_type == "categorical"
    net = {x.name: x for x in load_spec(example_path("network_logs")).summary()}
    assert net["dst_port"].facts == {"dtype": "int"}
    assert net["timestamp"].pandas_dtype == "datetime64[ns, UTC]"
    assert net["bytes_sent"].facts["min"] == 40
    assert net["src_ip"].facts["pii_kind"] == "ipv4"


def test_summary_builds_schema_column_specs():
    schema = pytest.importorskip("sosie.schema._types")
    for s in load_spec(example_path("network_logs")).summary():
        col = schema.ColumnSpec(s.name, s.semantic_type, nullable=s.nullable, **s.facts)
        assert col.type.value == s.semantic_type


def test_unknown_example():
    with pytest.raises(SpecError, match="card_transactions"):
        example_path("nope")


# -- injected patterns ----------------------------------------------------------------------------
INJECT_BASE = """\
columns:
  user: {distribution: entity, count: 50}
  tier: {distribution: categorical, per: user, categories: [a, b]}
  kind: {distribution: categorical, categories: [shop, web]}
  t: {distribution: datetime, start: 2024-01-01, end: 2024-02-01}
  amount: {distribution: lognormal, mu: 3, sigma: 1}
  flag: {label: "amount > 100"}
rules:
  - {name: positive, check: "amount > 1"}
inject:
"""


def test_inject_errors_name_the_pattern_the_field_and_the_line(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(
        INJECT_BASE
        + textwrap.indent(
            textwrap.dedent(
                """\
                - name: burst
                  entity: kind
                  time: amount
                  entities: 1.5
                  events: {distribution: poisson, lam: "amount"}
                  gap: {scale: 30, unit: sec}
                  skip_rules: [postive]
                  set:
                    amout: 3
                    tier: a
                    kind: gold
                    flag: true
                  label:
                    amount: 3
                    flag: 2
                - name: burst
                  rate: 0.1
                  entities: 0.1
                  events: 0
                """
            ),
            "  ",
        )
    )
    found = problems(path)
    text = "\n".join(found)
    expected = [
        ("line 12, inject[0].entity (pattern 'burst')", "an entity column", "'kind'"),
        ("line 13, inject[0].time", "a datetime or event_time column", "'amount'"),
        ("line 14, inject[0].entities", "between 0 and 1", "1.5"),
        ("line 15, inject[0].events", "numbers for the parameters", "'amount'"),
        ("line 16, inject[0].gap.unit", "one of ns, us", "'sec'"),
        ("line 17, inject[0].skip_rules[0]", "the name of a rule", "did you mean 'positive'"),
        ("line 19, inject[0].set.amout", "a column of the spec", "did you mean 'amount'"),
        ("line 20, inject[0].set.tier", "a column the pattern may set", "drawn per 'user'"),
        ("line 21, inject[0].set.kind", "one of 'shop', 'web'", "'gold'"),
        ("line 22, inject[0].set.flag", "a label column", "under 'label'"),
        ("line 24, inject[0].label.amount", "a drawn column", "under 'set'"),
        ("line 25, inject[0].label.flag", "one of False, True", "found 2"),
        ("line 26, inject[1].name", "a name used once", "'burst'"),
        ("line 26, inject[1] (pattern 'burst')", "exactly one of 'entities'", "both"),
        ("line 29, inject[1].events", "an integer >= 1", "found 0"),
    ]
    for needles in expected:
        assert any(all(n in p for n in needles) for p in found), (needles, text)
    assert all(p.startswith("shop.yaml line") for p in found), text


def test_inject_other_checks():
    def bad(pattern: dict, *needles: str) -> None:
        spec = yaml.safe_load(INJECT_BASE)
        spec["inject"] = [{"name": "p", "entities": 0.1, "events": 3, **pattern}]
        one_problem(spec, *needles)

    import yaml

    bad({"entities": -0.1}, "inject[0].entities (pattern 'p')", "between 0 and 1")
    bad({"rate": -1, "entities": None}, "inject[0]", "exactly one of")
    bad({"entity": "tier"}, "inject[0].entity", "drawn per 'user'")
    bad({"time": "nope"}, "inject[0].time", "'nope'")
    bad({"events": {"distribution": "categorical"}}, "inject[0].events.distribution", "numeric")
    bad({"set": {"amount": {"distribution": "normal", "mean": 1}}}, "set.amount", "'std'")
    bad({"set": {"amount": "many"}}, "set.amount", "a float value")
    bad({"set": {"amount": {"distribution": "uuid"}}}, "set.amount", "uuid values (str)")
    bad({"set": {"amount": {"distribution": "uniform", "low": 0, "high": 1, "per": "x"}}}, "per")
    bad({"set": {"user": "U1"}}, "set.user", "an entity column")
    bad({"set": {"t": "2024-01-05"}}, "set.t", "the pattern's time column")
    bad({"set": {"kind": {"distribution": "categorical", "categories": ["gold"]}}}, "'gold'")
    bad({"at": {"hours": [1, 30]}}, "inject[0].at.hours", "[1, 30]")
    bad({"at": {"within": "world"}}, "inject[0].at.within", "'world'")
    bad({"max_share": 0}, "inject[0].max_share", "(0, 1]")
    bad({"label": {"new": {"default": "x"}}}, "label.new", "a 'value'")
    bad({"label": {"new": 1, "flag": True}, "set": {"flag": True}}, "set.flag", "a label column")
    bad({"label": {"new": {"value": "x", "default": 2}}}, "label.new.default", "kind")
    bad({"label": {"2bad": "x"}}, "label.2bad", "usable in expressions")
    one_problem({**yaml.safe_load(INJECT_BASE), "inject": {"a": 1}}, "inject", "a list")
    spec = yaml.safe_load(INJECT_BASE)
    spec["inject"] = [
        {"name": "a", "entities": 0.1, "events": 3, "label": {"kind2": "x"}},
        {"name": "b", "entities": 0.1, "events": 3, "label": {"kind2": True}},
    ]
    one_problem(spec, "inject[1].label.kind2 (pattern 'b')", "a str value")


def test_inject_defaults_and_summary():
    import yaml

    spec = yaml.safe_load(INJECT_BASE)
    spec["inject"] = [
        {"name": "a", "entities": 0.1, "events": 3, "label": {"flag": True, "why": "a"}},
        {"name": "b", "rate": 0.001, "events": 2, "label": {"why": "b", "score": 1.5}},
    ]
    s = load_spec(spec)
    assert [(p.entity, p.time) for p in s.inject] == [("user", "t"), ("user", "t")]
    assert s.order_by == ["user", "t"]  # default with inject
    assert s.output_columns[-2:] == ["why", "score"]
    summary = {x.name: x for x in s.summary()}
    assert summary["why"].facts["categories"] == ["none", "a", "b"]
    assert summary["score"].semantic_type == "numerical"
    assert s.inject[0].gap.column.distribution == "exponential"  # 60 s on average
    assert load_spec(s.to_dict()).output_columns == s.output_columns
    card = {x.name: x for x in load_spec(example_path("card_transactions")).summary()}
    assert card["fraud_pattern"].facts["categories"] == [
        "rule-based",
        "none",
        "burst",
        "unusual_merchant",
    ]
