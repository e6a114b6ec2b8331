"""Imports the built-in generator modules so that they register themselves."""

from . import arf as _arf  # noqa: F401
from . import auto as _auto  # noqa: F401
from . import copula as _copula  # noqa: F401
from . import diffusion as _diffusion  # noqa: F401
from . import dp as _dp  # noqa: F401  (aim, mst, dp_tabddpm: mbi, JAX and opacus are imported only when they fit)
from . import gan as _gan  # noqa: F401
from . import image as _image  # noqa: F401  (diffusers and torch are imported only when they fit)
from . import rules as _rules  # noqa: F401
from . import sequence as _sequence  # noqa: F401
