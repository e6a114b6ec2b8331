"""Column dtypes on the way in and out of text formats (CSV, JSON Lines) and SQL.

Conventions (the same for every reader):

* text columns use the dtype pandas itself gives to text, ``str``
  (``StringDtype(na_value=nan)``) on pandas >= 3, ``object`` on older pandas;
  missing text is ``NaN``;
* whole numbers are ``int64``, or ``Int64`` when some are missing;
* other numbers are ``float64`` (missing is ``NaN``);
* booleans are ``bool``, or ``boolean`` when some are missing;
* ISO 8601 timestamps are ``datetime64``: naive when no value has an offset,
  time-zone aware when every value has one;
* a column with no values at all is a text column of ``NaN``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["text_dtype"]

# A whole number without a sign or leading zero that CSV would drop: "0", "-12", not "007", "+5", "-0".
_INT_RE = r"0|-?[1-9][0-9]*"
# A decimal number: no "+", no leading zeros ("0.5" is fine, "00.5" is not).
_FLOAT_RE = (
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|-?(?:inf|Inf|INF|infinity|Infinity|INFINITY|nan|NaN|NAN)"
)
_FINITE_RE = r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_TRUE = frozenset({"True", "true", "TRUE"})
_FALSE = frozenset({"False", "false", "FALSE"})
_BOOL_TOKENS = sorted(_TRUE | _FALSE)
_OFFSET = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
_DATETIME_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?" + f"{_OFFSET}?)?"
)
_HAS_OFFSET_RE = r".*[T ].*" + _OFFSET
_SAFE_INT = 2**53  # floats hold every whole number up to here


def text_dtype() -> Any:
    """The dtype sosie uses for text columns: the one pandas infers for strings.

    On pandas 3 this is ``str`` (``StringDtype(na_value=nan)``); on pandas 2 it is
    ``object``.

    Example:
        >>> import pandas as pd
        >>> text_dtype() == pd.Series(["a"]).dtype
        True
    """
    return pd.Series(["a"]).dtype


def as_text(series: pd.Series) -> pd.Series:
    """``series`` in the text dtype, missing values as NaN."""
    target = text_dtype()
    if series.dtype == target:
        return series
    if pd.api.types.is_object_dtype(target):
        return series.astype(object).where(series.notna(), np.nan)
    return series.astype(target)


def _all_match(values: pd.Series, pattern: str) -> bool:
    return bool(values.str.fullmatch(pattern).all())


def _parse_datetimes(values: pd.Series, series: pd.Series) -> pd.Series | None:
    """ISO 8601 strings -> datetime64, or None when they are not all timestamps."""
    if not _all_match(values, _DATETIME_RE):
        return None
    with_offset = values.str.fullmatch(_HAS_OFFSET_RE)
    if with_offset.any() and not with_offset.all():
        return None  # naive and aware values mixed: no faithful dtype
    try:
        return pd.to_datetime(series, format="ISO8601")
    except ValueError:
        if not with_offset.all():
            return None  # not real dates ("2024-13-45") or out of range
    try:  # different offsets (a named zone across DST): keep the instants, in UTC
        return pd.to_datetime(series, format="ISO8601", utc=True)
    except (ValueError, OverflowError):
        return None


def strings_to_column(series: pd.Series) -> pd.Series:
    """Convert a column read as text to numbers, booleans or datetimes when lossless.

    A column becomes numeric only when every non-missing value is a plain number
    without a leading zero ("007") or a plus sign ("+5"), so identifiers and zip
    codes stay text.

    Example:
        >>> import pandas as pd
        >>> strings_to_column(pd.Series(["1", None, "3"], dtype=object)).dtype
        Int64Dtype()
        >>> strings_to_column(pd.Series(["007", "12"], dtype=object)).tolist()
        ['007', '12']
    """
    values = series.dropna()
    if values.empty:
        return as_text(series)
    if values.dtype == object:
        values = values.astype(str)
    has_missing = len(values) < len(series)
    if values.isin(_BOOL_TOKENS).all():
        flags = values.isin(list(_TRUE)).to_numpy()
        if not has_missing:
            return pd.Series(flags, index=series.index, name=series.name)
        out = pd.Series(pd.array([None] * len(series), dtype="boolean"), index=series.index)
        out[values.index] = flags
        return out.rename(series.name)
    if _all_match(values, _INT_RE):
        long = values[values.str.len() > 18]
        if all(-(2**63) <= int(v) < 2**63 for v in long):
            result = values.astype("int64")
            if not has_missing:
                return pd.Series(result.to_numpy(), index=series.index, name=series.name)
            out = pd.Series(pd.array([None] * len(series), dtype="Int64"), index=series.index)
            out[values.index] = result.to_numpy()
            return out.rename(series.name)
        return as_text(series)
    if _all_match(values, _FLOAT_RE) and values.str.fullmatch(_FINITE_RE).any():
        ints = values[values.str.fullmatch(_INT_RE) & (values.str.len() > 15)]
        if any(abs(int(v)) > _SAFE_INT for v in ints):
            return as_text(series)  # a float64 would round these whole numbers
        floats = np.fromiter((float(v) for v in values), dtype="float64", count=len(values))
        out = pd.Series(np.nan, index=series.index, name=series.name, dtype="float64")
        out[values.index] = floats
        return out
    parsed = _parse_datetimes(values, series)
    if parsed is not None:
        return parsed
    return as_text(series)


def python_values_to_column(values: Sequence[Any], name: str) -> pd.Series:
    """Build a column from parsed JSON values with the same dtypes as CSV.

    JSON already says what is a number and what is a string, so strings are never
    turned into numbers; ISO 8601 strings become datetimes as in CSV.

    Example:
        >>> python_values_to_column([1, None, 3], "n").dtype
        Int64Dtype()
        >>> python_values_to_column(["007", None], "zip").tolist()
        ['007', nan]
    """
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if not kinds:
        return as_text(pd.Series([np.nan] * len(values), name=name, dtype=object))
    has_missing = len(present) < len(values)
    if kinds == {bool}:
        return pd.Series(values, name=name, dtype="boolean" if has_missing else bool)
    if kinds == {int}:
        if all(-(2**63) <= v < 2**63 for v in present):
            return pd.Series(values, name=name, dtype="Int64" if has_missing else "int64")
        return pd.Series(values, name=name, dtype=object)
    if kinds <= {int, float}:
        if any(type(v) is int and abs(v) > _SAFE_INT for v in present):
            return pd.Series(values, name=name, dtype=object)
        return pd.Series(
            [np.nan if v is None else float(v) for v in values], name=name, dtype="float64"
        )
    if kinds == {str}:
        series = as_text(pd.Series(values, name=name, dtype=object))
        parsed = _parse_datetimes(series.dropna(), series)
        return series if parsed is None else parsed
    return pd.Series(values, name=name, dtype=object)


def iso_strings(series: pd.Series) -> pd.Series:
    """Datetimes as ISO 8601 text (``2024-01-31T09:30:00+01:00``); dates alone
    (``2024-01-31``) when every value is at midnight, as pandas writes them.

    Example:
        >>> import pandas as pd
        >>> s = pd.Series(pd.to_datetime(["2024-01-31 09:30"])).dt.tz_localize("Europe/Paris")
        >>> iso_strings(s).tolist()
        ['2024-01-31T09:30:00+01:00']
    """
    text = series.astype(str).where(series.notna(), np.nan)
    text = text.str.replace(" ", "T", n=1, regex=False)
    return as_text(text)


def prepare_for_text(data: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``data`` with datetime columns as ISO 8601 strings (CSV, JSON Lines)."""
    columns = {}
    for position, (_name, column) in enumerate(data.items()):
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            dtype = dtype.categories.dtype
            if pd.api.types.is_datetime64_any_dtype(dtype):
                column = column.astype(dtype)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            columns[position] = iso_strings(column)
    if not columns:
        return data
    out = data.copy()
    for position, column in columns.items():
        out.isetitem(position, column)
    return out


