"""Fidelity: how closely synthetic rows reproduce the real table's distributions.

Every function compares the real *training* table with the synthetic table under one
schema and returns :class:`~sosie.evaluate.MetricResult` objects (family ``fidelity``,
``normalized`` in [0, 1], higher is better):

* :func:`column_shapes`: per column, 1 - Kolmogorov-Smirnov statistic (numbers, datetimes)
  or 1 - total variation distance (categories, booleans); nulls are ignored here, as in
  SDMetrics, and scored by :func:`missing_values`.
* :func:`pair_trends`: per column pair, 1 - |Pearson r real - Pearson r synthetic| / 2 for
  two numbers (SDMetrics' ``CorrelationSimilarity``) or 1 - total variation distance of the
  joint distribution for the other pairs (``ContingencySimilarity``), numbers being cut into
  quantile bins learned on the real column.
* :func:`missing_values`: per-column null shares and the joint pattern of nulls in a row.
* :func:`coverage`: ``range_coverage``, ``category_coverage``, ``new_category_rate`` and
  ``out_of_range_rate``.
* :func:`detection`: ``detection_auc``, the cross-validated AUC of a gradient-boosting
  classifier that tries to tell real rows from synthetic ones (0.5 is best). Identical rows
  always share a fold, so a copy of the training data scores 0.5, not less.

:func:`fidelity_metrics` runs them all; :func:`quality_score` is SDMetrics' quality score
(mean of column shapes and pair trends). Numbers and datetimes are compared as floats
(datetimes in days since 1970-01-01); categories are compared by their text, with whole
floats written as integers (``1.0`` and ``1`` are one category).

Confidence intervals: the statistic is recomputed on bootstrap resamples of both tables
(at most 10,000 rows each); the spread of these values, rescaled to the full table sizes
and centred on the point estimate, gives the 95 % interval. Centring matters: resampling
adds noise, which biases every distance upwards, so plain percentile intervals of a
distance can miss the estimate altogether.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .._rng import RNGLike, as_generator, as_seed_sequence
from ..schema import SemanticType, TableSchema
from ._core import MetricResult, bootstrap_ci, check_tables, clip01, mean_or_nan
from ._features import _numeric, modelled_columns

__all__ = [
    "column_shapes",
    "coverage",
    "detection",
    "fidelity_metrics",
    "missing_values",
    "pair_trends",
    "quality_score",
]

BOOT_ROWS = 10_000  # rows per table in each bootstrap resample
HIST_BINS = 30  # bins of the numeric overlays in column_shapes' details
TOP_CATEGORIES = 20  # categories shown in column_shapes' details (the rest is "<other>")
OTHER = "<other>"
PAIR_BINS = 10  # quantile bins of a number in a mixed pair
PAIR_MAX_LEVELS = 100  # categories kept per column in pair tables (the rest share a level)
HEATMAP_COLUMNS = 40  # columns in the association heatmaps
SDM_MIN_CORRELATION = 0.5  # SDMetrics' real-association thresholds (details only)
SDM_MIN_CRAMERS_V = 0.3
HGB_MAX_CODE = 253  # HistGradientBoosting needs category codes < max_bins (255)
_NUMERIC_TYPES = (SemanticType.NUMERICAL, SemanticType.DATETIME)


# --------------------------------------------------------------------------- preparation


@dataclass
class _Column:
    """One modelled column of both tables in working form."""

    name: str
    kind: str  # "numeric" or "categorical"
    is_datetime: bool
    real: np.ndarray  # numeric: float with NaN; categorical: int codes, -1 = null
    synthetic: np.ndarray
    categories: list[str] | None = None  # real categories by frequency, then synthetic-only
    n_real_categories: int = 0


@dataclass
class _Prepared:
    columns: list[_Column]
    null_names: list[str]  # every schema column, for the missing-value metric
    null_real: np.ndarray  # bool (n_real, n_columns)
    null_synthetic: np.ndarray

    @property
    def n_real(self) -> int:
        return self.null_real.shape[0]

    @property
    def n_synthetic(self) -> int:
        return self.null_synthetic.shape[0]


def _canonical(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _category_text(s: pd.Series) -> np.ndarray:
    """Category values as text (None for nulls), so that 1, 1.0 and '1' compare equal."""
    null = s.isna().to_numpy()
    out = np.full(len(s), None, dtype=object)
    if not (~null).any():
        return out
    vals = s[~null]
    if pd.api.types.is_bool_dtype(vals.dtype):
        out[~null] = np.where(vals.to_numpy(dtype=bool), "True", "False")
    elif pd.api.types.is_integer_dtype(vals.dtype):
        out[~null] = vals.astype("int64").astype(str).to_numpy(dtype=object)
    elif pd.api.types.is_float_dtype(vals.dtype):
        x = vals.to_numpy(dtype=float)
        whole = np.isfinite(x) & (x == np.round(x))
        text = vals.astype(str).to_numpy(dtype=object)
        text[whole] = x[whole].astype("int64").astype(str)
        out[~null] = text
    else:
        out[~null] = np.asarray([_canonical(v) for v in vals.to_numpy(dtype=object)], dtype=object)
    return out


def _prepare(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> _Prepared:
    check_tables({"real": real, "synthetic": synthetic}, schema)
    columns: list[_Column] = []
    for name in modelled_columns(schema):
        spec = schema[name]
        if spec.type in _NUMERIC_TYPES:
            r = np.array(_numeric(real[name], spec), dtype=float)  # a writable copy
            s = np.array(_numeric(synthetic[name], spec), dtype=float)
            r[~np.isfinite(r)] = np.nan
            s[~np.isfinite(s)] = np.nan
            columns.append(_Column(name, "numeric", spec.type is SemanticType.DATETIME, r, s))
        else:
            rt = _category_text(real[name])
            st = _category_text(synthetic[name])
            counts = pd.Series(rt[rt != None]).value_counts(sort=True)  # noqa: E711
            real_cats = [str(c) for c in counts.index]
            s_nn = pd.Series(st[st != None])  # noqa: E711
            extra = s_nn[~s_nn.isin(real_cats)].value_counts(sort=True)
            cats = real_cats + [str(c) for c in extra.index]
            index = pd.Index(cats, dtype=object)
            columns.append(
                _Column(
                    name,
                    "categorical",
                    False,
                    index.get_indexer(rt).astype(np.int64),
                    index.get_indexer(st).astype(np.int64),
                    cats,
                    len(real_cats),
                )
            )
    names = schema.names
    null_r = np.array(real[names].isna().to_numpy(), dtype=bool).reshape(len(real), len(names))
    null_s = np.array(synthetic[names].isna().to_numpy(), dtype=bool).reshape(
        len(synthetic), len(names)
    )
    for c in columns:  # unparseable numbers and datetimes count as nulls
        if c.kind == "numeric":
            k = names.index(c.name)
            null_r[:, k] |= np.isnan(c.real)
            null_s[:, k] |= np.isnan(c.synthetic)
    return _Prepared(columns, list(names), null_r, null_s)


def _subsample(prep: _Prepared, max_rows: int | None, gen: np.random.Generator) -> _Prepared:
    """The same columns on at most ``max_rows`` rows of each table (sorted random rows)."""
    if max_rows is None or (prep.n_real <= max_rows and prep.n_synthetic <= max_rows):
        return prep
    return _take_rows(
        prep, _rows(prep.n_real, max_rows, gen), _rows(prep.n_synthetic, max_rows, gen)
    )


def _take_rows(prep: _Prepared, ri: np.ndarray, si: np.ndarray) -> _Prepared:
    """The same columns restricted to real rows ``ri`` and synthetic rows ``si``."""
    cols = [
        _Column(
            c.name,
            c.kind,
            c.is_datetime,
            c.real[ri],
            c.synthetic[si],
            c.categories,
            c.n_real_categories,
        )
        for c in prep.columns
    ]
    return _Prepared(cols, prep.null_names, prep.null_real[ri], prep.null_synthetic[si])


def _rows(n: int, m: int, gen: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= m else np.sort(gen.choice(n, m, replace=False))


# --------------------------------------------------------------------------- statistics


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    """1 - two-sample KS statistic of the finite values (NaN when a side is empty)."""
    a = np.sort(a[~np.isnan(a)])
    b = np.sort(b[~np.isnan(b)])
    if a.size == 0:
        return float("nan")
    if b.size == 0:
        return 0.0  # real values, no synthetic ones
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(1.0 - np.max(np.abs(cdf_a - cdf_b)))


def _shares(codes: np.ndarray, k: int) -> np.ndarray | None:
    c = codes[codes >= 0]
    if c.size == 0:
        return None
    return np.bincount(c, minlength=k) / c.size


def _tv_complement(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """1 - total variation distance of the non-null categories (codes >= 0)."""
    p, q = _shares(a, k), _shares(b, k)
    if p is None:
        return float("nan")
    if q is None:
        return 0.0  # real values, no synthetic ones
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def _shape_score(col: _Column, ri: np.ndarray | None = None, si: np.ndarray | None = None) -> float:
    r = col.real if ri is None else col.real[ri]
    s = col.synthetic if si is None else col.synthetic[si]
    if col.kind == "numeric":
        return _ks_complement(r, s)
    return _tv_complement(r, s, len(col.categories or ()))


def _centred_ci(
    point: float,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_real: int,
    n_synthetic: int,
    n_boot: int,
    gen: np.random.Generator,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float] | None:
    """95 % interval: bootstrap spread (m-out-of-n, rescaled to n) centred on ``point``."""
    if n_boot <= 1 or not math.isfinite(point):
        return None
    mr, ms = min(n_real, BOOT_ROWS), min(n_synthetic, BOOT_ROWS)
    stats = np.array(
        [
            statistic(gen.integers(0, n_real, mr), gen.integers(0, n_synthetic, ms))
            for _ in range(n_boot)
        ]
    )
    stats = stats[np.isfinite(stats)]
    if stats.size < 2:
        return None
    scale = math.sqrt((1 / n_real + 1 / n_synthetic) / (1 / mr + 1 / ms))
    dev = (stats - stats.mean()) * scale
    lo, hi = np.quantile(dev, [0.025, 0.975])
    return (float(np.clip(point + lo, *bounds)), float(np.clip(point + hi, *bounds)))


def _g(x: float) -> float:
    """Round for compact JSON (6 significant digits)."""
    return float(f"{x:.6g}") if math.isfinite(x) else float("nan")


# --------------------------------------------------------------------------- column shapes


def _hist_edges(x: np.ndarray) -> np.ndarray:
    """Shared bin edges from the real values: unit bins for small integer ranges, else
    ``HIST_BINS`` equal bins between the real 0.5 % and 99.5 % quantiles."""
    lo, hi = float(x.min()), float(x.max())
    if np.all(x == np.round(x)) and hi - lo <= HIST_BINS:
        return np.arange(lo - 0.5, hi + 1.0, 1.0)
    qlo, qhi = (float(v) for v in np.quantile(x, [0.005, 0.995]))
    if qhi <= qlo:
        qlo, qhi = lo, hi
    if qhi <= qlo:
        qlo, qhi = lo - 0.5, hi + 0.5
    return np.linspace(qlo, qhi, HIST_BINS + 1)


def _hist(x: np.ndarray, edges: np.ndarray) -> list[float]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return [0.0] * (len(edges) - 1)
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)
    return [_g(v) for v in counts / x.size / np.diff(edges)]


def _shape_details(col: _Column) -> dict[str, Any]:
    if col.kind == "numeric":
        fin = col.real[~np.isnan(col.real)]
        if fin.size == 0:
            return {"kind": "numeric", "edges": [], "real": [], "synthetic": []}
        edges = _hist_edges(fin)
        out = {
            "kind": "numeric",
            "edges": [_g(e) for e in edges],
            "real": _hist(col.real, edges),
            "synthetic": _hist(col.synthetic, edges),
        }
        if col.is_datetime:
            out["unit"] = "days since 1970-01-01"
        return out
    cats = col.categories or []
    k = len(cats)
    p = _shares(col.real, k)
    q = _shares(col.synthetic, k)
    p = np.zeros(k) if p is None else p
    q = np.zeros(k) if q is None else q
    shown = min(TOP_CATEGORIES, col.n_real_categories)
    out = {
        "kind": "categorical",
        "categories": [str(c) for c in cats[:shown]],
        "real": [_g(v) for v in p[:shown]],
        "synthetic": [_g(v) for v in q[:shown]],
    }
    if k > shown:
        out["categories"].append(OTHER)
        out["real"].append(_g(p[shown:].sum()))
        out["synthetic"].append(_g(q[shown:].sum()))
    return out


def _column_shapes(prep: _Prepared, gen: np.random.Generator, n_boot: int) -> MetricResult:
    cols = prep.columns
    scores = {c.name: _shape_score(c) for c in cols}
    value = mean_or_nan(list(scores.values()))

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        return mean_or_nan([_shape_score(c, ri, si) for c in cols])

    ci = _centred_ci(value, stat, prep.n_real, prep.n_synthetic, n_boot, gen)
    return MetricResult(
        "column_shapes",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "mean over columns of 1 - KS statistic (numbers, datetimes) or 1 - total variation "
        "distance (categories), nulls ignored",
        ci=ci,
        breakdown={k: _g(v) for k, v in scores.items()},
        details={
            "columns": {
                c.name: {
                    "metric": "ks_complement" if c.kind == "numeric" else "tv_complement",
                    **_shape_details(c),
                }
                for c in cols
            },
            "n_rows": {"real": prep.n_real, "synthetic": prep.n_synthetic},
        },
    )


def column_shapes(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    n_boot: int = 40,
    rng: RNGLike = None,
) -> MetricResult:
    """How well each column's distribution is reproduced (SDMetrics' column shapes).

    Numbers and datetimes score 1 - the two-sample Kolmogorov-Smirnov statistic,
    categories and booleans 1 - the total variation distance; missing values are left
    out (see :func:`missing_values`). ``value`` is the mean over columns; ids, text, PII
    and constant columns are not scored.

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema.
        n_boot: bootstrap resamples for the confidence interval (0: no interval).
        rng: seed for the bootstrap.

    Returns:
        ``column_shapes``; ``breakdown`` maps each column to its score; ``details["columns"]``
        holds overlay data per column: ``{"kind": "numeric", "edges", "real", "synthetic"}``
        (densities over shared bins; values beyond the edges count in the outer bins) or
        ``{"kind": "categorical", "categories", "real", "synthetic"}`` (shares of non-null
        values, top 20 real categories then ``"<other>"``).

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"]})
        >>> r = column_shapes(df, df, infer_schema(df), n_boot=0)
        >>> r.value, r.breakdown
        (1.0, {'x': 1.0, 'c': 1.0})
    """
    gen = as_generator(rng)
    return _column_shapes(_prepare(real, synthetic, schema), gen, n_boot)


# --------------------------------------------------------------------------- pair trends


@dataclass
class _Discrete:
    real: np.ndarray  # int codes in [0, k)
    synthetic: np.ndarray
    k: int


def _quantile_codes(
    real: np.ndarray, n_bins: int
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Bin codes from ``n_bins`` quantiles of the real values. Each distinct edge value is a
    bin of its own and so are the open intervals between edges, so atoms (a column that is
    92 % zeros) never swallow their neighbours; nulls get the last code."""
    fin = real[~np.isnan(real)]
    inner = (
        np.unique(np.quantile(fin, np.linspace(0, 1, n_bins + 1)[1:-1]))
        if fin.size
        else np.array([])
    )
    k = 2 * inner.size + 2

    def code(x: np.ndarray) -> np.ndarray:
        c = np.searchsorted(inner, x, side="left") + np.searchsorted(inner, x, side="right")
        c[np.isnan(x)] = k - 1
        return c

    return code, k


