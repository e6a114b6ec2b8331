"""Drift monitoring: has the real data moved away from what the generator learned?

:func:`drift` compares a **reference** table (the generator's training data, or samples from
the fitted generator itself) with a **current** table (new real data) and says whether the
generator must be refit:

* per column, the population stability index (PSI: reference deciles for numbers, categories
  for the rest, missing values as one more bin) as the effect size, and a test of "same
  distribution" (two-sample Kolmogorov-Smirnov for numbers and datetimes, chi-square on the
  category counts for the rest), with Benjamini-Hochberg control of the false discovery rate
  over the columns;
* jointly, the detection AUC of a classifier telling reference rows from current rows (see
  :func:`sosie.evaluate.fidelity.detection`): it sees drift in relations between columns that no
  single column shows;
* a verdict: ``refit`` when a column drifts significantly by at least ``psi_refit`` or the
  detection AUC reaches ``auc_refit``; ``watch`` from ``psi_watch`` / ``auc_watch``; else ``ok``.

A column needs both significance and effect size: with a million rows every trivial shift is
significant, with fifty rows a large one may not be.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..schema import TableSchema
from ._core import Evaluation, MetricResult, clip01

__all__ = ["DriftThresholds", "benjamini_hochberg", "drift", "psi"]

PSI_EPS = 1e-4  # share given to an empty bin so that the logarithm stays finite
N_BINS = 10


@dataclass(frozen=True)
class DriftThresholds:
    """When drift means "watch" and when it means "refit".

    Attributes:
        alpha: false discovery rate of the per-column tests (Benjamini-Hochberg).
        psi_watch: PSI from which a significant column is worth watching (0.1 is the usual
            "moderate shift").
        psi_refit: PSI from which a significant column means refit (0.25: "major shift").
        auc_watch: detection AUC from which the joint shift is worth watching.
        auc_refit: detection AUC from which the joint shift means refit.

    Example:
        >>> DriftThresholds(psi_refit=0.5).psi_refit
        0.5
    """

    alpha: float = 0.05
    psi_watch: float = 0.10
    psi_refit: float = 0.25
    auc_watch: float = 0.60
    auc_refit: float = 0.70

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not 0 <= self.psi_watch <= self.psi_refit:
            raise ValueError(
                f"expected 0 <= psi_watch <= psi_refit, got {self.psi_watch!r} and {self.psi_refit!r}"
            )
        if not 0.5 <= self.auc_watch <= self.auc_refit <= 1:
            raise ValueError(
                f"expected 0.5 <= auc_watch <= auc_refit <= 1, got {self.auc_watch!r} and "
                f"{self.auc_refit!r}"
            )


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index of two histograms over the same bins.

    ``sum((c - r) * ln(c / r))`` over the bins, with ``r`` and ``c`` the shares of the bins
    (an empty bin counts as ``eps``). 0 means the same shares; by convention < 0.1 is stable,
    0.1-0.25 a moderate shift and > 0.25 a major one.

    Example:
        >>> psi(np.array([50, 50]), np.array([50, 50]))
        0.0
        >>> round(psi(np.array([50, 50]), np.array([80, 20])), 4)  # 0.3 ln 1.6 + 0.3 ln 2.5
        0.4159
    """
    r = np.asarray(reference_counts, dtype=float)
    c = np.asarray(current_counts, dtype=float)
    if r.shape != c.shape or r.sum() <= 0 or c.sum() <= 0:
        raise ValueError("psi: expected two non-empty histograms over the same bins")
    r = np.maximum(r / r.sum(), eps)
    c = np.maximum(c / c.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN.

    Example:
        >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2])).round(3).tolist()
        [0.04, 0.053, 0.053, 0.2]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = ok.size
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


