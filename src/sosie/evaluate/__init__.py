"""Evidence that synthetic data is worth using: fidelity, utility, privacy, fairness.

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

__all__ = ["FAMILIES", "Evaluation", "MetricResult", "bootstrap_ci", "evaluate", "split_holdout"]
