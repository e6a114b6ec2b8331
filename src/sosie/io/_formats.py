"""Which format a source is in, and where it is (a local path or a SQL URL)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sosie.errors import DataSourceError, Problem

__all__ = ["FORMATS", "detect_format"]

#: The formats sosie reads and writes.
FORMATS = ("csv", "parquet", "jsonl", "sql")

#: Other names accepted by ``format=`` (``"tsv"`` is CSV separated by tabs).
_ALIASES = {"tsv": "csv", "ndjson": "jsonl", "pq": "parquet"}

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}
_COMPRESSIBLE = {"csv", "jsonl"}

_SUPPORTED = (
    ".csv, .tsv, .parquet, .pq, .jsonl, .ndjson (CSV, TSV and JSON Lines may end in "
    ".gz, .bz2 or .xz), a Parquet dataset directory, or a SQL URL such as "
    "'sqlite:///file.db#table'"
)

# ``dialect[+driver]://``: how SQLAlchemy URLs start. Single letters are Windows drives.
_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_.-]+)(?:\+[A-Za-z0-9_.-]+)?://")
# URL schemes that name files, not databases.
_FILE_SCHEMES = frozenset(
    {
        "file",
        "http",
        "https",
        "ftp",
        "sftp",
        "s3",
        "s3a",
        "gs",
        "gcs",
        "az",
        "abfs",
        "abfss",
        "hdfs",
    }
)


def _error(where: str, expected: str, found: str, fix: str) -> DataSourceError:
    return DataSourceError(str(Problem(where, expected, found, fix)))


def _scheme(source: str) -> str | None:
    match = _URL_RE.match(source)
    return match.group("scheme").lower() if match else None


def is_sql_url(source: str) -> bool:
    """Whether ``source`` looks like a SQLAlchemy URL (``dialect[+driver]://...``)."""
    scheme = _scheme(source)
    return scheme is not None and scheme not in _FILE_SCHEMES


def _split_name(name: str) -> tuple[str | None, str | None, bool]:
    """(format, compression, is_tsv) from a file name; format None when unknown."""
    lower = name.lower()
    compression = None
    for ext, method in _COMPRESSIONS.items():
        if lower.endswith(ext):
            compression = method
            lower = lower[: -len(ext)]
            break
    fmt = next((f for ext, f in _EXTENSIONS.items() if lower.endswith(ext)), None)
    if fmt is not None and compression is not None and fmt not in _COMPRESSIBLE:
        fmt = None  # Parquet compresses inside the file; "x.parquet.gz" is not readable
    return fmt, compression, lower.endswith(".tsv")


def _as_text(source: object, argument: str = "source") -> str:
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        if text.strip():
            return text
        raise _error(argument, "a file path or a SQL URL", "an empty string", "pass a path")
    raise _error(
        argument,
        "a file path (str or pathlib.Path) or a SQL URL",
        f"a {type(source).__name__}",
        "pass a path such as 'data.csv' or a URL such as 'sqlite:///file.db#table'",
    )


def _local_from_url(text: str) -> str:
    """The local path for a ``file://`` URL; an error for remote URLs."""
    scheme = _scheme(text)
    if scheme is None:
        return text
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise _error(
                f"'{text}'", "a local file:// URL", f"host {parts.netloc!r}", "copy the file here"
            )
        return unquote(parts.path)
    raise _error(
        f"'{text}'",
        "a local file path or a SQL URL",
        f"a remote {scheme}:// URL",
        "download the file first and pass its local path",
    )


def detect_format(source: str | os.PathLike[str]) -> str:
    """Guess the format of a data source from its URL scheme or file extension.

    SQLAlchemy URLs (``dialect[+driver]://...``, such as ``sqlite:///x.db#people``
    or ``postgresql+psycopg://host/db``) are ``"sql"``. Files are recognised by
    extension: ``.csv`` and ``.tsv`` are ``"csv"``, ``.parquet`` and ``.pq`` are
    ``"parquet"``, ``.jsonl`` and ``.ndjson`` are ``"jsonl"``; CSV, TSV and JSON
    Lines may be compressed (``.gz``, ``.bz2``, ``.xz``). An existing directory
    holding ``.parquet`` files is a Parquet dataset. The file need not exist.

    Args:
        source: a path (``str`` or :class:`os.PathLike`) or a URL.

    Returns:
        One of ``"csv"``, ``"parquet"``, ``"jsonl"``, ``"sql"``.

    Raises:
        DataSourceError: the format cannot be told from the name; the message names
            the path and the supported extensions (pass ``format=`` to
            :func:`read_table` or :func:`write_table` to choose one).

    Example:
        >>> detect_format("people.csv.gz"), detect_format("people.parquet")
        ('csv', 'parquet')
        >>> detect_format("logs.ndjson"), detect_format("sqlite:///app.db#people")
        ('jsonl', 'sql')
        >>> detect_format("people.xlsx")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sosie.errors.DataSourceError: file '...people.xlsx': expected a name ending in .csv, ...
    """
    text = _as_text(source)
    if is_sql_url(text):
        return "sql"
    if _scheme(text) is not None:  # file://, http://, s3://: look at the URL's path
        name = urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1]
        shown = text
    else:
        path = Path(os.path.expanduser(text))
        name = path.name
        shown = str(path.absolute())
        if path.is_dir() and _split_name(name)[0] is None:
            if next(path.rglob("*.parquet"), None) is not None:
                return "parquet"
    fmt, _compression, _tsv = _split_name(name)
    if fmt is None:
        suffix = "".join(Path(name).suffixes[-2:]) or "no extension"
        raise _error(
            f"file '{shown}'",
            f"a name ending in {_SUPPORTED}",
            repr(suffix) if suffix != "no extension" else suffix,
            "rename the file or pass format='csv', 'parquet', 'jsonl' or 'sql'",
        )
    return fmt


