"""Constraints: the exact rules of a table, discovered in real data and kept by every generator.

* :func:`discover` finds formulas (linear combinations, products and ratios), functional
  dependencies and fixed combinations of categoricals, inequalities between numbers or
  datetimes, value grids and conditional nulls, each with its evidence.
* The vocabulary (:class:`Formula`, :class:`Determines`, :class:`Combinations`,
  :class:`Inequality`, :class:`Grid`, :class:`NullIff`, :class:`Check`) is the same in a
  schema's ``constraints`` list (JSON), a rule-based spec, and Python.
* Every table generator keeps them *by construction* (the base class removes derived
  columns before fitting and recomputes them, models the gap of an inequality, snaps to
  grids, blanks conditional nulls); what the vocabulary cannot build is enforced by bounded
  rejection, which says how many rows it could make.
* :func:`constraint_validity` measures the share of rows satisfying each one.

Example:
    >>> import pandas as pd
    >>> from sosie.schema import infer_schema
    >>> from sosie.generators import GaussianCopulaGenerator
    >>> df = pd.DataFrame({"start": [1.0, 2.0, 4.0, 3.0, 5.0, 2.5] * 5,
    ...                    "end": [2.0, 2.5, 9.0, 3.5, 6.0, 7.0] * 5})
    >>> schema = infer_schema(df)
    >>> schema.constraints.append(Inequality("start", "end"))
    >>> gen = GaussianCopulaGenerator(rng=0).fit(df, schema=schema)
    >>> out = gen.sample(500)
    >>> bool((out["start"] <= out["end"]).all())
    True
"""

from ._discover import DISCOVERABLE, discover
from ._layer import ConstraintLayer, check_constraints
from ._types import (
    KINDS,
    Check,
    Combinations,
    Constraint,
    Determines,
    Formula,
    Grid,
    Inequality,
    NullIff,
    constraint_from_dict,
)
from ._validity import constraint_validity

__all__ = [
    "DISCOVERABLE",
    "KINDS",
    "Check",
    "Combinations",
    "Constraint",
    "ConstraintLayer",
    "Determines",
    "Formula",
    "Grid",
    "Inequality",
    "NullIff",
    "check_constraints",
    "constraint_from_dict",
    "constraint_validity",
    "discover",
]
