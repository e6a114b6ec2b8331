"""Guarantee constraints by construction: the table the model sees, and the way back.

:class:`ConstraintLayer` sits between the user's table and the
:class:`~sosie.transforms.TablePreprocessor` of every generator (the base class
drives it):

* ``formula`` / ``determines``: the column is removed before fitting and computed after
  sampling (from the expression; from the learned key -> value mapping);
* ``combinations``: the columns become one joint categorical column whose values are
  the allowed combinations, split again after sampling;
* ``inequality``: ``high`` is replaced by the non-negative gap ``high - max(lows)``
  (several lower bounds of one column are combined) and rebuilt as ``max(lows) + gap``;
* ``grid``: sampled values are snapped to the nearest grid point inside the range;
* ``null_iff``: the model sees the column filled (values drawn from its observed
  values) and the rows where the condition holds are blanked after sampling.

Each column is produced by at most one of the first four; a constraint that would
produce a column twice, or close a cycle (``a`` computed from ``b`` computed from
``a``), is kept as a *check*: enforced by the base class's bounded rejection, like
``check`` constraints. The order of the rebuild follows the dependencies.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem, SchemaError
from ..schema import ColumnSpec, SemanticType, TableSchema
from ..schema import _datetime as dtm
from ._types import (
    Combinations,
    Constraint,
    Determines,
    Formula,
    Grid,
    Inequality,
    NullIff,
    _keys,
    _plain,
    _values,
    constraint_from_dict,
)

__all__ = ["ConstraintLayer", "check_constraints"]

_PRODUCERS = (Formula, Determines, Combinations, Inequality)
_DISCRETE = (SemanticType.CATEGORICAL, SemanticType.BOOLEAN, SemanticType.NUMERICAL)
_DECLARED = ("user", "public")


def check_constraints(constraints: list[Constraint], schema: TableSchema) -> list[Problem]:
    """Problems with constraints against a schema: unknown columns, unsuitable types.

    Example:
        >>> from sosie.schema import ColumnSpec
        >>> s = TableSchema([ColumnSpec("a", "categorical")])
        >>> [p.found for p in check_constraints([Inequality("a", "b")], s)]
        ["no column 'b'", 'a categorical column']
    """
    from ..schema._types import _unknown_column_message

    problems = []
    for c in constraints:
        where = f"constraint {c.describe()!r}"
        try:
            used = c.columns_used
        except SchemaError as e:
            problems.extend(e.errors)
            continue
        for name in used:
            if name not in schema:
                problems.append(
                    Problem(
                        where,
                        "columns of the table",
                        f"no column {name!r}",
                        _unknown_column_message(name, schema.names),
                    )
                )
        known = [n for n in used if n in schema]

        def typed(names: list[str], allowed: tuple, what: str, known=known, where=where) -> None:
            for n in names:
                if n in known and schema[n].type not in allowed:
                    problems.append(
                        Problem(
                            where,
                            f"{what} column(s)",
                            f"a {schema[n].type.value} column",
                            f"declare {n!r} with a suitable type in the schema, or drop the "
                            "constraint",
                        )
                    )

        num = (SemanticType.NUMERICAL,)
        if isinstance(c, Formula):
            typed([c.column], num, "a numerical")
        elif isinstance(c, Grid):
            typed([c.column], num, "a numerical")
        elif isinstance(c, Inequality):
            kinds = {schema[n].type for n in known}
            if len(kinds) > 1:
                problems.append(
                    Problem(
                        where,
                        "two numerical or two datetime columns",
                        " and ".join(f"a {schema[n].type.value}" for n in known),
                        "compare columns of the same kind",
                    )
                )
            else:
                typed(known, (SemanticType.NUMERICAL, SemanticType.DATETIME), "numerical/datetime")
        elif isinstance(c, (Determines, Combinations)):
            typed(known, _DISCRETE, "categorical, boolean or numerical")
    return problems


class ConstraintLayer:
    """The model's view of a constrained table, and the rebuild of sampled rows.

    Args:
        schema: the table's schema with its facts learned (``constraints`` listed in it).
        private: for differentially private generators: nothing may be learned from the
            rows (mappings and combinations must be given; filled values are drawn from the
            declared range, not from the data).

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 5.0, 3.5, 9.0]})
        >>> s = infer_schema(df)
        >>> s.constraints = [Inequality("a", "b"), Formula("c", "a + b")]
        >>> df["c"] = df["a"] + df["b"]
        >>> s = infer_schema(df, overrides=None)
        >>> s.constraints = [Inequality("a", "b"), Formula("c", "a + b")]
        >>> layer = ConstraintLayer(s).fit(df)
        >>> list(layer.transform(df).columns)
        ['a', 'b#gap']
        >>> layer.inverse(layer.transform(df)).equals(df)
        True
    """

    def __init__(self, schema: TableSchema, *, private: bool = False):
        self.schema = schema
        self.private = private

    # -- fitting ------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, rng: np.random.Generator | None = None) -> ConstraintLayer:
        """Check the constraints, learn mappings and decide how each one is kept."""
        schema = self.schema
        cons = [constraint_from_dict(c) for c in schema.constraints]
        problems = check_constraints(cons, schema)
        if self.private:
            problems.extend(_private_problems(cons))
        if problems:
            raise SchemaError(problems)
        self.constraints_ = cons
        self.states_: list[Any] = [self._learn(c, data) for c in cons]
        self._plan(data)
        self._build_model_schema(data)
        self._fill_rng = rng if rng is not None else np.random.default_rng(0)
        # real rows breaking each rule (a count of rows: withheld for private generators)
        self.violations_ = (
            {}
            if self.private
            else {
                i: int((~c.holds(data, schema, self.states_[i])).sum()) for i, c in enumerate(cons)
            }
        )
        return self

    @staticmethod
    def _learn(c: Constraint, data: pd.DataFrame) -> Any:
        if isinstance(c, (Determines, Combinations)):
            return c.learn(data)
        return None

    def _plan(self, data: pd.DataFrame) -> None:
        """Roles: ``construct`` (index -> producer/modifier) or ``check``; rebuild order."""
        cons = self.constraints_
        produced: dict[str, int] = {}
        roles: dict[int, str] = {}
        groups: dict[str, list[int]] = {}  # inequality high -> indices
        # producers by priority: formula, determines, combinations, inequality
        for klass in _PRODUCERS:
            for i, c in enumerate(cons):
                if not isinstance(c, klass):
                    continue
                outs = _outputs(c)
                if any(o in produced for o in outs) or (
                    isinstance(c, Inequality) and not self._reparam_ok(c, data)
                ):
                    roles[i] = "check"
                    continue
                if isinstance(c, Inequality):
                    # several lower bounds of one column: one step, high = max(lows) + gap
                    if c.high in groups and any(cons[j].strict != c.strict for j in groups[c.high]):
                        roles[i] = "check"
                        continue
                    trial = {**groups, c.high: [*groups.get(c.high, []), i]}
                else:
                    trial = groups
                if self._acyclic(roles, i, trial):
                    roles[i] = "construct"
                    for o in outs:
                        produced.setdefault(o, i)
                    groups = trial
                else:
                    roles[i] = "check"
        for i, c in enumerate(cons):
            if i in roles:
                continue
            if isinstance(c, Grid):
                roles[i] = "construct"
            elif isinstance(c, NullIff):
                ok = c.column not in produced or isinstance(cons[produced[c.column]], Formula)
                roles[i] = "construct" if ok and self._acyclic(roles, i, groups) else "check"
            else:
                roles[i] = "check"
        self.roles_ = roles
        self.groups_ = groups
        self.order_ = self._topo(roles, groups)
        assert self.order_ is not None

    def _reparam_ok(self, c: Inequality, data: pd.DataFrame) -> bool:
        """A gap needs the low value wherever high is known (else high would be lost)."""
        lo, hi = data[c.low].isna().to_numpy(), data[c.high].isna().to_numpy()
        return not bool((lo & ~hi).any())

    def _steps(self, roles: dict[int, str], groups: dict[str, list[int]]) -> list[tuple]:
        """(key, inputs, outputs, rank) of every construction step."""
        cons = self.constraints_
        steps = []
        seen_high: set[str] = set()
        for i, role in roles.items():
            if role != "construct":
                continue
            c = cons[i]
            if isinstance(c, Inequality):
                if c.high in seen_high:
                    continue
                seen_high.add(c.high)
                members = groups.get(c.high, [i])
                lows = [cons[j].low for j in members]
                steps.append((("ineq", c.high), lows, [c.high], 0))
            elif isinstance(c, Grid):
                steps.append((("c", i), [], [c.column], 1))
            elif isinstance(c, NullIff):
                steps.append((("c", i), c.inputs, [c.column], 2))
            else:
                ins = c.inputs if isinstance(c, Formula) else list(getattr(c, "columns", []))
                if isinstance(c, Combinations):
                    ins = []
                steps.append((("c", i), ins, _outputs(c), 0))
        return steps

    def _topo(self, roles: dict[int, str], groups: dict[str, list[int]]) -> list[tuple] | None:
        steps = self._steps(roles, groups)
        writers: dict[str, list[int]] = {}
        for k, (_, _, outs, _) in enumerate(steps):
            for o in outs:
                writers.setdefault(o, []).append(k)
        edges: dict[int, set[int]] = {k: set() for k in range(len(steps))}
        for col, ws in writers.items():
            ws = sorted(ws, key=lambda k: steps[k][3])
            for a, b in itertools.pairwise(ws):
                edges[a].add(b)
            last = ws[-1]
            for k, (_, ins, _, _) in enumerate(steps):
                if col in ins and k not in ws:
                    edges[last].add(k)
        indeg = {k: 0 for k in edges}
        for a in edges:
            for b in edges[a]:
                indeg[b] += 1
        ready = [k for k in edges if indeg[k] == 0]
        order = []
        while ready:
            k = ready.pop(0)
            order.append(steps[k][0])
            for b in sorted(edges[k]):
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
        return order if len(order) == len(steps) else None

    def _acyclic(self, roles: dict[int, str], i: int, groups: dict[str, list[int]]) -> bool:
        return self._topo({**roles, i: "construct"}, groups) is not None

    def _build_model_schema(self, data: pd.DataFrame) -> None:
        schema, cons = self.schema, self.constraints_
        drop: set[str] = set()
        replace: dict[str, list[ColumnSpec]] = {}
        self.joint_: dict[int, dict[str, Any]] = {}
        self.gaps_: dict[str, dict[str, Any]] = {}
        for key in self.order_:
            if key[0] == "ineq":
                high = key[1]
                lows = [cons[j].low for j in self.groups_[high]]
                spec = self._gap_spec(high, lows, data)
                replace[high] = [spec]
                continue
            i = key[1]
            c = cons[i]
            if isinstance(c, (Formula, Determines)):
                drop.add(c.column)
            elif isinstance(c, Combinations):
                combos = sorted(self.states_[i], key=_sort_key)
                name = _free_name("+".join(c.columns) + "#joint", schema.names)
                self.joint_[i] = {"name": name, "combos": [list(t) for t in combos]}
                prov = "user" if c.allowed is not None and c.provenance in _DECLARED else None
                jspec = ColumnSpec(
                    name,
                    SemanticType.CATEGORICAL,
                    categories=list(range(len(combos))),
                    pandas_dtype="int64",
                    provenance={"categories": prov} if prov else {},
                    evidence=[f"joint column of {c.describe()}"],
                )
                replace[c.columns[0]] = [jspec]
                drop.update(c.columns[1:])
            elif isinstance(c, NullIff):
                if c.column in replace:
                    continue
                if self.private:  # whether nulls remain elsewhere is the declared fact
                    nullable = bool(schema[c.column].nullable)
                else:
                    nulls = data[c.column].isna().to_numpy()
                    nullable = bool((nulls & ~c.condition(data, schema)).any())
                replace[c.column] = [dataclass_replace(schema[c.column], nullable=nullable)]
        cols: list[ColumnSpec] = []
        for spec in schema:
            if spec.name in replace:
                cols.extend(replace[spec.name])
            elif spec.name not in drop:
                cols.append(copy.deepcopy(spec))
        self.model_schema_ = TableSchema(cols, schema.spec_version)

    def _gap_spec(self, high: str, lows: list[str], data: pd.DataFrame) -> ColumnSpec:
        schema = self.schema
        hs = schema[high]
        name = _free_name(high + "#gap", schema.names)
        is_dt = hs.type is SemanticType.DATETIME
        step = dtm.resolution_ns(hs.resolution) if is_dt else 1
        gap = self._gap(high, lows, data)
        int_like = is_dt or all(schema[n].dtype == "int" for n in [high, *lows])
        decimals = None
        if not int_like:
            ds = [schema[n].decimals for n in [high, *lows]]
            decimals = None if any(d is None for d in ds) else max(ds)
        declared = all(
            schema[n].provenance.get(f) in ("user", "public")
            for n in [high, *lows]
            for f in ("min", "max")
        )
        if self.private and declared:
            lo_min = max(_bound(schema[n].min, is_dt) for n in lows)
            lo, hi = 0.0, (_bound(hs.max, is_dt) - lo_min) / step
            prov = {"min": "public", "max": "public", "dtype": "public"}
        else:
            finite = gap[np.isfinite(gap)]
            lo = 0.0
            hi = float(finite.max()) if finite.size else 0.0
            hi = max(hi, 0.0)
            prov = {}
        self.gaps_[high] = {"name": name, "lows": lows, "datetime": is_dt, "step": step}
        nullable = (
            any(schema[n].nullable for n in [high, *lows])
            if self.private
            else bool(np.isnan(gap).any())
        )
        return ColumnSpec(
            name,
            SemanticType.NUMERICAL,
            nullable=nullable,
            pandas_dtype="int64" if int_like else "float64",
            dtype="int" if int_like else "float",
            min=int(lo) if int_like else lo,
            max=math.ceil(hi) if int_like else hi,
            decimals=decimals,
            provenance=prov,
            evidence=[f"gap {high} - max({', '.join(lows)}) >= 0 (inequality constraint)"],
        )

    def _gap(self, high: str, lows: list[str], data: pd.DataFrame) -> np.ndarray:
        step = self.gaps_[high]["step"] if high in getattr(self, "gaps_", {}) else None
        hs = self.schema[high]
        is_dt = hs.type is SemanticType.DATETIME
        if step is None:
            step = dtm.resolution_ns(hs.resolution) if is_dt else 1
        h = _as_float(_values(data, high, self.schema))
        lo = np.column_stack([_as_float(_values(data, n, self.schema)) for n in lows])
        with np.errstate(invalid="ignore"):
            base = np.max(lo, axis=1)
            gap = (h - base) / step
        return gap

    # -- the model's table --------------------------------------------------------------
    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """The table the generator fits: derived columns out, gaps and joint columns in."""
        cons, schema = self.constraints_, self.schema
        cols: dict[str, pd.Series] = {}
        repl: dict[str, pd.Series] = {}
        for key in self.order_:
            if key[0] == "ineq":
                g = self.gaps_[key[1]]
                gap = np.maximum(self._gap(key[1], g["lows"], data), 0.0)
                repl[key[1]] = pd.Series(gap, index=data.index, name=g["name"])
                continue
            c = cons[key[1]]
            if isinstance(c, Combinations):
                j = self.joint_[key[1]]
                index = {tuple(t): k for k, t in enumerate(j["combos"])}
                codes = _keys(data, c.columns).map(lambda t, ix=index: ix.get(t, -1))
                if (codes < 0).any():  # a combination the allowed list lacks: nearest is unknowable
                    codes = codes.where(codes >= 0, 0)
                repl[c.columns[0]] = pd.Series(
                    codes.to_numpy(dtype="int64"), index=data.index, name=j["name"]
                )
            elif isinstance(c, NullIff) and c.column not in repl:
                repl[c.column] = self._fill(c, data)
        drop = set(data.columns) - set(self.schema.names)
        for spec in schema:
            name = spec.name
            if name in repl:
                s = repl[name]
                cols[str(s.name) if s.name is not None else name] = s
            elif name in self.model_schema_ and name not in drop:
                cols[name] = data[name]
        return pd.DataFrame(cols, index=data.index)

    def _fill(self, c: NullIff, data: pd.DataFrame) -> pd.Series:
        """The column with values on the rows the condition blanks (they are blanked again)."""
        s = data[c.column]
        blank = s.isna().to_numpy() & c.condition(data, self.schema)
        if not blank.any():
            return s
        pool = s[~s.isna()]
        rng = self._fill_rng
        if self.private or pool.empty:
            spec = self.schema[c.column]
            values = _uniform_values(spec, int(blank.sum()), rng)
        else:
            values = pool.to_numpy()[rng.integers(0, len(pool), int(blank.sum()))]
        out = s.astype(object).copy()
        out.iloc[np.flatnonzero(blank)] = values
        return out.astype(s.dtype) if s.dtype != object else out

    # -- rebuilding sampled rows --------------------------------------------------------
    def inverse(
        self, frame: pd.DataFrame, *, rng: np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Rebuild the user's table from the model's (every constructive constraint holds)."""
        cons, schema = self.constraints_, self.schema
        n = len(frame)
        df = frame.reset_index(drop=True).copy()
        for key in self.order_:
            if key[0] == "ineq":
                df[key[1]] = self._rebuild_high(key[1], df)
                df = df.drop(columns=[self.gaps_[key[1]]["name"]])
                continue
            i = key[1]
            c = cons[i]
            spec = schema[c.column] if hasattr(c, "column") else None
            if isinstance(c, Formula):
                df[c.column] = _finish_numeric(spec, c.compute(df, schema))
            elif isinstance(c, Determines):
                mapping = self.states_[i]
                vals = _keys(df, c.columns).map(lambda k, m=mapping: m.get(k))
                df[c.column] = _finish(spec, vals)
            elif isinstance(c, Combinations):
                j = self.joint_[i]
                combos = j["combos"]
                codes = pd.to_numeric(df[j["name"]]).to_numpy()
                codes = np.clip(np.nan_to_num(codes), 0, len(combos) - 1).astype(np.int64)
                for p, col in enumerate(c.columns):
                    vals = pd.Series([combos[k][p] for k in codes], dtype=object)
                    df[col] = _finish(schema[col], vals)
                df = df.drop(columns=[j["name"]])
            elif isinstance(c, Grid):
                df[c.column] = self._snap(c, df)
            elif isinstance(c, NullIff):
                blank = c.condition(df, schema)
                if blank.any():
                    s = df[c.column]
                    s = s.astype(object) if s.dtype.kind in "iub" else s
                    df[c.column] = _restore(spec, s.mask(pd.Series(blank, index=s.index)))
        del n
        return df[schema.names]

    def _rebuild_high(self, high: str, df: pd.DataFrame) -> pd.Series:
        g = self.gaps_[high]
        spec = self.schema[high]
        gap = pd.to_numeric(df[g["name"]]).to_numpy(dtype="float64", na_value=np.nan)
        strict = any(self.constraints_[j].strict for j in self.groups_[high])
        lows = np.column_stack([_as_float(_values(df, n, self.schema)) for n in g["lows"]])
        base = np.max(lows, axis=1)
        if g["datetime"]:
            step = g["step"]
            steps = np.maximum(np.round(np.nan_to_num(gap, nan=0.0)), 1.0 if strict else 0.0)
            ns = base + steps * step
            ns = np.where(np.isnan(gap) | np.isnan(base), np.nan, ns)
            return _finish_datetime(spec, ns)
        unit = 1.0 if spec.dtype == "int" else 10.0 ** -(spec.decimals or 12)
        gap = np.maximum(gap, 0.0)
        if strict:
            gap = np.where(gap < unit, unit, gap)
        x = base + gap
        if spec.dtype == "int" or spec.decimals is not None:
            d = 0 if spec.dtype == "int" else spec.decimals
            r = np.round(x, d)
            # rounding may cross the bound: move up by one unit where it did
            with np.errstate(invalid="ignore"):
                bad = (r < base) | (strict & (r <= base))
            x = np.where(bad, r + unit, r)
        # within high's own range: the order survives, as every low is at most high's maximum
        return _finish_numeric(spec, x, clip=True)

    def _snap(self, c: Grid, df: pd.DataFrame) -> pd.Series:
        spec = self.schema[c.column]
        x = _as_float(_values(df, c.column, self.schema))
        y = c.snap(x)
        lo, hi = spec.min, spec.max
        if lo is not None:
            first = c.offset + math.ceil((float(lo) - c.offset) / c.step - 1e-9) * c.step
            y = np.where(y < first, first, y)
        if hi is not None:
            last = c.offset + math.floor((float(hi) - c.offset) / c.step + 1e-9) * c.step
            y = np.where(y > last, last, y)
        return _finish_numeric(spec, y, clip=False)

    # -- validity -----------------------------------------------------------------------
    def validity(self, data: pd.DataFrame) -> list[np.ndarray]:
        """Per constraint, the per-row validity of ``data``."""
        return [
            c.holds(data, self.schema, self.states_[i]) for i, c in enumerate(self.constraints_)
        ]

    def valid_rows(self, data: pd.DataFrame) -> np.ndarray:
        """Rows that satisfy every constraint."""
        ok = np.ones(len(data), dtype=bool)
        for v in self.validity(data):
            ok &= v
        return ok

    @property
    def owners(self) -> dict[str, Constraint]:
        """Columns the model does not see as they are -> the constraint that computes them.

        Conditions on them are checked after sampling (bounded redrawing).
        """
        out: dict[str, Constraint] = {}
        for i, role in sorted(self.roles_.items()):
            c = self.constraints_[i]
            if role == "construct" and not isinstance(c, Grid):
                for col in _outputs(c):
                    out.setdefault(col, c)
        return out

    def describe_roles(self) -> list[dict[str, Any]]:
        """One row per constraint: its text, kind, provenance, how it is kept, and how many real
        rows broke it at fit (``None`` for a private generator: a count of rows would leak)."""
        out = []
        for i, c in enumerate(self.constraints_):
            how = "by construction" if self.roles_[i] == "construct" else "bounded rejection"
            out.append(
                {
                    "constraint": c.describe(),
                    "kind": c.kind,
                    "provenance": c.provenance,
                    "kept": how,
                    "real_violations": self.violations_.get(i),
                }
            )
        return out

    # -- persistence --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (the constraints are in the schema; here what was learned)."""
        states = []
        for s in self.states_:
            if isinstance(s, dict):
                states.append({"mapping": [[*k, v] for k, v in s.items()]})
            elif isinstance(s, set):
                states.append({"allowed": [list(t) for t in sorted(s, key=_sort_key)]})
            else:
                states.append(None)
        return {
            "states": _json(states),
            "roles": {str(k): v for k, v in self.roles_.items()},
            "groups": self.groups_,
            "order": [list(k) for k in self.order_],
            "joint": {str(k): _json(v) for k, v in self.joint_.items()},
            "gaps": self.gaps_,
            "model_schema": self.model_schema_.to_dict(),
            "violations": {str(k): v for k, v in self.violations_.items()},
            "private": self.private,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], schema: TableSchema) -> ConstraintLayer:
        """Rebuild a fitted layer from :meth:`state_dict` and the user's schema."""
        self = cls(schema, private=bool(state.get("private", False)))
        self.constraints_ = [constraint_from_dict(c) for c in schema.constraints]
        self.states_ = []
        for s in state["states"]:
            if s is None:
                self.states_.append(None)
            elif "mapping" in s:
                self.states_.append({tuple(_plain(v) for v in r[:-1]): r[-1] for r in s["mapping"]})
            else:
                self.states_.append({tuple(_plain(v) for v in r) for r in s["allowed"]})
        self.roles_ = {int(k): v for k, v in state["roles"].items()}
        self.groups_ = {k: list(v) for k, v in state["groups"].items()}
        self.order_ = [(k[0], k[1]) for k in state["order"]]
        self.joint_ = {int(k): v for k, v in state["joint"].items()}
        self.gaps_ = state["gaps"]
        self.model_schema_ = TableSchema.from_dict(state["model_schema"])
        self.violations_ = {int(k): v for k, v in state.get("violations", {}).items()}
        self._fill_rng = np.random.default_rng(0)
        return self