def normalise_format(format: str | None) -> tuple[str | None, bool]:
    """Validate ``format=``: (canonical format or None, whether it asks for tabs)."""
    if format is None:
        return None, False
    if not isinstance(format, str) or format.lower() not in (*FORMATS, *_ALIASES):
        raise _error(
            "format=",
            "one of " + ", ".join(repr(f) for f in (*FORMATS, "tsv")),
            repr(format),
            "pass one of those, or leave format=None to detect it from the name",
        )
    lower = format.lower()
    return _ALIASES.get(lower, lower), lower == "tsv"


@dataclass(frozen=True)
class FileSource:
    """A resolved local file source."""

    path: Path
    format: str
    sep: str
    compression: str | None  # from the extension (writing); reading sniffs the bytes


@dataclass(frozen=True)
class SqlSource:
    """A resolved SQL source: the URL without the fragment, and the table."""

    url: str
    table: str | None


def resolve(source: object, *, format: str | None, table: str | None) -> FileSource | SqlSource:
    """Work out the format and location of ``source`` (shared by read and write)."""
    text = _as_text(source)
    fmt, tsv = normalise_format(format)
    if fmt is None:
        fmt = detect_format(text)
    if table is not None and (not isinstance(table, str) or not table):
        raise _error("table=", "a non-empty table name", repr(table), "pass table='name'")
    if fmt == "sql":
        if not is_sql_url(text):
            raise _error(
                f"'{text}'",
                "a SQLAlchemy URL for format='sql', such as 'sqlite:///file.db#table'",
                "a plain path",
                f"pass 'sqlite:///{text}' for a SQLite file",
            )
        url, sep, fragment = text.rpartition("#")
        if not sep:
            url, fragment = text, ""
        fragment = unquote(fragment)
        if table is not None and fragment and fragment != table:
            raise _error(
                f"'{text}'",
                "one table name",
                f"table={table!r} and '#{fragment}' in the URL",
                "give the table either with table= or after '#', not both",
            )
        return SqlSource(url=url, table=table or fragment or None)
    if table is not None:
        raise _error(
            "table=",
            "no table name for a file source (tables only exist in SQL databases)",
            repr(table),
            "drop table=, or pass a SQL URL such as 'sqlite:///file.db'",
        )
    local = Path(os.path.expanduser(_local_from_url(text)))
    _fmt, compression, is_tsv = _split_name(local.name)
    if fmt == "parquet":
        compression = None
    return FileSource(
        path=local, format=fmt, sep="\t" if (tsv or is_tsv) else ",", compression=compression
    )
