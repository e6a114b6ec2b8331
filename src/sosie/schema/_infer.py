"""Schema inference with evidence for every decision."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidDataError, Problem
from . import _datetime as dtm
from ._patterns import detect_pii, learn_template, looks_like_id_name
from ._types import ColumnSpec, Provenance, SemanticType, TableSchema

__all__ = ["check_frame", "infer_column", "infer_schema", "learn_facts"]

MAX_DECIMALS = 6
TEXT_MIN_WORDS = 5.0
HIGH_CARDINALITY = 500


def check_frame(data: Any, *, min_rows: int = 1, what: str = "data") -> list[Problem]:
    """Problems with the frame as a whole: type, emptiness, column names."""
    if not isinstance(data, pd.DataFrame):
        return [
            Problem(
                what,
                "a pandas DataFrame",
                type(data).__name__,
                "load the table with sosie.io.read_table or pandas",
            )
        ]
    problems: list[Problem] = []
    if data.shape[1] == 0:
        problems.append(
            Problem(what, "at least one column", "no columns", "pass a table with columns")
        )
    if len(data) < min_rows:
        found = "an empty table (0 rows)" if len(data) == 0 else f"{len(data)} row(s)"
        problems.append(
            Problem(
                what,
                f"at least {min_rows} row(s)",
                found,
                "pass more rows (a generator cannot learn a distribution from fewer)",
            )
        )
    seen: dict[Any, int] = {}
    for i, c in enumerate(data.columns):
        if not isinstance(c, str) or c == "":
            problems.append(
                Problem(
                    f"column at position {i}",
                    "a non-empty string name",
                    f"{c!r} ({type(c).__name__})",
                    "rename the columns to strings, e.g. df.columns = df.columns.map(str)",
                )
            )
        elif c in seen:
            problems.append(
                Problem(
                    f"column {c!r}",
                    "unique column names",
                    f"the same name at positions {seen[c]} and {i}",
                    "rename or drop one of the duplicates",
                )
            )
        else:
            seen[c] = i
    return problems


def _python_types(s: pd.Series) -> dict[str, list[Any]]:
    kinds: dict[str, list[Any]] = {}
    for v in s.dropna().iloc[:200_000].tolist():
        if isinstance(v, (bool, np.bool_)):
            k = "bool"
        elif isinstance(v, (int, np.integer, float, np.floating)):
            k = "number"
        elif isinstance(v, str):
            k = "str"
        elif isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"):
            k = "datetime"
        else:
            k = type(v).__name__
        kinds.setdefault(k, []).append(v)
    return kinds


def _decimals(x: np.ndarray) -> int | None:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    x = np.unique(x)[:100_000]
    for d in range(MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(x, d) - x) <= 4 * np.spacing(np.abs(x))):
            return d
    return None


def _is_integral(x: np.ndarray) -> bool:
    x = x[np.isfinite(x)]
    return bool(np.all(np.mod(x, 1) == 0))


def _numeric_spec(name: str, s: pd.Series, spec: ColumnSpec, ev: list[str]) -> None:
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    fin = x[np.isfinite(x)]
    integral = _is_integral(fin) and (pd.api.types.is_integer_dtype(s.dtype) or fin.size > 0)
    if spec.dtype is None:
        spec.dtype = "int" if integral else "float"
        ev.append(
            "all values are whole numbers -> int" if integral else "non-integral values -> float"
        )
    if spec.min is None and fin.size:
        spec.min = int(fin.min()) if spec.dtype == "int" else float(fin.min())
        spec.provenance["min"] = Provenance.INFERRED
    if spec.max is None and fin.size:
        spec.max = int(fin.max()) if spec.dtype == "int" else float(fin.max())
        spec.provenance["max"] = Provenance.INFERRED
    if spec.dtype == "float" and spec.decimals is None:
        spec.decimals = _decimals(fin)
        if spec.decimals is not None:
            ev.append(f"values have at most {spec.decimals} decimal(s)")
            spec.provenance["decimals"] = Provenance.INFERRED


def _categories(s: pd.Series) -> list[Any]:
    vc = s.dropna().value_counts(sort=True)
    cats = [v.item() if hasattr(v, "item") else v for v in vc.index.tolist()]
    # stable order: by frequency, ties by value text
    counts = vc.to_numpy()
    order = sorted(range(len(cats)), key=lambda i: (-counts[i], str(cats[i])))
    return [cats[i] for i in order]


def _datetime_facts(s: pd.Series, spec: ColumnSpec, ev: list[str]) -> pd.Series | None:
    """Fill datetime facts; returns the parsed series (None if it cannot be parsed)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        parsed = s
        tz = getattr(s.dt, "tz", None)
        if spec.timezone is None and tz is not None:
            spec.timezone = str(tz)
    else:
        if spec.datetime_format is None:
            found = dtm.detect_format(s)
            if found is None:
                return None
            spec.datetime_format, parsed, notes = found
            ev.extend(notes)
        else:
            parsed = dtm.parse_with_format(s, spec.datetime_format)
        if spec.timezone is None:
            if spec.datetime_format.endswith("Z"):
                spec.timezone = "UTC"
            elif "%z" in spec.datetime_format or "%:z" in spec.datetime_format:
                spec.timezone = dtm.detect_offset_timezone(s) or "UTC"
                ev.append(f"UTC offsets in the strings -> timezone {spec.timezone}")
        if spec.timezone is not None and getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert(dtm.to_pandas_tz(spec.timezone))
    if spec.resolution is None:
        spec.resolution = dtm.detect_resolution(parsed)
    nn = parsed.dropna()
    if not nn.empty:
        if spec.min is None:
            spec.min = nn.min().isoformat()
            spec.provenance["min"] = Provenance.INFERRED
        if spec.max is None:
            spec.max = nn.max().isoformat()
            spec.provenance["max"] = Provenance.INFERRED
    return parsed


