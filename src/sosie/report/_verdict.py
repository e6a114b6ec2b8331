"""Pass / warn / fail verdicts: every threshold lives here (the report's footer prints them).

Rules:

* **Score metrics** (all but the AUC tests below) are judged on ``normalized`` (in [0, 1], higher
  is better): pass at ``>= SCORE_PASS``, warn at ``>= SCORE_WARN``, else fail.
* **AUC tests** (``detection_auc*`` and ``mia_*`` whose chance level is 0.5) are judged on how far
  the 95 % interval stays from chance: fail if the whole interval lies more than
  ``AUC_FAIL_MARGIN`` away from 0.5; warn if it lies more than ``AUC_WARN_MARGIN`` away, or the
  point estimate is more than ``AUC_FAIL_MARGIN`` away (a wide interval is no reassurance);
  else pass. Without an interval the point estimate stands for it. Both sides of 0.5 count:
  an attack that is reliably wrong leaks as much as one that is reliably right.
* **Families**: privacy takes its worst metric (one working attack is enough). Fidelity, utility
  and fairness judge the mean normalized score of their score metrics, then take the worse of
  that and of their AUC tests.
* A metric without a finite value gives ``n/a`` and is left out; a family with no judged
  metric gives ``n/a``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._svg import finite, fmt

Verdict = Literal["pass", "warn", "fail", "n/a"]

FAMILIES: tuple[str, ...] = ("fidelity", "utility", "privacy", "fairness")
SCORE_PASS = 0.90
SCORE_WARN = 0.75
AUC_CHANCE = 0.5
AUC_WARN_MARGIN = 0.05
AUC_FAIL_MARGIN = 0.10
WORST_CASE_FAMILIES = frozenset({"privacy"})

_RANK = {"pass": 0, "warn": 1, "fail": 2}

RULES: tuple[str, ...] = (
    f"Score metrics: normalized score (0–1, higher is better) ≥ {SCORE_PASS:.2f} passes, "
    f"≥ {SCORE_WARN:.2f} warns, lower fails.",
    f"AUC tests (detection and membership-inference attacks, chance = {AUC_CHANCE}): fail when "
    f"the whole 95 % confidence interval is more than {AUC_FAIL_MARGIN:.2f} away from "
    f"{AUC_CHANCE}; warn when it is more than {AUC_WARN_MARGIN:.2f} away or the point "
    f"estimate is more than {AUC_FAIL_MARGIN:.2f} away; otherwise pass. Without an interval "
    "the point estimate is used.",
    "Privacy takes its worst metric. Fidelity, utility and fairness judge the mean normalized "
    "score of their score metrics and then take the worse of that and their AUC tests.",
    "Metrics without a finite value are shown as n/a and do not count.",
)


@dataclass(frozen=True)
class FamilyVerdict:
    """The verdict of one family and why."""

    family: str
    verdict: Verdict
    score: float | None
    reason: str
    n_metrics: int


def is_auc_test(metric: Any) -> bool:
    """Whether a metric is judged as an AUC against chance (detection and MIA attacks)."""
    name = str(getattr(metric, "name", ""))
    if not (name.startswith("mia_") or name.startswith("detection_auc")):
        return False
    return (
        "auc" in name
        or finite(getattr(metric, "target_value", None)) == AUC_CHANCE
        or finite(getattr(metric, "baseline", None)) == AUC_CHANCE
    )


def score_verdict(score: float | None) -> Verdict:
    """Verdict of a normalized score (``n/a`` when missing).

    Example:
        >>> score_verdict(0.93), score_verdict(0.8), score_verdict(0.5), score_verdict(None)
        ('pass', 'warn', 'fail', 'n/a')
    """
    s = finite(score)
    if s is None:
        return "n/a"
    return "pass" if s >= SCORE_PASS else "warn" if s >= SCORE_WARN else "fail"


def _ci(metric: Any) -> tuple[float, float] | None:
    ci = getattr(metric, "ci", None)
    if ci is None or isinstance(ci, (str, bytes)):
        return None
    try:
        lo, hi = (finite(v) for v in ci)
    except (TypeError, ValueError):
        return None
    if lo is None or hi is None:
        return None
    return (min(lo, hi), max(lo, hi))


def auc_verdict(value: Any, ci: Sequence[Any] | None = None) -> Verdict:
    """Verdict of an AUC against chance 0.5, using its interval when there is one.

    Example:
        >>> auc_verdict(0.52, (0.49, 0.55)), auc_verdict(0.58, (0.56, 0.60)), auc_verdict(0.7, (0.65, 0.75))
        ('pass', 'warn', 'fail')
    """
    v = finite(value)
    if v is None:
        return "n/a"
    lo, hi = (v, v)
    if ci is not None:
        bounds = [finite(x) for x in ci] if not isinstance(ci, (str, bytes)) else []
        if len(bounds) == 2 and None not in bounds:
            lo, hi = min(bounds), max(bounds)  # type: ignore[type-var]
    gap_ci = max(lo - AUC_CHANCE, AUC_CHANCE - hi, 0.0)
    gap_point = abs(v - AUC_CHANCE)
    if gap_ci > AUC_FAIL_MARGIN:
        return "fail"
    if gap_ci > AUC_WARN_MARGIN or gap_point > AUC_FAIL_MARGIN:
        return "warn"
    return "pass"


def metric_verdict(metric: Any) -> Verdict:
    """The verdict of one :class:`~sosie.evaluate.MetricResult`-like object: AUC tests
    (``detection_auc*``, ``mia_*``) by :func:`auc_verdict`, the rest by :func:`score_verdict`.

    Example:
        >>> from sosie.evaluate._core import MetricResult
        >>> metric_verdict(MetricResult("mia_shadow", "privacy", "target", (0, 1), 0.57, 0.86,
        ...                             "x", ci=(0.54, 0.60), baseline=0.5, target_value=0.5))
        'pass'
    """
    if is_auc_test(metric):
        return auc_verdict(getattr(metric, "value", None), _ci(metric))
    return score_verdict(getattr(metric, "normalized", None))


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of some verdicts (``n/a`` ignored; ``n/a`` if nothing is left)."""
    judged = [v for v in verdicts if v in _RANK]
    return max(judged, key=_RANK.__getitem__) if judged else "n/a"


