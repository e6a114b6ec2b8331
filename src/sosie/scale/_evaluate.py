"""Evaluation of tables that do not fit in memory, on Dask DataFrames.

Column shapes use **every row**: each partition is reduced to per-column counts (categories)
and histograms on 1,000 quantile bins of the real data (numbers and datetimes), the counts are
summed, and the Kolmogorov-Smirnov statistic is taken on the binned distribution functions
(at most one bin's share, about 0.001, below the exact statistic) and the total variation on
the category counts (exact). Pair trends, detection and distance to closest record need all
pairs of rows or a model: they run on uniform samples of ``sample_rows`` rows per table.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_seed_sequence
from ..errors import InvalidDataError, Problem, missing_dependency


def _dd():
    try:
        import dask.dataframe as dd
    except ImportError:
        raise missing_dependency("dask", "scale", "evaluating tables on Dask") from None
    return dd


def _as_dask(data: Any, what: str) -> Any:
    dd = _dd()
    if isinstance(data, (str, os.PathLike)):
        return dd.read_parquet(os.fspath(data))
    if isinstance(data, pd.DataFrame):
        return dd.from_pandas(data, npartitions=max(1, len(data) // 1_000_000 + 1))
    if hasattr(data, "map_partitions") and hasattr(data, "to_delayed"):
        return data
    raise InvalidDataError(
        Problem(
            what,
            "a Dask DataFrame, a Parquet path or a pandas DataFrame",
            type(data).__name__,
            "pass dask.dataframe.read_parquet(...) or the dataset's path",
        )
    )


def _sample(ddf: Any, n_rows: int, total: int, seed: int) -> pd.DataFrame:
    if total <= n_rows:
        return ddf.compute().reset_index(drop=True)
    frac = min(1.0, 1.1 * n_rows / total)  # a little over, then trimmed to n_rows
    s = ddf.sample(frac=frac, random_state=seed).compute()
    if len(s) > n_rows:
        s = s.sample(n_rows, random_state=seed)
    return s.sort_index().reset_index(drop=True)


def _partition_counts(
    df: pd.DataFrame, numeric: dict[str, tuple[Any, np.ndarray]], categorical: list[str]
) -> dict[str, Any]:
    from ..evaluate._features import _numeric
    from ..evaluate.fidelity import _category_text

    out: dict[str, Any] = {}
    for name, (spec, edges) in numeric.items():
        x = _numeric(df[name], spec)
        x = x[np.isfinite(x)]
        out[name] = np.histogram(np.clip(x, edges[0], edges[-1]), edges)[0]
    for name in categorical:
        t = _category_text(df[name])
        out[name] = pd.Series(t[t != None]).value_counts().to_dict()  # noqa: E711
    return out


def _merge(parts: list[dict[str, Any]], numeric: list[str]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for p in parts:
        for k, v in p.items():
            if k in numeric:
                total[k] = total.get(k, 0) + v
            else:
                acc = total.setdefault(k, {})
                for c, n in v.items():
                    acc[c] = acc.get(c, 0) + n
    return total


def evaluate_large(
    real: Any,
    synthetic: Any,
    *,
    holdout: Any = None,
    schema: Any = None,
    sample_rows: int = 50_000,
    n_bins: int = 1000,
    rng: RNGLike = None,
) -> Any:
    """Fidelity (and, with a holdout, distance to closest record) of tables of any size.

    Args:
        real: the real training data: a Dask DataFrame, a Parquet file/folder path or a
            pandas DataFrame.
        synthetic: the synthetic data, likewise (e.g. a folder written by ``sample_to``).
        holdout: real rows the generator never saw (for ``dcr_share``), likewise.
        schema: the table's schema (default: inferred from the real sample).
        sample_rows: rows of each table sampled (uniformly) for pair trends, detection and
            distance to closest record.
        n_bins: quantile bins of each number for the full-data column shapes.
        rng: seed of the samples and models.

    Returns:
        An :class:`~sosie.evaluate.Evaluation`: ``column_shapes`` on every row (``details``
        say how), ``pair_trends`` and ``detection_auc`` on the samples, and ``dcr_share``,
        ``exact_copies``, ``nndr`` on the samples when ``holdout`` is given;
        ``meta["large"]`` records the row counts and sample sizes.

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult()
        >>> ev = evaluate_large(real, real.sample(frac=1.0, random_state=1), sample_rows=5_000, rng=0)
        >>> round(ev["column_shapes"].value, 3), ev.meta["large"]["rows"]["real"]
        (1.0, 32561)
    """
    import dask

    from ..evaluate._core import Evaluation, MetricResult, clip01, mean_or_nan
    from ..evaluate._features import _numeric, modelled_columns
    from ..evaluate.fidelity import PAIR_BINS, _detection, _pair_trends, _prepare
    from ..schema import SemanticType, infer_schema

    r_dd, s_dd = _as_dask(real, "real"), _as_dask(synthetic, "synthetic")
    h_dd = _as_dask(holdout, "holdout") if holdout is not None else None
    seeds = [int(s.generate_state(1)[0]) for s in as_seed_sequence(rng).spawn(6)]
    n_real, n_syn = dask.compute(r_dd.shape[0], s_dd.shape[0])
    real_s = _sample(r_dd, sample_rows, n_real, seeds[0])
    syn_s = _sample(s_dd, sample_rows, n_syn, seeds[1])
    sc = schema if schema is not None else infer_schema(real_s)
    cols = modelled_columns(sc)
    numeric: dict[str, tuple[Any, np.ndarray]] = {}
    categorical: list[str] = []
    for name in cols:
        spec = sc[name]
        if spec.type in (SemanticType.NUMERICAL, SemanticType.DATETIME):
            x = _numeric(real_s[name], spec)
            x = x[np.isfinite(x)]
            if x.size == 0:
                continue
            inner = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]))
            # spikes (e.g. mostly zeros) get a bin of their own: [v, next(v))
            edges = np.unique(np.r_[-np.inf, inner, np.nextafter(inner, np.inf), np.inf])
            numeric[name] = (spec, edges)
        else:
            categorical.append(name)

    def counts(ddf: Any) -> dict[str, Any]:
        parts = [dask.delayed(_partition_counts)(p, numeric, categorical) for p in ddf.to_delayed()]
        return _merge(list(dask.compute(*parts)), list(numeric))

    c_real, c_syn = counts(r_dd), counts(s_dd)
    scores: dict[str, float] = {}
    for name in numeric:
        a, b = c_real[name], c_syn[name]
        if a.sum() == 0:
            continue
        if b.sum() == 0:
            scores[name] = 0.0
            continue
        scores[name] = float(1.0 - np.max(np.abs(np.cumsum(a) / a.sum() - np.cumsum(b) / b.sum())))
    for name in categorical:
        a, b = (
            pd.Series(c_real.get(name, {}), dtype=float),
            pd.Series(c_syn.get(name, {}), dtype=float),
        )
        if a.sum() == 0:
            continue
        if b.sum() == 0:
            scores[name] = 0.0
            continue
        keys = a.index.union(b.index)
        p, q = a.reindex(keys, fill_value=0) / a.sum(), b.reindex(keys, fill_value=0) / b.sum()
        scores[name] = float(1.0 - 0.5 * (p - q).abs().sum())
    shapes = mean_or_nan(list(scores.values()))
    metrics = [
        MetricResult(
            "column_shapes",
            "fidelity",
            "maximize",
            (0.0, 1.0),
            shapes,
            clip01(shapes),
            f"mean over columns of 1 - KS statistic (numbers, datetimes: on {n_bins} quantile "
            "bins of the real data) or 1 - total variation distance (categories), on every row "
            f"({n_real:,} real, {n_syn:,} synthetic)",
            breakdown={k: round(v, 6) for k, v in scores.items()},
            details={"rows": {"real": int(n_real), "synthetic": int(n_syn)}, "bins": n_bins},
        )
    ]
    prep = _prepare(real_s, syn_s, sc)
    g = [np.random.default_rng(s) for s in seeds[2:]]
    metrics.append(
        _pair_trends(prep, g[0], max_pairs=500, max_rows=None, n_bins=PAIR_BINS, n_boot=30)
    )
    metrics.append(_detection(prep, g[1], max_rows=sample_rows, n_folds=5))
    n_hold = None
    if h_dd is not None:
        from ..evaluate.privacy import distance_to_closest_record

        n_hold = int(h_dd.shape[0].compute())
        hold_s = _sample(h_dd, sample_rows, n_hold, seeds[5])
        metrics += distance_to_closest_record(real_s, hold_s, syn_s, sc, rng=g[2])
    for m in metrics[1:]:
        m.description += f" (uniform samples of at most {sample_rows:,} rows per table)"
    meta = {
        "kind": "large",
        "large": {
            "rows": {"real": int(n_real), "synthetic": int(n_syn), "holdout": n_hold},
            "sample_rows": sample_rows,
            "bins": n_bins,
        },
        "n_train": int(n_real),
        "n_synthetic": int(n_syn),
        **({"n_holdout": n_hold} if n_hold is not None else {}),
        "skipped": {
            "utility": "not on Dask (use evaluate() on a sample)",
            "fairness": "not on Dask (use evaluate() on a sample)",
        },
    }
    summary = {m.name: m.value for m in metrics}
    return Evaluation(metrics, meta=meta, summary=summary)