# -- helpers ------------------------------------------------------------------------------
def _outputs(c: Constraint) -> list[str]:
    if isinstance(c, Combinations):
        return list(c.columns)
    if isinstance(c, Inequality):
        return [c.high]
    if isinstance(c, (Formula, Determines, Grid, NullIff)):
        return [c.column]
    return []


def _private_problems(cons: list[Constraint]) -> list[Problem]:
    out = []
    for c in cons:
        where = f"constraint {c.describe()!r}"
        if c.provenance not in _DECLARED:
            out.append(
                Problem(
                    where,
                    "a declared constraint (provenance 'user' or 'public')",
                    "a constraint discovered in the private data ('inferred')",
                    'review it and set "provenance": "public" in the schema, or remove it',
                )
            )
        if isinstance(c, Determines) and c.mapping is None:
            out.append(
                Problem(
                    where,
                    "its mapping given in the schema (a DP generator learns nothing outside "
                    "its budget)",
                    "no mapping",
                    'add "mapping": [[key, value], ...] to the constraint',
                )
            )
        if isinstance(c, Combinations) and c.allowed is None:
            out.append(
                Problem(
                    where,
                    "its allowed combinations given in the schema",
                    "none",
                    'add "allowed": [[a, b], ...] to the constraint',
                )
            )
    return out


