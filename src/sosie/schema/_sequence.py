"""Sequence schemas: entities with static attributes and ordered, variable-length events.

Event data (transactions per customer, logs per host, readings per sensor, visits per
patient) is one long table with

* an **entity** column (``customer_id``): which sequence the row belongs to;
* an optional **time** column (``timestamp``, or a numeric order such as ``year``):
  the order of the events inside a sequence, possibly at irregular gaps;
* **static** columns: one value per entity, repeated on its rows (``segment``, ``birth_year``);
* **event** columns: everything that changes from one event to the next.

:func:`infer_sequence_schema` finds the static columns (constant within every entity)
when they are not given; :func:`validate_sequences` checks data against a schema and
raises one :class:`~sosie.errors.InvalidDataError` listing every problem;
:func:`split_sequences` returns the per-entity table and the ordered events.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "customer": ["a", "a", "b", "b", "b"],
    ...     "segment": ["gold", "gold", "basic", "basic", "basic"],
    ...     "when": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-05",
    ...                              "2024-01-03", "2024-01-09"]),
    ...     "amount": [5.0, 7.5, 1.0, 2.0, 3.0],
    ... })
    >>> s = infer_sequence_schema(df, entity="customer", time="when")
    >>> s.static, s.events, s.time_kind
    (['segment'], ['amount'], 'datetime')
    >>> entities, events = split_sequences(df, s)
    >>> entities["segment"].tolist(), events["amount"].tolist()
    (['gold', 'basic'], [7.5, 5.0, 2.0, 1.0, 3.0])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidDataError, Problem, SchemaError
from ._infer import check_frame, infer_schema
from ._types import SPEC_VERSION, SemanticType, TableSchema
from ._validate import coerce_column

__all__ = [
    "SequenceSchema",
    "infer_sequence_schema",
    "split_sequences",
    "validate_sequences",
]

_TIME_TYPES = (SemanticType.DATETIME, SemanticType.NUMERICAL)


@dataclass
class SequenceSchema:
    """Which column is the entity, which orders the events, which are static.

    Attributes:
        entity: the column naming the sequence each row belongs to.
        time: the column ordering the events (datetime or numeric), or ``None`` when the
            row order inside each entity is the order.
        static: columns with one value per entity.
        events: columns that change from event to event.
        table: the :class:`TableSchema` of every column (entity first).

    Example:
        >>> from sosie.schema import ColumnSpec, TableSchema
        >>> t = TableSchema([ColumnSpec("id", "id", id_format="int"),
        ...                  ColumnSpec("t", "numerical", dtype="int"),
        ...                  ColumnSpec("x", "numerical", dtype="float")])
        >>> s = SequenceSchema(entity="id", time="t", static=[], events=["x"], table=t)
        >>> SequenceSchema.from_json(s.to_json()) == s
        True
    """

    entity: str
    time: str | None
    static: list[str]
    events: list[str]
    table: TableSchema
    spec_version: str = field(default=SPEC_VERSION)

    def __post_init__(self) -> None:
        problems = []
        roles = [self.entity, *([self.time] if self.time else []), *self.static, *self.events]
        for name in roles:
            if name not in self.table:
                problems.append(
                    Problem(
                        f"sequence schema column {name!r}",
                        "a column of the table schema",
                        "no such column",
                        "add it to the table schema or remove it from the sequence roles",
                    )
                )
        dup = sorted({n for n in roles if roles.count(n) > 1})
        if dup:
            problems.append(
                Problem(
                    "sequence schema roles",
                    "each column in one role (entity, time, static or event)",
                    f"{', '.join(map(repr, dup))} in two roles",
                    "list each column once",
                )
            )
        if self.time is not None and self.time in self.table:
            t = self.table[self.time].type
            if t not in _TIME_TYPES:
                problems.append(
                    Problem(
                        f"time column {self.time!r}",
                        "a datetime or numeric column",
                        f"a {t.value} column",
                        "pass time=None to keep the row order, or convert the column",
                    )
                )
        if problems:
            raise SchemaError(problems)

    @property
    def time_kind(self) -> str | None:
        """``"datetime"``, ``"numeric"`` or ``None`` (no time column: row order)."""
        if self.time is None:
            return None
        return "datetime" if self.table[self.time].type is SemanticType.DATETIME else "numeric"

    @property
    def columns(self) -> list[str]:
        """Every column in output order: entity, time, static, events."""
        return [self.entity, *([self.time] if self.time else []), *self.static, *self.events]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the table schema nested)."""
        return {
            "spec_version": self.spec_version,
            "entity": self.entity,
            "time": self.time,
            "static": list(self.static),
            "events": list(self.events),
            "table": self.table.to_dict(),
        }

    def to_json(self, path: str | Path | None = None, *, indent: int = 2) -> str:
        """Serialise to JSON; written atomically when ``path`` is given."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        if path is not None:
            from ..io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SequenceSchema:
        """Build from :meth:`to_dict` output."""
        missing = [k for k in ("entity", "static", "events", "table") if k not in d]
        if missing:
            raise SchemaError(
                Problem(
                    "sequence schema",
                    "keys entity, time, static, events and table",
                    f"no {', '.join(map(repr, missing))}",
                    "write the schema with SequenceSchema.to_json",
                )
            )
        return cls(
            entity=d["entity"],
            time=d.get("time"),
            static=list(d["static"]),
            events=list(d["events"]),
            table=TableSchema.from_dict(d["table"]),
        )

    @classmethod
    def from_json(cls, source: str | Path) -> SequenceSchema:
        """Read from a JSON string or a path to a JSON file."""
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as e:
                raise SchemaError(
                    Problem(
                        f"sequence schema file {str(source)!r}",
                        "a readable JSON file",
                        e.strerror or str(e),
                        "check the path",
                    )
                ) from None
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise SchemaError(
                Problem(
                    f"sequence schema JSON line {e.lineno}",
                    "valid JSON",
                    e.msg,
                    "fix the JSON syntax",
                )
            ) from None


def _role_problems(data: pd.DataFrame, entity: Any, time: Any, given: Sequence[str]) -> list:
    problems = []
    names = list(map(str, data.columns))
    for role, name in (("entity", entity), ("time", time)):
        if name is None and role == "time":
            continue
        if not isinstance(name, str) or name not in data.columns:
            problems.append(
                Problem(
                    f"{role} column {name!r}",
                    "a column of the data",
                    "no such column",
                    f"pass {role}= one of " + ", ".join(map(repr, names[:20])),
                )
            )
    for name in given:
        if name not in data.columns:
            problems.append(
                Problem(
                    f"static column {name!r}",
                    "a column of the data",
                    "no such column",
                    "check the spelling; columns are " + ", ".join(map(repr, names[:20])),
                )
            )
    if isinstance(entity, str) and entity in data.columns and data[entity].isna().any():
        n = int(data[entity].isna().sum())
        problems.append(
            Problem(
                f"entity column {entity!r}",
                "an entity on every row",
                f"{n} missing value(s)",
                "drop those rows or fill the entity key",
            )
        )
    if entity is not None and entity == time:
        problems.append(
            Problem("time column", "a column other than the entity", repr(time), "pick another")
        )
    return problems


def _varying_static(data: pd.DataFrame, entity: str, cols: Sequence[str]) -> list[Problem]:
    """Problems for static columns whose value changes within an entity."""
    if not cols:
        return []
    counts = data.groupby(entity, sort=False, dropna=False)[list(cols)].nunique(dropna=False)
    problems = []
    for c in cols:
        bad = counts.index[counts[c].to_numpy() > 1]
        if len(bad):
            problems.append(
                Problem(
                    f"static column {c!r}",
                    "one value per entity",
                    f"{len(bad)} entities with several values (e.g. {bad[0]!r})",
                    "treat it as an event column (leave it out of static=)",
                )
            )
    return problems


def infer_sequence_schema(
    data: pd.DataFrame,
    *,
    entity: str,
    time: str | None = None,
    static: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> SequenceSchema:
    """Infer the schema of an event table.

    Args:
        data: one row per event.
        entity: the column naming each row's sequence.
        time: the column ordering events (datetime or numeric); ``None`` keeps the row order.
        static: the per-entity columns; ``None`` takes every column that is constant
            within every entity.
        overrides: per-column facts, as in :func:`~sosie.schema.infer_schema`.

    Raises:
        InvalidDataError: naming a missing role column, null entities, a time column that
            is not a date or a number, or a static column that varies within an entity.

    Example:
        >>> df = pd.DataFrame({"host": [1, 1, 2], "t": [0.0, 1.5, 0.2], "bytes": [10, 20, 5]})
        >>> s = infer_sequence_schema(df, entity="host", time="t")
        >>> s.table["host"].type.value, s.static, s.events
        ('id', [], ['bytes'])
    """
    problems = check_frame(data)
    if not problems:
        problems = _role_problems(data, entity, time, static or [])
    if problems:
        raise InvalidDataError(problems)
    overrides = dict(overrides or {})
    overrides.setdefault(entity, {"type": "id"})
    table = infer_schema(data, overrides=overrides)
    if time is not None and table[time].type not in _TIME_TYPES:
        raise InvalidDataError(
            Problem(
                f"time column {time!r}",
                "dates or numbers (the order of the events)",
                f"a {table[time].type.value} column, e.g. {data[time].dropna().iloc[0]!r}",
                "convert it to datetimes or numbers, or pass time=None to keep the row order",
            )
        )
    rest = [c for c in data.columns if c not in (entity, time)]
    if static is None:
        counts = data.groupby(entity, sort=False, dropna=False)[rest].nunique(dropna=False)
        multi = (data.groupby(entity, sort=False).size() > 1).any()
        static = [c for c in rest if multi and int(counts[c].max()) <= 1]
    else:
        static = list(static)
        varying = _varying_static(data, entity, static)
        if varying:
            raise InvalidDataError(varying)
    events = [c for c in rest if c not in static]
    order = [entity, *([time] if time else []), *static, *events]
    return SequenceSchema(
        entity=entity, time=time, static=static, events=events, table=table.select(order)
    )


def validate_sequences(data: pd.DataFrame, schema: SequenceSchema) -> None:
    """Check an event table against a sequence schema; raise once listing every problem.

    Raises:
        InvalidDataError: a role column is missing, an entity is null, a time value cannot be
            read, or a static column varies within an entity.

    Example:
        >>> df = pd.DataFrame({"id": [1, 1], "kind": ["a", "b"], "x": [1.0, 2.0]})
        >>> s = infer_sequence_schema(df, entity="id", static=[])
        >>> validate_sequences(df, s)
        >>> s.static.append("kind")
        >>> validate_sequences(df, s)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sosie.errors.InvalidDataError: ...static column 'kind': expected one value per entity...
    """
    problems = check_frame(data)
    if not problems:
        problems = _role_problems(data, schema.entity, schema.time, schema.static)
    for c in schema.events:
        if c not in data.columns:
            problems.append(
                Problem(
                    f"event column {c!r}",
                    "a column of the data",
                    "no such column",
                    "pass data with the columns the model was fitted on",
                )
            )
    if problems:
        raise InvalidDataError(problems)
    if schema.time is not None:
        _, bad = coerce_column(data[schema.time], schema.table[schema.time])
        problems.extend(bad)
        if data[schema.time].isna().any():
            problems.append(
                Problem(
                    f"time column {schema.time!r}",
                    "a time on every event",
                    f"{int(data[schema.time].isna().sum())} missing value(s)",
                    "drop or fill those rows",
                )
            )
    problems.extend(_varying_static(data, schema.entity, schema.static))
    if problems:
        raise InvalidDataError(problems)


def split_sequences(
    data: pd.DataFrame, schema: SequenceSchema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-entity table and the events sorted by entity then time.

    Entities keep the order of their first appearance; ties in time keep the row order
    (a stable sort). Returns ``(entities, events)``: ``entities`` has the entity and static
    columns, one row per entity; ``events`` has every column, sorted.

    Example:
        >>> df = pd.DataFrame({"id": [2, 1, 2], "t": [5, 1, 3], "x": [0.5, 0.1, 0.3]})
        >>> s = infer_sequence_schema(df, entity="id", time="t")
        >>> ents, evs = split_sequences(df, s)
        >>> ents["id"].tolist(), evs["x"].tolist()
        ([2, 1], [0.3, 0.5, 0.1])
    """
    ent = schema.entity
    first = pd.Series(np.arange(len(data)), index=data.index).groupby(
        data[ent].to_numpy(), sort=False
    )
    order_of = {k: i for i, k in enumerate(first.first().index)}
    key = data[ent].map(order_of).to_numpy()
    if schema.time is not None:
        t = data[schema.time]
        if schema.time_kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(t):
            t, _ = coerce_column(t, schema.table[schema.time])
        tkey = pd.Series(t).rank(method="first").to_numpy()
        idx = np.lexsort((np.arange(len(data)), tkey, key))
    else:
        idx = np.lexsort((np.arange(len(data)), key))
    events = data.iloc[idx][schema.columns].reset_index(drop=True)
    entities = events.drop_duplicates(subset=[ent], keep="first")[
        [ent, *schema.static]
    ].reset_index(drop=True)
    return entities, events
