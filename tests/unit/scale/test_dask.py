"""Distributed sampling on a real dask.distributed LocalCluster of worker processes: the output
is identical to streaming in one process, for any number of workers, and after a worker is
killed mid-run."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pytest

import sosie
from sosie.generators import GaussianCopulaGenerator
from sosie.scale import _dataset, sample_distributed

distributed = pytest.importorskip("distributed", reason="needs the optional extra 'scale'")

N, PART = 60_000, 6_000


@pytest.fixture(scope="module")
def model_path(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "adult.sosie"
    GaussianCopulaGenerator(rng=0).fit(adult_small).save(path)
    return path


@pytest.fixture(scope="module")
def expected(model_path, tmp_path_factory):
    out = sosie.load(model_path).sample_to(
        tmp_path_factory.mktemp("one") / "ds", N, chunk_rows=PART, rng=21
    )
    return pd.read_parquet(out)


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")  # fmt: skip
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_identical_to_one_process_for_one_and_two_workers(model_path, expected, client, tmp_path):
    res = sample_distributed(model_path, tmp_path / "two", N, partition_rows=PART, rng=21,
                             client=client)  # fmt: skip
    assert res["workers"] == 2 and res["parts"] == 10 and res["n_rows"] == N
    pd.testing.assert_frame_equal(pd.read_parquet(res["path"]), expected)
    one = sample_distributed(model_path, tmp_path / "one", N, partition_rows=PART, rng=21,
                             n_workers=1)  # fmt: skip
    assert one["workers"] == 1
    pd.testing.assert_frame_equal(pd.read_parquet(one["path"]), expected)


def test_a_worker_killed_mid_run(model_path, client, tmp_path):
    # Setup: 24 parts of 15,000 rows; kill a worker process (SIGKILL) once 3 parts are written
    n, part_rows = 360_000, 15_000
    expected = pd.read_parquet(
        sosie.load(model_path).sample_to(tmp_path / "one", n, chunk_rows=part_rows, rng=5)
    )
    target = tmp_path / "killed"
    partial = _dataset.partial_dir(target)
    pids = list(client.run(os.getpid).values())
    killed: list[tuple[int, int]] = []

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = len(list(partial.glob("part-*")))
            if done >= 3:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], done))
                return
            time.sleep(0.005)

    t = threading.Thread(target=killer)
    t.start()
    # Run
    res = sample_distributed(model_path, target, n, partition_rows=part_rows, rng=5, client=client)
    t.join()
    # Assert: the kill happened mid-run and the result is complete and identical
    assert killed and killed[0][1] < 24, killed
    df = pd.read_parquet(res["path"])
    assert len(df) == n
    pd.testing.assert_frame_equal(df, expected)
    # a part the killed worker was writing left no temporary file behind
    assert not [p.name for p in res["path"].iterdir() if p.name.startswith(".")]
