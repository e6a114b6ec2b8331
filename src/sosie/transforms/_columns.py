"""Reversible per-type column encoders.

Each encoder turns a source column into at most one float64 *value* column
(``NaN`` where missing) and back into the source's type, format and dtype.
Numbers, categories, booleans, datetimes and constants round-trip exactly.
Ids, PII and free text are *replaced*, never copied: their decoder makes new
values in the learned format (ids, PII) or with the learned length (text).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..errors import InvalidDataError
from ..schema import ColumnSpec, SemanticType
from ..schema import _datetime as dtm
from ..schema._patterns import generate_ids, template_numbers
from ..schema._validate import coerce_column
from ._fake import fake_text, fake_values

__all__ = ["ColumnEncoder", "encoder_for"]


class ColumnEncoder(ABC):
    """Base of the per-type encoders.

    Attributes:
        spec: the column's spec (complete: facts learned).
        kind: ``"continuous"``, ``"discrete"`` or ``None`` (nothing modelled).
        n_categories: number of codes for discrete encoders.
    """

    kind: ClassVar[str | None] = "continuous"

    def __init__(self, spec: ColumnSpec):
        self.spec = spec
        self.n_categories: int | None = None

    def fit(self, s: pd.Series) -> ColumnEncoder:
        """Learn what is needed to encode/decode (beyond the spec)."""
        return self

    @abstractmethod
    def encode(self, s: pd.Series) -> np.ndarray | None:
        """Source column -> float64 values (NaN where missing), or None if not modelled."""

    @abstractmethod
    def decode(self, values: np.ndarray | None, n: int, rng: np.random.Generator) -> pd.Series:
        """Float64 values (NaN = missing) -> a column in the source's type and dtype."""

    def state(self) -> dict[str, Any]:
        """Learned state beyond the spec (JSON-able)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""

    def _coerce(self, s: pd.Series) -> pd.Series:
        out, problems = coerce_column(s, self.spec)
        if problems:
            raise InvalidDataError(problems)
        return out

    def _restore_dtype(self, out: pd.Series) -> pd.Series:
        """Cast to the source's pandas dtype where that is lossless."""
        target = self.spec.pandas_dtype
        if not target:
            return out
        has_na = bool(out.isna().any())
        try:
            if target in ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"):
                return out.astype(target.capitalize() if has_na else target)
            if target == "bool":
                return out.astype("boolean" if has_na else "bool")
            if target == "category":
                cats = self.spec.categories if self.spec.categories is not None else None
                return out.astype(pd.CategoricalDtype(cats))
            return out.astype(target)
        except (TypeError, ValueError):
            return out


class NumericalEncoder(ColumnEncoder):
    """Numbers as float64; decode rounds to the learned decimals/int and clips to the bounds."""

    def encode(self, s: pd.Series) -> np.ndarray:
        return self._coerce(s).to_numpy(dtype="float64", na_value=np.nan)

    def decode(self, values, n, rng):
        x = np.asarray(values, dtype="float64").copy()
        spec = self.spec
        lo = -np.inf if spec.min is None else float(spec.min)
        hi = np.inf if spec.max is None else float(spec.max)
        x = np.where(np.isnan(x), np.nan, np.clip(x, lo, hi))
        if spec.dtype == "int":
            x = np.round(x)
            out = (
                pd.Series(x).astype("Int64") if np.isnan(x).any() else pd.Series(x.astype("int64"))
            )
        else:
            if spec.decimals is not None:
                x = np.round(x, spec.decimals)
            out = pd.Series(x)
        return self._restore_dtype(out)


class CategoricalEncoder(ColumnEncoder):
    """Categories as integer codes 0..K-1 in the schema's order (most frequent first)."""

    kind = "discrete"

    def fit(self, s):
        self.n_categories = len(self.spec.categories or [])
        return self

    def _index(self) -> pd.Index:
        return pd.Index(pd.Series(self.spec.categories, dtype=object))

    def encode(self, s):
        self._coerce(s)
        codes = self._index().get_indexer(s.astype(object))
        out = codes.astype("float64")
        out[s.isna().to_numpy() | (codes < 0)] = np.nan
        return out

    def decode(self, values, n, rng):
        cats = np.asarray(self.spec.categories, dtype=object)
        x = np.asarray(values, dtype="float64")
        null = np.isnan(x)
        codes = np.clip(np.round(np.nan_to_num(x)), 0, len(cats) - 1).astype(np.int64)
        if self.spec.pandas_dtype == "str" and all(isinstance(c, str) for c in cats):
            # fast path for pandas' arrow-backed string dtype: take from the category array
            import pyarrow as pa

            taken = pa.array(cats.tolist(), type=pa.large_string()).take(
                pa.array(codes, mask=null if null.any() else None)
            )
            return pd.Series(pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))
        out = pd.Series(cats[codes], dtype=object)
        out[null] = np.nan
        return self._restore_dtype(out)


