"""The engine of the rule-based generator: turns a :class:`RuleSpec` into a table.

How a table is made (all vectorised with numpy/pandas; the only per-row Python
loop is Faker's, and only while building its pool):

1. Per-entity tables: columns with ``per: <group>`` are drawn once per value of the
   group column (e.g. one spending profile per customer, one rate per host).
2. Row stage: the other columns are computed in spec order on a batch of rows:
   drawn columns sample their distribution (rules of the form ``x > c``,
   ``x <= c`` or ``x % k == 0``, also under a ``when``, are applied while drawing:
   truncation by inverse CDF and rounding to the grid), derived columns evaluate
   their expression, labels evaluate their rule and flip a ``noise`` share. Every
   rule is then checked on every row; rows that break one are replaced by rows of a
   fresh batch, for at most ``max_rounds`` rounds.
3. Event stage: ``event_time`` columns are the per-group cumulative sum of the
   exponential gaps drawn in the row stage (a Poisson process per host), then the
   columns that depend on them are computed; rows breaking a rule that reads them
   get those columns redrawn (bounded too).
4. Injected patterns (``inject``): before any row, each pattern picks its entities
   and the number of events of each episode (these rows are taken from
   ``n_rows``); after the ordinary rows, each episode gets a start inside its
   entity's time span and times from the pattern's gaps, and its rows go through
   steps 2 and 3 with the entity and times fixed and the pattern's ``set`` and
   ``label`` values put in as each column is computed, so the columns after them
   follow. An episode breaking a rule is made again as a whole (bounded).
5. Sorting (``order_by``, a stable radix/merge sort per key), sequence numbering,
   and blanking ``null_rate`` shares.

Randomness: every column draws from its own child stream of the ``rng`` given, so
the same seed gives the same table, and fixing one column by a condition does not
change what the other columns draw.
"""

from __future__ import annotations

import ast
import logging
import math
import re
import warnings
from collections import Counter, OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ..._rng import RNGLike, as_seed_sequence
from ...errors import ConditionError, Problem, SosieWarning, SpecError
from ._expr import _as_bool, _Evaluator
from ._spec import (
    _NUMERIC_DRAWN,
    RESOLUTIONS,
    UNITS,
    ColumnDef,
    Draw,
    InjectDef,
    Param,
    RuleDef,
    RuleSpec,
    _domain,
    _entity_values,
    _if_leaves,
    load_spec,
)

__all__ = ["generate"]

# stream tags (one child stream per (tag, column index))
_T_ENTITY, _T_ROW, _T_NOISE, _T_NULL, _T_FAKER, _T_SKEW, _T_EPISODE, _T_PLAN, _T_SET = range(9)
_SET_KEY = 1_000_000  # stream keys of patterns' draws (column indices stay below)
_DAY_NS = 86_400_000_000_000
_HOUR_NS = 3_600_000_000_000
logger = logging.getLogger(__name__)
_MIN_BATCH = 64
_MAX_CANDIDATES_WITHOUT_ANY = 100_000


