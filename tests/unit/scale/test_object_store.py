"""Streaming and distributed sampling to an object store: a real S3 API served on 127.0.0.1 by
moto's server (no network). Parts are uploaded whole, the dataset's metadata file is written
last, a crashed run resumes with identical rows, and Dask workers write to the same bucket."""

from __future__ import annotations

import json
import os
import socket

import pandas as pd
import pytest

import sosie
from sosie.generators import GaussianCopulaGenerator
from sosie.scale import _dataset, sample_distributed

moto_server = pytest.importorskip("moto.server", reason="the S3 test server (moto[server])")
pafs = pytest.importorskip("pyarrow.fs")

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3():
    """A bucket on a local S3 server; yields (uri prefix, query string, filesystem)."""
    old = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)  # also inherited by Dask worker processes started later
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http",
                           region="us-east-1", access_key="testing", secret_key="testing",
                           allow_bucket_creation=True)  # fmt: skip
    fs.create_dir("synth")
    query = f"?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    yield "s3://synth", query, fs
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def model_path(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "adult.sosie"
    GaussianCopulaGenerator(rng=0).fit(adult_small).save(path)
    return path


def _read(fs, path: str) -> pd.DataFrame:
    return pd.read_parquet(path, filesystem=fs)


def test_stream_to_s3_resume_and_match_local(s3, model_path, tmp_path, monkeypatch):
    root, query, fs = s3
    local = pd.read_parquet(
        sosie.load(model_path).sample_to(tmp_path / "local", 12_000, chunk_rows=3_000, rng=8)
    )
    # a crash after two parts: nothing under the target, the parts in the partial prefix
    real = _dataset.write_part
    calls = {"n": 0}

    def flaky(target, folder, i, df, fmt):
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        calls["n"] += 1
        return real(target, folder, i, df, fmt)

    monkeypatch.setattr(_dataset, "write_part", flaky)
    uri = f"{root}/adult{query}"
    with pytest.raises(KeyboardInterrupt):
        sosie.load(model_path).sample_to(uri, 12_000, chunk_rows=3_000, rng=8)
    assert fs.get_file_info("synth/adult").type == pafs.FileType.NotFound
    names = [i.base_name for i in fs.get_file_info(pafs.FileSelector("synth/.adult.partial"))]
    assert sorted(n for n in names if n.startswith("part-")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    monkeypatch.undo()
    out = sosie.load(model_path).sample_to(uri, 12_000, chunk_rows=3_000, rng=8)
    assert out == uri
    names = sorted(i.base_name for i in fs.get_file_info(pafs.FileSelector("synth/adult")))
    assert names == ["_sosie_dataset.json", *(f"part-0000{i}.parquet" for i in range(4))]
    assert fs.get_file_info("synth/.adult.partial").type == pafs.FileType.NotFound
    with fs.open_input_stream("synth/adult/_sosie_dataset.json") as f:
        assert json.loads(f.read())["n_rows"] == 12_000
    pd.testing.assert_frame_equal(_read(fs, "synth/adult"), local)
    with pytest.raises(sosie.errors.DataSourceError, match="overwrite=True"):
        sosie.load(model_path).sample_to(uri, 10, rng=0)


def test_dask_workers_write_to_s3(s3, model_path, tmp_path):
    pytest.importorskip("distributed", reason="needs the optional extra 'scale'")
    root, query, fs = s3
    local = pd.read_parquet(
        sosie.load(model_path).sample_to(tmp_path / "local", 12_000, chunk_rows=4_000, rng=2)
    )
    res = sample_distributed(model_path, f"{root}/dist{query}", 12_000, partition_rows=4_000,
                             rng=2, n_workers=2)  # fmt: skip
    assert res["workers"] == 2
    pd.testing.assert_frame_equal(_read(fs, "synth/dist"), local)


def test_cli_streams_to_s3(s3, model_path):
    from sosie.cli import main

    root, query, fs = s3
    code = main(["-q", "sample", str(model_path), "-n", "5000", "--chunk-rows", "2500",
                 "--seed", "1", "-o", f"{root}/cli{query}"])  # fmt: skip
    assert code == 0
    assert len(_read(fs, "synth/cli")) == 5000
