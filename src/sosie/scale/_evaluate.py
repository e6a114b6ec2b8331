"""Evaluation of tables that do not fit in memory, on Dask DataFrames.

Column shapes and pair trends use **every row**: each partition is reduced to per-column
counts (categories) and histograms on 1,000 quantile bins of the real data (numbers and
datetimes), and to per-pair joint tables (numbers in 10 quantile bins, as the in-memory
metric) and Pearson sums (number pairs); the partitions' tables are summed and scored like
the in-memory metrics (the Kolmogorov-Smirnov statistic on the binned distribution functions
is at most one bin's share, about 0.001, below the exact one). Detection and distance to
closest record need a model or all pairs of rows: they run on uniform samples of
``sample_rows`` rows per table.
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


def _pair_codes(
    df: pd.DataFrame,
    numeric: dict[str, tuple[Any, np.ndarray]],
    discrete: dict[str, tuple[str, Any]],
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Per column: its pair-table codes and (numbers) its values."""
    from ..evaluate._features import _numeric
    from ..evaluate.fidelity import _category_text

    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name, (kind, how) in discrete.items():
        if kind == "numeric":
            x = _numeric(df[name], numeric[name][0])
            x = np.where(np.isfinite(x), x, np.nan)
            out[name] = (how[0](x), x)
        else:
            levels, k = how
            t = _category_text(df[name])
            codes = np.full(len(t), k - 1, dtype=np.int64)  # null: the last level
            seen = t != None  # noqa: E711
            c = pd.Categorical(t[seen], categories=list(levels)).codes.astype(np.int64)
            c[c < 0] = k - 2  # a category the real sample did not show: "other"
            codes[seen] = c
            out[name] = (codes, None)
    return out


def _partition_pairs(
    df: pd.DataFrame,
    numeric: dict[str, tuple[Any, np.ndarray]],
    discrete: dict[str, tuple[str, Any]],
    sizes: dict[str, int],
    pairs: list[tuple[str, str]],
) -> dict[tuple[str, str], Any]:
    """Joint code counts of every pair, plus Pearson sums of number pairs."""
    codes = _pair_codes(df, numeric, discrete)
    out: dict[tuple[str, str], Any] = {}
    for a, b in pairs:
        (ca, xa), (cb, xb) = codes[a], codes[b]
        kb = sizes[b]
        joint = np.bincount(ca * kb + cb, minlength=sizes[a] * kb)
        sums = None
        if xa is not None and xb is not None:
            m = ~(np.isnan(xa) | np.isnan(xb))
            x, y = xa[m], xb[m]
            sums = np.array([m.sum(), x.sum(), y.sum(), x @ x, y @ y, x @ y], dtype=float)
        out[(a, b)] = (joint, sums)
    return out


def _merge_pairs(parts: list[dict]) -> dict:
    total: dict = {}
    for p in parts:
        for k, (joint, sums) in p.items():
            if k in total:
                j0, s0 = total[k]
                total[k] = (j0 + joint, None if sums is None else s0 + sums)
            else:
                total[k] = (joint.copy(), None if sums is None else sums.copy())
    return total


def _pearson_from_sums(s: np.ndarray) -> float:
    n, sx, sy, sxx, syy, sxy = s
    if n < 2:
        return float("nan")
    cov = sxy - sx * sy / n
    vx, vy = sxx - sx * sx / n, syy - sy * sy / n
    return float(cov / np.sqrt(vx * vy)) if vx > 0 and vy > 0 else float("nan")


def _pair_trends_full(
    r_dd: Any, s_dd: Any, real_s: pd.DataFrame, sc: Any, numeric: dict, cols: list[str],
    max_pairs: int, gen: np.random.Generator,
) -> Any:  # fmt: skip
    """Pair trends on every row: the in-memory metric's scores from summed partition tables."""
    import itertools

    import dask

    from ..evaluate._core import MetricResult, clip01, mean_or_nan
    from ..evaluate.fidelity import (
        PAIR_BINS,
        PAIR_MAX_LEVELS,
        _category_text,
        _correlation_score,
        _quantile_codes,
    )

    discrete: dict[str, tuple[str, Any]] = {}
    sizes: dict[str, int] = {}
    for name in cols:
        if name in numeric:
            from ..evaluate._features import _numeric

            code, k = _quantile_codes(_numeric(real_s[name], numeric[name][0]), PAIR_BINS)
            discrete[name] = ("numeric", (code,))
        else:
            t = _category_text(real_s[name])
            top = pd.Series(t[t != None]).value_counts().index[:PAIR_MAX_LEVELS]  # noqa: E711
            k = len(top) + 2  # levels, shared "other", null
            discrete[name] = ("categorical", ({str(v): i for i, v in enumerate(top)}, k))
        sizes[name] = k
    names = [n for n in cols if n in discrete]
    all_pairs = list(itertools.combinations(names, 2))
    pairs = all_pairs
    if len(all_pairs) > max_pairs:
        keep = np.sort(gen.choice(len(all_pairs), max_pairs, replace=False))
        pairs = [all_pairs[i] for i in keep]

    def tables(ddf: Any) -> dict:
        parts = [
            dask.delayed(_partition_pairs)(p, numeric, discrete, sizes, pairs)
            for p in ddf.to_delayed()
        ]
        return _merge_pairs(list(dask.compute(*parts)))

    t_real, t_syn = tables(r_dd), tables(s_dd)
    scores: dict[tuple[str, str], float] = {}
    for a, b in pairs:
        (jr, sr), (js, ss) = t_real[(a, b)], t_syn[(a, b)]
        if sr is not None and ss is not None:
            scores[(a, b)] = _correlation_score(_pearson_from_sums(sr), _pearson_from_sums(ss))
        else:
            pr, ps = jr / max(jr.sum(), 1), js / max(js.sum(), 1)
            scores[(a, b)] = float(1.0 - 0.5 * np.abs(pr - ps).sum())
    value = mean_or_nan(list(scores.values()))
    return MetricResult(
        "pair_trends",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "mean over column pairs of 1 - |Pearson r real - r synthetic| / 2 (two numbers) or "
        f"1 - total variation distance of the joint distribution (other pairs; numbers in "
        f"{PAIR_BINS} quantile bins of the real sample), on every row",
        breakdown={f"{a}|{b}": round(v, 6) for (a, b), v in scores.items()},
        details={"pairs_evaluated": len(pairs), "pairs_total": len(all_pairs)},
    )


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
        An :class:`~sosie.evaluate.Evaluation`: ``column_shapes`` and ``pair_trends`` on every
        row, ``detection_auc`` on the samples, and ``dcr_share``,
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
    from ..evaluate.fidelity import _detection, _prepare
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
        _pair_trends_full(r_dd, s_dd, real_s, sc, numeric, cols, max_pairs=500, gen=g[0])
    )
    metrics.append(_detection(prep, g[1], max_rows=sample_rows, n_folds=5))
    n_hold = None
    if h_dd is not None:
        from ..evaluate.privacy import distance_to_closest_record

        n_hold = int(h_dd.shape[0].compute())
        hold_s = _sample(h_dd, sample_rows, n_hold, seeds[5])
        metrics += distance_to_closest_record(real_s, hold_s, syn_s, sc, rng=g[2])
    for m in metrics[2:]:
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
