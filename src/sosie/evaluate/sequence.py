"""Sequence evaluation: synthetic event sequences against the real ones they were made from.

Event data (visits per patient, transactions per customer, survey waves per person) is one
long table described by a :class:`~sosie.schema.SequenceSchema`: an entity column, an
optional time column, static columns (one value per entity) and event columns.
:func:`evaluate_sequences` compares three such tables (real train, real holdout, synthetic)
and returns an :class:`~sosie.evaluate.Evaluation` that the HTML report renders.

Every metric works on *entities* (whole sequences), so their confidence intervals resample
entities, never single events (events of one entity are not independent):

* ``sequence_length``: 1 - Kolmogorov-Smirnov statistic of the number of events per entity.
* ``inter_arrival``: 1 - KS statistic of the gaps between consecutive events of an entity
  (seconds for datetime time columns, the column's own unit for numbers).
* ``autocorrelation``: for each numeric event column and lag 1..k, the pooled within-entity
  autocorrelation (values demeaned per entity, pairs of events ``lag`` positions apart in
  the same entity); score 1 - |r real - r synthetic| / 2, averaged.
* ``transitions``: for each categorical or boolean event column, the first-order transition
  matrix P(next | current); score 1 - total variation distance of each row, averaged with the
  real frequency of the current state as weight.
* ``entity_aggregates``: the per-entity feature table of :func:`sequence_features` (length,
  duration, gaps, mean/std/min/max/first/last of numbers, category shares...): the mean of
  its column shapes (aggregates only) and its pair trends (aggregates with static columns).
* ``static_shapes``: column shapes of the static columns, one row per entity.
* ``detection_auc``: a classifier telling real from synthetic *entities* by their
  per-sequence features, cross-validated (best 0.5).
* ``tstr_ratio`` and ``utility_*``: with a ``target`` (a static column), models trained on
  the per-sequence features of synthetic entities (TSTR) and of real train entities (TRTR),
  both tested on real holdout entities.

Example:
    >>> import numpy as np, pandas as pd
    >>> from sosie.schema import infer_sequence_schema
    >>> g = np.random.default_rng(0)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(60), 5), "t": np.tile(np.arange(5), 60),
    ...                    "x": g.normal(size=300).cumsum()})
    >>> s = infer_sequence_schema(df, entity="id", time="t")
    >>> ev = evaluate_sequences(df, None, df, schema=s, rng=0,
    ...                         metrics=("sequence_length", "autocorrelation"))
    >>> ev["sequence_length"].value, ev["autocorrelation"].value
    (1.0, 1.0)
"""

from __future__ import annotations

import logging
import math
import time as _time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator, as_seed_sequence
from ..errors import InvalidDataError, Problem
from ..schema import ColumnSpec, SemanticType, SequenceSchema, TableSchema
from ..schema._infer import check_frame
from ..schema._sequence import split_sequences, validate_sequences
from ..schema._validate import coerce_column
from ._core import Evaluation, MetricResult, clip01, mean_or_nan
from ._features import _numeric
from .fidelity import (
    _category_text,
    _centred_ci,
    _column_shapes,
    _detection,
    _g,
    _hist,
    _hist_edges,
    _ks_complement,
    _pair_trends,
    _prepare,
)

__all__ = ["SEQUENCE_METRICS", "evaluate_sequences", "sequence_features"]

log = logging.getLogger(__name__)

SEQUENCE_METRICS = (
    "sequence_length",
    "inter_arrival",
    "autocorrelation",
    "transitions",
    "entity_aggregates",
    "static_shapes",
    "detection_auc",
    "utility",
)
MAX_CATEGORIES = 10  # categories per event column in the features and transition matrices
OTHER = "<other>"
N_BOOT = 30  # bootstrap resamples of entities for the intervals
HOLDOUT_SHARE = 0.3  # share of real_train entities held out for TSTR when no holdout is given
_CATEGORICAL = (SemanticType.CATEGORICAL, SemanticType.BOOLEAN)


# --------------------------------------------------------------------------- preparation


def _time_values(events: pd.DataFrame, schema: SequenceSchema) -> np.ndarray | None:
    """The time column: int64 nanoseconds since 1970 (UTC) for datetimes, else floats."""
    if schema.time is None:
        return None
    spec = schema.table[schema.time]
    if schema.time_kind != "datetime":
        return _numeric(events[schema.time], spec)
    parsed, _ = coerce_column(events[schema.time], spec)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]").to_numpy().astype(np.int64)


def _seconds(delta: np.ndarray) -> np.ndarray:
    """Time differences in the report's unit: seconds for int64 nanoseconds, else as they are."""
    return delta / 1e9 if delta.dtype.kind == "i" else delta.astype(float)


def _vocabulary(
    events: pd.DataFrame, schema: SequenceSchema, max_categories: int = MAX_CATEGORIES
) -> dict[str, list[str]]:
    """The most frequent categories (as text) of each categorical or boolean event column."""
    out = {}
    for c in schema.events:
        if schema.table[c].type not in _CATEGORICAL:
            continue
        text = _category_text(events[c])
        counts = pd.Series(text[text != None]).value_counts(sort=True)  # noqa: E711
        out[c] = [str(v) for v in counts.index[:max_categories]]
    return out