def generate(
    spec: RuleSpec | Mapping[str, Any] | str,
    n_rows: int,
    *,
    rng: RNGLike | np.random.Generator,
    conditions: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Generate ``n_rows`` rows from a rule-based spec.

    Faker columns: calling Faker once per row is slow (tens of microseconds a
    call), so the engine builds a pool of distinct values with a Faker instance
    seeded from ``rng`` (``pool_size``, default ``min(n_rows, 10000)``) and samples
    the rows from the pool with numpy. The trade-off: at most ``pool_size``
    distinct values appear, each about ``n_rows / pool_size`` times; raise
    ``pool_size`` for more variety (pool creation then costs more), or set
    ``unique: true`` to get one distinct value per row (a pool of ``n_rows``
    values, slow for millions of rows).

    Args:
        spec: a :class:`RuleSpec` (or anything :func:`load_spec` accepts).
        n_rows: number of rows to make (>= 0).
        rng: seed or :class:`numpy.random.Generator`; the same seed gives the same
            table.
        conditions: ``{column: value}``. Drawn columns are set to the value
            instead of being drawn (columns derived from them follow). Conditions
            on derived, label or per-entity columns keep only matching rows of
            bounded resampling rounds.

    Returns:
        A DataFrame with the spec's output columns in order: ints as ``int64``,
        floats ``float64``, booleans ``bool``, text as pandas' string/object
        dtype, datetimes ``datetime64[ns]`` (with the spec's time zone).

    Raises:
        SpecError: rows breaking a rule could not be replaced within
            ``max_rounds`` (the message says how many rows could be made and
            which rule failed); with ``on_failure: warn`` a
            :class:`~sosie.errors.SosieWarning` is issued and fewer rows returned.
        ConditionError: an unknown column, an impossible value, or matching rows
            that could not be made within the bound.

    Example:
        >>> spec = load_spec({
        ...     "columns": {
        ...         "merchant": {"distribution": "categorical",
        ...                      "categories": {"shop": 0.8, "atm": 0.2}},
        ...         "amount": {"distribution": "lognormal", "mu": 3.5, "sigma": 0.8,
        ...                    "decimals": 2},
        ...         "big": {"label": "amount > 100"},
        ...     },
        ...     "rules": ["amount > 0",
        ...               {"when": "merchant == 'atm'", "check": "amount % 20 == 0"}],
        ... })
        >>> df = generate(spec, 1000, rng=0)
        >>> df.shape, bool((df.amount > 0).all())
        ((1000, 3), True)
        >>> bool((df.amount[df.merchant == "atm"] % 20 == 0).all())
        True
        >>> generate(spec, 1000, rng=0).equals(df)
        True
        >>> set(generate(spec, 5, rng=1, conditions={"merchant": "atm"}).merchant)
        {'atm'}
    """
    spec = load_spec(spec)
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 0:
        raise ValueError(f"n_rows must be an integer >= 0, got {n_rows!r}")
    return _Engine(spec, as_seed_sequence(rng), conditions).run(int(n_rows))


# -- batches -------------------------------------------------------------------------------
class _Batch:
    """Column values of a set of rows, plus integer codes of categorical columns."""

    __slots__ = ("codes", "invalid", "meta", "n", "values")

    def __init__(self, n: int):
        self.n = n
        self.values: dict[str, Any] = {}
        self.codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self.invalid: dict[str, np.ndarray] = {}
        # rows of injected episodes: episode and pattern per row, fixed entity codes and times
        self.meta: dict[str, np.ndarray] = {}

    def set(self, name: str, values: Any, codes: tuple[np.ndarray, list[Any]] | None = None):
        self.values[name] = values
        if codes is not None:
            self.codes[name] = codes

    def take(self, idx: np.ndarray) -> _Batch:
        out = _Batch(len(idx))
        out.values = {k: v[idx] for k, v in self.values.items()}
        out.codes = {k: (c[idx], d) for k, (c, d) in self.codes.items()}
        out.invalid = {k: v[idx] for k, v in self.invalid.items()}
        out.meta = {k: v[idx] for k, v in self.meta.items()}
        return out

    def assign(self, idx: np.ndarray, sub: _Batch, names: list[str]) -> None:
        for k in names:
            v, new = self.values[k], sub.values[k]
            if isinstance(v, pd.DatetimeIndex):
                arr = v.asi8.copy()
                arr[idx] = new.asi8
                self.values[k] = (
                    pd.DatetimeIndex(arr.view("M8[ns]")).tz_localize("UTC").tz_convert(v.tz)
                )
            else:
                if v.dtype != new.dtype:
                    v = v.astype(np.result_type(v, new))
                    self.values[k] = v
                v[idx] = new
            if k in self.codes and k in sub.codes:
                self.codes[k][0][idx] = sub.codes[k][0]
            if k in sub.invalid:
                self.invalid.setdefault(k, np.zeros(self.n, bool))[idx] = sub.invalid[k]


# -- the engine ----------------------------------------------------------------------------
_POOL_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()


class _Engine:
    def __init__(self, spec: RuleSpec, root: np.random.SeedSequence, conditions: Any):
        self.spec = spec
        self.root = root
        self.cols = spec.columns
        self.index = {c.name: i for i, c in enumerate(self.cols)}
        self.streams: dict[tuple[int, int], np.random.Generator] = {}
        self.tables: dict[str, _Batch] = {}  # group column -> per-entity batch
        self.pools: dict[int, Any] = {}
        self.n_target = 0
        self.entity_p: dict[int, np.ndarray | None] = {}
        self.entity_dom: dict[int, tuple[np.ndarray, list[Any]]] = {}
        self.native, self.reject = self.check_conditions(conditions)
        # injected patterns that can give rows matching the conditions, by index in spec.inject
        self.patterns: list[tuple[int, InjectDef]] = [
            (k, p) for k, p in enumerate(spec.inject) if self.pattern_fits_conditions(p)
        ]
        self.assigners: dict[str, list[tuple[int, Draw]]] = {}
        for k, p in self.patterns:
            for name, d in p.assign.items():
                self.assigners.setdefault(name, []).append((k, d))
        self.skips = {
            r.name: np.array([k for k, p in self.patterns if r.name in p.skip_rules], np.int64)
            for r in spec.rules
        }

    # streams
    def stream(self, tag: int, i: int) -> np.random.Generator:
        key = (tag, i)
        if key not in self.streams:
            ss = np.random.SeedSequence(self.root.entropy, spawn_key=(*self.root.spawn_key, tag, i))
            self.streams[key] = np.random.Generator(np.random.PCG64(ss))
        return self.streams[key]

    # conditions
    def check_conditions(self, conditions: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if conditions is None:
            return {}, {}
        if not isinstance(conditions, Mapping):
            raise ConditionError(
                Problem(
                    "conditions",
                    "a mapping {column: value}",
                    type(conditions).__name__,
                    "pass e.g. conditions={'merchant': 'atm'}",
                )
            )
        native: dict[str, Any] = {}
        reject: dict[str, Any] = {}
        problems: list[Problem] = []
        outputs = self.spec.output_columns
        for name, value in conditions.items():
            if isinstance(value, np.generic):
                value = value.item()
            if name not in outputs:
                import difflib

                close = difflib.get_close_matches(str(name), outputs, n=3)
                problems.append(
                    Problem(
                        f"condition on {name!r}",
                        "an output column of the spec",
                        "no such column",
                        f"did you mean {', '.join(map(repr, close))}?"
                        if close
                        else "known columns: " + ", ".join(map(repr, outputs)),
                    )
                )
                continue
            c = self.cols[self.index[name]]
            where = f"condition {name}={value!r}"
            if value is None or (isinstance(value, float) and math.isnan(value)):
                problems.append(
                    Problem(where, "a value", "a missing value", "condition on actual values")
                )
                continue
            if c.stage >= 2:
                what = "a sequence" if c.stage == 3 else "an event_time column or derived from one"
                problems.append(
                    Problem(
                        where,
                        "a condition on a row-level column",
                        f"{name!r} is {what}",
                        "condition on the columns it is computed from",
                    )
                )
                continue
            problem, value = _check_condition_value(c, value, where)
            if problem is not None:
                problems.append(problem)
                continue
            if c.options.get("injected") is not None:
                problems.append(
                    Problem(
                        where,
                        "a condition on a column of the spec's columns",
                        f"{name!r}, a label that only injected patterns set",
                        "condition on the columns the pattern sets, or filter the output",
                    )
                )
                continue
            if c.kind == "draw" and c.per is None:
                native[name] = value
            else:
                reject[name] = value
        if problems:
            raise ConditionError(problems)
        return native, reject

    # run
    def run(self, n_rows: int) -> pd.DataFrame:
        self.n_target = n_rows
        self.build_tables()
        plan = self.plan(n_rows) if self.patterns and n_rows else None
        n_injected = plan.n_rows if plan is not None else 0
        stage1 = [c for c in self.cols if c.stage == 1 or c.distribution == "event_time"]
        batch = self.row_stage(stage1, n_rows - n_injected)
        self.event_stage(batch)
        if plan is not None and plan.n_rows:
            episodes = self.episodes(plan, batch, stage1)
            text = {c.name for c in self.cols if c.value_kind == "str"}
            batch = _concat([batch, episodes], helpers=False, text=text)
        return self.finish(batch)

    def build_tables(self) -> None:
        for i, c in enumerate(self.cols):
            if c.per is None:
                continue
            g = self.cols[self.index[c.per]]
            if g.name not in self.tables:
                dom = _domain(g)
                assert dom is not None
                t = _Batch(len(dom))
                t.set(g.name, _array(dom, g.value_kind), (np.arange(len(dom)), list(dom)))
                self.tables[g.name] = t
            t = self.tables[g.name]
            self.compute(c, i, t, tag=_T_ENTITY)

    def row_stage(self, cols: list[ColumnDef], n_rows: int) -> _Batch:
        """Make ``n_rows`` rows passing every row-level rule and condition (bounded)."""
        rules = [r for r in self.spec.rules if r.stage == 1]
        fails: Counter[tuple[str, str, frozenset[str]]] = Counter()
        max_rounds = self.spec.max_rounds
        cap = max(4 * n_rows, 65_536)
        out = self.batch(cols, n_rows)
        ok = self.check(out, rules, fails, with_conditions=True)
        out.invalid = {}
        holes = np.flatnonzero(~ok)  # rows of ``out`` still to replace
        generated, accepted, rounds = n_rows, n_rows - len(holes), 0
        while len(holes):
            if rounds >= max_rounds or (accepted == 0 and generated >= _MAX_CANDIDATES_WITHOUT_ANY):
                return self.give_up(out, holes, generated, rounds, fails, n_rows)
            rounds += 1
            rate = accepted / generated
            need = len(holes)
            m = int(min(cap, math.ceil(need / rate * 1.2) + 16)) if rate > 0 else cap
            m = max(m, _MIN_BATCH)
            b = self.batch(cols, m)
            good = np.flatnonzero(self.check(b, rules, fails, with_conditions=True))
            generated += m
            accepted += len(good)
            k = min(len(good), need)
            if k:
                out.assign(holes[:k], b.take(good[:k]), list(b.values))
                holes = holes[k:]
        return out

    def batch(self, cols: list[ColumnDef], m: int) -> _Batch:
        b = _Batch(m)
        for c in cols:
            self.compute(c, self.index[c.name], b, tag=_T_ROW)
        return b

    def check(
        self,
        b: _Batch,
        rules: list[RuleDef],
        fails: Counter[tuple[str, str, frozenset[str]]],
        *,
        with_conditions: bool,
    ) -> np.ndarray:
        ok = np.ones(b.n, dtype=bool)
        for name, bad in b.invalid.items():
            if bad.any():
                path = self.cols[self.index[name]].path
                fails[(f"the bounds of {name!r}", path, frozenset({name}))] += int(bad.sum())
                ok &= ~bad
        for r in rules:
            passed = self.rule_mask(r, b)
            skip = self.skips.get(r.name)
            if b.meta and skip is not None and len(skip):  # patterns exempt from the rule
                passed = passed | np.isin(b.meta["pattern"], skip)
            nf = int((~passed).sum())
            if nf:
                fails[(f"rule {r.name!r}", r.path, r.names)] += nf
                ok &= passed
        if with_conditions:
            for name, value in self.reject.items():
                passed = _equals(b.values[name], value)
                nf = int((~passed).sum())
                if nf:
                    fails[(f"condition {name}={value!r}", "", frozenset({name}))] += nf
                    ok &= passed
        return ok

    def rule_mask(self, r: RuleDef, b: _Batch) -> np.ndarray:
        check = _as_bool(self.evaluate(r.check, b, r.path + ".check"))
        if r.when is None:
            return check
        when = _as_bool(self.evaluate(r.when, b, r.path + ".when"))
        return check | ~when

    def give_up(
        self,
        out: _Batch,
        holes: np.ndarray,
        generated: int,
        rounds: int,
        fails: Counter[tuple[str, str, frozenset[str]]],
        n_rows: int,
    ) -> _Batch:
        accepted = n_rows - len(holes)
        (label, path, names), worst_n = (
            fails.most_common(1)[0] if fails else (("(nothing)", "", frozenset()), 0)
        )
        share = worst_n / generated if generated else 0.0
        shown = f"{label} ({self.spec.where(path)})" if path else label
        found = (
            f"only {accepted} of {n_rows} rows could be made in {rounds} resampling rounds "
            f"({generated} candidate rows); {shown} rejected {share:.1%} of the candidates"
        )
        if self.reject or names & set(self.native):
            conds = {**self.native, **self.reject}
            raise ConditionError(
                Problem(
                    "conditions " + ", ".join(f"{k}={v!r}" for k, v in conds.items()),
                    f"{n_rows} rows matching the conditions and the rules",
                    found,
                    "condition on drawn columns (set directly), relax the conditions or rules, "
                    "ask for fewer rows, or raise max_rounds",
                )
            )
        problem = Problem(
            self.spec.where(path or "rules"),
            f"{n_rows} rows that satisfy every rule",
            found,
            "relax that rule, bound the distribution so it holds by construction "
            "(min/max, round_to), or raise max_rounds",
        )
        if self.spec.on_failure == "warn":
            warnings.warn(str(problem), SosieWarning, stacklevel=4)
            keep = np.ones(out.n, dtype=bool)
            keep[holes] = False
            return out.take(np.flatnonzero(keep))
        raise SpecError(problem)

    # event stage
    def event_stage(self, b: _Batch) -> None:
        cols = [c for c in self.cols if c.stage == 2]
        if not cols:
            return
        for c in cols:
            self.compute(c, self.index[c.name], b, tag=_T_ROW, event=True)
        rules = [r for r in self.spec.rules if r.stage == 2]
        if not rules:
            return
        redraw = [c for c in cols if c.distribution != "event_time"]
        fails: Counter[tuple[str, str, frozenset[str]]] = Counter()
        for rnd in range(self.spec.max_rounds + 1):
            ok = self.check(b, rules, fails, with_conditions=False)
            if ok.all():
                return
            bad = np.flatnonzero(~ok)
            if rnd == self.spec.max_rounds or not redraw:
                break
            sub = b.take(bad)
            for c in redraw:
                self.compute(c, self.index[c.name], sub, tag=_T_ROW, event=True)
            b.assign(bad, sub, [c.name for c in redraw])
        label, path, _ = fails.most_common(1)[0][0]
        problem = Problem(
            self.spec.where(path or "rules"),
            f"{b.n} rows that satisfy every rule",
            f"{len(bad)} rows still break {label} after {self.spec.max_rounds} rounds "
            f"redrawing the columns computed from event times; {b.n - len(bad)} rows are valid",
            "relax the rule or base it on row-level columns",
        )
        if self.spec.on_failure == "warn":
            warnings.warn(str(problem), SosieWarning, stacklevel=4)
            keep = b.take(np.flatnonzero(ok))
            b.n, b.values, b.codes, b.invalid = keep.n, keep.values, keep.codes, keep.invalid
            return
        raise SpecError(problem)

    # injected patterns
    def pattern_fits_conditions(self, p: InjectDef) -> bool:
        """Whether a pattern's episodes can match the conditions (else it is left out)."""
        conds = {**self.native, **self.reject}
        if not conds:
            return True
        if p.time in conds:
            return False
        for name, d in p.assign.items():
            if name not in conds:
                continue
            v = conds[name]
            if d.column is None:
                if not (d.value == v and isinstance(d.value, bool) == isinstance(v, bool)):
                    return False
            elif d.column.distribution == "categorical":
                cats, w = d.column.options["categories"], d.column.options["weights"]
                if v not in cats or (isinstance(w, list) and not w[cats.index(v)] > 0):
                    return False
            elif d.column.distribution != "bernoulli":
                return False
        return True

    def plan(self, n_rows: int) -> _Plan:
        """Which entities get episodes and how many events each: drawn before any row."""
        pats, ents, sizes = [], [], []
        budget = n_rows
        for k, p in self.patterns:
            rng = self.stream(_T_PLAN, k)
            ei = self.index[p.entity]
            ec = self.cols[ei]
            count = ec.options["count"]
            if p.entities is not None:
                m = round(p.entities * count)
                chosen = rng.choice(count, size=m, replace=False).astype(np.int64)
                ent = np.repeat(chosen, self.count(p.episodes, rng, m, 0))
            else:
                m = int(rng.poisson(p.rate * n_rows))
                probs = self.entity_probs(ec, ei)
                ent = (
                    rng.choice(count, size=m, p=probs).astype(np.int64)
                    if probs is not None
                    else rng.integers(0, count, size=m, dtype=np.int64)
                )
            size = self.count(p.events, rng, len(ent), 1)
            if p.entity in self.native:  # a condition on the entity: only its episodes
                keep = ent == self.entity_domain(ec, ei)[1].index(self.native[p.entity])
                ent, size = ent[keep], size[keep]
            # at most max_share of the rows: whole episodes, in random order, while they fit
            cap = min(math.floor(p.max_share * n_rows), budget)
            order = rng.permutation(len(ent))
            keep = np.sort(order[np.cumsum(size[order]) <= cap])
            if len(keep) < len(ent):
                logger.debug(
                    "pattern %r: %d of %d episodes fit in max_share=%g of %d rows",
                    p.name,
                    len(keep),
                    len(ent),
                    p.max_share,
                    n_rows,
                )
            ent, size = ent[keep], size[keep]
            budget -= int(size.sum())
            pats.append(np.full(len(ent), k, dtype=np.int64))
            ents.append(ent)
            sizes.append(size)
        return _Plan(np.concatenate(pats), np.concatenate(ents), np.concatenate(sizes))

    def count(self, d: Draw, rng: np.random.Generator, m: int, minimum: int) -> np.ndarray:
        """``m`` whole numbers >= ``minimum`` from a constant or a distribution."""
        if d.column is None:
            return np.full(m, max(int(d.value), minimum), dtype=np.int64)
        x = self.draw_values(d.column, rng, m)
        x = np.rint(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=minimum))
        return np.maximum(x, minimum).astype(np.int64)

    def draw_values(self, c: ColumnDef, rng: np.random.Generator, m: int) -> np.ndarray:
        b = _Batch(m)
        self.draw_numeric(c, rng, b)
        return b.values[c.name]

    def spans(self, p: InjectDef, ordinary: _Batch) -> tuple[np.ndarray, np.ndarray]:
        """Per entity, the first and last time of its ordinary rows (else the table's)."""
        ec = self.cols[self.index[p.entity]]
        tc = self.cols[self.index[p.time]]
        count = ec.options["count"]
        t = _ns(ordinary.values[p.time]) if ordinary.n else np.zeros(0, np.int64)
        if len(t):
            lo_all, hi_all = int(t.min()), int(t.max())
        else:
            lo_all = tc.options["start"].value
            end = tc.options.get("end")
            hi_all = end.value - 1 if end is not None else lo_all
        lo = np.full(count, lo_all, dtype=np.int64)
        hi = np.full(count, hi_all, dtype=np.int64)
        if p.within == "entity" and len(t):
            codes = ordinary.codes[p.entity][0]
            mn = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
            mx = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
            np.minimum.at(mn, codes, t)
            np.maximum.at(mx, codes, t)
            own = np.bincount(codes, minlength=count) >= 2  # a span needs two events
            lo[own], hi[own] = mn[own], mx[own]
        return lo, hi

    def episode_times(self, plan: _Plan, ordinary: _Batch) -> None:
        """The time of every event of every episode (``plan.t``)."""
        plan.t = np.zeros(plan.n_rows, dtype=np.int64)
        for k, p in self.patterns:
            eps = np.flatnonzero(plan.pattern == k)
            if not len(eps):
                continue
            tc = self.cols[self.index[p.time]]
            tz = tc.options.get("tz")
            rng = self.stream(_T_PLAN, _SET_KEY + k)
            lo, hi = self.spans(p, ordinary)
            ent = plan.entity[eps]
            width = (hi[ent] - lo[ent]).astype(np.float64)
            start = lo[ent] + np.floor(rng.random(len(eps)) * width).astype(np.int64)
            if p.hours is not None:
                start = _in_hours(start, p.hours, tz, rng.random(len(eps)))
            # events: the start, then the pattern's gaps
            sizes = plan.size[eps]
            r0 = int(plan.offset[eps[0]])
            n = int(sizes.sum())
            ep = np.repeat(np.arange(len(eps)), sizes)
            first = np.cumsum(sizes) - sizes
            if p.gap.column is None:
                gap = np.full(n, float(p.gap.value))
            else:
                gap = np.asarray(self.draw_values(p.gap.column, rng, n), dtype=np.float64)
            gap = np.rint(np.clip(np.nan_to_num(gap), 0, None) * UNITS[p.gap_unit]).astype(np.int64)
            gap[first] = 0
            cs = np.cumsum(gap)
            t = start[ep] + cs - cs[first][ep]
            end = tc.options.get("end")
            if tc.distribution == "datetime" and end is not None:
                # keep the episode inside the column's range: shift it back if it runs past the end
                s_ns, e_ns = tc.options["start"].value, end.value - 1
                last = t[first + sizes - 1]
                shift = np.minimum(e_ns - last, 0)
                t = np.clip(t + shift[ep], s_ns, e_ns)
            plan.t[r0 : r0 + n] = _floor(t, tc.options["resolution"], tz)

    def episode_batch(self, plan: _Plan, eps: np.ndarray) -> _Batch:
        """Empty rows of the given episodes, with their entity, times and pattern fixed."""
        sizes = plan.size[eps]
        n = int(sizes.sum())
        local = np.repeat(np.arange(len(eps)), sizes)
        first = np.cumsum(sizes) - sizes
        rows = plan.offset[eps][local] + (np.arange(n) - first[local])
        ep = eps[local]
        pat = plan.pattern[ep]
        b = _Batch(n)
        b.meta = {"episode": ep, "pattern": pat}
        for _, p in self.patterns:
            for name in (p.entity, p.time):
                b.meta.setdefault("fix:" + name, np.zeros(n, dtype=np.int64))
                b.meta.setdefault("fixmask:" + name, np.zeros(n, dtype=bool))
        for k, p in self.patterns:
            m = pat == k
            if m.any():
                b.meta["fix:" + p.entity][m] = plan.entity[ep[m]]
                b.meta["fixmask:" + p.entity][m] = True
                b.meta["fix:" + p.time][m] = plan.t[rows[m]]
                b.meta["fixmask:" + p.time][m] = True
        return b

    def override(self, c: ColumnDef, b: _Batch) -> None:
        """Episode rows: the fixed entity and time, then the patterns' set and label values."""
        fm = b.meta.get("fixmask:" + c.name)
        if fm is not None and fm.any():
            rows = np.flatnonzero(fm)
            fv = b.meta["fix:" + c.name][rows]
            if c.distribution == "entity":
                arr, dom = self.entity_domain(c, self.index[c.name])
                codes = b.codes[c.name][0].copy()
                codes[rows] = fv
                b.set(c.name, arr[codes], (codes, dom))
            else:
                self.put_times(c, b, rows, fv)
        if c.name in self.native:  # a condition wins (the pattern was checked to allow it)
            return
        for k, d in self.assigners.get(c.name, ()):
            rows = np.flatnonzero(b.meta["pattern"] == k)
            if len(rows):
                self.assign_value(k, d, c, b, rows)

    def assign_value(self, k: int, d: Draw, c: ColumnDef, b: _Batch, rows: np.ndarray) -> None:
        bad = None
        if d.column is None:
            if c.value_kind == "datetime":
                self.put_times(c, b, rows, np.full(len(rows), pd.Timestamp(d.value).value))
            else:
                kind = c.value_kind if c.value_kind in ("int", "float", "bool") else "str"
                self.put(c, b, rows, _array([d.value] * len(rows), kind))
        else:
            inv = None
            if d.per_episode:
                _, first, inv = np.unique(
                    b.meta["episode"][rows], return_index=True, return_inverse=True
                )
                sub = b.take(rows[first])
            else:
                sub = b.take(rows)
            key = _SET_KEY + k * 10_000 + self.index[c.name]
            if d.column.distribution == "faker" and key not in self.pools:
                # a pool as large as the pattern can use (not one per output row)
                eps = self.plan_.pattern == k
                need = int(eps.sum() if d.per_episode else self.plan_.size[eps].sum())
                size = max(1, min(d.column.options["pool_size"], need))
                self.pools[key] = _FakerPool(d.column, self.stream(_T_FAKER, key), size)
            pool = self.pools.get(key)
            if d.per_episode and pool is not None and sub.n <= len(pool.values):
                # one value per episode: different episodes get different values
                ids = self.stream(_T_SET, key).permutation(len(pool.values))[: sub.n]
                sub.set(c.name, pool.values[ids], (ids, pool.domain) if pool.distinct else None)
            else:
                self.draw(d.column, key, sub, _T_SET)
            vals, codes, bad = sub.values[c.name], sub.codes.get(c.name), sub.invalid.get(c.name)
            if inv is not None:
                vals = vals[inv]
                codes = (codes[0][inv], codes[1]) if codes is not None else None
                bad = bad[inv] if bad is not None else None
            if c.value_kind == "datetime":
                self.put_times(c, b, rows, _ns(vals))
            else:
                self.put(c, b, rows, vals, codes)
        if bad is not None and bad.any():
            b.invalid.setdefault(c.name, np.zeros(b.n, dtype=bool))[rows] = bad
        elif c.name in b.invalid:
            b.invalid[c.name] = b.invalid[c.name].copy()
            b.invalid[c.name][rows] = False

    def put_times(self, c: ColumnDef, b: _Batch, rows: np.ndarray, t_ns: np.ndarray) -> None:
        arr = _ns(b.values[c.name]).copy()
        arr[rows] = t_ns
        b.set(c.name, _dt_values(arr, c.options.get("tz")))

    def put(
        self,
        c: ColumnDef,
        b: _Batch,
        rows: np.ndarray,
        vals: Any,
        codes: tuple[np.ndarray, list[Any]] | None = None,
    ) -> None:
        """Replace a column's values on some rows, keeping its category codes consistent."""
        vals = np.asarray(_cast(vals, c.value_kind))
        cur = np.asarray(b.values[c.name])
        if cur.dtype != vals.dtype:
            both_plain = cur.dtype != object and vals.dtype != object
            cur = cur.astype(np.result_type(cur, vals) if both_plain else object)
        else:
            cur = cur.copy()
        cur[rows] = vals
        old = b.codes.get(c.name)
        if old is None:
            b.set(c.name, cur)
            b.codes.pop(c.name, None)
            return
        cc, dom = old
        if codes is not None and (codes[1] is dom or list(codes[1]) == list(dom)):
            mapped = codes[0]
        else:
            mapped, dom = _codes_in(vals, dom)
        cc = cc.copy()
        cc[rows] = mapped
        b.set(c.name, cur, (cc, dom))

    def episodes(self, plan: _Plan, ordinary: _Batch, stage1: list[ColumnDef]) -> _Batch:
        """The rows of every episode: made like ordinary rows, with the patterns' values.

        An episode that breaks a rule or condition is made again as a whole (bounded by
        ``max_rounds``), so values drawn once per episode stay shared by its rows.
        """
        self.plan_ = plan
        self.episode_times(plan, ordinary)
        rules = [r for r in self.spec.rules if r.stage == 1]
        fails: Counter[tuple[str, str, frozenset[str]]] = Counter()
        pending = np.arange(len(plan.size))
        parts: list[_Batch] = []
        for _ in range(self.spec.max_rounds + 1):
            b = self.episode_batch(plan, pending)
            for c in stage1:
                self.compute(c, self.index[c.name], b, tag=_T_EPISODE)
            ok = self.check(b, rules, fails, with_conditions=True)
            b.invalid = {}
            pending = np.unique(b.meta["episode"][~ok])
            parts.append(b.take(np.flatnonzero(~np.isin(b.meta["episode"], pending))))
            if not len(pending):
                break
        if len(pending):
            self.episodes_failed(plan, pending, fails, "rows")
        out = _concat(parts)
        return self.episode_event_stage(out, plan)

    def episode_event_stage(self, b: _Batch, plan: _Plan) -> _Batch:
        cols = [c for c in self.cols if c.stage == 2]
        for c in cols:
            self.compute(c, self.index[c.name], b, tag=_T_EPISODE, event=True)
        rules = [r for r in self.spec.rules if r.stage == 2]
        if not cols or not rules or not b.n:
            return b
        redraw = [c for c in cols if c.distribution != "event_time"]
        fails: Counter[tuple[str, str, frozenset[str]]] = Counter()
        parts: list[_Batch] = []
        for rnd in range(self.spec.max_rounds + 1):
            ok = self.check(b, rules, fails, with_conditions=False)
            bad = np.unique(b.meta["episode"][~ok])
            redo = np.isin(b.meta["episode"], bad)
            parts.append(b.take(np.flatnonzero(~redo)))
            if not len(bad):
                return _concat(parts)
            if rnd == self.spec.max_rounds or not redraw:
                break
            b = b.take(np.flatnonzero(redo))
            for c in redraw:
                self.compute(c, self.index[c.name], b, tag=_T_EPISODE, event=True)
        self.episodes_failed(plan, bad, fails, "columns computed from event times of the rows")
        return _concat(parts)

    def episodes_failed(
        self,
        plan: _Plan,
        pending: np.ndarray,
        fails: Counter[tuple[str, str, frozenset[str]]],
        what: str,
    ) -> None:
        (label, path, _), _ = fails.most_common(1)[0]
        counts = Counter(plan.pattern[pending].tolist())
        k = counts.most_common(1)[0][0]
        p = self.spec.inject[k]
        rows = int(plan.size[pending].sum())
        shown = f"{label} ({self.spec.where(path)})" if path else label
        problem = Problem(
            f"{self.spec.where(p.path)} (pattern {p.name!r})",
            "episodes whose rows satisfy every rule (but those in skip_rules) and condition",
            f"{len(pending)} of {len(plan.size)} episodes ({rows} rows) still break {shown} "
            f"after {self.spec.max_rounds} rounds making their {what} again",
            "change the pattern's set values so that the rule holds, add the rule to the "
            "pattern's skip_rules, or relax the rule",
        )
        if label.startswith("condition"):
            raise ConditionError(problem)
        if self.spec.on_failure != "warn":
            raise SpecError(problem)
        warnings.warn(str(problem) + " (those episodes are left out)", SosieWarning, stacklevel=5)

    # final assembly
    def finish(self, b: _Batch) -> pd.DataFrame:
        n = b.n
        order = None
        if self.spec.order_by and n:
            keys = [_sort_key(b.values[k], b.codes.get(k)) for k in self.spec.order_by]
            order = _lexsort(keys)
        data: dict[str, Any] = {}
        for i, c in enumerate(self.cols):
            if c.hidden:
                continue
            mask = None
            if c.null_rate > 0 and c.name not in self.native and c.name not in self.reject:
                mask = self.stream(_T_NULL, i).random(n) < c.null_rate
            if c.null_when is not None:  # a null_iff constraint: missing exactly there
                when = _as_bool(self.evaluate(c.null_when, b, c.path + ".null_when"))
                mask = when if order is None else when[order]
            if c.distribution == "sequence":
                seq = self.sequence(c, b, order)
                if mask is not None or isinstance(seq, np.ndarray):
                    kind = object if c.value_kind == "str" else np.int64
                    seq = _to_series(np.asarray(seq, dtype=kind), c, mask)
                data[c.name] = seq
                continue
            codes = b.codes.get(c.name)
            if codes is not None and c.value_kind == "str":
                cc = codes[0] if order is None else codes[0][order]
                data[c.name] = _strings_from_codes(cc, codes[1], mask)
                continue
            v = b.values[c.name]
            data[c.name] = _to_series(v if order is None else v[order], c, mask)
        return pd.DataFrame(data, index=pd.RangeIndex(n))

    def sequence(self, c: ColumnDef, b: _Batch, order: np.ndarray | None) -> Any:
        start, step, fmt = c.options["start"], c.options["step"], c.options["format"]
        n = b.n
        if c.by is None:
            pos = np.arange(n, dtype=np.int64)
        else:
            codes = _group_codes(b.values[c.by], b.codes.get(c.by))
            if order is not None:
                codes = codes[order]
            order = np.argsort(codes, kind="stable")
            sc = codes[order]
            first = np.r_[True, sc[1:] != sc[:-1]] if n else np.zeros(0, bool)
            starts = np.flatnonzero(first)
            rank = np.arange(n) - starts[np.cumsum(first) - 1] if n else np.zeros(0, np.int64)
            pos = np.empty(n, dtype=np.int64)
            pos[order] = rank
        nums = start + step * pos
        return _format_ids(nums, fmt) if fmt else nums

    # columns
    def compute(self, c: ColumnDef, i: int, b: _Batch, *, tag: int, event: bool = False) -> None:
        self._compute(c, i, b, tag=tag, event=event)
        if b.meta and (c.distribution != "event_time" or event):
            self.override(c, b)

    def _compute(self, c: ColumnDef, i: int, b: _Batch, *, tag: int, event: bool = False) -> None:
        if tag != _T_ENTITY and c.name in self.native:
            self.set_native(c, b)
            return
        if tag != _T_ENTITY and c.per is not None:
            t = self.tables[c.per]
            gcodes = b.codes[c.per][0]
            vals = t.values[c.name]
            codes = t.codes.get(c.name)
            b.set(
                c.name,
                vals[gcodes],
                (codes[0][gcodes], codes[1]) if codes is not None else None,
            )
            return
        if c.kind == "expr":
            self.derive(c, b)
        elif c.kind == "label":
            self.label(c, i, b)
        elif c.distribution == "event_time":
            if event:
                self.event_time(c, b)
            else:
                scale = self.event_scale(c, b)
                gap = self.stream(tag, i).exponential(1.0, b.n) * scale
                b.set(f"__gap__{c.name}", gap)
        elif c.distribution == "sequence":
            return
        else:
            self.draw(c, i, b, tag)

    def set_native(self, c: ColumnDef, b: _Batch) -> None:
        value = self.native[c.name]
        n = b.n
        dom = _domain(c)
        if c.value_kind == "datetime":
            ts = pd.Timestamp(value)
            arr = np.full(n, ts.value, dtype=np.int64)
            b.set(c.name, _dt_values(arr, c.options.get("tz")))
            return
        vals = _array([value] * n, c.value_kind) if n else _array([], c.value_kind)
        codes = None
        if dom is not None:
            codes = (np.full(n, list(dom).index(value), dtype=np.int64), list(dom))
        elif c.distribution == "faker":
            codes = (np.zeros(n, dtype=np.int64), [value])
        b.set(c.name, vals, codes)

    def evaluate(self, expr: Any, b: _Batch, path: str) -> Any:
        try:
            return expr.evaluate(b.values, b.n, codes=b.codes)
        except (TypeError, ValueError, NameError, KeyError, AttributeError) as e:
            raise SpecError(
                Problem(
                    self.spec.where(path),
                    "an expression that can be computed on the columns",
                    f"{type(e).__name__}: {e} in {expr.text!r}",
                    "check the types of the columns it uses (text can only be compared)",
                )
            ) from None

    def param(self, c: ColumnDef, key: str, p: Param, b: _Batch) -> Any:
        path = f"{c.path}.{key}"
        if p.expr is not None:
            v = self.evaluate(p.expr, b, path)
            return np.asarray(v, dtype=np.float64) if key != "weights" else v
        if p.by is not None:
            return self.lookup(p, b, path, numeric=True)
        return p.value

    def lookup_index(self, p: Param, b: _Batch, path: str) -> tuple[np.ndarray, list[Any]]:
        """Per row, the index into the lookup's values (the default is the last entry)."""
        keys = list(p.table or {})
        vals = list((p.table or {}).values())
        by_codes = b.codes.get(p.by)  # type: ignore[arg-type]
        if by_codes is not None:
            codes, dom = by_codes
            pos = {k: j for j, k in enumerate(keys)}
            idx_dom = np.array([pos.get(d, -1) for d in dom], dtype=np.int64)
            idx = idx_dom[codes]
        else:
            by_vals = b.values[p.by]  # type: ignore[index]
            idx = pd.Index(keys).get_indexer(np.asarray(by_vals))
        if (idx < 0).any():
            if not p.has_default:
                missing = pd.unique(np.asarray(b.values[p.by])[idx < 0])[:5]  # type: ignore[index]
                raise SpecError(
                    Problem(
                        self.spec.where(path),
                        f"an entry for every value of {p.by!r}",
                        "no entry for " + ", ".join(map(repr, missing)),
                        "add those values or a 'default:'",
                    )
                )
            vals = [*vals, p.default]
            idx = np.where(idx < 0, len(keys), idx)
        return idx, vals

    def lookup(self, p: Param, b: _Batch, path: str, *, numeric: bool) -> np.ndarray:
        idx, vals = self.lookup_index(p, b, path)
        table = np.asarray(vals, dtype=np.float64) if numeric else _array(vals, "unknown")
        return table[idx]

    def derive(self, c: ColumnDef, b: _Batch) -> None:
        p = c.expr
        assert p is not None
        leaves = _if_leaves(p.expr.tree.body) if p.expr is not None else None
        if leaves is not None and len(leaves) > 1:
            # 'a' if x else ('b' if y else 'c'): category codes, then a take (fast text)
            codes = self.if_codes(p.expr.tree.body, leaves, b, f"{c.path}.expr")
            b.set(c.name, _array(leaves, "str")[codes], (codes, leaves))
            return
        if p.expr is not None:
            v = self.evaluate(p.expr, b, f"{c.path}.expr")
        else:
            v = self.lookup(p, b, f"{c.path}.expr", numeric=False)
            kinds = {type(x) for x in v[:1]}
            if kinds and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v[:1]
            ):
                v = np.asarray(v.tolist())
        v = _cast(v, c.options.get("dtype") or c.value_kind)
        if c.decimals is not None and isinstance(v, np.ndarray) and v.dtype.kind == "f":
            v = np.round(v, c.decimals)
        codes = None
        if isinstance(v, np.ndarray) and v.dtype == object:
            codes = self.text_codes(p, b, v)
        b.set(c.name, v, codes)

    def if_codes(self, node: ast.AST, leaves: list[str], b: _Batch, path: str) -> np.ndarray:
        if isinstance(node, ast.Constant):
            return np.full(b.n, leaves.index(node.value), dtype=np.int64)
        assert isinstance(node, ast.IfExp)
        try:
            with np.errstate(all="ignore"):
                test = _as_bool(_Evaluator(b.values, b.codes).visit(node.test))
        except (TypeError, ValueError, NameError, KeyError, AttributeError) as e:
            raise SpecError(
                Problem(
                    self.spec.where(path),
                    "an expression that can be computed on the columns",
                    f"{type(e).__name__}: {e} in {ast.unparse(node.test)!r}",
                    "check the types of the columns it uses (text can only be compared)",
                )
            ) from None
        test = np.broadcast_to(test, (b.n,))
        body = self.if_codes(node.body, leaves, b, path)
        orelse = self.if_codes(node.orelse, leaves, b, path)
        return np.where(test, body, orelse)

    def text_codes(self, p: Param, b: _Batch, v: np.ndarray) -> tuple[np.ndarray, list[Any]] | None:
        """Codes of a derived text column when they come for free (constants, lookups)."""
        if p.expr is not None and isinstance(p.expr.tree.body, ast.Constant):
            return np.zeros(b.n, dtype=np.int64), [p.expr.tree.body.value]
        if p.by is not None:
            idx, vals = self.lookup_index(p, b, "")
            if all(isinstance(x, str) for x in vals) and len(set(vals)) == len(vals):
                return idx.astype(np.int64), list(vals)
        return None

    def label(self, c: ColumnDef, i: int, b: _Batch) -> None:
        v = _as_bool(self.evaluate(c.label, b, f"{c.path}.label")).copy()
        if c.noise > 0:
            v ^= self.stream(_T_NOISE, i).random(b.n) < c.noise
        b.set(c.name, v)

    def event_scale(self, c: ColumnDef, b: _Batch) -> Any:
        if "rate" in c.params:
            rate = self.param(c, "rate", c.params["rate"], b)
            bad = ~(np.asarray(rate) > 0)
            if np.any(bad):
                self.bad_param(c, "rate", "rates > 0", int(np.sum(bad)))
            return 1.0 / np.asarray(rate, dtype=np.float64)
        scale = self.param(c, "scale", c.params["scale"], b)
        if np.any(~(np.asarray(scale) > 0)):
            self.bad_param(c, "scale", "scales > 0", int(np.sum(~(np.asarray(scale) > 0))))
        return np.asarray(scale, dtype=np.float64)

    def bad_param(self, c: ColumnDef, key: str, expected: str, count: int) -> None:
        raise SpecError(
            Problem(
                self.spec.where(f"{c.path}.{key}"),
                expected,
                f"invalid values in {count} rows",
                "make the expression or lookup give valid values (e.g. wrap it in max(..., 0.001))",
            )
        )

    def event_time(self, c: ColumnDef, b: _Batch) -> None:
        gap = b.values[f"__gap__{c.name}"]
        g_ns = np.rint(np.asarray(gap, dtype=np.float64) * UNITS[c.options["unit"]]).astype(
            np.int64
        )
        n = b.n
        if c.by is not None:
            codes = _group_codes(b.values[c.by], b.codes.get(c.by))
        else:
            codes = np.zeros(n, dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        gs = g_ns[order]
        cs = np.cumsum(gs)
        if n:
            sc = codes[order]
            first = np.r_[True, sc[1:] != sc[:-1]]
            starts = np.flatnonzero(first)
            base = cs[starts] - gs[starts]
            cs = cs - base[np.cumsum(first) - 1]
        t = np.empty(n, dtype=np.int64)
        start = c.options["start"]
        t[order] = start.value + cs
        t = _floor(t, c.options["resolution"], c.options.get("tz"))
        b.set(c.name, _dt_values(t, c.options.get("tz")))

    # drawing
    def draw(self, c: ColumnDef, i: int, b: _Batch, tag: int) -> None:
        d = c.distribution
        rng = self.stream(tag, i)
        n = b.n
        if d in _NUMERIC_DRAWN:
            self.draw_numeric(c, rng, b)
        elif d == "bernoulli":
            p = np.asarray(self.param(c, "p", c.params["p"], b), dtype=np.float64)
            bad = ~((p >= 0) & (p <= 1))
            if bad.any():
                self.bad_param(c, "p", "probabilities in [0, 1]", int(bad.sum()))
            v = rng.random(n) < p
            b.set(c.name, v, (v.astype(np.int64), [False, True]))
        elif d == "categorical":
            self.draw_categorical(c, rng, b)
        elif d == "entity":
            self.draw_entity(c, i, rng, b)
        elif d == "faker":
            self.draw_faker(c, i, rng, b)
        elif d == "datetime":
            self.draw_datetime(c, rng, b)
        elif d == "uuid":
            b.set(c.name, _uuids(rng, n))
        else:  # pragma: no cover - validated
            raise AssertionError(d)

    def draw_categorical(self, c: ColumnDef, rng: np.random.Generator, b: _Batch) -> None:
        cats = c.options["categories"]
        w = c.options["weights"]
        k = len(cats)
        n = b.n
        if isinstance(w, Param):
            idx, rows = self.lookup_index(w, b, f"{c.path}.weights")
            cum = np.cumsum(np.asarray(rows, dtype=np.float64), axis=1)
            cum /= cum[:, -1:]
            u = rng.random(n)
            codes = np.empty(n, dtype=np.int64)
            for g in np.unique(idx):
                sel = idx == g
                codes[sel] = np.searchsorted(cum[g], u[sel], side="right")
            np.minimum(codes, k - 1, out=codes)
        else:
            p = np.asarray(w, dtype=np.float64)
            codes = rng.choice(k, size=n, p=p / p.sum()).astype(np.int64)
        dom = _array(cats, c.value_kind)
        b.set(c.name, dom[codes], (codes, list(cats)))

    def entity_probs(self, c: ColumnDef, i: int) -> np.ndarray | None:
        """Each entity's share of the rows (None: all equal); drawn once per generation."""
        if i not in self.entity_p:
            count, skew = c.options["count"], c.options["skew"]
            weights = c.options.get("weights")
            p = None
            if weights is not None:
                w = np.asarray(self.tables[c.name].values[weights], dtype=np.float64)
                if not (np.all(w >= 0) and w.sum() > 0):
                    self.bad_param(
                        c, "weights", "non-negative weights, not all zero", int(np.sum(~(w >= 0)))
                    )
                p = w / w.sum()
            elif skew > 0:
                ranks = self.stream(_T_SKEW, i).permutation(count) + 1.0
                p = ranks**-skew
                p = p / p.sum()
            self.entity_p[i] = p
        return self.entity_p[i]

    def entity_domain(self, c: ColumnDef, i: int) -> tuple[np.ndarray, list[Any]]:
        """The entity ids as an array (to index with codes) and as a list (the codes' domain)."""
        if i not in self.entity_dom:
            dom = _entity_values(c)
            self.entity_dom[i] = (_array(dom, c.value_kind), dom)
        return self.entity_dom[i]

    def draw_entity(self, c: ColumnDef, i: int, rng: np.random.Generator, b: _Batch) -> None:
        count = c.options["count"]
        p = self.entity_probs(c, i)
        if p is not None:
            codes = rng.choice(count, size=b.n, p=p).astype(np.int64)
        else:
            codes = rng.integers(0, count, size=b.n, dtype=np.int64)
        arr, dom = self.entity_domain(c, i)
        b.set(c.name, arr[codes], (codes, dom))

    def draw_faker(self, c: ColumnDef, i: int, rng: np.random.Generator, b: _Batch) -> None:
        pool = self.pools.get(i)
        if pool is None:
            pool = _FakerPool(c, self.stream(_T_FAKER, i), self.pool_target(c))
            self.pools[i] = pool
        if c.options["unique"]:
            values = pool.take_unique(b.n, self.spec.where(c.path))
            b.set(c.name, values)
            return
        codes = rng.integers(0, len(pool.values), size=b.n, dtype=np.int64)
        b.set(c.name, pool.values[codes], (codes, pool.domain) if pool.distinct else None)

    def pool_target(self, c: ColumnDef) -> int:
        if c.per is not None:
            need = self.tables[c.per].n
        else:
            need = self.n_target
        if c.options["unique"]:
            return max(need, 1)
        return max(1, min(c.options["pool_size"], need))

    def draw_datetime(self, c: ColumnDef, rng: np.random.Generator, b: _Batch) -> None:
        start, end = c.options["start"], c.options["end"]
        tz = c.options.get("tz")
        hw, ww = c.options.get("hour_weights"), c.options.get("weekday_weights")
        n = b.n
        s_ns, e_ns = start.value, end.value
        if hw is None and ww is None:
            t = s_ns + np.floor(rng.random(n) * (e_ns - s_ns)).astype(np.int64)
        else:
            slots = pd.date_range(start.floor("h"), end, freq="h", inclusive="left").as_unit("ns")
            slot_ns = slots.asi8
            hour = 3_600_000_000_000
            lo = np.maximum(slot_ns, s_ns)
            hi = np.minimum(slot_ns + hour, e_ns)
            width = np.maximum(hi - lo, 0)
            w = width / hour
            if hw is not None:
                w = w * np.asarray(hw)[np.asarray(slots.hour)]
            if ww is not None:
                w = w * np.asarray(ww)[np.asarray(slots.day_of_week)]
            if not w.sum() > 0:
                raise SpecError(
                    Problem(
                        self.spec.where(c.path),
                        "hour/weekday weights that are positive somewhere in the range",
                        "zero weight on every hour between start and end",
                        "widen the range or change the weights",
                    )
                )
            k = rng.choice(len(w), size=n, p=w / w.sum())
            t = lo[k] + np.floor(rng.random(n) * width[k]).astype(np.int64)
        t = _floor(t, c.options["resolution"], tz)
        b.set(c.name, _dt_values(t, tz))

    def bounds(self, c: ColumnDef, b: _Batch) -> tuple[Any, Any, Any]:
        """Per-row lower/upper bounds and grid from min/max, round_to and rules."""
        n = b.n
        is_int = c.value_kind == "int"
        discrete = c.distribution in ("poisson", "integer")
        lo: Any = -np.inf if c.min is None else c.min
        hi: Any = np.inf if c.max is None else c.max
        grid: Any = None
        if c.round_to is not None:
            grid = self.param(c, "round_to", c.round_to, b)
        for k in c.constructive:
            mask = (
                np.ones(n, dtype=bool)
                if k.when is None
                else _as_bool(self.evaluate(k.when, b, self.spec.rules[k.rule].path + ".when"))
            )
            if k.lo is not None:
                v = k.lo
                if is_int or discrete:
                    v = math.floor(v) + 1 if k.lo_strict else math.ceil(v)
                lo = np.where(mask, np.maximum(lo, v), lo)
            if k.hi is not None:
                v = k.hi
                if is_int or discrete:
                    v = math.ceil(v) - 1 if k.hi_strict else math.floor(v)
                hi = np.where(mask, np.minimum(hi, v), hi)
            if k.grid is not None:
                base = (
                    np.full(n, np.nan)
                    if grid is None
                    else np.broadcast_to(grid, (n,)).astype(float)
                )
                grid = np.where(mask, k.grid, base)
        if is_int and not discrete:
            # continuous draws rounded to integers: widen by half a unit so rounding stays inside
            lo = np.where(np.isfinite(lo), np.ceil(lo) - 0.5 + 1e-9, lo)
            hi = np.where(np.isfinite(hi), np.floor(hi) + 0.5 - 1e-9, hi)
        return lo, hi, grid

    def draw_numeric(self, c: ColumnDef, rng: np.random.Generator, b: _Batch) -> None:
        d = c.distribution
        n = b.n
        p = {k: self.param(c, k, v, b) for k, v in c.params.items()}
        for key, cond in (
            ("std", "pos"),
            ("sigma", "pos"),
            ("scale", "pos"),
            ("rate", "pos"),
            ("shape", "pos"),
            ("a", "pos"),
            ("b", "pos"),
            ("lam", "nonneg"),
        ):
            if key in p and not np.isscalar(p[key]):
                arr = np.asarray(p[key])
                bad = ~(arr > 0) if cond == "pos" else ~(arr >= 0)
                if bad.any():
                    self.bad_param(
                        c, key, "values > 0" if cond == "pos" else "values >= 0", int(bad.sum())
                    )
        lo, hi, grid = self.bounds(c, b)
        bounded = bool(np.any(np.isfinite(lo)) or np.any(np.isfinite(hi)))
        if d == "exponential":
            p["scale"] = 1.0 / np.asarray(p["rate"], float) if "rate" in p else p["scale"]
        if not bounded or c.bounds == "clip":
            x = _direct(d, p, rng, n)
            if bounded:
                x = np.clip(x, lo, hi)
        else:
            x = _truncated(d, p, lo, hi, rng, n)
        x = np.asarray(x, dtype=np.float64)
        if grid is not None:
            g = np.broadcast_to(np.asarray(grid, dtype=np.float64), (n,))
            use = np.isfinite(g) & (g > 0)
            x = np.where(use, np.round(x / np.where(use, g, 1.0)) * np.where(use, g, 1.0), x)
        if c.decimals is not None:
            x = np.round(x, c.decimals)
        invalid = np.isnan(x)
        if c.min is not None:
            invalid |= x < c.min
        if c.max is not None:
            invalid |= x > c.max
        if invalid.any():
            b.invalid[c.name] = invalid
        elif c.name in b.invalid:
            del b.invalid[c.name]
        if c.value_kind == "int":
            x = np.rint(np.where(np.isnan(x), 0, x)).astype(np.int64)
        b.set(c.name, x)


# -- distributions -------------------------------------------------------------------------
def _direct(d: str, p: dict[str, Any], rng: np.random.Generator, n: int) -> np.ndarray:
    if d == "normal":
        return rng.normal(p["mean"], p["std"], n)
    if d == "lognormal":
        return rng.lognormal(p["mu"], p["sigma"], n)
    if d == "exponential":
        return rng.exponential(p["scale"], n)
    if d == "gamma":
        return rng.gamma(p["shape"], p["scale"], n)
    if d == "beta":
        return rng.beta(p["a"], p["b"], n)
    if d == "poisson":
        return rng.poisson(p["lam"], n)
    if d == "uniform":
        return rng.uniform(p["low"], p["high"], n)
    if d == "integer":
        low = np.asarray(np.ceil(p["low"]), dtype=np.int64)
        high = np.asarray(np.floor(p["high"]), dtype=np.int64)
        return rng.integers(low, high + 1, size=n)
    raise AssertionError(d)  # pragma: no cover


def _trunc_std_normal(a: Any, b: Any, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of a standard normal truncated to [a, b], stable in both tails."""
    a = np.broadcast_to(np.asarray(a, dtype=np.float64), u.shape)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), u.shape)
    flip = a > 0
    a2 = np.where(flip, -b, a)
    b2 = np.where(flip, -a, b)
    fa, fb = special.ndtr(a2), special.ndtr(b2)
    mass = fb - fa
    z = special.ndtri(np.clip(fa + u * mass, 0.0, 1.0))
    z = np.clip(z, a2, b2)
    z = np.where(flip, -z, z)
    return np.where(mass > 0, z, np.nan)


def _truncated(
    d: str, p: dict[str, Any], lo: Any, hi: Any, rng: np.random.Generator, n: int
) -> np.ndarray:
    u = rng.random(n)
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,))
    if d == "normal":
        m, s = np.asarray(p["mean"], float), np.asarray(p["std"], float)
        return m + s * _trunc_std_normal((lo - m) / s, (hi - m) / s, u)
    if d == "lognormal":
        mu, sg = np.asarray(p["mu"], float), np.asarray(p["sigma"], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            la = np.where(lo > 0, (np.log(np.where(lo > 0, lo, 1.0)) - mu) / sg, -np.inf)
            lb = np.where(hi > 0, (np.log(np.where(hi > 0, hi, 1.0)) - mu) / sg, -np.inf)
        z = _trunc_std_normal(la, lb, u)
        x = np.exp(mu + sg * z)
        return np.clip(x, lo, hi)
    if d == "exponential":
        scale = np.asarray(p["scale"], float)
        sa = np.exp(-np.maximum(lo, 0.0) / scale)
        sb = np.exp(-np.maximum(hi, 0.0) / scale)
        mass = sa - sb
        with np.errstate(divide="ignore", invalid="ignore"):
            x = -np.log(sa - u * mass) * scale
        x = np.clip(x, np.maximum(lo, 0.0), hi)
        return np.where(mass > 0, x, np.nan)
    if d == "uniform":
        a = np.maximum(np.asarray(p["low"], float), lo)
        b_ = np.minimum(np.asarray(p["high"], float), hi)
        return np.where(b_ > a, a + u * (b_ - a), np.nan)
    if d == "integer":
        a = np.maximum(np.ceil(np.asarray(p["low"], float)), np.ceil(lo))
        b_ = np.minimum(np.floor(np.asarray(p["high"], float)), np.floor(hi))
        x = np.floor(a + u * (b_ - a + 1))
        return np.where(b_ >= a, np.minimum(x, b_), np.nan)
    from scipy import stats  # slow to import: only for truncated discrete/gamma/beta draws

    if d == "poisson":
        lam = np.asarray(p["lam"], float)
        a = np.maximum(np.ceil(lo), 0.0)
        b_ = np.floor(hi)
        fa = np.where(a > 0, stats.poisson.cdf(a - 1, lam), 0.0)
        fb = np.where(
            np.isfinite(b_), stats.poisson.cdf(np.where(np.isfinite(b_), b_, 0), lam), 1.0
        )
        mass = fb - fa
        x = stats.poisson.ppf(np.clip(fa + u * mass, 0, 1), lam)
        x = np.clip(x, a, b_)
        return np.where((mass > 0) & (b_ >= a), x, np.nan)
    if d == "gamma":
        dist = stats.gamma(np.asarray(p["shape"], float), scale=np.asarray(p["scale"], float))
    elif d == "beta":
        dist = stats.beta(np.asarray(p["a"], float), np.asarray(p["b"], float))
    else:  # pragma: no cover
        raise AssertionError(d)
    fa, fb = dist.cdf(lo), dist.cdf(hi)
    sa, sb = dist.sf(lo), dist.sf(hi)
    upper = fa > 0.5
    x_low = dist.ppf(np.clip(fa + u * (fb - fa), 0, 1))
    x_up = dist.isf(np.clip(sa - u * (sa - sb), 0, 1))
    x = np.where(upper, x_up, x_low)
    mass = np.where(upper, sa - sb, fb - fa)
    return np.where(mass > 0, np.clip(x, lo, hi), np.nan)


class _FakerPool:
    """Distinct values from a Faker instance seeded from the column's stream (see
    :func:`generate` for the trade-off). Pools are cached by (locale, provider, args,
    size, seed), so repeated calls with the same seed skip the Faker calls."""

    def __init__(self, c: ColumnDef, rng: np.random.Generator, size: int):
        self.c = c
        self.seed = int(rng.integers(0, 2**63 - 1))
        self.cursor = 0
        key = (
            c.options["locale"],
            c.options["provider"],
            repr(sorted(c.options["args"].items())),
            size,
            self.seed,
        )
        hit = _POOL_CACHE.get(key)
        if hit is None:
            hit = self.build(size)
            _POOL_CACHE[key] = hit
            while len(_POOL_CACHE) > 8:
                _POOL_CACHE.popitem(last=False)
        else:
            _POOL_CACHE.move_to_end(key)
        self.values, self.distinct = hit
        self.domain = list(self.values) if self.distinct else None

    def build(self, size: int) -> tuple[np.ndarray, bool]:
        from faker import Faker
        from faker.exceptions import UniquenessException

        fake = Faker(self.c.options["locale"])
        fake.seed_instance(self.seed)  # an instance seed: Faker's shared state is untouched
        provider, args = self.c.options["provider"], self.c.options["args"]
        unique = getattr(fake.unique, provider)
        out: list[Any] = []
        distinct = True
        try:
            while len(out) < size:
                out.append(unique(**args))
        except UniquenessException:  # the provider has fewer distinct values: a smaller pool
            pass
        except TypeError:  # unhashable values (lists...): uniqueness cannot be checked
            plain = getattr(fake, provider)
            distinct = False
            while len(out) < size:
                out.append(plain(**args))
        return _array(out, self.c.value_kind), distinct

    def take_unique(self, m: int, where: str) -> np.ndarray:
        """Values never handed out before (for ``unique: true``), growing the pool as needed."""
        if self.cursor + m > len(self.values):
            # same seed: the bigger pool starts with the values already handed out
            values, distinct = self.build(max(self.cursor + m, int(len(self.values) * 1.5)))
            if len(values) < self.cursor + m or not distinct:
                raise SpecError(
                    Problem(
                        where,
                        f"{self.cursor + m} distinct values from faker's "
                        f"{self.c.options['provider']}",
                        f"only {len(values)} distinct values" if distinct else "unhashable values",
                        "drop 'unique: true' or use a provider with more values",
                    )
                )
            self.values = values
        out = self.values[self.cursor : self.cursor + m]
        self.cursor += m
        return out


# -- helpers -------------------------------------------------------------------------------
class _Plan:
    """The injected episodes: pattern, entity code and number of events of each."""

    __slots__ = ("entity", "n_rows", "offset", "pattern", "size", "t")

    def __init__(self, pattern: np.ndarray, entity: np.ndarray, size: np.ndarray):
        self.pattern = pattern
        self.entity = entity
        self.size = size
        self.offset = np.cumsum(size) - size
        self.n_rows = int(size.sum())
        self.t = np.zeros(0, dtype=np.int64)  # event times, filled by episode_times


def _lexsort(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys[::-1])`` (the first key sorts first), faster for millions of rows.

    Stable sorts from the last key to the first give the same order; keys that are
    small non-negative integers (category ranks) are sorted by radix (linear time).
    """
    order: np.ndarray | None = None
    for key in reversed(keys):
        k = np.asarray(key)
        if order is not None:
            k = k[order]
        if k.dtype.kind in "iu" and len(k) and k.min() >= 0 and k.max() < 2**16:
            k = k.astype(np.uint16)
        step = np.argsort(k, kind="stable")
        order = step if order is None else order[step]
    assert order is not None
    return order


def _ns(values: Any) -> np.ndarray:
    """Datetimes (naive array or tz-aware index) as int64 nanoseconds since the epoch (UTC)."""
    if isinstance(values, pd.DatetimeIndex):
        return values.as_unit("ns").asi8
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("M8[ns]").view(np.int64)
    return pd.DatetimeIndex(arr).as_unit("ns").asi8


def _in_hours(
    start: np.ndarray, hours: tuple[float, float], tz: str | None, u: np.ndarray
) -> np.ndarray:
    """Move each start to a random time of the hour window ``[a, b)`` (local time) of its day."""
    a, b = hours
    length = (b - a) % 24 or 24.0
    local = start
    if tz is not None:
        idx = pd.DatetimeIndex(start.view("M8[ns]")).tz_localize("UTC").tz_convert(tz)
        local = idx.tz_localize(None).asi8
    day = local - np.mod(local, _DAY_NS)
    out = day + int(a * _HOUR_NS) + np.floor(u * length * _HOUR_NS).astype(np.int64)
    if tz is not None:
        idx = pd.DatetimeIndex(out.view("M8[ns]")).tz_localize(
            tz, ambiguous=np.zeros(len(out), dtype=bool), nonexistent="shift_forward"
        )
        out = idx.as_unit("ns").asi8
    return out


def _codes_in(vals: np.ndarray, dom: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Codes of ``vals`` in the domain ``dom``, which grows by the values it lacks."""
    idx = pd.Index(dom).get_indexer(vals) if len(dom) else np.full(len(vals), -1)
    if (idx < 0).any():
        dom = [*dom, *pd.unique(np.asarray(vals, dtype=object)[idx < 0]).tolist()]
        idx = pd.Index(dom).get_indexer(vals)
    return np.asarray(idx, dtype=np.int64), dom


def _concat(
    parts: list[_Batch], *, helpers: bool = True, text: frozenset[str] | set[str] = frozenset()
) -> _Batch:
    """Rows of several batches in one (category codes mapped to one domain per column).

    ``helpers=False`` leaves out the engine's helper values (``__gap__...``). Columns in
    ``text`` that have category codes keep only the codes (their values are None): for
    the final assembly, which reads text columns from their codes (joining millions of
    Python strings costs more than the rest of the join).
    """
    parts = [p for p in parts if p.n] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    out = _Batch(sum(p.n for p in parts))
    for k in parts[0].values:
        if not all(k in p.values for p in parts) or (not helpers and k.startswith("__")):
            continue
        vs = [p.values[k] for p in parts]
        first = vs[0]
        if k in text and all(k in p.codes for p in parts):
            out.values[k] = None
        elif isinstance(first, pd.DatetimeIndex) or (
            isinstance(first, np.ndarray) and first.dtype.kind == "M"
        ):
            out.values[k] = _dt_values(
                np.concatenate([_ns(v) for v in vs]), getattr(first, "tz", None)
            )
        else:
            arrs = [np.asarray(v) for v in vs]
            if len({a.dtype for a in arrs}) > 1 and any(a.dtype == object for a in arrs):
                arrs = [a.astype(object) for a in arrs]
            out.values[k] = np.concatenate(arrs)
        if all(k in p.codes for p in parts):
            dom = parts[0].codes[k][1]
            codes = [parts[0].codes[k][0]]
            for p in parts[1:]:
                c, d = p.codes[k]
                if d is dom or list(d) == list(dom):
                    codes.append(c)
                else:
                    remap, dom = _codes_in(np.asarray(d, dtype=object), list(dom))
                    codes.append(remap[c])
            out.codes[k] = (np.concatenate(codes), list(dom))
    keys = [k for k in parts[0].meta if all(k in p.meta for p in parts)]
    out.meta = {k: np.concatenate([p.meta[k] for p in parts]) for k in keys}
    return out


def _array(values: list[Any], kind: str) -> np.ndarray:
    if kind == "int":
        return np.asarray(values, dtype=np.int64)
    if kind == "float":
        return np.asarray(values, dtype=np.float64)
    if kind == "bool":
        return np.asarray(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _cast(v: Any, kind: str) -> Any:
    if isinstance(v, pd.DatetimeIndex):
        return v
    v = np.asarray(v)
    try:
        if kind == "int" and v.dtype.kind != "i":
            if v.dtype.kind == "f":
                return np.rint(np.where(np.isnan(v), 0, v)).astype(np.int64)
            return v.astype(np.int64)
        if kind == "float" and v.dtype.kind != "f":
            return v.astype(np.float64)
        if kind == "bool" and v.dtype != bool:
            return _as_bool(v)
        if kind == "str" and v.dtype != object:
            return v.astype(str).astype(object)
    except (TypeError, ValueError):
        return v
    return v


def _equals(values: Any, value: Any) -> np.ndarray:
    if isinstance(values, pd.DatetimeIndex):
        return np.asarray(values == pd.Timestamp(value))
    arr = np.asarray(values)
    if arr.dtype == object:
        return np.asarray(pd.Series(arr) == value, dtype=bool)
    return np.asarray(arr == value, dtype=bool)


def _check_condition_value(c: ColumnDef, value: Any, where: str) -> tuple[Problem | None, Any]:
    kind = c.value_kind
    dom = _domain(c)
    if dom is not None:
        if value not in dom or (isinstance(value, bool) != isinstance(dom[0], bool)):
            shown = ", ".join(map(repr, dom[:20])) + (" ..." if len(dom) > 20 else "")
            return Problem(
                where, f"one of {shown}", repr(value), "use one of the listed values"
            ), value
        return None, value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Problem(where, "a number", repr(value), "condition on a number"), value
        if kind == "int" and c.kind == "draw" and not float(value).is_integer():
            return Problem(where, "a whole number", repr(value), "use an integer"), value
        if (c.min is not None and value < c.min) or (c.max is not None and value > c.max):
            return (
                Problem(
                    where,
                    f"a value in [{c.min}, {c.max}]",
                    repr(value),
                    "use a value within the bounds",
                ),
                value,
            )
        return None, (int(value) if kind == "int" else float(value))
    if kind == "bool":
        if not isinstance(value, bool):
            return Problem(where, "True or False", repr(value), "condition on a boolean"), value
        return None, value
    if kind == "datetime":
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError) as e:
            return Problem(
                where, "a date/time", f"{value!r} ({e})", "use an ISO 8601 date/time"
            ), value
        tz = c.options.get("tz")
        if tz is not None:
            ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
        s, e_ = c.options.get("start"), c.options.get("end")
        if s is not None and e_ is not None and not s <= ts <= e_:
            return Problem(
                where, f"a time between {s} and {e_}", str(ts), "use a time in the range"
            ), value
        return None, ts
    if kind == "str" and not isinstance(value, str):
        return Problem(where, "a string", repr(value), "condition on a string"), value
    return None, value


def _dt_values(t_ns: np.ndarray, tz: str | None) -> Any:
    arr = np.asarray(t_ns, dtype=np.int64).view("M8[ns]")
    if tz is None:
        return arr
    return pd.DatetimeIndex(arr).tz_localize("UTC").tz_convert(tz)


def _floor(t: np.ndarray, resolution: str, tz: str | None) -> np.ndarray:
    freq = RESOLUTIONS[resolution]
    if freq == "ns" or not len(t):
        return t
    step = pd.Timedelta(1, unit=freq).value
    if tz is None or freq in ("s", "ms", "us", "min"):
        return t - np.mod(t, step)
    idx = pd.DatetimeIndex(t.view("M8[ns]")).tz_localize("UTC").tz_convert(tz)
    return idx.floor(freq, ambiguous=False, nonexistent="shift_backward").asi8


def _group_codes(values: Any, codes: tuple[np.ndarray, list[Any]] | None) -> np.ndarray:
    if codes is not None:
        return codes[0]
    if isinstance(values, pd.DatetimeIndex):
        return pd.factorize(values.asi8)[0]
    return pd.factorize(np.asarray(values))[0].astype(np.int64)


def _sort_key(values: Any, codes: tuple[np.ndarray, list[Any]] | None) -> np.ndarray:
    if codes is not None:
        c, dom = codes
        try:
            order = sorted(range(len(dom)), key=lambda j: dom[j])
        except TypeError:
            order = sorted(range(len(dom)), key=lambda j: str(dom[j]))
        rank = np.empty(len(dom), dtype=np.int64)
        rank[order] = np.arange(len(dom))
        return rank[c]
    if isinstance(values, pd.DatetimeIndex):
        return values.asi8
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.view(np.int64)
    if arr.dtype == object:
        return pd.factorize(arr, sort=True)[0]
    return arr


_ZFILL = re.compile(r"([^{}]*)\{(?::0(\d+)d|:d|)\}([^{}]*)")


def _format_ids(nums: np.ndarray, fmt: str) -> Any:
    """Format integer ids as text: vectorised for ``'PRE{:0Nd}POST'`` formats."""
    m = _ZFILL.fullmatch(fmt)
    if m and (nums >= 0).all():
        pre, width, post = m.group(1), int(m.group(2) or 0), m.group(3)
        if getattr(_STR_DTYPE, "storage", None) == "pyarrow":
            import pyarrow as pa
            import pyarrow.compute as pc

            a = pc.cast(pa.array(nums), pa.string())
            if width:
                a = pc.utf8_lpad(a, width, "0")
            a = pc.binary_join_element_wise(pre, a, post, "")
            return pd.array(a, dtype=_STR_DTYPE)
        s = np.char.zfill(nums.astype(str), width)
        if pre:
            s = np.char.add(pre, s)
        if post:
            s = np.char.add(s, post)
        return s.astype(object)
    return _array([fmt.format(int(x)) for x in nums], "str")


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_POS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = np.empty((n, 32), dtype=np.uint8)
    h[:, 0::2] = _HEX[raw >> 4]
    h[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_POS] = h
    return out.view("S36").ravel().astype("U36").astype(object)


def _to_series(v: Any, c: ColumnDef, mask: np.ndarray | None) -> Any:
    kind = c.value_kind
    if isinstance(v, pd.DatetimeIndex) or (isinstance(v, np.ndarray) and v.dtype.kind == "M"):
        s = pd.Series(v)
        if mask is not None:
            s = s.mask(mask)
        return s.array if not isinstance(v, np.ndarray) else s.to_numpy()
    arr = np.asarray(v)
    if kind == "int" and arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
        if mask is not None:
            return _masked(arr, mask, "Int64")
        return arr
    if kind == "float" or arr.dtype.kind == "f":
        arr = arr.astype(np.float64, copy=False)
        if mask is not None:
            arr = np.where(mask, np.nan, arr)
        return arr
    if arr.dtype == bool:
        if mask is not None:
            return _masked(arr, mask, "boolean")
        return arr
    if arr.dtype.kind in "iu":
        if mask is not None:
            return _masked(arr.astype(np.int64), mask, "Int64")
        return arr.astype(np.int64, copy=False)
    if arr.dtype != object:
        arr = arr.astype(object)
    if mask is not None:
        arr = arr.copy()
        arr[mask] = None
    return arr


#: the dtype pandas gives text columns (``str`` in pandas 3, ``object`` before)
_STR_DTYPE = pd.Series(np.array(["a"], dtype=object)).dtype


def _strings_from_codes(codes: np.ndarray, domain: list[Any], mask: np.ndarray | None) -> Any:
    """A text column built from category codes (a take on the few categories: fast)."""
    if mask is not None:
        codes = np.where(mask, -1, codes)
    if _STR_DTYPE == np.dtype(object):
        dom = _array([*domain, None], "str")
        return dom[codes]
    arr = pd.array(_array(list(domain), "str"), dtype=_STR_DTYPE)
    return arr.take(codes, allow_fill=mask is not None)


def _masked(arr: np.ndarray, mask: np.ndarray, dtype: str) -> Any:
    out = pd.array(arr, dtype=dtype)
    out[mask] = pd.NA
    return out
