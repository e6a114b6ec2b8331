"""Fitting on tables larger than memory: a uniform random sample read in one streaming pass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import DataSourceError, InvalidDataError, Problem


def read_sample(
    source: str | os.PathLike[str],
    n_rows: int,
    *,
    columns: list[str] | None = None,
    rng: RNGLike = None,
    batch_rows: int = 65_536,
) -> pd.DataFrame:
    """A uniform random sample of ``n_rows`` rows of a Parquet (or CSV) file or dataset folder,
    read in one pass with memory for the sample plus one batch, whatever the table's size.

    Every row gets a uniform random key in file order; the ``n_rows`` smallest keys are kept
    (an exact uniform sample without replacement, the same for any ``batch_rows``). The rows
    come back in file order; ``df.attrs["sosie_sample"]`` records the sample size, the table's
    row count and the source (a model fitted on it stores this in its file and data card).

    Args:
        source: a ``.parquet``/``.csv`` file or a folder of them.
        n_rows: the sample size (all rows when the table is smaller).
        columns: read only these columns.
        rng: seed of the keys.
        batch_rows: rows read at a time.

    Returns:
        The sample as a DataFrame.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> pd.DataFrame({"x": range(100_000)}).to_parquet(d / "t.parquet")
        >>> s = read_sample(d / "t.parquet", 1000, rng=0, batch_rows=7_000)
        >>> len(s), s.attrs["sosie_sample"]["of"], s["x"].is_monotonic_increasing
        (1000, 100000, True)
        >>> s.equals(read_sample(d / "t.parquet", 1000, rng=0, batch_rows=50_000))
        True
    """
    import pyarrow as pa
    import pyarrow.dataset as pads

    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise InvalidDataError(
            Problem("n_rows", "an integer >= 1", repr(n_rows), "pass e.g. 1_000_000")
        )
    path = Path(os.fspath(source)).expanduser()
    if not path.exists():
        raise DataSourceError(
            str(Problem(f"source '{path}'", "a Parquet or CSV file or folder", "nothing there",
                        "check the path"))
        )  # fmt: skip
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
    )
    kinds = {p.suffix.lower() for p in files}
    fmt = "csv" if kinds <= {".csv"} and kinds else "parquet"
    try:
        dataset = pads.dataset([str(p) for p in files], format=fmt)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataSourceError(
            str(Problem(f"source '{path}'", "Parquet or CSV files", f"unreadable ({e})",
                        "pass a Parquet or CSV file or a folder of them"))
        ) from None  # fmt: skip
    gen = as_generator(rng)
    kept: Any = None
    keys = np.empty(0)
    pos = np.empty(0, dtype=np.int64)
    total = 0
    for batch in dataset.to_batches(columns=columns, batch_size=batch_rows):
        b = batch.num_rows
        if b == 0:
            continue
        table = pa.Table.from_batches([batch])
        k = gen.random(b)
        p = np.arange(total, total + b, dtype=np.int64)
        total += b
        if kept is None:
            kept, keys, pos = table, k, p
        else:
            kept = pa.concat_tables([kept, table])
            keys, pos = np.r_[keys, k], np.r_[pos, p]
        if len(keys) > n_rows:
            idx = np.argpartition(keys, n_rows - 1)[:n_rows]
            idx.sort()  # keeps file order (positions grow with the index)
            kept = kept.take(pa.array(idx))
            keys, pos = keys[idx], pos[idx]
    if kept is None:
        df = dataset.schema.empty_table().to_pandas()
    else:
        df = kept.to_pandas()
    df.attrs["sosie_sample"] = {"rows": len(df), "of": total, "source": str(path)}
    return df