def _state_codes(text: np.ndarray, vocab: Sequence[str]) -> np.ndarray:
    """Codes of category texts: ``i`` for ``vocab[i]``, ``len(vocab)`` for any other value,
    -1 for nulls."""
    codes = pd.Index(list(vocab), dtype=object).get_indexer(text)
    codes[codes < 0] = len(vocab)
    codes[pd.isna(text)] = -1
    return codes.astype(np.int64)


class _Sequences:
    """One event table in working form: events sorted by entity then time, entity codes."""

    def __init__(self, data: pd.DataFrame, schema: SequenceSchema) -> None:
        entities, events = split_sequences(data, schema)
        self.schema = schema
        self.entities = entities
        self.events = events
        self.code = pd.factorize(events[schema.entity], sort=False)[0].astype(np.int64)
        self.n = len(entities)
        self.sizes = np.bincount(self.code, minlength=self.n)
        self.time = _time_values(events, schema)
        self.same_next = self.code[1:] == self.code[:-1]  # pairs of consecutive events

    @property
    def n_events(self) -> int:
        return len(self.events)

    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Gaps between consecutive events and the entity code of each gap."""
        assert self.time is not None
        d = _seconds(np.diff(self.time)[self.same_next])
        return d, self.code[1:][self.same_next]

    def lagged(self, lag: int) -> tuple[np.ndarray, np.ndarray]:
        """Row positions ``i`` such that event ``i + lag`` belongs to the same entity."""
        if lag >= len(self.code):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        ok = self.code[lag:] == self.code[:-lag]
        i = np.flatnonzero(ok)
        return i, self.code[i]


def _ragged_take(values: np.ndarray, owner: np.ndarray, n: int, idx: np.ndarray) -> np.ndarray:
    """The values of entities ``idx`` (with repeats), where ``owner`` (sorted) maps each value
    to its entity."""
    counts = np.bincount(owner, minlength=n)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    lens = counts[idx]
    total = int(lens.sum())
    if total == 0:
        return values[:0]
    offsets = np.repeat(starts[idx] - np.r_[0, np.cumsum(lens)[:-1]], lens)
    return values[offsets + np.arange(total)]


# --------------------------------------------------------------------------- features


def sequence_features(
    events: pd.DataFrame,
    schema: SequenceSchema,
    *,
    categories: Mapping[str, Sequence[Any]] | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> pd.DataFrame:
    """One row of features per entity: its static columns and aggregates of its events.

    The table that the per-entity fidelity, the detection classifier and the sequence-level
    utility task all use. Computed with vectorised group operations (no loop over
    entities); sequences of any length, nulls, datetime, numeric or no time column work.

    Columns, in order:

    * the static columns, as they are;
    * ``n_events``; with a time column also ``start`` (the first time: a datetime, or a
      number), ``duration`` (last - first), ``mean_gap`` and ``std_gap`` (gaps between
      consecutive events; seconds for datetimes, the column's unit for numbers);
    * per numeric event column ``x``: ``mean(x)``, ``std(x)``, ``min(x)``, ``max(x)``,
      ``first(x)``, ``last(x)`` (nulls skipped), and ``missing(x)`` (share of null events)
      when the schema says the column is nullable;
    * per categorical or boolean event column ``c``: ``share(c=v)`` for each category ``v``
      (of the non-null events; booleans and two-level columns keep one level),
      ``switches(c)`` (share of consecutive non-null events whose category changes) and
      ``missing(c)`` when nullable.

    Undefined values (the std of one event, the gaps of a one-event sequence) are NaN.

    Args:
        events: the event table (long format, any row order).
        schema: its sequence schema.
        categories: category values per categorical event column; default: the
            ``max_categories`` most frequent in ``events``. Pass the same mapping when two
            tables must get the same columns (:func:`evaluate_sequences` passes the real
            training data's).
        max_categories: categories per column when ``categories`` does not give them.

    Returns:
        A DataFrame indexed by entity (in order of first appearance).

    Example:
        >>> from sosie.schema import infer_sequence_schema
        >>> df = pd.DataFrame({"id": [1, 1, 1, 2], "t": [0.0, 2.0, 3.0, 5.0],
        ...                    "x": [1.0, 3.0, 5.0, 7.0], "c": ["a", "b", "b", "c"]})
        >>> s = infer_sequence_schema(df, entity="id", time="t")
        >>> f = sequence_features(df, s)
        >>> f.loc[1, ["n_events", "duration", "mean_gap", "mean(x)", "last(x)"]].tolist()
        [3.0, 3.0, 1.5, 3.0, 5.0]
        >>> f.loc[1, ["share(c=a)", "share(c=b)", "switches(c)"]].round(3).tolist()
        [0.333, 0.667, 0.5]
    """
    problems = check_frame(events, what="events")
    if problems:
        raise InvalidDataError(problems)
    validate_sequences(events, schema)
    vocab = dict(_vocabulary(events, schema, max_categories))
    for c, values in (categories or {}).items():
        if c in vocab:
            vocab[c] = [str(v) for v in _category_text(pd.Series(list(values), dtype=object))]
    return _features(_Sequences(events, schema), vocab)


def _group_mean(values: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    ok = ~np.isnan(values)
    num = np.bincount(code[ok], weights=values[ok], minlength=n)
    den = np.bincount(code[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


class _Unique(dict):
    """A dict whose repeated keys get a trailing ``_`` (a static column named like a feature)."""

    def __setitem__(self, key: str, value: Any) -> None:
        while key in self:
            key = f"{key}_"
        super().__setitem__(key, value)


def _features(seq: _Sequences, vocab: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    schema, ev, code, n = seq.schema, seq.events, seq.code, seq.n
    cols: dict[str, Any] = _Unique()
    for c in schema.static:
        cols[c] = seq.entities[c].to_numpy()
    cols["n_events"] = seq.sizes.astype(float)
    if seq.time is not None:
        first = np.r_[0, np.cumsum(seq.sizes)[:-1]]
        last = np.cumsum(seq.sizes) - 1
        if schema.time_kind == "datetime":
            cols["start"] = seq.time[first].astype("datetime64[ns]")
        else:
            cols["start"] = seq.time[first]
        cols["duration"] = _seconds(seq.time[last] - seq.time[first])
        gaps, owner = seq.gaps()
        cols["mean_gap"] = _group_mean(gaps, owner, n)
        g = pd.Series(gaps).groupby(owner).std()
        cols["std_gap"] = g.reindex(np.arange(n)).to_numpy(dtype=float)
    numeric = [
        c
        for c in schema.events
        if schema.table[c].type in (SemanticType.NUMERICAL, SemanticType.DATETIME)
    ]
    if numeric:
        x = pd.DataFrame(
            {c: _numeric(ev[c], schema.table[c]) for c in numeric}, index=pd.RangeIndex(len(ev))
        )
        agg = x.groupby(code, sort=True).agg(["mean", "std", "min", "max", "first", "last"])
        agg = agg.reindex(np.arange(n))
        for c in numeric:
            for stat in ("mean", "std", "min", "max", "first", "last"):
                cols[f"{stat}({c})"] = agg[(c, stat)].to_numpy(dtype=float)
            if schema.table[c].nullable:
                cols[f"missing({c})"] = _group_mean(x[c].isna().to_numpy(float), code, n)
    for c, cats in vocab.items():
        text = _category_text(ev[c])
        states = _state_codes(text, cats)
        ok = states >= 0
        k = len(cats) + 1
        counts = np.bincount(code[ok] * k + states[ok], minlength=n * k).reshape(n, k)
        total = counts.sum(1)
        shares = counts / np.maximum(total, 1)[:, None]
        shares[total == 0] = np.nan
        keep = list(range(len(cats)))
        if schema.table[c].type is SemanticType.BOOLEAN or len(cats) == 2:
            keep = keep[1:]  # the shares of a two-level column add up to one
        for j in keep:
            cols[f"share({c}={cats[j]})"] = shares[:, j]
        pair_ok = seq.same_next & ok[1:] & ok[:-1]
        changed = (states[1:] != states[:-1])[pair_ok].astype(float)
        cols[f"switches({c})"] = _group_mean(changed, code[1:][pair_ok], n)
        if schema.table[c].nullable:
            cols[f"missing({c})"] = _group_mean((~ok).astype(float), code, n)
    index = pd.Index(seq.entities[schema.entity].to_numpy(), name=schema.entity)
    return pd.DataFrame(cols, index=index)


def _feature_schema(features: pd.DataFrame, schema: SequenceSchema) -> TableSchema:
    """The feature table's schema: static columns keep their spec, the rest are numbers."""
    specs = []
    for c in features.columns:
        if c in schema.static:
            specs.append(schema.table[c])
        elif pd.api.types.is_datetime64_any_dtype(features[c]):
            specs.append(ColumnSpec(c, SemanticType.DATETIME, nullable=False))
        else:
            specs.append(ColumnSpec(c, SemanticType.NUMERICAL, dtype="float", nullable=True))
    return TableSchema(specs)


# --------------------------------------------------------------------------- metrics


def _na_result(name: str, desc: str, reason: str, goal: str = "maximize") -> MetricResult:
    return MetricResult(
        name,
        "fidelity",
        goal,  # type: ignore[arg-type]
        (0.0, 1.0),
        float("nan"),
        float("nan"),
        desc,
        details={"reason": reason},
    )


def _sequence_length(real: _Sequences, syn: _Sequences, gen: np.random.Generator) -> MetricResult:
    r, s = real.sizes.astype(float), syn.sizes.astype(float)
    value = _ks_complement(r, s)
    ci = _centred_ci(value, lambda ri, si: _ks_complement(r[ri], s[si]), real.n, syn.n, N_BOOT, gen)
    edges = _hist_edges(r)
    return MetricResult(
        "sequence_length",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "1 - Kolmogorov-Smirnov statistic of the number of events per entity",
        ci=ci,
        details={
            "histogram": {
                "edges": [_g(e) for e in edges],
                "real": _hist(r, edges),
                "synthetic": _hist(s, edges),
                "x_label": "events per entity",
                "y_label": "density",
                "title": "Events per entity",
                "note": "lengths beyond the shown range count in the outer bins",
            },
            "mean": {"real": _g(r.mean()), "synthetic": _g(s.mean())},
            "quantiles": _quantiles(r, s),
            "n_entities": {"real": real.n, "synthetic": syn.n},
        },
    )


def _quantiles(r: np.ndarray, s: np.ndarray) -> dict[str, dict[str, float]]:
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    out = {}
    for who, x in (("real", r), ("synthetic", s)):
        x = x[np.isfinite(x)]
        out[who] = (
            {f"q{round(q * 100):02d}": _g(v) for q, v in zip(qs, np.quantile(x, qs), strict=True)}
            if x.size
            else {}
        )
    return out


def _inter_arrival(real: _Sequences, syn: _Sequences, gen: np.random.Generator) -> MetricResult:
    desc = "1 - Kolmogorov-Smirnov statistic of the gaps between consecutive events of an entity"
    schema = real.schema
    if schema.time is None:
        return _na_result("inter_arrival", desc, "no time column: the row order is the order")
    unit = "seconds" if schema.time_kind == "datetime" else f"units of {schema.time!r}"
    rg, ro = real.gaps()
    sg, so = syn.gaps()
    if rg.size == 0:
        return _na_result("inter_arrival", desc, "no real entity has two events")
    value = _ks_complement(rg, sg)

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        return _ks_complement(_ragged_take(rg, ro, real.n, ri), _ragged_take(sg, so, syn.n, si))

    ci = _centred_ci(value, stat, real.n, syn.n, N_BOOT, gen)
    hist = _gap_histogram(rg, sg, unit)
    return MetricResult(
        "inter_arrival",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        f"{desc} ({unit})",
        ci=ci,
        details={
            "histogram": hist,
            "unit": unit,
            "quantiles": _quantiles(rg, sg),
            "zero_gap_share": {
                "real": _g(float(np.mean(rg == 0))),
                "synthetic": _g(float(np.mean(sg == 0))) if sg.size else None,
            },
            "n_gaps": {"real": int(rg.size), "synthetic": int(sg.size)},
        },
    )


def _gap_histogram(rg: np.ndarray, sg: np.ndarray, unit: str) -> dict[str, Any]:
    """Shared-bin histograms of the gaps; on a log10 scale when they span several decades."""
    fin = rg[np.isfinite(rg)]
    pos = fin[fin > 0]
    whole = bool(np.all(fin == np.round(fin)))
    span = float(pos.max() / pos.min()) if pos.size else 1.0
    if pos.size and span > 100 and not (whole and fin.max() - fin.min() <= 30):
        lr, ls = (
            np.log10(np.where(rg > 0, rg, pos.min())),
            np.log10(np.where(sg > 0, sg, pos.min())),
        )
        edges = _hist_edges(np.log10(pos))
        return {
            "edges": [_g(e) for e in edges],
            "real": _hist(lr, edges),
            "synthetic": _hist(ls, edges),
            "x_label": f"log10 gap ({unit})",
            "y_label": "density",
            "title": "Gaps between consecutive events (log scale)",
            "log10": True,
            "note": "zero gaps and gaps beyond the shown range count in the outer bins",
        }
    edges = _hist_edges(fin)
    return {
        "edges": [_g(e) for e in edges],
        "real": _hist(rg, edges),
        "synthetic": _hist(sg, edges),
        "x_label": f"gap ({unit})",
        "y_label": "density",
        "title": "Gaps between consecutive events",
        "log10": False,
        "note": "gaps beyond the shown range count in the outer bins",
    }


def _acf_parts(seq: _Sequences, cols: Sequence[str], lags: int) -> np.ndarray:
    """Per entity, column and lag: sums of d_i d_{i+lag}, d_i^2 and d_{i+lag}^2 over the pairs
    of non-null events ``lag`` apart, ``d`` being the value minus the entity's mean.
    Shape ``(n_entities, len(cols), lags, 3)``."""
    out = np.zeros((seq.n, len(cols), lags, 3))
    for j, c in enumerate(cols):
        x = _numeric(seq.events[c], seq.schema.table[c])
        x = np.where(np.isfinite(x), x, np.nan)
        d = x - _group_mean(x, seq.code, seq.n)[seq.code]
        for lag in range(1, lags + 1):
            i, owner = seq.lagged(lag)
            a, b = d[i], d[i + lag]
            ok = ~(np.isnan(a) | np.isnan(b))
            a, b, owner = a[ok], b[ok], owner[ok]
            for k, w in enumerate((a * b, a * a, b * b)):
                out[:, j, lag - 1, k] = np.bincount(owner, weights=w, minlength=seq.n)
    return out


def _acf(parts: np.ndarray) -> np.ndarray:
    """Pooled autocorrelation per column and lag from summed parts ``(..., 3)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        den = np.sqrt(parts[..., 1] * parts[..., 2])
        return np.where(den > 0, parts[..., 0] / np.where(den > 0, den, 1.0), np.nan)


def _acf_score(r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """1 - |r - s| / 2 per column and lag (a missing synthetic value counts as 0)."""
    return np.where(np.isnan(r), np.nan, 1.0 - np.abs(r - np.nan_to_num(s)) / 2.0)


def _autocorrelation(
    real: _Sequences, syn: _Sequences, gen: np.random.Generator, lags: int
) -> MetricResult:
    schema = real.schema
    desc = (
        f"mean over numeric event columns and lags 1-{lags} of 1 - |r real - r synthetic| / 2, "
        "r the pooled within-entity autocorrelation (values demeaned per entity)"
    )
    cols = [c for c in schema.events if schema.table[c].type is SemanticType.NUMERICAL]
    if not cols:
        return _na_result("autocorrelation", desc, "no numeric event columns")
    pr, ps = _acf_parts(real, cols, lags), _acf_parts(syn, cols, lags)
    ar, as_ = _acf(pr.sum(0)), _acf(ps.sum(0))
    scores = _acf_score(ar, as_)
    per_col = {c: mean_or_nan(list(scores[j])) for j, c in enumerate(cols)}
    value = mean_or_nan(list(per_col.values()))
    if not math.isfinite(value):
        return _na_result("autocorrelation", desc, "no entity has two non-null values in a row")

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        sc = _acf_score(_acf(pr[ri].sum(0)), _acf(ps[si].sum(0)))
        return mean_or_nan([mean_or_nan(list(row)) for row in sc])

    ci = _centred_ci(value, stat, real.n, syn.n, N_BOOT, gen)
    return MetricResult(
        "autocorrelation",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        desc,
        ci=ci,
        breakdown={c: _g(v) for c, v in per_col.items()},
        details={
            "acf": {
                c: {
                    "lags": list(range(1, lags + 1)),
                    "real": [_g(v) for v in ar[j]],
                    "synthetic": [_g(v) for v in as_[j]],
                }
                for j, c in enumerate(cols)
            },
            "lags": lags,
            "method": "pairs of non-null events `lag` positions apart in one entity, values "
            "minus the entity's mean, pooled over entities: sum(d_i d_j) / "
            "sqrt(sum(d_i^2) sum(d_j^2))",
        },
    )


def _transition_counts(seq: _Sequences, col: str, vocab: Sequence[str]) -> np.ndarray:
    """Per entity, the counts of (current, next) state pairs: ``(n_entities, k * k)``."""
    k = len(vocab) + 1
    states = _state_codes(_category_text(seq.events[col]), vocab)
    ok = seq.same_next & (states[1:] >= 0) & (states[:-1] >= 0)
    pair = states[:-1][ok] * k + states[1:][ok]
    owner = seq.code[1:][ok]
    return np.bincount(owner * k * k + pair, minlength=seq.n * k * k).reshape(seq.n, k * k)


def _transition_score(cr: np.ndarray, cs: np.ndarray, k: int) -> float:
    """1 - row-weighted total variation distance of P(next | current); weights: real row counts."""
    r, s = cr.reshape(k, k), cs.reshape(k, k)
    rr, rs = r.sum(1), s.sum(1)
    if rr.sum() == 0:
        return float("nan")
    pr = r / np.maximum(rr, 1)[:, None]
    ps = s / np.maximum(rs, 1)[:, None]
    tv = np.where(rs > 0, 0.5 * np.abs(pr - ps).sum(1), 1.0)
    return float(1.0 - (tv * rr).sum() / rr.sum())


def _transitions(
    real: _Sequences,
    syn: _Sequences,
    vocab: Mapping[str, Sequence[str]],
    gen: np.random.Generator,
) -> MetricResult:
    desc = (
        "mean over categorical event columns of 1 - total variation distance between the real "
        "and synthetic P(next category | current), rows weighted by their real frequency"
    )
    if not vocab:
        return _na_result("transitions", desc, "no categorical or boolean event columns")
    counts = {
        c: (_transition_counts(real, c, v), _transition_counts(syn, c, v)) for c, v in vocab.items()
    }
    ks = {c: len(v) + 1 for c, v in vocab.items()}
    per_col = {c: _transition_score(r.sum(0), s.sum(0), ks[c]) for c, (r, s) in counts.items()}
    value = mean_or_nan(list(per_col.values()))
    if not math.isfinite(value):
        return _na_result("transitions", desc, "no entity has two non-null events in a row")

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        return mean_or_nan(
            [_transition_score(r[ri].sum(0), s[si].sum(0), ks[c]) for c, (r, s) in counts.items()]
        )

    ci = _centred_ci(value, stat, real.n, syn.n, N_BOOT, gen)
    details: dict[str, Any] = {}
    for c, (r, s) in counts.items():
        k = ks[c]
        cr, cs = r.sum(0).reshape(k, k), s.sum(0).reshape(k, k)
        used = (cr.sum(0) + cr.sum(1) + cs.sum(0) + cs.sum(1)) > 0  # drops an unused OTHER
        idx = np.flatnonzero(used)
        states = [*vocab[c], OTHER]

        def probs(m: np.ndarray, idx: np.ndarray = idx) -> list[list[float | None]]:
            rows = m[np.ix_(idx, idx)].astype(float)
            tot = m[idx].sum(1)
            return [
                [_g(v / t) for v in row] if t > 0 else [None] * len(idx)
                for row, t in zip(rows, tot, strict=True)
            ]

        details[c] = {
            "states": [states[i] for i in idx],
            "real": probs(cr),
            "synthetic": probs(cs),
            "real_counts": [int(v) for v in cr[idx].sum(1)],
            "synthetic_counts": [int(v) for v in cs[idx].sum(1)],
        }
    return MetricResult(
        "transitions",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        desc,
        ci=ci,
        breakdown={c: _g(v) for c, v in per_col.items()},
        details={
            "transitions": details,
            "note": f"rows: current state, columns: next state; the {MAX_CATEGORIES} most "
            f"frequent real categories, the rest as {OTHER!r}; pairs with a null are skipped",
        },
    )


def _entity_aggregates(
    real_f: pd.DataFrame,
    syn_f: pd.DataFrame,
    fschema: TableSchema,
    static: Sequence[str],
    gen: np.random.Generator,
) -> MetricResult:
    desc = (
        "mean of column shapes (1 - KS) of the per-entity aggregates and pair trends of the "
        "aggregates with the static columns"
    )
    agg_names = [c for c in fschema.names if c not in static]
    shapes = _column_shapes(
        _prepare(real_f, syn_f, fschema.select(agg_names)), gen, n_boot=N_BOOT // 2
    )
    trends = _pair_trends(
        _prepare(real_f, syn_f, fschema),
        gen,
        max_pairs=300,
        max_rows=20_000,
        n_bins=10,
        n_boot=N_BOOT // 3,
    )
    value = mean_or_nan([shapes.value, trends.value])
    ci = None
    if shapes.ci is not None and trends.ci is not None:
        # the mean of the two intervals' ends: exact if the two statistics move together,
        # wider than the interval of the mean otherwise
        ci = (
            (shapes.ci[0] + trends.ci[0]) / 2,
            (shapes.ci[1] + trends.ci[1]) / 2,
        )
    heat = trends.details.get("correlation", {})
    cols = list(heat.get("columns", []))[:20]
    n = len(cols)
    return MetricResult(
        "entity_aggregates",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        desc,
        ci=ci,
        breakdown=shapes.breakdown,
        details={
            "columns": shapes.details["columns"],
            "column_shapes": _g(shapes.value),
            "pair_trends": _g(trends.value),
            "worst_pairs": dict(sorted(trends.breakdown.items(), key=lambda kv: kv[1])[:10]),
            "heatmap": {
                "columns": cols,
                "method": "pearson",
                "real": [row[:n] for row in heat.get("real", [])[:n]],
                "synthetic": [row[:n] for row in heat.get("synthetic", [])[:n]],
            }
            if n >= 2
            else {},
            "n_entities": {"real": len(real_f), "synthetic": len(syn_f)},
            "features": "see sosie.evaluate.sequence_features",
        },
    )


def _static_shapes(real: _Sequences, syn: _Sequences, gen: np.random.Generator) -> MetricResult:
    static = real.schema.static
    desc = "column shapes (1 - KS or 1 - total variation) of the static columns, one row per entity"
    if not static:
        return _na_result("static_shapes", desc, "no static columns")
    r = _column_shapes(
        _prepare(real.entities, syn.entities, real.schema.table.select(list(static))),
        gen,
        N_BOOT,
    )
    if not r.breakdown:
        return _na_result("static_shapes", desc, "no static column that can be compared")
    r.name = "static_shapes"
    r.description = desc
    return r


# --------------------------------------------------------------------------- the protocol


def _validated(data: Any, schema: SequenceSchema, what: str) -> None:
    problems = check_frame(data, min_rows=2, what=what)
    if problems:
        raise InvalidDataError(problems)
    try:
        validate_sequences(data, schema)
    except InvalidDataError as e:
        raise InvalidDataError(
            [Problem(f"{what}: {p.where}", p.expected, p.found, p.fix) for p in e.errors]
        ) from None
    n = data[schema.entity].nunique()
    if n < 2:
        raise InvalidDataError(
            Problem(
                f"{what} entities",
                "at least two entities (sequences)",
                f"{n}",
                "pass more sequences",
            )
        )


def _cap(data: pd.DataFrame, entity: str, max_entities: int | None, gen) -> pd.DataFrame:
    ids = pd.unique(data[entity])
    if max_entities is None or len(ids) <= max_entities:
        return data
    keep = ids[np.sort(gen.choice(len(ids), max_entities, replace=False))]
    return data[data[entity].isin(keep)]


def evaluate_sequences(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    *,
    schema: SequenceSchema,
    target: str | None = None,
    rng: RNGLike = None,
    metrics: Sequence[str] = SEQUENCE_METRICS,
    lags: int = 3,
    max_entities: int | None = 20_000,
    max_categories: int = MAX_CATEGORIES,
) -> Evaluation:
    """Evaluate synthetic event sequences against the real ones (fidelity and utility).

    All three tables are event tables in the long format of ``schema`` (one row per event).
    See the module docstring for what each metric measures; every score is in [0, 1],
    higher is better, with a 95 % interval from resampling entities.

    Args:
        real_train: the real sequences the generator was fitted on.
        real_holdout: real sequences of other entities the generator never saw, or ``None``:
            then the utility task holds out a random 30 % of the ``real_train`` entities
            (stratified on ``target``), which the generator *did* see, so TSTR is optimistic;
            ``meta["holdout"]`` and the utility descriptions say so.
        synthetic: the synthetic sequences.
        schema: the sequence schema (entity, time, static and event columns).
        target: a static column to predict from the per-sequence features (TSTR next to
            TRTR); ``None`` skips utility.
        rng: seed for subsampling, bootstraps, folds and models.
        metrics: which of :data:`SEQUENCE_METRICS` to compute (``"utility"`` gives
            ``tstr_ratio`` and ``utility_*``).
        lags: the autocorrelation lags 1..``lags``.
        max_entities: each table is subsampled to this many entities (stated in ``meta``).
        max_categories: categories per categorical event column (the real data's most
            frequent; the rest pooled).

    Returns:
        An :class:`~sosie.evaluate.Evaluation`; ``meta["sequences"]`` records the entity and
        time columns and the numbers of entities and events of each table.

    Raises:
        InvalidDataError: a table does not fit the schema (named in each problem), has fewer
            than two entities, or ``target`` is not a static column.

    Example:
        >>> from sosie.datasets import load_rdataset
        >>> from sosie.schema import infer_sequence_schema
        >>> nls = load_rdataset("sampleSelection", "nlswork")
        >>> s = infer_sequence_schema(nls, entity="idcode", time="year")
        >>> ev = evaluate_sequences(nls, None, nls, schema=s, rng=0,
        ...                         metrics=("sequence_length", "inter_arrival", "transitions"))
        >>> [round(m.value, 3) for m in ev]
        [1.0, 1.0, 1.0]
        >>> ev.meta["sequences"]["n_entities"]["real_train"]
        4711
    """
    t_all = _time.perf_counter()
    if not isinstance(schema, SequenceSchema):
        raise TypeError(
            f"schema: expected a SequenceSchema (sosie.schema.infer_sequence_schema), "
            f"found {type(schema).__name__}"
        )
    unknown = [m for m in metrics if m not in SEQUENCE_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {SEQUENCE_METRICS}")
    if lags < 1:
        raise ValueError(f"lags must be at least 1, got {lags!r}")
    tables = {"real_train": real_train, "synthetic": synthetic}
    if real_holdout is not None:
        tables["real_holdout"] = real_holdout
    for what, df in tables.items():
        _validated(df, schema, what)
    if target is not None and target not in schema.static:
        raise InvalidDataError(
            Problem(
                f"target {target!r}",
                "a static column (one value per entity) to predict from the sequence",
                "an event column" if target in schema.events else "no such static column",
                "pass one of: " + ", ".join(map(repr, schema.static))
                if schema.static
                else "add a per-entity label as a static column",
            )
        )
    seq_seed = as_seed_sequence(rng)
    seeds = dict(zip(SEQUENCE_METRICS, seq_seed.spawn(len(SEQUENCE_METRICS)), strict=True))
    sub = as_generator(seq_seed.spawn(1)[0])
    train_df = _cap(real_train, schema.entity, max_entities, sub)
    syn_df = _cap(synthetic, schema.entity, max_entities, sub)
    hold_df = (
        _cap(real_holdout, schema.entity, max_entities, sub) if real_holdout is not None else None
    )
    real, syn = _Sequences(train_df, schema), _Sequences(syn_df, schema)
    vocab = _vocabulary(real.events, schema, max_categories)

    def gen(name: str) -> np.random.Generator:
        return as_generator(seeds[name])

    results: list[MetricResult] = []
    timings: dict[str, float] = {}
    feats: dict[str, pd.DataFrame] = {}

    def features(name: str) -> pd.DataFrame:
        if name not in feats:
            if name == "real_train":
                feats[name] = _features(real, vocab)
            elif name == "synthetic":
                feats[name] = _features(syn, vocab)
            else:
                feats[name] = _features(_Sequences(hold_df, schema), vocab)
        return feats[name]

    skipped: dict[str, str] = {
        "privacy": "evaluate_sequences measures fidelity and utility; run the privacy attacks "
        "on the per-entity table",
        "fairness": "not evaluated for sequences",
    }
    task = None
    holdout_note = "real_holdout (entities the generator never saw)"
    for name in SEQUENCE_METRICS:
        if name not in metrics:
            continue
        t0 = _time.perf_counter()
        if name == "sequence_length":
            results.append(_sequence_length(real, syn, gen(name)))
        elif name == "inter_arrival":
            results.append(_inter_arrival(real, syn, gen(name)))
        elif name == "autocorrelation":
            results.append(_autocorrelation(real, syn, gen(name), lags))
        elif name == "transitions":
            results.append(_transitions(real, syn, vocab, gen(name)))
        elif name == "static_shapes":
            results.append(_static_shapes(real, syn, gen(name)))
        elif name in ("entity_aggregates", "detection_auc"):
            rf, sf = features("real_train"), features("synthetic")
            fschema = _feature_schema(rf, schema)
            if name == "entity_aggregates":
                results.append(_entity_aggregates(rf, sf, fschema, schema.static, gen(name)))
            else:
                r = _detection(_prepare(rf, sf, fschema), gen(name), max_rows=10_000, n_folds=5)
                r.description = (
                    "cross-validated ROC AUC of gradient boosting telling real from synthetic "
                    "entities by their per-sequence features (0.5: indistinguishable)"
                )
                r.details["unit"] = "entities"
                results.append(r)
        elif name == "utility":
            if target is None:
                skipped["utility"] = "no target (a static column) was given"
                continue
            from ._evaluate import split_holdout
            from .utility import utility_metrics

            rf, sf = features("real_train"), features("synthetic")
            if hold_df is not None:
                train_f, hold_f = rf, features("real_holdout")
            else:
                ents = pd.DataFrame({"_row": np.arange(len(rf)), target: rf[target].to_numpy()})
                tr, ho = split_holdout(ents, target=target, holdout=HOLDOUT_SHARE, rng=gen(name))
                train_f = rf.iloc[np.sort(tr["_row"].to_numpy())]
                hold_f = rf.iloc[np.sort(ho["_row"].to_numpy())]
                holdout_note = (
                    f"a random {HOLDOUT_SHARE:.0%} of the real_train entities (stratified on "
                    f"{target!r}); the generator saw them, so TSTR is optimistic"
                )
            fschema = _feature_schema(rf, schema)
            from threadpoolctl import threadpool_limits  # ships with scikit-learn

            # one BLAS/OpenMP thread: these models are small, and shared cores make the
            # threads of the linear model's solver spin (5x slower, measured on 2 cores)
            with threadpool_limits(limits=1):
                us = utility_metrics(train_f, hold_f, sf, fschema, target, rng=gen(name), n_boot=50)
            for u in us:
                u.description = (
                    f"{u.description}; sequence-level task: per-sequence features of each "
                    f"entity, tested on {holdout_note}"
                )
                u.details["unit"] = "entities"
                u.details["n_entities"] = {
                    "train_real": len(train_f),
                    "train_synthetic": len(sf),
                    "test_real": len(hold_f),
                }
            results += us
            from .utility import infer_task

            task = infer_task(fschema, target)
        timings[name] = round(_time.perf_counter() - t0, 3)
        log.info("evaluated %s in %.1fs", name, timings[name])

    from ._evaluate import _summary

    summary: dict[str, float | None] = {
        m.name: (m.value if math.isfinite(m.value) else None)
        for m in results
        if m.family == "fidelity" and m.name != "detection_auc"
    }
    summary.update(_summary(results))
    counts = {"real_train": (real.n, real.n_events), "synthetic": (syn.n, syn.n_events)}
    if hold_df is not None:
        counts["real_holdout"] = (
            int(hold_df[schema.entity].nunique()),
            len(hold_df),
        )
    meta = {
        "kind": "sequences",
        "sequences": {
            "entity": schema.entity,
            "time": schema.time,
            "time_kind": schema.time_kind,
            "gap_unit": None
            if schema.time is None
            else ("seconds" if schema.time_kind == "datetime" else f"units of {schema.time!r}"),
            "static": list(schema.static),
            "events": list(schema.events),
            "n_entities": {k: v[0] for k, v in counts.items()},
            "n_events": {k: v[1] for k, v in counts.items()},
            "n_entities_available": {
                k: int(df[schema.entity].nunique()) for k, df in tables.items()
            },
        },
        "n_real_train": len(real_train),
        "n_real_holdout": len(real_holdout) if real_holdout is not None else None,
        "n_synthetic": len(synthetic),
        "max_entities": max_entities,
        "target": target,
        "task": task,
        "holdout": holdout_note if target is not None and "utility" in metrics else None,
        "families": sorted({m.family for m in results}),
        "skipped": skipped,
        "seed_entropy": seq_seed.entropy,
        "seconds": {**timings, "total": round(_time.perf_counter() - t_all, 3)},
        "schema": schema.to_dict(),
    }
    return Evaluation(results, meta=meta, summary=summary)
