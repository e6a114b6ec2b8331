"""Find the exact rules a real table obeys, with evidence (:func:`discover`).

Each search is vectorised and screens on a row sample before checking the survivors on
every row, so a 100k x 50 table takes seconds. A candidate is kept only when it holds on
at least ``min_confidence`` of the rows (1.0: every row, the default) *and* the data
would be very unlikely to show it by chance (below one in a million under independence,
or an exact fit far beyond rounding); each constraint's ``evidence`` says which.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..schema import SemanticType, TableSchema
from ._types import (
    Combinations,
    Constraint,
    Determines,
    Formula,
    Grid,
    Inequality,
    NullIff,
    _plain,
    _values,
)

__all__ = ["DISCOVERABLE", "discover"]

log = logging.getLogger(__name__)

#: the kinds :func:`discover` looks for, in the order it looks
DISCOVERABLE = ("formula", "determines", "combinations", "inequality", "grid", "null_iff")
_LOG_CHANCE = math.log(1e-6)  # evidence bar: chance below one in a million
_MAX_CATEGORIES = 50


def discover(
    data: pd.DataFrame,
    schema: TableSchema | None = None,
    *,
    kinds: Iterable[str] = DISCOVERABLE,
    min_confidence: float = 1.0,
    max_terms: int = 3,
    sample_rows: int = 5000,
    rng: Any = 0,
) -> list[Constraint]:
    """Discover exact relations in ``data``: formulas, dependencies, inequalities, grids, nulls.

    Args:
        data: the real table.
        schema: its schema (inferred when ``None``).
        kinds: which kinds to look for (see :data:`DISCOVERABLE`).
        min_confidence: the share of rows a rule must hold on (1.0: all rows).
        max_terms: most input columns of a discovered formula.
        sample_rows: rows used to screen candidates (every rule is then checked on all rows).
        rng: seed of the screening sample.

    Returns:
        Constraints with ``provenance="inferred"`` and their evidence, ready to be put in a
        schema's ``constraints`` (review, edit or delete them there).

    Example:
        >>> import numpy as np
        >>> r = np.random.default_rng(0)
        >>> minutes = np.round(r.uniform(0, 300, 2000), 1)
        >>> df = pd.DataFrame({"plan": r.choice(["a", "b", "c"], 2000), "minutes": minutes})
        >>> df["charge"] = np.round(minutes * 0.17, 2)
        >>> df["tier"] = df["plan"].map({"a": "low", "b": "low", "c": "high"})
        >>> [c.describe() for c in discover(df)]
        ['charge = 0.17 * minutes', 'plan determines tier']
    """
    from ..schema import infer_schema

    t0 = time.perf_counter()
    if schema is None:
        schema = infer_schema(data)
    kinds = set(kinds)
    unknown = kinds - set(DISCOVERABLE)
    if unknown:
        raise ValueError(f"unknown constraint kind(s) {sorted(unknown)}; use {DISCOVERABLE}")
    if not 0.5 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0.5, 1], got {min_confidence!r}")
    ctx = _Context(data, schema, min_confidence, sample_rows, np.random.default_rng(rng))
    found: list[Constraint] = []
    if "formula" in kinds:
        found += _formulas(ctx, max_terms)
    if "determines" in kinds or "combinations" in kinds:
        found += _dependencies(ctx, "determines" in kinds, "combinations" in kinds)
    if "inequality" in kinds:
        found += _inequalities(ctx)
    if "grid" in kinds:
        found += _grids(ctx)
    if "null_iff" in kinds:
        found += _nulls(ctx)
    log.info("discovered %d constraints in %.2fs", len(found), time.perf_counter() - t0)
    return found


class _Context:
    def __init__(self, data, schema, conf, sample_rows, rng):
        self.data, self.schema, self.conf = data, schema, conf
        self.n = len(data)
        m = min(self.n, sample_rows)
        self.sample = np.sort(rng.choice(self.n, m, replace=False)) if m < self.n else None
        self.derived: set[str] = set()  # columns computed by an accepted formula/lookup
        self.inputs: set[str] = set()  # columns an accepted formula/lookup reads
        self._num: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, int, np.ndarray]] = {}

    def cols(self, *types: SemanticType) -> list[str]:
        return [c.name for c in self.schema if c.type in types and c.name in self.data.columns]

    def num(self, name: str) -> np.ndarray:
        if name not in self._num:
            v = _values(self.data, name, self.schema)
            if v.dtype.kind == "M":
                f = v.astype("datetime64[ns]").astype("int64").astype("float64")
                f[np.isnat(v)] = np.nan
                v = f
            self._num[name] = np.asarray(v, dtype="float64")
        return self._num[name]

    def codes(self, name: str) -> tuple[np.ndarray, int, np.ndarray]:
        """Factorised column: codes (nulls get their own code), count, unique values."""
        if name not in self._codes:
            codes, uniques = pd.factorize(self.data[name], use_na_sentinel=False)
            self._codes[name] = (codes.astype(np.int64), len(uniques), np.asarray(uniques))
        return self._codes[name]

    def rows(self, x: np.ndarray) -> np.ndarray:
        return x if self.sample is None else x[self.sample]


# -- formulas -----------------------------------------------------------------------------
def _rounding(ctx: _Context, name: str) -> int | None:
    """Decimals the column is rounded to: the schema's, else those of 90% of its values."""
    spec = ctx.schema[name]
    d = 0 if spec.dtype == "int" else spec.decimals
    if d is not None:
        return d
    x = ctx.rows(ctx.num(name))
    x = x[~np.isnan(x)]
    for k in range(7):
        if x.size and np.mean(np.abs(np.round(x, k) - x) <= 1e-9 * np.maximum(1, np.abs(x))) >= 0.9:
            return k
    return None


