"""TablePreprocessor: the whole table to a float matrix for the models, and back."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import NotFittedError
from ..schema import ColumnSpec, TableSchema, learn_facts, validate_data
from ._columns import ColumnEncoder, encoder_for

__all__ = ["ModelColumn", "TablePreprocessor"]

NULL_SUFFIX = "#null"


@dataclass(frozen=True)
class ModelColumn:
    """One column of the encoded matrix.

    Attributes:
        name: ``source`` for values, ``source + "#null"`` for missing-value indicators.
        source: the table column it comes from.
        kind: ``"continuous"``, ``"discrete"`` (codes 0..n_categories-1) or ``"missing"`` (0/1).
        n_categories: number of codes for discrete and missing columns.
    """

    name: str
    source: str
    kind: str
    n_categories: int | None = None


class TablePreprocessor:
    """Reversible encoding of a table into a float64 matrix.

    Every modelled column gives one value column (NaN where missing) and every
    nullable column also gives a ``#null`` indicator (0/1), so generators can
    learn how missingness depends on other columns. Ids, PII, constants carry
    no values (they are made at decode time); free text is modelled by length.

    Example:
        >>> import pandas as pd
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"age": [31, None, 45], "city": ["Lyon", "Paris", "Lyon"]})
        >>> pre = TablePreprocessor(infer_schema(df)).fit(df)
        >>> [c.name for c in pre.model_columns]
        ['age', 'age#null', 'city']
        >>> back = pre.inverse_transform(pre.transform(df), rng=0)
        >>> back.equals(df)
        True
    """

    def __init__(self, schema: TableSchema):
        self.schema = schema

    # -- fitting -------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, validate: bool = True) -> TablePreprocessor:
        """Complete the schema's unknown facts from ``data``, validate, and fit the encoders."""
        cols: list[ColumnSpec] = []
        for spec in self.schema:
            spec = copy.deepcopy(spec)
            if spec.name in data.columns:
                learn_facts(spec, data[spec.name])
            cols.append(spec)
        self.schema_ = TableSchema(cols, self.schema.spec_version)
        if validate:
            validate_data(data, self.schema_)
        self.encoders_: dict[str, ColumnEncoder] = {}
        for spec in self.schema_:
            enc = encoder_for(spec)
            enc.fit(data[spec.name])
            self.encoders_[spec.name] = enc
        self._build_columns()
        return self

    def _build_columns(self) -> None:
        out: list[ModelColumn] = []
        for spec in self.schema_:
            enc = self.encoders_[spec.name]
            if enc.kind is not None:
                out.append(ModelColumn(spec.name, spec.name, enc.kind, enc.n_categories))
            if spec.nullable:
                out.append(ModelColumn(spec.name + NULL_SUFFIX, spec.name, "missing", 2))
        self.model_columns_ = out

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoders_"):
            raise NotFittedError("this TablePreprocessor is not fitted; call fit(data) first")

    @property
    def model_columns(self) -> list[ModelColumn]:
        """The columns of the encoded matrix, in order."""
        self._check_fitted()
        return self.model_columns_

    def column_index(self, name: str) -> int:
        """Position of a model column by name."""
        return [c.name for c in self.model_columns].index(name)

    # -- encoding ------------------------------------------------------------------------
    def transform(self, data: pd.DataFrame) -> np.ndarray:
        """Encode ``data`` to an ``(n_rows, len(model_columns))`` float64 matrix."""
        self._check_fitted()
        n = len(data)
        out = np.empty((n, len(self.model_columns_)), dtype="float64")
        j = 0
        for spec in self.schema_:
            enc = self.encoders_[spec.name]
            s = data[spec.name]
            if enc.kind is not None:
                out[:, j] = enc.encode(s)
                j += 1
            if spec.nullable:
                out[:, j] = s.isna().to_numpy(dtype="float64")
                j += 1
        return out

    def inverse_transform(self, values: np.ndarray, *, rng: RNGLike = None) -> pd.DataFrame:
        """Decode a model matrix back to a table with the source's types, formats and dtypes.

        A row is missing in a column when its ``#null`` indicator is >= 0.5 or its value is NaN.
        """
        self._check_fitted()
        gen = as_generator(rng)
        values = np.asarray(values, dtype="float64")
        n = values.shape[0]
        if values.ndim != 2 or values.shape[1] != len(self.model_columns_):
            raise ValueError(
                f"expected a matrix with {len(self.model_columns_)} columns, got shape {values.shape}"
            )
        children = gen.spawn(len(self.schema_.columns))
        cols: dict[str, pd.Series] = {}
        j = 0
        for k, spec in enumerate(self.schema_):
            enc = self.encoders_[spec.name]
            v = None
            if enc.kind is not None:
                v = values[:, j].copy()
                j += 1
            null = np.zeros(n, dtype=bool)
            if spec.nullable:
                null = values[:, j] >= 0.5
                j += 1
            if v is not None:
                v[null] = np.nan
            s = enc.decode(v, n, children[k])
            if null.any() and enc.kind is None:
                s = s.astype(object) if s.dtype.kind in "iub" else s
                s = s.mask(pd.Series(null, index=s.index))
                s = enc._restore_dtype(s)
            cols[spec.name] = s.reset_index(drop=True)
        return pd.DataFrame(cols)

    # -- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (schema + encoder state)."""
        self._check_fitted()
        return {
            "schema": self.schema_.to_dict(),
            "encoders": {k: e.state() for k, e in self.encoders_.items()},
            "n_categories": {k: e.n_categories for k, e in self.encoders_.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TablePreprocessor:
        """Rebuild a fitted preprocessor from :meth:`state_dict`."""
        schema = TableSchema.from_dict(state["schema"])
        self = cls(schema)
        self.schema_ = schema
        self.encoders_ = {}
        for spec in schema:
            enc = encoder_for(spec)
            enc.load_state(state["encoders"].get(spec.name, {}))
            enc.n_categories = state.get("n_categories", {}).get(spec.name)
            self.encoders_[spec.name] = enc
        self._build_columns()
        return self
