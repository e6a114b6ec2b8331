"""A small, safe, vectorised expression language for rule-based specs.

Expressions are parsed with :mod:`ast` and checked against a whitelist; nothing is
ever handed to Python's ``eval``. They are then evaluated node by node on whole
columns (numpy arrays), so one expression costs a handful of array operations
whatever the number of rows.

What is allowed:

* literals: integers, floats, strings, ``True``/``False``;
* column names (any name that is not a function call);
* arithmetic ``+ - * / // % **`` and unary ``-``/``+``;
* comparisons ``== != < <= > >=`` (chains such as ``0 < x <= 5`` work), and
  ``x in ('a', 'b')`` / ``x not in (...)`` against a literal tuple or list;
* ``and``, ``or``, ``not`` (elementwise), ``a if cond else b`` (elementwise);
* the functions ``abs round floor ceil log log10 exp sqrt min max clip where
  hour minute dayofweek month day isnull notnull`` (``min``/``max`` are
  elementwise over their arguments, ``where(cond, a, b)`` picks per row).

Everything else (attribute access, subscripts, lambdas, comprehensions, keyword
arguments, ``None``, ``is``, unknown functions) is refused with a
:class:`~sosie.errors.SpecError` naming the offending piece.
"""

from __future__ import annotations

import ast
import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import Problem, SpecError

__all__ = ["FUNCTIONS", "Expr", "parse_expression"]

#: name -> (min args, max args or None for "any number")
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
    "log": (1, 1),
    "log10": (1, 1),
    "exp": (1, 1),
    "sqrt": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "clip": (3, 3),
    "where": (3, 3),
    "hour": (1, 1),
    "minute": (1, 1),
    "dayofweek": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "isnull": (1, 1),
    "notnull": (1, 1),
}

_MAX_CHARS = 5000
_MAX_NODES = 2000

_BINOPS: dict[type, Any] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: None,  # computed in float64 (never Python big-int powers)
}
_BINOP_SYMBOL = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_CMPOPS: dict[type, Any] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}

# kinds used by the static type inference
_NUMERIC = ("int", "float", "bool")


class Expr:
    """A parsed, whitelisted expression; build it with :func:`parse_expression`.

    Attributes:
        text: the expression as written.
        names: the column names it reads.
        functions: the whitelisted functions it calls.

    Example:
        >>> e = parse_expression("amount * 2 if kind == 'a' else amount")
        >>> sorted(e.names)
        ['amount', 'kind']
        >>> e.evaluate({"amount": np.array([1.0, 2.0]), "kind": np.array(["a", "b"], dtype=object)})
        array([2., 2.])
    """

    __slots__ = ("_tree", "functions", "names", "text")

    def __init__(self, text: str, tree: ast.Expression, names: frozenset[str], functions):
        self.text = text
        self._tree = tree
        self.names = names
        self.functions = frozenset(functions)

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    @property
    def tree(self) -> ast.Expression:
        """The checked syntax tree (read-only use)."""
        return self._tree

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    # -- static type inference -----------------------------------------------------------
    def kind(self, kinds: Mapping[str, str]) -> str:
        """The result kind given the kinds of the columns it reads.

        Kinds are ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"datetime"`` or
        ``"unknown"``.

        Example:
            >>> parse_expression("x / 2").kind({"x": "int"})
            'float'
            >>> parse_expression("x > 2 and y").kind({"x": "int", "y": "bool"})
            'bool'
        """
        return _kind(self._tree.body, kinds)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(
        self,
        env: Mapping[str, Any],
        n: int | None = None,
        *,
        codes: Mapping[str, tuple[np.ndarray, Sequence[Any]]] | None = None,
    ) -> np.ndarray:
        """Evaluate on whole columns.

        Args:
            env: column name -> values (numpy arrays; tz-aware datetimes may be a
                :class:`pandas.DatetimeIndex`).
            n: number of rows; a constant result is broadcast to ``n`` rows
                (default: the length of the first column of ``env``).
            codes: optional fast path for categorical columns: name -> (integer codes,
                category values); ``col == 'x'`` then compares integers.

        Returns:
            A numpy array (or a :class:`pandas.DatetimeIndex` for tz-aware datetimes)
            of ``n`` values.

        Example:
            >>> parse_expression("clip(x, 0, 1)").evaluate({"x": np.array([-1.0, 0.5, 3.0])})
            array([0. , 0.5, 1. ])
            >>> parse_expression("1").evaluate({}, 3)
            array([1, 1, 1])
        """
        if n is None:
            n = len(next(iter(env.values()))) if env else 1
        with np.errstate(all="ignore"):
            out = _Evaluator(env, codes or {}).visit(self._tree.body)
        if isinstance(out, pd.DatetimeIndex):
            return out
        out = np.asarray(out)
        if out.dtype.kind == "U":
            out = out.astype(object)
        if out.ndim == 0:
            out = np.full(n, out.item() if out.dtype != object else out[()], dtype=out.dtype)
        return out


