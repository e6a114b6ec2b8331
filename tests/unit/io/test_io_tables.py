"""read_table / write_table on files: round trips, dtype rules, atomicity, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sosie.errors import DataSourceError, InvalidDataError
from sosie.io import read_table, write_table

TEXT = pd.Series(["a"]).dtype  # the text dtype pandas (and sosie) use


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "int": [1, -2, 3],
            "big_int": [2**62, 0, -(2**62)],
            "nullable_int": pd.array([1, None, 12345678901234567], dtype="Int64"),
            "float": [0.1 + 0.2, np.nan, -1e300],
            "whole_float": [1.0, 2.0, 3.0],
            "zip": ["02134", None, "+5"],
            "words": ["NA", "null", 'x, "quoted"\nline'],
            "flag": [True, False, True],
            "nullable_flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(["2024-01-01 10:00:00.5", "2024-01-02", None], format="ISO8601"),
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )


@pytest.mark.parametrize(
    "name", ["t.csv", "t.csv.gz", "t.tsv", "t.jsonl", "t.jsonl.gz", "t.ndjson.bz2", "t.parquet"]
)
def test_round_trip_keeps_values_and_dtypes(tmp_path, name):
    # Setup
    data = _frame()
    # Run
    where = write_table(data, tmp_path / name)
    back = read_table(where)
    # Assert
    assert where == str(tmp_path / name)
    pd.testing.assert_frame_equal(back, data)
    assert back["zip"].dtype == TEXT and back["words"].dtype == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_text_columns_use_pandas_str_dtype():
    # the documented convention on pandas 3: text is the ``str`` dtype, NaN for missing
    if int(pd.__version__.split(".")[0]) >= 3:
        assert str(TEXT) == "str"
        assert TEXT.na_value is np.nan


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet"])
def test_text_dtype_is_consistent_across_formats(tmp_path, name):
    data = pd.DataFrame({"s": pd.Series(["x", None], dtype=object), "all_missing": [None, None]})
    back = read_table(write_table(data, tmp_path / name))
    assert back["s"].dtype == TEXT
    assert back["s"].tolist()[0] == "x" and pd.isna(back["s"].tolist()[1])
    if name != "t.parquet":  # Parquet keeps its own null type
        assert back["all_missing"].dtype == TEXT


def test_parquet_keeps_time_zones_categories_and_nullable_ints(tmp_path):
    data = pd.DataFrame(
        {
            "paris": pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"]).tz_localize(
                "Europe/Paris"
            ),
            "utc": pd.to_datetime(["2024-01-01 10:00", None]).tz_localize("UTC"),
            "colour": pd.Categorical(["red", "blue"], categories=["red", "blue", "green"]),
            "count": pd.array([1, 2], dtype="Int64"),
        }
    )
    back = read_table(write_table(data, tmp_path / "t.pq"))
    pd.testing.assert_frame_equal(back, data)
    assert str(back["paris"].dt.tz) == "Europe/Paris"


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_text_formats_write_iso_strings_and_keep_instants(tmp_path, name):
    # Setup: one zone across daylight saving time, and a column in UTC
    data = pd.DataFrame(
        {
            "paris": pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"]).tz_localize(
                "Europe/Paris"
            ),
            "utc": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00"]).tz_localize("UTC"),
        }
    )
    # Run
    path = tmp_path / name
    write_table(data, path)
    back = read_table(path)
    # Assert: ISO 8601 with offsets on disk, the same instants read back
    text = path.read_text()
    assert "2024-01-01T10:00:00+01:00" in text and "2024-07-01T10:00:00+02:00" in text
    assert "2024-01-02T00:00:00+00:00" in text
    pd.testing.assert_series_equal(back["paris"], data["paris"].dt.tz_convert("UTC"))
    pd.testing.assert_series_equal(back["utc"], data["utc"])


def test_csv_converts_only_lossless_columns(tmp_path):
    # Setup
    path = tmp_path / "raw.csv"
    path.write_text(
        "id,zip,plus,neg_zero,dec,huge,mixed,padded,flag,flag_gap,when,bad_date,na,empty,n_gap\n"
        "1,007,+5,-0,1.50,99999999999999999999,1,' 5',True,true,2024-01-01T10:00:00Z,2024-13-45,NA,,1\n"
        "2,12,6,1,.5,1,a,6,False,,2024-01-02T10:00:00Z,2024-01-01,null,,\n"
    )
    # Run
    data = read_table(path)
    # Assert
    dtypes = data.dtypes.astype(str).to_dict()
    assert dtypes["id"] == "int64"
    for text_column in ["zip", "plus", "huge", "mixed", "padded", "bad_date", "na"]:
        assert data[text_column].dtype == TEXT, text_column
    assert data["zip"].tolist() == ["007", "12"]
    assert data["dec"].tolist() == [1.5, 0.5]
    assert data["neg_zero"].dtype == "float64"  # "-0" is no whole number CSV can rewrite
    assert dtypes["flag"] == "bool" and dtypes["flag_gap"] == "boolean"
    assert str(data["when"].dtype).startswith("datetime64") and str(data["when"].dt.tz) == "UTC"
    assert data["na"].tolist() == ["NA", "null"]  # only empty fields are missing
    assert data["empty"].dtype == TEXT and data["empty"].isna().all()
    assert dtypes["n_gap"] == "Int64" and data["n_gap"].tolist()[0] == 1


def test_csv_keeps_large_whole_numbers_exact(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id,mix\n9223372036854775807,1.5\n-9223372036854775808,9007199254740993\n")
    data = read_table(path)
    assert data["id"].dtype == "int64" and data["id"].tolist()[0] == 2**63 - 1
    assert data["mix"].dtype == TEXT  # a float64 would round 9007199254740993


def test_jsonl_keeps_json_types(tmp_path):
    # Setup
    path = tmp_path / "raw.jsonl"
    path.write_text(
        '{"zip": "007", "n": 1, "x": 1.0, "big": 12345678901234567890, "any": 1, "when": "2024-01-01"}\n'
        "\n"
        '{"zip": "12", "n": null, "x": 2, "big": 1, "any": "a", "extra": [1, 2]}\n'
    )
    # Run
    data = read_table(path)
    # Assert
    assert list(data.columns) == ["zip", "n", "x", "big", "any", "when", "extra"]
    assert data["zip"].dtype == TEXT and data["zip"].tolist() == ["007", "12"]
    assert data["n"].dtype == "Int64"
    assert data["x"].dtype == "float64"
    assert data["big"].dtype == object and data["big"][0] == 12345678901234567890
    assert data["any"].dtype == object
    assert str(data["when"].dtype).startswith("datetime64")
    assert data["extra"].tolist() == [None, [1, 2]]


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{bad json}\n", "line 1"), ('{"a": 1}\n[1, 2]\n', "line 2")],
)
def test_jsonl_errors_name_the_line(tmp_path, content, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataSourceError, match=expected):
        read_table(path)


def test_jsonl_writes_nested_values_and_refuses_unknown_objects(tmp_path):
    data = pd.DataFrame({"tags": [["a", "b"], {"k": np.int64(1)}]})
    back = read_table(write_table(data, tmp_path / "ok.jsonl"))
    assert back["tags"].tolist() == [["a", "b"], {"k": 1}]
    with pytest.raises(InvalidDataError, match="column 'blob'"):
        write_table(pd.DataFrame({"blob": [object()]}), tmp_path / "bad.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.jsonl"]


def test_parquet_without_pandas_metadata_gets_nullable_dtypes(tmp_path):
    path = tmp_path / "foreign.parquet"
    table = pa.table(
        {"n": pa.array([1, None], pa.int32()), "b": pa.array([True, None]), "s": ["x", None]}
    )
    pq.write_table(table.replace_schema_metadata(None), path)
    data = read_table(path)
    assert data["n"].dtype == "Int32" and data["b"].dtype == "boolean" and data["s"].dtype == TEXT


def test_parquet_dataset_directory_is_read(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1, 2]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"a": [3]}), folder / "part-1.parquet")
    assert sorted(read_table(folder)["a"].tolist()) == [1, 2, 3]


def test_compressed_output_is_reproducible(tmp_path):
    data = _frame()
    write_table(data, tmp_path / "a.csv.gz")
    write_table(data, tmp_path / "b.csv.gz")
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.csv.gz").read_bytes()).startswith(b"int,big_int")


# ----------------------------------------------------------------------------- atomicity


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot serialise")

    __repr__ = __str__


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl"])
def test_failed_serialisation_leaves_old_file_and_no_partial(tmp_path, name):
    # Setup: an existing good file; new data that fails on its last row
    path = tmp_path / name
    write_table(pd.DataFrame({"a": [1]}), path)
    before = path.read_bytes()
    values: list[object] = list(range(30_000))
    values[-1] = _Unprintable()
    bad = pd.DataFrame({"a": values})
    # Run
    with pytest.raises((RuntimeError, InvalidDataError)):
        write_table(bad, path)
    # Assert
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_writer_crash_after_partial_bytes_leaves_nothing(tmp_path, monkeypatch):
    # Setup: pyarrow writes half a file, then fails (disk full, killed, ...)
    real_write = pq.write_table

    def crash(table, where, *args, **kwargs):
        real_write(table, where, *args, **kwargs)
        with open(where, "r+b") as fh:
            fh.truncate(10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", crash)
    path = tmp_path / "t.parquet"
    # Run
    with pytest.raises(DataSourceError, match="No space left"):
        write_table(_frame(), path)
    # Assert: no file at all, no temporary
    assert list(tmp_path.iterdir()) == []
    # and an existing file survives the same crash
    monkeypatch.setattr(pq, "write_table", real_write)
    write_table(_frame(), path)
    before = path.read_bytes()
    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(DataSourceError):
        write_table(pd.DataFrame({"other": [1]}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_mixed_object_column_is_refused_for_parquet_naming_it(tmp_path):
    data = pd.DataFrame({"ok": [1, 2], "mixed": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(InvalidDataError, match="column 'mixed'") as caught:
        write_table(data, tmp_path / "t.parquet")
    assert [problem.where for problem in caught.value.errors] == ["column 'mixed'"]
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- if_exists


def test_if_exists_for_files(tmp_path):
    path = tmp_path / "t.csv"
    write_table(pd.DataFrame({"a": [1], "b": ["x"]}), path)
    with pytest.raises(DataSourceError, match="if_exists='fail'"):
        write_table(pd.DataFrame({"a": [2]}), path, if_exists="fail")
    write_table(pd.DataFrame({"b": ["y"], "a": [2]}), path, if_exists="append")
    assert read_table(path).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    with pytest.raises(DataSourceError, match="same columns"):
        write_table(pd.DataFrame({"c": [3]}), path, if_exists="append")
    with pytest.raises(DataSourceError, match="'fail', 'replace', 'append'"):
        write_table(pd.DataFrame({"a": [3]}), path, if_exists="upsert")
    write_table(pd.DataFrame({"c": [3]}), path)
    assert read_table(path).to_dict("list") == {"c": [3]}


# ----------------------------------------------------------------------------- errors


def test_missing_file_names_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataSourceError) as caught:
        read_table("nope.csv")
    assert str(tmp_path / "nope.csv") in str(caught.value)


def test_corrupt_parquet_is_a_data_source_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(DataSourceError, match=r"broken\.parquet") as caught:
        read_table(path)
    assert "Parquet" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"a,b\n1,2\n3,4,5\n", "same number of fields"),
        (b"a\n\xff\xfe\n", "UTF-8"),
        (b"\x1f\x8b\x08garbage", "corrupt"),
    ],
)
def test_unreadable_csv_is_a_data_source_error(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataSourceError, match=expected):
        read_table(path)


def test_directory_is_not_a_csv(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataSourceError, match="directory"):
        read_table(tmp_path / "d.csv")


def test_bad_data_argument(tmp_path):
    with pytest.raises(InvalidDataError, match="DataFrame"):
        write_table([1, 2], tmp_path / "t.csv")  # type: ignore[arg-type]
    duplicated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidDataError, match="'a'"):
        write_table(duplicated, tmp_path / "t.csv")
    assert list(tmp_path.iterdir()) == []