def _tolerance(d: int | None) -> float | None:
    return None if d is None else 0.5 * 10.0 ** (-d)


def _formulas(ctx: _Context, max_terms: int) -> list[Constraint]:
    numeric = [c for c in ctx.cols(SemanticType.NUMERICAL) if c.isidentifier()]
    distinct = {
        c: np.unique(ctx.rows(ctx.num(c))[~np.isnan(ctx.rows(ctx.num(c)))]).size for c in numeric
    }
    inputs = [c for c in numeric if distinct[c] >= 2]
    names = [c for c in numeric if distinct[c] >= 10]  # targets: a few values is a lookup
    found = []
    for pos, y in enumerate(names):
        f = _linear(ctx, y, [x for x in inputs if x != y], max_terms)
        f = f or _product(ctx, y, [x for x in inputs if x != y])
        if f is not None:
            # a total is the sum of its parts: prefer formulas without negative terms, then
            # the later column (derived columns usually follow their inputs)
            found.append((" - " in f.expression or f.expression.startswith("-"), -pos, f))
    out: list[Constraint] = []
    for _, _, f in sorted(found, key=lambda t: (t[0], t[1])):
        if f.column in ctx.inputs or f.column in ctx.derived:
            continue
        if any(x in ctx.derived for x in f.inputs):
            continue
        out.append(f)
        ctx.derived.add(f.column)
        ctx.inputs.update(f.inputs)
    return out


