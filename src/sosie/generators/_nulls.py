"""Null patterns: which ``#null`` indicators are set together, and drawing them.

Neural families reproduce missingness exactly in expectation by drawing each
synthetic row's null pattern from the training table's pattern frequencies
(restricted to the patterns that agree with the row's own null conditions) and then
generating the rest of the row conditioned on it. Only the patterns, never row
values, are stored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_null_patterns", "null_patterns"]


def null_patterns(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of an (n, m) 0/1 indicator matrix and their frequencies.

    Example:
        >>> pats, probs = null_patterns(np.array([[0, 0], [1, 1], [0, 0], [0, 0]]))
        >>> pats.tolist(), probs.tolist()
        ([[0, 0], [1, 1]], [0.75, 0.25])
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape[1] == 0:
        return np.zeros((1, 0), dtype=np.int64), np.ones(1)
    pats, counts = np.unique(codes, axis=0, return_counts=True)
    return pats.astype(np.int64), counts / counts.sum()


def draw_null_patterns(
    patterns: np.ndarray, probs: np.ndarray, want: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One pattern per row, drawn from ``probs`` among the patterns agreeing with ``want``.

    ``want`` is (n, m): 0/1 where a row's indicator is given, -1 where it is free. A
    row whose given indicators match no training pattern keeps its given values and
    gets 0 (observed) for the free ones.

    Example:
        >>> pats, probs = np.array([[0, 0], [1, 1], [1, 0]]), np.array([0.5, 0.3, 0.2])
        >>> want = np.array([[1, -1]] * 1000)
        >>> got = draw_null_patterns(pats, probs, want, np.random.default_rng(0))
        >>> bool((got[:, 0] == 1).all()), round(float(got[:, 1].mean()), 1)
        (True, 0.6)
    """
    want = np.asarray(want, dtype=np.int64)
    if want.shape[1] and len(want) and (want < 0).all():  # nothing given: one draw for all
        return patterns[rng.choice(len(patterns), len(want), p=probs)]
    out = np.where(want < 0, 0, want)
    if want.shape[1] == 0 or len(want) == 0:
        return out
    uniq, inv = np.unique(want, axis=0, return_inverse=True)
    inv = inv.ravel()
    for u, w in enumerate(uniq):
        ok = ((w[None, :] < 0) | (patterns == w[None, :])).all(axis=1)
        if not ok.any():
            continue
        p = np.where(ok, probs, 0.0)
        sel = np.flatnonzero(inv == u)
        out[sel] = patterns[rng.choice(len(patterns), len(sel), p=p / p.sum())]
    return out
