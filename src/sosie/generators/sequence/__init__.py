"""Sequence generators: entities with static attributes and variable-length event sequences.

Fit on one long event table (one row per event) with ``entity=`` and ``time=``;
sample new entities with ``sample(n_entities)``. See
:class:`~sosie.generators.sequence.gru.SequenceGRUGenerator` and the schema in
:mod:`sosie.schema._sequence`.

Example:
    >>> from sosie.datasets import load_rdataset
    >>> from sosie.generators import make_generator
    >>> panel = load_rdataset("sampleSelection", "nlswork")[["idcode", "year", "race", "ln_wage"]]
    >>> gen = make_generator("sequence_gru", epochs=1, hidden=16, rng=0)
    >>> gen = gen.fit(panel.head(300), entity="idcode", time="year")
    >>> gen.sample(5, rng=0)["idcode"].nunique()
    5
"""

from ._base import SequenceGenerator
from .gru import SequenceGRUGenerator

__all__ = ["SequenceGRUGenerator", "SequenceGenerator"]
