"""The metric contract: self-describing results, bootstrap intervals, the Evaluation container."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ..schema import TableSchema
from ..schema._infer import check_frame

__all__ = ["Evaluation", "MetricResult", "bootstrap_ci", "check_tables"]

Family = Literal["fidelity", "utility", "privacy", "fairness"]
Goal = Literal["maximize", "minimize", "target"]


@dataclass
class MetricResult:
    """One metric's result; it describes itself.

    Attributes:
        name: stable snake_case name (``column_shapes``, ``detection_auc``, ``mia_distance``...).
        family: ``fidelity``, ``utility``, ``privacy`` or ``fairness``.
        goal: ``maximize``, ``minimize``, or ``target`` (best at ``target_value``, e.g. AUC 0.5).
        range: the interval ``value`` lives in.
        value: the raw value.
        normalized: a score in [0, 1], higher is better (what verdicts and policies compare).
        description: one line saying what it measures (for attacks: the threat model).
        ci: bootstrap confidence interval of ``value`` (95 %) where it is a statistic of samples.
        baseline: what a random guess or a trivial model scores (attacks, utility).
        target_value: the best value for ``goal == "target"``.
        breakdown: per column, pair or group values.
        details: data behind the plots (curves, histograms), JSON-ready.

    Example:
        >>> r = MetricResult("exact_copies", "privacy", "minimize", (0.0, 1.0), 0.0, 1.0,
        ...                  "share of synthetic rows identical to a training row")
        >>> MetricResult.from_dict(r.to_dict()) == r
        True
    """

    name: str
    family: Family
    goal: Goal
    range: tuple[float, float]
    value: float
    normalized: float
    description: str
    ci: tuple[float, float] | None = None
    baseline: float | None = None
    target_value: float | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes ``None``)."""
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricResult:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        lo, hi = d["range"]  # JSON has no infinity: an unbounded end is stored as null
        d["range"] = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
        if d.get("ci") is not None:
            d["ci"] = tuple(d["ci"])
        for k in ("value", "normalized"):
            if d.get(k) is None:
                d[k] = float("nan")
        return cls(**d)


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def bootstrap_ci(
    statistic: Callable[..., float],
    *samples: np.ndarray,
    n_boot: int = 200,
    level: float = 0.95,
    rng: RNGLike = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling each sample's rows.

    Example:
        >>> x = np.random.default_rng(0).normal(size=500)
        >>> lo, hi = bootstrap_ci(np.mean, x, rng=0)
        >>> lo < 0 < hi
        True
    """
    gen = as_generator(rng)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        resampled = [s[gen.integers(0, len(s), len(s))] for s in samples]
        stats[b] = statistic(*resampled)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return (float("nan"), float("nan"))
    a = (1 - level) / 2
    return (float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a)))


@dataclass
class Evaluation:
    """All metrics of one evaluation, plus what was compared (JSON round trip).

    ``summary`` holds the headline numbers that reports show first and policies test
    (e.g. ``detection_auc``, ``tstr_ratio``, ``mia_auc``, ``exact_copies``).

    Example:
        >>> ev = Evaluation([MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.9, 0.9, "x")],
        ...                 meta={"n_synthetic": 10})
        >>> Evaluation.from_json(ev.to_json())["column_shapes"].value
        0.9
    """

    metrics: list[MetricResult]
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, float | None] = field(default_factory=dict)

    def __iter__(self) -> Iterator[MetricResult]:
        return iter(self.metrics)

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.metrics)

    def __getitem__(self, name: str) -> MetricResult:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no metric {name!r}; have: {', '.join(m.name for m in self.metrics)}")

    def by_family(self, family: str) -> list[MetricResult]:
        """The metrics of one family, in order."""
        return [m for m in self.metrics if m.family == family]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "format": "sosie-evaluation",
            "version": 1,
            "meta": _clean(self.meta),
            "summary": _clean(self.summary),
            "metrics": [m.to_dict() for m in self.metrics],
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """Serialise; with ``path`` the file is written atomically."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            from ..io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        """Inverse of :meth:`to_dict`."""
        if d.get("format") != "sosie-evaluation":
            from ..errors import Problem, SchemaError

            raise SchemaError(
                Problem(
                    "evaluation JSON",
                    "a file written by sosie evaluate (format 'sosie-evaluation')",
                    repr(d.get("format")),
                    "pass the evaluation.json that sosie wrote",
                )
            )
        return cls(
            [MetricResult.from_dict(m) for m in d.get("metrics", [])],
            meta=d.get("meta", {}),
            summary=d.get("summary", {}),
        )

    @classmethod
    def from_json(cls, source: str | Path) -> Evaluation:
        """Read from a JSON string or file path."""
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            text = Path(source).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))


def clip01(x: float) -> float:
    """Clip to [0, 1] (NaN stays NaN)."""
    return float(np.clip(x, 0.0, 1.0)) if math.isfinite(x) else float("nan")


def mean_or_nan(values: Sequence[float]) -> float:
    """Mean of the finite values, NaN if none."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    return float(v.mean()) if v.size else float("nan")


def check_tables(tables: dict[str, Any], schema: TableSchema, *, min_rows: int = 1) -> None:
    """Every table is a DataFrame with enough rows and every schema column; all problems at once.

    Example:
        >>> import pandas as pd
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
        >>> check_tables({"real": df, "synthetic": df}, infer_schema(df))  # passes silently
    """
    problems: list[Problem] = []
    for name, df in tables.items():
        frame_problems = check_frame(df, min_rows=min_rows, what=name)
        problems += frame_problems
        if frame_problems:
            continue
        missing = [c for c in schema.names if c not in df.columns]
        if missing:
            problems.append(
                Problem(
                    f"{name} columns",
                    "every column of the schema",
                    "missing " + ", ".join(map(repr, missing)),
                    "evaluate tables with the same columns (the synthetic data sampled from a model "
                    "of the real train)",
                )
            )
    if problems:
        raise InvalidDataError(problems)