def parse_expression(
    text: str, *, known_names: Iterable[str] | None = None, where: str = "expression"
) -> Expr:
    """Parse and check an expression against the whitelist.

    Args:
        text: the expression, e.g. ``"amount > 0 and merchant != 'atm'"``.
        known_names: if given, every column name used must be one of these.
        where: where the expression comes from, quoted in error messages
            (e.g. ``"card.yaml line 12, columns.fee.expr"``).

    Returns:
        An :class:`Expr`.

    Raises:
        SpecError: syntax errors, forbidden constructs, unknown functions or names.

    Example:
        >>> parse_expression("round(amount / 20) * 20").names
        frozenset({'amount'})
        >>> parse_expression("__import__('os')")
        Traceback (most recent call last):
        ...
        sosie.errors.SpecError: invalid spec: expression: expected a call to one of the functions abs, round, floor, ceil, log, log10, exp, sqrt, min, max, clip, where, hour, minute, dayofweek, month, day, isnull, notnull, found unknown function '__import__' in "__import__('os')"; fix: use one of the listed functions
    """
    if not isinstance(text, str):
        raise SpecError(
            Problem(where, "an expression string", repr(text), "write the expression as a string")
        )
    if len(text) > _MAX_CHARS:
        raise SpecError(
            Problem(
                where,
                f"an expression of at most {_MAX_CHARS} characters",
                f"{len(text)} characters",
                "split it into helper columns (hidden: true)",
            )
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise SpecError(
            Problem(
                where,
                "a valid expression",
                f"a syntax error ({e.msg}) in {text!r}",
                "check quotes, parentheses and operators (use and/or/not, == for equality)",
            )
        ) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_NODES:
        raise SpecError(
            Problem(
                where,
                f"an expression of at most {_MAX_NODES} syntax nodes",
                f"{len(nodes)} nodes",
                "split it into helper columns (hidden: true)",
            )
        )
    checker = _Checker(text, where)
    checker.visit(tree.body)
    names = frozenset(checker.names)
    if known_names is not None:
        known = list(known_names)
        unknown = sorted(names - set(known))
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=3)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else ("known columns: " + ", ".join(map(repr, known[:20])))
            )
            raise SpecError(
                Problem(
                    where,
                    "names of known columns",
                    f"unknown name {unknown[0]!r} in {text!r}",
                    hint,
                )
            )
    return Expr(text, tree, names, checker.functions)