def _discretise(col: _Column, n_bins: int) -> _Discrete:
    """Codes for contingency tables: quantile bins of the real values (numbers) or the
    ``PAIR_MAX_LEVELS`` most frequent categories plus one shared level; nulls are a level."""
    if col.kind == "numeric":
        code, k = _quantile_codes(col.real, n_bins)
        return _Discrete(code(col.real), code(col.synthetic), k)
    levels = min(len(col.categories or ()), PAIR_MAX_LEVELS)
    k = levels + 2  # levels, shared "other" level, null

    def code_c(c: np.ndarray) -> np.ndarray:
        out = np.minimum(c, levels)
        out[c < 0] = k - 1
        return out

    return _Discrete(code_c(col.real), code_c(col.synthetic), k)


def _joint(a: np.ndarray, b: np.ndarray, kb: int, size: int) -> np.ndarray:
    return np.bincount(a * kb + b, minlength=size) / max(a.size, 1)


def _contingency_score(da: _Discrete, db: _Discrete, ri=None, si=None) -> float:
    ar, br = (da.real, db.real) if ri is None else (da.real[ri], db.real[ri])
    as_, bs = (da.synthetic, db.synthetic) if si is None else (da.synthetic[si], db.synthetic[si])
    size = da.k * db.k
    return float(1.0 - 0.5 * np.abs(_joint(ar, br, db.k, size) - _joint(as_, bs, db.k, size)).sum())


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    m = ~(np.isnan(x) | np.isnan(y))
    if m.sum() < 2:
        return float("nan")
    xc = x[m] - x[m].mean()
    yc = y[m] - y[m].mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(xc @ yc / den) if den > 0 else float("nan")


