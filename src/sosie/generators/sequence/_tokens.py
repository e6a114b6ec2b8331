"""Tokenizers: one encoded event column <-> integer tokens for autoregressive models.

A discrete column's codes are its tokens. A continuous column gets one token per
frequent value (a point mass: a 0 amount, a one-year gap, an exact integer age) and
quantile bins for the rest; decoding draws uniformly inside the bin, so the marginal
is reproduced to within a bin and point masses exactly. Missing values get their own
token. Everything is vectorised and stored as plain arrays (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Tokenizer"]


@dataclass
class Tokenizer:
    """Tokens of one column: ``exact`` values, then bins between ``edges``, then null.

    Attributes:
        kind: ``"discrete"`` (codes are tokens) or ``"continuous"``.
        n_codes: number of codes of a discrete column.
        exact: the point-mass values of a continuous column (one token each).
        edges: bin edges of the other values (``len(edges) - 1`` bins).
        nullable: whether a null token exists (the last token).

    Example:
        >>> x = np.r_[np.zeros(50), np.linspace(1.0, 2.0, 50), [np.nan] * 5]
        >>> tok = Tokenizer.fit_continuous(x, n_bins=4)
        >>> tok.exact.tolist(), tok.n_tokens
        ([0.0], 6)
        >>> t = tok.encode(x)
        >>> int(t[0]), int(t[-1])
        (0, 5)
        >>> y = tok.decode(t, np.random.default_rng(0))
        >>> bool(np.all(y[:50] == 0)), bool(np.isnan(y[-1])), bool(np.all((y[50:100] >= 1) & (y[50:100] <= 2)))
        (True, True, True)
    """

    kind: str
    n_codes: int = 0
    exact: np.ndarray | None = None
    edges: np.ndarray | None = None
    nullable: bool = False

    @classmethod
    def fit_discrete(cls, codes: np.ndarray, n_codes: int) -> Tokenizer:
        """Tokens for a discrete column with ``n_codes`` codes (NaN: missing)."""
        return cls("discrete", n_codes=int(max(n_codes, 1)), nullable=bool(np.isnan(codes).any()))

    @classmethod
    def fit_continuous(
        cls, x: np.ndarray, *, n_bins: int = 50, min_share: float = 0.01, max_exact: int = 64
    ) -> Tokenizer:
        """Point masses (values holding >= ``min_share`` of the rows) plus quantile bins.

        Small columns get fewer bins (about sqrt(n) / 2, at least 8) so that each bin
        holds enough values to be learned rather than memorised.
        """
        x = np.asarray(x, dtype="float64")
        nullable = bool(np.isnan(x).any())
        v = x[~np.isnan(x)]
        if v.size == 0:
            return cls("continuous", exact=np.zeros(0), edges=np.zeros(0), nullable=True)
        values, counts = np.unique(v, return_counts=True)
        if values.size <= min(max_exact, n_bins):
            exact = values  # few distinct values: every one is a token
        else:
            keep = counts >= max(min_share * v.size, 5)  # a point mass, not a unique value
            order = np.argsort(-counts[keep])[:max_exact]
            exact = np.sort(values[keep][order])
        rest = v[~np.isin(v, exact)]
        edges = np.zeros(0)
        if rest.size:
            bins = int(min(n_bins, max(8, np.sqrt(rest.size) / 2)))
            qs = np.quantile(rest, np.linspace(0.0, 1.0, bins + 1))
            edges = np.unique(qs)
            if edges.size == 1:  # one value left: a degenerate bin
                edges = np.r_[edges, edges]
        return cls("continuous", exact=exact, edges=edges, nullable=nullable)

    @property
    def n_bins(self) -> int:
        """Number of bins (continuous columns)."""
        return 0 if self.edges is None or self.edges.size < 2 else int(self.edges.size - 1)

    @property
    def n_values(self) -> int:
        """Tokens before the null token."""
        if self.kind == "discrete":
            return self.n_codes
        return int(self.exact.size) + self.n_bins

    @property
    def n_tokens(self) -> int:
        """All tokens, including the null token."""
        return self.n_values + int(self.nullable)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Values (NaN: missing) to int64 tokens."""
        x = np.asarray(x, dtype="float64")
        null = np.isnan(x)
        out = np.zeros(x.shape, dtype=np.int64)
        if self.kind == "discrete":
            out[~null] = np.clip(np.round(x[~null]).astype(np.int64), 0, self.n_codes - 1)
        else:
            v = x[~null]
            tok = np.zeros(v.shape, dtype=np.int64)
            n_exact = int(self.exact.size)
            is_exact = np.zeros(v.shape, dtype=bool)
            if n_exact:
                pos = np.clip(np.searchsorted(self.exact, v), 0, n_exact - 1)
                is_exact = self.exact[pos] == v
                tok[is_exact] = pos[is_exact]
            if self.n_bins:
                b = np.searchsorted(self.edges, v[~is_exact], side="right") - 1
                tok[~is_exact] = n_exact + np.clip(b, 0, self.n_bins - 1)
            elif (~is_exact).any() and n_exact:  # unseen value, no bins: nearest exact value
                near = np.abs(v[~is_exact, None] - self.exact[None, :]).argmin(axis=1)
                tok[~is_exact] = near
            out[~null] = tok
        if null.any():
            out[null] = self.n_values if self.nullable else 0
        return out

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Tokens to values: codes, exact values, or uniform draws inside the bin."""
        t = np.asarray(tokens, dtype=np.int64)
        out = np.full(t.shape, np.nan)
        valid = t < self.n_values
        if self.kind == "discrete":
            out[valid] = t[valid]
            return out
        n_exact = int(self.exact.size)
        ex = valid & (t < n_exact)
        out[ex] = self.exact[t[ex]]
        bins = valid & (t >= n_exact)
        if bins.any():
            b = t[bins] - n_exact
            lo, hi = self.edges[b], self.edges[b + 1]
            out[bins] = lo + (hi - lo) * rng.random(b.size)
        return out

    def state(self) -> dict[str, Any]:
        """Plain state for the model file."""
        return {
            "kind": self.kind,
            "n_codes": int(self.n_codes),
            "exact": np.zeros(0) if self.exact is None else np.asarray(self.exact, dtype="float64"),
            "edges": np.zeros(0) if self.edges is None else np.asarray(self.edges, dtype="float64"),
            "nullable": bool(self.nullable),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Tokenizer:
        """Inverse of :meth:`state`."""
        return cls(
            str(state["kind"]),
            n_codes=int(state["n_codes"]),
            exact=np.asarray(state["exact"], dtype="float64"),
            edges=np.asarray(state["edges"], dtype="float64"),
            nullable=bool(state["nullable"]),
        )