class _Checker:
    """Walks the tree and refuses everything outside the whitelist."""

    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        self.names: set[str] = set()
        self.functions: set[str] = set()

    def fail(self, expected: str, found: str, fix: str) -> None:
        raise SpecError(Problem(self.where, expected, f"{found} in {self.text!r}", fix))

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None:
                self.fail("a number, string or True/False", "None", "use isnull(column)")
            if not isinstance(v, (bool, int, float, str)):
                self.fail(
                    "a number, string or True/False",
                    f"the literal {v!r}",
                    "use a plain number or a quoted string",
                )
            return
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                self.fail(
                    "a column name", f"the name {node.id!r}", "column names cannot start with '__'"
                )
            self.names.add(node.id)
            return
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                self.fail(
                    "arithmetic with + - * / // % **",
                    f"the operator {type(node.op).__name__}",
                    "use one of the listed operators",
                )
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    self.fail(
                        "arithmetic on numbers",
                        f"arithmetic on the string {side.value!r}",
                        "strings can only be compared (==, !=, in)",
                    )
            self.visit(node.left)
            self.visit(node.right)
            return
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                self.fail("unary -, + or not", f"the operator {type(node.op).__name__}", "use not")
            self.visit(node.operand)
            return
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self.visit(v)
            return
        if isinstance(node, ast.Compare):
            if len(node.ops) > 1 and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops):
                self.fail(
                    "a single 'in' test", "'in' inside a chained comparison", "split it with 'and'"
                )
            self.visit(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    if not isinstance(comp, (ast.Tuple, ast.List)) or not all(
                        isinstance(e, ast.Constant) and isinstance(e.value, (bool, int, float, str))
                        for e in comp.elts
                    ):
                        self.fail(
                            "'in' followed by a literal tuple such as ('a', 'b')",
                            "'in' with something else",
                            "list the values literally",
                        )
                    continue
                if type(op) not in _CMPOPS:
                    self.fail(
                        "a comparison with == != < <= > >= in or not in",
                        f"the operator {type(op).__name__}",
                        "use isnull(x) instead of 'is None'"
                        if isinstance(op, (ast.Is, ast.IsNot))
                        else "use one of the listed operators",
                    )
                self.visit(comp)
            return
        if isinstance(node, ast.IfExp):
            self.visit(node.test)
            self.visit(node.body)
            self.visit(node.orelse)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self.fail(
                    "a call to a whitelisted function by name",
                    f"a call to {ast.unparse(node.func)!r}",
                    "attribute access and method calls are not allowed",
                )
            fname = node.func.id
            if fname not in FUNCTIONS:
                close = difflib.get_close_matches(fname, list(FUNCTIONS), n=1)
                self.fail(
                    "a call to one of the functions " + ", ".join(FUNCTIONS),
                    f"unknown function {fname!r}",
                    f"did you mean {close[0]!r}?" if close else "use one of the listed functions",
                )
            if node.keywords:
                self.fail(
                    "positional arguments only",
                    f"keyword arguments in the call to {fname!r}",
                    f"write {fname}(a, b) without names",
                )
            lo, hi = FUNCTIONS[fname]
            nargs = len(node.args)
            if nargs < lo or (hi is not None and nargs > hi):
                want = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
                self.fail(
                    f"{want} argument(s) for {fname!r}",
                    f"{nargs} argument(s)",
                    f"call {fname} with {want} argument(s)",
                )
            for a in node.args:
                if isinstance(a, ast.Starred):
                    self.fail("plain arguments", "a starred argument", "list the arguments")
                self.visit(a)
            self.functions.add(fname)
            return
        if isinstance(node, ast.Attribute):
            self.fail(
                "column names, literals, operators and whitelisted functions",
                f"attribute access {ast.unparse(node)!r}",
                "attribute access is not allowed; use a function such as hour(x)",
            )
        self.fail(
            "column names, literals, operators and whitelisted functions",
            f"the construct {type(node).__name__} ({ast.unparse(node)!r})",
            "rewrite the expression with the allowed pieces",
        )


# -- static kinds --------------------------------------------------------------------------
def _promote(a: str, b: str) -> str:
    if a == b:
        return a
    if a in _NUMERIC and b in _NUMERIC:
        return "float" if "float" in (a, b) else "int"
    return "unknown"


def _const_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str"


def _kind(node: ast.AST, kinds: Mapping[str, str]) -> str:
    if isinstance(node, ast.Constant):
        return _const_kind(node.value)
    if isinstance(node, ast.Name):
        return kinds.get(node.id, "unknown")
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return "bool"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return "bool"
        k = _kind(node.operand, kinds)
        return "int" if k == "bool" else k
    if isinstance(node, ast.BinOp):
        a, b = _kind(node.left, kinds), _kind(node.right, kinds)
        if isinstance(node.op, (ast.Div, ast.Pow)):
            return "float" if a in _NUMERIC and b in _NUMERIC else "unknown"
        if a in _NUMERIC and b in _NUMERIC:
            return "float" if "float" in (a, b) else "int"
        return "unknown"
    if isinstance(node, ast.IfExp):
        return _promote(_kind(node.body, kinds), _kind(node.orelse, kinds))
    if isinstance(node, ast.Call):
        f = node.func.id  # type: ignore[attr-defined]
        args = [_kind(a, kinds) for a in node.args]
        if f in ("isnull", "notnull"):
            return "bool"
        if f in ("hour", "minute", "dayofweek", "month", "day"):
            return "int"
        if f in ("log", "log10", "exp", "sqrt", "floor", "ceil"):
            return "float"
        if f == "abs":
            return "int" if args[0] == "bool" else args[0]
        if f == "round":
            return "float" if args[0] == "float" else ("int" if args[0] in _NUMERIC else "unknown")
        if f in ("min", "max", "clip"):
            return functools.reduce(_promote, args)
        if f == "where":
            return _promote(args[1], args[2])
    return "unknown"


# -- evaluation ----------------------------------------------------------------------------
def _is_datetime(v: Any) -> bool:
    if isinstance(v, (pd.DatetimeIndex, pd.Series)):
        return isinstance(v.dtype, pd.DatetimeTZDtype) or np.issubdtype(v.dtype, np.datetime64)
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.datetime64)