def _numeric_column(r: np.ndarray, c: np.ndarray) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    rv, cv = r[np.isfinite(r)], c[np.isfinite(c)]
    if rv.size == 0 or cv.size == 0:
        edges = np.array([-np.inf, np.inf])
    else:
        qs = np.linspace(0, 1, N_BINS + 1)[1:-1]
        inner = np.unique(np.quantile(rv, qs))
        if inner.size < N_BINS // 2:  # a spike (e.g. mostly zeros): bin the rest on its own
            vals, counts = np.unique(rv, return_counts=True)
            mode = vals[np.argmax(counts)]
            rest = rv[rv != mode]
            extra = np.quantile(rest, qs) if rest.size else np.zeros(0)
            inner = np.unique(np.r_[inner, mode, np.nextafter(mode, np.inf), extra])
        edges = np.r_[-np.inf, inner, np.inf]

    def hist(x: np.ndarray) -> np.ndarray:
        v = x[np.isfinite(x)]
        return np.r_[
            np.histogram(v, edges)[0] if v.size else np.zeros(len(edges) - 1),
            np.sum(~np.isfinite(x)),
        ]

    hr, hc = hist(r), hist(c)
    if rv.size and cv.size:
        ks = ks_2samp(rv, cv, method="asymp")
        stat, p = float(ks.statistic), float(ks.pvalue)
    else:
        stat = p = float("nan")

    return {
        "test": "Kolmogorov-Smirnov",
        "statistic": stat,
        "p_value": p,
        "psi": psi(hr, hc),
        "reference_mean": float(np.mean(rv)) if rv.size else None,
        "current_mean": float(np.mean(cv)) if cv.size else None,
    }