def _correlation_score(rr: float, rs: float) -> float:
    if not math.isfinite(rr):
        return float("nan")  # no correlation to reproduce (a constant real column)
    return 1.0 - abs(rr - (rs if math.isfinite(rs) else 0.0)) / 2.0


def _cramers_v(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> float:
    t = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    n = t.sum()
    r = min(t.shape) - 1
    if n == 0 or r < 1:
        return float("nan")
    expected = np.outer(t.sum(1), t.sum(0)) / n
    chi2 = float(((t - expected) ** 2 / expected).sum())
    return float(min(1.0, math.sqrt(chi2 / n / r)))


def _matrix(
    names: list[str], values: dict[tuple[str, str], float], diag: float
) -> list[list[float]]:
    out = []
    for a in names:
        row = []
        for b in names:
            if a == b:
                row.append(diag)
            else:
                v = values.get((a, b), values.get((b, a), float("nan")))
                row.append(_g(v))
        out.append(row)
    return out


def _pair_trends(
    prep: _Prepared,
    gen: np.random.Generator,
    *,
    max_pairs: int,
    max_rows: int | None,
    n_bins: int,
    n_boot: int,
) -> MetricResult:
    full_rows = {"real": prep.n_real, "synthetic": prep.n_synthetic}
    prep = _subsample(prep, max_rows, gen)
    cols = prep.columns
    by = {c.name: c for c in cols}
    disc = {c.name: _discretise(c, n_bins) for c in cols}
    all_pairs = list(itertools.combinations([c.name for c in cols], 2))
    if len(all_pairs) > max_pairs:
        keep = np.sort(gen.choice(len(all_pairs), max_pairs, replace=False))
        pairs = [all_pairs[i] for i in keep]
    else:
        pairs = all_pairs

    def is_num(n: str) -> bool:
        return by[n].kind == "numeric"

    def score(a: str, b: str, ri=None, si=None) -> float:
        if is_num(a) and is_num(b):
            ca, cb = by[a], by[b]
            if ri is None:
                rr, rs = _pearson(ca.real, cb.real), _pearson(ca.synthetic, cb.synthetic)
            else:
                rr = _pearson(ca.real[ri], cb.real[ri])
                rs = _pearson(ca.synthetic[si], cb.synthetic[si])
            return _correlation_score(rr, rs)
        return _contingency_score(disc[a], disc[b], ri, si)

    scores = {(a, b): score(a, b) for a, b in pairs}
    value = mean_or_nan(list(scores.values()))

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        return mean_or_nan([score(a, b, ri, si) for a, b in pairs])

    ci = _centred_ci(value, stat, prep.n_real, prep.n_synthetic, n_boot, gen)

    # heatmaps: Cramér's V of the discretised columns for every pair of the first columns
    heat = [c.name for c in cols[:HEATMAP_COLUMNS]]
    v_real, v_syn = {}, {}
    for a, b in itertools.combinations(heat, 2):
        da, db = disc[a], disc[b]
        v_real[(a, b)] = _cramers_v(da.real, db.real, da.k, db.k)
        v_syn[(a, b)] = _cramers_v(da.synthetic, db.synthetic, da.k, db.k)
    nums = [n for n in heat if is_num(n)]
    r_real, r_syn = {}, {}
    for a, b in itertools.combinations(nums, 2):
        r_real[(a, b)] = _pearson(by[a].real, by[b].real)
        r_syn[(a, b)] = _pearson(by[a].synthetic, by[b].synthetic)

    # SDMetrics >= 0.2x averages only the pairs that are associated in the real data
    def associated(a: str, b: str) -> bool:
        if is_num(a) and is_num(b):
            r = r_real.get((a, b), _pearson(by[a].real, by[b].real))
            return math.isfinite(r) and abs(r) > SDM_MIN_CORRELATION
        v = v_real.get((a, b))
        if v is None:
            v = _cramers_v(disc[a].real, disc[b].real, disc[a].k, disc[b].k)
        return math.isfinite(v) and v > SDM_MIN_CRAMERS_V

    strong = [p for p in pairs if associated(*p)]
    return MetricResult(
        "pair_trends",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "mean over column pairs of 1 - |Pearson r real - r synthetic| / 2 (two numbers) or "
        "1 - total variation distance of the joint distribution (other pairs)",
        ci=ci,
        breakdown={f"{a}|{b}": _g(v) for (a, b), v in scores.items()},
        details={
            "columns": heat,
            "measure": "cramers_v",
            "real": _matrix(heat, v_real, 1.0),
            "synthetic": _matrix(heat, v_syn, 1.0),
            "score": _matrix(heat, scores, float("nan")),
            "correlation": {
                "columns": nums,
                "method": "pearson",
                "real": _matrix(nums, r_real, 1.0),
                "synthetic": _matrix(nums, r_syn, 1.0),
            },
            "pair_metric": {
                f"{a}|{b}": "correlation" if is_num(a) and is_num(b) else "contingency"
                for a, b in pairs
            },
            "pairs_evaluated": len(pairs),
            "pairs_total": len(all_pairs),
            "n_rows": {"real": prep.n_real, "synthetic": prep.n_synthetic},
            "n_rows_available": full_rows,
            "subsampled": prep.n_real < full_rows["real"]
            or prep.n_synthetic < full_rows["synthetic"],
            "binning": f"numbers in mixed pairs and heatmaps: {n_bins} quantile bins of the real "
            "column; nulls are a level of their own",
            "heatmap_columns_truncated": len(cols) > len(heat),
            "associated_pairs": {
                "value": _g(mean_or_nan([scores[p] for p in strong])),
                "pairs": [f"{a}|{b}" for a, b in strong],
                "min_abs_correlation": SDM_MIN_CORRELATION,
                "min_cramers_v": SDM_MIN_CRAMERS_V,
                "note": "mean over the pairs associated in the real data only, as SDMetrics "
                "0.32's Column Pair Trends (|Pearson r| > 0.5 or Cramér's V > 0.3)",
            },
        },
    )


def pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    max_pairs: int = 500,
    max_rows: int | None = 50_000,
    n_bins: int = PAIR_BINS,
    n_boot: int = 30,
    rng: RNGLike = None,
) -> MetricResult:
    """How well relations between pairs of columns are reproduced (SDMetrics' pair trends).

    Two numbers (or datetimes): 1 - |r_real - r_synthetic| / 2 with Pearson's r on the
    rows where both are present (as SDMetrics' ``CorrelationSimilarity``; a synthetic
    correlation that is undefined counts as 0). Other pairs: 1 - total variation distance
    between the real and synthetic joint distributions, where a number is cut into
    ``n_bins`` quantile bins learned on the *real* column (SDMetrics cuts each table into its
    own 10 equal-width bins) and nulls are a level of their own.

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema.
        max_pairs: at most this many pairs are scored (a random subset beyond it).
        max_rows: each table is subsampled to this many rows (``None``: all).
        n_bins: quantile bins for numbers in mixed pairs and heatmaps.
        n_boot: bootstrap resamples for the confidence interval (0: no interval).
        rng: seed for subsampling and the bootstrap.

    Returns:
        ``pair_trends``; ``breakdown`` maps ``"a|b"`` to the pair's score; ``details`` holds
        heatmaps of Cramér's V (``columns``, ``real``, ``synthetic``, pair ``score``) and of
        Pearson's r between numeric columns (``correlation``).

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 5.0, 9.0],
        ...                    "c": ["a", "b", "a", "b"]})
        >>> r = pair_trends(df, df, infer_schema(df), n_boot=0)
        >>> r.value, sorted(r.breakdown)
        (1.0, ['x|c', 'x|y', 'y|c'])
    """
    gen = as_generator(rng)
    return _pair_trends(
        _prepare(real, synthetic, schema),
        gen,
        max_pairs=max_pairs,
        max_rows=max_rows,
        n_bins=n_bins,
        n_boot=n_boot,
    )


