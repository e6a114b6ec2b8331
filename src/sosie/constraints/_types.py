"""The constraint vocabulary: what a table's exact rules look like, as data.

Every constraint is a small dataclass with a ``kind`` and a JSON form (the same
dicts in a schema's ``constraints`` list and in a rule-based spec), a one-line
:meth:`~Constraint.describe`, and :meth:`~Constraint.holds`: a vectorised
per-row test on a table in the source's own types (strings, numbers, dates).

Kinds:

* ``formula``: ``column == expression`` over other columns (rounded to ``decimals``,
  within ``tolerance``); the column is derived, never modelled;
* ``determines``: ``columns`` determine ``column`` (a functional dependency; the
  ``mapping`` is learned from the data at fit unless given);
* ``combinations``: only the ``allowed`` combinations of ``columns`` occur (learned
  unless given);
* ``inequality``: ``low <= high`` (``strict``: ``<``) between numbers or datetimes;
* ``grid``: ``column`` takes values ``offset + k * step`` only;
* ``null_iff``: ``column`` is missing exactly where the expression ``when`` holds;
* ``check``: any vectorised predicate: an expression string (saved with the model) or a
  Python callable ``frame -> bool array`` (kept in memory only).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..errors import Problem, SchemaError

__all__ = [
    "KINDS",
    "Check",
    "Combinations",
    "Constraint",
    "Determines",
    "Formula",
    "Grid",
    "Inequality",
    "NullIff",
    "constraint_from_dict",
]

_PROVENANCES = ("user", "public", "inferred")


@dataclass(eq=True)
class Constraint:
    """Base of every constraint kind (see the module docstring for the vocabulary).

    Attributes:
        provenance: ``"user"`` (declared), ``"public"`` or ``"inferred"`` (discovered).
        evidence: why it was discovered (support, violations, chance probability).
    """

    kind: ClassVar[str] = ""
    provenance: str = field(default="user", kw_only=True)
    evidence: list[str] = field(default_factory=list, kw_only=True)

    # -- structure ----------------------------------------------------------------------
    @property
    def columns_used(self) -> list[str]:
        """Every column the constraint reads or writes, in a stable order."""
        raise NotImplementedError

    def describe(self) -> str:
        """A one-line human description."""
        raise NotImplementedError

    def holds(self, data: pd.DataFrame, schema: Any = None, state: Any = None) -> np.ndarray:
        """Per-row validity (``True`` where the row satisfies the constraint).

        Args:
            data: a table in the source's types.
            schema: the table's :class:`~sosie.schema.TableSchema` (parses dates and
                numbers written as strings); optional.
            state: what was learned at fit (a mapping or the allowed combinations);
                without it, learned kinds judge each row against the table itself.
        """
        raise NotImplementedError

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"kind": ..., <fields>, "provenance": ..., "evidence": [...]}``.

        Example:
            >>> Inequality("start", "end").to_dict()
            {'kind': 'inequality', 'low': 'start', 'high': 'end', 'provenance': 'user'}
        """
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            if f.name in ("provenance", "evidence"):
                continue
            v = getattr(self, f.name)
            if v is None or v == f.default:
                continue
            if callable(v):
                raise SchemaError(
                    Problem(
                        f"constraint {self.describe()!r}",
                        "a constraint that can be written as JSON",
                        "a Python callable",
                        "write the predicate as an expression string (check: 'a + b <= c'), "
                        "or keep the callable constraint in memory only (it is not saved)",
                    )
                )
            out[f.name] = _jsonable(v)
        out["provenance"] = self.provenance
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out

    def __str__(self) -> str:
        return self.describe()


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# -- column access in source types ------------------------------------------------------
def _series(data: pd.DataFrame, name: str, schema: Any) -> pd.Series:
    """A column in sosie's working form (numbers float64, datetimes parsed) when typed."""
    s = data[name]
    if schema is not None and name in schema:
        from ..schema._types import SemanticType
        from ..schema._validate import coerce_column

        spec = schema[name]
        if spec.type in (SemanticType.NUMERICAL, SemanticType.DATETIME):
            parsed, _ = coerce_column(s, spec)
            return parsed
    return s


def _values(data: pd.DataFrame, name: str, schema: Any) -> np.ndarray:
    s = _series(data, name, schema)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    if s.dtype.kind in "iufb":
        return s.to_numpy(dtype="float64", na_value=np.nan)
    if s.dtype.kind == "M":
        return s.to_numpy()
    if isinstance(s.dtype, pd.BooleanDtype) or str(s.dtype) in ("Int64", "Float64"):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    return _objects(s)


