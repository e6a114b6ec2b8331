"""Evidence that synthetic data is worth using: fidelity, utility, privacy, fairness.

Tables go through :func:`evaluate`; event sequences (a
:class:`~sosie.schema.SequenceSchema`) through :func:`evaluate_sequences`, whose
per-entity features come from :func:`sequence_features`; images (an
:class:`~sosie.images.ImageBatch`) through :func:`evaluate_images`, built on
:class:`ImageClassifier`, :func:`frechet_distance`, :func:`precision_recall` and
:func:`memorisation`; texts through :func:`evaluate_text` (sentence embeddings,
:func:`distinct_n`, :func:`self_similarity`, TSTR text classifiers, copies). Around a
pipeline over time: :func:`drift` watches new real data drift away from what a generator
learned; :func:`collapse` studies generators trained on their predecessors' output
(:func:`tail_coverage`); :func:`domain_gap` compares a synthetic-trained model on held-out
synthetic data and on real data (:func:`gap_metric`; the tabular, text and image evaluations
include it).

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
from .collapse import collapse, tail_coverage
from .domain_gap import domain_gap, gap_metric
from .drift import DriftThresholds, drift
from .image import (
    IMAGE_METRICS,
    ImageClassifier,
    Memorisation,
    evaluate_images,
    frechet_distance,
    memorisation,
    precision_recall,
)
from .sequence import SEQUENCE_METRICS, evaluate_sequences, sequence_features
from .text import TEXT_METRICS, distinct_n, evaluate_text, self_similarity

__all__ = [
    "FAMILIES",
    "IMAGE_METRICS",
    "SEQUENCE_METRICS",
    "TEXT_METRICS",
    "DriftThresholds",
    "Evaluation",
    "ImageClassifier",
    "Memorisation",
    "MetricResult",
    "bootstrap_ci",
    "collapse",
    "distinct_n",
    "domain_gap",
    "drift",
    "evaluate",
    "evaluate_images",
    "evaluate_sequences",
    "evaluate_text",
    "frechet_distance",
    "gap_metric",
    "memorisation",
    "precision_recall",
    "self_similarity",
    "sequence_features",
    "split_holdout",
    "tail_coverage",
]
