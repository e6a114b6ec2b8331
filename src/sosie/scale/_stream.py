"""Streaming sampling: any number of rows to a Parquet or CSV dataset with flat memory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._rng import RNGLike
from ..errors import InvalidDataError, Problem
from . import _dataset as ds


def request_for(
    generator: Any,
    path: str | os.PathLike[str],
    n_rows: int,
    *,
    chunk_rows: int,
    format: str | None,
    conditions: Mapping[str, Any] | None,
    rng: RNGLike,
) -> tuple[ds.Target, dict[str, Any], bytes]:
    """Validate a sampling request; returns the target, the request record and the model bytes."""
    generator._check_fitted()
    problems = []
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        problems.append(Problem("n_rows", "an integer >= 0", repr(n_rows), "pass e.g. 10_000_000"))
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        problems.append(
            Problem("chunk_rows", "an integer >= 1", repr(chunk_rows), "pass e.g. 500_000")
        )
    if conditions is not None and not isinstance(conditions, Mapping):
        problems.append(
            Problem(
                "conditions",
                "a dict {column: value} applied to every row",
                type(conditions).__name__,
                "per-row conditions are for sample(); pass a dict here",
            )
        )
    if getattr(generator, "modality", "table") != "table":
        problems.append(
            Problem(
                "generator",
                "a table generator",
                f"a {generator.modality} generator",
                "stream table models only",
            )
        )
    if problems:
        raise InvalidDataError(problems)
    target = ds.resolve_target(path)
    fmt = ds.dataset_format(target, format)
    if conditions:
        generator._normalise_conditions(dict(conditions), 1)  # unknown columns/values: fail now
    data = ds.model_bytes(generator)
    request = {
        "format": fmt,
        "n_rows": int(n_rows),
        "chunk_rows": int(chunk_rows),
        "model_sha256": ds.model_identity(data),
        "generator": generator.name,
        "conditions": {str(k): v for k, v in (conditions or {}).items()},
        "seed": None if rng is None else ds.seed_record(_as_seq(rng)),
    }
    return target, request, data


def _as_seq(rng: RNGLike):
    from .._rng import as_seed_sequence

    return as_seed_sequence(rng)


def sample_to(
    generator: Any,
    path: str | os.PathLike[str],
    n_rows: int,
    *,
    chunk_rows: int = 500_000,
    format: str | None = None,
    conditions: Mapping[str, Any] | None = None,
    rng: RNGLike = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path | str:
    """See :meth:`sosie.generators.Generator.sample_to`."""
    target, request, _ = request_for(
        generator, path, n_rows, chunk_rows=chunk_rows, format=format,
        conditions=conditions, rng=rng,
    )  # fmt: skip
    # without rng: the model's stream continues, unless an unfinished run recorded a seed
    part, request = ds.open_partial(
        target, request, overwrite=overwrite,
        new_seed=lambda: ds.seed_record(generator._next_seed(None)),
    )  # fmt: skip
    sizes = ds.part_rows(request["n_rows"], request["chunk_rows"])
    todo = ds.missing_parts(target, part, request)
    bar = _bar(progress, len(sizes), len(sizes) - len(todo))
    try:
        for i in todo:
            df = generator.sample(
                sizes[i], conditions=request["conditions"] or None,
                rng=ds.part_seed(request["seed"], i),
            )  # fmt: skip
            ds.write_part(target, part, i, df, request["format"])
            del df
            if bar is not None:
                bar[0].advance(bar[1])
    finally:
        if bar is not None:
            bar[0].stop()
    return ds.finish(target, part, request, overwrite=overwrite)


def _bar(enabled: bool, total: int, done: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(
        TextColumn("sampling parts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True,
    )  # fmt: skip
    p.start()
    return p, p.add_task("parts", total=total, completed=done)
