"""Bias audit for declared sensitive columns.

For each sensitive column: its distribution real vs synthetic, per-group fidelity
(column shapes within each group), and, with a classification target, per-group
TSTR vs TRTR and the downstream model's demographic-parity and equalized-odds
gaps on the real holdout when trained on real vs on synthetic data.

The gaps follow fairlearn's definitions (``demographic_parity_difference`` and
``equalized_odds_difference`` with ``agg="worst_case"``): the largest difference
between groups in selection rate, and the larger of the largest differences in
true- and false-positive rates. They are computed here (a few lines) so the audit
needs no extra dependency; a test checks them against fairlearn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ..schema import SemanticType, TableSchema
from ._core import MetricResult, clip01
from .utility import TaskData, fit_predict, prepare_task, task_scores

__all__ = ["demographic_parity_difference", "equalized_odds_difference", "fairness_metrics"]

MIN_GROUP = 20  # smaller groups are reported but excluded from gaps and per-group scores


def demographic_parity_difference(y_pred: np.ndarray, groups: np.ndarray) -> float:
    """Largest difference in selection rate (share predicted positive) between groups.

    Example:
        >>> demographic_parity_difference(np.array([1, 1, 0, 0]), np.array(["a", "a", "b", "b"]))
        1.0
    """
    y_pred = np.asarray(y_pred, dtype=bool)
    rates = [y_pred[groups == g].mean() for g in pd.unique(groups)]
    return float(max(rates) - min(rates)) if rates else float("nan")


def equalized_odds_difference(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> float:
    """Larger of the between-group differences in true-positive and false-positive rates.

    Example:
        >>> y = np.array([1, 0, 1, 0]); g = np.array(["a", "a", "b", "b"])
        >>> equalized_odds_difference(y, np.array([1, 0, 0, 0]), g)
        1.0
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tpr, fpr = [], []
    for g in pd.unique(groups):
        m = groups == g
        pos, neg = m & y_true, m & ~y_true
        if pos.any():
            tpr.append(y_pred[pos].mean())
        if neg.any():
            fpr.append(y_pred[neg].mean())
    gaps = [max(v) - min(v) for v in (tpr, fpr) if v]
    return float(max(gaps)) if gaps else float("nan")


def _group_key(s: pd.Series) -> np.ndarray:
    return s.astype(str).where(s.notna(), "<missing>").to_numpy()


def _check_sensitive(schema: TableSchema, sensitive: list[str]) -> None:
    problems = []
    for col in sensitive:
        if col not in schema:
            problems.append(
                Problem(
                    f"sensitive column {col!r}",
                    "a column of the data",
                    "no such column",
                    "check the name",
                )
            )
        elif schema[col].type not in (SemanticType.CATEGORICAL, SemanticType.BOOLEAN):
            problems.append(
                Problem(
                    f"sensitive column {col!r}",
                    "a categorical or boolean column (groups)",
                    f"a {schema[col].type.value} column",
                    "bin it into groups first (e.g. age bands) and declare it categorical",
                )
            )
    if problems:
        raise InvalidDataError(problems)


