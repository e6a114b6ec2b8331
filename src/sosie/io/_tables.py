"""``read_table`` and ``write_table``: one entry point for CSV, Parquet, JSON Lines and SQL."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sosie.errors import DataSourceError, InvalidDataError, Problem

from ._atomic import atomic_path
from ._dtypes import (
    column_to_python,
    prepare_for_text,
    python_values_to_column,
    strings_to_column,
    tidy_text,
)
from ._formats import FileSource, SqlSource, resolve
from ._sql import read_sql, write_sql

__all__ = ["read_table", "write_table"]

_IF_EXISTS = ("fail", "replace", "append")
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))
_OPENERS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_JSONL_CHUNK = 10_000
_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def _error(where: str, expected: str, found: str, fix: str) -> DataSourceError:
    return DataSourceError(str(Problem(where, expected, found, fix)))


# --------------------------------------------------------------------------- reading


def _sniff_compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(6)
    return next((method for magic, method in _MAGIC if head.startswith(magic)), None)


@contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    compression = _sniff_compression(path)
    opener = _OPENERS.get(compression, open) if compression else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        yield fh


def _check_file(file: FileSource) -> None:
    path = file.path
    if not path.exists():
        raise _error(
            f"file '{path.absolute()}'",
            "an existing file",
            "nothing at that path",
            f"check the path (relative paths start from {Path.cwd()})",
        )
    if path.is_dir() and file.format != "parquet":
        raise _error(
            f"'{path.absolute()}'",
            f"a {file.format.upper()} file",
            "a directory",
            "pass the path of a file inside it",
        )


def _decode_error(file: FileSource, exc: UnicodeDecodeError) -> DataSourceError:
    return _error(
        f"file '{file.path.absolute()}'",
        "UTF-8 text",
        f"byte {exc.object[exc.start : exc.start + 1]!r} at offset {exc.start} that is not UTF-8",
        "re-save the file as UTF-8",
    )


def _read_csv(file: FileSource) -> pd.DataFrame:
    try:
        with _open_text(file.path) as fh:
            raw = pd.read_csv(fh, sep=file.sep, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise _error(
            f"file '{file.path.absolute()}'",
            "CSV text starting with a header row",
            "an empty file",
            "write the column names on the first line",
        ) from exc
    except pd.errors.ParserError as exc:
        raise _error(
            f"file '{file.path.absolute()}'",
            "CSV with the same number of fields on every line",
            str(exc).strip(),
            "fix that line (quote fields that contain the separator) or check the separator",
        ) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(file, exc) from exc
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise _error(
            f"file '{file.path.absolute()}'",
            "a readable CSV file",
            f"{type(exc).__name__}: {exc}",
            "check that the file is complete and not corrupt",
        ) from exc
    return pd.DataFrame(
        {position: strings_to_column(raw.iloc[:, position]) for position in range(raw.shape[1])}
    ).set_axis(raw.columns, axis=1)


def _read_jsonl(file: FileSource) -> pd.DataFrame:
    # Parsed with the json module rather than pandas.read_json: read_json turns whole
    # numbers with gaps into floats (1 -> 1.0, large ids lose digits) and cannot tell
    # 1 from 1.0. The dtypes then follow the same rules as CSV.
    columns: dict[str, list[Any]] = {}
    n_rows = 0
    try:
        with _open_text(file.path) as fh:
            for line_number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _error(
                        f"file '{file.path.absolute()}', line {line_number}",
                        "one JSON object per line",
                        f"invalid JSON ({exc.msg} at column {exc.colno})",
                        "fix that line",
                    ) from exc
                if not isinstance(record, dict):
                    raise _error(
                        f"file '{file.path.absolute()}', line {line_number}",
                        "a JSON object ({...})",
                        f"a JSON {type(record).__name__}",
                        "write one object per line, keys as column names",
                    )
                for key, value in record.items():
                    column = columns.get(key)
                    if column is None:
                        column = columns[key] = [None] * n_rows
                    column.append(value)
                n_rows += 1
                if len(record) != len(columns):
                    for column in columns.values():
                        if len(column) < n_rows:
                            column.append(None)
    except UnicodeDecodeError as exc:
        raise _decode_error(file, exc) from exc
    except (OSError, EOFError, lzma.LZMAError) as exc:
        if isinstance(exc, DataSourceError):
            raise
        raise _error(
            f"file '{file.path.absolute()}'",
            "a readable JSON Lines file",
            f"{type(exc).__name__}: {exc}",
            "check that the file is complete and not corrupt",
        ) from exc
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(n_rows))
    return pd.DataFrame(
        {name: python_values_to_column(values, name) for name, values in columns.items()}
    )


def _read_parquet(file: FileSource) -> pd.DataFrame:
    try:
        table = pq.read_table(file.path)
        data = table.to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(
            f"file '{file.path.absolute()}'",
            "a Parquet file or dataset",
            f"a file pyarrow cannot read ({str(exc).strip().splitlines()[0]})",
            "check that the file is complete and really Parquet, or pass the right format=",
        ) from exc
    # Files written without pandas metadata: whole numbers or booleans with gaps
    # come back as float/object; give them the nullable dtype instead.
    for position, field in enumerate(table.schema):
        mapped = _NULLABLE.get(field.type)
        if mapped is not None and data.iloc[:, position].dtype.kind in "fO":
            data.isetitem(position, table.column(position).to_pandas(types_mapper=_NULLABLE.get))
    return tidy_text(data)


def read_table(
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    format: str | None = None,
) -> pd.DataFrame:
    """Read a table from a CSV, Parquet or JSON Lines file or a SQL database.

    Dtypes are the same whatever the format:

    * text columns have the dtype pandas gives text, ``str`` on pandas 3
      (``StringDtype(na_value=nan)``; ``object`` on pandas 2); missing text is NaN;
    * whole numbers are ``int64`` (``Int64`` when some are missing), other numbers
      ``float64``, booleans ``bool`` (``boolean`` when some are missing);
    * CSV has no types, so a CSV column is converted only when nothing is lost:
      numbers only when every value is a plain number with no leading zero or plus
      sign (``"007"`` and ``"+5"`` stay text), booleans for ``True``/``False``
      columns, datetimes for ISO 8601 columns (time-zone aware when every value
      has an offset; UTC when the offsets differ). Only empty fields are missing:
      ``"NA"`` and ``"null"`` are text;
    * JSON Lines keep JSON's own types (a JSON string stays text, even ``"007"``);
      ISO 8601 strings become datetimes as in CSV;
    * Parquet keeps the dtypes it was written with (time zones, categories,
      nullable integers);
    * SQL tables are read with their declared types.

    Args:
        source: a file path (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``, ...; CSV
            and JSON Lines may be gzip/bz2/xz-compressed), a Parquet dataset
            directory, or a SQLAlchemy URL (``sqlite:///file.db#table``).
        table: the SQL table to read; instead, the URL may end in ``#table``.
        format: ``"csv"``, ``"tsv"``, ``"parquet"``, ``"jsonl"`` or ``"sql"``;
            detected from ``source`` when ``None``.

    Returns:
        The table as a :class:`pandas.DataFrame` with a default ``RangeIndex``.

    Raises:
        DataSourceError: the source is missing, unreadable, corrupt, of an unknown
            format, or the SQL table does not exist (the message lists the tables
            that do).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
        >>> _ = path.write_text("zip,age,name\\n02134,31,Ada\\n10001,,Bo\\n")
        >>> data = read_table(path)
        >>> data["zip"].tolist(), data["age"].dtype.name
        (['02134', '10001'], 'Int64')
    """
    resolved = resolve(source, format=format, table=table)
    if isinstance(resolved, SqlSource):
        return read_sql(resolved)
    _check_file(resolved)
    if resolved.format == "csv":
        return _read_csv(resolved)
    if resolved.format == "jsonl":
        return _read_jsonl(resolved)
    return _read_parquet(resolved)


# --------------------------------------------------------------------------- writing


@contextmanager
def _open_text_for_write(path: Path, compression: str | None) -> Iterator[IO[str]]:
    """A UTF-8 text handle on ``path``; compressed output is byte-for-byte reproducible."""
    with ExitStack() as stack:
        raw: IO[bytes] = stack.enter_context(open(path, "xb"))
        if compression == "gzip":
            # no file name or time in the header: same data, same bytes
            raw = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
        elif compression == "bz2":
            raw = stack.enter_context(bz2.BZ2File(raw, "wb"))
        elif compression == "xz":
            raw = stack.enter_context(lzma.LZMAFile(raw, "wb"))
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            text.detach()


def _write_csv(data: pd.DataFrame, path: Path, file: FileSource) -> None:
    out = prepare_for_text(data)
    with _open_text_for_write(path, file.compression) as fh:
        out.to_csv(fh, sep=file.sep, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def _json_error(data: pd.DataFrame, exc: Exception) -> InvalidDataError:
    problems = []
    for name, column in data.items():
        try:
            column_to_python(column)
        except TypeError as inner:
            problems.append(
                Problem(
                    f"column {name!r}",
                    "values JSON can hold (text, numbers, booleans, dates, lists, dicts)",
                    f"a {inner} value",
                    "convert the column, for example with .astype(str)",
                )
            )
    return InvalidDataError(problems or str(exc), header="cannot write JSON Lines")


def _write_jsonl(data: pd.DataFrame, path: Path, file: FileSource) -> None:
    names = [str(name) for name in data.columns]
    with _open_text_for_write(path, file.compression) as fh:
        for start in range(0, len(data), _JSONL_CHUNK):
            chunk = data.iloc[start : start + _JSONL_CHUNK]
            try:
                columns = [column_to_python(column) for _name, column in chunk.items()]
            except TypeError as exc:
                raise _json_error(data, exc) from exc
            for row in zip(*columns, strict=True):
                fh.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
                fh.write("\n")
        if not len(data.columns):
            fh.write("{}\n" * len(data))


def _arrow_problems(data: pd.DataFrame) -> list[Problem]:
    problems = []
    for name, column in data.items():
        try:
            pa.Array.from_pandas(column)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            problems.append(
                Problem(
                    f"column {name!r}",
                    "values of one type that Parquet can store",
                    f"values pyarrow rejects ({str(exc).strip().splitlines()[0]})",
                    "convert the column to one type, for example with .astype(str)",
                )
            )
    return problems


def _write_parquet(data: pd.DataFrame, path: Path, file: FileSource) -> None:
    try:
        table = pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise InvalidDataError(
            _arrow_problems(data) or str(exc), header="cannot write Parquet"
        ) from exc
    pq.write_table(table, path)


def _check_frame(data: object) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise InvalidDataError(
            Problem(
                "data",
                "a pandas DataFrame",
                f"a {type(data).__name__}",
                "wrap it first, for example pandas.DataFrame(data)",
            )
        )
    names = [str(name) for name in data.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidDataError(
            Problem(
                "column names",
                "unique names",
                f"{duplicated} more than once",
                "rename the columns so each name appears once",
            )
        )
    return data


def _append_to_file(data: pd.DataFrame, file: FileSource) -> pd.DataFrame:
    existing = read_table(file.path, format="tsv" if file.sep == "\t" else file.format)
    have = [str(c) for c in existing.columns]
    new = [str(c) for c in data.columns]
    if sorted(have) != sorted(new):
        raise _error(
            f"file '{file.path.absolute()}'",
            f"the same columns as the file: {have}",
            f"{new}",
            "select or rename the columns to match, or use if_exists='replace'",
        )
    data = data.set_axis(new, axis=1)[have]
    return pd.concat([existing, data], ignore_index=True)


def write_table(
    data: pd.DataFrame,
    dest: str | os.PathLike[str],
    *,
    table: str | None = None,
    format: str | None = None,
    if_exists: str = "replace",
) -> str:
    """Write a DataFrame to a CSV, Parquet or JSON Lines file or a SQL table.

    Files are written atomically (to a hidden temporary that replaces ``dest``
    only once complete): if anything fails, no partial file is left and an
    existing file is unchanged. A SQL table is written inside one transaction, so
    a failure leaves no partial or empty table. The index is not written (call
    ``data.reset_index()`` first to keep it).

    Formats: Parquet stores every dtype faithfully (time zones, categories,
    nullable integers). CSV and JSON Lines write datetimes as ISO 8601 strings
    (with the UTC offset when time-zone aware) and missing values as empty fields
    (CSV) or ``null`` (JSON); in CSV an empty string is read back as missing.
    SQL stores time-zone aware datetimes converted to UTC (databases such as
    SQLite keep no zone). Compressed CSV/JSON Lines (``.gz``, ``.bz2``, ``.xz``)
    are byte-for-byte reproducible.

    Args:
        data: the table to write.
        dest: a file path or a SQLAlchemy URL (``sqlite:///file.db#table``).
        table: the SQL table to write; instead, the URL may end in ``#table``.
        format: ``"csv"``, ``"tsv"``, ``"parquet"``, ``"jsonl"`` or ``"sql"``;
            detected from ``dest`` when ``None``.
        if_exists: what to do when the file or table exists: ``"replace"`` it
            (default), ``"fail"``, or ``"append"`` the rows (the columns must match;
            files are rewritten atomically with the old and new rows).

    Returns:
        Where the data went: the absolute file path, or the URL (password hidden)
        ending in ``#table``.

    Raises:
        DataSourceError: the destination cannot be written, exists with
            ``if_exists="fail"``, or its format is unknown.
        InvalidDataError: ``data`` is not a DataFrame, has duplicate column names,
            or holds values the format cannot store (the message names the columns).

    Example:
        >>> import tempfile, pathlib
        >>> import pandas as pd
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> data = pd.DataFrame({"id": ["007", "042"], "score": [1.5, None]})
        >>> where = write_table(data, folder / "scores.parquet")
        >>> pathlib.Path(where).name
        'scores.parquet'
        >>> write_table(data, f"sqlite:///{folder / 'app.db'}#scores").endswith("app.db#scores")
        True
        >>> read_table(f"sqlite:///{folder / 'app.db'}", table="scores")["id"].tolist()
        ['007', '042']
    """
    data = _check_frame(data)
    if if_exists not in _IF_EXISTS:
        raise _error(
            "if_exists=",
            "one of 'fail', 'replace', 'append'",
            repr(if_exists),
            "pass one of those",
        )
    resolved = resolve(dest, format=format, table=table)
    if isinstance(resolved, SqlSource):
        return write_sql(data, resolved, if_exists=if_exists)
    path = resolved.path
    if os.path.lexists(path):
        if if_exists == "fail":
            raise _error(
                f"file '{path.absolute()}'",
                "no file at that path (if_exists='fail')",
                "an existing file",
                "pass if_exists='replace' or 'append', or choose another path",
            )
        if if_exists == "append":
            data = _append_to_file(data, resolved)
    writer = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}[resolved.format]
    try:
        with atomic_path(path) as tmp:
            writer(data, tmp, resolved)
    except (DataSourceError, InvalidDataError):
        raise
    except OSError as exc:
        raise _error(
            f"file '{path.absolute()}'",
            "a writable location",
            f"{type(exc).__name__}: {exc.strerror or exc}",
            "check the path, free disk space and your permissions",
        ) from exc
    return str(path.absolute())