def family_verdict(family: str, metrics: Sequence[Any]) -> FamilyVerdict:
    """Judge one family's metrics (see the module docstring for the rules)."""
    judged = [(m, metric_verdict(m)) for m in metrics]
    judged = [(m, v) for m, v in judged if v != "n/a"]
    scores = [finite(getattr(m, "normalized", None)) for m in metrics]
    scores = [s for s in scores if s is not None]
    mean_all = sum(scores) / len(scores) if scores else None
    if not judged:
        return FamilyVerdict(family, "n/a", mean_all, "no metric with a finite value", len(metrics))
    if family in WORST_CASE_FAMILIES:
        m, v = max(judged, key=lambda mv: (_RANK[mv[1]], -(finite(mv[0].normalized) or 0.0)))
        reason = f"worst metric: {m.name} ({_describe(m)})"
        return FamilyVerdict(family, v, mean_all, reason, len(metrics))
    score_ms = [m for m, _ in judged if not is_auc_test(m)]
    auc_ms = [(m, v) for m, v in judged if is_auc_test(m)]
    parts: list[tuple[Verdict, str]] = []
    if score_ms:
        mean = sum(float(m.normalized) for m in score_ms) / len(score_ms)
        parts.append(
            (score_verdict(mean), f"mean score {fmt(mean)} over {len(score_ms)} metric(s)")
        )
    for m, v in auc_ms:
        parts.append((v, f"{m.name} ({_describe(m)})"))
    verdict = worst(v for v, _ in parts)
    reason = next(r for v, r in parts if v == verdict)
    return FamilyVerdict(family, verdict, mean_all, reason, len(metrics))


def _describe(metric: Any) -> str:
    if is_auc_test(metric):
        ci = _ci(metric)
        tail = f", 95 % CI {fmt(ci[0])}–{fmt(ci[1])}" if ci else ""
        return f"AUC {fmt(metric.value)}{tail}"
    return f"score {fmt(metric.normalized)}"
