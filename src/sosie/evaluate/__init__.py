"""Evidence that synthetic data is worth using: fidelity, utility, privacy, fairness.

Tables go through :func:`evaluate`; event sequences (a
:class:`~sosie.schema.SequenceSchema`) through :func:`evaluate_sequences`, whose
per-entity features come from :func:`sequence_features`.

Example:
    >>> from sosie.datasets import load_adult
    >>> from sosie.evaluate import evaluate, split_holdout
    >>> real = load_adult().sample(1200, random_state=0)
    >>> train, holdout = split_holdout(real, target="income", rng=0)
    >>> ev = evaluate(train, holdout, train, families=("fidelity",), rng=0)
    >>> ev.summary["column_shapes"] > 0.99
    True
"""

from ._core import Evaluation, MetricResult, bootstrap_ci
from ._evaluate import FAMILIES, evaluate, split_holdout
from .sequence import SEQUENCE_METRICS, evaluate_sequences, sequence_features

__all__ = [
    "FAMILIES",
    "SEQUENCE_METRICS",
    "Evaluation",
    "MetricResult",
    "bootstrap_ci",
    "evaluate",
    "evaluate_sequences",
    "sequence_features",
    "split_holdout",
]
