"""Gaussian copula over every column, with exact conditional sampling.

Each model column gets a marginal (empirical quantiles with atoms, or a fitted
parametric law); dependence is a Gaussian copula whose correlation is
estimated from normal scores with a correction for discreteness (so that two
columns that are always missing together stay together). Conditioning is done
on the Gaussian itself: conditioned columns become points or intervals in the
latent space, intervals are sampled with a short Gibbs sweep of truncated
normals, and the rest follows the conditional Gaussian. No rejection loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from ..errors import Problem, SchemaError
from ._marginal import PARAMETRIC_FAMILIES, Marginal, fit_marginal
from .base import Generator
from .registry import register

__all__ = ["GaussianCopulaGenerator"]

_EPS = 1e-9
_MAX_CORR = 0.995


def _truncnorm(mu: np.ndarray, sd: np.ndarray, a: np.ndarray, b: np.ndarray, rng) -> np.ndarray:
    """Draw N(mu, sd²) truncated to [a, b] by inverse CDF, stable in both tails."""
    alpha = (a - mu) / sd
    beta = (b - mu) / sd
    flip = alpha > 0  # work in the lower tail where ndtr keeps precision
    lo = np.where(flip, -beta, alpha)
    hi = np.where(flip, -alpha, beta)
    plo, phi = special.ndtr(lo), special.ndtr(hi)
    u = plo + rng.random(mu.shape) * (phi - plo)
    z = special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))
    z = np.clip(z, lo, hi)
    z = np.where(flip, -z, z)
    return mu + sd * z


def _nearest_correlation(r: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    r = (r + r.T) / 2
    w, v = np.linalg.eigh(r)
    w = np.maximum(w, floor)
    r = (v * w) @ v.T
    d = np.sqrt(np.diag(r))
    r = r / d[:, None] / d[None, :]
    np.fill_diagonal(r, 1.0)
    return r


@register("gaussian_copula")
class GaussianCopulaGenerator(Generator):
    """Gaussian copula generator: fast, exact conditioning, nulls modelled.

    Args:
        marginals: ``"empirical"`` (quantile knots; default), ``"parametric"``
            (best of normal, lognormal, gamma, beta, uniform, truncated normal by KS),
            one of those names, or a dict ``{column: choice}`` (others empirical).
        max_atoms: numeric columns with at most this many distinct values keep
            their exact empirical distribution.
        atom_share: otherwise values holding at least this share of rows (e.g. a
            zero-inflated amount's 0) are kept as point masses.
        n_knots: quantile knots of continuous marginals.
        gibbs_sweeps: sweeps used to sample several interval conditions jointly.
        rng: seed for fitting (and the default sampling stream).

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(2000, random_state=0)
        >>> gen = GaussianCopulaGenerator(rng=0).fit(real)
        >>> synth = gen.sample(5, conditions={"income": ">50K"})
        >>> synth["income"].unique().tolist()
        ['>50K']
    """

    def __init__(
        self,
        *,
        marginals: str | dict[str, str] = "empirical",
        max_atoms: int = 256,
        atom_share: float = 0.005,
        n_knots: int = 1000,
        gibbs_sweeps: int = 25,
        rng: Any = None,
    ):
        self.marginals = marginals
        self.max_atoms = max_atoms
        self.atom_share = atom_share
        self.n_knots = n_knots
        self.gibbs_sweeps = gibbs_sweeps
        self.rng = rng

    def _check_params(self) -> None:
        super()._check_params()
        allowed = ("empirical", "parametric", *PARAMETRIC_FAMILIES)
        choices = self.marginals.values() if isinstance(self.marginals, dict) else [self.marginals]
        for c in choices:
            if c not in allowed:
                raise SchemaError(
                    Problem(
                        "parameter 'marginals'",
                        "one of " + ", ".join(allowed),
                        repr(c),
                        "pick one of the listed marginal families",
                    )
                )
        for name, v, lo in (
            ("max_atoms", self.max_atoms, 0),
            ("n_knots", self.n_knots, 2),
            ("gibbs_sweeps", self.gibbs_sweeps, 1),
        ):
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"parameter {name!r} must be an integer >= {lo}, got {v!r}")
        if not 0 < float(self.atom_share) < 1:
            raise ValueError(f"parameter 'atom_share' must be in (0, 1), got {self.atom_share!r}")

    # -- fit -------------------------------------------------------------------------------
    def _family(self, source: str) -> str:
        if isinstance(self.marginals, dict):
            return self.marginals.get(source, "empirical")
        return self.marginals

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        cols = self.preprocessor_.model_columns
        n, d = X.shape
        self.marginals_: list[Marginal] = []
        self.code_orders_: dict[int, np.ndarray] = {}
        scores = np.zeros((n, d))
        observed = ~np.isnan(X)
        for j, col in enumerate(cols):
            self.marginals_.append(self._fit_column(X[observed[:, j], j], col))
            scores[observed[:, j], j] = self._scores(j, X[observed[:, j], j])
        # Nominal categories have no natural order, but a Gaussian copula needs one:
        # order each categorical's codes along the direction that best explains the
        # other columns (first component of the per-category mean scores).
        for j, col in enumerate(cols):
            if col.kind == "discrete" and (col.n_categories or 0) >= 3:
                order = self._category_order(j, X[:, j], scores, observed)
                if order is not None:
                    self.code_orders_[j] = order
                    rank = np.argsort(order)
                    codes = rank[X[observed[:, j], j].astype(np.int64)].astype(float)
                    self.marginals_[j] = self._fit_column(codes, col)
                    scores[observed[:, j], j] = self._scores(j, codes)
        self.corr_ = self._estimate_correlation(scores, observed)
        self._cache()

    def _fit_column(self, x: np.ndarray, col) -> Marginal:
        if x.size == 0:  # fully missing in training (validation normally prevents it)
            x = np.zeros(1)
        return fit_marginal(
            x,
            discrete=col.kind != "continuous",
            max_atoms=self.max_atoms,
            atom_share=self.atom_share,
            n_knots=self.n_knots,
            family=self._family(col.source) if col.kind == "continuous" else "empirical",
        )

    def _scores(self, j: int, x: np.ndarray) -> np.ndarray:
        lo, hi = self.marginals_[j].interval(x)
        return _normal_scores(lo, hi, len(x))

    @staticmethod
    def _category_order(j: int, x: np.ndarray, scores: np.ndarray, observed: np.ndarray):
        rows = observed[:, j]
        others = [k for k in range(scores.shape[1]) if k != j]
        if not others:
            return None
        codes = x[rows].astype(np.int64)
        k = int(codes.max()) + 1
        freq = np.bincount(codes, minlength=k).astype(float)
        if (freq > 0).sum() < 3:
            return None
        s = scores[rows][:, others]
        means = np.stack(
            [np.bincount(codes, weights=s[:, i], minlength=k) for i in range(s.shape[1])], 1
        )
        means = means / np.maximum(freq, 1)[:, None]
        w = freq / freq.sum()
        centred = (means - w @ means) * np.sqrt(w)[:, None]
        try:
            u, _, _ = np.linalg.svd(centred, full_matrices=False)
        except np.linalg.LinAlgError:
            return None
        position = u[:, 0] / np.sqrt(np.maximum(w, 1e-12))
        position[freq == 0] = np.inf  # unseen categories go last
        return np.argsort(position, kind="stable")

    @staticmethod
    def _estimate_correlation(scores: np.ndarray, observed: np.ndarray) -> np.ndarray:
        m = observed.astype(float)
        s = np.where(observed, scores, 0.0)
        counts = np.maximum(m.T @ m, 1.0)
        cov = (s.T @ s) / counts
        var = np.diag(cov).copy()
        var[var <= 1e-12] = 1.0
        # normal scores of a discretised latent Gaussian have variance < 1 and their
        # covariance is ~ rho * var_i * var_j: undo the attenuation
        rho = cov / var[:, None] / var[None, :]
        rho = np.clip(rho, -_MAX_CORR, _MAX_CORR)
        np.fill_diagonal(rho, 1.0)
        return _nearest_correlation(rho)

    def _cache(self) -> None:
        r = self.corr_
        self._chol = np.linalg.cholesky(r + 1e-10 * np.eye(len(r)))

    # -- sample ------------------------------------------------------------------------------
    def _sample(self, n_rows, conditions, rng):
        d = self.corr_.shape[0]
        if not conditions:
            zt = self._chol @ rng.standard_normal((d, n_rows))  # (d, n): rows are columns
        else:
            z = np.empty((n_rows, d))
            cond_idx = sorted(conditions)
            vals = np.column_stack([conditions[j] for j in cond_idx])
            pattern = ~np.isnan(vals)
            keys, inverse = np.unique(pattern, axis=0, return_inverse=True)
            for k, key in enumerate(keys):
                rows = np.flatnonzero(inverse.ravel() == k)
                dims = [cond_idx[i] for i in np.flatnonzero(key)]
                z[rows] = self._conditional_z(vals[rows][:, key], dims, len(rows), rng)
            zt = np.ascontiguousarray(z.T)
        out = np.empty((n_rows, d), order="F")
        for j, m in enumerate(self.marginals_):
            v = m.ppf_z(zt[j])
            if j in self.code_orders_:
                v = self.code_orders_[j][v.astype(np.int64)].astype(float)
            out[:, j] = v
        return out

    def _conditional_z(self, values: np.ndarray, dims: list[int], n: int, rng) -> np.ndarray:
        d = self.corr_.shape[0]
        r = self.corr_
        if not dims:
            return rng.standard_normal((n, d)) @ self._chol.T
        c = np.array(dims)
        lo = np.empty((n, len(c)))
        hi = np.empty((n, len(c)))
        for i, j in enumerate(c):
            v = values[:, i]
            if j in self.code_orders_:
                v = np.argsort(self.code_orders_[j])[v.astype(np.int64)].astype(float)
            lo[:, i], hi[:, i] = self.marginals_[j].interval_z(v)
        zc = self._sample_box(lo, hi, r[np.ix_(c, c)], rng)
        free = np.setdiff1d(np.arange(d), c)
        z = np.empty((n, d))
        z[:, c] = zc
        if free.size:
            rcc_inv = np.linalg.inv(r[np.ix_(c, c)])
            rfc = r[np.ix_(free, c)]
            gain = rfc @ rcc_inv
            cov = r[np.ix_(free, free)] - gain @ rfc.T
            chol = np.linalg.cholesky((cov + cov.T) / 2 + 1e-8 * np.eye(free.size))
            z[:, free] = zc @ gain.T + rng.standard_normal((n, free.size)) @ chol.T
        return z

    def _sample_box(self, lo: np.ndarray, hi: np.ndarray, rcc: np.ndarray, rng) -> np.ndarray:
        """Sample N(0, rcc) restricted to the box [lo, hi] (points where lo == hi)."""
        k = lo.shape[1]
        point = np.isclose(lo, hi, rtol=0, atol=1e-12)
        z = np.where(point, lo, 0.0)
        interval = ~point
        if not interval.any():
            return z
        prec = np.linalg.inv(rcc)
        cond_sd = 1.0 / np.sqrt(np.diag(prec))
        # start each interval at a marginal truncated draw, then Gibbs sweeps
        for i in range(k):
            m = interval[:, i]
            if m.any():
                z[m, i] = _truncnorm(np.zeros(m.sum()), np.ones(m.sum()), lo[m, i], hi[m, i], rng)
        sweeps = 1 if k == 1 else self.gibbs_sweeps
        for _ in range(sweeps):
            for i in range(k):
                m = interval[:, i]
                if not m.any():
                    continue
                others = np.delete(np.arange(k), i)
                mu = (
                    -(z[m][:, others] @ prec[i, others]) / prec[i, i]
                    if others.size
                    else np.zeros(m.sum())
                )
                sd = np.full(m.sum(), cond_sd[i])
                z[m, i] = _truncnorm(mu, sd, lo[m, i], hi[m, i], rng)
        return z

    # -- state -------------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            "corr": self.corr_,
            "marginals": [{"u": m.u, "x": m.x, "family": m.family} for m in self.marginals_],
            "code_orders": {str(j): order for j, order in self.code_orders_.items()},
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        self.corr_ = np.asarray(state["corr"], dtype=float)
        self.marginals_ = [
            Marginal(
                np.asarray(m["u"], float), np.asarray(m["x"], float), m.get("family", "empirical")
            )
            for m in state["marginals"]
        ]
        self.code_orders_ = {
            int(j): np.asarray(o, dtype=np.int64) for j, o in state.get("code_orders", {}).items()
        }
        if self.corr_.shape != (len(self.marginals_), len(self.marginals_)):
            raise ValueError("correlation matrix does not match the number of marginals")
        self._cache()

    def marginal_families(self) -> dict[str, str]:
        """The marginal family chosen for each model column (after fit).

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5] * 10})
            >>> GaussianCopulaGenerator(rng=0).fit(df).marginal_families()
            {'x': 'empirical'}
        """
        self._check_fitted()
        return {
            c.name: m.family
            for c, m in zip(self.preprocessor_.model_columns, self.marginals_, strict=True)
        }


def _normal_scores(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """E[Z | Phi^-1(lo) < Z < Phi^-1(hi)] for intervals, Phi^-1(u) for points."""
    eps = 0.5 / max(n, 1)
    lo = np.clip(lo, eps, 1 - eps)
    hi = np.clip(hi, eps, 1 - eps)
    point = hi - lo < 1e-12
    out = special.ndtri(lo)
    span = ~point
    if span.any():
        a = special.ndtri(lo[span])
        b = special.ndtri(hi[span])
        mass = hi[span] - lo[span]
        dens = (np.exp(-0.5 * a * a) - np.exp(-0.5 * b * b)) / np.sqrt(2 * np.pi)
        out[span] = dens / mass
    return out