def _categorical_column(r: np.ndarray, c: np.ndarray, k: int) -> dict[str, Any]:
    from scipy.stats import chi2_contingency

    hr = np.bincount(r + 1, minlength=k + 1)  # bin 0: missing
    hc = np.bincount(c + 1, minlength=k + 1)
    keep = (hr + hc) > 0
    table = np.vstack([hr[keep], hc[keep]])
    if table.shape[1] < 2:
        stat, p = 0.0, 1.0
    else:
        res = chi2_contingency(table, correction=False)
        stat, p = float(res.statistic), float(res.pvalue)
    return {"test": "chi-square", "statistic": stat, "p_value": p, "psi": psi(hr, hc)}


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    schema: TableSchema | None = None,
    thresholds: DriftThresholds | None = None,
    max_rows: int = 20_000,
    rng: RNGLike = None,
) -> Evaluation:
    """Per-column and joint drift of ``current`` against ``reference``, with a verdict.

    Args:
        reference: what the generator learned: its training data or samples from it.
        current: the new real data.
        schema: the columns' types (default: inferred from ``reference``).
        thresholds: when drift means watch or refit (:class:`DriftThresholds`).
        max_rows: rows of each table the detection classifier uses (the per-column
            statistics use every row).
        rng: seed of the detection classifier's subsample and folds.

    Returns:
        An :class:`~sosie.evaluate.Evaluation` of family ``"drift"`` (``psi_max``,
        ``drifted_columns``, ``detection_auc``) whose ``meta["drift"]`` holds the verdict, the
        reasons, the thresholds and one row per column (test, statistic, p and q values,
        PSI, level, drifted).

    Example:
        >>> g = np.random.default_rng(0)
        >>> ref = pd.DataFrame({"x": g.normal(size=2000), "c": g.choice(list("ab"), 2000)})
        >>> cur = ref.assign(x=ref["x"] + 1.0)  # every x moved by one standard deviation
        >>> ev = drift(ref, cur, rng=0)
        >>> ev.meta["drift"]["verdict"], [c["column"] for c in ev.meta["drift"]["columns"] if c["drifted"]]
        ('refit', ['x'])
    """
    from ..schema import infer_schema
    from .fidelity import _prepare, detection

    th = thresholds or DriftThresholds()
    sc = schema if schema is not None else infer_schema(reference)
    gen = as_generator(rng)
    prep = _prepare(reference, current, sc)
    rows = []
    for col in prep.columns:
        if col.kind == "numeric":
            info = _numeric_column(col.real, col.synthetic)
        else:
            info = _categorical_column(col.real, col.synthetic, len(col.categories or []))
        rows.append(
            {"column": col.name, "kind": "datetime" if col.is_datetime else col.kind, **info}
        )
    q = benjamini_hochberg(np.array([r["p_value"] for r in rows], dtype=float))
    for r, qv in zip(rows, q, strict=True):
        r["q_value"] = float(qv)
        significant = math.isfinite(qv) and qv < th.alpha
        r["level"] = (
            "major"
            if r["psi"] >= th.psi_refit
            else "moderate"
            if r["psi"] >= th.psi_watch
            else "stable"
        )
        r["drifted"] = bool(significant and r["level"] != "stable")
    rows.sort(key=lambda r: -r["psi"])
    det = detection(reference, current, sc, max_rows=max_rows, rng=gen)
    det = dataclasses.replace(
        det,
        family="drift",
        description="cross-validated ROC AUC of gradient boosting telling reference rows from "
        "current rows (0.5: no joint drift; sees shifts in relations between columns)",
    )
    psis = {r["column"]: r["psi"] for r in rows}
    psi_max = max(psis.values()) if psis else 0.0
    drifted = [r["column"] for r in rows if r["drifted"]]
    share = len(drifted) / len(rows) if rows else 0.0
    reasons = []
    major = [r["column"] for r in rows if r["drifted"] and r["level"] == "major"]
    moderate = [r["column"] for r in rows if r["drifted"] and r["level"] == "moderate"]
    auc = det.value
    if major:
        reasons.append(f"major drift (PSI >= {th.psi_refit}) in {', '.join(major)}")
    if math.isfinite(auc) and auc >= th.auc_refit:
        reasons.append(f"detection AUC {auc:.3f} >= {th.auc_refit}")
    verdict = "refit" if reasons else "ok"
    if verdict == "ok":
        if moderate:
            reasons.append(f"moderate drift (PSI >= {th.psi_watch}) in {', '.join(moderate)}")
        if math.isfinite(auc) and auc >= th.auc_watch:
            reasons.append(f"detection AUC {auc:.3f} >= {th.auc_watch}")
        verdict = "watch" if reasons else "ok"
    if not reasons:
        reasons.append("no column drifts significantly and the detection AUC is near 0.5")
    metrics = [
        MetricResult(
            "psi_max",
            "drift",
            "minimize",
            (0.0, math.inf),
            psi_max,
            clip01(1.0 - psi_max / (2.0 * th.psi_refit)),
            "largest population stability index over the columns (reference deciles or "
            f"categories; < {th.psi_watch} stable, >= {th.psi_refit} major)",
            breakdown={k: round(v, 6) for k, v in psis.items()},
            details={
                "groups": {k: {"psi": round(v, 6)} for k, v in list(psis.items())[:30]},
                "score_name": "PSI",
                "attribute": "column",
            },
        ),
        MetricResult(
            "drifted_columns",
            "drift",
            "minimize",
            (0.0, 1.0),
            share,
            clip01(1.0 - share),
            f"share of columns whose distribution changed significantly (Benjamini-Hochberg "
            f"q < {th.alpha}) by at least PSI {th.psi_watch}",
            breakdown={r["column"]: r["level"] for r in rows if r["drifted"]},
        ),
        det,
    ]
    meta = {
        "kind": "drift",
        "drift_verdict": verdict,
        "drift": {
            "verdict": verdict,
            "reasons": reasons,
            "thresholds": dataclasses.asdict(th),
            "columns": rows,
            "drifted": drifted,
        },
        "n_reference": len(reference),
        "n_current": len(current),
        "families": ["drift"],
        "skipped": {f: "a drift check" for f in ("fidelity", "utility", "privacy", "fairness")},
    }
    summary = {
        "psi_max": psi_max,
        "drifted_columns": share,
        "detection_auc": det.value,
    }
    return Evaluation(metrics, meta=meta, summary=summary)
