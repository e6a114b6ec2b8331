"""Model-collapse study: what happens when generators learn from their own output?

:func:`collapse` fits generation 0 on the real training data, samples from it, fits generation
1 on a training set built from that sample, and so on for ``generations`` rounds, under up to
three regimes (Shumailov et al. 2024, *AI models collapse when trained on recursively generated
data*; Gerstgrasser et al. 2024, *Is model collapse inevitable?*):

* ``replace``: each generation learns only from the previous generation's sample;
* ``accumulate``: each generation learns from the real data and every sample so far;
* ``mix``: each generation learns from the previous sample with a stated share of its rows
  replaced by real rows drawn afresh from the real training data.

Every generation's sample is measured against the **original** real data: tail coverage (rare
categories and the real 1 % tails still present), variance and distinct values (ratios to the
real data), detection AUC and column shapes / pair trends (fidelity), and TSTR on the real
holdout next to TRTR. Generation 0 is fitted once and shared by the regimes, so every curve
starts at the same point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_seed_sequence
from ..errors import InvalidDataError, Problem
from ..schema import TableSchema
from ._core import Evaluation, MetricResult, check_tables, clip01, mean_or_nan

__all__ = ["COLLAPSE_QUANTITIES", "REGIMES", "collapse", "tail_coverage"]

REGIMES: tuple[str, ...] = ("replace", "accumulate", "mix")

#: name -> (goal, range, reference value, what it measures)
COLLAPSE_QUANTITIES: dict[str, tuple[str, tuple[float, float], float | None, str]] = {
    "tail_coverage": (
        "maximize",
        (0.0, 1.0),
        1.0,
        "mean of rare-category coverage (share of the real data's rare categories still "
        "present) and extreme-quantile coverage (synthetic share beyond the real 1st and 99th "
        "percentiles over the real share, capped at 1)",
    ),
    "variance_ratio": (
        "target",
        (0.0, math.inf),
        1.0,
        "mean over numeric columns of synthetic variance / real variance",
    ),
    "distinct_ratio": (
        "target",
        (0.0, math.inf),
        1.0,
        "mean over columns of distinct synthetic values / distinct real values (equal row "
        "counts compared)",
    ),
    "column_shapes": (
        "maximize",
        (0.0, 1.0),
        1.0,
        "mean over columns of 1 - KS statistic or 1 - total variation distance against the "
        "original real data",
    ),
    "pair_trends": (
        "maximize",
        (0.0, 1.0),
        1.0,
        "similarity of pairwise correlations and contingency tables to the original real data",
    ),
    "detection_auc": (
        "target",
        (0.0, 1.0),
        0.5,
        "cross-validated AUC of a classifier telling the original real rows from the "
        "generation's rows (0.5: indistinguishable)",
    ),
    "tstr": (
        "maximize",
        (-math.inf, 1.0),
        None,
        "score on the real holdout of gradient boosting trained on the generation's rows "
        "(ROC-AUC, or R² for a numeric target); the reference is TRTR",
    ),
}


def _ratio_score(r: float) -> float:
    """1 at a ratio of 1, falling symmetrically in log scale (0.5 at half or double)."""
    if not math.isfinite(r) or r <= 0:
        return 0.0 if math.isfinite(r) else float("nan")
    return min(r, 1.0 / r)


def _tail_parts(prep: Any, *, rare_share: float, tail_quantile: float) -> dict[str, float]:
    rare_total = rare_kept = 0
    tails: list[float] = []
    variances: list[float] = []
    distinct: list[float] = []
    n_r, n_s = prep.n_real, prep.n_synthetic
    # distinct values grow with the number of rows: compare equal counts
    m = min(n_r, n_s)
    gen = np.random.default_rng(0)  # fixed subsample for the distinct count only
    ri = np.sort(gen.choice(n_r, m, replace=False)) if n_r > m else slice(None)
    si = np.sort(gen.choice(n_s, m, replace=False)) if n_s > m else slice(None)
    for c in prep.columns:
        if c.kind == "numeric":
            r = c.real[np.isfinite(c.real)]
            s = c.synthetic[np.isfinite(c.synthetic)]
            if r.size < 2:
                continue
            sub_r = c.real[ri]
            sub_s = c.synthetic[si]
            nd_r = np.unique(sub_r[np.isfinite(sub_r)]).size
            if nd_r:
                distinct.append(np.unique(sub_s[np.isfinite(sub_s)]).size / nd_r)
            vr = float(np.var(r))
            if vr > 0:
                variances.append(float(np.var(s)) / vr if s.size else 0.0)
            lo, hi = np.quantile(r, [tail_quantile, 1 - tail_quantile])
            for real_share, syn_share in (
                (np.mean(r < lo), np.mean(s < lo) if s.size else 0.0),
                (np.mean(r > hi), np.mean(s > hi) if s.size else 0.0),
            ):
                if real_share >= tail_quantile / 4:  # a real tail (not a spike at the edge)
                    tails.append(min(float(syn_share) / float(real_share), 1.0))
        else:
            k = c.n_real_categories
            if k == 0:
                continue
            rc = c.real[c.real >= 0]
            sc = c.synthetic[(c.synthetic >= 0) & (c.synthetic < k)]
            shares = np.bincount(rc, minlength=k) / max(rc.size, 1)
            present = np.bincount(sc, minlength=k) > 0
            rare = (shares > 0) & (shares < rare_share)
            rare_total += int(rare.sum())
            rare_kept += int((rare & present).sum())
            sub_r, sub_s = c.real[ri], c.synthetic[si]
            nd_r = np.unique(sub_r[sub_r >= 0]).size
            if nd_r:
                distinct.append(np.unique(sub_s[sub_s >= 0]).size / nd_r)
    rare_cov = rare_kept / rare_total if rare_total else float("nan")
    tail_cov = mean_or_nan(tails)
    return {
        "tail_coverage": mean_or_nan([rare_cov, tail_cov]),
        "rare_category_coverage": rare_cov,
        "extreme_quantile_coverage": tail_cov,
        "variance_ratio": mean_or_nan(variances),
        "distinct_ratio": mean_or_nan(distinct),
    }


def tail_coverage(
    real: pd.DataFrame,
    data: pd.DataFrame,
    *,
    schema: TableSchema | None = None,
    rare_share: float = 0.01,
    tail_quantile: float = 0.01,
) -> dict[str, float]:
    """How much of the real data's tails, spread and variety ``data`` keeps.

    * ``rare_category_coverage``: of the categories that make up less than ``rare_share`` of
      their real column (pooled over the columns), the share that occurs in ``data``;
    * ``extreme_quantile_coverage``: per numeric column and tail, the share of ``data`` below
      the real ``tail_quantile`` quantile (above the ``1 - tail_quantile`` one) over the real
      share there, capped at 1, averaged (tails that are a spike at the real minimum or
      maximum are skipped);
    * ``tail_coverage``: the mean of the two;
    * ``variance_ratio``: mean over numeric columns of ``var(data) / var(real)``;
    * ``distinct_ratio``: mean over columns of the distinct values of ``data`` over those of
      ``real``, on equal row counts.

    Args:
        real: the original real table.
        data: the table to measure (a generation's sample).
        schema: the columns' types (default: inferred from ``real``).
        rare_share: categories rarer than this (share of non-null values) count as rare.
        tail_quantile: the tail probability of the extreme quantiles.

    Returns:
        The five numbers (NaN where no column applies).

    Example:
        >>> g = np.random.default_rng(0)
        >>> real = pd.DataFrame({"x": g.normal(size=5000),
        ...                      "c": g.choice(list("abcz"), 5000, p=[.5, .3, .195, .005])})
        >>> same = tail_coverage(real, real)
        >>> same["tail_coverage"], same["variance_ratio"], same["distinct_ratio"]
        (1.0, 1.0, 1.0)
        >>> narrow = real.assign(x=real["x"].clip(-2, 2) * 0.5, c=real["c"].replace("z", "a"))
        >>> cut = tail_coverage(real, narrow)
        >>> cut["rare_category_coverage"], cut["extreme_quantile_coverage"], cut["variance_ratio"] < 0.3
        (0.0, 0.0, True)
    """
    from ..schema import infer_schema
    from .fidelity import _prepare

    if not 0 < rare_share < 1 or not 0 < tail_quantile < 0.5:
        raise ValueError(
            f"expected 0 < rare_share < 1 and 0 < tail_quantile < 0.5, got {rare_share!r} and "
            f"{tail_quantile!r}"
        )
    sc = schema if schema is not None else infer_schema(real)
    prep = _prepare(real, data, sc)
    return _tail_parts(prep, rare_share=rare_share, tail_quantile=tail_quantile)


def _factory(generator: Any) -> tuple[Callable[[int], Any], str]:
    from ..generators.base import Generator
    from ..generators.registry import get_generator

    if isinstance(generator, str):
        cls = get_generator(generator)
        if getattr(cls, "modality", "table") != "table":
            raise InvalidDataError(
                Problem(
                    f"generator {generator!r}",
                    "a generator of tables",
                    f"a generator of {cls.modality}s",
                    "pick a table generator (sosie list)",
                )
            )
        return (lambda seed: cls(rng=seed)), generator
    if isinstance(generator, Generator):
        params = generator.get_params()
        cls = type(generator)
        return (lambda seed: cls(**{**params, "rng": seed})), cls.name or cls.__name__
    if callable(generator):
        return generator, getattr(generator, "__name__", "custom factory")
    raise TypeError(
        "generator: expected a registry name, an unfitted Generator (its parameters are reused "
        f"with a new seed per fit) or a function seed -> Generator, got {type(generator).__name__}"
    )


def _measure(
    real: pd.DataFrame,
    holdout: pd.DataFrame,
    data: pd.DataFrame,
    schema: TableSchema,
    target: str | None,
    *,
    rare_share: float,
    tail_quantile: float,
    max_rows: int,
    seed: np.random.SeedSequence,
) -> dict[str, float]:
    from .fidelity import PAIR_BINS, _column_shapes, _detection, _pair_trends, _prepare
    from .utility import fit_predict, prepare_task, task_scores

    g1, g2, g3, g4 = (np.random.default_rng(s) for s in seed.spawn(4))
    prep = _prepare(real, data, schema)
    out = _tail_parts(prep, rare_share=rare_share, tail_quantile=tail_quantile)
    out["column_shapes"] = _column_shapes(prep, g1, 0).value
    out["pair_trends"] = _pair_trends(
        prep, g2, max_pairs=200, max_rows=max_rows, n_bins=PAIR_BINS, n_boot=0
    ).value
    out["detection_auc"] = _detection(prep, g3, max_rows=max_rows, n_folds=5).value
    out["tstr"] = float("nan")
    if target is not None:
        td = prepare_task(real, holdout, data, schema, target, max_rows=max_rows, rng=g4)
        fit_predict(td, "synthetic", "gradient_boosting", 0)
        headline = "roc_auc" if td.task == "classification" else "r2"
        out["tstr"] = task_scores(td, "synthetic", "gradient_boosting")[headline]
    return out


def _trtr(real, holdout, schema, target, max_rows) -> tuple[float, str]:
    from .utility import fit_predict, prepare_task, task_scores

    td = prepare_task(real, holdout, real.iloc[:0], schema, target, max_rows=max_rows, rng=0)
    fit_predict(td, "real", "gradient_boosting", 0)
    headline = "roc_auc" if td.task == "classification" else "r2"
    return task_scores(td, "real", "gradient_boosting")[headline], headline


def collapse(
    real: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    generator: str | Any = "gaussian_copula",
    generations: int = 5,
    regimes: Sequence[str] = REGIMES,
    mix_share: float = 0.25,
    n_rows: int | None = None,
    target: str | None = None,
    schema: TableSchema | None = None,
    rare_share: float = 0.01,
    tail_quantile: float = 0.01,
    max_rows: int = 10_000,
    rng: RNGLike = None,
    progress: bool = False,
) -> Evaluation:
    """Study model collapse: generators trained on their predecessors' output, three ways.

    Generation 0 is fitted on ``real`` and sampled (``n_rows`` rows). Generation ``g + 1`` is
    fitted on: its predecessor's sample (``replace``); ``real`` and every sample so far
    (``accumulate``); or its predecessor's sample with ``mix_share`` of the rows replaced by
    real rows drawn afresh from ``real`` (``mix``). Each sample is measured against ``real``
    and ``holdout`` (see the module docstring).

    Args:
        real: the real training table.
        holdout: real rows no generation sees (TSTR test set).
        generator: a registry name (``"gaussian_copula"``, ``"ctgan"``...), an unfitted
            :class:`~sosie.generators.Generator` whose parameters are reused with a new seed
            per fit, or a function ``seed -> unfitted generator``.
        generations: how many generations after generation 0 (``generations + 1`` fits per
            regime; generation 0 is shared).
        regimes: any of ``replace``, ``accumulate``, ``mix``.
        mix_share: share of fresh real rows in each ``mix`` training set, in (0, 1).
        n_rows: rows sampled per generation (default: ``len(real)``).
        target: a column to predict for TSTR (skipped when ``None``).
        schema: the columns' types (default: inferred from ``real``; every generation is
            fitted with it, so a category that dies out stays known and is never re-invented).
        rare_share: categories rarer than this count as rare (see :func:`tail_coverage`).
        tail_quantile: tail probability of the extreme quantiles.
        max_rows: rows per table for the detection classifier, pair trends and TSTR.
        rng: seed of every fit, sample and measurement.
        progress: show a progress bar.

    Returns:
        An :class:`~sosie.evaluate.Evaluation` of family ``"collapse"``: one metric per
        quantity in :data:`COLLAPSE_QUANTITIES` whose ``value`` is the last generation's
        value in the regime that lost most (``breakdown``: each regime's last value;
        ``details["curves"]``: every generation's value per regime), and
        ``meta["collapse"]`` with a row per regime and generation and a sentence per regime
        (``findings``).

    Example:
        >>> from sosie.datasets import load_adult
        >>> from sosie.evaluate import split_holdout
        >>> cols = ["age", "education", "hours_per_week", "native_country", "income"]
        >>> train, holdout = split_holdout(load_adult()[cols].sample(1500, random_state=0),
        ...                                target="income", rng=0)
        >>> ev = collapse(train, holdout, generations=2, regimes=("replace", "accumulate"),
        ...               target="income", rng=0)
        >>> [r["generation"] for r in ev.meta["collapse"]["rows"] if r["regime"] == "replace"]
        [0, 1, 2]
        >>> sorted(ev["tail_coverage"].breakdown)
        ['accumulate', 'replace']
    """
    from ..schema import infer_schema

    regimes = tuple(dict.fromkeys(regimes))
    bad = [r for r in regimes if r not in REGIMES]
    problems = []
    if not regimes or bad:
        problems.append(
            Problem(
                "regimes",
                "some of " + ", ".join(REGIMES),
                repr(bad or regimes),
                "pass e.g. ('replace', 'accumulate')",
            )
        )
    if not isinstance(generations, (int, np.integer)) or generations < 1:
        problems.append(Problem("generations", "an integer >= 1", repr(generations), "pass e.g. 5"))
    if "mix" in regimes and not 0 < mix_share < 1:
        problems.append(
            Problem("mix_share", "a share in (0, 1)", repr(mix_share), "pass e.g. 0.25")
        )
    if n_rows is not None and (not isinstance(n_rows, (int, np.integer)) or n_rows < 10):
        problems.append(Problem("n_rows", "an integer >= 10", repr(n_rows), "pass e.g. 5000"))
    if problems:
        raise InvalidDataError(problems)
    sc = schema if schema is not None else infer_schema(real)
    check_tables({"real": real, "holdout": holdout}, sc, min_rows=10)
    if target is not None and target not in sc:
        raise InvalidDataError(
            Problem(
                f"target {target!r}", "a column of the data", "no such column", "check the name"
            )
        )
    make, gen_name = _factory(generator)
    n = int(n_rows) if n_rows is not None else len(real)
    root = as_seed_sequence(rng)
    fit_seeds, sample_seeds, measure_seeds, mix_seeds = root.spawn(4)

    def seed_of(ss: np.random.SeedSequence, regime: int, g: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, regime, g))

    total = 1 + len(regimes) * generations
    bar = _progress_bar(progress, total)
    rows: list[dict[str, Any]] = []
    fit_seconds = 0.0

    def fit_sample(train: pd.DataFrame, regime_index: int, g: int) -> pd.DataFrame:
        nonlocal fit_seconds
        t0 = time.perf_counter()
        fs = int(seed_of(fit_seeds, regime_index, g).generate_state(1)[0])
        model = make(fs).fit(train.reset_index(drop=True), schema=sc)
        out = model.sample(n, rng=seed_of(sample_seeds, regime_index, g))
        fit_seconds += time.perf_counter() - t0
        return out

    def record(regime: str, g: int, data: pd.DataFrame, train_rows: int, ri: int) -> None:
        m = _measure(
            real,
            holdout,
            data,
            sc,
            target,
            rare_share=rare_share,
            tail_quantile=tail_quantile,
            max_rows=max_rows,
            seed=seed_of(measure_seeds, ri, g),
        )
        rows.append({"regime": regime, "generation": g, "train_rows": train_rows, **m})

    try:
        sample0 = fit_sample(real, 0, 0)
        m0 = None
        for regime in regimes:
            ri = REGIMES.index(regime) + 1  # a regime's seeds do not depend on the others run
            if m0 is None:
                record(regime, 0, sample0, len(real), 0)
                m0 = rows[-1]
                _advance(bar)
            else:
                rows.append({**m0, "regime": regime})
            prev = sample0
            pool = [real, sample0]
            mix_gen = np.random.default_rng(seed_of(mix_seeds, ri, 0))
            for g in range(1, generations + 1):
                if regime == "replace":
                    train = prev
                elif regime == "accumulate":
                    train = pd.concat(pool, ignore_index=True)
                else:
                    k = round(mix_share * len(prev))
                    keep = mix_gen.choice(len(prev), len(prev) - k, replace=False)
                    fresh = mix_gen.choice(len(real), min(k, len(real)), replace=False)
                    train = pd.concat(
                        [prev.iloc[np.sort(keep)], real.iloc[np.sort(fresh)]], ignore_index=True
                    )
                prev = fit_sample(train, ri, g)
                pool.append(prev)
                record(regime, g, prev, len(train), ri)
                _advance(bar)
    finally:
        if bar is not None:
            bar[0].stop()

    trtr, headline = (
        _trtr(real, holdout, sc, target, max_rows) if target is not None else (math.nan, "")
    )
    return _evaluation(
        rows,
        regimes=regimes,
        generations=generations,
        trtr=trtr,
        headline=headline,
        meta={
            "kind": "collapse",
            "generator": gen_name,
            "n_real": len(real),
            "n_holdout": len(holdout),
            "n_rows": n,
            "mix_share": mix_share if "mix" in regimes else None,
            "target": target,
            "rare_share": rare_share,
            "tail_quantile": tail_quantile,
            "fit_sample_seconds": round(fit_seconds, 3),
        },
    )


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)
    p.start()
    return p, p.add_task("collapse study (fit, sample, measure)", total=total)


def _advance(bar) -> None:
    if bar is not None:
        bar[0].advance(bar[1])


def _worst(goal: str, ref: float | None, values: dict[str, float]) -> tuple[str, float]:
    finite = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    if not finite:
        return next(iter(values)), float("nan")
    if goal == "target":
        key = max(
            finite,
            key=lambda k: (
                abs(math.log(finite[k]))
                if ref == 1.0 and finite[k] > 0
                else abs(finite[k] - (ref if ref is not None else 0.0))
            ),
        )
    else:
        key = min(finite, key=finite.__getitem__)
    return key, finite[key]


def _normalised(name: str, value: float, trtr: float) -> float:
    if not math.isfinite(value):
        return float("nan")
    if name in ("variance_ratio", "distinct_ratio"):
        return _ratio_score(value)
    if name == "detection_auc":
        return clip01(1.0 - 2.0 * abs(value - 0.5))
    if name == "tstr":
        return clip01(value / trtr) if math.isfinite(trtr) and trtr > 0 else float("nan")
    return clip01(value)


def _findings(rows: list[dict[str, Any]], regimes: Sequence[str], generations: int) -> list[str]:
    out = []
    for regime in regimes:
        first = next(r for r in rows if r["regime"] == regime and r["generation"] == 0)
        last = next(r for r in rows if r["regime"] == regime and r["generation"] == generations)
        parts = []
        for key, label in (
            ("tail_coverage", "tail coverage"),
            ("variance_ratio", "variance ratio"),
            ("distinct_ratio", "distinct values"),
            ("detection_auc", "detection AUC"),
            ("tstr", "TSTR"),
        ):
            a, b = first.get(key), last.get(key)
            if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
                parts.append(f"{label} {a:.3f} → {b:.3f}")
        out.append(f"{regime}: over {generations} generations, " + ", ".join(parts))
    return out


def _evaluation(
    rows: list[dict[str, Any]],
    *,
    regimes: Sequence[str],
    generations: int,
    trtr: float,
    headline: str,
    meta: dict[str, Any],
) -> Evaluation:
    gens = list(range(generations + 1))
    metrics = []
    finals: dict[str, dict[str, float]] = {}
    for name, (goal, rng_, ref, desc) in COLLAPSE_QUANTITIES.items():
        series = {
            regime: [
                next(r[name] for r in rows if r["regime"] == regime and r["generation"] == g)
                for g in gens
            ]
            for regime in regimes
        }
        if name == "tstr":
            ref = trtr if math.isfinite(trtr) else None
            if not math.isfinite(trtr):
                continue
        last = {regime: s[-1] for regime, s in series.items()}
        worst_regime, value = _worst(goal, ref, last)
        curves: dict[str, Any] = {
            "x": gens,
            "series": series,
            "x_label": "generation",
            "y_label": name.replace("_", " ") + (f" ({headline})" if name == "tstr" else ""),
        }
        if ref is not None:
            curves["reference"] = ref
            curves["reference_label"] = "TRTR" if name == "tstr" else "real data"
        metrics.append(
            MetricResult(
                name,
                "collapse",  # type: ignore[arg-type]
                goal,  # type: ignore[arg-type]
                rng_,
                value,
                _normalised(name, value, trtr),
                f"{desc}; value: generation {generations} of the regime that lost most "
                f"({worst_regime}), per regime in the breakdown",
                baseline=ref,
                target_value=ref if goal == "target" else None,
                breakdown=last,
                details={
                    "curves": curves,
                    "normalized": {k: _normalised(name, v, trtr) for k, v in last.items()},
                },
            )
        )
        finals[name] = last
    order = ("tail_coverage", "tstr", "detection_auc", "variance_ratio", "distinct_ratio")
    summary: dict[str, float | None] = {
        f"{name}_{regime}": v
        for name in (*order, *(k for k in finals if k not in order))
        if name in finals
        for regime, v in finals[name].items()
    }
    meta = {
        **meta,
        "families": ["collapse"],
        "skipped": {},
        "collapse": {
            "regimes": list(regimes),
            "generations": generations,
            "trtr": trtr if math.isfinite(trtr) else None,
            "tstr_score": headline or None,
            "rows": rows,
            "findings": _findings(rows, regimes, generations),
        },
    }
    return Evaluation(metrics, meta=meta, summary=summary)