def _high_cardinality(n_categories: int, n_values: int) -> bool:
    return n_categories > HIGH_CARDINALITY or (n_values >= 50 and n_categories > 0.5 * n_values)


def learn_facts(spec: ColumnSpec, s: pd.Series, *, locale: str = "en_US") -> ColumnSpec:
    """Fill the facts of ``spec`` that are still unknown (``None``) from the column ``s``.

    Facts the user set are kept. Returns the same (mutated) spec.

    Example:
        >>> spec = learn_facts(ColumnSpec("c", "categorical"), pd.Series(["a", "b", "a"]))
        >>> spec.categories
        ['a', 'b']
    """
    ev = spec.evidence
    if spec.pandas_dtype is None:
        spec.pandas_dtype = str(s.dtype)
    if not spec.nullable and s.isna().any():
        spec.nullable = True
    t = spec.type
    if t is SemanticType.NUMERICAL:
        _numeric_spec(spec.name, s, spec, ev)
    elif t is SemanticType.CATEGORICAL:
        if spec.categories is None:
            spec.categories = _categories(s)
            spec.provenance["categories"] = Provenance.INFERRED
        spec.high_cardinality = spec.high_cardinality or _high_cardinality(
            len(spec.categories), int(s.notna().sum())
        )
    elif t is SemanticType.BOOLEAN:
        if spec.true_value is None or spec.false_value is None:
            vals = set(s.dropna().unique().tolist())
            if vals <= {True, False} and all(isinstance(v, (bool, np.bool_)) for v in vals):
                spec.true_value, spec.false_value = True, False
            elif vals <= {0, 1}:
                spec.true_value, spec.false_value = 1, 0
            else:
                low = {str(v).lower(): v for v in vals}
                for tv, fv in (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f")):
                    if set(low) <= {tv, fv}:
                        sample = next(iter(vals))
                        styler = (
                            str.upper
                            if sample.isupper()
                            else (str.capitalize if sample[:1].isupper() else str.lower)
                        )
                        spec.true_value, spec.false_value = styler(tv), styler(fv)
                        break
    elif t is SemanticType.DATETIME:
        _datetime_facts(s, spec, ev)
    elif t is SemanticType.ID:
        if spec.id_format is None:
            if pd.api.types.is_integer_dtype(s.dtype) or (
                pd.api.types.is_float_dtype(s.dtype) and _is_integral(s.dropna().to_numpy(float))
            ):
                spec.id_format = "int"
            else:
                spec.id_format = learn_template(s) or "{X12}"
    elif t is SemanticType.PII:
        if spec.pii_kind is None:
            found = detect_pii(spec.name, s)
            spec.pii_kind = found[0] if found else "name"
        if spec.locale is None:
            spec.locale = locale
    elif t is SemanticType.TEXT:
        if spec.locale is None:
            spec.locale = locale
    elif t is SemanticType.CONSTANT:
        if spec.value is None and s.notna().any():
            v = s.dropna().iloc[0]
            spec.value = (
                v.isoformat()
                if isinstance(v, pd.Timestamp)
                else (v.item() if hasattr(v, "item") else v)
            )
    return spec


def infer_column(name: str, s: pd.Series, *, locale: str = "en_US") -> ColumnSpec | Problem:
    """Infer the spec of one column, or the :class:`Problem` that prevents it.

    Example:
        >>> infer_column("when", pd.Series(["31/01/2024", "15/02/2024"])).datetime_format
        '%d/%m/%Y'
    """
    n = len(s)
    nn = s.dropna()
    n_null = n - len(nn)
    ev: list[str] = []

    def make(t: SemanticType, **kw: Any) -> ColumnSpec:
        spec = ColumnSpec(name, t, evidence=ev, **kw)
        return learn_facts(spec, s, locale=locale)

    if n_null:
        ev.append(f"{n_null} of {n} values missing ({n_null / max(n, 1):.1%}) -> nulls modelled")
    if len(nn) == 0:
        return Problem(
            f"column {name!r}",
            "at least one non-missing value to learn its type",
            f"only missing values ({n} of {n})",
            "drop the column, or declare it in the schema as "
            '{"type": "constant", "nullable": true}',
        )
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        ev.append(f"dtype {dtype} -> boolean")
        return make(SemanticType.BOOLEAN)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        ev.append(f"dtype {dtype} -> datetime")
        if nn.nunique() == 1:
            return make(SemanticType.CONSTANT)
        return make(SemanticType.DATETIME)
    if isinstance(dtype, pd.CategoricalDtype):
        ev.append("pandas categorical dtype -> categorical")
        return make(SemanticType.CATEGORICAL)

    numeric = pd.api.types.is_numeric_dtype(dtype)
    if not numeric:
        kinds = _python_types(nn)
        if len(kinds) > 1:
            desc = ", ".join(
                f"{k} ({len(v)} values, e.g. {v[0]!r})" for k, v in sorted(kinds.items())
            )
            return Problem(
                f"column {name!r}",
                "values of one type",
                f"a mix of {desc}",
                "clean the column (e.g. df[col].astype(str) for categories, "
                "pd.to_numeric(df[col], errors='coerce') for numbers) or declare its type in the schema",
            )
        kind = next(iter(kinds))
        if kind == "number":
            s = pd.to_numeric(s)
            nn = s.dropna()
            numeric = True
        elif kind == "bool":
            ev.append("Python booleans -> boolean")
            return make(SemanticType.BOOLEAN)
        elif kind == "datetime":
            ev.append("Python datetime objects -> datetime")
            return make(SemanticType.DATETIME)
        elif kind != "str":
            return Problem(
                f"column {name!r}",
                "numbers, strings, booleans or datetimes",
                f"values of type {kind}",
                "convert the column to one of the supported types",
            )

    n_unique = int(nn.nunique())
    if numeric:
        x = nn.to_numpy(dtype="float64")
        n_inf = int(np.isinf(x).sum())
        if n_inf:
            return Problem(
                f"column {name!r}",
                "finite numbers",
                f"{n_inf} infinite value(s)",
                "replace infinities, e.g. df[col] = df[col].replace([np.inf, -np.inf], np.nan)",
            )
        if n_unique == 1:
            ev.append("one distinct value -> constant")
            return make(SemanticType.CONSTANT)
        integral = _is_integral(x)
        if integral and set(np.unique(x).tolist()) <= {0.0, 1.0}:
            ev.append("only the values 0 and 1 -> boolean")
            return make(SemanticType.BOOLEAN)
        if integral and n_unique == len(nn) and looks_like_id_name(name):
            ev.append(f"name {name!r} looks like a key and all {n_unique} values are unique -> id")
            return make(SemanticType.ID)
        if integral and x.min() >= 19000101 and x.max() <= 21001231:
            fmt = dtm.detect_format(nn.astype("int64").astype(str))
            if fmt is not None and fmt[0] == "%Y%m%d":
                ev.append("every value is a valid YYYYMMDD date -> datetime stored as integers")
                return make(SemanticType.DATETIME, datetime_format="%Y%m%d")
        ev.append(f"numeric dtype {dtype} with {n_unique} distinct values -> numerical")
        return make(SemanticType.NUMERICAL)

    # strings
    st = nn.astype(str)
    if n_unique == 1:
        ev.append("one distinct value -> constant")
        return make(SemanticType.CONSTANT)
    low = set(st.str.lower().unique().tolist())
    if low <= {"true", "false"} and len(low) == 2:
        ev.append("only the strings true/false -> boolean")
        return make(SemanticType.BOOLEAN)
    found = dtm.detect_format(st)
    if found is not None:
        fmt, _parsed, notes = found
        ev.append(f"every value parses with the date format {fmt!r} -> datetime")
        ev.extend(notes)
        return make(SemanticType.DATETIME, datetime_format=fmt)
    pii = detect_pii(name, nn)
    if pii is not None:
        ev.append(pii[1] + f" -> pii ({pii[0]}); values are replaced by Faker, never copied")
        return make(SemanticType.PII, pii_kind=pii[0])
    all_unique = n_unique == len(nn)
    if all_unique and len(nn) >= 2:
        template = learn_template(st)
        if template == "uuid":
            ev.append("all values are unique UUIDs -> id")
            return make(SemanticType.ID, id_format="uuid")
        if looks_like_id_name(name) or (
            template is not None and len(nn) >= 20 and "{d" in template
        ):
            ev.append(
                f"all {n_unique} values are unique"
                + (f" with the shape {template!r}" if template else "")
                + (f" and the name {name!r} looks like a key" if looks_like_id_name(name) else "")
                + " -> id (synthetic ids are new)"
            )
            return make(SemanticType.ID, id_format=template or "{X12}")
    words = st.str.count(r"\s+") + 1
    if words.mean() >= TEXT_MIN_WORDS and n_unique / len(nn) >= 0.5:
        ev.append(
            f"{words.mean():.1f} words per value on average and {n_unique / len(nn):.0%} distinct -> free text"
        )
        return make(SemanticType.TEXT)
    ev.append(f"strings with {n_unique} distinct values -> categorical")
    if _high_cardinality(n_unique, len(nn)):
        ev.append(
            "high cardinality: rare categories may reveal individuals; consider grouping them"
        )
    return make(SemanticType.CATEGORICAL)


def infer_schema(
    data: pd.DataFrame,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    locale: str = "en_US",
    constraints: bool = False,
) -> TableSchema:
    """Infer the schema of ``data``, with the evidence for every decision.

    Every problem (bad names, all-null columns, mixed types, infinities) is
    collected and raised once as :class:`~sosie.errors.InvalidDataError`.

    Args:
        data: the table.
        overrides: column name -> facts the user fixes (e.g. ``{"zip": {"type": "categorical"}}``);
            they are marked ``user`` provenance and the rest is learned around them.
        locale: Faker locale used for PII and text columns.
        constraints: also discover the table's exact rules (:func:`sosie.constraints.discover`)
            into ``schema.constraints`` (``inferred`` provenance, with evidence).

    Returns:
        The :class:`TableSchema`; each column's ``evidence`` explains the decision.

    Example:
        >>> df = pd.DataFrame({"age": [23, 41, 35], "city": ["Lyon", "Paris", "Lyon"]})
        >>> schema = infer_schema(df)
        >>> [(c.name, c.type.value) for c in schema]
        [('age', 'numerical'), ('city', 'categorical')]
        >>> schema["age"].evidence[-1]
        'all values are whole numbers -> int'
    """
    problems = check_frame(data)
    if problems:
        raise InvalidDataError(problems)
    overrides = dict(overrides or {})
    unknown = [k for k in overrides if k not in data.columns]
    for k in unknown:
        problems.append(
            Problem(
                f"override for column {k!r}",
                "a column of the data",
                "no such column",
                "check the spelling; columns are " + ", ".join(map(repr, data.columns[:20])),
            )
        )
    cols: list[ColumnSpec] = []
    for name in data.columns:
        s = data[name]
        if name in overrides:
            fixed = dict(overrides[name])
            if "type" not in fixed:
                guess = infer_column(name, s, locale=locale)
                if isinstance(guess, Problem):
                    problems.append(guess)
                    continue
                fixed["type"] = guess.type
            spec = ColumnSpec(name, fixed.pop("type"))
            spec = spec.replace(**fixed) if fixed else spec
            spec.provenance["type"] = Provenance.USER
            spec.evidence.append("declared by the user")
            cols.append(learn_facts(spec, s, locale=locale))
            continue
        out = infer_column(name, s, locale=locale)
        if isinstance(out, Problem):
            problems.append(out)
        else:
            cols.append(out)
    if problems:
        raise InvalidDataError(problems)
    schema = TableSchema(cols)
    if constraints:
        from ..constraints import discover

        schema.constraints = discover(data, schema)
    return schema


def _finite_or_none(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v
