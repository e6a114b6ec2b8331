"""Which schema facts a differentially private generator may use: only declared ones.

Bounds, category sets and constant values shape the model (the bins, the
domain of every marginal). Learned from the private data they would leak it
outside any privacy guarantee, so DP generators accept them only with provenance
``user`` or ``public`` (see :class:`~sosie.schema.Provenance`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from ..errors import PrivacyError, Problem
from ..schema import Provenance, SemanticType, TableSchema

__all__ = ["REQUIRED_FACTS", "check_public_schema", "declare_public", "undeclared_facts"]

#: facts a DP generator needs declared (user/public), by semantic type
REQUIRED_FACTS: dict[SemanticType, tuple[str, ...]] = {
    SemanticType.NUMERICAL: ("min", "max", "dtype"),
    SemanticType.DATETIME: ("min", "max"),
    SemanticType.CATEGORICAL: ("categories",),
    SemanticType.CONSTANT: ("value",),
    SemanticType.BOOLEAN: (),
    SemanticType.ID: (),
    SemanticType.PII: (),
}
_UNSUPPORTED = {
    SemanticType.TEXT: (
        "free text has no public bounds for its length",
        "declare the column 'pii' (new Faker values) or drop it before fitting",
    ),
}
_EXAMPLES = {
    SemanticType.NUMERICAL: "min=..., max=..., dtype='int'",
    SemanticType.DATETIME: "min='2020-01-01', max='2025-12-31'",
    SemanticType.CATEGORICAL: "categories=[...]",
    SemanticType.CONSTANT: "value=...",
}
_DECLARED = (Provenance.USER, Provenance.PUBLIC)


def undeclared_facts(schema: TableSchema) -> dict[str, list[str]]:
    """Column -> the required facts that are missing or not declared user/public.

    Example:
        >>> from sosie.schema import ColumnSpec
        >>> s = TableSchema([ColumnSpec("age", "numerical", dtype="int", min=17, max=90)])
        >>> undeclared_facts(s)
        {'age': ['min', 'max', 'dtype']}
        >>> undeclared_facts(s.update("age", min=0, max=120, dtype="int"))
        {}
    """
    out: dict[str, list[str]] = {}
    for spec in schema:
        missing = [
            f
            for f in REQUIRED_FACTS.get(spec.type, ())
            if getattr(spec, f) is None or spec.provenance.get(f) not in _DECLARED
        ]
        if missing:
            out[spec.name] = missing
    return out


def check_public_schema(schema: TableSchema, *, generator: str = "this generator") -> None:
    """Raise unless every fact a DP generator needs is declared (user/public).

    Raises:
        PrivacyError: one problem per column, naming the facts and how to declare them.

    Example:
        >>> from sosie.schema import ColumnSpec
        >>> s = TableSchema([ColumnSpec("sex", "categorical", categories=["F", "M"])])
        >>> try:
        ...     check_public_schema(s, generator="mst")
        ... except PrivacyError as e:
        ...     print(e.errors[0].where)
        column 'sex'
        >>> check_public_schema(s.update("sex", categories=["F", "M"]))
    """
    problems: list[Problem] = []
    for spec in schema:
        if spec.type in _UNSUPPORTED:
            why, fix = _UNSUPPORTED[spec.type]
            problems.append(
                Problem(
                    f"column {spec.name!r}",
                    f"a column type {generator} can model privately ({why})",
                    f"type {spec.type.value!r}",
                    fix,
                )
            )
    for name, facts in undeclared_facts(schema).items():
        spec = schema[name]
        inferred = [f for f in facts if getattr(spec, f) is not None]
        absent = [f for f in facts if getattr(spec, f) is None]
        found = []
        if inferred:
            found.append(
                ", ".join(inferred) + " not marked 'user' or 'public' (so treated as inferred)"
            )
        if absent:
            found.append(", ".join(absent) + " not given")
        problems.append(
            Problem(
                f"column {name!r}",
                f"{', '.join(REQUIRED_FACTS[spec.type])} declared public or by the user "
                "(a DP generator may not learn them from the private data)",
                "; ".join(found),
                f"declare them from public knowledge, e.g. schema = schema.update({name!r}, "
                f"{_EXAMPLES[spec.type]}) (marks them 'user'), or in the schema JSON with "
                f'"provenance": {json.dumps(dict.fromkeys(facts, "public"))}',
            )
        )
    if problems:
        raise PrivacyError(
            problems,
            header=f"{generator} is differentially private and needs a public schema",
        )


def declare_public(schema: TableSchema, columns: Iterable[str] | None = None) -> TableSchema:
    """A copy where every set fact of ``columns`` (default: all) is marked ``public``.

    Use it only for facts that really are public knowledge (a published code book,
    legal ranges, a standard list of categories), never on a schema inferred from
    the private data: that would defeat the privacy guarantee.

    Example:
        >>> from sosie.schema import ColumnSpec
        >>> s = TableSchema([ColumnSpec("sex", "categorical", categories=["F", "M"])])
        >>> declare_public(s)["sex"].provenance["categories"].value
        'public'
    """
    names = set(schema.names if columns is None else columns)
    unknown = names - set(schema.names)
    if unknown:
        raise KeyError(f"no column(s) {sorted(unknown)} in the schema")
    cols = []
    for spec in schema:
        if spec.name in names:
            spec = dataclasses.replace(spec)
            spec.provenance = dict(spec.provenance)
            for f in spec.facts():
                if getattr(spec, f) is not None and f != "high_cardinality":
                    spec.provenance[f] = Provenance.PUBLIC
        cols.append(spec)
    return TableSchema(cols, schema.spec_version)
