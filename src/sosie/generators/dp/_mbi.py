"""The thin layer over ``mbi`` (private-pgm): estimation, marginals, and sampling.

``mbi`` (and JAX) are imported lazily, only when a marginal-based generator fits
or samples, so ``import sosie`` never needs them.

JAX precision: mbi wants float64 (float32 stalls its estimators on larger
tables). Enabling it with ``jax.config.update("jax_enable_x64", True)`` would
change JAX for the whole process, under the feet of any other JAX code the user
runs. Instead every call into mbi here runs inside the ``jax.enable_x64(True)``
context manager, which switches float64 on for that block only (and the import
itself runs in it, which also silences mbi's float32 warning).

mbi's own ``synthetic_data`` draws from numpy's *global* random state, which sosie
never touches; sampling is therefore done here, with the caller's generator, by
forward sampling along mbi's junction tree (see :meth:`MarkovModel.sample`). The
marginals it needs (with or without conditions) come from exact variable elimination
in numpy, so sampling a fitted model needs neither JAX nor a compilation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import missing_dependency

__all__ = ["MarkovModel", "Measurement", "load_mbi", "x64"]

_PURPOSE = "the marginal-based differentially private generators (aim, mst)"


@contextmanager
def x64():
    """Run a block with JAX in float64 without changing the process-wide setting."""
    try:
        import jax
    except ImportError:
        raise missing_dependency("mbi", "dp", _PURPOSE) from None
    with jax.enable_x64(True):
        yield


def load_mbi() -> Any:
    """Import ``mbi`` (raises MissingDependencyError naming the ``dp`` extra)."""
    try:
        import jax  # noqa: F401
    except ImportError:
        raise missing_dependency("mbi", "dp", _PURPOSE) from None
    with x64(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*JAX persistent compilation cache.*")
        warnings.filterwarnings("ignore", message=r".*JAX is running in float32.*")
        try:
            import mbi
        except ImportError:
            raise missing_dependency("mbi", "dp", _PURPOSE) from None
    return mbi


@dataclass
class Measurement:
    """A noisy marginal: counts over ``clique`` (flattened, C order) with noise ``sigma``."""

    clique: tuple[str, ...]
    values: np.ndarray
    sigma: float
    #: per-cell weights of the query (``values`` = weights * counts + noise); None: identity
    weights: np.ndarray | None = None


@dataclass
class MarkovModel:
    """A fitted graphical model: the domain, the cliques and their log-potentials.

    Attributes:
        attributes: attribute names, in domain order.
        sizes: number of values of each attribute.
        cliques: the model's cliques (tuples of attribute names, domain order).
        potentials: log-potential table of each clique (shape: its attributes' sizes).
        total: the estimated number of records (used only to scale marginals).
    """

    attributes: list[str]
    sizes: list[int]
    cliques: list[tuple[str, ...]]
    potentials: list[np.ndarray]
    total: float = 1.0
    maximal: list[tuple[str, ...]] | None = None
    order: list[str] | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # -- estimation --------------------------------------------------------------------------
    @classmethod
    def estimate(
        cls,
        attributes: Sequence[str],
        sizes: Sequence[int],
        measurements: Sequence[Measurement],
        *,
        iters: int,
        total: float,
        warm_start: MarkovModel | None = None,
    ) -> MarkovModel:
        """Fit the model that best explains the noisy measurements (mbi's mirror descent).

        Measurements are weighted by ``1 / sigma``; with no noise at all (epsilon = inf)
        they are weighted equally. ``total`` is the (noisy) record count the model is
        scaled to; the true row count is never used.
        """
        mbi = load_mbi()
        with x64():
            import jax.numpy as jnp

            domain = mbi.Domain(list(attributes), list(sizes))
            noiseless = all(m.sigma == 0 for m in measurements)
            ms = []
            for m in measurements:
                kwargs = {}
                if m.weights is not None:
                    kwargs["query"] = mbi.WeightedQuery(np.asarray(m.weights, dtype=np.float64))
                ms.append(
                    mbi.LinearMeasurement(
                        jnp.asarray(np.asarray(m.values, dtype=np.float64).ravel()),
                        tuple(m.clique),
                        stddev=1.0 if noiseless else float(max(m.sigma, 1e-12)),
                        **kwargs,
                    )
                )
            warm = warm_start._potentials(mbi) if warm_start is not None else None
            mrf = mbi.estimation.MirrorDescent().estimate(
                domain, ms, known_total=float(total), iters=int(iters), warm_start=warm, tol=1e-7
            )
            cliques = [tuple(cl) for cl in mrf.potentials.cliques]
            pots = [np.asarray(mrf.potentials[cl].values, dtype=np.float64) for cl in cliques]
            total = float(mrf.total)
        model = cls(list(attributes), [int(s) for s in sizes], cliques, pots, total)
        model.junction_tree()
        return model

    def _potentials(self, mbi: Any) -> Any:
        """The potentials as an mbi CliqueVector (to warm-start the next estimation)."""
        import jax.numpy as jnp

        domain = mbi.Domain(self.attributes, self.sizes)
        tables = {
            cl: mbi.Factor(domain.project(cl), jnp.asarray(a))
            for cl, a in zip(self.cliques, self.potentials, strict=True)
        }
        return mbi.CliqueVector(domain, self.cliques, tables)

    # -- queries -------------------------------------------------------------------------------
    def project(self, clique: Sequence[str]) -> np.ndarray:
        """The model's counts over ``clique`` (scaled to the estimated total), in its order.

        Computed by variable elimination in numpy: exact, and no JAX compilation per query
        (the model changes every round of AIM, which would recompile everything).
        """
        clique = tuple(clique)
        key = ("project", clique)
        if key not in self._cache:
            out = self._eliminate(clique) * self.total
            self._cache[key] = out
        return self._cache[key]

    def _eliminate(
        self, query: Sequence[str], logmasks: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Exact probabilities over ``query`` by log-space variable elimination (greedy order).

        ``logmasks`` (0 / -inf per value) condition the model on the allowed values.
        """
        query = tuple(query)
        size = dict(zip(self.attributes, self.sizes, strict=True))
        factors: list[tuple[tuple[str, ...], np.ndarray]] = list(
            zip(self.cliques, self.potentials, strict=True)
        )
        factors += [((a,), np.asarray(m, dtype=np.float64)) for a, m in (logmasks or {}).items()]
        hidden = [a for a in self.attributes if a not in query]
        while hidden:  # eliminate the variable whose product factor is smallest
            scopes = {z: set().union(*[set(cl) for cl, _ in factors if z in cl]) for z in hidden}
            z = min(hidden, key=lambda v: (math.prod(size[a] for a in scopes[v]), hidden.index(v)))
            hidden.remove(z)
            inside = [f for f in factors if z in f[0]]
            factors = [f for f in factors if z not in f[0]]
            if not inside:
                continue
            scope = tuple(a for a in self.attributes if a in scopes[z])
            joint = sum(_align(t, cl, scope, size) for cl, t in inside)
            axis = scope.index(z)
            m = np.max(joint, axis=axis, keepdims=True)
            m = np.where(np.isfinite(m), m, 0.0)
            with np.errstate(divide="ignore"):
                reduced = np.log(np.sum(np.exp(joint - m), axis=axis)) + np.squeeze(m, axis=axis)
            factors.append((tuple(a for a in scope if a != z), reduced))
        scope = tuple(query)
        joint = sum((_align(t, cl, scope, size) for cl, t in factors), np.zeros([1] * len(scope)))
        joint = np.broadcast_to(joint, tuple(size[a] for a in scope))
        p = np.exp(joint - np.max(joint))
        return p / p.sum()

    def junction_tree(self) -> tuple[list[tuple[str, ...]], list[str]]:
        """The junction tree's maximal cliques and its elimination order (mbi's, kept)."""
        if self.maximal is None or self.order is None:
            mbi = load_mbi()
            from mbi import junction_tree

            domain = mbi.Domain(self.attributes, self.sizes)
            jtree, order = junction_tree.make_junction_tree(domain, self.cliques)
            self.maximal = [
                tuple(str(a) for a in cl) for cl in junction_tree.maximal_cliques(jtree)
            ]
            self.order = [str(a) for a in order]
        return self.maximal, self.order

    def clique_marginals(
        self, masks: dict[str, np.ndarray] | None = None
    ) -> tuple[dict[tuple[str, ...], np.ndarray], list[str]]:
        """Probability tables over the junction tree's maximal cliques, given evidence.

        ``masks`` maps an attribute to a boolean array of its allowed values; the
        distribution is conditioned on every attribute taking an allowed value. Computed
        in numpy (no JAX needed to sample). Returns the tables and the elimination order.
        """
        maximal, order = self.junction_tree()
        key = ("marginals", tuple(sorted((a, m.tobytes()) for a, m in (masks or {}).items())))
        if key not in self._cache:
            logmasks = {a: np.where(m, 0.0, -np.inf) for a, m in (masks or {}).items()}
            tables = {cl: self._eliminate(cl, logmasks) for cl in maximal}
            if len(self._cache) > 512:  # many distinct conditions: keep memory bounded
                self._cache = {k: v for k, v in self._cache.items() if k[0] != "marginals"}
            self._cache[key] = tables
        return self._cache[key], order

    # -- sampling ------------------------------------------------------------------------------
    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        masks: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Draw ``n`` records (codes, one column per attribute) given optional evidence.

        Forward sampling in reverse elimination order: each attribute is drawn from
        its conditional given the already-drawn attributes it shares a junction-tree
        clique with (they always fit in one maximal clique). Exact for the model.
        """
        tables, order = self.clique_marginals(masks)
        index = {a: i for i, a in enumerate(self.attributes)}
        out = np.zeros((n, len(self.attributes)), dtype=np.int64)
        if n == 0:
            return out
        done: set[str] = set()
        for attr in reversed(order):
            holders = [cl for cl in tables if attr in cl]
            neighbours = set().union(*[set(cl) for cl in holders])
            parents = [a for a in self.attributes if a in done and a in neighbours]
            scope = set(parents) | {attr}
            home = next(cl for cl in holders if scope <= set(cl))
            t = _project(tables[home], home, (*parents, attr))
            k = self.sizes[index[attr]]
            t = np.maximum(t.reshape(-1, k), 0.0)
            rows = t.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                cond = np.where(rows > 0, t / np.where(rows > 0, rows, 1.0), 1.0 / k)
            if masks and attr in masks:  # rows of zero mass fall back to the allowed values
                allowed = masks[attr].astype(np.float64)
                cond = np.where(rows > 0, cond, allowed / allowed.sum())
            cdf = np.cumsum(cond, axis=1)
            cdf[:, -1] = np.inf
            # the last value of positive probability: rounding in the cumulative sum can
            # never pick a value of probability zero (e.g. one a condition rules out)
            last = k - 1 - np.argmax(cond[:, ::-1] > 0, axis=1)
            if parents:
                flat = np.ravel_multi_index(
                    tuple(out[:, index[p]] for p in parents),
                    tuple(self.sizes[index[p]] for p in parents),
                )
            else:
                flat = np.zeros(n, dtype=np.int64)
            u = rng.random(n)
            col = np.empty(n, dtype=np.int64)
            for start in range(0, n, 65536):  # bounded memory: chunks of rows x k
                sl = slice(start, start + 65536)
                col[sl] = (cdf[flat[sl]] <= u[sl, None]).sum(axis=1)
            out[:, index[attr]] = np.minimum(col, last[flat])
            done.add(attr)
        return out

    # -- persistence ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON values and arrays (no pickle)."""
        return {
            "attributes": list(self.attributes),
            "sizes": list(self.sizes),
            "cliques": [list(cl) for cl in self.cliques],
            "potentials": list(self.potentials),
            "total": float(self.total),
            "maximal": [list(cl) for cl in self.junction_tree()[0]],
            "order": list(self.junction_tree()[1]),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MarkovModel:
        """Inverse of :meth:`state`."""
        return cls(
            [str(a) for a in state["attributes"]],
            [int(s) for s in state["sizes"]],
            [tuple(str(a) for a in cl) for cl in state["cliques"]],
            [np.asarray(p, dtype=np.float64) for p in state["potentials"]],
            float(state["total"]),
            [tuple(str(a) for a in cl) for cl in state["maximal"]] if "maximal" in state else None,
            [str(a) for a in state["order"]] if "order" in state else None,
        )


def _project(table: np.ndarray, attrs: Sequence[str], onto: Sequence[str]) -> np.ndarray:
    """Sum ``table`` (axes ``attrs``) onto ``onto``, with the axes in ``onto``'s order."""
    drop = tuple(i for i, a in enumerate(attrs) if a not in onto)
    t = table.sum(axis=drop) if drop else table
    remaining = [a for a in attrs if a in onto]
    return np.transpose(t, [remaining.index(a) for a in onto])


def _align(
    table: np.ndarray, attrs: Sequence[str], scope: Sequence[str], size: dict[str, int]
) -> np.ndarray:
    """``table`` (axes ``attrs``) as an array broadcastable over ``scope``'s axes."""
    order = [a for a in scope if a in attrs]
    t = np.transpose(table, [list(attrs).index(a) for a in order])
    shape = [size[a] if a in attrs else 1 for a in scope]
    return t.reshape(shape)