def expression_env(data: pd.DataFrame, names: Any, schema: Any = None) -> dict[str, np.ndarray]:
    """Column name -> numpy values, for evaluating an expression on ``data``."""
    return {n: _values(data, n, schema) for n in names if n in data.columns}


def _missing(data: pd.DataFrame, names: Any) -> list[str]:
    return [n for n in names if n not in data.columns]


def _require(data: pd.DataFrame, c: Constraint) -> None:
    miss = _missing(data, c.columns_used)
    if miss:
        raise SchemaError(
            Problem(
                f"constraint {c.describe()!r}",
                "columns present in the table",
                "no column " + ", ".join(map(repr, miss)),
                "fix the column names in the constraint, or remove it",
            )
        )


def _key_codes(data: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Each row's key over ``names`` as a code into the distinct keys (tuples of plain values;
    nulls as None). Vectorised: Python touches each distinct key once, not each row."""
    n = len(data)
    if not names or n == 0:
        return np.zeros(n, dtype=np.int64), [()] if n else []
    codes, uniques = [], []
    for name in names:
        c, u = pd.factorize(data[name], use_na_sentinel=True)
        codes.append(c.astype(np.int64) + 1)  # 0: missing
        uniques.append([None, *(_plain(v) for v in np.asarray(u, dtype=object))])
    rows, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    keys = [tuple(uniques[j][k] for j, k in enumerate(row)) for row in rows]
    return inverse.reshape(-1), keys


def _keys(data: pd.DataFrame, names: list[str]) -> pd.Series:
    """One hashable key per row (a tuple over ``names``; nulls as None)."""
    inverse, keys = _key_codes(data, names)
    table = np.empty(len(keys), dtype=object)
    table[:] = keys
    return pd.Series(table[inverse], index=data.index, dtype=object)


def _per_key(data: pd.DataFrame, names: list[str], fn: Callable[[tuple], Any]) -> np.ndarray:
    """``fn(key)`` for every row's key, computed once per distinct key (an object array)."""
    inverse, keys = _key_codes(data, names)
    table = np.empty(len(keys), dtype=object)
    table[:] = [fn(k) for k in keys]
    return table[inverse]


def _objects(s: pd.Series) -> np.ndarray:
    """A column as an object array with ``None`` for every kind of missing value."""
    out = s.astype(object).to_numpy(copy=True)
    out[pd.isna(out)] = None
    return out


def _plain(v: Any) -> Any:
    """A value as its JSON-able Python scalar (so keys match after a JSON round trip)."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def round_half_up(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round halves away from zero, as bills and ledgers do (numpy rounds them to even).

    Example:
        >>> round_half_up(np.array([0.125, 2.5, -2.5]), 2).tolist(), round_half_up(np.array([2.5]), 0)
        ([0.13, 2.5, -2.5], array([3.]))
    """
    scale = 10.0**decimals
    y = np.abs(x) * scale
    # a tiny nudge: 0.125 * 100 is 12.499999999999998 in binary floating point
    r = np.floor(y + 0.5 + 1e-9 * np.maximum(1.0, y))
    return np.sign(x) * r / scale


# -- the kinds --------------------------------------------------------------------------
class _ExpressionOf:
    """Shared by the kinds whose ``column`` follows an expression over other columns."""

    kind: ClassVar[str]
    column: str
    _text: ClassVar[str]  # the field holding the expression

    @property
    def expr(self) -> Any:
        from ..generators.rules._expr import parse_expression

        text = getattr(self, self._text)
        return parse_expression(text, where=f"{self.kind} constraint on {self.column!r}")

    @property
    def inputs(self) -> list[str]:
        return sorted(self.expr.names)

    @property
    def columns_used(self) -> list[str]:
        return [*self.inputs, self.column]

    def _evaluate(self, data: pd.DataFrame, schema: Any) -> Any:
        return self.expr.evaluate(expression_env(data, self.inputs, schema), len(data))