def from_nullable(data: pd.DataFrame) -> pd.DataFrame:
    """Turn the nullable dtypes SQL reads give into the sosie conventions."""
    out = data.copy()
    for position, (_name, column) in enumerate(data.items()):
        dtype = column.dtype
        has_missing = bool(column.isna().any())
        is_object = pd.api.types.is_object_dtype(dtype)
        if isinstance(dtype, pd.StringDtype) or is_object:
            if not is_object or column.dropna().map(type).eq(str).all():
                out.isetitem(position, as_text(column.astype(object)))
        elif isinstance(dtype, pd.BooleanDtype) and not has_missing:
            out.isetitem(position, column.astype(bool))
        elif not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            continue
        elif pd.api.types.is_integer_dtype(dtype) and not has_missing:
            out.isetitem(position, column.astype(dtype.numpy_dtype))
        elif pd.api.types.is_float_dtype(dtype):
            out.isetitem(
                position,
                pd.Series(
                    column.to_numpy(dtype=dtype.numpy_dtype, na_value=np.nan),
                    index=column.index,
                    name=column.name,
                ),
            )
    return out


def tidy_text(data: pd.DataFrame) -> pd.DataFrame:
    """Object columns that hold only strings -> the text dtype (Parquet reads)."""
    out = None
    for position, (_name, column) in enumerate(data.items()):
        if column.dtype == object and column.dtype != text_dtype():
            present = column.dropna()
            if len(present) and present.map(type).eq(str).all():
                out = data.copy() if out is None else out
                out.isetitem(position, as_text(column))
    return data if out is None else out


def _json_scalar(value: Any) -> Any:
    """A value ``json.dumps`` can write, or raise TypeError."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.generic):
        return _json_scalar(value.item())
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_scalar(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_scalar(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    raise TypeError(type(value).__name__)


def column_to_python(column: pd.Series) -> list[Any]:
    """The column's values as JSON-ready Python objects (missing -> None).

    Raises:
        TypeError: a value has no JSON form (its type name is the message).
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(dtype.categories.dtype)
        dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        column = iso_strings(column)
    if dtype.kind in "iub" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return column.tolist()
    if dtype.kind == "f" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return [None if math.isnan(v) else v for v in column.tolist()]
    values = column.to_numpy(dtype=object, na_value=None)
    missing = column.isna().to_numpy()
    return [None if gone else _json_scalar(v) for v, gone in zip(values, missing, strict=True)]
