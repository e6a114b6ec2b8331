"""Guarantee constraints by construction: the table the model sees, and the way back.

:class:`ConstraintLayer` sits between the user's table and the
:class:`~sosie.transforms.TablePreprocessor` of every generator (the base class
drives it):

* ``formula`` / ``determines``: the column is removed before fitting and computed after
  sampling (from the expression; from the learned key -> value mapping);
* ``combinations``: the columns become one joint categorical column whose values are
  the allowed combinations, split again after sampling;
* ``inequality``: ``high`` is replaced by the non-negative gap ``high - max(lows)`` and
  rebuilt as ``max(lows) + gap`` (datetimes, signed numbers), or, for non-negative numbers
  where the low side's values are the less concentrated, ``low`` is replaced by the ratio
  ``low / min(highs)`` in [0, 1] and rebuilt as ``ratio * min(highs)``, so that the
  spikier column (round amounts, a 40-hour week) is modelled as it is; several bounds of
  one column are combined in one step;
* ``grid``: sampled values are snapped to the nearest grid point inside the range;
* ``null_iff``: the model sees the column with its real missing values; after sampling the
  rows where the condition holds are blanked and the others keep (or, where the model left
  them missing, borrow from another sampled row) a value.

Each column is produced by at most one of the first four; a constraint that would
produce a column twice, or close a cycle (``a`` computed from ``b`` computed from
``a``), is kept as a *check*: enforced by the base class's bounded rejection, like
``check`` constraints. The order of the rebuild follows the dependencies.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
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
    _per_key,
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
    def fit(self, data: pd.DataFrame) -> ConstraintLayer:
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
        groups: dict[str, list[int]] = {}  # the column an inequality rebuilds -> indices
        self.modes_ = self._inequality_modes(data)
        # producers by priority: formula, determines, combinations, inequality
        for klass in _PRODUCERS:
            for i, c in enumerate(cons):
                if not isinstance(c, klass):
                    continue
                outs = self._outputs(i)
                # another bound of a column an inequality already rebuilds (the same way)
                # joins its step
                joins = (
                    isinstance(c, Inequality)
                    and outs[0] in groups
                    and all(self.modes_[j] == self.modes_[i] for j in groups[outs[0]])
                )
                unbuildable = isinstance(c, Inequality) and self.modes_[i] is None
                if unbuildable or (not joins and any(o in produced for o in outs)):
                    roles[i] = "check"
                    continue
                if isinstance(c, Inequality):
                    # several bounds of one column: one step (high = max(lows) + gap, or
                    # low = ratio * min(highs))
                    out = outs[0]
                    if out in groups and any(cons[j].strict != c.strict for j in groups[out]):
                        roles[i] = "check"
                        continue
                    trial = {**groups, out: [*groups.get(out, []), i]}
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
                ok = c.column not in produced or isinstance(
                    cons[produced[c.column]], (Formula, Inequality)
                )
                roles[i] = "construct" if ok and self._acyclic(roles, i, groups) else "check"
            else:
                roles[i] = "check"
        self.roles_ = roles
        self.groups_ = groups
        self.order_ = self._topo(roles, groups)
        assert self.order_ is not None

    def _inequality_modes(self, data: pd.DataFrame) -> dict[int, str | None]:
        """How each ``low <= high`` is rebuilt: ``"gap"``, ``"ratio"``, or ``None`` (a check).

        * ``gap``: ``high`` is modelled as ``high - max(lows) >= 0`` (datetimes, signed
          numbers): the chain is rebuilt upwards from its lowest columns;
        * ``ratio``: ``low`` is modelled as ``low / min(highs)`` in [0, 1] (non-negative
          numbers): rebuilt downwards from the highest.

        One direction per connected set of inequalities, so a column is rebuilt once and a
        chain ``a <= b <= c`` stays one construction. A rebuilt column loses the spikes of its
        marginal (round amounts, a 40-hour week), so the direction whose rebuilt columns are
        the less concentrated is taken. A side must be known wherever the rebuilt one is.
        """
        schema, cons = self.schema, self.constraints_
        ineq = {i: c for i, c in enumerate(cons) if isinstance(c, Inequality)}
        parent: dict[str, str] = {}

        def root(x: str) -> str:
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        for c in ineq.values():
            parent[root(c.low)] = root(c.high)
        values: dict[str, np.ndarray] = {}

        def vals(name: str) -> np.ndarray:
            if name not in values:
                values[name] = _as_float(_values(data, name, schema))
            return values[name]

        def can(c: Inequality, mode: str) -> bool:
            lo_na, hi_na = np.isnan(vals(c.low)), np.isnan(vals(c.high))
            if mode == "gap":
                return not bool((lo_na & ~hi_na).any())
            if not all(schema[n].type is SemanticType.NUMERICAL for n in (c.low, c.high)):
                return False
            if bool((hi_na & ~lo_na).any()):
                return False
            if self.private:  # the declared range, not the rows
                lo_min = schema[c.low].min
                return lo_min is not None and float(lo_min) >= 0
            lo = vals(c.low)
            return bool((lo[~lo_na] >= 0).all())

        modes: dict[int, str | None] = {}
        for r in {root(c.low) for c in ineq.values()}:
            members = {i: c for i, c in ineq.items() if root(c.low) == r}
            options = [m for m in ("gap", "ratio") if all(can(c, m) for c in members.values())]
            if len(options) == 2:
                if self.private:
                    options = ["gap"]
                else:  # rebuild the less concentrated set of columns
                    cost = {
                        "gap": sum(
                            _concentration(vals(n)) for n in {c.high for c in members.values()}
                        ),
                        "ratio": sum(
                            _concentration(vals(n)) for n in {c.low for c in members.values()}
                        ),
                    }
                    options = [min(options, key=lambda m: cost[m])]
            for i, c in members.items():
                if options:
                    modes[i] = options[0]
                else:  # no one direction fits them all: each its own (clashes become checks)
                    modes[i] = "gap" if can(c, "gap") else "ratio" if can(c, "ratio") else None
        return modes

    def _outputs(self, i: int) -> list[str]:
        """The columns constraint ``i`` computes (an inequality's depends on its mode)."""
        c = self.constraints_[i]
        if isinstance(c, Inequality):
            return [c.low] if self.modes_.get(i) == "ratio" else [c.high]
        return _outputs(c)

    def _others(self, i: int) -> str:
        """The other side of inequality ``i`` (the one it is rebuilt from)."""
        c = self.constraints_[i]
        return c.high if self.modes_.get(i) == "ratio" else c.low

    def _steps(self, roles: dict[int, str], groups: dict[str, list[int]]) -> list[tuple]:
        """(key, inputs, outputs, rank) of every construction step."""
        cons = self.constraints_
        steps = []
        seen: set[str] = set()
        for i, role in roles.items():
            if role != "construct":
                continue
            c = cons[i]
            if isinstance(c, Inequality):
                out = self._outputs(i)[0]
                if out in seen:
                    continue
                seen.add(out)
                members = groups.get(out, [i])
                steps.append((("ineq", out), [self._others(j) for j in members], [out], 0))
            elif isinstance(c, Grid):
                steps.append((("c", i), [], [c.column], 1))
            elif isinstance(c, NullIff):
                steps.append((("c", i), c.inputs, [c.column], 2))
            else:
                ins = c.inputs if isinstance(c, Formula) else list(getattr(c, "columns", []))
                if isinstance(c, Combinations):
                    ins = []
                steps.append((("c", i), ins, self._outputs(i), 0))
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
                out = key[1]
                others = [self._others(j) for j in self.groups_[out]]
                ratio = self.modes_[self.groups_[out][0]] == "ratio"
                spec = (self._ratio_spec if ratio else self._gap_spec)(out, others, data)
                replace[out] = [spec]
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
        self.gaps_[high] = {
            "name": name,
            "mode": "gap",
            "others": lows,
            "datetime": is_dt,
            "step": step,
        }
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

    def _ratio_spec(self, low: str, highs: list[str], data: pd.DataFrame) -> ColumnSpec:
        """The model's column for ``low`` rebuilt as ``ratio * min(highs)``, ratio in [0, 1]."""
        schema = self.schema
        name = _free_name(low + "#ratio", schema.names)
        self.gaps_[low] = {"name": name, "mode": "ratio", "others": highs}
        nullable = (
            bool(schema[low].nullable)
            if self.private
            else bool(np.isnan(self._ratio(low, highs, data)).any())
        )
        return ColumnSpec(
            name,
            SemanticType.NUMERICAL,
            nullable=nullable,
            pandas_dtype="float64",
            dtype="float",
            min=0.0,
            max=1.0,
            provenance={"min": "public", "max": "public", "dtype": "public"},
            evidence=[f"ratio {low} / min({', '.join(highs)}) in [0, 1] (inequality constraint)"],
        )

    def _ratio(self, low: str, highs: list[str], data: pd.DataFrame) -> np.ndarray:
        lo = _as_float(_values(data, low, self.schema))
        base = self._min_of(highs, data)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(base > 0, lo / base, 0.0)
        return np.where(np.isnan(lo), np.nan, np.clip(r, 0.0, 1.0))

    def _min_of(self, names: list[str], data: pd.DataFrame) -> np.ndarray:
        hs = np.column_stack([_as_float(_values(data, n, self.schema)) for n in names])
        with warnings.catch_warnings():  # rows where every bound is missing stay missing
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmin(hs, axis=1)

    def _gap(self, high: str, lows: list[str], data: pd.DataFrame) -> np.ndarray:
        hs = self.schema[high]
        step = dtm.resolution_ns(hs.resolution) if hs.type is SemanticType.DATETIME else 1
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
                if g["mode"] == "ratio":
                    v = self._ratio(key[1], g["others"], data)
                else:
                    v = np.maximum(self._gap(key[1], g["others"], data), 0.0)
                repl[key[1]] = pd.Series(v, index=data.index, name=g["name"])
                continue
            c = cons[key[1]]
            if isinstance(c, Combinations):
                j = self.joint_[key[1]]
                index = {tuple(t): k for k, t in enumerate(j["combos"])}
                codes = _per_key(data, c.columns, lambda t, ix=index: ix.get(t, -1))
                codes = codes.astype(np.int64)
                # a combination the allowed list lacks: the nearest is unknowable
                codes[codes < 0] = 0
                repl[c.columns[0]] = pd.Series(codes, index=data.index, name=j["name"])
        drop = set(data.columns) - set(self.schema.names)
        for spec in schema:
            name = spec.name
            if name in repl:
                s = repl[name]
                cols[str(s.name) if s.name is not None else name] = s
            elif name in self.model_schema_ and name not in drop:
                cols[name] = data[name]
        return pd.DataFrame(cols, index=data.index)

    # -- rebuilding sampled rows --------------------------------------------------------
    def inverse(
        self, frame: pd.DataFrame, *, rng: np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Rebuild the user's table from the model's (every constructive constraint holds).

        ``rng`` draws the hot-deck values of ``null_iff`` columns (see :meth:`_null_iff`).
        """
        cons, schema = self.constraints_, self.schema
        df = frame.reset_index(drop=True).copy()
        for key in self.order_:
            if key[0] == "ineq":
                g = self.gaps_[key[1]]
                rebuild = self._rebuild_low if g["mode"] == "ratio" else self._rebuild_high
                df[key[1]] = rebuild(key[1], df)
                df = df.drop(columns=[g["name"]])
                continue
            i = key[1]
            c = cons[i]
            spec = schema[c.column] if hasattr(c, "column") else None
            if isinstance(c, Formula):
                df[c.column] = _finish_numeric(spec, c.compute(df, schema))
            elif isinstance(c, Determines):
                mapping = self.states_[i]
                vals = _per_key(df, c.columns, lambda k, m=mapping: m.get(k))
                df[c.column] = _finish(spec, pd.Series(vals, dtype=object))
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
                df[c.column] = self._null_iff(c, df, rng)
        return df[schema.names]

    def _null_iff(self, c: NullIff, df: pd.DataFrame, rng: np.random.Generator | None) -> pd.Series:
        """Blank the rows where the condition holds; give the others a value.

        The model saw the column with its real missing values (so a copula's or a network's
        view of its relations is not diluted by made-up values); a row the condition leaves
        filled but the model left missing takes the value of a random other such row of this
        sample (a hot deck; for a side of an inequality, the other row's gap or ratio, so the
        order holds). A formula's column is left as computed: such rows are redrawn.
        """
        spec = self.schema[c.column]
        blank = c.condition(df, self.schema)
        s = df[c.column]
        need = ~blank & s.isna().to_numpy()
        g = self.gaps_.get(c.column)
        modelled = c.column in self.model_schema_
        rebuilt = g is not None and not g.get("datetime")
        donors = np.flatnonzero(~blank & s.notna().to_numpy())
        if need.any() and donors.size and (modelled or rebuilt):
            rng = rng if rng is not None else np.random.default_rng(0)
            take = donors[rng.integers(0, donors.size, int(need.sum()))]
            rows = np.flatnonzero(need)
            s = s.copy()
            if modelled:
                s.iloc[rows] = s.iloc[take].to_numpy()
            else:  # an inequality's side: borrow the gap (or ratio), keep the order
                ratio = g["mode"] == "ratio"
                v = (self._ratio if ratio else self._gap)(c.column, g["others"], df)
                part = df.iloc[rows].copy()
                part[g["name"]] = v[take]
                made = (self._rebuild_low if ratio else self._rebuild_high)(c.column, part)
                s.iloc[rows] = made.to_numpy()
        if blank.any():
            s = s.astype(object) if s.dtype.kind in "iub" else s
            s = _restore(spec, s.mask(pd.Series(blank, index=s.index)))
        return s

    def _rebuild_low(self, low: str, df: pd.DataFrame) -> pd.Series:
        """``low = ratio * min(highs)``, rounded to the column's unit without crossing a bound."""
        g = self.gaps_[low]
        spec = self.schema[low]
        ratio = pd.to_numeric(df[g["name"]]).to_numpy(dtype="float64", na_value=np.nan)
        strict = any(self.constraints_[j].strict for j in self.groups_[low])
        base = self._min_of(g["others"], df)
        x = np.clip(ratio, 0.0, 1.0) * base
        unit = 1.0 if spec.dtype == "int" else 10.0 ** -(spec.decimals or 12)
        if spec.dtype == "int" or spec.decimals is not None:
            x = np.round(x, 0 if spec.dtype == "int" else spec.decimals)
        with np.errstate(invalid="ignore"):
            over = (x > base) | (strict & (x >= base))
        x = np.where(over, x - unit, x)
        if spec.max is not None:  # never above the column's own range (moving down is safe)
            x = np.minimum(x, float(spec.max))
        return _finish_numeric(spec, x, clip=False)

    def _rebuild_high(self, high: str, df: pd.DataFrame) -> pd.Series:
        g = self.gaps_[high]
        spec = self.schema[high]
        gap = pd.to_numeric(df[g["name"]]).to_numpy(dtype="float64", na_value=np.nan)
        strict = any(self.constraints_[j].strict for j in self.groups_[high])
        lows = np.column_stack([_as_float(_values(df, n, self.schema)) for n in g["others"]])
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
                for col in self._outputs(i):
                    out.setdefault(col, c)
        return out

    def describe_roles(self) -> list[dict[str, Any]]:
        """One row per constraint: its text, kind, provenance, how it is kept, and how many real
        rows broke it at fit (``None`` for a private generator: a count of rows would leak)."""
        methods = {
            Formula: "computed from its inputs",
            Determines: "looked up from the key",
            Combinations: "one joint column of the allowed combinations",
            Grid: "snapped to the grid",
            NullIff: "blanked where the condition holds",
        }
        out = []
        for i, c in enumerate(self.constraints_):
            constructed = self.roles_[i] == "construct"
            how = "by construction" if constructed else "bounded rejection"
            if not constructed:
                method = "rows breaking it are redrawn"
            elif isinstance(c, Inequality):
                method = (
                    f"{c.low} modelled as a share of {c.high}"
                    if self.modes_.get(i) == "ratio"
                    else f"{c.high} modelled as a gap above {c.low}"
                )
            else:
                method = methods.get(type(c), "")
            out.append(
                {
                    "constraint": c.describe(),
                    "kind": c.kind,
                    "provenance": c.provenance,
                    "kept": how,
                    "method": method,
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
            "modes": {str(k): v for k, v in self.modes_.items()},
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
        self.modes_ = {int(k): v for k, v in state["modes"].items()}
        self.model_schema_ = TableSchema.from_dict(state["model_schema"])
        self.violations_ = {int(k): v for k, v in state.get("violations", {}).items()}
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


def _concentration(x: np.ndarray) -> float:
    """Share of the known values taken by the 20 most frequent ones (spikes, round numbers)."""
    v = x[~np.isnan(x)]
    if v.size == 0:
        return 0.0
    _, counts = np.unique(v, return_counts=True)
    return float(np.sort(counts)[-20:].sum() / v.size)


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
