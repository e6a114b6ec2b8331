"""The evaluation protocol: one call, every family, a holdout the generator never saw."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator, as_seed_sequence
from ..errors import InvalidDataError, Problem
from ..schema import TableSchema, infer_schema
from ..schema._infer import check_frame
from ._core import Evaluation, MetricResult, check_tables

__all__ = ["FAMILIES", "evaluate", "split_holdout"]

log = logging.getLogger(__name__)
FAMILIES = ("fidelity", "utility", "privacy", "fairness")


def split_holdout(
    data: pd.DataFrame,
    *,
    target: str | None = None,
    holdout: float = 0.3,
    rng: RNGLike = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split real data into a training part (for the generator) and a holdout it never sees.

    Stratified on ``target`` when given (missing target values form their own stratum).

    Example:
        >>> df = pd.DataFrame({"y": ["a"] * 80 + ["b"] * 20, "x": range(100)})
        >>> train, hold = split_holdout(df, target="y", holdout=0.25, rng=0)
        >>> len(train), len(hold), int((hold["y"] == "b").sum())
        (75, 25, 5)
    """
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be a share in (0, 1), got {holdout!r}")
    problems = check_frame(data, min_rows=2)
    if target is not None and isinstance(data, pd.DataFrame) and target not in data.columns:
        problems.append(
            Problem(
                f"target {target!r}", "a column of the data", "no such column", "check the name"
            )
        )
    if problems:
        raise InvalidDataError(problems)
    gen = as_generator(rng)
    n = len(data)
    if target is None:
        perm = gen.permutation(n)
        k = max(1, round(holdout * n))
        hold_idx = np.sort(perm[:k])
    else:
        strata = data[target].astype(str).where(data[target].notna(), "<missing>").to_numpy()
        hold_idx_list = []
        for s in sorted(pd.unique(strata)):
            rows = np.flatnonzero(strata == s)
            k = round(holdout * len(rows))
            hold_idx_list.append(gen.permutation(rows)[:k])
        hold_idx = np.sort(np.concatenate(hold_idx_list))
    mask = np.zeros(n, dtype=bool)
    mask[hold_idx] = True
    return data.iloc[~mask].reset_index(drop=True), data.iloc[mask].reset_index(drop=True)