def fairness_metrics(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    sensitive: list[str],
    *,
    target: str | None = None,
    rng: RNGLike = None,
    task_data: TaskData | None = None,
    max_rows: int | None = None,
) -> list[MetricResult]:
    """The bias audit: distributions, per-group fidelity and utility, downstream fairness gaps.

    Example:
        >>> from sosie.datasets import load_adult
        >>> from sosie.schema import infer_schema
        >>> df = load_adult().sample(2000, random_state=1)
        >>> res = fairness_metrics(df, df, df, infer_schema(df), ["sex"])
        >>> res[0].name, round(res[0].value, 3)
        ('sensitive_distribution[sex]', 1.0)
    """
    gen = as_generator(rng)
    _check_sensitive(schema, sensitive)
    from .fidelity import column_shapes

    results: list[MetricResult] = []
    td = None
    if target is not None:
        td = task_data or prepare_task(
            real_train, real_holdout, synthetic, schema, target, max_rows=max_rows, rng=gen
        )
        if td.task == "classification":
            seed = int(gen.integers(0, 2**31 - 1))
            for train_set in ("real", "synthetic"):
                fit_predict(td, train_set, "gradient_boosting", seed)
        else:
            td = None  # gaps and per-group TSTR are defined here for classification
    for col in sensitive:
        real_g = _group_key(real_train[col])
        syn_g = _group_key(synthetic[col])
        groups = pd.Series(real_g).value_counts().index.tolist()
        p = pd.Series(real_g).value_counts(normalize=True)
        q = (
            pd.Series(syn_g)
            .value_counts(normalize=True)
            .reindex(p.index.union(pd.Index(pd.unique(syn_g))), fill_value=0)
        )
        p = p.reindex(q.index, fill_value=0)
        tvc = 1 - 0.5 * float((p - q).abs().sum())
        results.append(
            MetricResult(
                f"sensitive_distribution[{col}]",
                "fairness",
                "maximize",
                (0.0, 1.0),
                tvc,
                tvc,
                f"1 - total variation between the real and synthetic distribution of {col!r}",
                breakdown={g: {"real": float(p[g]), "synthetic": float(q[g])} for g in p.index},
                details={
                    "groups": {g: {"real": float(p[g]), "synthetic": float(q[g])} for g in p.index}
                },
            )
        )
        per_group = {}
        for g in groups:
            r_rows = real_train[real_g == g]
            s_rows = synthetic[syn_g == g]
            if len(r_rows) < MIN_GROUP or len(s_rows) < MIN_GROUP:
                per_group[g] = None
                continue
            per_group[g] = column_shapes(r_rows, s_rows, schema, n_boot=0).value
        scored = [v for v in per_group.values() if v is not None]
        worst = min(scored) if scored else float("nan")
        results.append(
            MetricResult(
                f"group_fidelity[{col}]",
                "fairness",
                "maximize",
                (0.0, 1.0),
                worst,
                clip01(worst),
                f"column shapes within each group of {col!r} (value: the worst group; groups under "
                f"{MIN_GROUP} rows are not scored)",
                breakdown=per_group,
                details={
                    "groups": {g: {"synthetic": v} for g, v in per_group.items() if v is not None}
                },
            )
        )
        if td is None:
            continue
        test_g = _group_key(td.test_frame[col])
        y_true = td.test_y == td.positive
        group_scores = {}
        for g in groups:
            rows = np.flatnonzero(test_g == g)
            if len(rows) < MIN_GROUP:
                continue
            trtr = task_scores(td, "real", "gradient_boosting", rows)["roc_auc"]
            tstr = task_scores(td, "synthetic", "gradient_boosting", rows)["roc_auc"]
            group_scores[g] = {"trtr": trtr, "tstr": tstr}
        ratios = [
            v["tstr"] / v["trtr"]
            for v in group_scores.values()
            if v["trtr"] and math.isfinite(v["trtr"]) and math.isfinite(v["tstr"])
        ]
        worst_ratio = min(ratios) if ratios else float("nan")
        results.append(
            MetricResult(
                f"group_utility[{col}]",
                "fairness",
                "maximize",
                (0.0, float("inf")),
                worst_ratio,
                clip01(worst_ratio),
                f"per-group ROC-AUC on the real holdout, trained on synthetic vs real (value: the worst "
                f"group's TSTR/TRTR ratio) for groups of {col!r}",
                baseline=1.0,
                breakdown=group_scores,
                details={"groups": group_scores, "score_name": "roc_auc"},
            )
        )
        keep = np.isin(test_g, [g for g in groups if (test_g == g).sum() >= MIN_GROUP])
        for gap_name, fn in (("dp_gap", "dp"), ("eo_gap", "eo")):
            gaps = {}
            for train_set, label in (("real", "real"), ("synthetic", "synthetic")):
                pred = td.predictions.get((train_set, "gradient_boosting"))
                if pred is None:
                    gaps[label] = float("nan")
                    continue
                yp = pred == td.positive
                gaps[label] = (
                    demographic_parity_difference(yp[keep], test_g[keep])
                    if fn == "dp"
                    else equalized_odds_difference(y_true[keep], yp[keep], test_g[keep])
                )
            excess = gaps["synthetic"] - gaps["real"]
            what = "demographic-parity" if fn == "dp" else "equalized-odds"
            results.append(
                MetricResult(
                    f"{gap_name}[{col}]",
                    "fairness",
                    "minimize",
                    (0.0, 1.0),
                    gaps["synthetic"],
                    clip01(1 - max(0.0, excess) * 5) if math.isfinite(excess) else float("nan"),
                    f"{what} gap across groups of {col!r} of a model trained on synthetic (value) vs on "
                    f"real data (baseline), predicting {td.positive!r} on the real holdout",
                    baseline=gaps["real"],
                    details={"gaps": gaps},
                )
            )
    return results
