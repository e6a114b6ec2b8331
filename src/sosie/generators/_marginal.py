"""Univariate marginals as piecewise-linear quantile functions with flat pieces for atoms.

A marginal is two non-decreasing arrays ``u`` (in [0, 1]) and ``x``: the
quantile function ``Q(u)`` interpolates linearly between knots. A value that
holds probability mass (a category, a frequent number such as 0) is an *atom*:
two knots with the same ``x`` spanning its probability. The same structure
serves categories, integers, zero-inflated amounts and smooth distributions,
and makes ``x -> [F(x-), F(x)]`` intervals exact for conditioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

PARAMETRIC_FAMILIES = ("uniform", "norm", "lognorm", "gamma", "truncnorm", "beta")
_KS_TOLERANCE = 0.005  # a later (richer) family must beat an earlier one by this much


_ZMAX = 8.5  # |z| beyond which the standard normal has no mass in float64 terms


@dataclass
class Marginal:
    """Knots of a quantile function; ``family`` records a fitted parametric law, if any.

    The copula works in Gaussian space, so the knots are also kept as normal
    quantiles ``zk = Phi^-1(u)`` and sampling interpolates there (no ``Phi`` call
    per value; for atoms it reduces to a threshold lookup).
    """

    u: np.ndarray
    x: np.ndarray
    family: str = "empirical"

    def __post_init__(self) -> None:
        self.u = np.asarray(self.u, dtype=float)
        self.x = np.asarray(self.x, dtype=float)
        self.zk = np.clip(special.ndtri(self.u), -_ZMAX, _ZMAX)
        self.zk[0], self.zk[-1] = -_ZMAX, _ZMAX
        self.zk = np.maximum.accumulate(self.zk)
        # fully atomic marginals (categories, flags, small integer ranges): thresholds
        xs = np.unique(self.x)
        self.atomic = len(self.x) == 2 * len(xs) and np.all(self.x[0::2] == self.x[1::2])
        if self.atomic:
            self.atoms = self.x[0::2]
            self.thresholds = self.zk[1:-1:2]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function in u-space, vectorised; atoms map a u-interval to one value."""
        return _interp_knots(np.asarray(u, dtype=float), self.u, self.x)

    def ppf_z(self, z: np.ndarray) -> np.ndarray:
        """Quantile function of a standard-normal ``z`` (interpolates in z-space)."""
        if self.atomic:
            return self.atoms[np.searchsorted(self.thresholds, z, side="right")]
        return _interp_knots(z, self.zk, self.x)

    def interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[F(x-), F(x)]`` for each value: a point for continuous values, a span for atoms."""
        lo, hi = self.interval_z(x)
        return special.ndtr(lo), special.ndtr(hi)

    def interval_z(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The latent normal interval that maps to each value (a point for continuous values)."""
        zk, xk = self.zk, self.x
        x = np.asarray(x, dtype=float)
        left = np.searchsorted(xk, x, side="left")
        right = np.searchsorted(xk, x, side="right")
        hit = right > left
        lo = np.empty_like(x)
        hi = np.empty_like(x)
        li = np.clip(left, 0, len(zk) - 1)
        ri = np.clip(right - 1, 0, len(zk) - 1)
        lo[hit] = zk[li[hit]]
        hi[hit] = zk[ri[hit]]
        miss = ~hit
        if miss.any():
            a = np.clip(left[miss] - 1, 0, len(zk) - 1)
            b = np.clip(left[miss], 0, len(zk) - 1)
            dx = xk[b] - xk[a]
            t = np.divide(x[miss] - xk[a], dx, out=np.zeros(miss.sum()), where=dx > 0)
            z = zk[a] + np.clip(t, 0, 1) * (zk[b] - zk[a])
            lo[miss] = z
            hi[miss] = z
        return lo, hi


def _interp_knots(q: np.ndarray, qk: np.ndarray, xk: np.ndarray) -> np.ndarray:
    """Piecewise-linear map through knots (qk non-decreasing; zero-width pieces are jumps)."""
    if len(qk) == 1:
        return np.full(np.shape(q), xk[0])
    j = np.searchsorted(qk, q, side="right") - 1
    np.clip(j, 0, len(qk) - 2, out=j)
    q0 = qk[j]
    width = qk[j + 1] - q0
    t = np.divide(q - q0, width, out=np.zeros(np.shape(q)), where=width > 0)
    np.clip(t, 0.0, 1.0, out=t)
    x0 = xk[j]
    return x0 + t * (xk[j + 1] - x0)