def _complete(ctx: _Context, y: str, cands: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    yv = ctx.rows(ctx.num(y))
    ok = ~np.isnan(yv)
    keep = [x for x in cands if not np.isnan(ctx.rows(ctx.num(x))[ok]).any()]
    X = (
        np.column_stack([ctx.rows(ctx.num(x))[ok] for x in keep])
        if keep
        else np.empty((ok.sum(), 0))
    )
    return yv[ok], X, keep


def _omp(
    y: np.ndarray, X: np.ndarray, max_terms: int, bar: float = 0.0
) -> tuple[list[int], np.ndarray, float]:
    """Orthogonal matching pursuit: the few columns that explain ``y`` to within ``bar``."""
    sd = X.std(axis=0)
    usable = sd > 0
    Z = np.where(usable, (X - X.mean(axis=0)) / np.where(usable, sd, 1), 0.0)
    yc = y - y.mean()
    scale = float(np.linalg.norm(yc)) or 1.0
    r, sel, coef = yc, [], np.zeros(0)
    rel = 1.0
    for _ in range(max_terms):
        score = np.abs(Z.T @ r)
        score[sel] = -1
        score[~usable] = -1
        j = int(np.argmax(score))
        if score[j] <= 0:
            break
        sel.append(j)
        A = np.column_stack([np.ones(len(y)), X[:, sel]])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = y - A @ coef
        rel = float(np.linalg.norm(r)) / scale
        if rel < 1e-12 or float(np.sqrt(np.mean(r**2))) <= 0.75 * bar:
            break  # exact, or down to rounding noise (uniform: RMS = half a unit / sqrt 3)
    return sel, coef, rel


def _nice(v: float, tol_check) -> float | None:
    """The shortest rounding of ``v`` (significant digits) that ``tol_check`` accepts."""
    if v == 0:
        return 0.0
    for digits in range(1, 11):
        r = float(f"{v:.{digits}g}")
        if tol_check(r):
            return r
    return None


def _linear(ctx: _Context, y: str, cands: list[str], max_terms: int) -> Formula | None:
    yv, X, keep = _complete(ctx, y, cands)
    if X.shape[1] == 0 or len(yv) < 20:
        return None
    d = _rounding(ctx, y)
    tol = _tolerance(d)
    sel, coef, rel = _omp(yv, X, max_terms, tol or 0.0)
    spread = float(np.std(yv)) or 1.0
    if not sel or rel * spread > max(0.75 * (tol or 0.0), 1e-6 * spread):
        return None
    inputs = [keep[j] for j in sel]
    full_y = ctx.num(y)
    full_X = np.column_stack([ctx.num(x) for x in inputs])
    rows = ~np.isnan(full_y) & ~np.isnan(full_X).any(axis=1)
    Y, XX = full_y[rows], full_X[rows]
    bar = tol if tol is not None else 1e-9 * max(1.0, float(np.abs(Y).max()))
    need = math.ceil(ctx.conf * len(Y))

    def ok(c0: float, cs: list[float]) -> bool:
        pred = c0 + XX @ np.asarray(cs)  # y is a rounding of it: within half a unit
        return int((np.abs(Y - pred) <= bar * (1 + 1e-6) + 1e-9).sum()) >= need

    cs, c0 = _round_coefficients(list(coef[1:]), float(coef[0]), bar, ok)
    if cs is None or all(c == 0 for c in cs):
        return None
    terms = [_term(c, x) for c, x in zip(cs, inputs, strict=True) if c != 0]
    expr = " + ".join(terms).replace("+ -", "- ")
    if c0:
        expr += f" + {_num(c0)}" if c0 > 0 else f" - {_num(-c0)}"
    return _found_formula(
        ctx,
        y,
        expr,
        d,
        f"holds on {_share(ok(c0, cs), len(Y), need)} of {len(Y):,} rows",
        f"least-squares residual {rel:.1e} of the spread on a {len(yv):,}-row sample",
    )


def _found_formula(
    ctx: _Context, y: str, expr: str, d: int | None, holds: str, fit: str
) -> Formula:
    """A discovered formula for ``y`` rounded to ``d`` decimals, with its evidence."""
    spec = ctx.schema[y]
    return Formula(
        y,
        expr,
        decimals=d,
        tolerance=None if d == spec.decimals or spec.dtype == "int" else _tolerance(d),
        provenance="inferred",
        evidence=[holds + (f" after rounding to {d} decimals" if d else "") + f"; {fit}"],
    )


def _round_coefficients(cs, c0, bar, ok):
    """Short coefficients (and intercept) that still reproduce every row; ``(None, 0)`` if none."""
    starts = [0.0, c0] if abs(c0) <= 10 * bar else [c0]
    for start in starts:
        out = list(cs)
        for k in range(len(out)):
            r = _nice(out[k], lambda v, k=k, o=out, s=start: ok(s, [*o[:k], v, *o[k + 1 :]]))
            if r is None:
                break
            out[k] = r
        else:
            c = 0.0 if start == 0 else _nice(start, lambda v, o=out: ok(v, o))
            if c is not None and ok(c, out):
                return out, c
    return None, 0.0


def _share(_ok: bool, n: int, need: int) -> str:
    return "all" if need >= n else f">= {need / n:.1%}"


def _term(c: float, x: str) -> str:
    if c == 1:
        return x
    if c == -1:
        return f"-{x}"
    return f"{_num(c)} * {x}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _product(ctx: _Context, y: str, cands: list[str]) -> Formula | None:
    """``y = c * x1^a * x2^b`` (a, b in {-1, 1, 2}): a linear fit of the logarithms."""
    yv, X, keep = _complete(ctx, y, cands)
    pos = [j for j in range(X.shape[1]) if (X[:, j] > 0).mean() >= 0.95]
    if not pos:
        return None
    rows = (yv > 0) & (X[:, pos] > 0).all(axis=1)
    if rows.sum() < 20:
        return None
    L = np.log(X[rows][:, pos])
    sel, coef, rel = _omp(np.log(yv[rows]), L, 2)
    if not sel or rel >= 1e-2:
        return None
    expo = np.round(coef[1:]).astype(int)
    if not all(e in (-1, 1, 2) for e in expo) or np.abs(coef[1:] - expo).max() > 0.02:
        return None
    inputs = [keep[pos[j]] for j in sel]
    d = _rounding(ctx, y)
    tol = _tolerance(d)
    full_y = ctx.num(y)
    full_X = np.column_stack([ctx.num(x) for x in inputs])
    ok_rows = ~np.isnan(full_y) & ~np.isnan(full_X).any(axis=1)
    Y, XX = full_y[ok_rows], full_X[ok_rows]
    with np.errstate(all="ignore"):
        base = np.prod(XX**expo, axis=1)
    bar = tol if tol is not None else 1e-9 * max(1.0, float(np.nanmax(np.abs(Y))))
    need = math.ceil(ctx.conf * len(Y))

    def ok(c: float) -> bool:
        pred = c * base
        with np.errstate(invalid="ignore"):
            return int((np.abs(Y - pred) <= bar * (1 + 1e-6) + 1e-9).sum()) >= need

    c = _nice(float(np.exp(coef[0])), ok)
    if c is None:
        return None
    num = [x if e == 1 else f"{x} ** 2" for x, e in zip(inputs, expo, strict=True) if e > 0]
    den = [x for x, e in zip(inputs, expo, strict=True) if e < 0]
    expr = " * ".join(([] if c == 1 else [_num(c)]) + (num or ["1"]))
    if den:
        expr += " / " + (den[0] if len(den) == 1 else "(" + " * ".join(den) + ")")
    return _found_formula(
        ctx,
        y,
        expr,
        d,
        f"holds on {_share(True, len(Y), need)} of {len(Y):,} rows",
        f"log-linear fit residual {rel:.1e} on a {int(rows.sum()):,}-row sample",
    )


# -- dependencies between categoricals ----------------------------------------------------
def _discrete(ctx: _Context) -> list[str]:
    out = []
    for c in ctx.schema:
        if c.name not in ctx.data.columns:
            continue
        if c.type in (SemanticType.CATEGORICAL, SemanticType.BOOLEAN) or (
            c.type is SemanticType.NUMERICAL and ctx.data[c.name].nunique() <= _MAX_CATEGORIES
        ):
            _, k, _ = ctx.codes(c.name)
            if 2 <= k <= max(_MAX_CATEGORIES, 1) * 20 and ctx.n / k >= 5:
                out.append(c.name)
    return out


def _dependencies(ctx: _Context, fds: bool, combos: bool) -> list[Constraint]:
    cols = [c for c in _discrete(ctx) if c not in ctx.derived]
    n = ctx.n
    out: list[Constraint] = []
    holds: dict[tuple[str, str], str] = {}
    tables: dict[tuple[str, str], np.ndarray] = {}
    for a in cols:
        ca, ka, _ = ctx.codes(a)
        for b in cols:
            if a == b:
                continue
            cb, kb, _ = ctx.codes(b)
            if ka * kb > 2_000_000:
                continue
            t = np.bincount(ca * kb + cb, minlength=ka * kb).reshape(ka, kb)
            tables[(a, b)] = t
            agree = int(t.max(axis=1).sum())
            if agree < math.ceil(ctx.conf * n):
                continue
            # chance that every key's rows agree on one value, with b's own shares
            p = t.sum(axis=0) / n
            g = t.sum(axis=1)
            logp = float(((g - 1).clip(0) * math.log(max(p.max(), 1e-12))).sum())
            if logp < _LOG_CHANCE:
                holds[(a, b)] = f"{agree / n:.2%}" if agree < n else "all"
    if fds:
        for b in reversed(cols):
            dets = [a for a in cols if (a, b) in holds and a not in ctx.derived]
            # one-to-one pairs: derive the later column only
            dets = [a for a in dets if not ((b, a) in holds and cols.index(a) > cols.index(b))]
            dets = [a for a in dets if a != b and b not in ctx.inputs]
            if not dets:
                continue
            a = min(dets, key=lambda c: (ctx.codes(c)[1], cols.index(c)))
            ka = ctx.codes(a)[1]
            out.append(
                Determines(
                    [a],
                    b,
                    provenance="inferred",
                    evidence=[
                        f"each of the {ka} values of {a!r} comes with one value of {b!r} "
                        f"on {holds[(a, b)]} of {n:,} rows (chance < 1e-6)"
                    ],
                )
            )
            ctx.derived.add(b)
            ctx.inputs.add(a)
    if combos:
        out += _combinations(ctx, cols, tables, holds)
    return out


def _combinations(ctx, cols, tables, holds) -> list[Constraint]:
    """Pairs with impossible combinations: cells expected >= 20 times, never seen."""
    n = ctx.n
    groups: list[list[str]] = []
    evidence: dict[int, list[str]] = {}
    cat = [
        c
        for c in cols
        if ctx.schema[c].type is SemanticType.CATEGORICAL
        and c not in ctx.derived
        and ctx.codes(c)[1] <= 30
    ]
    for i, a in enumerate(cat):
        for b in cat[i + 1 :]:
            if (a, b) in holds or (b, a) in holds or (a, b) not in tables:
                continue
            t = tables[(a, b)]
            expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / n
            zeros = (t == 0) & (expected >= 20)
            if not zeros.any():
                continue
            ga = next((g for g in groups if a in g), None)
            gb = next((g for g in groups if b in g), None)
            if ga is not None and gb is not None and ga is not gb:
                continue  # joining two groups would make one joint column too large
            g = ga or gb
            if g is None:
                g = []
                groups.append(g)
            trial = sorted({*g, a, b}, key=cols.index)
            if len(trial) > 3 or _n_combos(ctx, trial) > 200:
                continue
            g[:] = trial
            k = id(g)
            evidence.setdefault(k, []).append(
                f"{int(zeros.sum())} combination(s) of {a!r} and {b!r} never seen though "
                f"expected >= 20 times each if independent (largest {expected[zeros].max():.0f})"
            )
    out = []
    for g in groups:
        if len(g) >= 2:
            out.append(Combinations(list(g), provenance="inferred", evidence=evidence[id(g)]))
    return out


def _n_combos(ctx: _Context, names: list[str]) -> int:
    key = np.zeros(ctx.n, dtype=np.int64)
    for c in names:
        codes, k, _ = ctx.codes(c)
        key = key * k + codes
    return int(np.unique(key).size)


# -- inequalities ---------------------------------------------------------------------------
def _inequalities(ctx: _Context) -> list[Constraint]:
    out: list[Constraint] = []
    for types in ((SemanticType.NUMERICAL,), (SemanticType.DATETIME,)):
        names = [
            c
            for c in ctx.cols(*types)
            if c not in ctx.derived and np.nanstd(ctx.rows(ctx.num(c))) > 0
        ]
        if len(names) < 2:
            continue
        S = np.column_stack([ctx.rows(ctx.num(c)) for c in names])
        pairs: dict[tuple[int, int], str] = {}
        for i in range(len(names)):
            with np.errstate(invalid="ignore"):
                le = (S[:, [i]] <= S) | np.isnan(S[:, [i]]) | np.isnan(S)
            screen = le.all(axis=0) if ctx.conf >= 1 else le.mean(axis=0) >= ctx.conf - 0.005
            for j in np.flatnonzero(screen):
                if j == i:
                    continue
                ev = _inequality_evidence(ctx, names[i], names[j])
                if ev is not None:
                    pairs[(i, j)] = ev
        # transitive reduction: a <= c is implied by a <= b <= c
        for (i, j), ev in sorted(pairs.items()):
            if any((i, k) in pairs and (k, j) in pairs for k in range(len(names))):
                continue
            out.append(Inequality(names[i], names[j], provenance="inferred", evidence=[ev]))
    return out


def _inequality_evidence(ctx: _Context, a: str, b: str) -> str | None:
    x, y = ctx.num(a), ctx.num(b)
    both = ~np.isnan(x) & ~np.isnan(y)
    m = int(both.sum())
    if m < 20:
        return None
    xv, yv = x[both], y[both]
    if np.array_equal(xv, yv):
        return None
    bad = int((xv > yv).sum())
    if bad > (1 - ctx.conf) * m:
        return None
    # violations expected if the two columns were independent
    stride = max(1, m // 5000)
    xs, ys = xv[::stride], np.sort(yv[::stride])
    p = float(np.searchsorted(ys, xs, side="left").mean() / len(ys))
    expected = p * m
    if expected < max(14.0, 10 * bad):
        return None  # the ranges barely overlap: the order says little beyond the bounds
    return (
        f"{a} <= {b} on {'all' if not bad else f'{1 - bad / m:.2%} of'} {m:,} rows; "
        f"{expected:,.0f} violations expected if independent"
    )


# -- grids ------------------------------------------------------------------------------
def _grids(ctx: _Context) -> list[Constraint]:
    out: list[Constraint] = []
    for name in ctx.cols(SemanticType.NUMERICAL):
        if name in ctx.derived:
            continue
        spec = ctx.schema[name]
        d = 0 if spec.dtype == "int" else spec.decimals
        if d is None or d > 6:
            continue
        x = ctx.num(name)
        u = np.unique(x[~np.isnan(x)])
        if u.size < 3:
            continue
        scaled = np.round(u * 10**d).astype(np.int64)
        g = int(np.gcd.reduce(scaled - scaled[0]))
        if g < 2 or (u.size - 1) * math.log10(g) < 6:
            continue
        step = g / 10**d
        offset = (scaled[0] % g) / 10**d
        out.append(
            Grid(
                name,
                float(step) if d else int(step),
                offset=(float(offset) if d else int(offset)),
                provenance="inferred",
                evidence=[
                    f"all {u.size:,} distinct values are multiples of {_num(step)}"
                    + (f" plus {_num(offset)}" if offset else "")
                    + f" (chance {g:.0f}^-{u.size - 1})"
                ],
            )
        )
    return out


# -- conditional nulls ----------------------------------------------------------------------
def _nulls(ctx: _Context) -> list[Constraint]:
    out: list[Constraint] = []
    n = ctx.n
    disc = [c for c in _discrete(ctx) if ctx.codes(c)[1] <= _MAX_CATEGORIES]
    masks: dict[str, np.ndarray] = {}
    targets: dict[str, str] = {}  # column -> the column its condition reads
    for spec in ctx.schema:
        b = spec.name
        if b not in ctx.data.columns or b in ctx.derived:
            continue
        m = ctx.data[b].isna().to_numpy()
        if not m.any() or m.all():
            continue
        q = m.mean()
        found = None
        for a, ma in masks.items():  # same missing rows as an earlier column
            if np.array_equal(m, ma) and targets.get(a) != b:
                found = NullIff(
                    b,
                    f"isnull({a})",
                    provenance="inferred",
                    evidence=[f"missing on exactly the {int(m.sum()):,} rows where {a!r} is"],
                )
                targets[b] = a
                break
        if found is None:
            for a in disc:
                if a == b or targets.get(a) == b:
                    continue
                codes, k, uniques = ctx.codes(a)
                cnt = np.bincount(codes, minlength=k)
                nul = np.bincount(codes, weights=m, minlength=k)
                share = nul / np.maximum(cnt, 1)
                agree = np.maximum(nul, cnt - nul).sum()
                if agree < math.ceil(ctx.conf * n):
                    continue
                full = share >= 0.5
                if full.all() or not full.any():
                    continue
                logp = float(np.log(np.maximum(q**cnt + (1 - q) ** cnt, 1e-300)).sum())
                if logp >= _LOG_CHANCE:
                    continue
                when = _membership(a, [uniques[i] for i in np.flatnonzero(full)])
                if when is None:
                    continue
                found = NullIff(
                    b,
                    when,
                    provenance="inferred",
                    evidence=[
                        f"missing on {'all' if agree == n else f'{agree / n:.2%} of'} rows "
                        f"iff {when} ({int(m.sum()):,} missing of {n:,}; chance < 1e-6)"
                    ],
                )
                targets[b] = a
                break
        if found is not None:
            out.append(found)
        else:
            masks[b] = m
    return out


def _membership(a: str, values: list[Any]) -> str | None:
    nulls = [v for v in values if v is None or (isinstance(v, float) and math.isnan(v))]
    vals = sorted((_plain(v) for v in values if v not in nulls), key=str)
    if not all(isinstance(v, (str, int, float, bool)) for v in vals):
        return None
    if not a.isidentifier():
        return None
    parts = []
    if vals:
        parts.append(
            f"{a} == {vals[0]!r}" if len(vals) == 1 else f"{a} in ({', '.join(map(repr, vals))})"
        )
    if nulls:
        parts.append(f"isnull({a})")
    return " or ".join(parts)
