"""The only place where random generators are built.

sosie never touches global random state. Every function that draws takes an
``rng`` argument: ``None`` (fresh OS entropy), an ``int`` seed, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import numpy as np

RNGLike = None | int | np.integer | np.random.Generator | np.random.SeedSequence

__all__ = ["RNGLike", "as_generator", "as_seed_sequence", "child_seed_sequence", "spawn"]


def as_seed_sequence(rng: RNGLike) -> np.random.SeedSequence:
    """Normalise ``rng`` to a :class:`numpy.random.SeedSequence`.

    A ``Generator`` is consumed (one draw) to derive a reproducible child.

    Example:
        >>> as_seed_sequence(7).entropy
        7
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, bool):
        raise TypeError("rng must be None, an int, a SeedSequence or a numpy Generator, not bool")
    if isinstance(rng, (int, np.integer)):
        if int(rng) < 0:
            raise ValueError(f"rng seed must be a non-negative integer, got {int(rng)}")
        return np.random.SeedSequence(int(rng))
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))
    raise TypeError(
        f"rng must be None, an int, a numpy SeedSequence or a numpy Generator; got {type(rng).__name__}"
    )


def as_generator(rng: RNGLike) -> np.random.Generator:
    """Normalise ``rng`` to a :class:`numpy.random.Generator` (a Generator passes through).

    Example:
        >>> float(as_generator(0).random()) == float(as_generator(0).random())
        True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.Generator(np.random.PCG64(as_seed_sequence(rng)))


def spawn(rng: RNGLike, n: int) -> list[np.random.SeedSequence]:
    """Spawn ``n`` independent child seed sequences (e.g. one per shard, by logical index).

    Example:
        >>> len(spawn(3, 4))
        4
    """
    return as_seed_sequence(rng).spawn(n)


def child_seed_sequence(entropy: int | list[int], *key: int) -> np.random.SeedSequence:
    """Rebuild the child seed sequence at a fixed spawn key (stable across save/load).

    Example:
        >>> a = child_seed_sequence(1, 0, 3).generate_state(1)
        >>> b = child_seed_sequence(1, 0, 3).generate_state(1)
        >>> bool((a == b).all())
        True
    """
    return np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in key))


def torch_generator(
    seed_sequence: np.random.SeedSequence, device: str = "cpu"
):  # pragma: no cover - torch extra
    """A ``torch.Generator`` seeded from ``seed_sequence`` (never touches torch's global seed)."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(seed_sequence.generate_state(1, dtype=np.uint64)[0] & ((1 << 63) - 1)))
    return g