# --------------------------------------------------------------------------- missing values


def _pattern_ids(null: np.ndarray) -> np.ndarray:
    """One integer per row naming its pattern of nulls (rows of a bool matrix)."""
    if null.shape[1] == 0:
        return np.zeros(null.shape[0], dtype=np.int64)
    if null.shape[1] <= 62:
        return null.astype(np.int64) @ (np.int64(1) << np.arange(null.shape[1], dtype=np.int64))
    _, inv = np.unique(np.packbits(null, axis=1), axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _missing_parts(nr: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, float, dict[str, Any]]:
    pr, ps = nr.mean(0), ns.mean(0)
    col_sim = 1.0 - np.abs(pr - ps)
    used = nr.any(0) | ns.any(0)
    if not used.any():
        return col_sim, 1.0, {"labels": [], "real": [], "synthetic": []}
    ids = _pattern_ids(np.vstack([nr[:, used], ns[:, used]]))
    uniq, inv = np.unique(ids, return_inverse=True)
    inv = inv.ravel()
    p = np.bincount(inv[: len(nr)], minlength=uniq.size) / len(nr)
    q = np.bincount(inv[len(nr) :], minlength=uniq.size) / len(ns)
    joint = float(1.0 - 0.5 * np.abs(p - q).sum())
    return col_sim, joint, {"uniq": uniq, "inv": inv, "p": p, "q": q, "used": used}


def _missing_values(prep: _Prepared, gen: np.random.Generator, n_boot: int) -> MetricResult:
    nr, ns, names = prep.null_real, prep.null_synthetic, prep.null_names
    col_sim, joint, parts = _missing_parts(nr, ns)
    col_mean = float(col_sim.mean()) if col_sim.size else 1.0
    value = (col_mean + joint) / 2

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        c, j, _ = _missing_parts(nr[ri], ns[si])
        return ((float(c.mean()) if c.size else 1.0) + j) / 2

    ci = _centred_ci(value, stat, prep.n_real, prep.n_synthetic, n_boot, gen)
    patterns: dict[str, list] = {"labels": [], "real": [], "synthetic": []}
    if "uniq" in parts:
        used_names = [n for n, u in zip(names, parts["used"], strict=True) if u]
        stacked = np.vstack([nr[:, parts["used"]], ns[:, parts["used"]]])
        _, first = np.unique(parts["inv"], return_index=True)  # a row holding each pattern
        order = np.argsort(-(parts["p"] + parts["q"]), kind="stable")[:10]
        for i in order:
            mask = stacked[first[i]]
            label = "+".join(n for n, m in zip(used_names, mask, strict=True) if m) or "(none)"
            patterns["labels"].append(label)
            patterns["real"].append(_g(parts["p"][i]))
            patterns["synthetic"].append(_g(parts["q"][i]))
    return MetricResult(
        "missing_values",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "mean of the per-column null-share similarity (1 - |share real - share synthetic|) "
        "and 1 - total variation distance between the rows' null patterns",
        ci=ci,
        breakdown={n: _g(v) for n, v in zip(names, col_sim, strict=True)},
        details={
            "real": {n: _g(v) for n, v in zip(names, nr.mean(0), strict=True)},
            "synthetic": {n: _g(v) for n, v in zip(names, ns.mean(0), strict=True)},
            "column_similarity": _g(col_mean),
            "joint_similarity": _g(joint),
            "patterns": patterns,
        },
    )


def missing_values(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    n_boot: int = 30,
    rng: RNGLike = None,
) -> MetricResult:
    """How well the missing values are reproduced, column by column and jointly.

    ``value`` is the mean of two similarities in [0, 1]: the mean over columns of
    1 - |null share real - null share synthetic| (SDMetrics' ``MissingValueSimilarity``)
    and 1 - the total variation distance between the distributions of the rows' null
    patterns (which columns are null together). A table without nulls on either side
    scores 1.

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema (every column counts, ids and text included).
        n_boot: bootstrap resamples for the confidence interval (0: no interval).
        rng: seed for the bootstrap.

    Returns:
        ``missing_values``; ``breakdown`` maps each column to its null-share similarity;
        ``details`` holds the null shares (``real``, ``synthetic``), both similarities and
        the 10 most common null patterns (``patterns``: ``labels``, ``real``, ``synthetic``).

    Example:
        >>> from sosie.schema import infer_schema
        >>> real = pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": ["x", None, "y", "x"]})
        >>> syn = pd.DataFrame({"a": [1.0, 2.0, None, 4.0], "b": ["x", "y", None, "x"]})
        >>> r = missing_values(real, syn, infer_schema(real), n_boot=0)
        >>> r.value, r.details["joint_similarity"]
        (1.0, 1.0)
    """
    gen = as_generator(rng)
    return _missing_values(_prepare(real, synthetic, schema), gen, n_boot)


# --------------------------------------------------------------------------- coverage


def _coverage(prep: _Prepared) -> list[MetricResult]:
    rng_cov: dict[str, float] = {}
    oor: dict[str, float] = {}
    cat_cov: dict[str, float] = {}
    new_rate: dict[str, float] = {}
    ranges: dict[str, list[float]] = {}
    for c in prep.columns:
        if c.kind == "numeric":
            r = c.real[~np.isnan(c.real)]
            s = c.synthetic[~np.isnan(c.synthetic)]
            if r.size == 0:
                continue
            lo, hi = float(r.min()), float(r.max())
            if s.size == 0:
                rng_cov[c.name], oor[c.name] = 0.0, float("nan")
                continue
            slo, shi = float(s.min()), float(s.max())
            if hi > lo:
                cov = 1.0 - max((slo - lo) / (hi - lo), 0.0) - max((hi - shi) / (hi - lo), 0.0)
            else:
                cov = 1.0 if slo <= lo <= shi else 0.0
            rng_cov[c.name] = max(cov, 0.0)
            oor[c.name] = float(np.mean((s < lo) | (s > hi)))
            ranges[c.name] = [_g(lo), _g(hi), _g(slo), _g(shi)]
        else:
            k = c.n_real_categories
            if k == 0:
                continue
            s = c.synthetic[c.synthetic >= 0]
            present = np.unique(s[s < k])
            cat_cov[c.name] = present.size / k
            new_rate[c.name] = float(np.mean(s >= k)) if s.size else float("nan")

    def result(
        name: str, goal: str, values: dict[str, float], desc: str, **details
    ) -> MetricResult:
        v = mean_or_nan(list(values.values()))
        norm = clip01(v) if goal == "maximize" else clip01(1.0 - v)
        if not values:
            details["reason"] = (
                "no " + ("numeric or datetime" if "range" in name else "categorical") + " columns"
            )
        return MetricResult(
            name,
            "fidelity",
            goal,
            (0.0, 1.0),
            v,
            norm,
            desc,  # type: ignore[arg-type]
            breakdown={k: _g(x) for k, x in values.items()},
            details=details,
        )

    return [
        result(
            "range_coverage",
            "maximize",
            rng_cov,
            "mean over numeric and datetime columns of the share of the real range "
            "[min, max] that the synthetic range covers",
            ranges={
                k: dict(
                    zip(("real_min", "real_max", "synthetic_min", "synthetic_max"), v, strict=True)
                )
                for k, v in ranges.items()
            },
        ),
        result(
            "category_coverage",
            "maximize",
            cat_cov,
            "mean over categorical columns of the share of real categories present in the synthetic data",
        ),
        result(
            "new_category_rate",
            "minimize",
            new_rate,
            "mean over categorical columns of the share of synthetic values that are not a category "
            "of the real data",
        ),
        result(
            "out_of_range_rate",
            "minimize",
            oor,
            "mean over numeric and datetime columns of the share of synthetic values outside the "
            "real [min, max]",
        ),
    ]


def coverage(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> list[MetricResult]:
    """Whether the synthetic data spans the real values, and stays within them.

    Four results, each a mean over the columns it applies to (NaN when none does):
    ``range_coverage`` (share of each real numeric/datetime [min, max] that the synthetic
    [min, max] covers, as SDMetrics' ``RangeCoverage``), ``category_coverage`` (share of
    real categories that occur in the synthetic data), ``new_category_rate`` (share of
    non-null synthetic values that are not a real category; goal: minimize, normalized
    1 - rate) and ``out_of_range_rate`` (share of non-null synthetic numbers or datetimes
    outside the real [min, max]; goal: minimize).

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema.

    Returns:
        The four :class:`MetricResult` objects, with per-column ``breakdown``.

    Example:
        >>> from sosie.schema import infer_schema
        >>> real = pd.DataFrame({"x": [0.0, 5.0, 10.0], "c": ["a", "b", "c"]})
        >>> syn = pd.DataFrame({"x": [5.0, 10.0, 12.0], "c": ["a", "a", "z"]})
        >>> {r.name: round(r.value, 3) for r in coverage(real, syn, infer_schema(real))}
        {'range_coverage': 0.5, 'category_coverage': 0.333, 'new_category_rate': 0.333, 'out_of_range_rate': 0.333}
    """
    return _coverage(_prepare(real, synthetic, schema))


# --------------------------------------------------------------------------- detection


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (ties count one half) via ranks."""
    pos = y == 1
    n1 = int(pos.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _grouped_folds(
    groups: np.ndarray, y: np.ndarray, n_folds: int, gen: np.random.Generator
) -> np.ndarray:
    """Fold of each row: whole groups go to one fold, groups spread evenly by label mix."""
    uniq, inv = np.unique(groups, return_inverse=True)
    inv = inv.ravel()
    size = np.bincount(inv)
    syn = np.bincount(inv, weights=y)
    stratum = np.where(syn == 0, 0, np.where(syn == size, 1, 2))
    order = gen.permutation(uniq.size)
    order = order[np.argsort(stratum[order], kind="stable")]
    fold_of_group = np.empty(uniq.size, dtype=np.int64)
    fold_of_group[order] = np.arange(uniq.size) % n_folds
    return fold_of_group[inv]


def _detection_matrix(prep: _Prepared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tree-model features: numbers as floats, categories as codes (real categories by
    frequency, then synthetic-only ones; codes beyond 253 share one), nulls as NaN."""
    blocks, mask, names = [], [], []
    for c in prep.columns:
        x = np.concatenate([c.real, c.synthetic]).astype(float)
        if c.kind == "categorical":
            x[x < 0] = np.nan
            x = np.minimum(x, HGB_MAX_CODE)
        blocks.append(x)
        mask.append(c.kind == "categorical")
        names.append(c.name)
    if not blocks:
        return np.zeros((prep.n_real + prep.n_synthetic, 0)), np.zeros(0, bool), []
    return np.column_stack(blocks), np.array(mask, dtype=bool), names


def _feature_auc(x: np.ndarray, y: np.ndarray, categorical: bool, n_real: int) -> float:
    """AUC of telling real from synthetic by one feature alone: rows scored by the synthetic
    share of their bin (20 real-quantile bins or the category; nulls a bin). In-sample, so a
    slight overestimate; AUCs below 0.5 cannot occur."""
    if categorical:
        codes = np.where(np.isnan(x), -1, x).astype(np.int64) + 1
    else:
        code, _ = _quantile_codes(x[:n_real], 20)
        codes = code(x)
    total = np.bincount(codes)
    syn = np.bincount(codes, weights=y, minlength=total.size)
    share = np.divide(syn, total, out=np.zeros_like(syn), where=total > 0)
    return _auc(y, share[codes])


def _roc_points(y: np.ndarray, score: np.ndarray, max_points: int = 100) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=True)
    if fpr.size > max_points:
        keep = np.unique(np.round(np.linspace(0, fpr.size - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def _detection_result(
    y: np.ndarray,
    oof: np.ndarray,
    description: str,
    gen: np.random.Generator,
    n_boot: int,
    *,
    breakdown: dict[str, Any] | None = None,
    details: dict[str, Any],
) -> MetricResult:
    """``detection_auc`` from pooled out-of-fold scores (``y``: 1 = synthetic): the AUC, its
    bootstrap interval over the pooled predictions and the ROC curve (first in ``details``)."""
    auc = _auc(y, oof)
    ci = None
    if n_boot > 1 and math.isfinite(auc):
        ci = bootstrap_ci(
            lambda a: _auc(a[:, 0], a[:, 1]), np.column_stack([y, oof]), n_boot=n_boot, rng=gen
        )
    return MetricResult(
        "detection_auc",
        "fidelity",
        "target",
        (0.0, 1.0),
        auc,
        clip01(1.0 - 2.0 * abs(auc - 0.5)),
        description,
        ci=ci,
        baseline=0.5,
        target_value=0.5,
        breakdown=breakdown or {},
        details={"roc": _roc_points(y, oof), **details},
    )


def _detection(
    prep: _Prepared, gen: np.random.Generator, *, max_rows: int, n_folds: int, n_boot: int = 100
) -> MetricResult:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    n = min(prep.n_real, prep.n_synthetic, max_rows)
    sub = _take_rows(prep, _rows(prep.n_real, n, gen), _rows(prep.n_synthetic, n, gen))
    X, mask, names = _detection_matrix(sub)
    y = np.r_[np.zeros(n), np.ones(n)]
    groups = pd.util.hash_pandas_object(pd.DataFrame(X), index=False).to_numpy()
    n_groups = int(np.unique(groups).size)
    k = max(2, min(n_folds, n_groups))
    folds = _grouped_folds(groups, y, k, gen)
    oof = np.full(2 * n, 0.5)
    fold_auc = []
    seed = int(gen.integers(0, 2**31 - 1))
    if X.shape[1] > 0:
        # one OpenMP thread: these fits are small, and on a busy machine HGB's threads
        # spin-wait (5-15x slower wall and CPU time than a single thread, measured)
        with threadpool_limits(limits=1, user_api="openmp"):
            for f in range(k):
                test = folds == f
                train = ~test
                if test.sum() == 0 or np.unique(y[train]).size < 2:
                    continue
                model = HistGradientBoostingClassifier(
                    l2_regularization=1.0,
                    categorical_features=mask,
                    early_stopping=True,
                    random_state=seed,
                )
                model.fit(X[train], y[train])
                oof[test] = model.predict_proba(X[test])[:, 1]
                fold_auc.append(_auc(y[test], oof[test]))
    feats = sorted(
        ((nm, _feature_auc(X[:, j], y, bool(mask[j]), n)) for j, nm in enumerate(names)),
        key=lambda t: -t[1] if math.isfinite(t[1]) else 0.0,
    )
    return _detection_result(
        y,
        oof,
        "cross-validated ROC AUC of gradient boosting telling real from synthetic rows "
        "(0.5: indistinguishable; identical rows share a fold)",
        gen,
        n_boot,
        breakdown={nm: _g(v) for nm, v in feats},
        details={
            "fold_auc": [_g(v) for v in fold_auc],
            "top_features": [{"name": nm, "auc": _g(v)} for nm, v in feats[:10]],
            "feature_importance": "univariate AUC: each feature alone, binned, in-sample",
            "n_rows": {"real": n, "synthetic": n},
            "n_rows_available": {"real": prep.n_real, "synthetic": prep.n_synthetic},
            "n_folds": k,
            "n_distinct_rows": n_groups,
            "model": "HistGradientBoostingClassifier(l2_regularization=1.0, early_stopping=True), "
            "native categories",
            "cv": "stratified k-fold over groups of identical rows (row hash)",
        },
    )


def detection(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    max_rows: int = 10_000,
    n_folds: int = 5,
    rng: RNGLike = None,
) -> MetricResult:
    """Can a classifier tell synthetic rows from real ones? (``detection_auc``, best 0.5.)

    Equal numbers of real and synthetic rows (at most ``max_rows`` each) are labelled 0 and
    1; scikit-learn's ``HistGradientBoostingClassifier(l2_regularization=1.0,
    early_stopping=True)`` with native categorical features (one thread) predicts the label
    out of fold, over ``n_folds`` folds that keep
    identical rows together (grouped by a hash of the row; otherwise a copy of the training
    data would score about 0.35 rather than 0.5). ``value`` is the AUC of the pooled
    out-of-fold predictions; ``normalized`` = 1 - 2 |AUC - 0.5|.

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema (numbers, datetimes, categories and booleans are used).
        max_rows: rows per table (random subsample beyond it).
        n_folds: cross-validation folds.
        rng: seed for subsampling, folds, model and bootstrap.

    Returns:
        ``detection_auc`` with a bootstrap CI over the pooled predictions; ``breakdown``
        maps each column to its univariate AUC (the column alone, binned); ``details``
        holds the ROC curve (``roc``: ``fpr``, ``tpr``, at most 100 points), ``fold_auc``
        and ``top_features``.

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": np.arange(200.0) % 17, "c": list("abcd") * 50})
        >>> r = detection(df, df, infer_schema(df), rng=0)
        >>> r.value, r.normalized
        (0.5, 1.0)
    """
    gen = as_generator(rng)
    return _detection(_prepare(real, synthetic, schema), gen, max_rows=max_rows, n_folds=n_folds)


# --------------------------------------------------------------------------- all together


def fidelity_metrics(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    rng: RNGLike = None,
    max_rows: int = 10_000,
) -> list[MetricResult]:
    """Every fidelity metric, in report order.

    ``column_shapes``, ``pair_trends``, ``missing_values``, ``range_coverage``,
    ``category_coverage``, ``new_category_rate``, ``out_of_range_rate`` and
    ``detection_auc``. The distribution metrics use all rows (pair trends at most 50,000
    per table); ``max_rows`` caps the rows per table of the detection model, the costly part.

    Args:
        real: the real training table.
        synthetic: the synthetic table.
        schema: the table's schema.
        rng: seed; each metric gets an independent child stream.
        max_rows: rows per table for the detection classifier.

    Returns:
        The list of :class:`MetricResult`.

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": np.arange(60.0), "c": list("abc") * 20})
        >>> [m.name for m in fidelity_metrics(df, df, infer_schema(df), rng=0)][:3]
        ['column_shapes', 'pair_trends', 'missing_values']
    """
    prep = _prepare(real, synthetic, schema)
    seeds = [as_generator(s) for s in as_seed_sequence(rng).spawn(4)]
    out = [
        _column_shapes(prep, seeds[0], 40),
        _pair_trends(prep, seeds[1], max_pairs=500, max_rows=50_000, n_bins=PAIR_BINS, n_boot=30),
        _missing_values(prep, seeds[2], 30),
        *_coverage(prep),
        _detection(prep, seeds[3], max_rows=max_rows, n_folds=5),
    ]
    if schema.constraints:
        out.append(constraint_validity_metric(real, synthetic, schema))
    return out


def constraint_validity_metric(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema
) -> MetricResult:
    """Share of synthetic rows that obey every constraint of ``schema`` (declared or discovered).

    ``value`` is the share of synthetic rows satisfying all constraints at once; ``baseline``
    the same share of real rows (below 1 when a rule was discovered with
    ``min_confidence < 1`` or the real data breaks a declared one); ``normalized`` is
    ``value / baseline`` capped at 1. ``details["constraints"]`` has one row per
    constraint (real and synthetic shares, violations), which the report shows as a table.

    Example:
        >>> from sosie.constraints import Inequality
        >>> from sosie.schema import infer_schema
        >>> real = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) + 1})
        >>> schema = infer_schema(real)
        >>> schema.constraints = [Inequality("a", "b")]
        >>> fake = real.assign(b=real["b"] - 2 * (real.index % 2))
        >>> constraint_validity_metric(real, fake, schema).value
        0.5
    """
    from ..constraints._validity import validity_masks, validity_row

    masks = validity_masks(real, synthetic, schema)
    all_r = np.ones(len(real), dtype=bool)
    all_s = np.ones(len(synthetic), dtype=bool)
    rows = []
    for c, r, s in masks:
        all_r &= r
        all_s &= s
        rows.append(validity_row(c, r, s))
    value = float(all_s.mean()) if len(all_s) else 1.0
    base = float(all_r.mean()) if len(all_r) else 1.0
    return MetricResult(
        "constraint_validity",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value / base) if base > 0 else float("nan"),
        "share of synthetic rows obeying every exact rule of the table (formulas, "
        "dependencies, inequalities, grids, conditional nulls, checks)",
        baseline=base,
        breakdown={r["constraint"]: r["synthetic"] for r in rows},
        details={"constraints": rows},
    )


def quality_score(results: Iterable[MetricResult]) -> float:
    """SDMetrics' quality score: the mean of ``column_shapes`` and ``pair_trends`` values.

    Args:
        results: metric results (a list or an :class:`~sosie.evaluate.Evaluation`).

    Returns:
        The score in [0, 1]; NaN when either metric is missing or NaN.

    Example:
        >>> shapes = MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.9, 0.9, "")
        >>> trends = MetricResult("pair_trends", "fidelity", "maximize", (0, 1), 0.8, 0.8, "")
        >>> round(quality_score([shapes, trends]), 3)
        0.85
    """
    by = {m.name: m.value for m in results}
    if "column_shapes" not in by or "pair_trends" not in by:
        return float("nan")
    return float(np.mean([by["column_shapes"], by["pair_trends"]]))
