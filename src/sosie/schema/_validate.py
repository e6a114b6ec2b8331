"""Checking data against a schema: every problem is collected and raised once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidDataError, Problem
from . import _datetime as dtm
from ._infer import check_frame
from ._types import ColumnSpec, Provenance, SemanticType, TableSchema

__all__ = ["coerce_column", "validate_data"]


def _examples(values: pd.Series, k: int = 3) -> str:
    u = pd.unique(values.dropna())[:k]
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in u)


def _declared(spec: ColumnSpec, fact: str) -> bool:
    return spec.provenance.get(fact, Provenance.INFERRED) in (Provenance.USER, Provenance.PUBLIC)


def coerce_column(s: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, list[Problem]]:
    """Convert a source column to sosie's working form for its type, with the problems found.

    numerical -> float64; datetime -> datetime64[ns] (UTC if the spec has a timezone);
    boolean -> float 0/1; others are returned unchanged.
    """
    where = f"column {spec.name!r}"
    problems: list[Problem] = []
    t = spec.type
    nn_mask = s.notna()
    if t is SemanticType.NUMERICAL:
        x = pd.to_numeric(s, errors="coerce").astype("float64")
        bad = nn_mask & x.isna()
        if bad.any():
            problems.append(
                Problem(
                    where,
                    "numbers (declared numerical)",
                    f"{int(bad.sum())} non-numeric value(s), e.g. {_examples(s[bad])}",
                    "clean those values or declare the column categorical",
                )
            )
        inf = np.isinf(x.to_numpy())
        if inf.any():
            problems.append(
                Problem(
                    where,
                    "finite numbers",
                    f"{int(inf.sum())} infinite value(s)",
                    "replace infinities, e.g. df[col] = df[col].replace([np.inf, -np.inf], np.nan)",
                )
            )
            x = x.where(~inf)
        if spec.dtype == "int":
            frac = x.notna() & (np.mod(x.fillna(0), 1) != 0)
            if frac.any():
                problems.append(
                    Problem(
                        where,
                        "whole numbers (declared dtype int)",
                        f"{int(frac.sum())} fractional value(s), e.g. {_examples(x[frac])}",
                        "round the column or set dtype to 'float'",
                    )
                )
        for fact, op in (("min", np.less), ("max", np.greater)):
            bound = getattr(spec, fact)
            if bound is not None and _declared(spec, fact):
                out = x.notna() & op(x.fillna(bound), bound)
                if out.any():
                    problems.append(
                        Problem(
                            where,
                            f"values {'>=' if fact == 'min' else '<='} {bound} (declared {fact})",
                            f"{int(out.sum())} value(s) beyond it, e.g. {_examples(x[out])}",
                            f"fix the data or the schema's {fact!r}",
                        )
                    )
        return x, problems
    if t is SemanticType.CATEGORICAL:
        if spec.categories is not None:
            known = pd.Series(spec.categories, dtype=object)
            vals = s.astype(object)
            unknown = nn_mask & ~vals.isin(known)
            if unknown.any():
                problems.append(
                    Problem(
                        where,
                        f"one of the {len(spec.categories)} categories in the schema",
                        f"{int(unknown.sum())} value(s) outside them, e.g. {_examples(vals[unknown])}",
                        "add them to the schema's 'categories', or remove 'categories' to learn them",
                    )
                )
        return s, problems
    if t is SemanticType.BOOLEAN:
        tv, fv = spec.true_value, spec.false_value
        if tv is None:
            tv, fv = True, False
        vals = s.astype(object).where(nn_mask, None)

        def _is(v: Any, ref: Any) -> bool:
            if v is None:
                return False
            if isinstance(v, str):
                return str(ref).lower() == v.lower()
            return bool(v == ref) and isinstance(v, (bool, np.bool_)) == isinstance(ref, bool)

        is_t = vals.map(lambda v: _is(v, tv))
        is_f = vals.map(lambda v: _is(v, fv))
        bad = nn_mask & ~(is_t.astype(bool) | is_f.astype(bool))
        if bad.any():
            problems.append(
                Problem(
                    where,
                    f"boolean values ({tv!r}/{fv!r})",
                    f"{int(bad.sum())} other value(s), e.g. {_examples(vals[bad])}",
                    "clean the column or declare it categorical",
                )
            )
        out = pd.Series(np.where(is_t.astype(bool), 1.0, 0.0), index=s.index)
        return out.where(nn_mask), problems
    if t is SemanticType.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            parsed = s
        elif spec.datetime_format is not None:
            parsed = dtm.parse_with_format(s, spec.datetime_format)
        else:
            parsed = pd.to_datetime(s, errors="coerce", format="ISO8601")
        if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
            parsed = pd.to_datetime(parsed, errors="coerce", utc=True)
        bad = nn_mask & parsed.isna()
        if bad.any():
            fmt = spec.datetime_format or "ISO 8601"
            problems.append(
                Problem(
                    where,
                    f"dates in the format {fmt!r}",
                    f"{int(bad.sum())} unparseable value(s), e.g. {_examples(s[bad])}",
                    "fix those values, or set 'datetime_format' in the schema to the format used",
                )
            )
        tz = getattr(parsed.dt, "tz", None)
        if spec.timezone is not None and tz is None:
            parsed = parsed.dt.tz_localize(dtm.to_pandas_tz(spec.timezone))
        elif spec.timezone is None and tz is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed, problems
    if t is SemanticType.ID:
        dup = s.dropna().duplicated()
        if dup.any():
            problems.append(
                Problem(
                    where,
                    "unique values (declared id)",
                    f"{int(dup.sum())} duplicate(s), e.g. {_examples(s.dropna()[dup.to_numpy()])}",
                    "declare the column categorical, or deduplicate",
                )
            )
        return s, problems
    if t is SemanticType.CONSTANT:
        if s.dropna().nunique() > 1:
            problems.append(
                Problem(
                    where,
                    f"a single value (declared constant {spec.value!r})",
                    f"{s.dropna().nunique()} distinct values, e.g. {_examples(s)}",
                    "declare another type for the column",
                )
            )
        return s, problems
    return s, problems


def validate_data(data: pd.DataFrame, schema: TableSchema, *, min_rows: int = 1) -> None:
    """Check ``data`` against ``schema``; raise every problem at once.

    Checks the frame (type, rows, names), missing and extra columns, nulls in
    columns declared not nullable, values of the wrong type, unparseable dates,
    unknown categories, infinities, declared bounds and duplicate ids.

    Raises:
        InvalidDataError: with ``.errors`` listing each :class:`~sosie.errors.Problem`.

    Example:
        >>> from sosie.schema import infer_schema
        >>> df = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
        >>> validate_data(df, infer_schema(df))  # passes silently
        >>> try:
        ...     validate_data(df.assign(c=["a", "z"]), infer_schema(df))
        ... except InvalidDataError as e:
        ...     print(e.errors[0].where)
        column 'c'
    """
    problems = check_frame(data, min_rows=min_rows)
    if problems:
        raise InvalidDataError(problems)
    _check_columns(data, schema, problems)
    for spec in schema:
        if spec.name not in data.columns:
            continue
        s = data[spec.name]
        n_null = int(s.isna().sum())
        if n_null == len(s) and spec.type is not SemanticType.CONSTANT:
            problems.append(
                Problem(
                    f"column {spec.name!r}",
                    f"some non-missing values (declared {spec.type.value})",
                    f"only missing values ({n_null} of {len(s)})",
                    "drop the column or declare it constant",
                )
            )
            continue
        if n_null and not spec.nullable:
            problems.append(
                Problem(
                    f"column {spec.name!r}",
                    "no missing values (declared nullable: false)",
                    f"{n_null} missing value(s)",
                    "set 'nullable': true in the schema, or fill them",
                )
            )
        _, col_problems = coerce_column(s, spec)
        problems.extend(col_problems)
    if problems:
        raise InvalidDataError(problems)


def _check_columns(data: pd.DataFrame, schema: TableSchema, problems: list[Problem]) -> None:
    names = set(schema.names)
    missing = [n for n in schema.names if n not in data.columns]
    extra = [c for c in data.columns if c not in names]
    if missing:
        problems.append(
            Problem(
                "data columns",
                "every column of the schema",
                "missing " + ", ".join(map(repr, missing)),
                "add the columns or remove them from the schema",
            )
        )
    if extra:
        problems.append(
            Problem(
                "data columns",
                "only columns of the schema",
                "extra " + ", ".join(map(repr, extra)),
                "drop them or add them to the schema (sosie inspect writes a full schema)",
            )
        )
