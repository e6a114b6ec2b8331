"""Every kind of bad input named by the foundation issue gets a clear, complete error."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.errors import (
    ConditionError,
    InvalidDataError,
    ModelFileError,
    SchemaError,
    UnknownGeneratorError,
)
from sosie.generators import GaussianCopulaGenerator
from sosie.schema import infer_schema, validate_data


def _assert_clear(msg: str, *names: str) -> None:
    for name in names:
        assert repr(name) in msg or name in msg, f"{name!r} not named in: {msg}"
    assert "expected" in msg and "found" in msg and "fix" in msg, msg


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [23, 41, 35, 52, 29, 61],
            "city": ["Lyon", "Paris", "Lyon", "Nice", "Paris", "Lyon"],
            "when": [
                "2024-01-02",
                "2024-02-03",
                "2024-03-04",
                "2024-04-05",
                "2024-05-06",
                "2024-06-07",
            ],
        }
    )


def test_empty_table():
    with pytest.raises(InvalidDataError) as e:
        GaussianCopulaGenerator().fit(pd.DataFrame({"a": []}))
    _assert_clear(str(e.value), "empty table")


def test_one_row(small):
    with pytest.raises(InvalidDataError) as e:
        GaussianCopulaGenerator().fit(small.iloc[:1])
    _assert_clear(str(e.value), "1 row")


def test_all_null_column(small):
    with pytest.raises(InvalidDataError) as e:
        infer_schema(small.assign(empty=[None] * len(small)))
    _assert_clear(str(e.value), "empty")
    assert "only missing values" in str(e.value)


def test_duplicate_and_non_string_names(small):
    df = pd.concat([small, small[["age"]]], axis=1)
    df[3] = 1.0
    with pytest.raises(InvalidDataError) as e:
        infer_schema(df)
    assert len(e.value.errors) == 2  # both problems reported at once
    _assert_clear(str(e.value), "age", "3")


def test_mixed_types(small):
    df = small.assign(mixed=pd.Series([1, "a", 2.5, "b", 3, 4], dtype=object))
    with pytest.raises(InvalidDataError) as e:
        infer_schema(df)
    _assert_clear(str(e.value), "mixed")
    assert "str" in str(e.value) and "number" in str(e.value)


def test_infinities(small):
    with pytest.raises(InvalidDataError) as e:
        infer_schema(small.assign(x=[1.0, np.inf, 2.0, 3.0, -np.inf, 1.0]))
    _assert_clear(str(e.value), "x")
    assert "2 infinite" in str(e.value)


def test_unparseable_dates(small):
    schema = infer_schema(small)
    bad = small.copy()
    bad.loc[2, "when"] = "not a date"
    with pytest.raises(InvalidDataError) as e:
        validate_data(bad, schema)
    _assert_clear(str(e.value), "when", "not a date", "%Y-%m-%d")


def test_schema_does_not_match(small):
    schema = infer_schema(small)
    df = small.drop(columns=["when"]).assign(extra=1, city=["Lyon"] * 5 + ["Berlin"])
    with pytest.raises(InvalidDataError) as e:
        GaussianCopulaGenerator().fit(df, schema=schema)
    msg = str(e.value)
    assert len(e.value.errors) == 3  # missing, extra, unknown category: all at once
    _assert_clear(msg, "when", "extra", "Berlin")


def test_unknown_generator():
    with pytest.raises(UnknownGeneratorError) as e:
        sosie.get_generator("gausian_copula")
    msg = str(e.value)
    _assert_clear(msg, "gausian_copula")
    assert "did you mean 'gaussian_copula'" in msg


def test_corrupt_and_foreign_model_files(tmp_path, small):
    junk = tmp_path / "junk.sosie"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(ModelFileError) as e:
        sosie.load(junk)
    _assert_clear(str(e.value), str(junk))

    foreign = tmp_path / "foreign.sosie"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match=r"manifest\.json"):
        sosie.load(foreign)

    other = tmp_path / "other.sosie"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="something-else"):
        sosie.load(other)

    good = tmp_path / "good.sosie"
    GaussianCopulaGenerator(rng=0).fit(small).save(good)
    with zipfile.ZipFile(good) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        members = {n: zf.read(n) for n in zf.namelist()}
    newer = tmp_path / "newer.sosie"
    with zipfile.ZipFile(newer, "w") as zf:
        for n, b in members.items():
            if n == "manifest.json":
                b = json.dumps({**manifest, "format_version": 99}).encode()
            zf.writestr(n, b)
    with pytest.raises(ModelFileError, match="upgrade sosie"):
        sosie.load(newer)

    truncated = tmp_path / "truncated.sosie"
    with zipfile.ZipFile(truncated, "w") as zf:
        for n, b in members.items():
            if not n.startswith("arrays/"):
                zf.writestr(n, b)
    with pytest.raises(ModelFileError, match="corrupt or incomplete"):
        sosie.load(truncated)


def test_bad_conditions(small):
    gen = GaussianCopulaGenerator(rng=0).fit(small)
    with pytest.raises(ConditionError) as e:
        gen.sample(5, conditions={"town": "Lyon"})
    _assert_clear(str(e.value), "town")
    assert "did you mean 'city'" in str(e.value) or "city" in str(e.value)
    with pytest.raises(ConditionError) as e:
        gen.sample(5, conditions={"city": "Berlin", "age": 500})
    assert len(e.value.errors) == 2
    _assert_clear(str(e.value), "city", "Berlin", "age", "500")
    with pytest.raises(ConditionError) as e:
        gen.sample(5, conditions={"city": None})
    _assert_clear(str(e.value), "city")


def test_bad_schema_json(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(
        '{"spec_version": "1.0", "columns": [{"name": "a", "type": "numerical", "colour": 1}]}'
    )
    with pytest.raises(SchemaError) as e:
        sosie.TableSchema.from_json(p)
    _assert_clear(str(e.value), "colour")
    p.write_text('{"spec_version": "1.0", "columns": [ {"name": "a" ')
    with pytest.raises(SchemaError, match="line 1"):
        sosie.TableSchema.from_json(p)
    with pytest.raises(SchemaError, match=r"version 1\.x"):
        sosie.TableSchema.from_json('{"spec_version": "7.0", "columns": []}')
    with pytest.raises(SchemaError, match="semantic types"):
        sosie.TableSchema.from_json(
            '{"spec_version": "1.0", "columns": [{"name": "a", "type": "numeric"}]}'
        )
