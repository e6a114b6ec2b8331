"""decode(encode(x)) == x for every modelled type, nulls included (property tests).

Ids, PII and free text are *replaced*, never copied: for them the property is
that nulls land where they were, formats are kept, ids are new and unique.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sosie.schema import infer_schema
from sosie.transforms import TablePreprocessor

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _round_trip(df: pd.DataFrame, rng: int = 0) -> pd.DataFrame:
    schema = infer_schema(df)
    pre = TablePreprocessor(schema).fit(df)
    return pre.inverse_transform(pre.transform(df), rng=rng)


def _with_nulls(values: list, mask: list[bool]) -> list:
    return [None if m else v for v, m in zip(values, mask, strict=False)]


def _assume_inferrable(col: pd.Series) -> None:
    assume(col.notna().sum() >= 2 and col.dropna().nunique() >= 2)


@SETTINGS
@given(
    st.lists(st.integers(-(10**12), 10**12), min_size=3, max_size=50),
    st.lists(st.booleans(), min_size=50, max_size=50),
)
def test_integers(values, nulls):
    col = pd.Series(_with_nulls(values, nulls[: len(values)]), dtype="Int64")
    _assume_inferrable(col)
    df = pd.DataFrame({"n": col})
    back = _round_trip(df)
    pd.testing.assert_frame_equal(back, df)


@SETTINGS
@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), min_size=3, max_size=50),
    st.lists(st.booleans(), min_size=50, max_size=50),
)
def test_floats(values, nulls):
    col = pd.Series(_with_nulls(values, nulls[: len(values)]), dtype="float64")
    _assume_inferrable(col)
    df = pd.DataFrame({"x": col})
    back = _round_trip(df)
    pd.testing.assert_frame_equal(back, df, check_exact=False, rtol=1e-12)


@SETTINGS
@given(
    st.lists(st.sampled_from(["a", "b", "é", "long value", "7", " x"]), min_size=3, max_size=50),
    st.lists(st.booleans(), min_size=50, max_size=50),
)
def test_categories(values, nulls):
    col = pd.Series(_with_nulls(values, nulls[: len(values)]), dtype="str")
    _assume_inferrable(col)
    df = pd.DataFrame({"c": col})
    pd.testing.assert_frame_equal(_round_trip(df), df)


@SETTINGS
@given(
    st.lists(st.booleans(), min_size=3, max_size=50),
    st.lists(st.booleans(), min_size=50, max_size=50),
)
def test_booleans(values, nulls):
    col = pd.Series(_with_nulls(values, nulls[: len(values)]), dtype="boolean")
    _assume_inferrable(col)
    df = pd.DataFrame({"b": col if col.isna().any() else col.astype(bool)})
    pd.testing.assert_frame_equal(_round_trip(df), df)


_datetimes = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))


@SETTINGS
@given(
    st.lists(_datetimes, min_size=3, max_size=40),
    st.lists(st.booleans(), min_size=40, max_size=40),
    st.sampled_from([None, "UTC", "Europe/Paris", "America/New_York"]),
)
def test_native_datetimes(values, nulls, tz):
    col = pd.Series(pd.to_datetime(_with_nulls(values, nulls[: len(values)])))
    if tz is not None:
        col = col.dt.tz_localize("UTC").dt.tz_convert(tz)
    _assume_inferrable(col)
    df = pd.DataFrame({"t": col})
    pd.testing.assert_frame_equal(_round_trip(df), df)


@SETTINGS
@given(
    st.lists(
        st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2090, 12, 31)),
        min_size=3,
        max_size=40,
    ),
    st.lists(st.booleans(), min_size=40, max_size=40),
    st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%d.%m.%Y"]),
)
def test_date_strings_in_their_format(values, nulls, fmt):
    strings = [d.strftime(fmt) for d in values]
    assume(fmt != "%d/%m/%Y" or any(d.day > 12 for d in values))  # else ambiguous with %m/%d
    col = pd.Series(_with_nulls(strings, nulls[: len(values)]), dtype="str")
    _assume_inferrable(col)
    df = pd.DataFrame({"d": col})
    assert infer_schema(df)["d"].type.value == "datetime"
    pd.testing.assert_frame_equal(_round_trip(df), df)


def test_integer_dates_and_offsets():
    df = pd.DataFrame(
        {
            "ymd": [20240131, 20231201, 20220615, 20240229],
            "iso": [
                "2024-01-31T10:00:00+05:30",
                "2023-12-01T23:59:59+05:30",
                "2022-06-15T00:00:01+05:30",
                "2024-02-29T12:00:00+05:30",
            ],
            "const": ["EU"] * 4,
            "maybe": [None, "EU", None, "EU"],
        }
    )
    back = _round_trip(df)
    pd.testing.assert_frame_equal(back, df)


def test_adult_round_trip_exact(adult_train):
    pd.testing.assert_frame_equal(_round_trip(adult_train), adult_train)


def test_replaced_types_keep_format_and_null_positions():
    n = 200
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "order_id": [f"ORD-{i:06d}" for i in range(n)],
            "user_id": np.arange(5, 5 + n),
            "email": [f"person{i}@mail.example" if i % 9 else None for i in range(n)],
            "note": [
                " ".join(rng.choice(["late", "parcel", "box", "damaged", "fine", "ok"], int(k)))
                for k in rng.integers(5, 15, n)
            ],
        }
    )
    schema = infer_schema(df)
    assert [c.type.value for c in schema] == ["id", "id", "pii", "text"]
    pre = TablePreprocessor(schema).fit(df)
    back = pre.inverse_transform(pre.transform(df), rng=1)
    assert back["order_id"].str.fullmatch(r"ORD-\d{6}").all()
    assert back["order_id"].is_unique and not back["order_id"].isin(df["order_id"]).any()
    assert back["user_id"].is_unique and not back["user_id"].isin(df["user_id"]).any()
    assert back["user_id"].dtype == df["user_id"].dtype
    assert back["email"].isna().tolist() == df["email"].isna().tolist()
    assert back["email"].dropna().str.contains("@").all()
    assert not back["email"].isin(df["email"].dropna()).any()
    words = back["note"].str.split().str.len()
    np.testing.assert_array_equal(words, df["note"].str.split().str.len())  # length is modelled


@pytest.mark.parametrize("locale", ["fr_FR", "de_DE", "ja_JP"])
def test_pii_is_locale_aware(locale):
    from sosie.transforms import fake_values

    vals = fake_values("phone", 50, np.random.default_rng(0), locale=locale)
    again = fake_values("phone", 50, np.random.default_rng(0), locale=locale)
    assert list(vals) == list(again)
    if locale == "fr_FR":
        assert sum(v.replace(" ", "").startswith(("+33", "0")) for v in vals) > 40


def test_microsecond_datetimes_over_three_centuries_are_exact():
    # found by hypothesis: 286 years at microsecond resolution is more than 2**53 steps from
    # the earliest date; a mid-range origin keeps every step exact in float64
    values = [dt.datetime(2000, 1, 1)] * 3 + [
        dt.datetime(1903, 1, 1),
        dt.datetime(2189, 1, 1, 0, 0, 0, 1),
    ]
    df = pd.DataFrame({"t": pd.Series(pd.to_datetime(values))})
    pd.testing.assert_frame_equal(_round_trip(df), df)
