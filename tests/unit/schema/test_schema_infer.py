"""Schema inference: known answers on real and hand-made columns, evidence, overrides, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from sosie.errors import InvalidDataError, SosieError
from sosie.schema import ColumnSpec, Provenance, SemanticType, TableSchema, infer_schema

T = SemanticType


def test_adult_types(adult_train):
    schema = infer_schema(adult_train)
    types = {c.name: c.type for c in schema}
    assert types["age"] is T.NUMERICAL and schema["age"].dtype == "int"
    assert schema["age"].min == 17 and schema["age"].max == 90
    for c in ("workclass", "education", "occupation", "native_country", "income", "sex"):
        assert types[c] is T.CATEGORICAL
    assert schema["workclass"].nullable and schema["occupation"].nullable
    assert not schema["age"].nullable
    assert set(schema["income"].categories) == {"<=50K", ">50K"}
    assert schema["income"].categories[0] == "<=50K"  # most frequent first
    assert all(c.evidence for c in schema)
    assert schema["age"].provenance["min"] is Provenance.INFERRED


@pytest.mark.parametrize(
    ("values", "fmt", "tz"),
    [
        (["2024-01-31", "2023-12-01"], "%Y-%m-%d", None),
        (["2024-01-31T10:00:00", "2023-12-01T08:30:15"], "%Y-%m-%dT%H:%M:%S", None),
        (["31/01/2024", "15/02/2024"], "%d/%m/%Y", None),
        (["01/31/2024", "02/15/2024"], "%m/%d/%Y", None),
        (
            ["2024-01-31T10:00:00+02:00", "2024-02-01T11:00:00+02:00"],
            "%Y-%m-%dT%H:%M:%S%:z",
            "+02:00",
        ),
        (["2024-01-31T10:00:00Z", "2024-02-01T11:00:00Z"], "%Y-%m-%dT%H:%M:%SZ", "UTC"),
        (["20240131", "20231201"], "%Y%m%d", None),
    ],
)
def test_datetime_strings(values, fmt, tz):
    spec = infer_schema(pd.DataFrame({"d": values * 5}))["d"]
    assert spec.type is T.DATETIME
    assert spec.datetime_format == fmt
    assert spec.timezone == tz


def test_datetime_integers_and_native_timezones():
    df = pd.DataFrame(
        {
            "ymd": [20240131, 20240201, 20231115] * 3,
            "ts": pd.date_range("2024-03-30", periods=9, freq="6h", tz="Europe/Paris"),
            "amount": [20240131.5, 1.0, 2.0] * 3,
        }
    )
    s = infer_schema(df)
    assert s["ymd"].type is T.DATETIME and s["ymd"].datetime_format == "%Y%m%d"
    assert s["ymd"].pandas_dtype == "int64"
    assert s["ts"].type is T.DATETIME and s["ts"].timezone == "Europe/Paris"
    assert s["ts"].resolution == "h"
    assert s["amount"].type is T.NUMERICAL


def test_day_month_ambiguity_is_explained():
    spec = infer_schema(pd.DataFrame({"d": ["01/02/2024", "03/04/2024"]}))["d"]
    assert spec.type is T.DATETIME
    assert any("ambiguous" in e for e in spec.evidence)


def test_ids_pii_text_constant_boolean():
    n = 60
    df = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "ref": [f"TX-{i:05d}" for i in range(n)],
            "uuid": [f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}" for i in range(n)],
            "email": [f"user{i}@example.org" for i in range(n)],
            "phone": [f"+33 6 12 34 {i:02d} {i:02d}" for i in range(n)],
            "name": ["Ada Lovelace", "Alan Turing", "Grace Hopper"] * 20,
            "address": [f"{i} rue de la Paix, Paris" for i in range(n)],
            "comment": [f"the delivery was late by {i} days and nobody called" for i in range(n)],
            "country": ["FR"] * n,
            "flag": [0, 1] * 30,
            "ok": ["True", "False"] * 30,
            "zip": [f"0{i % 7}100" for i in range(n)],
        }
    )
    s = infer_schema(df)
    assert s["customer_id"].type is T.ID and s["customer_id"].id_format == "int"
    assert s["ref"].type is T.ID and s["ref"].id_format == "TX-{d5}"
    assert s["uuid"].type is T.ID and s["uuid"].id_format == "uuid"
    assert (s["email"].type, s["email"].pii_kind) == (T.PII, "email")
    assert (s["phone"].type, s["phone"].pii_kind) == (T.PII, "phone")
    assert (s["name"].type, s["name"].pii_kind) == (T.PII, "name")
    assert (s["address"].type, s["address"].pii_kind) == (T.PII, "address")
    assert s["comment"].type is T.TEXT
    assert s["country"].type is T.CONSTANT and s["country"].value == "FR"
    assert s["flag"].type is T.BOOLEAN and s["flag"].true_value == 1
    assert s["ok"].type is T.BOOLEAN and s["ok"].true_value == "True"
    assert s["zip"].type is T.CATEGORICAL  # codes with leading zeros are not numbers


def test_numbers_decimals_and_high_cardinality():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "price": np.round(rng.uniform(1, 100, 800), 2),
            "code": [f"c{i}" for i in rng.integers(0, 600, 800)],
        }
    )
    s = infer_schema(df)
    assert s["price"].dtype == "float" and s["price"].decimals == 2
    assert s["code"].type is T.CATEGORICAL
    assert s["code"].high_cardinality
    assert any("high cardinality" in e for e in s["code"].evidence)


def test_overrides_are_user_facts():
    df = pd.DataFrame({"zip": [75001, 69002, 13003, 75001], "x": [1.0, 2.0, 3.0, 4.0]})
    s = infer_schema(df, overrides={"zip": {"type": "categorical"}, "x": {"min": 0.0}})
    assert s["zip"].type is T.CATEGORICAL and s["zip"].categories == [75001, 13003, 69002]
    assert s["zip"].provenance["type"] is Provenance.USER
    assert s["x"].min == 0.0 and s["x"].provenance["min"] is Provenance.USER
    assert s["x"].max == 4.0 and s["x"].provenance["max"] is Provenance.INFERRED
    s2 = s.update("x", type="categorical")
    assert s2["x"].type is T.CATEGORICAL and s2["x"].min is None
    with pytest.raises(InvalidDataError, match="nope"):
        infer_schema(df, overrides={"nope": {"type": "id"}})


def test_json_round_trip_with_version(adult_small, tmp_path):
    s = infer_schema(adult_small)
    path = tmp_path / "schema.json"
    s.to_json(path)
    d = json.loads(path.read_text())
    assert d["spec_version"] == "1.0"
    assert TableSchema.from_json(path) == s
    assert TableSchema.from_dict(s.to_dict()) == s


_frames = hpd.data_frames(
    columns=[
        hpd.column("i", elements=st.integers(-1000, 1000)),
        hpd.column("f", elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))),
        hpd.column("s", elements=st.sampled_from(["a", "b", "c", None])),
        hpd.column("b", elements=st.booleans()),
    ],
    index=hpd.range_indexes(min_size=2, max_size=40),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames)
def test_inference_never_crashes_and_round_trips(df):
    try:
        s = infer_schema(df)
    except SosieError:
        return  # e.g. an all-null column: a clear, expected error
    assert TableSchema.from_json(s.to_json()) == s
    for spec in s:
        assert spec.evidence
        ColumnSpec.from_dict(spec.to_dict())