def _as_bool(v: Any) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype == bool:
        return a
    if a.dtype == object:
        return np.asarray(pd.notna(a) & a.astype(bool), dtype=bool)
    return a.astype(bool)


def _datetime_field(v: Any, field: str) -> np.ndarray:
    if not _is_datetime(v):
        raise TypeError(f"{field}() needs a datetime column")
    idx = pd.DatetimeIndex(v)
    if field == "dayofweek":
        return np.asarray(idx.day_of_week, dtype=np.int64)
    return np.asarray(getattr(idx, field), dtype=np.int64)


def _to_timestamp_like(dt_values: Any, s: str) -> Any:
    ts = pd.Timestamp(s)
    tz = getattr(getattr(dt_values, "dtype", None), "tz", None)
    if tz is not None and ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    if tz is None:
        return np.datetime64(ts.tz_localize(None) if ts.tzinfo else ts, "ns")
    return ts


class _Evaluator:
    def __init__(self, env: Mapping[str, Any], codes: Mapping[str, tuple[np.ndarray, Sequence]]):
        self.env = env
        self.codes = codes

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, "v_" + type(node).__name__)
        return method(node)

    def v_Constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, bool):
            return np.bool_(v)
        if isinstance(v, int):
            return np.int64(v) if -(2**63) <= v < 2**63 else np.float64(v)
        if isinstance(v, float):
            return np.float64(v)
        return v

    def v_Name(self, node: ast.Name) -> Any:
        try:
            return self.env[node.id]
        except KeyError:
            raise NameError(f"unknown column {node.id!r}") from None

    def v_BinOp(self, node: ast.BinOp) -> Any:
        a, b = self.visit(node.left), self.visit(node.right)
        for x in (a, b):
            if isinstance(x, str) or (isinstance(x, np.ndarray) and x.dtype == object):
                raise TypeError(f"arithmetic ({_BINOP_SYMBOL[type(node.op)]}) on text values")
        if isinstance(node.op, ast.Pow):
            return np.power(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if isinstance(node.op, ast.Div):
            return np.true_divide(np.asarray(a, dtype=np.float64), b)
        return _BINOPS[type(node.op)](a, b)

    def v_UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(v)
        if isinstance(node.op, ast.USub):
            v = np.asarray(v)
            return -(v.astype(np.int64) if v.dtype == bool else v)
        return v

    def v_BoolOp(self, node: ast.BoolOp) -> Any:
        vals = [_as_bool(self.visit(v)) for v in node.values]
        op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return functools.reduce(op, vals)

    def _compare_codes(self, left: ast.AST, op: ast.cmpop, comp: ast.AST) -> np.ndarray | None:
        if not (isinstance(left, ast.Name) and left.id in self.codes):
            return None
        codes, cats = self.codes[left.id]
        index = {c: i for i, c in enumerate(cats)}
        if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(comp, ast.Constant):
            i = index.get(comp.value, -2) if isinstance(comp.value, str) else None
            if i is None:
                return None
            out = codes == i
            return out if isinstance(op, ast.Eq) else ~out
        if isinstance(op, (ast.In, ast.NotIn)):
            vals = [e.value for e in comp.elts]  # type: ignore[attr-defined]
            if not all(isinstance(v, str) for v in vals):
                return None
            out = np.isin(codes, [index[v] for v in vals if v in index])
            return out if isinstance(op, ast.In) else ~out
        return None

    def _compare(self, a: Any, op: ast.cmpop, b: Any, comp: ast.AST) -> Any:
        if isinstance(op, (ast.In, ast.NotIn)):
            vals = [e.value for e in comp.elts]  # type: ignore[attr-defined]
            arr = np.asarray(a)
            out = (
                np.isin(arr, np.asarray(vals, dtype=object))
                if arr.dtype == object
                else np.isin(arr, vals)
            )
            return out if isinstance(op, ast.In) else ~out
        if _is_datetime(a) and isinstance(b, str):
            b = _to_timestamp_like(a, b)
        elif _is_datetime(b) and isinstance(a, str):
            a = _to_timestamp_like(b, a)
        if isinstance(a, pd.DatetimeIndex) or isinstance(b, pd.DatetimeIndex):
            return np.asarray(_CMPOPS[type(op)](a, b), dtype=bool)
        return _CMPOPS[type(op)](a, b)

    def v_Compare(self, node: ast.Compare) -> Any:
        out = None
        left_node = node.left
        left = None
        for op, comp in zip(node.ops, node.comparators, strict=True):
            res = self._compare_codes(left_node, op, comp)
            if res is None:
                if left is None:
                    left = self.visit(left_node)
                right = None if isinstance(op, (ast.In, ast.NotIn)) else self.visit(comp)
                res = self._compare(left, op, right, comp)
                left = right
            else:
                left = None
            res = _as_bool(res)
            out = res if out is None else (out & res)
            left_node = comp
        return out

    def v_IfExp(self, node: ast.IfExp) -> Any:
        return np.where(
            _as_bool(self.visit(node.test)), self.visit(node.body), self.visit(node.orelse)
        )

    def v_Call(self, node: ast.Call) -> Any:
        f = node.func.id  # type: ignore[attr-defined]
        args = [self.visit(a) for a in node.args]
        if f in ("hour", "minute", "dayofweek", "month", "day"):
            return _datetime_field(args[0], f)
        if f == "isnull":
            return np.asarray(pd.isna(args[0]))
        if f == "notnull":
            return ~np.asarray(pd.isna(args[0]))
        if f == "where":
            return np.where(_as_bool(args[0]), args[1], args[2])
        for a in args:
            if isinstance(a, str) or (isinstance(a, np.ndarray) and a.dtype == object):
                raise TypeError(f"{f}() on text values")
        if f == "abs":
            return np.abs(args[0])
        if f == "round":
            nd = int(np.asarray(args[1]).item()) if len(args) == 2 else 0
            return np.round(args[0], nd)
        if f == "floor":
            return np.floor(args[0])
        if f == "ceil":
            return np.ceil(args[0])
        if f == "log":
            return np.log(np.asarray(args[0], dtype=np.float64))
        if f == "log10":
            return np.log10(np.asarray(args[0], dtype=np.float64))
        if f == "exp":
            return np.exp(np.asarray(args[0], dtype=np.float64))
        if f == "sqrt":
            return np.sqrt(np.asarray(args[0], dtype=np.float64))
        if f == "min":
            return functools.reduce(np.minimum, args)
        if f == "max":
            return functools.reduce(np.maximum, args)
        if f == "clip":
            return np.minimum(np.maximum(args[0], args[1]), args[2])
        raise NameError(f"unknown function {f!r}")  # pragma: no cover - the checker refuses it
