"""Only declared facts: an inferred schema is refused, column by column, with the fix."""

from __future__ import annotations

import pytest

from sosie.datasets import adult_public_schema
from sosie.errors import PrivacyError
from sosie.privacy import check_public_schema, declare_public, undeclared_facts
from sosie.schema import ColumnSpec, TableSchema, infer_schema


def test_a_schema_inferred_from_the_data_is_refused(adult_small):
    schema = infer_schema(adult_small)
    with pytest.raises(PrivacyError) as e:
        check_public_schema(schema, generator="generator 'aim'")
    where = [p.where for p in e.value.errors]
    assert where == [f"column {c!r}" for c in adult_small.columns]  # every column, in order
    age = e.value.errors[0]
    assert "min, max" in age.found and "treated as inferred" in age.found
    assert "schema.update('age'" in age.fix and '"provenance"' in age.fix
    assert "needs a public schema" in str(e.value)
    # no value from the data leaks into the message
    assert str(int(adult_small["age"].max())) not in str(e.value).replace("90)", "")


def test_the_public_adult_schema_passes_and_partial_declarations_name_what_is_left():
    check_public_schema(adult_public_schema())
    s = TableSchema(
        [
            ColumnSpec("age", "numerical", dtype="int"),
            ColumnSpec("sex", "categorical", categories=["F", "M"]),
        ]
    )
    assert undeclared_facts(s) == {"age": ["min", "max", "dtype"], "sex": ["categories"]}
    s = s.update("age", min=0, max=120, dtype="int")
    assert undeclared_facts(s) == {"sex": ["categories"]}
    assert undeclared_facts(declare_public(s, ["sex"])) == {}


def test_free_text_cannot_be_modelled_privately():
    s = TableSchema([ColumnSpec("note", "text")])
    with pytest.raises(PrivacyError, match="free text"):
        check_public_schema(s)


def test_declare_public_marks_only_set_facts():
    s = TableSchema([ColumnSpec("x", "numerical", dtype="float", min=0.0)])
    out = declare_public(s)["x"]
    assert out.provenance["min"].value == "public" and "max" not in out.provenance
    assert s["x"].provenance == {}  # the original is untouched
    with pytest.raises(KeyError):
        declare_public(s, ["nope"])
