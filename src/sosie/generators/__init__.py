"""Generator families, their registry and the contract they share.

Example:
    >>> from sosie.generators import list_generators
    >>> sorted(list_generators())[:2]
    ['gaussian_copula', 'rules']
"""

from .base import Generator, fingerprint
from .copula import GaussianCopulaGenerator
from .registry import get_generator, list_generators, make_generator, register
from .rules import RulesGenerator

__all__ = [
    "GaussianCopulaGenerator",
    "Generator",
    "RulesGenerator",
    "fingerprint",
    "get_generator",
    "list_generators",
    "make_generator",
    "register",
]
