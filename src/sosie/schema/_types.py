"""Schema data model: semantic types, column specs and the table schema (JSON round trip)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import Problem, SchemaError

__all__ = [
    "SPEC_VERSION",
    "ColumnSpec",
    "Provenance",
    "SemanticType",
    "TableSchema",
]

SPEC_VERSION = "1.0"
"""Version of the schema JSON format. Major changes are incompatible."""


class SemanticType(str, Enum):
    """What a column *means*, which decides how it is modelled and generated.

    Example:
        >>> SemanticType("numerical") is SemanticType.NUMERICAL
        True
    """

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ID = "id"
    TEXT = "text"
    PII = "pii"
    CONSTANT = "constant"

    def __str__(self) -> str:
        return self.value


class Provenance(str, Enum):
    """Where a schema fact comes from. DP generators refuse ``inferred`` facts.

    Example:
        >>> Provenance("user").value
        'user'
    """

    USER = "user"
    PUBLIC = "public"
    INFERRED = "inferred"

    def __str__(self) -> str:
        return self.value


PII_KINDS = (
    "email",
    "phone",
    "name",
    "first_name",
    "last_name",
    "address",
    "street_address",
    "ssn",
    "credit_card",
    "ipv4",
    "iban",
)

# Which facts each type uses (besides name/type/nullable/pandas_dtype/provenance/evidence).
_FACTS: dict[SemanticType, tuple[str, ...]] = {
    SemanticType.NUMERICAL: ("dtype", "min", "max", "decimals"),
    SemanticType.CATEGORICAL: ("categories", "high_cardinality"),
    SemanticType.BOOLEAN: ("true_value", "false_value"),
    SemanticType.DATETIME: ("datetime_format", "timezone", "resolution", "min", "max"),
    SemanticType.ID: ("id_format",),
    SemanticType.TEXT: ("locale",),
    SemanticType.PII: ("pii_kind", "locale"),
    SemanticType.CONSTANT: ("value",),
}

_ALL_FIELDS = (
    "name",
    "type",
    "nullable",
    "pandas_dtype",
    "dtype",
    "min",
    "max",
    "decimals",
    "categories",
    "high_cardinality",
    "true_value",
    "false_value",
    "datetime_format",
    "timezone",
    "resolution",
    "id_format",
    "pii_kind",
    "locale",
    "value",
    "provenance",
    "evidence",
)

RESOLUTIONS = ("D", "h", "m", "s", "ms", "us", "ns")


@dataclass
class ColumnSpec:
    """What sosie knows about one column.

    Facts that are ``None`` are learned from the data at fit time. Each fact's
    origin is recorded in ``provenance`` (``user``, ``public`` or ``inferred``).

    Attributes:
        name: the column name.
        type: the semantic type.
        nullable: whether missing values occur (their share is modelled).
        pandas_dtype: the dtype of the column in the source, restored on output.
        dtype: ``"int"`` or ``"float"`` for numerical columns.
        min: lower bound (numbers; datetimes as ISO strings).
        max: upper bound.
        decimals: number of decimals kept for floats (``None``: full precision).
        categories: the category values (categorical), in a stable order.
        high_cardinality: many distinct categories (informational).
        true_value: how ``True`` is written in the source (booleans).
        false_value: how ``False`` is written in the source.
        datetime_format: ``strftime`` format of strings/ints holding dates (``None``: native).
        timezone: timezone of datetimes (``"UTC"``, ``"+02:00"``, ``"Europe/Paris"``).
        resolution: smallest time step present (``D``, ``h``, ``m``, ``s``, ``ms``, ``us``, ``ns``).
        id_format: ``"int"``, ``"uuid"`` or a character template such as ``"CUST-{d6}"``.
        pii_kind: kind of personal data (``email``, ``phone``, ``name``, ``address``...).
        locale: Faker locale for PII and text (e.g. ``"en_US"``, ``"fr_FR"``).
        value: the single value of a constant column.
        provenance: fact name -> :class:`Provenance`.
        evidence: human-readable reasons for the inferred decisions.

    Example:
        >>> spec = ColumnSpec("age", SemanticType.NUMERICAL, dtype="int", min=17, max=90)
        >>> ColumnSpec.from_dict(spec.to_dict()) == spec
        True
    """

    name: str
    type: SemanticType
    nullable: bool = False
    pandas_dtype: str | None = None
    dtype: str | None = None
    min: Any = None
    max: Any = None
    decimals: int | None = None
    categories: list[Any] | None = None
    high_cardinality: bool = False
    true_value: Any = None
    false_value: Any = None
    datetime_format: str | None = None
    timezone: str | None = None
    resolution: str | None = None
    id_format: str | None = None
    pii_kind: str | None = None
    locale: str | None = None
    value: Any = None
    provenance: dict[str, Provenance] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.type, SemanticType):
            try:
                self.type = SemanticType(self.type)
            except ValueError:
                raise SchemaError(
                    Problem(
                        f"column {self.name!r}, field 'type'",
                        "one of " + ", ".join(t.value for t in SemanticType),
                        repr(self.type),
                        "use one of the listed semantic types",
                    )
                ) from None
        self.provenance = {k: Provenance(v) for k, v in (self.provenance or {}).items()}

    def facts(self) -> tuple[str, ...]:
        """Names of the facts that apply to this column's type.

        Example:
            >>> ColumnSpec("x", "categorical").facts()
            ('categories', 'high_cardinality')
        """
        return _FACTS[self.type]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: only the fields that matter for this type and are set.

        Example:
            >>> ColumnSpec("flag", "boolean").to_dict()
            {'name': 'flag', 'type': 'boolean', 'nullable': False}
        """
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "nullable": self.nullable,
        }
        if self.pandas_dtype is not None:
            out["pandas_dtype"] = self.pandas_dtype
        for f in self.facts():
            v = getattr(self, f)
            if v is None or (f == "high_cardinality" and not v):
                continue
            out[f] = _jsonable(v)
        if self.provenance:
            out["provenance"] = {k: v.value for k, v in sorted(self.provenance.items())}
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "schema") -> ColumnSpec:
        """Build a spec from :meth:`to_dict` output, checking field names.

        Example:
            >>> ColumnSpec.from_dict({"name": "n", "type": "numerical", "dtype": "int"}).dtype
            'int'
        """
        if not isinstance(d, Mapping):
            raise SchemaError(
                Problem(where, "a JSON object per column", type(d).__name__, "fix the schema file")
            )
        problems = []
        unknown = sorted(set(d) - set(_ALL_FIELDS))
        if unknown:
            problems.append(
                Problem(
                    f"{where}, column {d.get('name')!r}",
                    "known fields (" + ", ".join(_ALL_FIELDS) + ")",
                    "unknown field(s) " + ", ".join(map(repr, unknown)),
                    "remove or rename them",
                )
            )
        for req in ("name", "type"):
            if req not in d:
                problems.append(
                    Problem(
                        f"{where}, column {d.get('name')!r}",
                        f"a {req!r} field",
                        "none",
                        f"add {req!r} to the column entry",
                    )
                )
        if problems:
            raise SchemaError(problems)
        return cls(**{k: v for k, v in d.items() if k in _ALL_FIELDS})

    def replace(self, **changes: Any) -> ColumnSpec:
        """A copy with ``changes`` applied; changed facts are marked ``user`` provenance.

        Example:
            >>> s = ColumnSpec("age", "numerical", dtype="int").replace(min=0)
            >>> s.min, s.provenance["min"].value
            (0, 'user')
        """
        new = dataclasses.replace(self, **changes)
        new.provenance = dict(self.provenance)
        for k in changes:
            if k in _FACTS[new.type]:
                new.provenance[k] = Provenance.USER
        if "type" in changes and changes["type"] != self.type:
            # facts of the old type no longer apply; learn the new ones from the data
            for f in _FACTS[self.type]:
                if f not in _FACTS[new.type] and f not in changes:
                    setattr(new, f, None if f != "high_cardinality" else False)
                    new.provenance.pop(f, None)
            new.evidence = [*self.evidence, f"type set to {new.type.value} by the user"]
        return new


