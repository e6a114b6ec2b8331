"""The rule-based spec: a YAML/JSON description of a table, loaded and validated.

A spec describes a table without any training data. Each entry of ``columns`` is
one of three kinds, evaluated **in the order written** (a column may only use the
columns above it; a forward reference is an error that says which column to move):

* drawn: ``distribution: <name>`` plus its parameters;
* derived: ``expr: "<expression over earlier columns>"`` (or a lookup table);
* label: ``label: "<boolean expression>"`` plus an optional ``noise`` rate (the
  share of labels flipped at random).

``rules`` lists business rules (``check``, optionally ``when``). They are enforced
by construction where the engine can (a bound such as ``amount > 0`` truncates the
distribution, ``amount % 20 == 0`` rounds to the grid, also under a ``when``), and
every rule is checked on every row; rows that break one are redrawn in a bounded
number of rounds (``max_rounds``), after which the engine raises (or warns) saying
how many rows it could make and which rule failed.

A short example::

    name: shop
    columns:
      customer:  {distribution: entity, count: 500, format: "C{:05d}"}
      segment:   {distribution: categorical, per: customer,
                  categories: {basic: 0.8, premium: 0.2}}
      amount:
        distribution: lognormal
        mu: {by: segment, values: {basic: 3.0, premium: 4.5}}
        sigma: 0.7
        decimals: 2
      fee:       {expr: "round(amount * 0.02, 2)"}
      big:       {label: "amount > 200", noise: 0.01}
    rules:
      - check: "amount > 1"
      - {when: "segment == 'basic'", check: "amount <= 500"}

Distributions (parameters in brackets; numeric parameters accept a number, an
expression string over earlier columns, or a lookup ``{by: col, values: {...},
default: x}``):

* ``normal`` (mean, std), ``lognormal`` (mu, sigma of the log), ``exponential``
  (rate or scale), ``gamma`` (shape, scale), ``beta`` (a, b), ``poisson`` (lam),
  ``uniform`` (low, high), ``integer`` (low, high, inclusive), ``bernoulli`` (p);
  numeric ones also take ``min``/``max`` (truncation; ``bounds: clip`` clips
  instead), ``decimals``, ``round_to`` (a grid) and ``dtype`` (int or float);
* ``categorical`` (``categories`` as a list with ``weights``, or a mapping
  value -> weight; ``weights`` may be a lookup giving one weight list per value of
  an earlier column);
* ``faker`` (``provider``, ``locale``, ``args``, ``pool_size``, ``unique``): see
  :func:`sosie.generators.rules._engine.generate` for the pool trade-off;
* ``datetime`` (``start``, ``end``, ``tz``, ``hour_weights`` (24),
  ``weekday_weights`` (7, Monday first), ``resolution``);
* ``event_time`` (``start``, ``rate`` or ``scale`` of the exponential gaps in
  ``unit``, ``by`` an entity column, ``tz``, ``resolution``): a Poisson process
  per group: each group's times are the cumulative sum of its own gaps;
* ``sequence`` (``start``, ``step``, ``by``, ``format``): counters numbered in the
  final row order (so nothing can refer to them);
* ``entity`` (``count``, ``format``, ``skew``, ``weights``, ``start``): ids of
  ``count`` entities (customers, hosts); ``skew`` > 0 makes some entities more
  active, or ``weights: <column>`` names a numeric column drawn ``per`` this
  entity (it may be defined below: the only forward reference allowed) whose
  values weight each entity's share of the rows;
* ``uuid``: random UUID4 strings.

Every column also takes ``per: <entity or categorical column>`` (draw one value
per entity and repeat it on the entity's rows), ``hidden: true`` (a helper,
dropped from the output), ``null_rate`` (share of values blanked at the end),
``semantic_type`` (override the type reported by :func:`spec_columns_summary`)
and ``description``.

Injected patterns (``inject``): a list of temporal patterns, each making
*episodes*: several rows of one entity that belong together in time (a burst of
card-testing payments, a port scan, beaconing). An episode's rows are made like
the entity's other rows, in spec order, with these differences: the entity column
is the episode's entity (so every ``per``-entity attribute is the entity's own),
the time column holds the episode's times, the columns under ``set`` are replaced,
and the columns under ``label`` are set. Everything computed from a replaced
column is computed from the new value (a lookup, an ``expr`` such as
``hour(timestamp) < 6``, a distribution whose parameters use it, a label rule).
The rows of all episodes count towards ``n_rows`` and are sorted with the others
(``order_by`` defaults to ``[entity, time]`` of the first pattern). Keys:

* ``name`` (unique; default ``pattern<i>``) and ``description``;
* ``entity``: an ``entity`` column; ``time``: a ``datetime`` or ``event_time``
  column (either may be left out when the spec has only one such column);
* how many episodes: ``entities`` (the share of the entity column's ``count`` that
  gets episodes, e.g. ``0.01``; exactly that many entities, picked at random) with
  ``episodes`` (episodes per picked entity, default 1), **or** ``rate`` (expected
  episodes per output row; each picks an entity in proportion to its activity);
* ``events``: rows per episode, an integer or a numeric distribution
  (``{distribution: integer, low: 3, high: 10}``, ``{distribution: poisson, lam: 5,
  min: 2}``); values below 1 count as 1;
* ``gap``: time between consecutive events: a number (the mean of exponential gaps,
  in seconds), or ``{scale: 30, unit: s}`` (exponential gaps, ``rate`` works too),
  or any numeric distribution with a ``unit``, e.g. near-periodic gaps
  ``{distribution: normal, mean: 300, std: 3, min: 0, unit: s}`` (default:
  exponential, mean 60 s; negative gaps count as 0);
* ``at``: where the first event falls: ``within: entity`` (default: uniformly
  between the entity's first and last ordinary row; the whole table's span for an
  entity with fewer than two) or ``within: table``; ``hours: [a, b]`` moves the start
  to a random time between ``a`` and ``b`` o'clock (local time of the column's
  ``tz``; ``[22, 4]`` wraps past midnight) on the same day. Episodes on a
  ``datetime`` column are shifted back so they end before its ``end``; the time
  column's own shape (``hour_weights``, the entity's rate) does not apply to them;
* ``set``: ``column: value`` for drawn or derived columns: a constant (checked
  against the column's kind, categories and bounds) or a distribution mapping
  (any of ``normal`` ... ``uuid`` except ``entity``, ``sequence``,
  ``event_time``; parameters may use columns above the one set); a numeric
  distribution inherits the column's ``min``/``max``/``bounds``/``decimals`` unless
  it gives its own; ``per: episode`` draws one value per episode (one target IP
  per port scan). The entity column, per-entity attributes, label columns, the
  time column and sequences cannot be set;
* ``label``: ``column: constant`` for label or derived columns of the spec
  (``is_fraud: true``), or a **new** column (``fraud_pattern: burst``), added to the
  output after the spec's columns with a default on the other rows: ``false``,
  ``"none"`` or ``0`` by the value's kind, or ``{value: burst, default: normal}``;
  patterns may share a new column (same kind, one default);
* ``skip_rules``: rule names (or ``all``) that do not apply to the pattern's rows.
  Every other rule holds on them too: a numeric ``set`` distribution is truncated by
  the same bounds, and an episode breaking a rule is made again as a whole
  (``max_rounds`` times at most; then the error names the pattern and the rule, or
  with ``on_failure: warn`` a warning says so and those episodes are left out);
* ``max_share`` (default 0.05): the largest share of the output rows the pattern's
  episodes may take. In a small table the episodes that do not fit are left out
  (whole episodes, picked at random), so fewer entities than ``entities`` asks for
  get one.

With ``conditions``, a pattern whose ``set``/``label`` values cannot match a
condition (or whose time column is conditioned) is left out; otherwise its rows
obey the conditions too (a condition on the entity column keeps that entity's
episodes only). A label that only patterns set cannot be conditioned on.

Example of a pattern::

    inject:
      - name: card_testing
        entity: customer
        time: timestamp
        entities: 0.01
        events: {distribution: integer, low: 3, high: 10}
        gap: {scale: 3, unit: min}
        set:
          merchant: online_shop
          amount: {distribution: uniform, low: 1, high: 5, decimals: 2}
        label: {is_fraud: true, fraud_pattern: burst}

Top-level keys: ``name``, ``description``, ``locale`` (default Faker locale),
``columns`` (required), ``rules``, ``inject``, ``order_by`` (list of columns to
sort the output by), ``max_rounds`` (default 25) and ``on_failure`` (``raise`` or
``warn``).
"""

from __future__ import annotations

import ast
import copy
import datetime as _dt
import difflib
import json
import keyword
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ...errors import Problem, SpecError
from ._expr import Expr, parse_expression

__all__ = [
    "DISTRIBUTIONS",
    "ColumnDef",
    "ColumnSummary",
    "Draw",
    "InjectDef",
    "Param",
    "RuleDef",
    "RuleSpec",
    "example_path",
    "load_spec",
    "spec_columns_summary",
]

# -- vocabulary ----------------------------------------------------------------------------
_NUMERIC_DRAWN = (
    "normal",
    "lognormal",
    "exponential",
    "gamma",
    "beta",
    "poisson",
    "uniform",
    "integer",
)
#: distribution -> (required params, optional params, other allowed keys)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "normal": (("mean", "std"), (), ()),
    "lognormal": (("mu", "sigma"), (), ()),
    "exponential": ((), ("rate", "scale"), ()),
    "gamma": (("shape", "scale"), (), ()),
    "beta": (("a", "b"), (), ()),
    "poisson": (("lam",), (), ()),
    "uniform": (("low", "high"), (), ()),
    "integer": (("low", "high"), (), ()),
    "bernoulli": (("p",), (), ()),
    "categorical": ((), (), ("categories", "weights")),
    "faker": ((), (), ("provider", "locale", "args", "pool_size", "unique")),
    "datetime": ((), (), ("start", "end", "tz", "hour_weights", "weekday_weights", "resolution")),
    "event_time": ((), ("rate", "scale"), ("start", "unit", "by", "tz", "resolution")),
    "sequence": ((), (), ("start", "step", "by", "format")),
    "entity": ((), (), ("count", "format", "skew", "start", "weights")),
    "uuid": ((), (), ()),
}
_NUMERIC_KEYS = ("min", "max", "bounds", "decimals", "round_to", "dtype")
_COMMON_KEYS = ("per", "hidden", "null_rate", "semantic_type", "description")
_TOP_KEYS = (
    "name",
    "description",
    "locale",
    "columns",
    "rules",
    "constraints",
    "order_by",
    "max_rounds",
    "on_failure",
    "inject",
)
_RULE_KEYS = ("name", "check", "when", "description")
_INJECT_KEYS = (
    "name",
    "description",
    "entity",
    "time",
    "entities",
    "rate",
    "episodes",
    "events",
    "gap",
    "at",
    "set",
    "label",
    "skip_rules",
    "max_share",
)
#: distributions a pattern's ``set`` may draw from
_SET_DISTRIBUTIONS = (*_NUMERIC_DRAWN, "bernoulli", "categorical", "faker", "datetime", "uuid")
DEFAULT_MAX_SHARE = 0.05
SEMANTIC_TYPES = (
    "numerical",
    "categorical",
    "boolean",
    "datetime",
    "id",
    "pii",
    "text",
    "constant",
)
#: accepted resolution spellings -> pandas frequency
RESOLUTIONS = {
    "D": "D",
    "h": "h",
    "m": "min",
    "min": "min",
    "s": "s",
    "ms": "ms",
    "us": "us",
    "ns": "ns",
}
#: event-time units -> nanoseconds
UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "D": 86_400_000_000_000,
}
_PII_PROVIDERS = {
    "name": "name",
    "name_female": "name",
    "name_male": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "free_email": "email",
    "company_email": "email",
    "safe_email": "email",
    "phone_number": "phone",
    "msisdn": "phone",
    "address": "address",
    "street_address": "street_address",
    "ssn": "ssn",
    "credit_card_number": "credit_card",
    "ipv4": "ipv4",
    "ipv4_private": "ipv4",
    "ipv4_public": "ipv4",
    "iban": "iban",
}
_TEXT_PROVIDERS = ("text", "sentence", "sentences", "paragraph", "paragraphs", "texts", "word")
DEFAULT_MAX_ROUNDS = 25
DEFAULT_POOL_SIZE = 10_000


