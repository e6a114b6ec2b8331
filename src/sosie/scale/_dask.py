"""Distributed sampling on dask.distributed: the same parts as ``sample_to``, on many workers."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._rng import RNGLike
from ..errors import missing_dependency
from . import _dataset as ds

# per worker process: model sha256 -> loaded generator (each model is loaded once per process)
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _model(data: bytes, digest: str) -> Any:
    with _LOCK:
        gen = _MODELS.get(digest)
        if gen is None:
            from ..generators.base import Generator

            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / "model.sosie"
                p.write_bytes(data)
                gen = Generator.load(p)
            if ds.model_identity(data) != digest:  # pragma: no cover - a corrupted transfer
                raise RuntimeError("the model bytes do not match their digest")
            _MODELS.clear()  # keep one model per process
            _MODELS[digest] = gen
        return gen


def _write_part_task(
    data: bytes, request: dict[str, Any], target_uri: str, folder: str, i: int
) -> tuple[int, int, float]:
    """Sample and write part ``i`` (a pure function of the model, its rows and its seed)."""
    import time

    t0 = time.perf_counter()
    gen = _model(data, request["model_sha256"])
    rows = ds.part_rows(request["n_rows"], request["chunk_rows"])[i]
    df = gen.sample(
        rows, conditions=request["conditions"] or None, rng=ds.part_seed(request["seed"], i)
    )
    ds.write_part(ds.resolve_target(target_uri), folder, i, df, request["format"])
    return i, len(df), time.perf_counter() - t0


def _client(client: Any, address: str | None, n_workers: int | None, threads_per_worker: int):
    """The client to use and, when one was made here, the objects to close afterwards."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise missing_dependency("distributed", "scale", "distributed sampling") from None
    if client is not None:
        return client, []
    if address is not None:
        try:
            c = Client(address, timeout=30)
        except (OSError, TimeoutError) as e:
            from ..errors import DataSourceError, Problem

            raise DataSourceError(
                str(
                    Problem(
                        f"Dask scheduler {address!r}",
                        "a reachable scheduler (tcp://host:8786)",
                        f"{type(e).__name__}: {e}",
                        "check the address and that the scheduler runs, or use --dask local",
                    )
                )
            ) from None
        return c, [c]
    cluster = LocalCluster(
        n_workers=n_workers or max(1, (os.cpu_count() or 1)),
        threads_per_worker=threads_per_worker,
        processes=True,
        dashboard_address=":0",
    )
    c = Client(cluster)
    return c, [c, cluster]


def sample_distributed(
    model: Any,
    path: str | os.PathLike[str],
    n_rows: int,
    *,
    partition_rows: int = 1_000_000,
    format: str | None = None,
    conditions: Mapping[str, Any] | None = None,
    rng: RNGLike = None,
    client: Any = None,
    address: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    retries: int = 3,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Sample ``n_rows`` rows on a Dask cluster into a Parquet (or CSV) dataset folder.

    The model is shipped once, as the bytes of its ``.sosie`` file (scattered to every
    worker); each partition is a pure function of (model, rows, seed), the seed spawned
    from ``rng`` by the partition's logical index, so the output is identical for any
    number of workers, after a worker dies (the scheduler reruns its partitions; each
    part file is written atomically), and to :meth:`Generator.sample_to` with the same
    seed and ``chunk_rows=partition_rows``. The folder appears only when complete; an
    interrupted run resumes with the same call.

    Args:
        model: a fitted generator, or the path of a ``.sosie`` file.
        path: the output folder: a local or mounted path every worker sees, or an
            object-store URI (``s3://bucket/folder?region=...``; the workers need the
            credentials in their environment).
        n_rows: total rows.
        partition_rows: rows per partition (and part file).
        format: ``"parquet"`` (default) or ``"csv"``.
        conditions: ``{column: value}`` applied to every row.
        rng: seed of the whole dataset (default: the model's stream).
        client: a ``dask.distributed.Client`` to use.
        address: the scheduler to connect to (``tcp://host:8786``) when no client is given;
            neither starts a ``LocalCluster`` of ``n_workers`` processes.
        n_workers: workers of the LocalCluster (default: one per CPU).
        threads_per_worker: threads per LocalCluster worker.
        retries: reruns of a partition whose worker died.
        overwrite: replace an existing folder at ``path`` once the new one is complete.
        progress: show a progress bar.

    Returns:
        ``{"path", "n_rows", "parts", "workers", "seconds", "rows_per_second",
        "part_seconds"}`` (``part_seconds``: the time each part took on its worker).

    Example:
        >>> import tempfile, pathlib
        >>> from sosie.datasets import load_adult
        >>> from sosie.generators import GaussianCopulaGenerator
        >>> gen = GaussianCopulaGenerator(rng=0).fit(load_adult().sample(2000, random_state=0))
        >>> res = sample_distributed(gen, pathlib.Path(tempfile.mkdtemp()) / "adult", 30_000,
        ...                          partition_rows=10_000, rng=1, n_workers=2)
        >>> res["n_rows"], res["parts"]
        (30000, 3)
    """
    import time

    from ..generators.base import Generator
    from ._stream import request_for

    gen = model if isinstance(model, Generator) else Generator.load(model)
    target, request, data = request_for(
        gen, path, n_rows, chunk_rows=partition_rows, format=format,
        conditions=conditions, rng=rng,
    )  # fmt: skip
    part, request = ds.open_partial(
        target, request, overwrite=overwrite,
        new_seed=lambda: ds.seed_record(gen._next_seed(None)),
    )  # fmt: skip
    todo = ds.missing_parts(target, part, request)
    c, owned = _client(client, address, n_workers, threads_per_worker)
    t0 = time.perf_counter()
    part_seconds: dict[int, float] = {}
    try:
        workers = len(c.scheduler_info().get("workers", {}))
        if todo:
            import secrets

            run = secrets.token_hex(4)
            model_future = c.scatter(data, broadcast=True, hash=False)
            futures = [
                c.submit(
                    _write_part_task,
                    model_future,
                    request,
                    target.uri,
                    part,
                    i,
                    key=f"sosie-part-{run}-{i}",
                    retries=retries,
                    pure=False,
                )
                for i in todo
            ]
            from dask.distributed import as_completed

            bar = _bar(progress, len(todo))
            try:
                for fut in as_completed(futures):
                    i, _, secs = fut.result()
                    part_seconds[i] = secs
                    if bar is not None:
                        bar[0].advance(bar[1])
            finally:
                if bar is not None:
                    bar[0].stop()
    finally:
        for obj in owned:
            obj.close()
    out = ds.finish(target, part, request, overwrite=overwrite)
    seconds = time.perf_counter() - t0
    done = sum(ds.part_rows(request["n_rows"], request["chunk_rows"])[i] for i in todo)
    return {
        "path": out,
        "n_rows": request["n_rows"],
        "parts": len(ds.part_rows(request["n_rows"], request["chunk_rows"])),
        "workers": workers,
        "seconds": seconds,
        "rows_per_second": done / seconds if seconds > 0 else float("nan"),
        "part_seconds": part_seconds,
    }


def _bar(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(
        TextColumn("sampling partitions"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), transient=True,
    )  # fmt: skip
    p.start()
    return p, p.add_task("parts", total=total)
