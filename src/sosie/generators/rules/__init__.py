"""Rule-based generation from a YAML/JSON spec: no training data.

A spec lists columns drawn from named distributions (normal, lognormal,
exponential, poisson, uniform, categorical with weights, Faker providers,
datetime ranges, sequences, entities, per-entity attributes, exponential event
times per group), derived columns by safe expressions over earlier columns,
business rules (enforced by construction where possible, otherwise by bounded
resampling), label rules with a noise rate, and injected temporal patterns
(``inject``: episodes of several events of one entity, such as card-testing bursts
or port scans, with their own values and labels; see
:mod:`sosie.generators.rules._spec`). See the shipped examples
(``sosie/examples/card_transactions.yaml`` and ``network_logs.yaml``).

Example:
    >>> from sosie.generators.rules import RulesGenerator, example_path
    >>> gen = RulesGenerator(spec=str(example_path("card_transactions")), rng=0).fit()
    >>> df = gen.sample(2000)
    >>> bool((df["amount"] > 0).all()), sorted(df["is_fraud"].unique().tolist())
    (True, [False, True])
    >>> sorted(df.loc[df["fraud_pattern"] == "burst", "merchant_category"].unique())
    ['online_retail']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..._rng import as_seed_sequence
from ...errors import InvalidDataError, Problem
from ...schema import ColumnSpec, TableSchema
from ..base import Generator
from ..registry import register
from ._engine import generate
from ._spec import RuleSpec, example_path, load_spec, spec_columns_summary

__all__ = [
    "RuleSpec",
    "RulesGenerator",
    "example_path",
    "generate",
    "load_spec",
    "spec_columns_summary",
]


def spec_schema(spec: RuleSpec) -> TableSchema:
    """The schema of the table a spec produces (facts from the spec are ``user`` provenance).

    Example:
        >>> s = spec_schema(load_spec({"columns": {"n": {"distribution": "poisson", "lam": 2}}}))
        >>> s["n"].type.value, s["n"].dtype
        ('numerical', 'int')
    """
    cols = []
    for s in spec_columns_summary(spec):
        spec_col = ColumnSpec(
            s.name, s.semantic_type, nullable=s.nullable, pandas_dtype=s.pandas_dtype, **s.facts
        )
        spec_col.provenance = {k: "user" for k in s.facts if s.facts[k] is not None}
        spec_col.__post_init__()
        spec_col.evidence = ["declared by the rule-based spec"]
        cols.append(spec_col)
    return TableSchema(cols, constraints=list(spec.constraints))


@register("rules")
class RulesGenerator(Generator):
    """Rule-based generator: a spec in, rows out; ``fit()`` takes no data.

    Args:
        spec: a path to a YAML/JSON spec, its text, or a dict.
        rng: seed of the sampling stream.

    Example:
        >>> spec = {"columns": {"x": {"distribution": "normal", "mean": 0, "std": 1}}}
        >>> RulesGenerator(spec=spec, rng=1).fit().sample(3).shape
        (3, 1)
    """

    min_rows = 0

    def __init__(self, *, spec: str | Mapping[str, Any] | RuleSpec, rng: Any = None):
        self.spec = spec
        self.rng = rng

    def fit(self, data: pd.DataFrame | None = None, *, schema: Any = None) -> RulesGenerator:
        """Read and validate the spec (rule-based generation learns nothing from data).

        Raises:
            SpecError: listing every problem of the spec with its line and field.
            InvalidDataError: when data is passed (use a learned generator for that).
        """
        if data is not None:
            raise InvalidDataError(
                Problem(
                    "data",
                    "no training data (the rules generator draws from its spec)",
                    f"a {type(data).__name__}",
                    "call fit() without data, or use a learned generator such as 'gaussian_copula'",
                )
            )
        self.spec_ = load_spec(self.spec)
        self.schema_ = spec_schema(self.spec_)
        seq = as_seed_sequence(self.rng)
        self._entropy_ = seq.entropy
        self._fit_key_ = tuple(seq.spawn_key)
        self._sample_calls_ = 0
        self.fingerprint_ = None
        self.fit_seconds_ = 0.0
        return self

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:  # pragma: no cover - unused
        raise NotImplementedError

    def _sample(self, n_rows, conditions, rng):  # pragma: no cover - unused
        raise NotImplementedError

    def _generate(
        self, n: int, cond: dict[str, np.ndarray], seq: np.random.SeedSequence
    ) -> pd.DataFrame:
        if not cond:
            return generate(self.spec_, n, rng=seq)
        keys = list(cond)
        table = pd.DataFrame({k: pd.Series(cond[k], dtype=object) for k in keys})
        if n == 0 or len(table.drop_duplicates()) == 1:
            first = {k: cond[k][0] if n else None for k in keys}
            return generate(self.spec_, n, rng=seq, conditions=first)
        # per-row conditions: one generation per distinct combination, rows put back in order
        groups = table.astype(str).groupby(keys, sort=False).indices
        parts = []
        for i, (_, rows) in enumerate(groups.items()):
            first = {k: cond[k][rows[0]] for k in keys}
            part = generate(self.spec_, len(rows), rng=seq.spawn(len(groups))[i], conditions=first)
            part.index = rows
            parts.append(part)
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _preprocessor_state(self) -> None:
        return None

    def _state_dict(self) -> dict[str, Any]:
        return {"spec": self.spec_.to_dict()}

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        self.spec_ = load_spec(state["spec"])