def _summary(metrics: list[MetricResult]) -> dict[str, float | None]:
    by = {m.name: m for m in metrics}
    out: dict[str, float | None] = {}

    def put(key: str, name: str, attr: str = "value") -> None:
        if name in by:
            v = getattr(by[name], attr)
            out[key] = (
                None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
            )

    for name in (
        "column_shapes",
        "pair_trends",
        "missing_values",
        "detection_auc",
        "range_coverage",
        "category_coverage",
        "new_category_rate",
        "out_of_range_rate",
        "constraint_validity",
    ):
        put(name, name)
    if "column_shapes" in by and "pair_trends" in by:
        out["quality_score"] = float(np.mean([by["column_shapes"].value, by["pair_trends"].value]))
    put("tstr_ratio", "tstr_ratio")
    put("domain_gap", "domain_gap")
    for m in metrics:
        if m.family == "utility" and m.name.startswith("utility_"):
            score = m.name.removeprefix("utility_")
            out[f"tstr_{score}"] = _finite(m.value)
            out[f"trtr_{score}"] = _finite(m.baseline)
    for name in ("dcr_share", "exact_copies", "nndr"):
        put(name, name)
    mia = [m.value for m in metrics if m.name.startswith("mia_") and _finite(m.value) is not None]
    if mia:
        out["mia_auc"] = float(max(mia))
    for m in metrics:
        if m.name.startswith("mia_"):
            out[m.name] = _finite(m.value)
    ai = [
        m.value
        for m in metrics
        if m.name.startswith("attribute_inference") and _finite(m.value) is not None
    ]
    if ai:
        out["attribute_inference_risk"] = float(max(ai))
    for m in metrics:
        if m.family == "fairness":
            out[m.name] = _finite(m.value)
    return out


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def evaluate(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    schema: TableSchema | None = None,
    target: str | None = None,
    sensitive: Sequence[str] | None = None,
    rng: RNGLike = None,
    families: Sequence[str] = FAMILIES,
    max_rows: int | None = 50_000,
    generator_factory: str | Callable[[int], Any] | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate synthetic data against the real data it was made from and a real holdout.

    Args:
        real_train: the real rows the generator was fitted on.
        real_holdout: real rows from the same population the generator never saw.
        synthetic: the synthetic rows.
        schema: the schema (inferred from ``real_train`` when ``None``, with the exact rules
            :func:`sosie.constraints.discover` finds there); its ``constraints`` are
            measured by the ``constraint_validity`` fidelity metric.
        target: a column to predict for utility (TSTR vs TRTR) and the fairness gaps.
        sensitive: columns whose groups the bias audit and attribute-inference attack examine.
        rng: seed for subsampling, models, bootstraps and attacks.
        families: which of fidelity, utility, privacy, fairness to run.
        max_rows: tables are subsampled to this many rows (stated in ``meta``); ``None``: all.
        generator_factory: the evaluated generator's family for the shadow-model attack:
            a registry name or ``seed -> unfitted generator`` (default: ``gaussian_copula``).
        progress: show a progress bar.

    Returns:
        An :class:`Evaluation` (JSON-serialisable) with every metric and a summary.

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(1500, random_state=0)
        >>> train, hold = split_holdout(real, target="income", rng=0)
        >>> ev = evaluate(train, hold, train, target="income", families=("utility",), rng=0)
        >>> round(ev.summary["tstr_ratio"], 2)
        1.0
    """
    t_all = time.perf_counter()
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; choose from {FAMILIES}")
    if schema is None:
        if not isinstance(real_train, pd.DataFrame):
            check_tables({"real_train": real_train}, TableSchema([]), min_rows=2)
        schema = infer_schema(real_train, constraints="fidelity" in families)
    check_tables(
        {"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic},
        schema,
        min_rows=2,
    )
    sensitive = list(sensitive or [])
    seq = as_seed_sequence(rng)
    seeds = dict(zip(FAMILIES, seq.spawn(len(FAMILIES)), strict=True))
    sub = as_generator(seq.spawn(1)[0])

    def cap(df: pd.DataFrame) -> pd.DataFrame:
        if max_rows is not None and len(df) > max_rows:
            return df.iloc[np.sort(sub.choice(len(df), max_rows, replace=False))].reset_index(
                drop=True
            )
        return df.reset_index(drop=True)

    train, hold, syn = cap(real_train), cap(real_holdout), cap(synthetic)
    metrics: list[MetricResult] = []
    timings: dict[str, float] = {}
    task_data = None
    steps = [f for f in FAMILIES if f in families]
    if "utility" in steps and target is None:
        steps.remove("utility")
    if "fairness" in steps and not sensitive:
        steps.remove("fairness")
    bar = _progress(progress, len(steps))
    for fam in steps:
        t0 = time.perf_counter()
        if bar is not None:
            bar[0].update(bar[1], description=f"evaluating {fam}")
        if fam == "fidelity":
            from .fidelity import fidelity_metrics

            metrics += fidelity_metrics(train, syn, schema, rng=seeds[fam])
        elif fam == "utility":
            from .utility import prepare_task, utility_metrics

            task_data = prepare_task(train, hold, syn, schema, target, rng=seeds[fam])
            metrics += utility_metrics(
                train, hold, syn, schema, target, rng=seeds[fam], task_data=task_data
            )
        elif fam == "privacy":
            from .privacy import privacy_metrics

            metrics += privacy_metrics(
                train,
                hold,
                syn,
                schema,
                sensitive=sensitive or None,
                rng=seeds[fam],
                generator_factory=generator_factory,
            )
        elif fam == "fairness":
            from .fairness import fairness_metrics

            metrics += fairness_metrics(
                train,
                hold,
                syn,
                schema,
                sensitive,
                target=target,
                rng=seeds[fam],
                task_data=task_data,
            )
        timings[fam] = round(time.perf_counter() - t0, 3)
        log.info("evaluated %s in %.1fs", fam, timings[fam])
        if bar is not None:
            bar[0].advance(bar[1])
    if bar is not None:
        bar[0].stop()
    meta = {
        "n_real_train": len(real_train),
        "n_real_holdout": len(real_holdout),
        "n_synthetic": len(synthetic),
        "n_used": {"real_train": len(train), "real_holdout": len(hold), "synthetic": len(syn)},
        "max_rows": max_rows,
        "target": target,
        "task": task_data.task if task_data is not None else None,
        "sensitive": sensitive,
        "families": steps,
        "seed_entropy": seq.entropy,
        "seconds": {**timings, "total": round(time.perf_counter() - t_all, 3)},
        "columns": schema.names,
        "schema": schema.to_dict(),
    }
    return Evaluation(metrics, meta=meta, summary=_summary(metrics))


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)
    p.start()
    return p, p.add_task("evaluating", total=total)
