"""Adversarial random forests (ARF): FORGE sampling from FORDE leaf densities.

Watson et al., "Adversarial random forests for density estimation and generative
modeling" (AISTATS 2023). A random forest learns to tell real rows from synthetic
rows drawn from the product of marginals; synthetic rows are then redrawn from the
forest's own leaves (columns independent inside a leaf) and the forest retrained
until it can no longer tell them apart (out-of-bag accuracy <= 0.5 + delta). The
leaves of the final forest are regions where the columns are (nearly) independent,
so the density is a mixture over leaves of products of per-column marginals:

* discrete and missing-indicator columns: category counts of the real rows in the
  leaf, smoothed towards the global frequencies with ``alpha`` pseudo-rows;
* continuous columns: a normal truncated to the leaf's bounds (``"truncnorm"``,
  smooth, stores only mean/sd per leaf) or the real values in the leaf
  (``"empirical"``, copies training values and stores them in the model).

Sampling picks a leaf in proportion to its real-row coverage and draws every
column from it. Conditioning is native: each leaf is reweighted by the likelihood
of the evidence under its marginals (per distinct condition row), then the free
columns are drawn from the chosen leaf. Only leaf tables are kept (no sklearn
object is stored), so models save without pickle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import special

from ..errors import Problem, SchemaError, SosieWarning
from .base import Generator
from .copula import _truncnorm
from .registry import register

__all__ = ["ARFGenerator"]

_CONTINUOUS = ("truncnorm", "empirical")


@register("arf")
class ARFGenerator(Generator):
    """Adversarial random forest (FORGE/FORDE): fast, CPU-only, with native conditioning.

    Args:
        n_estimators: trees in the forest.
        min_samples_leaf: minimum rows in a leaf (real + synthetic while training).
        max_iters: maximum adversarial rounds after the first forest.
        delta: stop once the forest's out-of-bag accuracy is <= 0.5 + delta.
        alpha: pseudo-rows (distributed by the global frequencies) added to each
            leaf's category counts; > 0 keeps every seen category possible in every
            leaf, which conditioning needs.
        continuous: ``"empirical"`` (resample the real values of the leaf; the best
            fidelity, but the model file then contains training values) or
            ``"truncnorm"`` (normal truncated to the leaf bounds, with point masses such
            as a 0 amount kept; stores only per-leaf summaries, smoother, lower fidelity).
        n_jobs: worker threads for the forest (1 or 2 on small machines).
        rng: seed for fitting (and the default sampling stream).

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(1000, random_state=0)
        >>> gen = ARFGenerator(n_estimators=10, rng=0).fit(real)
        >>> synth = gen.sample(5, conditions={"sex": "Female"})
        >>> synth["sex"].unique().tolist(), len(synth)
        (['Female'], 5)
    """

    def __init__(
        self,
        *,
        n_estimators: int = 30,
        min_samples_leaf: int = 3,
        max_iters: int = 10,
        delta: float = 0.0,
        alpha: float = 0.1,
        continuous: str = "empirical",
        n_jobs: int = 1,
        rng: Any = None,
    ):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_iters = max_iters
        self.delta = delta
        self.alpha = alpha
        self.continuous = continuous
        self.n_jobs = n_jobs
        self.rng = rng

    # -- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        for name, lo in (("n_estimators", 1), ("min_samples_leaf", 1), ("max_iters", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"parameter {name!r} must be an integer >= {lo}, got {v!r}")
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer)):
            raise ValueError(f"parameter 'n_jobs' must be an integer, got {self.n_jobs!r}")
        if self.n_jobs == 0:
            raise ValueError("parameter 'n_jobs' must not be 0 (use 1, 2, ... or -1 for all)")
        for name, lo, hi in (("delta", 0.0, 0.5), ("alpha", 0.0, np.inf)):
            v = getattr(self, name)
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            if not ok or not lo <= float(v) <= hi:
                raise ValueError(f"parameter {name!r} must be a number in [{lo}, {hi}], got {v!r}")
        if self.continuous not in _CONTINUOUS:
            raise SchemaError(
                Problem(
                    "parameter 'continuous'",
                    "one of " + ", ".join(map(repr, _CONTINUOUS)),
                    repr(self.continuous),
                    "pick 'truncnorm' (smooth) or 'empirical' (resample leaf values)",
                )
            )

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        from sklearn.ensemble import RandomForestClassifier

        cols = self.preprocessor_.model_columns
        n, d = X.shape
        observed = ~np.isnan(X)
        cmin = np.array(
            [X[observed[:, j], j].min() if observed[:, j].any() else 0.0 for j in range(d)]
        )
        cmax = np.array(
            [X[observed[:, j], j].max() if observed[:, j].any() else 0.0 for j in range(d)]
        )
        # NaN (value column of a null) -> a sentinel below the range; the indicator column
        # carries the missingness, the forest can still split it off
        Xf = np.where(observed, X, (cmin - 1.0)[None, :])
        self.col_min_, self.col_max_ = cmin, cmax

        def forest(data_synth: np.ndarray) -> RandomForestClassifier:
            rf = RandomForestClassifier(
                n_estimators=int(self.n_estimators),
                min_samples_leaf=int(self.min_samples_leaf),
                max_features="sqrt",
                oob_score=True,
                n_jobs=int(self.n_jobs),
                random_state=int(rng.integers(2**31 - 1)),
            )
            y = np.r_[np.ones(n), np.zeros(len(data_synth))]
            with warnings.catch_warnings():  # "some inputs do not have OOB scores" (few trees)
                warnings.simplefilter("ignore", UserWarning)
                return rf.fit(np.vstack([Xf, data_synth]), y)

        synth = np.column_stack([rng.permutation(Xf[:, j]) for j in range(d)])
        rf = forest(synth)
        self.accuracy_history_ = [float(rf.oob_score_)]
        for _ in range(int(self.max_iters)):
            if rf.oob_score_ <= 0.5 + float(self.delta):
                break
            synth = self._forge_draw(rf, Xf, rng)
            candidate = forest(synth)
            self.accuracy_history_.append(float(candidate.oob_score_))
            if candidate.oob_score_ >= rf.oob_score_:  # no progress: keep the last forest
                break
            rf = candidate
        self._forde(rf, X, Xf, cols)

    @staticmethod
    def _leaf_index(rf, Xf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global leaf id of each (row, tree), plus tree and node of each global leaf."""
        nodes = rf.apply(Xf).astype(np.int64)  # (n, T)
        n_trees = nodes.shape[1]
        width = int(nodes.max()) + 1
        keys = nodes + width * np.arange(n_trees)[None, :]
        uniq, inv = np.unique(keys, return_inverse=True)
        return inv.reshape(nodes.shape), uniq // width, uniq % width

    def _forge_draw(self, rf, Xf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Synthetic rows from the current forest: columns independent within a leaf."""
        n, d = Xf.shape
        g_of, _, _ = self._leaf_index(rf, Xf)
        n_trees = g_of.shape[1]
        flat = g_of.T.ravel()  # tree-major
        order = np.argsort(flat, kind="stable")
        rows_sorted = order % n
        counts = np.bincount(flat)
        start = np.r_[0, np.cumsum(counts)[:-1]]
        t = rng.integers(n_trees, size=n)
        r = rng.integers(n, size=n)
        g = g_of[r, t]  # leaf of a random real row: coverage-weighted
        out = np.empty((n, d))
        for j in range(d):
            pick = start[g] + (rng.random(n) * counts[g]).astype(np.int64)
            out[:, j] = Xf[rows_sorted[pick], j]
        return out

    def _forde(self, rf, X: np.ndarray, Xf: np.ndarray, cols) -> None:
        """Leaf tables of the real rows: coverage, bounds and per-column marginals."""
        n = X.shape[0]
        g_of, tree, node = self._leaf_index(rf, Xf)
        n_trees = g_of.shape[1]
        n_leaves = len(tree)
        flat = g_of.ravel()  # row-major: (row, tree)
        cover = np.bincount(flat, minlength=n_leaves).astype(float)
        self.leaf_weight_ = cover / (n * n_trees)
        cont = [j for j, c in enumerate(cols) if c.kind == "continuous"]
        # leaf bounds of continuous columns, clipped to the observed range
        lo = np.tile(self.col_min_[cont], (n_leaves, 1))
        hi = np.tile(self.col_max_[cont], (n_leaves, 1))
        pos = {j: i for i, j in enumerate(cont)}
        for t, est in enumerate(rf.estimators_):
            blo, bhi = _node_bounds(est.tree_, pos, len(cont))
            sel = np.flatnonzero(tree == t)
            lo[sel] = np.maximum(lo[sel], blo[node[sel]])
            hi[sel] = np.minimum(hi[sel], bhi[node[sel]])
        self.tables_: dict[int, dict[str, np.ndarray]] = {}
        rows = np.repeat(np.arange(n), n_trees)
        for j, col in enumerate(cols):
            if col.kind == "missing":
                continue  # modelled jointly below
            x = X[rows, j]
            ok = ~np.isnan(x)
            g = flat[ok]
            if col.kind == "continuous":
                v = x[ok]
                xo = X[~np.isnan(X[:, j]), j]
                atoms = _atoms(xo) if self.continuous == "truncnorm" else np.zeros(0)
                is_atom = np.isin(v, atoms)
                acount = np.zeros((n_leaves, len(atoms)))
                for a, val in enumerate(atoms):
                    acount[:, a] = np.bincount(g[v == val], minlength=n_leaves)
                gv, vv = g[~is_atom], v[~is_atom]
                cnt = np.bincount(gv, minlength=n_leaves).astype(float)
                s1 = np.bincount(gv, weights=vv, minlength=n_leaves)
                s2 = np.bincount(gv, weights=vv * vv, minlength=n_leaves)
                mean = s1 / np.maximum(cnt, 1)
                var = np.maximum(s2 / np.maximum(cnt, 1) - mean**2, 0.0)
                var *= cnt / np.maximum(cnt - 1, 1)  # unbiased
                xc = xo[~np.isin(xo, atoms)]
                tab = {
                    "n": cnt,
                    "mean": mean,
                    "sd": np.sqrt(var),
                    "lo": lo[:, pos[j]],
                    "hi": hi[:, pos[j]],
                    "atoms": atoms,
                    "atom_count": acount,
                    "global": np.array(
                        [
                            xc.mean() if xc.size else 0.0,
                            xc.std() if xc.size else 0.0,
                            self.col_min_[j],
                            self.col_max_[j],
                        ]
                    ),
                    "global_atom_count": np.array([(xo == a).sum() for a in atoms], dtype=float),
                    "global_n": np.array([float(xc.size)]),
                    "resolution": np.array([_resolution(xo)]),
                }
                if self.continuous == "empirical":
                    order = np.argsort(g, kind="stable")
                    tab["values"] = v[order]
                    tab["global_values"] = np.sort(xo) if xo.size else np.zeros(1)
                self.tables_[j] = tab
            else:
                k = int(col.n_categories or 2)
                codes = x[ok].astype(np.int64)
                dense = np.bincount(g * k + codes, minlength=n_leaves * k)
                leaf, code = np.divmod(np.flatnonzero(dense), k)
                glob = np.bincount(X[~np.isnan(X[:, j]), j].astype(np.int64), minlength=k)
                self.tables_[j] = {
                    "leaf": leaf,
                    "code": code,
                    "count": dense[dense > 0].astype(float),
                    "global": glob[:k].astype(float),
                }
        miss = [j for j, c in enumerate(cols) if c.kind == "missing"]
        if miss:
            # missingness patterns are drawn jointly (columns that are null together stay
            # null together) as one categorical variable per leaf
            patterns, pcode = np.unique(
                np.nan_to_num(X[:, miss]).astype(np.int8), axis=0, return_inverse=True
            )
            pcode = pcode.ravel()
            k = len(patterns)
            dense = np.bincount(flat * k + pcode[rows], minlength=n_leaves * k)
            leaf, code = np.divmod(np.flatnonzero(dense), k)
            self.tables_[-1] = {
                "leaf": leaf,
                "code": code,
                "count": dense[dense > 0].astype(float),
                "global": np.bincount(pcode, minlength=k).astype(float),
                "patterns": patterns.astype(float),
                "columns": np.array(miss, dtype=np.int64),
            }
        self._cache()

    # -- cached views --------------------------------------------------------------------------
    def _cache(self) -> None:
        n_leaves = len(self.leaf_weight_)
        self._cum_weight = np.cumsum(self.leaf_weight_)
        self._derived: dict[int, dict[str, np.ndarray]] = {}
        self._lik_cache: dict[tuple[int, int], np.ndarray] = {}
        for j, tab in self.tables_.items():
            if "leaf" in tab:
                off = np.searchsorted(tab["leaf"], np.arange(n_leaves + 1))
                cum = np.cumsum(tab["count"])
                total = np.bincount(tab["leaf"], weights=tab["count"], minlength=n_leaves)
                glob = tab["global"]
                self._derived[j] = {
                    "base": np.r_[0.0, cum][off[:-1]],
                    "cum": cum,
                    "total": total,
                    "gcum": np.cumsum(glob),
                    "gp": glob / max(glob.sum(), 1.0),
                }
                self._derived[j]["off"] = off
            elif "values" in tab:
                cnt = tab["n"].astype(np.int64)
                self._derived[j] = {"start": np.r_[0, np.cumsum(cnt)[:-1]]}
        pt = self.tables_.get(-1)
        self._miss = [int(j) for j in pt["columns"]] if pt is not None else []

    # -- sample --------------------------------------------------------------------------------
    def _sample(self, n_rows, conditions, rng):
        d = len(self.preprocessor_.model_columns)
        evidence = {j: v for j, v in conditions.items() if not np.all(np.isnan(v))}
        if evidence:
            g = self._conditional_leaves(n_rows, evidence, rng)
        else:
            u = rng.random(n_rows) * self._cum_weight[-1]
            g = np.minimum(
                np.searchsorted(self._cum_weight, u, side="right"), len(self._cum_weight) - 1
            )
        out = np.empty((n_rows, d))
        for j in range(d):
            if j not in self._miss:
                out[:, j] = self._draw_column(j, g, rng)
        if self._miss:
            out[:, self._miss] = self._draw_patterns(g, evidence, rng)
        for j, v in evidence.items():
            m = ~np.isnan(v)
            out[m, j] = v[m]
        return out

    def _draw_column(self, j: int, g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        tab, der = self.tables_[j], self._derived.get(j, {})
        n = len(g)
        if "leaf" in tab:
            return self._draw_codes(tab["code"], der, g, rng).astype(float)
        cnt = tab["n"][g]
        gmean, gsd, gmin, gmax = tab["global"]
        none = cnt == 0
        if "values" in tab:
            pick = der["start"][g] + (rng.random(n) * cnt).astype(np.int64)
            out = (
                tab["values"][np.minimum(pick, len(tab["values"]) - 1)]
                if len(tab["values"])
                else np.zeros(n)
            )
            if none.any():
                gv = tab["global_values"]
                out[none] = gv[rng.integers(len(gv), size=none.sum())]
            return out
        out = np.empty(n)
        atoms = tab["atoms"]
        # atoms (e.g. the 0 of a zero-inflated amount) keep their mass; the rest is a
        # normal truncated to the leaf bounds
        ac = tab["atom_count"][g] if len(atoms) else np.zeros((n, 0))
        none = (cnt + ac.sum(1)) == 0
        if none.any():
            ac[none] = tab["global_atom_count"]
            cnt = np.where(none, tab["global_n"][0], cnt)
        cum = np.cumsum(ac, axis=1)
        u = rng.random(n) * (cnt + (cum[:, -1] if len(atoms) else 0.0))
        which = (u[:, None] >= cum).sum(1) if len(atoms) else np.zeros(n, dtype=np.int64)
        is_atom = which < len(atoms)
        out[is_atom] = atoms[which[is_atom]]
        c = ~is_atom
        empty = tab["n"][g] == 0
        mu = np.where(empty, gmean, tab["mean"][g])[c]
        sd = np.where(empty, gsd, tab["sd"][g])[c]
        lo, hi = tab["lo"][g][c], tab["hi"][g][c]
        vals = np.clip(mu, lo, hi)
        spread = (sd > 0) & (hi > lo)
        if spread.any():
            vals[spread] = _truncnorm(mu[spread], sd[spread], lo[spread], hi[spread], rng)
        out[c] = vals
        return np.clip(out, gmin, gmax)

    def _draw_codes(
        self, codes: np.ndarray, der: dict[str, np.ndarray], g: np.ndarray, rng
    ) -> np.ndarray:
        """Draw a category per row from its leaf's (smoothed) counts."""
        n = len(g)
        tot = der["total"][g]
        gtot = der["gcum"][-1]
        u = rng.random(n) * (tot + float(self.alpha))
        local = u < tot
        out = np.empty(n, dtype=np.int64)
        idx = np.searchsorted(der["cum"], der["base"][g[local]] + u[local], side="right")
        out[local] = codes[np.minimum(idx, len(codes) - 1)]
        rest = ~local
        if rest.any():
            idx = np.searchsorted(der["gcum"], rng.random(rest.sum()) * gtot, side="right")
            out[rest] = np.minimum(idx, len(der["gcum"]) - 1)
        return out

    def _restricted(self, allowed: np.ndarray) -> dict[str, np.ndarray]:
        """Pattern counts restricted to the ``allowed`` patterns (cumulative views)."""
        tab, der = self.tables_[-1], self._derived[-1]
        w = tab["count"] * allowed[tab["code"]]
        cum = np.cumsum(w)
        glob = tab["global"] * allowed
        if glob.sum() == 0:  # a pattern never seen: the base class pins the evidence
            glob = tab["global"]
        return {
            "cum": cum,
            "base": np.r_[0.0, cum][der["off"][:-1]],
            "total": np.bincount(tab["leaf"], weights=w, minlength=len(self.leaf_weight_)),
            "gcum": np.cumsum(glob),
            "gp": glob / max(tab["global"].sum(), 1.0),
        }

    def _draw_patterns(self, g: np.ndarray, evidence: dict[int, np.ndarray], rng) -> np.ndarray:
        """Missing-indicator columns, drawn jointly and consistent with null evidence."""
        tab = self.tables_[-1]
        patterns = tab["patterns"]
        n = len(g)
        if not any(j in evidence for j in self._miss):
            return patterns[self._draw_codes(tab["code"], self._derived[-1], g, rng)]
        ev = np.column_stack([evidence.get(j, np.full(n, np.nan)) for j in self._miss])
        keys, inverse = np.unique(np.nan_to_num(ev, nan=-1.0), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        codes = np.empty(n, dtype=np.int64)
        for k, key in enumerate(keys):
            rows = np.flatnonzero(inverse == k)
            if (key < 0).all():
                der = self._derived[-1]
            else:
                der = self._restricted(np.all((key < 0) | (patterns == key), axis=1))
            codes[rows] = self._draw_codes(tab["code"], der, g[rows], rng)
        return patterns[codes]

    def _pattern_loglik(self, key: tuple[tuple[int, float], ...]) -> np.ndarray:
        """Log-probability of null evidence ``((column, 0/1), ...)`` under every leaf."""
        ck = (-1, key, True)
        if ck not in self._lik_cache:
            patterns = self.tables_[-1]["patterns"]
            pos = [self._miss.index(j) for j, _ in key]
            allowed = np.all(patterns[:, pos] == np.array([v for _, v in key]), axis=1)
            r = self._restricted(allowed.astype(float))
            tot = self._derived[-1]["total"]
            gp = r["gp"].sum() if allowed.any() else 0.0
            a = float(self.alpha)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(tot > 0, (r["total"] + a * gp) / (tot + a), gp)
                self._lik_cache[ck] = np.log(p)
        return self._lik_cache[ck]

    def _loglik(self, j: int, value: float, bounded: bool = True) -> np.ndarray:
        """Log-likelihood of ``value`` for column ``j`` under every leaf."""
        key = (j, value, bounded)
        if key in self._lik_cache:
            return self._lik_cache[key]
        tab, der = self.tables_[j], self._derived.get(j, {})
        a = float(self.alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            if "leaf" in tab:
                c = int(value)
                cnt = np.zeros(len(self.leaf_weight_))
                m = tab["code"] == c
                cnt[tab["leaf"][m]] = tab["count"][m]
                gp = der["gp"][c] if c < len(der["gp"]) else 0.0
                tot = der["total"]
                p = np.where(tot > 0, (cnt + a * gp) / (tot + a), gp)
                out = np.log(p)
            else:
                gmean, gsd = tab["global"][:2]
                atoms = tab.get("atoms", np.zeros(0))
                ac = tab["atom_count"] if len(atoms) else np.zeros((len(tab["n"]), 0))
                total = tab["n"] + ac.sum(1)
                empty = total == 0
                if np.isin(value, atoms):  # a point mass: likelihood is its share
                    a_i = int(np.flatnonzero(atoms == value)[0])
                    share = tab["global_atom_count"][a_i] / max(
                        tab["global_atom_count"].sum() + tab["global_n"][0], 1.0
                    )
                    p = np.where(empty, share, ac[:, a_i] / np.maximum(total, 1))
                    out = np.log(p)
                else:
                    # probability of the value's resolution cell (width h, e.g. 1 for
                    # whole numbers) so that point-like leaves and spread leaves compare
                    none = tab["n"] == 0
                    h = float(tab["resolution"][0])
                    mu = np.where(none, gmean, tab["mean"])
                    sd = np.maximum(np.where(none, gsd, tab["sd"]), h / 10)
                    cont_share = np.where(empty, 1.0, tab["n"] / np.maximum(total, 1))
                    a, b = value - h / 2, value + h / 2
                    norm = 1.0
                    if bounded:
                        lo, hi = tab["lo"], tab["hi"]
                        a, b = np.maximum(a, lo), np.minimum(b, hi)
                        norm = special.ndtr((hi - mu) / sd) - special.ndtr((lo - mu) / sd)
                    p = _normal_mass(mu, sd, a, b) / np.maximum(norm, 1e-300)
                    p = np.where(b >= a, p, 0.0)
                    out = np.log(p) + np.log(cont_share)
        if len(self._lik_cache) > 4096:
            self._lik_cache.clear()
        self._lik_cache[key] = out
        return out

    def _conditional_leaves(
        self, n_rows: int, evidence: dict[int, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        idx = sorted(evidence)
        vals = np.column_stack([evidence[j] for j in idx])
        keys, inverse = np.unique(np.nan_to_num(vals, nan=np.inf), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        g = np.empty(n_rows, dtype=np.int64)
        fell_back = 0
        for k, key in enumerate(keys):
            rows = np.flatnonzero(inverse == k)
            used = [(j, v) for j, v in zip(idx, key, strict=True) if np.isfinite(v)]
            nulls = tuple((j, float(v)) for j, v in used if j in self._miss)
            used = [(j, v) for j, v in used if j not in self._miss]
            if nulls:
                logw0 = np.log(self.leaf_weight_) + self._pattern_loglik(nulls)
            else:
                logw0 = np.log(self.leaf_weight_)
            logw = logw0 + sum((self._loglik(j, v) for j, v in used), np.zeros_like(logw0))
            if not np.isfinite(logw).any():
                fell_back += len(rows)
                # nearest leaves: drop the leaf bounds, keep the normal densities
                logw = logw0 + sum(
                    (self._loglik(j, v, bounded=False) for j, v in used), np.zeros_like(logw0)
                )
                if not np.isfinite(logw).any():
                    logw = np.log(self.leaf_weight_)
            w = np.exp(logw - logw[np.isfinite(logw)].max())
            cw = np.cumsum(w)
            pick = np.searchsorted(cw, rng.random(len(rows)) * cw[-1], side="right")
            g[rows] = np.minimum(pick, len(cw) - 1)
        if fell_back:
            warnings.warn(
                f"ARFGenerator: no leaf covers the conditions of {fell_back} row(s); "
                "drew them from the leaves nearest to the requested values instead",
                SosieWarning,
                stacklevel=4,
            )
        return g

    # -- state ---------------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            "leaf_weight": self.leaf_weight_,
            "col_min": self.col_min_,
            "col_max": self.col_max_,
            "accuracy_history": list(self.accuracy_history_),
            "tables": {str(j): dict(tab) for j, tab in self.tables_.items()},
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        self.leaf_weight_ = np.asarray(state["leaf_weight"], dtype=float)
        self.col_min_ = np.asarray(state["col_min"], dtype=float)
        self.col_max_ = np.asarray(state["col_max"], dtype=float)
        self.accuracy_history_ = [float(a) for a in state.get("accuracy_history", [])]
        self.tables_ = {}
        for j, tab in state["tables"].items():
            t = {k: np.asarray(v) for k, v in tab.items()}
            for k in ("leaf", "code", "columns"):
                if k in t:
                    t[k] = t[k].astype(np.int64)
            self.tables_[int(j)] = t
        n_miss = sum(c.kind == "missing" for c in self.preprocessor_.model_columns)
        if len(self.tables_) != len(self.preprocessor_.model_columns) - n_miss + (n_miss > 0):
            raise ValueError("ARF state does not match the number of model columns")
        self._cache()


def _atoms(x: np.ndarray, share: float = 0.05, max_atoms: int = 8) -> np.ndarray:
    """Values holding at least ``share`` of the rows (point masses such as a 0 amount)."""
    if x.size == 0:
        return np.zeros(0)
    vals, counts = np.unique(x, return_counts=True)
    keep = counts >= share * x.size
    top = np.argsort(-counts[keep], kind="stable")[:max_atoms]
    return np.sort(vals[keep][top]).astype(float)


def _resolution(x: np.ndarray) -> float:
    """Smallest gap between distinct values (1 for whole numbers), for point likelihoods."""
    u = np.unique(x)
    if u.size < 2:
        return 1.0
    gap = float(np.diff(u).min())
    return max(gap, 1e-9 * float(u[-1] - u[0]))


def _normal_mass(mu: np.ndarray, sd: np.ndarray, a, b) -> np.ndarray:
    """P(a <= N(mu, sd^2) <= b), accurate in both tails."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    upper = za > 0  # use the upper tail where ndtr would round to 1
    m = np.where(upper, special.ndtr(-za) - special.ndtr(-zb), special.ndtr(zb) - special.ndtr(za))
    return np.maximum(m, 0.0)


def _node_bounds(tree, pos: dict[int, int], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper bounds of every node of a fitted sklearn tree, for the features in ``pos``."""
    n_nodes = tree.node_count
    left, right = tree.children_left, tree.children_right
    feat, thr = tree.feature, tree.threshold
    lo = np.full((n_nodes, k), -np.inf)
    hi = np.full((n_nodes, k), np.inf)
    col = np.full(max(int(feat.max()) + 1, 1) if n_nodes else 1, -1)
    for f, i in pos.items():
        if f < len(col):
            col[f] = i
    frontier = np.array([0])
    while frontier.size:
        inner = frontier[left[frontier] != -1]
        if not inner.size:
            break
        lch, rch = left[inner], right[inner]
        lo[lch], hi[lch] = lo[inner], hi[inner]
        lo[rch], hi[rch] = lo[inner], hi[inner]
        c = col[feat[inner]]
        m = c >= 0
        hi[lch[m], c[m]] = np.minimum(hi[lch[m], c[m]], thr[inner][m])
        lo[rch[m], c[m]] = np.maximum(lo[rch[m], c[m]], thr[inner][m])
        frontier = np.r_[lch, rch]
    return lo, hi
