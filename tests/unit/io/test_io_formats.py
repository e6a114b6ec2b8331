"""Format detection from URL schemes and file extensions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sosie.errors import DataSourceError
from sosie.io import FORMATS, detect_format, read_table, write_table


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("data.csv", "csv"),
        ("DATA.CSV", "csv"),
        ("data.csv.gz", "csv"),
        ("data.tsv", "csv"),
        ("data.tsv.bz2", "csv"),
        ("dir.v2/data.parquet", "parquet"),
        ("data.pq", "parquet"),
        ("data.jsonl", "jsonl"),
        ("data.ndjson", "jsonl"),
        ("data.jsonl.gz", "jsonl"),
        ("data.jsonl.xz", "jsonl"),
        (Path("data.csv"), "csv"),
        ("sqlite:///x.db", "sql"),
        ("sqlite:///x.db#people", "sql"),
        ("sqlite://", "sql"),
        ("postgresql+psycopg://user:pw@host:5432/db#t", "sql"),
        ("mysql://host/db", "sql"),
        ("file:///tmp/data.csv", "csv"),
        ("https://example.org/data.parquet?x=1", "parquet"),
    ],
)
def test_detect_format(source, expected):
    assert detect_format(source) == expected
    assert expected in FORMATS


def test_directory_of_parquet_files_is_parquet(tmp_path):
    (tmp_path / "ds" / "year=2024").mkdir(parents=True)
    (tmp_path / "ds" / "year=2024" / "part-0.parquet").write_bytes(b"")
    assert detect_format(tmp_path / "ds") == "parquet"


@pytest.mark.parametrize("name", ["data.xlsx", "data", "data.parquet.gz", "data.json"])
def test_unknown_extension_names_path_extensions_and_fix(tmp_path, name):
    with pytest.raises(DataSourceError) as caught:
        detect_format(tmp_path / name)
    message = str(caught.value)
    assert str(tmp_path / name) in message
    assert ".csv" in message and ".parquet" in message and ".jsonl" in message
    assert "format=" in message


@pytest.mark.parametrize("bad", [42, None, "", "   "])
def test_source_must_be_a_path(bad):
    with pytest.raises(DataSourceError, match="source"):
        detect_format(bad)


def test_format_argument_overrides_and_is_validated(tmp_path):
    path = tmp_path / "data.txt"
    data = pd.DataFrame({"a": [1, 2]})
    write_table(data, path, format="csv")
    assert path.read_text() == "a\n1\n2\n"
    pd.testing.assert_frame_equal(read_table(path, format="csv"), data)
    write_table(data, path, format="tsv")
    pd.testing.assert_frame_equal(read_table(path, format="tsv"), data)
    with pytest.raises(DataSourceError, match="'xlsx'"):
        read_table(path, format="xlsx")


def test_sql_format_needs_a_url(tmp_path):
    with pytest.raises(DataSourceError, match="sqlite:///"):
        read_table(tmp_path / "x.db", format="sql", table="t")


def test_remote_urls_are_refused_with_a_fix():
    with pytest.raises(DataSourceError, match="download the file first"):
        read_table("https://example.org/data.csv")


def test_file_url_is_read_as_a_local_path(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    assert read_table(path.as_uri())["a"].tolist() == [1]


def test_table_argument_is_refused_for_files(tmp_path):
    with pytest.raises(DataSourceError, match="table="):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.csv", table="t")
