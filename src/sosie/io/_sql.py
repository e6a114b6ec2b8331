"""Reading and writing SQL tables through SQLAlchemy, one transaction per write."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from sosie.errors import DataSourceError, MissingDependencyError, Problem

from ._dtypes import from_nullable
from ._formats import SqlSource

_DB_ERRORS = (SQLAlchemyError, pd.errors.DatabaseError)


def _error(where: str, expected: str, found: str, fix: str) -> DataSourceError:
    return DataSourceError(str(Problem(where, expected, found, fix)))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _parse_url(text: str) -> sa.URL:
    try:
        return sa.make_url(text)
    except ArgumentError as exc:
        raise _error(
            f"'{text}'",
            "a SQLAlchemy URL such as 'sqlite:///file.db' or 'postgresql://user@host/db'",
            _first_line(exc),
            "fix the URL (see https://docs.sqlalchemy.org/en/20/core/engines.html)",
        ) from exc


def _sqlite_file(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _transactional_sqlite(engine: sa.Engine) -> None:
    """Make pysqlite run DDL (CREATE/DROP TABLE) inside the transaction too.

    By default Python's sqlite3 commits a CREATE TABLE at once, so a failed write
    would leave an empty table behind. This is SQLAlchemy's documented recipe.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):  # pragma: no cover - trivial
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # pragma: no cover - trivial
        connection.exec_driver_sql("BEGIN")


@contextmanager
def _engine(url: sa.URL, *, for_write: bool) -> Iterator[sa.Engine]:
    path = _sqlite_file(url)
    if path is not None:
        if for_write:
            path.absolute().parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise _error(
                f"SQLite database '{path.absolute()}'",
                "an existing database file",
                "no file at that path",
                "check the path; 'sqlite:///rel/path.db' is relative, "
                "'sqlite:////abs/path.db' is absolute",
            )
    try:
        engine = sa.create_engine(url)
    except NoSuchModuleError as exc:
        raise _error(
            f"'{_shown(url)}'",
            "a database dialect SQLAlchemy knows (sqlite, postgresql, mysql, ...)",
            repr(url.drivername),
            "fix the URL scheme or install the dialect's package",
        ) from exc
    except ImportError as exc:
        raise MissingDependencyError(
            f"the database URL '{_shown(url)}' needs the driver {exc.name or url.drivername!r}, "
            f"which is not installed; fix: pip install {exc.name or '<driver>'}"
        ) from exc
    if engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        _transactional_sqlite(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _tables(connection: sa.Connection) -> list[str]:
    inspector = sa.inspect(connection)
    return sorted({*inspector.get_table_names(), *inspector.get_view_names()})


def _no_table(source: SqlSource, url: sa.URL, tables: list[str]) -> DataSourceError:
    shown = _shown(url)
    listing = ", ".join(repr(t) for t in tables) if tables else "none"
    if source.table is None:
        return _error(
            f"'{shown}'",
            "a table name, given as table='name' or at the end of the URL after '#'",
            f"no table name (tables in the database: {listing})",
            f"pass table=... or use '{shown}#<table>'",
        )
    close = difflib.get_close_matches(source.table, tables, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return _error(
        f"table {source.table!r} in '{shown}'",
        "an existing table",
        f"no such table (tables in the database: {listing})",
        f"{hint}pass one of the existing tables",
    )


def read_sql(source: SqlSource) -> pd.DataFrame:
    """Read a whole table; dtypes follow the sosie conventions."""
    url = _parse_url(source.url)
    with _engine(url, for_write=False) as engine:
        try:
            with engine.connect() as connection:
                tables = _tables(connection)
                if source.table is None or source.table not in tables:
                    raise _no_table(source, url, tables)
                data = pd.read_sql_table(source.table, connection, dtype_backend="numpy_nullable")
        except _DB_ERRORS as exc:
            raise _error(
                f"'{_shown(url)}'",
                "a database sosie can read",
                _first_line(exc),
                "check the URL, the file and your access rights",
            ) from exc
    return from_nullable(data)


def _for_sql(data: pd.DataFrame) -> pd.DataFrame:
    """Time-zone aware columns in UTC, so databases without zones keep the instant."""
    out = None
    for position, (_name, column) in enumerate(data.items()):
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out = data.copy() if out is None else out
            out.isetitem(position, column.dt.tz_convert("UTC"))
    return data if out is None else out


def write_sql(data: pd.DataFrame, source: SqlSource, *, if_exists: str) -> str:
    """Write ``data`` as one table inside one transaction; return the location."""
    url = _parse_url(source.url)
    shown = _shown(url)
    if source.table is None:
        raise _error(
            f"'{shown}'",
            "a table name to write to",
            "none",
            f"pass table='name' or use '{shown}#name'",
        )
    table = source.table
    with _engine(url, for_write=True) as engine:
        try:
            with engine.begin() as connection:
                inspector = sa.inspect(connection)
                exists = inspector.has_table(table)
                if exists and if_exists == "fail":
                    raise _error(
                        f"table {table!r} in '{shown}'",
                        "no table of that name (if_exists='fail')",
                        "an existing table",
                        "pass if_exists='replace' or 'append', or choose another table",
                    )
                if exists and if_exists == "append":
                    have = [c["name"] for c in inspector.get_columns(table)]
                    extra = [str(c) for c in data.columns if str(c) not in have]
                    if extra:
                        raise _error(
                            f"table {table!r} in '{shown}'",
                            f"columns among {have}",
                            f"new columns {extra}",
                            "drop or rename those columns, or use if_exists='replace'",
                        )
                with warnings.catch_warnings():
                    # pandas warns when a name's case differs after writing
                    warnings.simplefilter("ignore", UserWarning)
                    _for_sql(data).to_sql(
                        table,
                        connection,
                        if_exists="append" if if_exists == "append" else "replace",
                        index=False,
                    )
        except DataSourceError:
            raise
        except (*_DB_ERRORS, ValueError) as exc:
            raise _error(
                f"table {table!r} in '{shown}'",
                "the data written in one transaction",
                _first_line(exc),
                "nothing was written (the transaction was rolled back); fix the data "
                "or the database and try again",
            ) from exc
    return f"{shown}#{table}"
