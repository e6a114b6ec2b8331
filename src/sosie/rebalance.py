"""Rebalancing rare classes with synthetic rows made by native conditional sampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._rng import RNGLike, as_seed_sequence
from .errors import InvalidDataError, Problem
from .generators.base import Generator
from .generators.registry import get_generator
from .schema import TableSchema

__all__ = ["rebalance"]


def _target_counts(
    current: pd.Series,
    ratio: float | Mapping[Any, float] | None,
    counts: Mapping[Any, int] | None,
    target: str,
) -> dict[Any, int]:
    if (ratio is None) == (counts is None):
        raise InvalidDataError(
            Problem(
                "rebalance arguments",
                "exactly one of ratio= or counts=",
                "both" if ratio is not None else "neither",
                "pass ratio=1.0 for balanced classes, or counts={'fraud': 5000}",
            )
        )
    majority = int(current.max())
    problems: list[Problem] = []
    want: dict[Any, int] = {}
    if counts is not None:
        for cls, n in counts.items():
            if cls not in current.index:
                problems.append(
                    Problem(
                        f"counts[{cls!r}]",
                        f"a class of {target!r} ({', '.join(map(repr, current.index[:10]))})",
                        "an unknown class",
                        "use a class present in the data",
                    )
                )
            elif not isinstance(n, (int, np.integer)) or n < current[cls]:
                problems.append(
                    Problem(
                        f"counts[{cls!r}]",
                        f"an integer >= the {int(current[cls])} real rows (rebalancing adds rows, never drops them)",
                        repr(n),
                        "raise the count, or undersample the data yourself first",
                    )
                )
            else:
                want[cls] = int(n)
    else:
        ratios = ratio if isinstance(ratio, Mapping) else dict.fromkeys(current.index, ratio)
        for cls, r in ratios.items():
            if cls not in current.index:
                problems.append(
                    Problem(
                        f"ratio[{cls!r}]",
                        f"a class of {target!r}",
                        "an unknown class",
                        "use a class present in the data",
                    )
                )
            elif not isinstance(r, (int, float)) or not 0 < r <= 1:
                problems.append(
                    Problem(
                        f"ratio for {cls!r}",
                        "a share of the majority class's count in (0, 1]",
                        repr(r),
                        "pass e.g. ratio=1.0 (balanced) or ratio=0.5",
                    )
                )
            else:
                want[cls] = max(int(current[cls]), round(r * majority))
    if problems:
        raise InvalidDataError(problems)
    return want


def rebalance(
    data: pd.DataFrame,
    target: str,
    *,
    ratio: float | Mapping[Any, float] | None = None,
    counts: Mapping[Any, int] | None = None,
    generator: str | Generator = "gaussian_copula",
    schema: TableSchema | None = None,
    marker: str = "synthetic",
    rng: RNGLike = None,
    **params: Any,
) -> pd.DataFrame:
    """Real rows plus synthetic rows of the rare classes, up to the requested class mix.

    The generator learns the whole table once, then each rare class is sampled with
    the native condition ``{target: class}`` (no rejection sampling).

    Args:
        data: the real table.
        target: the class column.
        ratio: every class is brought to at least ``ratio`` x the majority count
            (``1.0`` balances them), or ``{class: ratio}`` for some classes.
        counts: ``{class: total rows wanted}`` (real + synthetic); at least the real count.
        generator: a registry name, an unfitted generator (fitted here on ``data``) or a
            fitted one (used as is).
        schema: schema for fitting (inferred otherwise).
        marker: name of the added boolean column that marks synthetic rows.
        rng: seed (fit of a named generator, and sampling).
        **params: parameters for a generator given by name.

    Returns:
        ``data`` (marker ``False``) followed by the synthetic rows (marker ``True``).

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(3000, random_state=0)
        >>> out = rebalance(real, "income", ratio=1.0, rng=0)
        >>> counts = out["income"].value_counts()
        >>> bool(counts[">50K"] == counts["<=50K"] == (real["income"] == "<=50K").sum())
        True
        >>> out.loc[out["synthetic"], "income"].unique().tolist()
        ['>50K']
    """
    if not isinstance(data, pd.DataFrame) or target not in data.columns:
        raise InvalidDataError(
            Problem(
                f"target {target!r}",
                "a column of the data",
                "no such column" if isinstance(data, pd.DataFrame) else type(data).__name__,
                "pass the name of the class column",
            )
        )
    if marker in data.columns:
        raise InvalidDataError(
            Problem(
                f"marker {marker!r}",
                "a new column name",
                "a column that already exists",
                "pass marker='...'",
            )
        )
    current = data[target].value_counts()
    want = _target_counts(current, ratio, counts, target)
    fit_seq, sample_seq = as_seed_sequence(rng).spawn(2)
    if isinstance(generator, str):
        seed = int(fit_seq.generate_state(1)[0])
        gen = get_generator(generator)(**{"rng": seed, **params})
        gen.fit(data, schema=schema)
    elif isinstance(generator, Generator):
        gen = generator if generator.is_fitted else generator.fit(data, schema=schema)
    else:
        raise InvalidDataError(
            Problem(
                "generator",
                "a registry name or a sosie Generator",
                type(generator).__name__,
                "pass e.g. 'gaussian_copula'",
            )
        )
    parts = [data.assign(**{marker: False})]
    extra = {cls: n - int(current[cls]) for cls, n in want.items() if n > int(current[cls])}
    seeds = sample_seq.spawn(max(1, len(extra)))
    for i, (cls, n_new) in enumerate(extra.items()):
        value = cls.item() if hasattr(cls, "item") else cls
        rows = gen.sample(n_new, conditions={target: value}, rng=seeds[i])
        parts.append(rows[data.columns.tolist()].assign(**{marker: True}))
    out = pd.concat(parts, ignore_index=True)
    for col in data.columns:  # keep the real data's dtypes where concat widened them
        if out[col].dtype != data[col].dtype:
            try:
                out[col] = out[col].astype(data[col].dtype)
            except (TypeError, ValueError):
                pass
    return out