@dataclass(eq=True)
class Formula(_ExpressionOf, Constraint):
    """``column`` equals ``expression`` (rounded to ``decimals``, within ``tolerance``).

    Guaranteed by construction: the column is removed before fitting and computed from
    the sampled inputs.

    Args:
        column: the derived column.
        expression: an expression over other columns in sosie's safe expression language
            (``+ - * / ** round() min() max() where()...``).
        decimals: rounding of the computed value (``None``: the column's own decimals,
            whole numbers for an int column).
        tolerance: the largest difference that still counts as equal (``None``: half a unit
            of the last decimal, or 1e-9 relative).

    Example:
        >>> f = Formula("total", "price * qty", decimals=2)
        >>> f.holds(pd.DataFrame({"price": [1.5, 2.0], "qty": [2, 3], "total": [3.0, 5.0]}))
        array([ True, False])
    """

    kind: ClassVar[str] = "formula"
    _text: ClassVar[str] = "expression"
    column: str
    expression: str
    decimals: int | None = None
    tolerance: float | None = None

    def describe(self) -> str:
        return f"{self.column} = {self.expression}"

    def compute(self, data: pd.DataFrame, schema: Any = None) -> np.ndarray:
        """The expression's value on every row (float64, NaN where an input is missing)."""
        out = np.asarray(self._evaluate(data, schema), dtype="float64")
        if self.decimals is not None:
            out = round_half_up(out, self.decimals)
        return out

    def effective_tolerance(self, schema: Any = None) -> float:
        if self.tolerance is not None:
            return float(self.tolerance)
        d = self.decimals
        if d is None and schema is not None and self.column in schema:
            spec = schema[self.column]
            d = 0 if spec.dtype == "int" else spec.decimals
        return 0.5 * 10.0 ** (-d) if d is not None else 0.0

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        y = _values(data, self.column, schema).astype("float64")
        # any rounding of the exact value passes (half up, half to even, float artefacts)
        x = np.asarray(self._evaluate(data, schema), dtype="float64")
        tol = self.effective_tolerance(schema) * (1 + 1e-6) + 1e-9 * np.maximum(np.abs(x), 1.0)
        both_null = np.isnan(y) & np.isnan(x)
        with np.errstate(invalid="ignore"):
            return both_null | (np.abs(y - x) <= tol)


@dataclass(eq=True)
class Determines(Constraint):
    """``columns`` determine ``column``: equal keys always carry the same value.

    Guaranteed by construction: ``column`` is removed before fitting and looked up from the
    sampled keys in ``mapping`` (learned from the data at fit when not given; rows
    ``[key..., value]``).

    Example:
        >>> d = Determines(["sub_grade"], "grade")
        >>> df = pd.DataFrame({"sub_grade": ["B3", "B3", "C1"], "grade": ["B", "C", "C"]})
        >>> d.holds(df, state={("B3",): "B", ("C1",): "C"}).tolist()
        [True, False, True]
    """

    kind: ClassVar[str] = "determines"
    columns: list[str]
    column: str
    mapping: list[list[Any]] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.columns, str):
            self.columns = [self.columns]

    @property
    def columns_used(self) -> list[str]:
        return [*self.columns, self.column]

    def describe(self) -> str:
        return f"{' + '.join(self.columns)} determines {self.column}"

    def learn(self, data: pd.DataFrame) -> dict[tuple, Any]:
        """Key -> the most frequent value of ``column`` (the given ``mapping`` when set)."""
        if self.mapping is not None:
            return {tuple(_plain(v) for v in row[:-1]): row[-1] for row in self.mapping}
        keys = _keys(data, self.columns)
        vals = [_plain(v) for v in _objects(data[self.column])]
        frame = pd.DataFrame({"k": keys.to_numpy(), "v": pd.Series(vals, dtype=object)})
        top = frame.groupby(["k", "v"], dropna=False, sort=False).size()
        top = top.sort_values(ascending=False, kind="stable")
        first = top[~top.index.get_level_values(0).duplicated()]
        return {k: v for k, v in first.index}

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        mapping = state if state is not None else self.learn(data)
        k = len(self.columns)

        def ok(key: tuple) -> bool:  # (key..., value): unseen keys pass
            want = mapping.get(key[:k], _UNSEEN)
            return want is _UNSEEN or _eq(key[k], want)

        return _per_key(data, [*self.columns, self.column], ok).astype(bool)


