"""Numeric feature matrices for the evaluation models and distances.

Two views of a table, fitted on the *real training* data and applied to every table:

* ``tree``: numbers and datetimes as floats (NaN kept), categories and booleans as
  integer codes (unknown -> NaN), with a mask of categorical features, for
  scikit-learn's ``HistGradientBoosting*``.
* ``dense``: numbers and datetimes scaled to [0, 1] by the training range (NaN -> a
  separate indicator and 0), categories one-hot with weight 1/sqrt(2) so that a
  mismatch counts 1 in squared Euclidean distance, like a Gower distance. For
  linear models and nearest-neighbour distances.

Ids, PII, free text and constants carry no usable signal and are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..schema import SemanticType, TableSchema
from ..schema._validate import coerce_column

__all__ = ["FeatureEncoder", "modelled_columns"]

_MODELLED = (
    SemanticType.NUMERICAL,
    SemanticType.DATETIME,
    SemanticType.CATEGORICAL,
    SemanticType.BOOLEAN,
)
MAX_ONEHOT = 50  # rarer categories share one "other" slot in the dense view


def modelled_columns(schema: TableSchema, exclude: tuple[str, ...] = ()) -> list[str]:
    """Columns that carry signal for evaluation models (numbers, datetimes, categories, booleans)."""
    return [c.name for c in schema if c.type in _MODELLED and c.name not in exclude]


def _numeric(s: pd.Series, spec) -> np.ndarray:
    if spec.type is SemanticType.DATETIME:
        parsed, _ = coerce_column(s, spec)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        out = parsed.astype("datetime64[ns]").astype("int64").astype(float) / 86_400e9
        out[parsed.isna().to_numpy()] = np.nan
        return np.asarray(out, dtype=float)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


@dataclass
class FeatureEncoder:
    """Encode tables into numeric matrices with one fitted vocabulary.

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
        >>> enc = FeatureEncoder(infer_schema(df), mode="dense").fit(df)
        >>> enc.transform(df).shape  # x, then c one-hot: a, b and an "other" slot
        (3, 4)
    """

    schema: TableSchema
    mode: Literal["tree", "dense"] = "tree"
    exclude: tuple[str, ...] = ()
    columns_: list[str] = field(default_factory=list, init=False)

    def fit(self, data: pd.DataFrame) -> FeatureEncoder:
        """Learn vocabularies and ranges from ``data`` (the real training table)."""
        self.columns_ = modelled_columns(self.schema, self.exclude)
        self.vocab_: dict[str, list] = {}
        self.range_: dict[str, tuple[float, float]] = {}
        self.has_null_: dict[str, bool] = {}
        for name in self.columns_:
            spec = self.schema[name]
            s = data[name]
            self.has_null_[name] = bool(s.isna().any())
            if spec.type in (SemanticType.CATEGORICAL, SemanticType.BOOLEAN):
                vc = s.dropna().astype(str).value_counts()
                limit = MAX_ONEHOT if self.mode == "dense" else 10_000
                self.vocab_[name] = vc.index[:limit].tolist()
            else:
                x = _numeric(s, spec)
                fin = x[np.isfinite(x)]
                lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
                self.range_[name] = (lo, hi if hi > lo else lo + 1.0)
        return self

    @property
    def categorical_mask(self) -> np.ndarray:
        """For ``tree`` mode: which features are categorical codes."""
        return np.array([n in self.vocab_ for n in self.columns_], dtype=bool)

    def feature_names(self) -> list[str]:
        """Names of the output features."""
        if self.mode == "tree":
            return list(self.columns_)
        out = []
        for n in self.columns_:
            if n in self.vocab_:
                out += [f"{n}={v}" for v in self.vocab_[n]] + [f"{n}=<other>"]
                if self.has_null_[n]:
                    out.append(f"{n}=<null>")
            else:
                out.append(n)
                if self.has_null_[n]:
                    out.append(f"{n}=<null>")
        return out

    def transform(self, data: pd.DataFrame) -> np.ndarray:
        """Encode ``data`` (float matrix)."""
        blocks: list[np.ndarray] = []
        for name in self.columns_:
            spec = self.schema[name]
            s = data[name]
            if name in self.vocab_:
                codes = pd.Index(self.vocab_[name]).get_indexer(
                    s.astype(str).where(s.notna(), None)
                )
                null = s.isna().to_numpy()
                if self.mode == "tree":
                    col = codes.astype(float)
                    col[(codes < 0) | null] = np.nan
                    blocks.append(col[:, None])
                else:
                    k = len(self.vocab_[name])
                    onehot = np.zeros((len(s), k + 1))
                    idx = np.where(codes < 0, k, codes)
                    onehot[np.arange(len(s)), idx] = 1.0
                    onehot[null] = 0.0
                    blocks.append(onehot / np.sqrt(2))
                    if self.has_null_[name]:
                        blocks.append(null[:, None].astype(float) / np.sqrt(2))
            else:
                x = _numeric(s, spec)
                if self.mode == "tree":
                    blocks.append(x[:, None])
                else:
                    lo, hi = self.range_[name]
                    z = (x - lo) / (hi - lo)
                    null = np.isnan(z)
                    blocks.append(np.where(null, 0.0, z)[:, None])
                    if self.has_null_[name]:
                        blocks.append(null[:, None].astype(float))
        if not blocks:
            return np.zeros((len(data), 0))
        return np.hstack(blocks)
