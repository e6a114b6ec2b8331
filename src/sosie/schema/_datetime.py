"""Datetime format detection, parsing and formatting that keeps the source's format and timezone."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

# strptime formats tried in order. "%:z" is sosie's marker for an offset written "+02:00".
CANDIDATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S%:z",
    "%Y-%m-%d %H:%M:%S%:z",
    "%Y-%m-%dT%H:%M:%S.%f%:z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d %b %Y",
    "%b %d, %Y",
    "%d-%b-%Y",
    "%Y-%m",
)

_NS = {
    "D": 86_400 * 10**9,
    "h": 3600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
}
_OFFSET_RE = re.compile(r"([+-])(\d\d):?(\d\d)$")


def _strptime_format(fmt: str) -> str:
    return fmt.replace("%:z", "%z")


def _has_offset(fmt: str) -> bool:
    return "%z" in fmt or "%:z" in fmt


def parse_with_format(values: pd.Series, fmt: str) -> pd.Series:
    """Parse strings (or ints for ``%Y%m%d``) with ``fmt``; unparseable values become NaT.

    Offsets are parsed to UTC (tz-aware); ``Z`` suffixes likewise.
    """
    s = values.astype("string") if values.dtype != object else values.astype(str)
    s = s.where(values.notna(), None)
    utc = _has_offset(fmt) or fmt.endswith("Z")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = pd.to_datetime(s, format=_strptime_format(fmt), errors="coerce", utc=utc)
    return out


def detect_format(values: pd.Series) -> tuple[str, pd.Series, list[str]] | None:
    """Find a format that parses every non-null value.

    Returns ``(format, parsed, notes)`` or ``None``. Only distinct values are parsed.
    """
    nn = values.dropna()
    if nn.empty:
        return None
    uniq = pd.Series(pd.unique(nn.astype(str)))
    if uniq.str.len().max() > 40 or not uniq.str.contains(r"\d", regex=True).all():
        return None
    probe = uniq.iloc[:200]
    notes: list[str] = []
    hits = []
    for fmt in CANDIDATE_FORMATS:
        if fmt.endswith("%:z") and not probe.str.contains(r"[+-]\d\d:\d\d$", regex=True).all():
            continue
        if fmt.endswith("%z") and not probe.str.contains(r"[+-]\d\d\d\d$", regex=True).all():
            continue
        if parse_with_format(probe, fmt).isna().any():
            continue
        parsed_u = parse_with_format(uniq, fmt)
        if parsed_u.isna().any():
            continue
        hits.append(fmt)
        if len(hits) == 2:
            break
    if not hits:
        return None
    fmt = hits[0]
    if len(hits) == 2 and {hits[0], hits[1]} <= {
        "%d/%m/%Y",
        "%m/%d/%Y",
        "%d/%m/%Y %H:%M",
        "%m/%d/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
    }:
        notes.append(
            f"ambiguous day/month order (every day <= 12); chose {fmt!r}: override "
            "'datetime_format' if the month comes first"
        )
    parsed = parse_with_format(values, fmt)
    return fmt, parsed, notes


def detect_offset_timezone(values: pd.Series) -> str | None:
    """The single UTC offset written in the strings (e.g. ``'+02:00'``), or ``None`` if mixed."""
    m = values.dropna().astype(str).str.extract(_OFFSET_RE)
    if m.isna().any().any():
        return None
    offs = (m[0] + m[1] + ":" + m[2]).unique()
    if len(offs) == 1:
        return "UTC" if offs[0] in ("+00:00", "-00:00") else str(offs[0])
    return None


def to_pandas_tz(tz: str | None):
    """Convert a schema timezone string to something pandas accepts."""
    if tz is None:
        return None
    m = _OFFSET_RE.match(tz) if tz[:1] in "+-" else None
    if m:
        sign = 1 if m.group(1) == "+" else -1
        import datetime as _dt

        return _dt.timezone(sign * _dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    return tz


def detect_resolution(dt: pd.Series) -> str:
    """Coarsest unit that every value is a multiple of (local wall clock for tz-aware)."""
    nn = dt.dropna()
    if nn.empty:
        return "s"
    if getattr(nn.dt, "tz", None) is not None:
        nn = nn.dt.tz_localize(None)
    ns = nn.astype("datetime64[ns]").astype("int64").to_numpy()
    for unit, step in _NS.items():
        if np.all(ns % step == 0):
            return unit
    return "ns"


def resolution_ns(unit: str | None) -> int:
    """Nanoseconds in one step of ``unit``."""
    return _NS.get(unit or "ns", 1)


def format_datetimes(dt: pd.Series, fmt: str) -> pd.Series:
    """Format datetimes with ``fmt`` (supports sosie's ``%:z``); NaT becomes missing."""
    colon = "%:z" in fmt
    out = dt.dt.strftime(_strptime_format(fmt))
    if colon:
        out = out.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
    return out.astype(object).where(dt.notna(), np.nan)
