"""A model trained on a GPU loads and samples on a machine without one (and other load cases).

The real round trip (train on an H100, load here) is ``benchmarks/run_gpu_roundtrip.py``
(results in ``benchmarks/results/gpu_roundtrip.md``); this test covers what makes it work
on any machine: a model file whose ``device`` parameter is ``"cuda"`` loads on the CPU.
"""

from __future__ import annotations

import pytest

import sosie

torch = pytest.importorskip("torch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("tabddpm", {"max_epochs": 1, "width": 16, "depth": 1, "embedding_dim": 8}),
        ("ctgan", {"max_epochs": 1, "batch_size": 100}),
    ],
)
def test_a_cuda_model_file_loads_on_the_cpu(name, params, adult_small, tmp_path):
    gen = sosie.make_generator(name, device="cpu", verbose=False, rng=0, **params)
    gen.fit(adult_small.iloc[:600])
    gen.device = "cuda"  # as a model trained on a GPU is saved
    path = gen.save(tmp_path / "gpu.sosie")
    back = sosie.load(path)
    assert back.device == "cuda"
    out = back.sample(50, rng=1)
    assert out.shape == (50, adult_small.shape[1])
    assert (
        next(back._net.parameters() if name == "tabddpm" else back.net_.parameters()).device.type
        == "cpu"
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("tabddpm", {"max_epochs": 1, "width": 16, "depth": 1, "embedding_dim": 8}),
        ("ctgan", {"max_epochs": 1, "batch_size": 100}),
    ],
)
def test_a_model_without_nullable_columns_saves_and_loads(name, params, adult_small, tmp_path):
    # regression: the empty missing-value pattern table could not be reshaped on load
    data = adult_small[["age", "sex", "income"]].iloc[:400]
    gen = sosie.make_generator(name, verbose=False, rng=0, **params).fit(data)
    back = sosie.load(gen.save(tmp_path / "m.sosie"))
    assert back.sample(10, rng=1).equals(gen.sample(10, rng=1))