_UNSEEN = object()


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(eq=True)
class Combinations(Constraint):
    """Only the ``allowed`` combinations of ``columns`` occur (city-state pairs, for instance).

    Guaranteed by construction: the columns are modelled as one joint column whose values
    are the allowed combinations (learned from the data at fit when not given).

    Example:
        >>> c = Combinations(["city", "state"])
        >>> df = pd.DataFrame({"city": ["Austin", "Austin"], "state": ["TX", "CA"]})
        >>> c.holds(df, state={("Austin", "TX")}).tolist()
        [True, False]
    """

    kind: ClassVar[str] = "combinations"
    columns: list[str]
    allowed: list[list[Any]] | None = None

    @property
    def columns_used(self) -> list[str]:
        return list(self.columns)

    def describe(self) -> str:
        return f"fixed combinations of {', '.join(self.columns)}"

    def learn(self, data: pd.DataFrame) -> set[tuple]:
        if self.allowed is not None:
            return {tuple(_plain(v) for v in row) for row in self.allowed}
        return set(_key_codes(data, self.columns)[1])

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        allowed = state if state is not None else self.learn(data)
        return _per_key(data, self.columns, lambda k: k in allowed).astype(bool)


@dataclass(eq=True)
class Inequality(Constraint):
    """``low <= high`` (``<`` when ``strict``) between two numerical or two datetime columns.

    Guaranteed by construction: ``high`` is modelled as the non-negative gap
    ``high - low`` and rebuilt as ``low + gap``, or (non-negative numbers, when ``low`` is
    the less concentrated side) ``low`` as the share ``low / high`` in [0, 1], rebuilt as
    ``share * high``. Rows where either side is missing pass.

    Example:
        >>> Inequality("start", "end").holds(pd.DataFrame({"start": [1, 5], "end": [2, 4]}))
        array([ True, False])
    """

    kind: ClassVar[str] = "inequality"
    low: str
    high: str
    strict: bool = False

    @property
    def columns_used(self) -> list[str]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.low} {'<' if self.strict else '<='} {self.high}"

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        a, b = _values(data, self.low, schema), _values(data, self.high, schema)
        if a.dtype == object or b.dtype == object:
            a, b = pd.to_numeric(pd.Series(a)).to_numpy(), pd.to_numeric(pd.Series(b)).to_numpy()
        free = pd.isna(a) | pd.isna(b)
        with np.errstate(invalid="ignore"):
            ok = (a < b) if self.strict else (a <= b)
        return np.asarray(free | ok, dtype=bool)


@dataclass(eq=True)
class Grid(Constraint):
    """``column`` takes only values ``offset + k * step`` (ATM amounts in multiples of 20).

    Guaranteed by construction: sampled values are snapped to the nearest grid point within
    the column's range. Missing values pass.

    Example:
        >>> Grid("amount", 20).holds(pd.DataFrame({"amount": [40, 50, None]})).tolist()
        [True, False, True]
    """

    kind: ClassVar[str] = "grid"
    column: str
    step: float
    offset: float = 0.0

    @property
    def columns_used(self) -> list[str]:
        return [self.column]

    def describe(self) -> str:
        off = f" + {_num(self.offset)}" if self.offset else ""
        return f"{self.column} in steps of {_num(self.step)}{off}"

    def snap(self, x: np.ndarray) -> np.ndarray:
        return self.offset + np.round((x - self.offset) / self.step) * self.step

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        x = _values(data, self.column, schema).astype("float64")
        k = (x - self.offset) / self.step
        with np.errstate(invalid="ignore"):
            return np.isnan(x) | (np.abs(k - np.round(k)) <= 1e-6 * np.maximum(1, np.abs(k)))


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@dataclass(eq=True)
class NullIff(_ExpressionOf, Constraint):
    """``column`` is missing exactly on the rows where the expression ``when`` holds.

    Guaranteed by construction: the model sees the column with its real missing values;
    after sampling the rows where ``when`` holds are blanked, and a row where it does not
    but the model left a gap borrows the value of another sampled row.

    Example:
        >>> c = NullIff("income_joint", "application_type == 'individual'")
        >>> df = pd.DataFrame({"application_type": ["individual", "joint", "joint"],
        ...                    "income_joint": [None, 5.0, None]})
        >>> c.holds(df).tolist()
        [True, True, False]
    """

    kind: ClassVar[str] = "null_iff"
    _text: ClassVar[str] = "when"
    column: str
    when: str

    def describe(self) -> str:
        return f"{self.column} is missing iff {self.when}"

    def condition(self, data: pd.DataFrame, schema: Any = None) -> np.ndarray:
        """Rows where the column must be missing."""
        out = self._evaluate(data, schema)
        return np.asarray(pd.Series(out).fillna(False).to_numpy(), dtype=bool)

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        return data[self.column].isna().to_numpy() == self.condition(data, schema)


