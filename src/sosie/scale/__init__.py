"""Scale: streaming and distributed sampling (extra ``scale`` for Dask).

* :meth:`Generator.sample_to <sosie.generators.Generator.sample_to>` streams any number of
  rows to a Parquet or CSV dataset folder (local, or on an object store such as S3) with flat
  memory, atomically and resumably;
* :func:`sample_distributed` writes the same dataset on a ``dask.distributed`` cluster (a
  LocalCluster by default): the model is shipped once as its ``.sosie`` bytes and every
  partition is a pure function of (model, rows, seed by logical partition index), so the
  output does not depend on the number of workers and survives a worker's death;
* :func:`evaluate_large` evaluates tables of any size on Dask DataFrames: column shapes on
  every row, pair trends, detection and distance to closest record on uniform samples;
* :func:`read_sample` reads a uniform random sample of a Parquet or CSV table larger than
  memory in one pass, to fit on (the model and its data card record the sample size).

Example:
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from sosie.datasets import load_adult
    >>> from sosie.generators import GaussianCopulaGenerator
    >>> gen = GaussianCopulaGenerator(rng=0).fit(load_adult().sample(2000, random_state=0))
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> a = gen.sample_to(d / "a", 20_000, chunk_rows=8_000, rng=3)
    >>> b = sample_distributed(gen, d / "b", 20_000, partition_rows=8_000, rng=3, n_workers=2)
    >>> pd.read_parquet(a).equals(pd.read_parquet(b["path"]))
    True
"""

from __future__ import annotations

from ._dask import sample_distributed
from ._evaluate import evaluate_large
from ._read import read_sample

__all__ = ["evaluate_large", "read_sample", "sample_distributed"]
