"""Generator families, their registry and the contract they share.

Example:
    >>> from sosie.generators import list_generators
    >>> {"aim", "arf", "auto", "ctgan", "gaussian_copula", "mst", "rules"} <= set(list_generators())
    True
"""

from .arf import ARFGenerator
from .base import Generator, fingerprint
from .copula import GaussianCopulaGenerator
from .dp import AIMGenerator, MSTGenerator
from .gan import CTGANGenerator
from .registry import get_generator, list_generators, make_generator, register
from .rules import RulesGenerator
from .sequence import SequenceGenerator, SequenceGRUGenerator

__all__ = [
    "AIMGenerator",
    "ARFGenerator",
    "CTGANGenerator",
    "GaussianCopulaGenerator",
    "Generator",
    "MSTGenerator",
    "RulesGenerator",
    "SequenceGRUGenerator",
    "SequenceGenerator",
    "fingerprint",
    "get_generator",
    "list_generators",
    "make_generator",
    "register",
]
