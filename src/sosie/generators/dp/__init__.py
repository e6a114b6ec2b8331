"""Differentially private generators: ``aim``, ``mst`` (noisy marginals), ``dp_tabddpm``, ``dp_ctgan`` (DP-SGD).

They need the ``dp`` extra (``pip install 'sosie[dp]'``: mbi, JAX, dp-accounting, opacus;
``dp_tabddpm`` and ``dp_ctgan`` also ``deep``); importing this package does not, so ``import sosie`` works
without it.

Example:
    >>> from sosie.generators import get_generator
    >>> get_generator("mst").__name__, get_generator("dp_tabddpm").__name__
    ('MSTGenerator', 'DPTabDDPMGenerator')
"""

from .aim import AIMGenerator
from .diffusion import DPTabDDPMGenerator
from .gan import DPCTGANGenerator
from .mst import MSTGenerator

__all__ = ["AIMGenerator", "DPCTGANGenerator", "DPTabDDPMGenerator", "MSTGenerator"]