class BooleanEncoder(ColumnEncoder):
    """Booleans as 0/1 (keeps how True/False were written: bools, 0/1 or strings)."""

    kind = "discrete"

    def fit(self, s):
        self.n_categories = 2
        return self

    def encode(self, s):
        return self._coerce(s).to_numpy(dtype="float64", na_value=np.nan)

    def decode(self, values, n, rng):
        x = np.asarray(values, dtype="float64")
        null = np.isnan(x)
        tv = True if self.spec.true_value is None else self.spec.true_value
        fv = False if self.spec.false_value is None else self.spec.false_value
        out = pd.Series(np.where(np.nan_to_num(x) >= 0.5, tv, fv), dtype=object)
        out[null] = np.nan
        return self._restore_dtype(out)


class DatetimeEncoder(ColumnEncoder):
    """Datetimes as steps of the learned resolution (days, seconds...) since a stored origin.

    Counting in the column's own resolution keeps values exact in float64 (up to
    2**53 steps); instants are UTC when the column has a timezone.

    Decode rounds on the local wall clock to the learned resolution, restores the
    timezone and writes the source's format (ISO strings, ``20240131`` integers,
    ``31/01/2024``...) or native dtype.
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.origin_ns = 0

    def fit(self, s):
        parsed = self._coerce(s)
        nn = parsed.dropna()
        if not nn.empty:
            ns = self._to_ns(nn)
            # the origin sits mid-range so that float64 stays exact for twice as long a span
            # (+-2**53 steps: e.g. +-285 years at microsecond resolution)
            lo, hi = int(ns.min()), int(ns.max())
            mid = lo + (hi - lo) // 2
            self.origin_ns = mid // (86_400 * 10**9) * (86_400 * 10**9)
        return self

    def state(self):
        return {"origin_ns": self.origin_ns}

    def load_state(self, state):
        self.origin_ns = int(state.get("origin_ns", 0))

    def _to_ns(self, dt: pd.Series) -> np.ndarray:
        if getattr(dt.dt, "tz", None) is not None:
            dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
        return dt.astype("datetime64[ns]").astype("int64").to_numpy()

    def encode(self, s):
        parsed = self._coerce(s)
        out = np.full(len(parsed), np.nan)
        mask = parsed.notna().to_numpy()
        if mask.any():
            step = dtm.resolution_ns(self.spec.resolution)
            out[mask] = (self._to_ns(parsed[mask]) - self.origin_ns) // step
        return out

    def decode(self, values, n, rng):
        spec = self.spec
        x = np.asarray(values, dtype="float64")
        null = np.isnan(x)
        step = dtm.resolution_ns(spec.resolution)
        # whole steps are exact in int64; a fractional part (from a model) adds sub-step time
        xs = np.nan_to_num(x)
        whole = np.floor(xs)
        ns = whole.astype(np.int64) * step + np.round((xs - whole) * step).astype(np.int64)
        ns += self.origin_ns
        utc = pd.Series(ns.astype("datetime64[ns]"))
        tz = dtm.to_pandas_tz(spec.timezone)
        if tz is not None:
            local = utc.dt.tz_localize("UTC").dt.tz_convert(tz)
            wall = local.dt.tz_localize(None).astype("datetime64[ns]").astype("int64").to_numpy()
            delta = _round_to(wall, step) - wall if step > 1 else 0
            dt = (utc + pd.to_timedelta(delta, unit="ns")).dt.tz_localize("UTC").dt.tz_convert(tz)
        else:
            if step > 1:
                ns = _round_to(ns, step)
            dt = pd.Series(ns.astype("datetime64[ns]"))
        dt[null] = pd.NaT
        if spec.datetime_format is not None:
            out = dtm.format_datetimes(dt, spec.datetime_format)
            if spec.pandas_dtype and spec.pandas_dtype.lower().startswith(("int", "uint")):
                out = pd.Series(pd.to_numeric(out), dtype="Int64" if null.any() else "int64")
                return out
            return self._restore_dtype(out)
        return self._restore_dtype(dt)


def _round_to(ns: np.ndarray, step: int) -> np.ndarray:
    """Round int64 nanoseconds to a multiple of ``step`` in integer arithmetic (no float loss)."""
    return ((ns + step // 2) // step) * step


class IdEncoder(ColumnEncoder):
    """Ids are not modelled: decode makes new unique ids in the learned format."""

    kind = None

    def __init__(self, spec):
        super().__init__(spec)
        self.number_range: tuple[int, int] | None = None

    def fit(self, s):
        fmt = self.spec.id_format
        if fmt == "int":
            x = pd.to_numeric(s.dropna())
            if len(x):
                self.number_range = (int(x.min()), int(x.max()))
        elif fmt:
            self.number_range = template_numbers(s, fmt)
        return self

    def encode(self, s):
        return None

    def decode(self, values, n, rng):
        fmt = self.spec.id_format or "{X12}"
        if fmt == "int":
            lo, hi = self.number_range or (0, -1)
            # new ids continue after the largest real one, in random order
            out = pd.Series(hi + 1 + rng.permutation(n) if hi >= lo else rng.permutation(n))
        else:
            out = pd.Series(generate_ids(fmt, n, rng, number_range=self.number_range), dtype=object)
        return self._restore_dtype(out)

    def state(self):
        return {"number_range": list(self.number_range) if self.number_range else None}

    def load_state(self, state):
        r = state.get("number_range")
        self.number_range = tuple(r) if r else None


class PiiEncoder(ColumnEncoder):
    """PII is not modelled and never stored: decode draws locale-aware Faker values."""

    kind = None

    def encode(self, s):
        return None

    def decode(self, values, n, rng):
        out = pd.Series(
            fake_values(self.spec.pii_kind or "name", n, rng, locale=self.spec.locale or "en_US"),
            dtype=object,
        )
        return self._restore_dtype(out)


class TextEncoder(ColumnEncoder):
    """Free text is modelled by its length in words; decode writes Faker sentences of that length.

    Realistic text is the job of the LLM-based text generators; this keeps the
    column present, plausible in length and free of copied content.
    """

    def encode(self, s):
        out = s.astype(object).map(lambda v: float(len(str(v).split())), na_action="ignore")
        return out.to_numpy(dtype="float64", na_value=np.nan)

    def decode(self, values, n, rng):
        x = np.asarray(values, dtype="float64") if values is not None else np.full(n, 8.0)
        null = np.isnan(x)
        counts = np.clip(np.round(np.nan_to_num(x, nan=1.0)), 1, 500).astype(np.int64)
        out = pd.Series(fake_text(counts, rng, locale=self.spec.locale or "en_US"), dtype=object)
        out[null] = np.nan
        return self._restore_dtype(out)


class ConstantEncoder(ColumnEncoder):
    """A single value (and possibly missing values): nothing to model but the null share."""

    kind = None

    def encode(self, s):
        return None

    def decode(self, values, n, rng):
        v = self.spec.value
        if (
            self.spec.pandas_dtype
            and self.spec.pandas_dtype.startswith("datetime64")
            and v is not None
        ):
            v = pd.Timestamp(v)
        out = pd.Series([v] * n, dtype=object)
        return self._restore_dtype(out)


_ENCODERS: dict[SemanticType, type[ColumnEncoder]] = {
    SemanticType.NUMERICAL: NumericalEncoder,
    SemanticType.CATEGORICAL: CategoricalEncoder,
    SemanticType.BOOLEAN: BooleanEncoder,
    SemanticType.DATETIME: DatetimeEncoder,
    SemanticType.ID: IdEncoder,
    SemanticType.PII: PiiEncoder,
    SemanticType.TEXT: TextEncoder,
    SemanticType.CONSTANT: ConstantEncoder,
}


def encoder_for(spec: ColumnSpec) -> ColumnEncoder:
    """The encoder for a column spec.

    Example:
        >>> from sosie.schema import ColumnSpec
        >>> type(encoder_for(ColumnSpec("x", "boolean"))).__name__
        'BooleanEncoder'
    """
    return _ENCODERS[spec.type](spec)
