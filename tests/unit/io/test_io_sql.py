"""SQL tables through SQLAlchemy on a real SQLite file: table names, if_exists, transactions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from sosie.errors import DataSourceError
from sosie.io import read_table, write_table

TEXT = pd.Series(["a"]).dtype


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "nullable_int": pd.array([1, None, 3], dtype="Int64"),
            "score": [0.5, np.nan, 1e-300],
            "zip": ["007", None, "42"],
            "flag": [True, False, True],
            "nullable_flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01"], format="ISO8601"),
        }
    )


def test_round_trip_with_fragment_and_table_argument(url):
    # Setup
    data = _frame()
    # Run
    where = write_table(data, f"{url}#people")
    by_argument = read_table(url, table="people")
    by_fragment = read_table(where)
    # Assert
    assert where == f"{url}#people"
    pd.testing.assert_frame_equal(by_argument, data)
    pd.testing.assert_frame_equal(by_fragment, data)
    assert by_argument["zip"].dtype == TEXT


def test_same_table_in_both_places_is_fine_but_two_names_are_not(url):
    write_table(_frame(), url, table="people")
    assert len(read_table(f"{url}#people", table="people")) == 3
    with pytest.raises(DataSourceError, match="not both"):
        read_table(f"{url}#people", table="other")


def test_missing_table_lists_existing_tables(url):
    write_table(_frame(), url, table="people")
    write_table(_frame(), url, table="orders")
    with pytest.raises(DataSourceError) as caught:
        read_table(url, table="peple")
    message = str(caught.value)
    assert "'peple'" in message and "'orders', 'people'" in message and "'people'?" in message
    with pytest.raises(DataSourceError, match=r"no table name .*'orders', 'people'"):
        read_table(url)


def test_missing_database_file_is_an_error_and_is_not_created(tmp_path):
    with pytest.raises(DataSourceError, match=r"missing\.db"):
        read_table(f"sqlite:///{tmp_path / 'missing.db'}#t")
    assert list(tmp_path.iterdir()) == []


def test_write_needs_a_table_name(url):
    with pytest.raises(DataSourceError, match="table="):
        write_table(_frame(), url)


def test_if_exists_fail_replace_append(url):
    # Setup
    first = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_table(first, url, table="t")
    # Run / Assert: fail
    with pytest.raises(DataSourceError, match="if_exists='fail'"):
        write_table(first, url, table="t", if_exists="fail")
    # append, with the columns in another order
    write_table(pd.DataFrame({"b": ["z"], "a": [3]}), url, table="t", if_exists="append")
    assert read_table(url, table="t").to_dict("list") == {"a": [1, 2, 3], "b": ["x", "y", "z"]}
    # append with a new column is refused before anything is written
    with pytest.raises(DataSourceError, match=r"new columns \['c'\]"):
        write_table(pd.DataFrame({"a": [4], "c": [1]}), url, table="t", if_exists="append")
    # replace
    write_table(pd.DataFrame({"c": [9]}), url, table="t", if_exists="replace")
    assert read_table(url, table="t").to_dict("list") == {"c": [9]}


def test_failed_write_rolls_back_and_leaves_no_table(url):
    # Setup: the last row cannot be stored, after CREATE TABLE and some INSERTs ran
    values: list[object] = list(range(1000))
    values[-1] = {"not": "storable"}
    bad = pd.DataFrame({"a": range(1000), "b": values})
    write_table(pd.DataFrame({"x": [1]}), url, table="other")
    # Run
    with pytest.raises(DataSourceError, match="rolled back"):
        write_table(bad, url, table="t")
    # Assert
    assert _tables(url) == ["other"]


def test_failed_replace_keeps_the_old_table(url):
    write_table(pd.DataFrame({"a": [1, 2]}), url, table="t")
    bad = pd.DataFrame({"a": [3, {"bad": 1}]})
    with pytest.raises(DataSourceError, match="table 't'"):
        write_table(bad, url, table="t", if_exists="replace")
    assert read_table(url, table="t").to_dict("list") == {"a": [1, 2]}


def test_time_zone_aware_datetimes_are_stored_in_utc(url):
    data = pd.DataFrame({"at": pd.to_datetime(["2024-07-01 10:00"]).tz_localize("Europe/Paris")})
    write_table(data, url, table="t")
    back = read_table(url, table="t")
    assert back["at"].tolist() == [pd.Timestamp("2024-07-01 08:00")]  # SQLite keeps no zone


def test_unknown_dialect_is_a_data_source_error():
    with pytest.raises(DataSourceError, match="nosuchdb"):
        write_table(pd.DataFrame({"a": [1]}), "nosuchdb://host/db#t")


def test_not_a_database_is_a_data_source_error(tmp_path):
    path = tmp_path / "fake.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataSourceError, match=r"fake\.db"):
        read_table(f"sqlite:///{path}#t")
