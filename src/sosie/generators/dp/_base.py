"""What the marginal-based DP generators share: discretisation and sampling.

The flow of :class:`MarginalDPGenerator` (``aim`` and ``mst`` write only ``_run``):

1. ``fit`` (from :class:`~sosie.generators.dp._private.PrivateFitMixin`) checks the budget
   and that every bound, category set and constant value is declared public, clips numbers
   to their public bounds, and resets what preprocessing learned from the rows.
2. Every column becomes one discrete attribute: categories keep their codes, numbers and
   datetimes fall into ``n_bins`` equal-width bins between their public bounds (one bin per
   value for small integer ranges), and a nullable column gets one extra "missing" code.
3. ``_run`` spends the budget (every mechanism is recorded in the :class:`PrivacyLedger`) and
   returns an mbi graphical model; sampling from it is post-processing: it spends nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...privacy import NoiseSource, PrivacyLedger
from ...schema import Provenance
from ..base import Generator
from ._mbi import MarkovModel, Measurement
from ._private import PrivateFitMixin, public_bin_edges

__all__ = ["Attribute", "Discretizer", "MarginalDPGenerator"]

_DECLARED = (Provenance.USER, Provenance.PUBLIC)


# -- discretisation ---------------------------------------------------------------------------
@dataclass
class Attribute:
    """One discrete attribute of the model, made from one table column.

    Codes ``0 .. n_values - 1`` are values (categories or bins); a nullable column has one
    more code, ``n_values``, meaning *missing*. A column without values (id, PII, constant)
    that is nullable is an attribute with one value (present) and the missing code.
    """

    name: str
    value: int  # model column index of the values (-1: none)
    null: int  # model column index of the missing-value indicator (-1: none)
    kind: str  # "discrete", "continuous" or "none"
    n_values: int
    nullable: bool
    edges: np.ndarray | None = None  # bin edges (continuous)
    unit: bool = False  # one bin per integer: decode to the integer itself

    @property
    def size(self) -> int:
        return self.n_values + int(self.nullable)

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "null": self.null,
            "kind": self.kind,
            "n_values": self.n_values,
            "nullable": self.nullable,
            "edges": self.edges,
            "unit": self.unit,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Attribute:
        edges = d.get("edges")
        return cls(
            str(d["name"]),
            int(d["value"]),
            int(d["null"]),
            str(d["kind"]),
            int(d["n_values"]),
            bool(d["nullable"]),
            None if edges is None else np.asarray(edges, dtype=np.float64),
            bool(d.get("unit", False)),
        )

    def bin_of(self, x: np.ndarray) -> np.ndarray:
        """Bin index of each finite value (values beyond the bounds go to the end bins)."""
        assert self.edges is not None
        b = np.searchsorted(self.edges, x, side="right") - 1
        return np.clip(b, 0, self.n_values - 1)


class Discretizer:
    """The preprocessed matrix <-> one discrete code per attribute, from public facts only.

    Example:
        >>> import pandas as pd
        >>> from sosie.schema import ColumnSpec, TableSchema
        >>> from sosie.transforms import TablePreprocessor
        >>> s = TableSchema([ColumnSpec("n", "numerical", dtype="int", min=0, max=3, nullable=True)])
        >>> pre = TablePreprocessor(s).fit(pd.DataFrame({"n": [0, 2, None]}))
        >>> d = Discretizer.build(pre, n_bins=8)
        >>> d.sizes, d.encode(pre.transform(pd.DataFrame({"n": [0, 2, None]}))).tolist()
        ([5], [[0], [2], [4]])
    """

    def __init__(self, attributes: list[Attribute], n_columns: int):
        self.attributes = attributes
        self.n_columns = n_columns

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    @property
    def sizes(self) -> list[int]:
        return [a.size for a in self.attributes]

    @classmethod
    def build(cls, pre: Any, n_bins: int) -> Discretizer:
        """Attributes for a fitted :class:`~sosie.transforms.TablePreprocessor`."""
        cols = pre.model_columns
        where: dict[str, dict[str, int]] = {}
        for j, c in enumerate(cols):
            where.setdefault(c.source, {})["null" if c.kind == "missing" else "value"] = j
        attrs = []
        for spec in pre.schema_:
            pos = where.get(spec.name)
            if not pos:
                continue
            value, null = pos.get("value", -1), pos.get("null", -1)
            nullable = null >= 0
            if value < 0:
                attrs.append(Attribute(spec.name, -1, null, "none", 1, True))
                continue
            col = cols[value]
            if col.kind == "discrete":
                attrs.append(
                    Attribute(spec.name, value, null, "discrete", int(col.n_categories), nullable)
                )
                continue
            edges, unit = public_bin_edges(pre, spec.name, n_bins)
            attrs.append(
                Attribute(
                    spec.name, value, null, "continuous", len(edges) - 1, nullable, edges, unit
                )
            )
        return cls(attrs, len(cols))

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Codes (n_rows x n_attributes, int64) of an encoded matrix."""
        n = X.shape[0]
        out = np.zeros((n, len(self.attributes)), dtype=np.int64)
        for i, a in enumerate(self.attributes):
            if a.kind == "none":
                out[:, i] = (X[:, a.null] >= 0.5).astype(np.int64)
                continue
            x = X[:, a.value]
            missing = np.isnan(x)
            if a.null >= 0:
                missing |= X[:, a.null] >= 0.5
            safe = np.where(missing, 0.0, x)
            if a.kind == "discrete":
                codes = np.clip(np.round(safe), 0, a.n_values - 1).astype(np.int64)
            else:
                codes = a.bin_of(safe)
            if a.nullable:
                codes = np.where(missing, a.n_values, codes)
            out[:, i] = codes
        return out

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An encoded matrix from codes (a value drawn uniformly within each bin)."""
        n = codes.shape[0]
        X = np.zeros((n, self.n_columns), dtype=np.float64)
        for i, a in enumerate(self.attributes):
            c = codes[:, i]
            missing = c >= a.n_values
            if a.null >= 0:
                X[:, a.null] = missing.astype(np.float64)
            if a.kind == "none":
                continue
            cc = np.minimum(c, a.n_values - 1)
            if a.kind == "discrete":
                v = cc.astype(np.float64)
            elif a.unit:
                v = (a.edges[cc] + a.edges[cc + 1]) / 2  # type: ignore[index]
            else:
                lo, hi = a.edges[cc], a.edges[cc + 1]  # type: ignore[index]
                v = lo + rng.random(n) * (hi - lo)
            X[:, a.value] = np.where(missing, np.nan, v)
        return X

    def condition_codes(self, conditions: dict[int, np.ndarray], n: int) -> np.ndarray:
        """Per row and attribute: -1 free, -2 any value but missing, else the exact code."""
        out = np.full((n, len(self.attributes)), -1, dtype=np.int64)
        for i, a in enumerate(self.attributes):
            null = conditions.get(a.null) if a.null >= 0 else None
            if null is not None:
                req = ~np.isnan(null)
                out[req & (null >= 0.5), i] = a.n_values if a.nullable else 0
                out[req & (null < 0.5), i] = 0 if a.kind == "none" else -2
            val = conditions.get(a.value) if a.value >= 0 else None
            if val is not None:
                req = ~np.isnan(val)
                if a.kind == "discrete":
                    codes = np.clip(np.round(np.nan_to_num(val)), 0, a.n_values - 1)
                else:
                    codes = a.bin_of(np.nan_to_num(val))
                out[req, i] = codes[req].astype(np.int64)
        return out

    def masks(self, key: np.ndarray) -> dict[str, np.ndarray]:
        """Allowed codes of each constrained attribute, from one row of :meth:`condition_codes`."""
        out = {}
        for a, k in zip(self.attributes, key, strict=True):
            if k == -1:
                continue
            m = np.zeros(a.size, dtype=bool)
            if k == -2:
                m[: a.n_values] = True
            else:
                m[int(k)] = True
            out[a.name] = m
        return out

    def state(self) -> dict[str, Any]:
        return {"n_columns": self.n_columns, "attributes": [a.state() for a in self.attributes]}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Discretizer:
        return cls([Attribute.from_state(a) for a in d["attributes"]], int(d["n_columns"]))


# -- compression (MST) ------------------------------------------------------------------------
@dataclass
class Compression:
    """Merged values of an attribute: ``mapping[code] -> model code``; ``weights`` split back."""

    mapping: np.ndarray
    weights: np.ndarray

    @property
    def size(self) -> int:
        return int(self.mapping.max()) + 1

    def mask(self, mask: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        out[self.mapping[mask]] = True
        return out

    def expand(self, codes: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None):
        """Original codes for model codes: a merged value is split by the noisy weights."""
        out = np.empty_like(codes)
        for c in np.unique(codes):
            rows = np.flatnonzero(codes == c)
            members = np.flatnonzero(self.mapping == c)
            if mask is not None:
                members = members[mask[members]]
            if members.size == 1:
                out[rows] = members[0]
                continue
            w = np.maximum(self.weights[members], 0.0) + 1e-9
            cdf = np.cumsum(w / w.sum())
            cdf[-1] = np.inf
            out[rows] = members[np.searchsorted(cdf, rng.random(rows.size), side="right")]
        return out


# -- the generator ----------------------------------------------------------------------------
class MarginalDPGenerator(PrivateFitMixin, Generator):
    """Base of the marginal-based differentially private generators (``aim``, ``mst``)."""

    native_conditions: ClassVar[bool] = True
    min_rows: ClassVar[int] = 2

    epsilon: float
    delta: float
    n_bins: int
    iters: int
    secure_mode: bool

    def _check_params(self) -> None:
        super()._check_params()
        for name, lo in (("n_bins", 2), ("iters", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"parameter {name!r} must be an integer >= {lo}, got {v!r}")

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        self._forget_data_facts(X)
        self.discretizer_ = Discretizer.build(self.preprocessor_, int(self.n_bins))
        codes = self.discretizer_.encode(X)
        noise = self._noise_source(rng)
        ledger = PrivacyLedger(self.epsilon, self.delta)
        ledger.noise_source = noise.description
        names, sizes = self.discretizer_.names, self.discretizer_.sizes
        self.compression_: list[Compression | None] = [None] * len(names)
        self.fit_info_: dict[str, Any] = {}
        self.model_: MarkovModel | None = None
        if names:
            self.model_ = self._run(codes, names, sizes, ledger, noise)
        self.privacy_ledger_ = ledger
        self.privacy_spent_ = ledger.to_dict()

    def _run(
        self,
        codes: np.ndarray,
        names: list[str],
        sizes: list[int],
        ledger: PrivacyLedger,
        noise: NoiseSource,
    ) -> MarkovModel:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- sampling ----------------------------------------------------------------------------
    def _sample(self, n_rows, conditions, rng):
        disc = self.discretizer_
        if self.model_ is None or n_rows == 0:
            return disc.decode(np.zeros((n_rows, len(disc.attributes)), dtype=np.int64), rng)
        keys = disc.condition_codes(conditions, n_rows)
        codes = np.empty_like(keys)
        if (keys == -1).all():
            codes[:] = self._draw(n_rows, {}, rng)
        else:
            uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
            inverse = inverse.ravel()
            for k, key in enumerate(uniq):
                rows = np.flatnonzero(inverse == k)
                codes[rows] = self._draw(rows.size, disc.masks(key), rng)
        return disc.decode(codes, rng)

    def _draw(self, n: int, masks: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Codes of ``n`` records given the allowed values of some attributes."""
        names = self.discretizer_.names
        model_masks = {}
        for i, name in enumerate(names):
            comp = self.compression_[i]
            if name in masks:
                model_masks[name] = comp.mask(masks[name]) if comp is not None else masks[name]
        assert self.model_ is not None
        codes = self.model_.sample(n, rng, model_masks)
        for i, comp in enumerate(self.compression_):
            if comp is not None:
                codes[:, i] = comp.expand(codes[:, i], rng, masks.get(names[i]))
        return codes

    # -- state -------------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            "discretizer": self.discretizer_.state(),
            "model": None if self.model_ is None else self.model_.state(),
            "compression": [
                None if c is None else {"mapping": c.mapping, "weights": c.weights}
                for c in self.compression_
            ],
            "privacy": self.privacy_spent_,
            "fit_info": self.fit_info_,
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        self.discretizer_ = Discretizer.from_state(state["discretizer"])
        model = state.get("model")
        self.model_ = None if model is None else MarkovModel.from_state(model)
        self.compression_ = [
            None
            if c is None
            else Compression(
                np.asarray(c["mapping"], dtype=np.int64), np.asarray(c["weights"], dtype=float)
            )
            for c in state.get("compression", [None] * len(self.discretizer_.attributes))
        ]
        self.privacy_spent_ = state["privacy"]
        self.privacy_ledger_ = PrivacyLedger.from_dict(self.privacy_spent_)
        self.fit_info_ = state.get("fit_info", {})

    # -- helpers for the algorithms ------------------------------------------------------------
    @staticmethod
    def _marginal(codes: np.ndarray, idx: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
        """Exact counts of the data over attributes ``idx`` (flattened, C order)."""
        shape = tuple(sizes[i] for i in idx)
        flat = np.ravel_multi_index(tuple(codes[:, i] for i in idx), shape)
        return np.bincount(flat, minlength=math.prod(shape)).astype(np.float64)

    @staticmethod
    def _noisy_total(measurements: Sequence[Measurement]) -> float:
        """Record count estimated from noisy identity measurements (inverse-variance mean)."""
        est, var = [], []
        for m in measurements:
            if m.weights is None:
                est.append(float(np.sum(m.values)))
                var.append(max(m.sigma, 1e-12) ** 2 * np.size(m.values))
        if not est:
            return 1.0
        w = 1.0 / np.asarray(var)
        return max(1.0, float(np.sum(w * np.asarray(est)) / np.sum(w)))