def dataclass_replace(spec: ColumnSpec, **changes: Any) -> ColumnSpec:
    out = copy.deepcopy(spec)
    for k, v in changes.items():
        setattr(out, k, v)
    return out


def _free_name(base: str, taken: list[str]) -> str:
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}{k}"
    return name


def _sort_key(t: tuple) -> tuple:
    return tuple((v is None, type(v).__name__, str(v)) for v in t)


def _json(v: Any) -> Any:
    from ._types import _jsonable

    return _jsonable(v)


def _as_float(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "M":
        out = v.astype("datetime64[ns]").astype("int64").astype("float64")
        out[np.isnat(v)] = np.nan
        return out
    return pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _bound(v: Any, is_dt: bool) -> float:
    if is_dt:
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return float(ts.value)
    return float(v)


def _uniform_values(spec: ColumnSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    if spec.type is SemanticType.NUMERICAL and spec.min is not None and spec.max is not None:
        x = rng.uniform(float(spec.min), float(spec.max), n)
        return np.round(x) if spec.dtype == "int" else x
    if spec.categories:
        return np.asarray(spec.categories, dtype=object)[rng.integers(0, len(spec.categories), n)]
    return np.zeros(n)


def _restore(spec: ColumnSpec, s: pd.Series) -> pd.Series:
    from ..transforms import encoder_for

    return encoder_for(spec)._restore_dtype(s)


def _finish(spec: ColumnSpec, values: pd.Series) -> pd.Series:
    """Raw values -> the column's source type and dtype (through its encoder)."""
    from ..transforms import encoder_for

    enc = encoder_for(spec).fit(values)
    enc.n_categories = len(spec.categories or []) or enc.n_categories
    encoded = enc.encode(values.reset_index(drop=True))
    return enc.decode(encoded, len(values), np.random.default_rng(0))


def _finish_numeric(spec: ColumnSpec, x: np.ndarray, *, clip: bool = False) -> pd.Series:
    from ..transforms import encoder_for

    s = spec if clip else dataclass_replace(spec, min=None, max=None)
    return encoder_for(s).decode(np.asarray(x, dtype="float64"), len(x), np.random.default_rng(0))


def _finish_datetime(spec: ColumnSpec, ns_utc: np.ndarray) -> pd.Series:
    from ..transforms import encoder_for

    enc = encoder_for(dataclass_replace(spec, min=None, max=None))
    step = dtm.resolution_ns(spec.resolution)
    finite = ns_utc[np.isfinite(ns_utc)]
    day = 86_400 * 10**9
    origin = int(np.median(finite)) // day * day if finite.size else 0
    enc.origin_ns = origin
    return enc.decode((ns_utc - origin) / step, len(ns_utc), np.random.default_rng(0))
