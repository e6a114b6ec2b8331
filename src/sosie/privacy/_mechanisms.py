"""Noise sources and the two mechanisms the marginal-based generators use.

:class:`NoiseSource` is where every privacy-relevant random draw comes from:

* ``NoiseSource.seeded(rng)``: numpy's PCG64, reproducible from a seed. Fine for
  experiments and tests; **not** for a release: anyone who knows the seed (it is
  recorded in the model file) can recompute the noise and remove it.
* ``NoiseSource.secure()``: every draw comes from the operating system's
  cryptographically secure generator (:func:`os.urandom`), so nothing can
  reproduce it.

Known limits (both sources): noise is a float64 transform of 53-bit uniforms.
Gaussian tails are therefore cut at about 8.3 standard deviations (this adds
well under 1e-15 to delta), and floating-point artefacts of the kind described by
Mironov (2012, "On significance of the least significant bits for differential
privacy") are not formally excluded: a discrete Gaussian sampler with exact
arithmetic would be needed for that.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from scipy import special

__all__ = ["NoiseSource", "exponential_mechanism", "gaussian_mechanism"]


class NoiseSource:
    """The source of DP noise: seeded (reproducible) or secure (OS randomness).

    Example:
        >>> a = NoiseSource.seeded(np.random.default_rng(0)).standard_normal(3)
        >>> b = NoiseSource.seeded(np.random.default_rng(0)).standard_normal(3)
        >>> bool((a == b).all()), NoiseSource.secure().standard_normal(2).shape
        (True, (2,))
    """

    def __init__(self, rng: np.random.Generator | None, *, secure: bool = False):
        if not secure and not isinstance(rng, np.random.Generator):
            raise TypeError("a seeded NoiseSource needs a numpy Generator")
        self._rng = None if secure else rng
        self.is_secure = bool(secure)

    @classmethod
    def seeded(cls, rng: np.random.Generator) -> NoiseSource:
        """Noise from a numpy ``Generator`` (reproducible)."""
        return cls(rng)

    @classmethod
    def secure(cls) -> NoiseSource:
        """Noise from :func:`os.urandom` (not reproducible)."""
        return cls(None, secure=True)

    @property
    def description(self) -> str:
        """How the noise is drawn, as recorded in the privacy ledger."""
        if self.is_secure:
            return "os.urandom (cryptographically secure)"
        return "numpy PCG64 seeded PRNG (reproducible; not for release)"

    def uniform(self, size: Any) -> np.ndarray:
        """Uniform draws in the open interval (0, 1)."""
        if self._rng is not None:
            u = self._rng.random(size)
            return np.where(u == 0.0, 2.0**-54, u)
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        n = math.prod(shape)
        bits = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) >> np.uint64(11)
        return ((bits.astype(np.float64) + 0.5) / 2.0**53).reshape(shape)

    def standard_normal(self, size: Any) -> np.ndarray:
        """Standard normal draws."""
        if self._rng is not None:
            return self._rng.standard_normal(size)
        return special.ndtri(self.uniform(size))

    def gumbel(self, size: Any) -> np.ndarray:
        """Standard Gumbel draws."""
        return -np.log(-np.log(self.uniform(size)))


def gaussian_mechanism(values: np.ndarray, sigma: float, noise: NoiseSource) -> np.ndarray:
    """``values`` plus independent N(0, ``sigma``²) noise (``sigma = 0``: no noise).

    Example:
        >>> out = gaussian_mechanism(np.zeros(4), 0.0, NoiseSource.seeded(np.random.default_rng(0)))
        >>> out.tolist()
        [0.0, 0.0, 0.0, 0.0]
    """
    values = np.asarray(values, dtype=np.float64)
    if sigma == 0:
        return values.copy()
    return values + float(sigma) * noise.standard_normal(values.shape)


def exponential_mechanism(
    scores: np.ndarray, epsilon: float, sensitivity: float, noise: NoiseSource
) -> int:
    """Index chosen with probability proportional to ``exp(epsilon * score / (2 * sensitivity))``.

    Implemented as the Gumbel-max trick (exactly the exponential mechanism's
    distribution); ``epsilon = inf`` returns the best score (first on ties).

    Example:
        >>> noise = NoiseSource.seeded(np.random.default_rng(0))
        >>> exponential_mechanism(np.array([0.0, 100.0, 0.0]), 10.0, 1.0, noise)
        1
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("the exponential mechanism needs at least one candidate")
    if math.isinf(epsilon):
        return int(np.argmax(scores))
    logits = (float(epsilon) / (2.0 * float(sensitivity))) * scores
    return int(np.argmax(logits + noise.gumbel(scores.shape)))