def _merge(
    cont_x: np.ndarray | None, cont_p: np.ndarray | None, atoms: np.ndarray, atom_p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge a continuous part's CDF knots (x, p in [0,1]) with atoms (value, probability)."""
    p_atoms = float(atom_p.sum())
    w_cont = 1.0 - p_atoms if cont_x is not None else 0.0
    us: list[np.ndarray] = []
    xs: list[np.ndarray] = []
    if cont_x is not None:
        cum = np.concatenate([[0.0], np.cumsum(atom_p)])
        below = cum[np.searchsorted(atoms, cont_x, side="left")] if len(atoms) else 0.0
        us.append(w_cont * cont_p + below)
        xs.append(cont_x)
    if len(atoms):
        g = np.interp(atoms, cont_x, cont_p) if cont_x is not None else np.zeros(len(atoms))
        cum_before = np.concatenate([[0.0], np.cumsum(atom_p)[:-1]])
        start = w_cont * g + cum_before
        us += [start, start + atom_p]
        xs += [atoms, atoms]
    u = np.concatenate(us)
    x = np.concatenate(xs)
    order = np.lexsort((u, x))
    u, x = u[order], x[order]
    u = np.maximum.accumulate(np.clip(u, 0.0, 1.0))
    u[0], u[-1] = 0.0, 1.0
    return u, x


def fit_marginal(
    values: np.ndarray,
    *,
    discrete: bool,
    max_atoms: int = 256,
    atom_share: float = 0.005,
    n_knots: int = 1000,
    family: str = "empirical",
) -> Marginal:
    """Fit a marginal to the non-missing ``values``.

    Args:
        values: 1-d float array without NaN.
        discrete: every distinct value is an atom (categories, booleans, indicators).
        max_atoms: columns with at most this many distinct values are fully atomic.
        atom_share: otherwise, values holding at least this share of rows are atoms.
        n_knots: quantile knots of the continuous part.
        family: ``"empirical"``, ``"parametric"`` (best of PARAMETRIC_FAMILIES by KS)
            or one family name.

    Example:
        >>> m = fit_marginal(np.array([0.0, 0.0, 1.0, 2.0]), discrete=True)
        >>> m.ppf(np.array([0.1, 0.6, 0.9])).tolist()
        [0.0, 1.0, 2.0]
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    uniq, counts = np.unique(v, return_counts=True)
    if discrete or len(uniq) <= max_atoms:
        u, x = _merge(None, None, uniq, counts / n)
        return Marginal(u, x)
    is_atom = counts / n >= atom_share
    atoms, atom_p = uniq[is_atom], counts[is_atom] / n
    rest = v[~np.isin(v, atoms)] if len(atoms) else v
    if len(np.unique(rest)) < 2:
        u, x = _merge(None, None, uniq, counts / n)
        return Marginal(u, x)
    chosen = "empirical"
    if family != "empirical":
        fam = _fit_parametric(rest, family)
        if fam is not None:
            chosen, dist = fam
            grid = special.ndtr(np.linspace(-5.0, 5.0, n_knots))
            grid = (grid - grid[0]) / (grid[-1] - grid[0])
            cx = np.clip(dist.ppf(np.clip(grid, 1e-9, 1 - 1e-9)), rest[0], rest[-1])
            cx = np.maximum.accumulate(cx)
            u, x = _merge(cx, grid, atoms, atom_p)
            return Marginal(u, x, chosen)
    k = min(n_knots, len(rest))
    p = np.linspace(0.0, 1.0, k)
    cx = np.quantile(rest, p, method="linear")
    u, x = _merge(cx, p, atoms, atom_p)
    return Marginal(u, x, chosen)


def _fit_parametric(rest: np.ndarray, family: str):
    """Fit the named family, or the best-KS family when ``family == 'parametric'``."""
    from scipy import stats  # slow to import: only when a parametric marginal is asked for

    names = PARAMETRIC_FAMILIES if family == "parametric" else (family,)
    sample = rest if len(rest) <= 20_000 else rest[:: max(1, len(rest) // 20_000)]
    best = None
    lo, hi = float(rest[0]), float(rest[-1])
    for name in names:
        try:
            if name == "beta":
                if hi <= lo:
                    continue
                params = stats.beta.fit(sample, floc=lo - 1e-9, fscale=hi - lo + 2e-9)
                dist = stats.beta(*params)
            elif name == "lognorm":
                if lo <= 0:
                    continue
                dist = stats.lognorm(*stats.lognorm.fit(sample, floc=0))
            elif name == "gamma":
                if lo < 0:
                    continue
                dist = stats.gamma(*stats.gamma.fit(sample, floc=min(0.0, lo)))
            elif name == "uniform":
                dist = stats.uniform(lo, hi - lo)
            elif name == "truncnorm":
                mu, sd = float(sample.mean()), float(sample.std()) or 1.0
                dist = stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
            else:
                dist = stats.norm(*stats.norm.fit(sample))
        except Exception:  # a family that cannot fit this data is skipped
            continue
        ks = stats.kstest(sample, dist.cdf).statistic
        if best is None or ks < best[0] - _KS_TOLERANCE:
            best = (ks, name, dist)
    if best is None:
        return None
    return best[1], best[2]