@dataclass(eq=True)
class Check(Constraint):
    """Any rule as a vectorised predicate: an expression string, or a Python callable.

    Enforced by bounded rejection (rows breaking it are redrawn a limited number of times;
    the generator warns how many rows it could make). An expression is saved with the
    model; a callable stays in memory (saving a model that holds one is refused).

    Example:
        >>> c = Check("paid_total >= paid_principal")
        >>> c.holds(pd.DataFrame({"paid_total": [5, 1], "paid_principal": [4, 2]})).tolist()
        [True, False]
        >>> Check(lambda df: df["x"] > 0, name="x positive").describe()
        'x positive'
    """

    kind: ClassVar[str] = "check"
    expression: str | Callable[[pd.DataFrame], Any]
    name: str | None = None
    columns: list[str] | None = None

    @property
    def columns_used(self) -> list[str]:
        if callable(self.expression):
            return list(self.columns or [])
        from ..generators.rules._expr import parse_expression

        return sorted(parse_expression(self.expression, where="check constraint").names)

    def describe(self) -> str:
        if self.name:
            return self.name
        if callable(self.expression):
            return getattr(self.expression, "__name__", "custom predicate")
        return self.expression

    def holds(self, data, schema=None, state=None):
        _require(data, self)
        if callable(self.expression):
            out = self.expression(data)
        else:
            from ..generators.rules._expr import parse_expression

            e = parse_expression(self.expression, where=f"check constraint {self.describe()!r}")
            out = e.evaluate(expression_env(data, e.names, schema), len(data))
        out = np.asarray(pd.Series(np.asarray(out)).fillna(False).to_numpy(), dtype=bool)
        if out.shape != (len(data),):
            raise SchemaError(
                Problem(
                    f"check constraint {self.describe()!r}",
                    f"one boolean per row ({len(data)})",
                    f"an array of shape {out.shape}",
                    "return a boolean Series or array aligned with the frame",
                )
            )
        return out


KINDS: dict[str, type[Constraint]] = {
    k.kind: k for k in (Formula, Determines, Combinations, Inequality, Grid, NullIff, Check)
}


def constraint_from_dict(d: Mapping[str, Any], *, where: str = "constraint") -> Constraint:
    """Build a constraint from its JSON form, checking the kind and fields.

    Example:
        >>> constraint_from_dict({"kind": "grid", "column": "amount", "step": 20}).describe()
        'amount in steps of 20'
    """
    if isinstance(d, Constraint):
        return d
    if not isinstance(d, Mapping):
        raise SchemaError(
            Problem(where, "a JSON object with a 'kind'", type(d).__name__, "fix the constraint")
        )
    kind = d.get("kind")
    if kind not in KINDS:
        raise SchemaError(
            Problem(
                f"{where}, field 'kind'",
                "one of " + ", ".join(KINDS),
                repr(kind),
                "use one of the listed kinds",
            )
        )
    klass = KINDS[kind]
    fields = {f.name: f for f in dataclasses.fields(klass)}
    body = {k: v for k, v in d.items() if k != "kind"}
    unknown = sorted(set(body) - set(fields))
    required = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in body]
    problems = []
    if unknown:
        problems.append(
            Problem(
                where,
                f"the fields of a {kind!r} constraint ({', '.join(fields)})",
                "unknown field(s) " + ", ".join(map(repr, unknown)),
                "remove or rename them",
            )
        )
    if missing:
        problems.append(
            Problem(
                where,
                f"the required field(s) {', '.join(map(repr, missing))} of a {kind!r} constraint",
                "none",
                "add them",
            )
        )
    prov = body.get("provenance", "user")
    if prov not in _PROVENANCES:
        problems.append(
            Problem(
                f"{where}, field 'provenance'",
                "one of " + ", ".join(_PROVENANCES),
                repr(prov),
                "use 'user' for a constraint you declare",
            )
        )
    if kind == "grid" and "step" in body:
        step = body["step"]
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
            problems.append(
                Problem(f"{where}, field 'step'", "a positive number", repr(step), "fix the step")
            )
    if problems:
        raise SchemaError(problems)
    try:
        out = klass(**body)
    except TypeError as e:
        raise SchemaError(Problem(where, "valid fields", str(e), "fix the constraint")) from None
    for attr in ("expression", "when"):
        text = getattr(out, attr, None)
        if isinstance(text, str):
            from ..generators.rules._expr import parse_expression

            parse_expression(text, where=f"{where}, field {attr!r}")
    return out
