"""The .sosie file: JSON + .npy + safetensors, no pickle, atomic."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie._serial import read_model_file, write_model_file
from sosie.generators.base import Generator


class TinyNet(Generator):
    """A generator whose state carries network-style weights (stored with safetensors)."""

    def __init__(self, *, rng=None):
        self.rng = rng

    def _fit(self, X, rng):
        self.w_ = rng.normal(size=(X.shape[1], 4)).astype(np.float32)
        self.mean_ = np.nanmean(X, axis=0)

    def _sample(self, n_rows, conditions, rng):
        return np.tile(self.mean_, (n_rows, 1)) + 0 * rng.random((n_rows, 1))

    def _state_dict(self):
        return {"mean": self.mean_, "safetensors": {"layer.weight": self.w_}}

    def _load_state_dict(self, state):
        self.mean_ = state["mean"]
        self.w_ = state["safetensors"]["layer.weight"]


@pytest.fixture
def tiny_registered():
    from sosie.generators import registry

    registry.register("tiny_net_test", replace=True)(TinyNet)
    yield
    registry.unregister("tiny_net_test")


def test_weights_go_to_safetensors(tmp_path, tiny_registered):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.25, 0.125]})
    gen = TinyNet(rng=0).fit(df)
    path = gen.save(tmp_path / "m.sosie")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert "weights.safetensors" in names
        assert not any(n.endswith((".pkl", ".pickle", ".pt")) for n in names)
    loaded = sosie.load(path)
    np.testing.assert_array_equal(loaded.w_, gen.w_)
    assert loaded.w_.dtype == np.float32


def test_torch_tensors_are_saved_from_cpu_copies(tmp_path):
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    write_model_file(tmp_path / "t.sosie", {"generator": "x"}, {"model": {"safetensors": {"w": t}}})
    _, state = read_model_file(tmp_path / "t.sosie")
    np.testing.assert_array_equal(state["model"]["safetensors"]["w"], t.numpy())


def test_non_finite_floats_and_string_arrays_round_trip(tmp_path):
    state = {
        "model": {"x": float("inf"), "y": float("nan"), "names": np.array(["a", "b"], dtype=object)}
    }
    write_model_file(tmp_path / "s.sosie", {"generator": "x"}, state)
    _, back = read_model_file(tmp_path / "s.sosie")
    assert back["model"]["x"] == float("inf") and np.isnan(back["model"]["y"])
    assert back["model"]["names"].tolist() == ["a", "b"]


def test_failed_save_leaves_nothing(tmp_path):
    class Unsaveable:
        pass

    with pytest.raises(TypeError):
        write_model_file(
            tmp_path / "bad.sosie", {"generator": "x"}, {"model": {"obj": Unsaveable()}}
        )
    assert list(tmp_path.iterdir()) == []