# -- data model ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A distribution parameter: a literal, an expression, or a lookup table.

    Attributes:
        value: the literal value (a number, or a list of weights).
        expr: the expression, when the parameter is computed per row.
        by: the column whose value selects the entry of ``table`` (lookups).
        table: lookup table: value of ``by`` -> parameter value.
        default: the value for rows whose ``by`` value is not in ``table``.
        has_default: whether ``default`` was given.

    Example:
        >>> Param(value=2.0).is_literal
        True
        >>> sorted(Param(by="kind", table={"a": 1.0}).names)
        ['kind']
    """

    value: Any = None
    expr: Expr | None = None
    by: str | None = None
    table: dict[Any, Any] | None = None
    default: Any = None
    has_default: bool = False

    @property
    def is_literal(self) -> bool:
        """Whether the parameter is a plain value (no expression, no lookup)."""
        return self.expr is None and self.by is None

    @property
    def names(self) -> frozenset[str]:
        """The columns this parameter reads."""
        if self.expr is not None:
            return self.expr.names
        if self.by is not None:
            return frozenset({self.by})
        return frozenset()

    def literal_values(self) -> list[Any]:
        """Every literal value it can take (the value, or the table's values and default).

        Example:
            >>> Param(by="k", table={"a": 1, "b": 2}, default=0, has_default=True).literal_values()
            [1, 2, 0]
        """
        if self.expr is not None:
            return []
        if self.by is not None:
            vals = list((self.table or {}).values())
            return [*vals, self.default] if self.has_default else vals
        return [self.value]


@dataclass(frozen=True)
class _Construct:
    """A rule the engine enforces by construction while drawing a column."""

    rule: int  # index in RuleSpec.rules
    when: Expr | None
    lo: float | None = None
    hi: float | None = None
    lo_strict: bool = False
    hi_strict: bool = False
    grid: float | None = None


@dataclass
class ColumnDef:
    """One validated column of a :class:`RuleSpec`.

    Attributes:
        name: the column name.
        kind: ``"draw"``, ``"expr"`` or ``"label"``.
        path: the field path in the spec (``"columns.amount"``).
        distribution: the distribution name (drawn columns).
        params: numeric parameters (drawn columns).
        options: other distribution settings (categories, provider, start...).
        expr: the expression or lookup of a derived column.
        label: the boolean expression of a label column.
        noise: share of labels flipped at random.
        per: the entity/categorical column this column is drawn once per value of.
        by: the grouping column of ``event_time``/``sequence`` columns.
        value_kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"datetime"``
            or ``"unknown"``.
        min: lower bound (numeric drawn columns).
        max: upper bound.
        bounds: ``"truncate"`` or ``"clip"``.
        decimals: decimals kept.
        round_to: grid step (a :class:`Param`).
        null_rate: share of values blanked at the end.
        hidden: dropped from the output.
        semantic_type: user override of the semantic type.
        description: free text.
        stage: 1 (row-level), 2 (depends on an event_time column) or 3 (sequence).
        constructive: rules enforced while drawing this column.
        null_when: blank the column where this holds (a ``null_iff`` constraint).

    Example:
        >>> spec = load_spec({"columns": {"x": {"distribution": "normal", "mean": 0, "std": 1}}})
        >>> spec.columns[0].kind, spec.columns[0].value_kind
        ('draw', 'float')
    """

    name: str
    kind: str
    path: str
    distribution: str | None = None
    params: dict[str, Param] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    expr: Param | None = None
    label: Expr | None = None
    noise: float = 0.0
    per: str | None = None
    by: str | None = None
    value_kind: str = "unknown"
    min: float | None = None
    max: float | None = None
    bounds: str = "truncate"
    decimals: int | None = None
    round_to: Param | None = None
    null_rate: float = 0.0
    hidden: bool = False
    semantic_type: str | None = None
    description: str | None = None
    stage: int = 1
    constructive: list[_Construct] = field(default_factory=list)
    null_when: Expr | None = None

    def references(self) -> frozenset[str]:
        """Every column this column reads (parameters, expressions, lookups, per, by).

        Example:
            >>> spec = load_spec({"columns": {"x": {"distribution": "normal", "mean": 0,
            ...     "std": 1}, "y": {"expr": "x * 2"}}})
            >>> sorted(spec.column("y").references())
            ['x']
        """
        out: set[str] = set()
        for p in self.params.values():
            out |= p.names
        if self.round_to is not None:
            out |= self.round_to.names
        if self.expr is not None:
            out |= self.expr.names
        if self.label is not None:
            out |= self.label.names
        w = self.options.get("weights")
        if isinstance(w, Param):
            out |= w.names
        if self.per:
            out.add(self.per)
        if self.by and self.distribution != "sequence":
            out.add(self.by)
        return frozenset(out)


@dataclass
class RuleDef:
    """One business rule: ``check`` must hold on every row where ``when`` holds.

    Attributes:
        name: the rule name (defaults to the check text).
        check: the boolean expression that must hold.
        when: optional condition restricting the rows the rule applies to.
        path: field path in the spec (``"rules[0]"``).
        description: free text.
        stage: 1 (row-level) or 2 (reads an event_time column).

    Example:
        >>> spec = load_spec({"columns": {"x": {"distribution": "normal", "mean": 0,
        ...     "std": 1}}, "rules": ["x > -3"]})
        >>> spec.rules[0].name
        'x > -3'
    """

    name: str
    check: Expr
    when: Expr | None
    path: str
    description: str | None = None
    stage: int = 1

    @property
    def names(self) -> frozenset[str]:
        """The columns the rule reads."""
        return self.check.names | (self.when.names if self.when is not None else frozenset())


@dataclass
class Draw:
    """A value of an injected pattern: a constant, or a draw from a distribution.

    Attributes:
        value: the constant (when ``column`` is None).
        column: the distribution, as a drawn :class:`ColumnDef` (named after the
            column it sets, or ``events``/``episodes``/``gap``).
        per_episode: draw once per episode and repeat it on the episode's rows.

    Example:
        >>> Draw(value="online").is_constant
        True
    """

    value: Any = None
    column: ColumnDef | None = None
    per_episode: bool = False

    @property
    def is_constant(self) -> bool:
        """Whether this is a constant (no distribution)."""
        return self.column is None


@dataclass
class InjectDef:
    """One injected temporal pattern (an entry of the spec's ``inject`` list).

    Attributes:
        name: the pattern name.
        path: field path in the spec (``"inject[0]"``).
        entity: the entity column whose entities get episodes.
        time: the datetime/event_time column the episode's events are placed on.
        entities: share of the entities that get episodes (or None, see ``rate``).
        rate: expected episodes per output row (or None, see ``entities``).
        episodes: episodes per affected entity (with ``entities``).
        events: events (rows) per episode, at least 1.
        gap: time between consecutive events of an episode, in ``gap_unit``.
        gap_unit: unit of ``gap`` (a key of ``UNITS``).
        hours: optional window ``(start, end)`` of local hours the episode starts in.
        within: ``"entity"`` (the entity's own time span) or ``"table"``.
        assign: column -> value set on the episode's rows (``set`` and ``label``).
        labels: the columns of ``assign`` that came from ``label``.
        skip_rules: names of the rules not enforced on the episode's rows.
        max_share: the largest share of the output rows this pattern may take.
        description: free text.

    Example:
        >>> spec = load_spec({"columns": {
        ...     "user": {"distribution": "entity", "count": 10},
        ...     "t": {"distribution": "datetime", "start": "2024-01-01", "end": "2024-02-01"}},
        ...     "inject": [{"name": "burst", "entities": 0.2, "events": 3,
        ...                 "label": {"kind": "burst"}}]})
        >>> p = spec.inject[0]
        >>> p.entity, p.time, p.events.value, p.assign["kind"].value
        ('user', 't', 3, 'burst')
        >>> spec.output_columns
        ['user', 't', 'kind']
    """

    name: str
    path: str
    entity: str
    time: str
    entities: float | None = None
    rate: float | None = None
    episodes: Draw = field(default_factory=lambda: Draw(value=1))
    events: Draw = field(default_factory=lambda: Draw(value=1))
    gap: Draw = field(default_factory=lambda: Draw(value=60.0))
    gap_unit: str = "s"
    hours: tuple[float, float] | None = None
    within: str = "entity"
    assign: dict[str, Draw] = field(default_factory=dict)
    labels: frozenset[str] = frozenset()
    skip_rules: frozenset[str] = frozenset()
    max_share: float = DEFAULT_MAX_SHARE
    description: str | None = None


@dataclass
class RuleSpec:
    """A validated rule-based spec; build it with :func:`load_spec`.

    Attributes:
        columns: the columns, in evaluation order.
        rules: the business rules (with those the ``constraints`` translate to).
        constraints: the declared constraints (:mod:`sosie.constraints` vocabulary).
        name: the spec name.
        description: free text.
        locale: default Faker locale.
        order_by: columns to sort the output by.
        inject: the injected temporal patterns (see the module docs).
        max_rounds: resampling rounds for rows that break a rule.
        on_failure: ``"raise"`` (SpecError) or ``"warn"`` (return fewer rows).
        source: the file name the spec came from, if any.
        lines: field path -> line number in the source text.
        raw: the spec as parsed (a plain dict).

    Example:
        >>> spec = load_spec("columns:\\n  x: {distribution: uniform, low: 0, high: 1}\\n")
        >>> spec.output_columns
        ['x']
        >>> spec.where("columns.x")
        'line 2, columns.x'
    """

    columns: list[ColumnDef]
    rules: list[RuleDef] = field(default_factory=list)
    constraints: list[Any] = field(default_factory=list)
    name: str = "spec"
    description: str | None = None
    locale: str = "en_US"
    order_by: list[str] = field(default_factory=list)
    inject: list[InjectDef] = field(default_factory=list)
    max_rounds: int = DEFAULT_MAX_ROUNDS
    on_failure: str = "raise"
    source: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> ColumnDef:
        """The column called ``name``.

        Example:
            >>> load_spec({"columns": {"u": {"distribution": "uuid"}}}).column("u").distribution
            'uuid'
        """
        for c in self.columns:
            if c.name == name:
                return c
        close = difflib.get_close_matches(name, [c.name for c in self.columns], n=3)
        raise KeyError(
            f"no column {name!r} in the spec"
            + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
        )

    @property
    def output_columns(self) -> list[str]:
        """Names of the columns in the output (hidden helpers left out), in order.

        Example:
            >>> load_spec({"columns": {"a": {"distribution": "uuid", "hidden": True},
            ...                        "b": {"expr": "a"}}}).output_columns
            ['b']
        """
        return [c.name for c in self.columns if not c.hidden]

    def where(self, path: str) -> str:
        """Describe a field path with its file and line where known.

        Example:
            >>> load_spec({"columns": {"x": {"distribution": "uuid"}}}).where("columns.x")
            'columns.x'
        """
        return _where(self.source, self.lines, path)

    def summary(self) -> list[ColumnSummary]:
        """Shortcut for :func:`spec_columns_summary`.

        Example:
            >>> load_spec({"columns": {"u": {"distribution": "uuid"}}}).summary()[0].semantic_type
            'id'
        """
        return spec_columns_summary(self)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict (dates as ISO strings); ``load_spec`` reads it back.

        Example:
            >>> s = load_spec({"columns": {"u": {"distribution": "uuid"}}})
            >>> load_spec(s.to_dict()).output_columns
            ['u']
        """
        return _jsonable(copy.deepcopy(self.raw))


@dataclass
class ColumnSummary:
    """What the spec tells about one output column (used to build a schema).

    ``facts`` uses the field names of :class:`sosie.schema.ColumnSpec`
    (``dtype``, ``min``, ``max``, ``decimals``, ``categories``, ``timezone``,
    ``resolution``, ``id_format``, ``pii_kind``, ``locale``), so
    ``ColumnSpec(s.name, s.semantic_type, nullable=s.nullable, **s.facts)`` works.

    Attributes:
        name: the column name.
        semantic_type: numerical, categorical, boolean, datetime, id, pii or text.
        dtype: ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"datetime"``.
        pandas_dtype: the dtype of the generated pandas column (without nulls).
        nullable: whether the spec blanks some values.
        facts: known facts (see above).
        description: the column's description, if any.

    Example:
        >>> s = spec_columns_summary(load_spec({"columns": {"x": {"distribution": "poisson",
        ...     "lam": 3}}}))[0]
        >>> s.semantic_type, s.dtype, s.facts["min"]
        ('numerical', 'int', 0)
    """

    name: str
    semantic_type: str
    dtype: str
    pandas_dtype: str
    nullable: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


# -- entry points --------------------------------------------------------------------------
def example_path(name: str) -> Path:
    """Path of a bundled example spec (``"card_transactions"`` or ``"network_logs"``).

    Example:
        >>> example_path("card_transactions").name
        'card_transactions.yaml'
    """
    base = resources.files("sosie") / "examples"
    stem = name[:-5] if name.endswith(".yaml") else name
    path = Path(str(base / f"{stem}.yaml"))
    if not path.is_file():
        known = sorted(p.stem for p in Path(str(base)).glob("*.yaml"))
        raise SpecError(
            Problem(
                f"example {name!r}",
                "one of " + ", ".join(known),
                "no such example",
                "use one of the listed names",
            )
        )
    return path


def load_spec(source: RuleSpec | Mapping[str, Any] | str | os.PathLike[str]) -> RuleSpec:
    """Read and validate a rule-based spec.

    Every problem is collected and raised once, each naming the field path and,
    when the spec came from YAML/JSON text, the line (``card.yaml line 14,
    columns.amount.distribution: expected one of normal, lognormal, ..., found
    'lognormall'; fix: ...``).

    Args:
        source: a path to a ``.yaml``/``.yml``/``.json`` file, YAML or JSON text, a
            dict, or an already validated :class:`RuleSpec` (returned as is).

    Returns:
        The validated :class:`RuleSpec`.

    Raises:
        SpecError: the spec cannot be read or is invalid (``.errors`` lists each problem).

    Example:
        >>> spec = load_spec('''
        ... columns:
        ...   kind: {distribution: categorical, categories: {a: 3, b: 1}}
        ...   amount: {distribution: exponential, scale: 10, max: 100}
        ... rules:
        ...   - {when: "kind == 'a'", check: "amount >= 1"}
        ... ''')
        >>> [c.name for c in spec.columns]
        ['kind', 'amount']
        >>> load_spec({"columns": {"x": {"distribution": "lognormall"}}})
        Traceback (most recent call last):
        ...
        sosie.errors.SpecError: invalid spec: columns.x.distribution: expected one of normal, lognormal, exponential, gamma, beta, poisson, uniform, integer, bernoulli, categorical, faker, datetime, event_time, sequence, entity, uuid, found 'lognormall'; fix: did you mean 'lognormal'?
    """
    if isinstance(source, RuleSpec):
        return source
    src_name, data, lines = _read(source)
    return _Validator(data, lines, src_name).run()


def spec_columns_summary(spec: RuleSpec) -> list[ColumnSummary]:
    """For each output column: name, semantic type, dtype and the facts the spec fixes.

    Args:
        spec: a validated spec (see :func:`load_spec`).

    Returns:
        One :class:`ColumnSummary` per output column, in output order.

    Example:
        >>> spec = load_spec({"columns": {
        ...     "kind": {"distribution": "categorical", "categories": ["a", "b"]},
        ...     "when": {"distribution": "datetime", "start": "2024-01-01",
        ...              "end": "2024-02-01", "tz": "UTC"},
        ...     "flag": {"label": "kind == 'a'"}}})
        >>> [(s.name, s.semantic_type, s.dtype) for s in spec_columns_summary(spec)]
        [('kind', 'categorical', 'str'), ('when', 'datetime', 'datetime'), ('flag', 'boolean', 'bool')]
        >>> spec_columns_summary(spec)[0].facts
        {'categories': ['a', 'b']}
    """
    return [_summarise(spec, c) for c in spec.columns if not c.hidden]


# -- reading -------------------------------------------------------------------------------
def _read(source: Any) -> tuple[str | None, Any, dict[str, int]]:
    if isinstance(source, Mapping):
        return None, copy.deepcopy(dict(source)), {}
    if isinstance(source, os.PathLike):
        return _read_file(Path(source))
    if not isinstance(source, str):
        raise SpecError(
            Problem(
                "spec",
                "a path, YAML/JSON text or a dict",
                type(source).__name__,
                "pass the spec file's path or its text",
            )
        )
    s = source.strip()
    looks_like_path = "\n" not in s and (
        s.lower().endswith((".yaml", ".yml", ".json")) or (len(s) < 4096 and os.path.isfile(s))
    )
    if looks_like_path:
        return _read_file(Path(s))
    # '{"...' is JSON; '{key: ...' may be a YAML flow mapping (tried as JSON, then YAML)
    strict_json = s.startswith("{") and s[1:].lstrip().startswith('"')
    return None, *_parse_text(source, None, json_first=s.startswith("{"), strict=strict_json)


def _read_file(path: Path) -> tuple[str | None, Any, dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(
            Problem(
                f"spec file {str(path)!r}",
                "a readable YAML or JSON file",
                e.strerror or str(e),
                "check the path",
            )
        ) from None
    is_json = path.suffix.lower() == ".json"
    data, lines = _parse_text(text, path.name, json_first=is_json, strict=is_json)
    return path.name, data, lines


def _parse_text(
    text: str, name: str | None, *, json_first: bool, strict: bool
) -> tuple[Any, dict[str, int]]:
    label = f"{name} " if name else ""
    if json_first:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if not strict:
                return _parse_text(text, name, json_first=False, strict=False)
            raise SpecError(
                Problem(
                    f"{label}line {e.lineno} column {e.colno}",
                    "valid JSON",
                    e.msg,
                    "fix the JSON syntax",
                )
            ) from None
        try:
            lines = _line_map(yaml.compose(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError:
            lines = {}
        return data, lines
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{label}line {mark.line + 1}" if mark is not None else (name or "spec text")
        raise SpecError(
            Problem(
                where,
                "valid YAML",
                str(getattr(e, "problem", None) or e),
                "fix the YAML syntax (indentation, colons, quotes)",
            )
        ) from None
    lines = _line_map(node) if node is not None else {}
    return data, lines


def _line_map(node: Any) -> dict[str, int]:
    """Field path -> 1-based line, from the YAML node tree (keys of mappings, list items)."""
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []

    def walk(n: Any, path: str) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in n.value:
                key = str(k.value)
                p = f"{path}.{key}" if path else key
                if key in seen:
                    dups.append((p, k.start_mark.line + 1))
                seen.add(key)
                lines.setdefault(p, k.start_mark.line + 1)
                walk(v, p)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                p = f"{path}[{i}]"
                lines[p] = item.start_mark.line + 1
                walk(item, p)

    walk(node, "")
    if dups:
        lines["__duplicates__"] = dups  # type: ignore[assignment]
    return lines


def _parent(path: str) -> str | None:
    if not path:
        return None
    if path.endswith("]"):
        return path[: path.rfind("[")]
    if "." in path:
        return path[: path.rfind(".")]
    return ""


def _where(source: str | None, lines: Mapping[str, Any], path: str) -> str:
    p: str | None = path
    line = None
    while p:
        v = lines.get(p)
        if isinstance(v, int):
            line = v
            break
        p = _parent(p)
    parts = []
    if source:
        parts.append(source)
    if line is not None:
        parts.append(f"line {line}")
    head = " ".join(parts)
    shown = path or "spec"
    return f"{head}, {shown}" if head else shown


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {
            str(k) if not isinstance(k, (bool, int, float)) else k: _jsonable(x)
            for k, x in v.items()
        }
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    return v


# -- validation ----------------------------------------------------------------------------
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else "use one of the listed names"


_FAKERS: dict[str, Any] = {}


def _faker(locale: str) -> Any:
    from faker import Faker

    if locale not in _FAKERS:
        fk = Faker(locale)
        fk.seed_instance(0)  # never use Faker's shared random state
        _FAKERS[locale] = fk
    return _FAKERS[locale]


def _faker_locales() -> list[str]:
    from faker.config import AVAILABLE_LOCALES

    return list(AVAILABLE_LOCALES)


def _check_tz(tz: Any) -> str | None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except Exception as e:
        return str(e) or type(e).__name__
    return None


class _Validator:
    def __init__(self, data: Any, lines: dict[str, Any], source: str | None):
        self.data = data
        self.lines = lines
        self.source = source
        self.problems: list[Problem] = []
        self.context = ""  # appended to the place of each problem (names the pattern)

    # helpers
    def where(self, path: str) -> str:
        return _where(self.source, self.lines, path)

    def add(self, path: str, expected: str, found: str, fix: str) -> None:
        self.problems.append(Problem(self.where(path) + self.context, expected, found, fix))

    def unknown_keys(self, path: str, d: Mapping[str, Any], allowed: Any, what: str) -> None:
        for k in d:
            if k not in allowed:
                self.add(
                    f"{path}.{k}",
                    f"one of the {what} keys " + ", ".join(allowed),
                    f"unknown key {k!r}",
                    _suggest(k, allowed) + " (or remove the key)",
                )

    def expr(self, path: str, text: Any) -> Expr | None:
        if not isinstance(text, str):
            self.add(path, "an expression string", repr(text), "quote the expression")
            return None
        try:
            return parse_expression(text, where=self.where(path))
        except SpecError as e:
            self.problems.extend(e.errors)
            return None

    def param(
        self,
        path: str,
        raw: Any,
        *,
        check: str | None = None,
        allow_expr: bool = True,
    ) -> Param | None:
        """A numeric parameter: a number, an expression string, or a lookup mapping."""
        if isinstance(raw, str) and allow_expr:
            e = self.expr(path, raw)
            return Param(expr=e) if e is not None else None
        if isinstance(raw, Mapping) and allow_expr:
            self.unknown_keys(path, raw, ("by", "values", "default"), "lookup")
            ok = True
            by = raw.get("by")
            if not isinstance(by, str):
                self.add(
                    f"{path}.by" if "by" in raw else path,
                    "a lookup with 'by: <column>' and 'values: {value: number}'",
                    repr(by) if "by" in raw else "no 'by' key",
                    "name the column whose value selects the parameter",
                )
                ok = False
            values = raw.get("values")
            if not isinstance(values, Mapping) or not values:
                self.add(
                    f"{path}.values" if "values" in raw else path,
                    "a non-empty mapping 'values: {value: number}'",
                    repr(values) if "values" in raw else "no 'values' key",
                    "list the parameter for each value of the 'by' column",
                )
                ok = False
            else:
                for k, v in values.items():
                    if not self.check_value(f"{path}.values.{k}", v, check):
                        ok = False
            has_default = "default" in raw
            if has_default and not self.check_value(f"{path}.default", raw["default"], check):
                ok = False
            if not ok:
                return None
            return Param(
                by=by, table=dict(values), default=raw.get("default"), has_default=has_default
            )
        if not self.check_value(path, raw, check):
            return None
        return Param(value=raw)

    def check_value(self, path: str, v: Any, check: str | None) -> bool:
        if check == "weights":
            return self.check_weights(path, v, None) is not None
        if not _is_num(v):
            self.add(path, "a number", repr(v), _number_fix(v))
            return False
        if check == "positive" and not v > 0:
            self.add(path, "a number > 0", repr(v), "use a positive value")
            return False
        if check == "nonneg" and v < 0:
            self.add(path, "a number >= 0", repr(v), "use a non-negative value")
            return False
        if check == "prob" and not 0 <= v <= 1:
            self.add(path, "a probability between 0 and 1", repr(v), "use a value in [0, 1]")
            return False
        return True

    def check_weights(self, path: str, w: Any, n: int | None) -> list[float] | None:
        if not isinstance(w, (list, tuple)) or not all(_is_num(x) for x in w):
            self.add(path, "a list of numbers", repr(w), "write the weights as [w1, w2, ...]")
            return None
        if n is not None and len(w) != n:
            self.add(
                path,
                f"{n} weights (one per category)",
                f"{len(w)} weights",
                "give exactly one weight per category",
            )
            return None
        if any(x < 0 for x in w):
            self.add(path, "weights >= 0", repr(list(w)), "remove the negative weights")
            return None
        if not sum(w) > 0:
            self.add(
                path, "weights that sum to more than 0", repr(list(w)), "make a weight positive"
            )
            return None
        return [float(x) for x in w]

    def timestamp(self, path: str, v: Any, tz: str | None) -> pd.Timestamp | None:
        if isinstance(v, bool) or not isinstance(v, (str, _dt.date, _dt.datetime)):
            self.add(
                path,
                "a date/time such as '2024-01-31' or '2024-01-31T08:00:00'",
                repr(v),
                "write an ISO 8601 date/time",
            )
            return None
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError) as e:
            self.add(
                path,
                "a date/time such as '2024-01-31' or '2024-01-31T08:00:00'",
                f"{v!r} ({e})",
                "write an ISO 8601 date/time",
            )
            return None
        if ts is pd.NaT:
            self.add(path, "a date/time", repr(v), "write an ISO 8601 date/time")
            return None
        if tz is not None:
            ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
        return ts

    # the pass
    def run(self) -> RuleSpec:
        data = self.data
        if not isinstance(data, Mapping):
            raise SpecError(
                Problem(
                    self.where(""),
                    "a mapping with a 'columns' key",
                    type(data).__name__ if data is not None else "an empty document",
                    "start the spec with 'columns:'",
                )
            )
        for p, line in self.lines.get("__duplicates__", []):  # type: ignore[union-attr]
            self.problems.append(
                Problem(
                    f"{self.source + ' ' if self.source else ''}line {line}, {p}",
                    "each key once",
                    "a duplicate key (the first one would be ignored)",
                    "rename or remove one of them",
                )
            )
        self.unknown_keys("", data, _TOP_KEYS, "top-level")
        name = data.get("name", "spec")
        if not isinstance(name, str):
            self.add("name", "a string", repr(name), "quote the name")
            name = "spec"
        desc = data.get("description")
        locale = data.get("locale", "en_US")
        if not isinstance(locale, str) or locale not in _faker_locales():
            self.add(
                "locale",
                "a Faker locale such as en_US, fr_FR, de_DE",
                repr(locale),
                _suggest(locale, _faker_locales()),
            )
            locale = "en_US"
        max_rounds = data.get("max_rounds", DEFAULT_MAX_ROUNDS)
        if not _is_int(max_rounds) or max_rounds < 0:
            self.add("max_rounds", "an integer >= 0", repr(max_rounds), "e.g. max_rounds: 25")
            max_rounds = DEFAULT_MAX_ROUNDS
        on_failure = data.get("on_failure", "raise")
        if on_failure not in ("raise", "warn"):
            self.add("on_failure", "'raise' or 'warn'", repr(on_failure), "use raise or warn")
            on_failure = "raise"

        columns = self.columns(data.get("columns"), locale)
        rules = self.rules(data.get("rules"), columns)
        constraints, checks = self.constraints(data.get("constraints"), columns)
        rules += self.rules(
            [{k: v for k, v in c.items() if k != "_path"} for c in checks],
            columns,
            where="constraints",
            paths=[c["_path"] for c in checks],
        )
        inject = self.inject(data.get("inject"), columns, rules, locale)
        order_by = self.order_by(data.get("order_by"), columns)
        if inject and not order_by and "order_by" not in data:
            order_by = [inject[0].entity, inject[0].time]
        if not self.problems:
            self.constructive(columns, rules, inject)
        if self.problems:
            raise SpecError(self.problems)
        return RuleSpec(
            columns=columns,
            rules=rules,
            constraints=constraints,
            name=name,
            description=desc if isinstance(desc, str) else None,
            locale=locale,
            order_by=order_by,
            inject=inject,
            max_rounds=max_rounds,
            on_failure=on_failure,
            source=self.source,
            lines={k: v for k, v in self.lines.items() if isinstance(v, int)},
            raw=dict(data),
        )

    # columns
    def columns(self, raw: Any, locale: str) -> list[ColumnDef]:
        if raw is None:
            self.add("columns", "a 'columns' mapping", "no 'columns' key", "add 'columns:'")
            return []
        if not isinstance(raw, Mapping) or not raw:
            self.add(
                "columns",
                "a non-empty mapping of column name -> definition",
                repr(raw) if not isinstance(raw, Mapping) else "an empty mapping",
                "write 'columns:' then one indented entry per column",
            )
            return []
        out: list[ColumnDef] = []
        for name, body in raw.items():
            path = f"columns.{name}"
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                self.add(
                    path,
                    "a column name usable in expressions (letters, digits, _; not a keyword)",
                    repr(name),
                    "rename it, e.g. " + repr("_".join(str(name).split()) or "column"),
                )
                continue
            if name.startswith("__"):
                self.add(path, "a name not starting with '__'", repr(name), "rename it")
                continue
            if not isinstance(body, Mapping):
                self.add(
                    path,
                    "a mapping with 'distribution', 'expr' or 'label'",
                    repr(body),
                    f"write e.g. '{name}: {{distribution: normal, mean: 0, std: 1}}'",
                )
                continue
            col = self.column(name, path, body, locale)
            if col is not None:
                out.append(col)
        self.references(out)
        return out

    def column(
        self, name: str, path: str, body: Mapping[str, Any], locale: str
    ) -> ColumnDef | None:
        kinds = [k for k in ("distribution", "expr", "label") if k in body]
        if len(kinds) != 1:
            self.add(
                path,
                "exactly one of 'distribution', 'expr' or 'label'",
                "none of them" if not kinds else "both " + " and ".join(map(repr, kinds)),
                "a column is drawn (distribution), derived (expr) or a label (label)",
            )
            return None
        col = ColumnDef(name=name, kind={"distribution": "draw"}.get(kinds[0], kinds[0]), path=path)
        self.common(col, body)
        if kinds[0] == "distribution":
            self.drawn(col, body, locale)
        elif kinds[0] == "expr":
            self.derived(col, body)
        else:
            self.label_col(col, body)
        return col

    def common(self, col: ColumnDef, body: Mapping[str, Any]) -> None:
        path = col.path
        per = body.get("per")
        if per is not None and not isinstance(per, str):
            self.add(
                f"{path}.per", "a column name", repr(per), "name an entity or categorical column"
            )
        col.per = per if isinstance(per, str) else None
        hidden = body.get("hidden", False)
        if not isinstance(hidden, bool):
            self.add(f"{path}.hidden", "true or false", repr(hidden), "use hidden: true")
        col.hidden = hidden is True
        nr = body.get("null_rate", 0.0)
        if not _is_num(nr) or not 0 <= nr < 1:
            self.add(f"{path}.null_rate", "a number in [0, 1)", repr(nr), "e.g. null_rate: 0.02")
        else:
            col.null_rate = float(nr)
        st = body.get("semantic_type")
        if st is not None and st not in SEMANTIC_TYPES:
            self.add(
                f"{path}.semantic_type",
                "one of " + ", ".join(SEMANTIC_TYPES),
                repr(st),
                _suggest(st, SEMANTIC_TYPES),
            )
        else:
            col.semantic_type = st
        d = body.get("description")
        col.description = d if isinstance(d, str) else None

    def numeric_options(self, col: ColumnDef, body: Mapping[str, Any], default_dtype: str) -> None:
        path = col.path
        for b in ("min", "max"):
            if b in body:
                if not _is_num(body[b]):
                    self.add(f"{path}.{b}", "a number", repr(body[b]), _number_fix(body[b]))
                else:
                    setattr(col, b, float(body[b]))
        if col.min is not None and col.max is not None and not col.min < col.max:
            self.add(
                f"{path}.max",
                f"max greater than min ({col.min:g})",
                repr(body["max"]),
                "swap or fix the bounds",
            )
        bounds = body.get("bounds", "truncate")
        if bounds not in ("truncate", "clip"):
            self.add(f"{path}.bounds", "'truncate' or 'clip'", repr(bounds), "use truncate or clip")
        else:
            col.bounds = bounds
        dec = body.get("decimals")
        if dec is not None and (not _is_int(dec) or dec < 0):
            self.add(f"{path}.decimals", "an integer >= 0", repr(dec), "e.g. decimals: 2")
        elif dec is not None:
            col.decimals = dec
        if "round_to" in body:
            col.round_to = self.param(f"{path}.round_to", body["round_to"], check="positive")
        dtype = body.get("dtype", default_dtype)
        if dtype not in ("int", "float"):
            self.add(f"{path}.dtype", "'int' or 'float'", repr(dtype), "use int or float")
            dtype = default_dtype
        col.value_kind = dtype

    def drawn(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        dist = body["distribution"]
        col.distribution = dist
        if dist not in DISTRIBUTIONS:
            self.add(
                f"{path}.distribution",
                "one of " + ", ".join(DISTRIBUTIONS),
                repr(dist),
                _suggest(dist, DISTRIBUTIONS),
            )
            col.distribution = None
            return
        required, optional, extra = DISTRIBUTIONS[dist]
        allowed = ("distribution", *_COMMON_KEYS, *required, *optional, *extra)
        if dist in _NUMERIC_DRAWN:
            allowed += _NUMERIC_KEYS
        self.unknown_keys(path, body, allowed, f"{dist!r}")
        checks = {
            "std": "positive",
            "sigma": "positive",
            "rate": "positive",
            "scale": "positive",
            "shape": "positive",
            "a": "positive",
            "b": "positive",
            "lam": "nonneg",
            "p": "prob",
        }
        for k in required:
            if k not in body:
                self.add(
                    path,
                    f"the parameter {k!r} for {dist} (needs " + ", ".join(required) + ")",
                    f"no {k!r}",
                    f"add '{k}: <value>'",
                )
        for k in (*required, *optional):
            if k in body:
                p = self.param(f"{path}.{k}", body[k], check=checks.get(k))
                if p is not None:
                    col.params[k] = p
        if optional == ("rate", "scale"):
            given = [k for k in optional if k in body]
            if len(given) != 1:
                self.add(
                    path,
                    f"exactly one of 'rate' or 'scale' for {dist}",
                    "none" if not given else "both",
                    "give the rate (events per unit) or the scale (mean gap = 1/rate)",
                )
        if dist in _NUMERIC_DRAWN:
            self.numeric_options(col, body, "int" if dist in ("poisson", "integer") else "float")
            a, b = col.params.get("low"), col.params.get("high")
            if a is not None and b is not None and a.is_literal and b.is_literal:
                strict = dist == "uniform"
                if (a.value >= b.value) if strict else (a.value > b.value):
                    self.add(
                        f"{path}.high",
                        f"high {'>' if strict else '>='} low ({a.value})",
                        repr(b.value),
                        "fix the range",
                    )
            if dist == "integer":
                for k in ("low", "high"):
                    p = col.params.get(k)
                    if p is not None and p.is_literal and not float(p.value).is_integer():
                        self.add(f"{path}.{k}", "an integer", repr(p.value), "use whole numbers")
            return
        getattr(self, f"d_{dist}")(col, body, locale)

    def d_bernoulli(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        col.value_kind = "bool"

    def d_uuid(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        col.value_kind = "str"

    def d_categorical(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        cats = body.get("categories")
        weights_raw = body.get("weights")
        cat_list: list[Any] | None = None
        weights: Any = None
        if isinstance(cats, Mapping) and cats:
            cat_list = list(cats.keys())
            weights = self.check_weights(f"{path}.categories", list(cats.values()), None)
            if weights_raw is not None:
                self.add(
                    f"{path}.weights",
                    "weights either in 'categories' (a mapping) or in 'weights', not both",
                    "both",
                    "remove 'weights' or write categories as a list",
                )
        elif isinstance(cats, list) and cats:
            cat_list = list(cats)
            if any(not isinstance(c, (str, int, float, bool)) for c in cat_list):
                self.add(
                    f"{path}.categories",
                    "plain values (strings or numbers)",
                    repr(cat_list),
                    "list plain values",
                )
            if weights_raw is None:
                weights = [1.0] * len(cat_list)
            elif isinstance(weights_raw, Mapping):
                p = self.param(f"{path}.weights", weights_raw, check="weights")
                if p is not None:
                    for k, w in (p.table or {}).items():
                        self.check_weights(f"{path}.weights.values.{k}", w, len(cat_list))
                    if p.has_default:
                        self.check_weights(f"{path}.weights.default", p.default, len(cat_list))
                weights = p
            else:
                weights = self.check_weights(f"{path}.weights", weights_raw, len(cat_list))
        else:
            self.add(
                f"{path}.categories" if "categories" in body else path,
                "a non-empty list of categories, or a mapping category -> weight",
                repr(cats) if "categories" in body else "no 'categories'",
                "e.g. categories: {a: 0.7, b: 0.3}",
            )
        if cat_list is not None:
            dup = sorted({str(c) for c in cat_list if cat_list.count(c) > 1})
            if dup:
                self.add(
                    f"{path}.categories",
                    "distinct categories",
                    "repeated " + ", ".join(map(repr, dup)),
                    "list each category once",
                )
            col.options["categories"] = cat_list
            kinds = {_value_kind(c) for c in cat_list}
            col.value_kind = kinds.pop() if len(kinds) == 1 else "unknown"
        col.options["weights"] = weights

    def d_faker(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        loc = body.get("locale", locale)
        col.value_kind = "str"
        if not isinstance(loc, str) or loc not in _faker_locales():
            self.add(
                f"{path}.locale",
                "a Faker locale such as en_US, fr_FR, de_DE",
                repr(loc),
                _suggest(loc, _faker_locales()),
            )
            return
        col.options["locale"] = loc
        args = body.get("args", {})
        if not isinstance(args, Mapping):
            self.add(f"{path}.args", "a mapping of keyword arguments", repr(args), "e.g. args: {}")
            args = {}
        col.options["args"] = dict(args)
        pool = body.get("pool_size", DEFAULT_POOL_SIZE)
        if not _is_int(pool) or pool < 1:
            self.add(f"{path}.pool_size", "an integer >= 1", repr(pool), "e.g. pool_size: 10000")
            pool = DEFAULT_POOL_SIZE
        col.options["pool_size"] = pool
        unique = body.get("unique", False)
        if not isinstance(unique, bool):
            self.add(f"{path}.unique", "true or false", repr(unique), "use unique: true")
        col.options["unique"] = unique is True
        provider = body.get("provider")
        if not isinstance(provider, str) or provider.startswith("_"):
            self.add(
                f"{path}.provider" if "provider" in body else path,
                "a Faker provider name such as name, email, city, ipv4",
                repr(provider) if "provider" in body else "no 'provider'",
                "add e.g. 'provider: name'",
            )
            return
        fk = _faker(loc)
        ok = any(callable(getattr(p, provider, None)) for p in fk.providers)
        fn = getattr(fk, provider, None) if ok else None
        if not callable(fn):
            names = [n for n in dir(fk) if not n.startswith("_")]
            self.add(
                f"{path}.provider",
                f"a Faker provider of locale {loc}",
                repr(provider),
                _suggest(provider, names),
            )
            return
        try:
            sample = fn(**args)
        except Exception as e:  # a provider that refuses its arguments
            self.add(
                f"{path}.args",
                f"arguments accepted by faker's {provider}()",
                f"{type(e).__name__}: {e}",
                "fix or remove the arguments",
            )
            return
        col.options["provider"] = provider
        col.value_kind = _value_kind(sample)

    def d_datetime(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        col.value_kind = "datetime"
        tz = self.tz(col, body)
        for k in ("start", "end"):
            if k not in body:
                self.add(path, f"a {k!r} date/time", f"no {k!r}", f"add '{k}: 2024-01-01'")
            else:
                col.options[k] = self.timestamp(f"{path}.{k}", body[k], tz)
        s, e = col.options.get("start"), col.options.get("end")
        if s is not None and e is not None and not e > s:
            self.add(f"{path}.end", f"an end after start ({s})", str(e), "fix the range")
        for k, n in (("hour_weights", 24), ("weekday_weights", 7)):
            if k in body:
                col.options[k] = self.check_weights(f"{path}.{k}", body[k], n)
        self.resolution(col, body, "s")

    def tz(self, col: ColumnDef, body: Mapping[str, Any]) -> str | None:
        tz = body.get("tz")
        if tz is None:
            return None
        err = _check_tz(tz) if isinstance(tz, str) else "not a string"
        if err:
            self.add(
                f"{col.path}.tz",
                "a time zone such as UTC, Europe/Paris, America/New_York",
                f"{tz!r} ({err})",
                "use an IANA time zone name",
            )
            return None
        col.options["tz"] = tz
        return tz

    def resolution(self, col: ColumnDef, body: Mapping[str, Any], default: str) -> None:
        res = body.get("resolution", default)
        if res not in RESOLUTIONS:
            self.add(
                f"{col.path}.resolution",
                "one of " + ", ".join(RESOLUTIONS),
                repr(res),
                _suggest(res, RESOLUTIONS),
            )
            res = default
        col.options["resolution"] = res

    def d_event_time(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        col.value_kind = "datetime"
        tz = self.tz(col, body)
        if "start" not in body:
            self.add(path, "a 'start' date/time", "no 'start'", "add 'start: 2024-01-01T00:00:00'")
        else:
            col.options["start"] = self.timestamp(f"{path}.start", body["start"], tz)
        unit = body.get("unit", "s")
        if unit not in UNITS:
            self.add(
                f"{path}.unit", "one of " + ", ".join(UNITS), repr(unit), _suggest(unit, UNITS)
            )
            unit = "s"
        col.options["unit"] = unit
        by = body.get("by")
        if by is not None and not isinstance(by, str):
            self.add(f"{path}.by", "a column name", repr(by), "name the entity column")
        col.by = by if isinstance(by, str) else None
        self.resolution(col, body, "ms")
        col.stage = 2

    def d_sequence(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        start, step = body.get("start", 1), body.get("step", 1)
        if not _is_int(start):
            self.add(f"{path}.start", "an integer", repr(start), "e.g. start: 1")
            start = 1
        if not _is_int(step) or step == 0:
            self.add(f"{path}.step", "a non-zero integer", repr(step), "e.g. step: 1")
            step = 1
        col.options.update(start=start, step=step)
        by = body.get("by")
        if by is not None and not isinstance(by, str):
            self.add(f"{path}.by", "a column name", repr(by), "name the grouping column")
        col.by = by if isinstance(by, str) else None
        col.options["format"] = self.id_format(f"{path}.format", body.get("format"))
        col.value_kind = "str" if col.options["format"] else "int"
        col.stage = 3

    def id_format(self, path: str, fmt: Any) -> str | None:
        if fmt is None:
            return None
        try:
            if not isinstance(fmt, str):
                raise TypeError
            fmt.format(1)
        except Exception:
            self.add(
                path,
                "a Python format string with one field, e.g. 'C{:06d}'",
                repr(fmt),
                "write the number's place as {} or {:06d}",
            )
            return None
        return fmt

    def d_entity(self, col: ColumnDef, body: Mapping[str, Any], locale: str) -> None:
        path = col.path
        count = body.get("count")
        if not _is_int(count) or count < 1:
            self.add(
                f"{path}.count" if "count" in body else path,
                "the number of entities, an integer >= 1",
                repr(count) if "count" in body else "no 'count'",
                "e.g. count: 1000",
            )
            count = 1
        skew = body.get("skew", 0.0)
        if not _is_num(skew) or skew < 0:
            self.add(
                f"{path}.skew", "a number >= 0 (0: all equally active)", repr(skew), "e.g. 1.0"
            )
            skew = 0.0
        start = body.get("start", 1)
        if not _is_int(start):
            self.add(f"{path}.start", "an integer", repr(start), "e.g. start: 1")
            start = 1
        fmt = self.id_format(f"{path}.format", body.get("format"))
        weights = body.get("weights")
        if weights is not None:
            if not isinstance(weights, str):
                self.add(
                    f"{path}.weights",
                    f"the name of a numeric column drawn 'per: {col.name}'",
                    repr(weights),
                    "name a per-entity column such as an activity rate",
                )
                weights = None
            elif "skew" in body:
                self.add(f"{path}.weights", "either 'skew' or 'weights'", "both", "remove one")
        col.options.update(count=count, skew=float(skew), start=start, format=fmt, weights=weights)
        col.value_kind = "str" if fmt else "int"

    def derived(self, col: ColumnDef, body: Mapping[str, Any]) -> None:
        path = col.path
        self.unknown_keys(path, body, ("expr", "dtype", "decimals", *_COMMON_KEYS), "'expr'")
        raw = body["expr"]
        if isinstance(raw, Mapping):
            col.expr = self.lookup_any(f"{path}.expr", raw)
        else:
            e = self.expr(f"{path}.expr", raw)
            col.expr = Param(expr=e) if e is not None else None
        dtype = body.get("dtype")
        if dtype is not None and dtype not in ("int", "float", "bool", "str"):
            self.add(f"{path}.dtype", "one of int, float, bool, str", repr(dtype), "fix the dtype")
            dtype = None
        col.options["dtype"] = dtype
        dec = body.get("decimals")
        if dec is not None and (not _is_int(dec) or dec < 0):
            self.add(f"{path}.decimals", "an integer >= 0", repr(dec), "e.g. decimals: 2")
        elif dec is not None:
            col.decimals = dec

    def lookup_any(self, path: str, raw: Mapping[str, Any]) -> Param | None:
        """A lookup whose values can be anything plain (strings, numbers, booleans)."""
        self.unknown_keys(path, raw, ("by", "values", "default"), "lookup")
        by, values = raw.get("by"), raw.get("values")
        ok = True
        if not isinstance(by, str):
            self.add(
                f"{path}.by" if "by" in raw else path,
                "a column name in 'by'",
                repr(by),
                "add 'by: <column>'",
            )
            ok = False
        if not isinstance(values, Mapping) or not values:
            self.add(
                f"{path}.values" if "values" in raw else path,
                "a non-empty mapping 'values: {value: result}'",
                repr(values),
                "list the result for each value of the 'by' column",
            )
            ok = False
        else:
            for k, v in values.items():
                if not isinstance(v, (str, int, float, bool)):
                    self.add(
                        f"{path}.values.{k}", "a plain value", repr(v), "use a string or number"
                    )
                    ok = False
        if not ok:
            return None
        return Param(
            by=by, table=dict(values), default=raw.get("default"), has_default="default" in raw
        )

    def label_col(self, col: ColumnDef, body: Mapping[str, Any]) -> None:
        path = col.path
        self.unknown_keys(path, body, ("label", "noise", *_COMMON_KEYS), "'label'")
        raw = body["label"]
        if isinstance(raw, list) and raw:
            parts = [self.expr(f"{path}.label[{i}]", t) for i, t in enumerate(raw)]
            if all(p is not None for p in parts):
                col.label = self.expr(
                    f"{path}.label", " or ".join(f"({p.text})" for p in parts if p is not None)
                )
        else:
            col.label = self.expr(f"{path}.label", raw)
        noise = body.get("noise", 0.0)
        if not _is_num(noise) or not 0 <= noise <= 0.5:
            self.add(
                f"{path}.noise",
                "the share of labels flipped, a number in [0, 0.5]",
                repr(noise),
                "e.g. noise: 0.01",
            )
        else:
            col.noise = float(noise)
        col.value_kind = "bool"

    # cross-column checks
    def references(self, cols: list[ColumnDef]) -> None:
        index = {c.name: i for i, c in enumerate(cols)}
        kinds: dict[str, str] = {}
        for i, c in enumerate(cols):
            refs = self.refs_by_field(c)
            for fld, names in refs:
                fpath = f"{c.path}.{fld}"
                for n in sorted(names):
                    if n not in index:
                        known = list(index)
                        close = difflib.get_close_matches(n, known, n=3)
                        text = self.field_text(c, fld)
                        self.add(
                            fpath,
                            "names of columns defined above",
                            f"unknown name {n!r}" + (f" in {text!r}" if text else ""),
                            f"did you mean {', '.join(map(repr, close))}?"
                            if close
                            else "define the column first, or fix the name",
                        )
                    elif n == c.name:
                        self.add(
                            fpath,
                            "a reference to other columns",
                            f"the column {n!r} refers to itself",
                            "use a hidden helper column",
                        )
                    elif index[n] > i and c.distribution != "sequence":
                        self.add(
                            fpath,
                            "only columns defined above (columns are computed in order)",
                            f"a reference to {n!r}, defined below at {self.where(cols[index[n]].path)}",
                            f"move {n!r} above {c.name!r}",
                        )
                    elif cols[index[n]].stage == 3:
                        self.add(
                            fpath,
                            "a column that is not a sequence",
                            f"a reference to the sequence column {n!r}",
                            "sequences are numbered after sorting; nothing can use them",
                        )
            # per
            if c.per is not None and c.per in index and index[c.per] < i:
                g = cols[index[c.per]]
                if not _is_group(g):
                    self.add(
                        f"{c.path}.per",
                        "an entity, categorical or bernoulli column",
                        f"{c.per!r}, a {g.distribution or g.kind} column",
                        "make the group column an entity or a categorical column",
                    )
                if c.distribution in ("event_time", "sequence") or c.kind == "label":
                    self.add(
                        f"{c.path}.per",
                        "no 'per' on event_time, sequence or label columns",
                        f"per: {c.per}",
                        "remove 'per'",
                    )
                for fld, names in refs:
                    for n in names:
                        if n in index and n != c.per and cols[index[n]].per != c.per:
                            self.add(
                                f"{c.path}.{fld}",
                                f"only {c.per!r} or other columns drawn per {c.per!r}",
                                f"a reference to {n!r}",
                                f"add 'per: {c.per}' to {n!r} or drop 'per' from {c.name!r}",
                            )
            # entity row weights: a numeric column drawn per entity (may be defined below)
            ew = c.options.get("weights") if c.distribution == "entity" else None
            if isinstance(ew, str):
                t = cols[index[ew]] if ew in index else None
                if t is None or t.per != c.name or t.value_kind not in ("int", "float"):
                    self.add(
                        f"{c.path}.weights",
                        f"a numeric column with 'per: {c.name}'",
                        repr(ew) if t is None else f"{ew!r} (per: {t.per}, {t.value_kind})",
                        f"define {ew!r} with 'per: {c.name}' and a numeric distribution",
                    )
            # lookup keys against known categories
            for fld, p in self.lookups(c):
                if p.by in index and index[p.by] < i:
                    cats = _domain(cols[index[p.by]])
                    if cats is not None:
                        bad = [k for k in (p.table or {}) if k not in cats]
                        for k in bad:
                            self.add(
                                f"{c.path}.{fld}.values.{k}",
                                f"values of {p.by!r} (" + ", ".join(map(str, cats)) + ")",
                                repr(k),
                                _suggest(k, [str(x) for x in cats]),
                            )
                        missing = [k for k in cats if k not in (p.table or {})]
                        if missing and not p.has_default:
                            self.add(
                                f"{c.path}.{fld}",
                                f"an entry for every value of {p.by!r} or a 'default'",
                                "no entry for " + ", ".join(map(repr, missing)),
                                "add the missing values or a 'default:'",
                            )
            # stages
            ref_stages = [
                cols[index[n]].stage for _, ns in refs for n in ns if n in index and index[n] < i
            ]
            if c.distribution == "event_time":
                if any(s >= 2 for s in ref_stages):
                    self.add(
                        c.path,
                        "an event_time whose rate and 'by' use row-level columns only",
                        "a reference to another event_time column (or a column derived from one)",
                        "base the rate on columns drawn per row or per entity",
                    )
            elif c.stage != 3 and any(s == 2 for s in ref_stages):
                c.stage = 2
            # kinds
            if c.kind == "expr" and c.expr is not None:
                k = c.expr.expr.kind(kinds) if c.expr.expr is not None else _lookup_kind(c.expr)
                c.value_kind = c.options.get("dtype") or k
            if c.kind == "label" and c.label is not None:
                k = c.label.kind(kinds)
                if k not in ("bool", "unknown"):
                    self.add(
                        f"{c.path}.label",
                        "a true/false expression (a comparison, and/or/not)",
                        f"an expression giving {k} values: {c.label.text!r}",
                        "compare it, e.g. 'amount > 500'",
                    )
            kinds[c.name] = c.value_kind

    def refs_by_field(self, c: ColumnDef) -> list[tuple[str, frozenset[str]]]:
        out: list[tuple[str, frozenset[str]]] = []
        for k, p in c.params.items():
            out.append((k, p.names))
        if c.round_to is not None:
            out.append(("round_to", c.round_to.names))
        if c.expr is not None:
            out.append(("expr", c.expr.names))
        if c.label is not None:
            out.append(("label", c.label.names))
        w = c.options.get("weights")
        if isinstance(w, Param):
            out.append(("weights", w.names))
        if c.per is not None:
            out.append(("per", frozenset({c.per})))
        if c.by is not None:
            out.append(("by", frozenset({c.by})))
        return out

    def field_text(self, c: ColumnDef, fld: str) -> str | None:
        if fld == "expr" and c.expr is not None and c.expr.expr is not None:
            return c.expr.expr.text
        if fld == "label" and c.label is not None:
            return c.label.text
        p = c.params.get(fld) or (c.round_to if fld == "round_to" else None)
        if p is not None and p.expr is not None:
            return p.expr.text
        return None

    def lookups(self, c: ColumnDef) -> list[tuple[str, Param]]:
        out = [(k, p) for k, p in c.params.items() if p.by is not None]
        if c.round_to is not None and c.round_to.by is not None:
            out.append(("round_to", c.round_to))
        if c.expr is not None and c.expr.by is not None:
            out.append(("expr", c.expr))
        w = c.options.get("weights")
        if isinstance(w, Param) and w.by is not None:
            out.append(("weights", w))
        return out

    # rules
    def rules(
        self,
        raw: Any,
        cols: list[ColumnDef],
        *,
        where: str = "rules",
        paths: list[str] | None = None,
    ) -> list[RuleDef]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(where, "a list of rules", repr(raw), "write each rule as '- check: ...'")
            return []
        index = {c.name: c for c in cols}
        kinds = {c.name: c.value_kind for c in cols}
        out: list[RuleDef] = []
        for i, r in enumerate(raw):
            path = paths[i] if paths is not None else f"{where}[{i}]"
            if isinstance(r, str):
                r = {"check": r}
            if not isinstance(r, Mapping):
                self.add(path, "a check string or a mapping with 'check'", repr(r), "see the docs")
                continue
            self.unknown_keys(path, r, _RULE_KEYS, "rule")
            if "check" not in r:
                self.add(path, "a 'check' expression", "no 'check'", 'add check: "amount > 0"')
                continue
            check = self.expr(f"{path}.check", r["check"])
            when = self.expr(f"{path}.when", r["when"]) if r.get("when") is not None else None
            if check is None or (r.get("when") is not None and when is None):
                continue
            ok = True
            for fld, e in (("check", check), ("when", when)):
                if e is None:
                    continue
                for n in sorted(e.names):
                    if n not in index:
                        close = difflib.get_close_matches(n, list(index), n=3)
                        self.add(
                            f"{path}.{fld}",
                            "names of columns of the spec",
                            f"unknown name {n!r} in {e.text!r}",
                            f"did you mean {', '.join(map(repr, close))}?"
                            if close
                            else "fix the name",
                        )
                        ok = False
                    elif index[n].stage == 3:
                        self.add(
                            f"{path}.{fld}",
                            "a column that is not a sequence",
                            f"the sequence column {n!r}",
                            "sequences are numbered after sorting; rules cannot use them",
                        )
                        ok = False
                k = e.kind(kinds)
                if ok and k not in ("bool", "unknown"):
                    self.add(
                        f"{path}.{fld}",
                        "a true/false expression",
                        f"an expression giving {k} values: {e.text!r}",
                        "compare it, e.g. 'amount > 0'",
                    )
                    ok = False
            if not ok:
                continue
            name = r.get("name", check.text)
            rule = RuleDef(
                name=str(name),
                check=check,
                when=when,
                path=path,
                description=r.get("description") if isinstance(r.get("description"), str) else None,
            )
            rule.stage = max([index[n].stage for n in rule.names] or [1])
            out.append(rule)
        return out

    # constraints (the sosie.constraints vocabulary): checks for the rule machinery
    def constraints(self, raw: Any, cols: list[ColumnDef]) -> tuple[list[Any], list[dict]]:
        """Parse ``constraints``; return them and the rule dicts that enforce them.

        Each constraint becomes a rule ``check`` (kept by construction where the engine can:
        bounds, grids; else by bounded redrawing), except ``null_iff``, which blanks its
        column where the condition holds (the column may not have its own ``null_rate``).
        Learned kinds need their table given (``mapping`` / ``allowed``): a spec has no data.
        """
        from ...constraints import Check, Combinations, Determines, NullIff, constraint_from_dict
        from ...errors import SchemaError

        if raw is None:
            return [], []
        if not isinstance(raw, list):
            self.add(
                "constraints",
                "a list of constraints ({kind: inequality, low: a, high: b}, ...)",
                repr(raw),
                "see sosie.constraints for the vocabulary",
            )
            return [], []
        index = {c.name: c for c in cols}
        out: list[Any] = []
        checks: list[dict] = []
        for i, r in enumerate(raw):
            path = f"constraints[{i}]"
            try:
                c = constraint_from_dict(r, where=self.where(path))
            except (SchemaError, SpecError) as e:
                self.problems.extend(e.errors)
                continue
            if isinstance(c, Check) and callable(c.expression):  # pragma: no cover - YAML
                continue
            if isinstance(c, Determines) and c.mapping is None:
                self.add(
                    path,
                    "a 'mapping' ([[key, value], ...]): a spec has no data to learn it from",
                    "none",
                    "add mapping: [[B3, B], [C1, C], ...]",
                )
                continue
            if isinstance(c, Combinations) and c.allowed is None:
                self.add(
                    path,
                    "an 'allowed' list ([[a, b], ...]): a spec has no data to learn it from",
                    "none",
                    "add allowed: [[Austin, TX], ...]",
                )
                continue
            missing = [n for n in c.columns_used if n not in index]
            if missing:
                self.add(
                    path,
                    "columns of the spec",
                    "unknown column(s) " + ", ".join(map(repr, missing)),
                    _suggest(missing[0], list(index)),
                )
                continue
            c.provenance = "user" if c.provenance == "inferred" else c.provenance
            out.append(c)
            if isinstance(c, NullIff):
                col = index[c.column]
                if col.null_rate > 0:
                    self.add(
                        path,
                        f"no null_rate on {c.column!r} (the constraint decides where it is "
                        "missing)",
                        f"null_rate {col.null_rate}",
                        f"remove null_rate from column {c.column!r}",
                    )
                    continue
                col.null_when = self.expr(f"{path}.when", c.when)
                continue
            checks.append({"name": c.describe(), "check": constraint_check(c), "_path": path})
        return out, checks

    # injected patterns
    def inject(
        self, raw: Any, cols: list[ColumnDef], rules: list[RuleDef], locale: str
    ) -> list[InjectDef]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(
                "inject",
                "a list of patterns",
                repr(raw),
                "write each pattern as '- name: ...' under 'inject:'",
            )
            return []
        index = {c.name: i for i, c in enumerate(cols)}
        new: dict[str, dict[str, Any]] = {}  # label columns that only patterns set
        out: list[InjectDef] = []
        seen: set[str] = set()
        for i, body in enumerate(raw):
            path = f"inject[{i}]"
            if not isinstance(body, Mapping):
                self.add(
                    path,
                    "a mapping with the pattern's name, entities, events, set and label",
                    repr(body),
                    "see the 'inject' section of the spec reference",
                )
                continue
            name = body.get("name", f"pattern{i}")
            if not isinstance(name, str) or not name:
                self.add(f"{path}.name", "a non-empty string", repr(name), "name the pattern")
                name = f"pattern{i}"
            elif name in seen:
                self.add(f"{path}.name", "a name used once", repr(name), "rename one pattern")
            seen.add(name)
            self.context = f" (pattern {name!r})"
            try:
                p = self.pattern(path, name, body, cols, index, rules, locale, new)
            finally:
                self.context = ""
            if p is not None:
                out.append(p)
        for col_name, info in new.items():
            cols.append(_injected_column(col_name, info))
        return out

    def pattern(
        self,
        path: str,
        name: str,
        body: Mapping[str, Any],
        cols: list[ColumnDef],
        index: dict[str, int],
        rules: list[RuleDef],
        locale: str,
        new: dict[str, dict[str, Any]],
    ) -> InjectDef | None:
        self.unknown_keys(path, body, _INJECT_KEYS, "pattern")
        n_before = len(self.problems)
        entity = self.pattern_column(
            path,
            body,
            "entity",
            cols,
            index,
            ("entity",),
            "an entity column (distribution: entity)",
        )
        time = self.pattern_column(
            path,
            body,
            "time",
            cols,
            index,
            ("datetime", "event_time"),
            "a datetime or event_time column",
        )
        p = InjectDef(name=name, path=path, entity=entity or "", time=time or "")
        d = body.get("description")
        p.description = d if isinstance(d, str) else None
        # how many episodes
        given = [k for k in ("entities", "rate") if k in body]
        if len(given) != 1:
            self.add(
                path,
                "exactly one of 'entities' (the share of entities with episodes) or 'rate' "
                "(episodes per output row)",
                "none of them" if not given else "both",
                "e.g. entities: 0.01",
            )
        if "entities" in body:
            v = body["entities"]
            if not _is_num(v) or not 0 <= v <= 1:
                self.add(
                    f"{path}.entities",
                    "the share of entities with episodes, a number between 0 and 1",
                    repr(v),
                    "e.g. entities: 0.01 (1 % of the entities)",
                )
            else:
                p.entities = float(v)
        if "rate" in body:
            v = body["rate"]
            if not _is_num(v) or v < 0:
                self.add(
                    f"{path}.rate",
                    "expected episodes per output row, a number >= 0",
                    repr(v),
                    "e.g. rate: 1.0e-5 (about 10 episodes per million rows)",
                )
            else:
                p.rate = float(v)
        if "episodes" in body:
            if "rate" in body:
                self.add(
                    f"{path}.episodes",
                    "'episodes' only with 'entities' (episodes per affected entity)",
                    "'episodes' with 'rate'",
                    "remove 'episodes' (with 'rate' each episode picks its own entity)",
                )
            else:
                p.episodes = self.count_draw(f"{path}.episodes", body["episodes"], 0, locale)
        if "events" not in body:
            self.add(
                path,
                "'events': the number of events (rows) of each episode",
                "no 'events'",
                "e.g. events: {distribution: integer, low: 3, high: 10}",
            )
        else:
            p.events = self.count_draw(f"{path}.events", body["events"], 1, locale)
        if "gap" in body:
            p.gap, p.gap_unit = self.gap_draw(f"{path}.gap", body["gap"], locale)
        else:
            p.gap = Draw(column=self.exp_gap(f"{path}.gap", 60.0, locale))
        if "at" in body:
            self.pattern_at(p, body["at"])
        ms = body.get("max_share", DEFAULT_MAX_SHARE)
        if not _is_num(ms) or not 0 < ms <= 1:
            self.add(
                f"{path}.max_share",
                "the largest share of the output rows the pattern may take, in (0, 1]",
                repr(ms),
                "e.g. max_share: 0.05",
            )
        else:
            p.max_share = float(ms)
        p.skip_rules = self.skip_rules(f"{path}.skip_rules", body.get("skip_rules"), rules)
        # what the episode's rows get
        tcol = cols[index[time]] if time in index else None
        for key in ("set", "label"):
            raw = body.get(key)
            if raw is None:
                continue
            if not isinstance(raw, Mapping) or not raw:
                self.add(
                    f"{path}.{key}",
                    "a mapping column -> value",
                    repr(raw),
                    "e.g. set: {channel: online}"
                    if key == "set"
                    else "e.g. label: {is_fraud: true}",
                )
                continue
            for col_name, v in raw.items():
                fpath = f"{path}.{key}.{col_name}"
                if col_name in p.assign:
                    self.add(
                        fpath,
                        "each column either in 'set' or in 'label'",
                        "both",
                        "keep one of them",
                    )
                    continue
                if key == "set":
                    dv = self.set_value(fpath, col_name, v, cols, index, tcol, locale)
                else:
                    dv = self.label_value(fpath, name, col_name, v, cols, index, new)
                if dv is not None:
                    p.assign[col_name] = dv
        p.labels = frozenset(str(k) for k in (body.get("label") or {}))
        if len(self.problems) > n_before:
            return None
        return p

    def pattern_column(
        self,
        path: str,
        body: Mapping[str, Any],
        key: str,
        cols: list[ColumnDef],
        index: dict[str, int],
        dists: tuple[str, ...],
        what: str,
    ) -> str | None:
        ok = [c.name for c in cols if c.kind == "draw" and c.distribution in dists and not c.per]
        listed = ", ".join(map(repr, ok)) or "none"
        if key not in body:
            if len(ok) == 1:
                return ok[0]
            self.add(
                path,
                f"'{key}': {what}",
                f"no '{key}' and {len(ok)} candidate columns ({listed})",
                f"add '{key}: <column>'"
                + ("" if ok else f" after defining {what} under 'columns'"),
            )
            return None
        v = body[key]
        if isinstance(v, str) and v in ok:
            return v
        if isinstance(v, str) and v in index:
            c = cols[index[v]]
            kind = (
                f"a column drawn per {c.per!r}" if c.per else f"a {c.distribution or c.kind} column"
            )
            found = f"{v!r}, {kind}"
        else:
            found = repr(v) + ("" if isinstance(v, str) else " (not a column name)")
        self.add(
            f"{path}.{key}",
            f"{what}: one of {listed}",
            found,
            _suggest(v, ok) if isinstance(v, str) and v not in index else f"use one of {listed}",
        )
        return None

    def pattern_draw(self, path: str, name: str, raw: Mapping[str, Any], locale: str) -> ColumnDef:
        """A distribution of a pattern, validated like a drawn column."""
        col = ColumnDef(name=name, kind="draw", path=path)
        for k in ("per", "hidden", "null_rate", "semantic_type", "description"):
            if k in raw:
                self.add(
                    f"{path}.{k}",
                    "distribution settings only (this is a value of a pattern)",
                    f"the column setting {k!r}",
                    "remove it" + (" (or write per: episode under 'set')" if k == "per" else ""),
                )
        body = {k: v for k, v in raw.items() if k not in _COMMON_KEYS}
        self.drawn(col, body, locale)
        return col

    def literal_only(self, path: str, col: ColumnDef) -> bool:
        if col.references():
            self.add(
                path,
                "numbers for the parameters (they are drawn before the episode's rows exist)",
                "a reference to " + ", ".join(map(repr, sorted(col.references()))),
                "use plain numbers",
            )
            return False
        return True

    def count_draw(self, path: str, raw: Any, minimum: int, locale: str) -> Draw:
        if _is_int(raw):
            if raw < minimum:
                self.add(path, f"an integer >= {minimum}", repr(raw), f"use {minimum} or more")
            return Draw(value=int(raw))
        if not isinstance(raw, Mapping) or "distribution" not in raw:
            self.add(
                path,
                f"an integer >= {minimum} or a distribution (with 'distribution:')",
                repr(raw),
                "e.g. {distribution: integer, low: 3, high: 10} or "
                "{distribution: poisson, lam: 5, min: 1}",
            )
            return Draw(value=minimum)
        dist = raw.get("distribution")
        if dist not in _NUMERIC_DRAWN:
            self.add(
                f"{path}.distribution",
                "a numeric distribution: " + ", ".join(_NUMERIC_DRAWN),
                repr(dist),
                _suggest(dist, _NUMERIC_DRAWN),
            )
            return Draw(value=minimum)
        col = self.pattern_draw(path, path.rsplit(".", 1)[-1], raw, locale)
        self.literal_only(path, col)
        col.value_kind = "int"
        return Draw(column=col)

    def gap_draw(self, path: str, raw: Any, locale: str) -> tuple[Draw, str]:
        if _is_num(raw):
            if raw < 0:
                self.add(path, "a gap >= 0 (seconds)", repr(raw), "use a non-negative number")
            return Draw(column=self.exp_gap(path, float(raw), locale)), "s"
        if not isinstance(raw, Mapping):
            self.add(
                path,
                "the mean gap in seconds, or a mapping such as {scale: 30, unit: s}",
                repr(raw),
                "e.g. gap: {scale: 30, unit: s} (exponential gaps with a mean of 30 s)",
            )
            return Draw(value=60.0), "s"
        unit = raw.get("unit", "s")
        if unit not in UNITS:
            self.add(
                f"{path}.unit", "one of " + ", ".join(UNITS), repr(unit), _suggest(unit, UNITS)
            )
            unit = "s"
        body = {k: v for k, v in raw.items() if k != "unit"}
        body.setdefault("distribution", "exponential")
        dist = body["distribution"]
        if dist not in _NUMERIC_DRAWN:
            self.add(
                f"{path}.distribution",
                "a numeric distribution: " + ", ".join(_NUMERIC_DRAWN),
                repr(dist),
                _suggest(dist, _NUMERIC_DRAWN),
            )
            return Draw(value=60.0), "s"
        col = self.pattern_draw(path, "gap", body, locale)
        self.literal_only(path, col)
        col.value_kind = "float"
        return Draw(column=col), unit

    def exp_gap(self, path: str, scale: float, locale: str) -> ColumnDef:
        col = ColumnDef(name="gap", kind="draw", path=path, distribution="exponential")
        col.params["scale"] = Param(value=max(scale, 1e-300))
        col.value_kind = "float"
        return col

    def pattern_at(self, p: InjectDef, raw: Any) -> None:
        path = f"{p.path}.at"
        if not isinstance(raw, Mapping):
            self.add(
                path,
                "a mapping with 'hours: [start, end]' and/or 'within: entity|table'",
                repr(raw),
                "e.g. at: {hours: [0, 5]} (episodes start between midnight and 5 am)",
            )
            return
        self.unknown_keys(path, raw, ("hours", "within"), "'at'")
        within = raw.get("within", "entity")
        if within not in ("entity", "table"):
            self.add(
                f"{path}.within",
                "'entity' (inside the entity's own time span) or 'table' (the whole table's)",
                repr(within),
                "use entity or table",
            )
        else:
            p.within = within
        if "hours" in raw:
            h = raw["hours"]
            if (
                not isinstance(h, (list, tuple))
                or len(h) != 2
                or not all(_is_num(x) and 0 <= x <= 24 for x in h)
                or h[0] == h[1]
            ):
                self.add(
                    f"{path}.hours",
                    "[start, end]: two different hours of the day in [0, 24] (start > end wraps "
                    "past midnight)",
                    repr(h),
                    "e.g. hours: [22, 5]",
                )
            else:
                p.hours = (float(h[0]), float(h[1]))

    def skip_rules(self, path: str, raw: Any, rules: list[RuleDef]) -> frozenset[str]:
        if raw is None:
            return frozenset()
        names = [r.name for r in rules]
        if raw == "all":
            return frozenset(names)
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            self.add(
                path,
                "a list of rule names (or 'all')",
                repr(raw),
                "e.g. skip_rules: [positive_amount]",
            )
            return frozenset()
        for j, x in enumerate(raw):
            if x not in names:
                self.add(
                    f"{path}[{j}]",
                    "the name of a rule: " + (", ".join(map(repr, names)) or "(the spec has none)"),
                    repr(x),
                    _suggest(x, names),
                )
        return frozenset(raw)

    def set_value(
        self,
        path: str,
        name: Any,
        raw: Any,
        cols: list[ColumnDef],
        index: dict[str, int],
        tcol: ColumnDef | None,
        locale: str,
    ) -> Draw | None:
        if name not in index:
            self.add(
                path,
                "a column of the spec",
                f"unknown column {name!r}",
                _suggest(name, index) + " (new columns go under 'label')",
            )
            return None
        c = cols[index[name]]
        why = None
        if c.distribution == "entity":
            why = ("an entity column", "episodes belong to the entity the pattern picks")
        elif c.per is not None:
            why = (
                f"an attribute drawn per {c.per!r}",
                f"episode rows keep the attributes of their {c.per}",
            )
        elif c.kind == "label":
            why = ("a label column", f"put {name} under 'label'")
        elif c.distribution in ("sequence", "event_time") or (tcol is not None and c is tcol):
            why = (
                "the pattern's time column" if c is tcol else f"a {c.distribution} column",
                "the pattern places its events with 'gap' and 'at'",
            )
        if why is not None:
            self.add(path, "a column the pattern may set", f"{name!r}, {why[0]}", why[1])
            return None
        if not isinstance(raw, Mapping):
            v = self.constant_for(path, c, raw)
            return None if v is _BAD else Draw(value=v)
        body = dict(raw)
        per = body.pop("per", None)
        if per not in (None, "episode"):
            self.add(
                f"{path}.per",
                "'episode' (one value per episode)",
                repr(per),
                "write per: episode, or remove 'per'",
            )
        if "distribution" not in body:
            self.add(
                path,
                "a constant, or a distribution (a mapping with 'distribution:')",
                repr(dict(raw)),
                "e.g. {distribution: uniform, low: 1, high: 5}",
            )
            return None
        dist = body["distribution"]
        if dist not in _SET_DISTRIBUTIONS:
            self.add(
                f"{path}.distribution",
                "one of " + ", ".join(_SET_DISTRIBUTIONS),
                repr(dist),
                _suggest(dist, _SET_DISTRIBUTIONS),
            )
            return None
        # inherit the column's own bounds and format unless the pattern gives its own
        if dist in _NUMERIC_DRAWN and c.kind == "draw" and c.distribution in _NUMERIC_DRAWN:
            own = self.raw_column(c)
            for k in ("min", "max", "bounds"):
                if k not in body and k in own:
                    body[k] = own[k]
        if dist in _NUMERIC_DRAWN and "decimals" not in body and c.decimals is not None:
            body["decimals"] = c.decimals
        n_before = len(self.problems)
        d = self.pattern_draw(path, str(name), body, locale)
        if len(self.problems) > n_before:
            return None
        # references: columns computed before this one
        pos = index[name]
        for n in sorted(d.references()):
            if n not in index:
                self.add(
                    path,
                    f"names of columns defined above {name!r}",
                    f"unknown name {n!r}",
                    _suggest(n, [x for x in index if index[x] < pos]),
                )
            elif index[n] >= pos:
                self.add(
                    path,
                    f"only columns defined above {name!r}",
                    f"a reference to {n!r}",
                    "move the column up, or use a column above " + repr(name),
                )
            elif cols[index[n]].stage > c.stage:
                self.add(
                    path,
                    f"columns available when {name!r} is computed",
                    f"a reference to {n!r} (computed from event times or a sequence)",
                    "use row-level columns",
                )
        # kinds and values
        kind = c.value_kind
        bad = None
        if dist in _NUMERIC_DRAWN:
            if kind not in ("int", "float", "unknown"):
                bad = f"a number distribution ({dist}) for a {kind} column"
            elif kind in ("int", "float"):
                d.value_kind = kind
        elif dist == "categorical":
            for v in d.options.get("categories") or []:
                self.constant_for(f"{path}.categories", c, v)
        elif dist == "datetime":
            if kind != "datetime":
                bad = f"a datetime distribution for a {kind} column"
            elif d.options.get("tz") != c.options.get("tz"):
                bad = f"time zone {d.options.get('tz')!r}, the column has {c.options.get('tz')!r}"
        elif kind not in (d.value_kind, "unknown"):
            bad = f"{dist} values ({d.value_kind}) for a {kind} column"
        if bad is not None:
            self.add(path, f"values of the kind of {name!r}", bad, "draw values of that kind")
        if len(self.problems) > n_before:
            return None
        return Draw(column=d, per_episode=per == "episode")

    def raw_column(self, c: ColumnDef) -> Mapping[str, Any]:
        raw = (self.data.get("columns") or {}).get(c.name)
        return raw if isinstance(raw, Mapping) else {}

    def constant_for(self, path: str, c: ColumnDef, v: Any) -> Any:
        """Check a constant against a column's kind, categories and bounds; _BAD if wrong."""
        kind = c.value_kind
        dom = _domain(c)
        if dom is not None:
            if not any(v == x and isinstance(v, bool) == isinstance(x, bool) for x in dom):
                shown = ", ".join(map(repr, dom[:20])) + (" ..." if len(dom) > 20 else "")
                close = difflib.get_close_matches(str(v), [str(x) for x in dom], n=1)
                self.add(
                    path,
                    f"a value of {c.name!r}: one of {shown}",
                    repr(v),
                    f"did you mean {close[0]!r}?" if close else "use one of the listed values",
                )
                return _BAD
            return v
        ok = {
            "int": _is_int(v) or (_is_num(v) and float(v).is_integer()),
            "float": _is_num(v),
            "bool": isinstance(v, bool),
            "str": isinstance(v, str),
        }.get(kind)
        if kind == "datetime":
            ts = self.timestamp(path, v, c.options.get("tz"))
            return _BAD if ts is None else ts
        if ok is False:
            self.add(
                path,
                f"a {kind} value (the kind of {c.name!r})",
                repr(v),
                f"give a {kind} value",
            )
            return _BAD
        if kind == "unknown" and not isinstance(v, (str, int, float, bool)):
            self.add(path, "a plain value (text, number, true/false)", repr(v), "fix the value")
            return _BAD
        if _is_num(v) and ((c.min is not None and v < c.min) or (c.max is not None and v > c.max)):
            self.add(
                path,
                f"a value within the bounds of {c.name!r} [{c.min}, {c.max}]",
                repr(v),
                "use a value within the bounds",
            )
            return _BAD
        return int(v) if kind == "int" else v

    def label_value(
        self,
        path: str,
        pattern: str,
        name: Any,
        raw: Any,
        cols: list[ColumnDef],
        index: dict[str, int],
        new: dict[str, dict[str, Any]],
    ) -> Draw | None:
        if name in index:
            c = cols[index[name]]
            if c.kind not in ("label", "expr"):
                self.add(
                    path,
                    "a label or derived (expr) column, or the name of a new column",
                    f"{name!r}, a drawn column",
                    f"put {name} under 'set'",
                )
                return None
            if isinstance(raw, Mapping):
                self.add(
                    path,
                    f"a constant ({name!r} is a column of the spec, so its other rows "
                    "keep their own values)",
                    repr(dict(raw)),
                    "write the value only",
                )
                return None
            v = self.constant_for(path, c, raw)
            return None if v is _BAD else Draw(value=v)
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            self.add(
                path,
                "a column name usable in expressions (letters, digits, _; not a keyword)",
                repr(name),
                "rename it",
            )
            return None
        if name.startswith("__"):
            self.add(path, "a name not starting with '__'", repr(name), "rename it")
            return None
        default_given = isinstance(raw, Mapping)
        if default_given:
            self.unknown_keys(path, raw, ("value", "default"), "new label")
            if "value" not in raw:
                self.add(path, "a 'value'", "no 'value'", "e.g. {value: burst, default: none}")
                return None
            value, default = raw["value"], raw.get("default")
        else:
            value, default = raw, None
        for what, v in (("value", value), ("default", default)):
            plain = isinstance(v, (str, bool, int)) or (isinstance(v, float) and math.isfinite(v))
            if (v is not None or what == "value") and not plain:
                self.add(
                    path, f"a plain {what} (text, number, true/false)", repr(v), "fix the value"
                )
                return None
        kind = _value_kind(value)
        if default is None:
            default = {"bool": False, "str": "none", "int": 0, "float": 0.0}[kind]
        elif _value_kind(default) != kind and {kind, _value_kind(default)} != {"int", "float"}:
            self.add(
                f"{path}.default",
                f"a default of the kind of the value ({kind})",
                repr(default),
                "use a default of the same kind",
            )
            return None
        info = new.get(name)
        if info is None:
            new[name] = {
                "kind": kind,
                "default": default,
                "explicit": default_given and "default" in raw,
                "values": [value],
                "path": path,
                "patterns": [pattern],
            }
        else:
            kinds = {info["kind"], kind}
            if len(kinds) > 1 and kinds != {"int", "float"}:
                self.add(
                    path,
                    f"a {info['kind']} value, as in pattern {info['patterns'][0]!r}",
                    repr(value),
                    "give the new column values of one kind",
                )
                return None
            if default_given and "default" in raw:
                if info["explicit"] and info["default"] != default:
                    self.add(
                        f"{path}.default",
                        f"the default given in pattern {info['patterns'][0]!r} "
                        f"({info['default']!r})",
                        repr(default),
                        "give the same default (or one default only)",
                    )
                    return None
                info.update(default=default, explicit=True)
            if "float" in kinds:
                info["kind"] = "float"
            if value not in info["values"]:
                info["values"].append(value)
            info["patterns"].append(pattern)
        return Draw(value=value)

    def order_by(self, raw: Any, cols: list[ColumnDef]) -> list[str]:
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            self.add(
                "order_by", "a list of column names", repr(raw), "e.g. order_by: [host, timestamp]"
            )
            return []
        index = {c.name: c for c in cols}
        out = []
        for i, n in enumerate(raw):
            if n not in index:
                self.add(f"order_by[{i}]", "a column of the spec", repr(n), _suggest(n, index))
            elif index[n].stage == 3:
                self.add(
                    f"order_by[{i}]",
                    "a column that is not a sequence",
                    repr(n),
                    "sequences are numbered in the sorted order; sort by other columns",
                )
            else:
                out.append(n)
        return out

    # rules enforced while drawing
    def constructive(
        self, cols: list[ColumnDef], rules: list[RuleDef], inject: list[InjectDef] | None = None
    ) -> None:
        index = {c.name: i for i, c in enumerate(cols)}
        # column name -> where its bounds go: (the drawn definition, position, stage, rules skipped)
        targets: dict[str, list[tuple[ColumnDef, int, int, frozenset[str]]]] = {}
        for i, c in enumerate(cols):
            if c.kind == "draw" and c.distribution in _NUMERIC_DRAWN and c.per is None:
                targets.setdefault(c.name, []).append((c, i, c.stage, frozenset()))
        for p in inject or []:  # a pattern's numeric draws obey the same rules (unless skipped)
            for name, d in p.assign.items():
                if d.column is not None and d.column.distribution in _NUMERIC_DRAWN:
                    t = cols[index[name]]
                    targets.setdefault(name, []).append(
                        (d.column, index[name], t.stage, p.skip_rules)
                    )
        for ri, rule in enumerate(rules):
            body = rule.check.tree.body
            conjuncts = (
                body.values
                if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And)
                else [body]
            )
            for node in conjuncts:
                for name, item in _constructive_items(node):
                    for dst, pos, stage, skip in targets.get(name, ()):
                        if rule.name in skip:
                            continue
                        # the `when` must be computable when the column is drawn
                        if rule.when is not None and any(
                            n not in index or index[n] >= pos or cols[index[n]].stage > stage
                            for n in rule.when.names
                        ):
                            continue
                        dst.constructive.append(_Construct(rule=ri, when=rule.when, **item))


_BAD = object()  # marks a constant that failed validation


def _injected_column(name: str, info: dict[str, Any]) -> ColumnDef:
    """The column of a label that only patterns set: a constant default on the other rows."""
    kind, default = info["kind"], info["default"]
    if kind == "float":
        default = float(default)
    col = ColumnDef(
        name=name,
        kind="expr",
        path=info["path"],
        expr=Param(expr=parse_expression(repr(default))),
        value_kind=kind,
    )
    col.options["dtype"] = kind
    col.options["injected"] = [default, *[v for v in info["values"] if v != default]]
    col.description = (
        "set on the rows of the injected pattern(s) "
        + ", ".join(map(repr, dict.fromkeys(info["patterns"])))
        + f"; {default!r} on the other rows"
    )
    return col


def _constructive_items(node: ast.AST) -> list[tuple[str, dict[str, Any]]]:
    """Recognise ``col OP number`` (chains too) and ``col % k == 0`` in a rule's check."""
    out: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(node, ast.Compare):
        return out
    # grid: col % k == 0
    if (
        len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and isinstance(node.left, ast.BinOp)
        and isinstance(node.left.op, ast.Mod)
        and isinstance(node.left.left, ast.Name)
        and _num_const(node.left.right) is not None
        and _num_const(node.comparators[0]) == 0
    ):
        k = _num_const(node.left.right)
        if k is not None and k > 0:
            out.append((node.left.left.id, {"grid": float(k)}))
        return out
    operands = [node.left, *node.comparators]
    for a, op, b in zip(operands, node.ops, operands[1:], strict=False):
        if isinstance(a, ast.Name) and _num_const(b) is not None:
            name, val, flip = a.id, _num_const(b), False
        elif isinstance(b, ast.Name) and _num_const(a) is not None:
            name, val, flip = b.id, _num_const(a), True
        else:
            continue
        kind = type(op)
        if flip:
            kind = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}.get(
                kind, kind
            )
        if kind in (ast.Gt, ast.GtE):
            out.append((name, {"lo": float(val), "lo_strict": kind is ast.Gt}))
        elif kind in (ast.Lt, ast.LtE):
            out.append((name, {"hi": float(val), "hi_strict": kind is ast.Lt}))
    return out


def _number_fix(v: Any) -> str:
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return "write a plain number (expressions are not allowed here)"
        return f"YAML reads {v} as text; write it with a signed exponent (5.0e+9) or in full"
    return "write a plain number"


def _num_const(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _num_const(node.operand)
        return -v if v is not None else None
    if isinstance(node, ast.Constant) and _is_num(node.value):
        return node.value
    return None


def _value_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (_dt.datetime, _dt.date)):
        return "unknown"
    return "unknown"


def _lookup_kind(p: Param) -> str:
    kinds = {_value_kind(v) for v in p.literal_values()}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"int", "float"}:
        return "float"
    return "unknown"


def _is_group(c: ColumnDef) -> bool:
    return c.distribution in ("entity", "categorical", "bernoulli") and c.kind == "draw"


def _domain(c: ColumnDef) -> list[Any] | None:
    """The finite set of values of a column, if the spec fixes it."""
    if c.kind != "draw":
        if c.kind == "label":
            return [False, True]
        return None
    if c.distribution == "categorical":
        return c.options.get("categories")
    if c.distribution == "bernoulli":
        return [False, True]
    if c.distribution == "entity":
        return _entity_values(c)
    return None


def _entity_values(c: ColumnDef) -> list[Any]:
    start, count, fmt = c.options["start"], c.options["count"], c.options["format"]
    if fmt:
        return [fmt.format(i) for i in range(start, start + count)]
    return list(range(start, start + count))


# -- summary -------------------------------------------------------------------------------
def _id_template(fmt: str | None) -> str:
    """``'C{:06d}'`` -> ``'C{d6}'`` (the schema's id template), else the format itself."""
    if not fmt:
        return "int"
    import re

    m = re.fullmatch(r"(.*)\{:0(\d+)d\}(.*)", fmt, flags=re.S)
    if m and "{" not in m.group(1) + m.group(3):
        return f"{m.group(1)}{{d{m.group(2)}}}{m.group(3)}"
    return fmt


def _pandas_dtype(kind: str, tz: str | None = None) -> str:
    return {
        "int": "int64",
        "float": "float64",
        "bool": "bool",
        "datetime": f"datetime64[ns, {tz}]" if tz else "datetime64[ns]",
    }.get(kind, "object")


def _summarise(spec: RuleSpec, c: ColumnDef) -> ColumnSummary:
    facts: dict[str, Any] = {}
    kind = c.value_kind
    sem = "categorical"
    if c.kind == "label" or kind == "bool":
        sem, kind = "boolean", "bool"
    elif c.kind == "draw":
        d = c.distribution
        if d in _NUMERIC_DRAWN:
            sem = "numerical"
            facts.update(_numeric_facts(spec, c))
        elif d == "categorical":
            facts["categories"] = list(c.options["categories"])
        elif d in ("datetime", "event_time"):
            sem = "datetime"
            tz = c.options.get("tz")
            res = c.options["resolution"]
            facts["resolution"] = "m" if res == "min" else res
            if tz:
                facts["timezone"] = tz
            s = c.options.get("start")
            if s is not None:
                facts["min"] = s.isoformat()
            e = c.options.get("end")
            if e is not None:
                facts["max"] = e.isoformat()
        elif d == "sequence":
            sem = "id"
            facts["id_format"] = _id_template(c.options.get("format"))
        elif d == "entity":
            # an entity key repeats across rows (a foreign key), so it is categorical, not an id
            facts["categories"] = list(_entity_values(c))
            facts["high_cardinality"] = len(facts["categories"]) > 500
        elif d == "uuid":
            sem = "id"
            facts["id_format"] = "uuid"
        elif d == "faker":
            provider = c.options.get("provider", "")
            facts["locale"] = c.options.get("locale", spec.locale)
            if provider in _PII_PROVIDERS:
                sem = "pii"
                facts["pii_kind"] = _PII_PROVIDERS[provider]
            elif provider in _TEXT_PROVIDERS:
                sem = "text"
            else:
                sem = "categorical"
                del facts["locale"]
    elif kind in ("int", "float"):
        sem = "numerical"
        facts["dtype"] = kind
        if c.decimals is not None:
            facts["decimals"] = c.decimals
    elif kind == "datetime":
        sem = "datetime"
    elif kind == "str" and c.expr is not None and c.expr.by is not None:
        vals = c.expr.literal_values()
        facts["categories"] = sorted({str(v) for v in vals})
    elif kind == "str" and "injected" in c.options:
        facts["categories"] = [str(v) for v in c.options["injected"]]
    elif kind == "str" and c.expr is not None and c.expr.expr is not None:
        leaves = _if_leaves(c.expr.expr.tree.body)
        if leaves is not None and len(leaves) > 1:
            facts["categories"] = leaves
    if "categories" in facts and c.kind == "expr":  # values that patterns label rows with
        for p in spec.inject:
            d = p.assign.get(c.name)
            if d is not None and d.is_constant and str(d.value) not in facts["categories"]:
                facts["categories"].append(str(d.value))
    if kind == "unknown":
        kind = "str"
    if c.semantic_type is not None:
        sem = c.semantic_type
    tz = c.options.get("tz") if kind == "datetime" else None
    if sem == "numerical" and kind in ("int", "float"):
        facts.setdefault("dtype", kind)
    return ColumnSummary(
        name=c.name,
        semantic_type=sem,
        dtype=kind,
        pandas_dtype=_pandas_dtype(kind, tz),
        nullable=c.null_rate > 0 or c.null_when is not None,
        facts=facts,
        description=c.description,
    )


def constraint_check(c: Any) -> str:
    """A constraint as a rule ``check`` expression (every kind but ``null_iff``).

    Example:
        >>> from sosie.constraints import Combinations, Grid, Inequality
        >>> constraint_check(Inequality("start", "end", strict=True))
        'start < end'
        >>> constraint_check(Grid("amount", 20))
        'amount % 20 == 0'
        >>> constraint_check(Combinations(["city", "state"], allowed=[["Austin", "TX"]]))
        "(city == 'Austin' and state == 'TX')"
    """
    from ...constraints import Check, Combinations, Determines, Formula, Grid, Inequality

    def same(col: str, v: Any) -> str:
        return f"isnull({col})" if v is None else f"{col} == {v!r}"

    if isinstance(c, Inequality):
        return f"{c.low} {'<' if c.strict else '<='} {c.high}"
    if isinstance(c, Grid):
        x = c.column if not c.offset else f"({c.column} - {c.offset!r})"
        if float(c.step).is_integer():  # the engine snaps draws to this form while drawing
            return f"{x} % {int(c.step)} == 0"
        k = f"{x} / {c.step!r}"  # a float step: within a millionth of a grid point
        return f"abs({k} - round({k})) <= 1e-06"
    if isinstance(c, Formula):
        tol = c.effective_tolerance() * (1 + 1e-6) + 1e-9
        return f"abs({c.column} - ({c.expression})) <= {tol!r}"
    if isinstance(c, Combinations):
        rows = c.allowed or []
        return " or ".join(
            "(" + " and ".join(same(col, v) for col, v in zip(c.columns, r, strict=True)) + ")"
            for r in rows
        )
    if isinstance(c, Determines):
        keys = c.columns
        parts = []
        for row in c.mapping or []:
            key = " and ".join(same(k, v) for k, v in zip(keys, row[:-1], strict=True))
            parts.append(f"(not ({key}) or {same(c.column, row[-1])})")
        return " and ".join(parts)
    if isinstance(c, Check):
        return str(c.expression)
    raise TypeError(f"no rule check for a {c.kind!r} constraint")


def _if_leaves(node: ast.AST) -> list[str] | None:
    """The text constants of ``'a' if x else ('b' if y else 'c')``; None for anything else."""
    if isinstance(node, ast.IfExp):
        a, b = _if_leaves(node.body), _if_leaves(node.orelse)
        return None if a is None or b is None else list(dict.fromkeys(a + b))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return None


def _numeric_facts(spec: RuleSpec, c: ColumnDef) -> dict[str, Any]:
    lo, hi = c.min, c.max
    d = c.distribution
    natural_lo = {"lognormal": 0.0, "exponential": 0.0, "gamma": 0.0, "beta": 0.0, "poisson": 0.0}
    if d in natural_lo:
        lo = natural_lo[d] if lo is None else max(lo, natural_lo[d])
    if d == "beta":
        hi = 1.0 if hi is None else min(hi, 1.0)
    if d in ("uniform", "integer"):
        a, b = c.params.get("low"), c.params.get("high")
        if a is not None and a.is_literal:
            lo = float(a.value) if lo is None else max(lo, float(a.value))
        if b is not None and b.is_literal:
            hi = float(b.value) if hi is None else min(hi, float(b.value))
    for k in c.constructive:
        if k.when is None and k.lo is not None:
            lo = k.lo if lo is None else max(lo, k.lo)
        if k.when is None and k.hi is not None:
            hi = k.hi if hi is None else min(hi, k.hi)
    facts: dict[str, Any] = {"dtype": c.value_kind}
    if lo is not None:
        facts["min"] = math.ceil(lo) if c.value_kind == "int" else lo
    if hi is not None:
        facts["max"] = math.floor(hi) if c.value_kind == "int" else hi
    if c.decimals is not None and c.value_kind == "float":
        facts["decimals"] = c.decimals
    return facts
