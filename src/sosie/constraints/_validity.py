"""Share of rows satisfying each constraint, real next to synthetic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schema import TableSchema
from ._types import Constraint, constraint_from_dict

__all__ = ["constraint_validity", "validity_masks", "validity_row"]


def validity_masks(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    constraints: list[Constraint] | TableSchema,
    *,
    schema: TableSchema | None = None,
) -> list[tuple[Constraint, np.ndarray, np.ndarray]]:
    """Per constraint: the constraint, and the per-row validity of ``real`` and ``synthetic``.

    Mappings (``determines``) and allowed combinations are learned from ``real`` when the
    constraint does not list them, so a synthetic row is judged against the real table.

    Example:
        >>> from sosie.constraints import Inequality
        >>> real = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
        >>> [(c.describe(), r.tolist(), s.tolist()) for c, r, s in
        ...  validity_masks(real, real.iloc[::-1], [Inequality("a", "b")])]
        [('a <= b', [True, True], [True, True])]
    """
    if isinstance(constraints, TableSchema):
        schema = schema or constraints
        constraints = list(constraints.constraints)
    out = []
    for c in constraints:
        c = constraint_from_dict(c)
        learn = getattr(c, "learn", None)
        state = learn(real) if learn is not None else None
        out.append((c, c.holds(real, schema, state), c.holds(synthetic, schema, state)))
    return out


def constraint_validity(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    constraints: list[Constraint] | TableSchema,
    *,
    schema: TableSchema | None = None,
) -> list[dict[str, Any]]:
    """Per constraint: the share of real and of synthetic rows that satisfy it.

    Mappings (``determines``) and allowed combinations are learned from ``real`` when the
    constraint does not list them, so a synthetic row is judged against the real table.

    Args:
        real: the real table.
        synthetic: the synthetic table.
        constraints: a list of constraints, or a schema whose ``constraints`` are used.
        schema: the schema (parses dates and numbers stored as strings).

    Returns:
        One dict per constraint: ``constraint`` (text), ``kind``, ``provenance``, ``real``
        and ``synthetic`` (shares in [0, 1]), ``synthetic_violations`` (a count).

    Example:
        >>> from sosie.constraints import Inequality
        >>> real = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
        >>> fake = pd.DataFrame({"a": [1, 5], "b": [3, 4]})
        >>> row = constraint_validity(real, fake, [Inequality("a", "b")])[0]
        >>> row["real"], row["synthetic"]
        (1.0, 0.5)
    """
    return [
        validity_row(c, r, s)
        for c, r, s in validity_masks(real, synthetic, constraints, schema=schema)
    ]


def validity_row(c: Constraint, real: np.ndarray, synthetic: np.ndarray) -> dict[str, Any]:
    """One constraint's validity as a JSON-ready row (see :func:`constraint_validity`)."""
    return {
        "constraint": c.describe(),
        "kind": c.kind,
        "provenance": c.provenance,
        "real": float(real.mean()) if len(real) else 1.0,
        "synthetic": float(synthetic.mean()) if len(synthetic) else 1.0,
        "synthetic_violations": int((~synthetic).sum()),
    }