def _jsonable(v: Any) -> Any:
    """Convert numpy scalars and containers to plain JSON values."""
    if isinstance(v, Enum):
        return v.value
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


@dataclass
class TableSchema:
    """The schema of a table: an ordered list of :class:`ColumnSpec`.

    Round-trips through JSON (:meth:`to_json` / :meth:`from_json`) with a spec
    version; any column can be overridden with :meth:`update`.

    Example:
        >>> s = TableSchema([ColumnSpec("a", "numerical", dtype="float")])
        >>> TableSchema.from_json(s.to_json()) == s
        True
        >>> s.names
        ['a']
    """

    columns: list[ColumnSpec]
    spec_version: str = SPEC_VERSION
    #: exact rules of the table (:mod:`sosie.constraints`): discovered ones are ``inferred``
    constraints: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.constraints:
            from ..constraints import constraint_from_dict

            self.constraints = [
                constraint_from_dict(c, where=f"schema constraints[{i}]")
                for i, c in enumerate(self.constraints)
            ]
        seen: dict[str, int] = {}
        problems = []
        for i, c in enumerate(self.columns):
            if not isinstance(c.name, str) or c.name == "":
                problems.append(
                    Problem(
                        f"column at position {i}",
                        "a non-empty string name",
                        repr(c.name),
                        "rename the column",
                    )
                )
            elif c.name in seen:
                problems.append(
                    Problem(
                        f"column {c.name!r}",
                        "unique column names",
                        f"the name at positions {seen[c.name]} and {i}",
                        "rename one of them",
                    )
                )
            else:
                seen[c.name] = i
        if problems:
            raise SchemaError(problems)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def __iter__(self) -> Iterator[ColumnSpec]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __getitem__(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(_unknown_column_message(name, self.names))

    def update(self, name: str, **changes: Any) -> TableSchema:
        """A new schema where column ``name`` has ``changes`` (marked as user facts).

        Example:
            >>> s = TableSchema([ColumnSpec("zip", "numerical", dtype="int")])
            >>> s.update("zip", type="categorical")["zip"].type.value
            'categorical'
        """
        if name not in self:
            raise SchemaError(
                Problem(
                    f"column {name!r}",
                    "a column of the schema",
                    "no such column",
                    _unknown_column_message(name, self.names),
                )
            )
        return TableSchema(
            [c.replace(**changes) if c.name == name else c for c in self.columns],
            self.spec_version,
            list(self.constraints),
        )

    def without_inferred_facts(self) -> TableSchema:
        """A copy keeping types and user/public facts; inferred facts are learned again at fit.

        Use it to fit another generator of the same table on *other* rows (a shadow
        model, a later time slice) whose categories and ranges may differ.

        Example:
            >>> s = TableSchema([ColumnSpec("c", "categorical", categories=["a"])])
            >>> s.without_inferred_facts()["c"].categories is None
            True
        """
        cols = []
        for c in self.columns:
            kept = {
                f: getattr(c, f)
                for f in c.facts()
                if c.provenance.get(f) in (Provenance.USER, Provenance.PUBLIC)
            }
            cols.append(
                ColumnSpec(
                    c.name,
                    c.type,
                    pandas_dtype=c.pandas_dtype,
                    provenance={f: c.provenance[f] for f in kept},
                    evidence=list(c.evidence),
                    **kept,
                )
            )
        declared = [c for c in self.constraints if c.provenance in ("user", "public")]
        return TableSchema(cols, self.spec_version, declared)

    def select(self, names: list[str]) -> TableSchema:
        """The schema restricted to ``names`` (in that order), with the constraints among them."""
        keep = set(names)
        cons = [c for c in self.constraints if set(c.columns_used) <= keep]
        return TableSchema([self[n] for n in names], self.spec_version, cons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the spec version (and the constraints, when there are some)."""
        out: dict[str, Any] = {
            "spec_version": self.spec_version,
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.constraints:
            from ..constraints import constraint_from_dict

            out["constraints"] = [constraint_from_dict(c).to_dict() for c in self.constraints]
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int = 2) -> str:
        """Serialise to JSON; when ``path`` is given the file is written atomically.

        Example:
            >>> '"spec_version"' in TableSchema([ColumnSpec("a", "boolean")]).to_json()
            True
        """
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        if path is not None:
            from ..io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableSchema:
        """Build from :meth:`to_dict` output, checking the spec version."""
        if not isinstance(d, Mapping) or "columns" not in d:
            raise SchemaError(
                Problem(
                    "schema",
                    'a JSON object with "spec_version" and "columns"',
                    type(d).__name__ if not isinstance(d, Mapping) else "no 'columns' key",
                    "write the schema with TableSchema.to_json or `sosie inspect --schema-out`",
                )
            )
        version = str(d.get("spec_version", SPEC_VERSION))
        if version.split(".")[0] != SPEC_VERSION.split(".")[0]:
            raise SchemaError(
                Problem(
                    "schema field 'spec_version'",
                    f"version {SPEC_VERSION.split('.')[0]}.x",
                    repr(version),
                    "upgrade sosie or regenerate the schema with this version",
                )
            )
        cols = d["columns"]
        if not isinstance(cols, list):
            raise SchemaError(
                Problem("schema field 'columns'", "a list", type(cols).__name__, "fix the schema")
            )
        cons = d.get("constraints") or []
        if not isinstance(cons, list):
            raise SchemaError(
                Problem(
                    "schema field 'constraints'",
                    "a list of constraint objects",
                    type(cons).__name__,
                    "fix the schema",
                )
            )
        return cls(
            [ColumnSpec.from_dict(c, where=f"schema columns[{i}]") for i, c in enumerate(cols)],
            SPEC_VERSION,
            list(cons),
        )

    @classmethod
    def from_json(cls, source: str | Path) -> TableSchema:
        """Read a schema from a JSON string or a path to a JSON file.

        Example:
            >>> TableSchema.from_json('{"spec_version": "1.0", "columns": []}').names
            []
        """
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            p = Path(source)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as e:
                raise SchemaError(
                    Problem(
                        f"schema file {str(p.absolute())!r}",
                        "a readable JSON file",
                        e.strerror or str(e),
                        "check the path",
                    )
                ) from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(
                Problem(
                    f"schema JSON line {e.lineno} column {e.colno}",
                    "valid JSON",
                    e.msg,
                    "fix the JSON syntax",
                )
            ) from None
        return cls.from_dict(d)


def _unknown_column_message(name: object, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), names, n=3)
    hint = (
        f"did you mean {', '.join(map(repr, close))}?"
        if close
        else "known columns: "
        + ", ".join(map(repr, names[:20]))
        + (" ..." if len(names) > 20 else "")
    )
    return f"no column {name!r}; {hint}"
