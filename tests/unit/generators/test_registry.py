"""Registry and plugins: entry points load, broken plugins warn and never crash."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.errors import SosieWarning, UnknownGeneratorError
from sosie.generators import registry
from sosie.generators.base import Generator


class IndependentColumns(Generator):
    """A toy plugin: every column drawn independently from its training values."""

    def __init__(self, *, rng=None):
        self.rng = rng

    def _fit(self, X, rng):
        self.columns_ = [X[:, j][~np.isnan(X[:, j])] for j in range(X.shape[1])]

    def _sample(self, n_rows, conditions, rng):
        out = np.column_stack([rng.choice(c, size=n_rows) for c in self.columns_])
        return out

    def _state_dict(self):
        return {"columns": list(self.columns_)}

    def _load_state_dict(self, state):
        self.columns_ = [np.asarray(c) for c in state["columns"]]


@pytest.fixture
def plugin_env(monkeypatch):
    mod = types.ModuleType("sosie_test_plugin")
    mod.IndependentColumns = IndependentColumns
    mod.NotAGenerator = object
    monkeypatch.setitem(sys.modules, "sosie_test_plugin", mod)
    eps = [
        EntryPoint(
            "independent_columns",
            "sosie_test_plugin:IndependentColumns",
            registry.ENTRY_POINT_GROUP,
        ),
        EntryPoint("broken_plugin", "sosie_no_such_module:Thing", registry.ENTRY_POINT_GROUP),
        EntryPoint("wrong_type", "sosie_test_plugin:NotAGenerator", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(
        registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else []
    )
    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    yield
    for name in ("independent_columns", "broken_plugin", "wrong_type"):
        registry.unregister(name)
    registry._PLUGINS_LOADED = False


def test_plugins_load_and_broken_ones_warn(plugin_env, tmp_path):
    with pytest.warns(SosieWarning) as record:
        names = sosie.list_generators()
    messages = " ".join(str(w.message) for w in record)
    assert "broken_plugin" in messages and "wrong_type" in messages
    assert "independent_columns" in names and "broken_plugin" not in names
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", "z"]})
    gen = sosie.make_generator("independent_columns", rng=0).fit(df)
    out = gen.sample(20)
    assert set(out["b"]) <= {"x", "y", "z"}
    path = tmp_path / "p.sosie"
    gen.save(path)
    pd.testing.assert_frame_equal(sosie.load(path).sample(10, rng=1), gen.sample(10, rng=1))


def test_unknown_name_suggests():
    with pytest.raises(UnknownGeneratorError, match="did you mean 'gaussian_copula'"):
        sosie.get_generator("gaussian_copla")


def test_names_must_be_snake_case():
    with pytest.raises(ValueError, match="snake_case"):
        registry.register("BadName")


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("gaussian_copula")(IndependentColumns)


def test_load_via_wrong_class_is_refused(tmp_path, adult_small):
    from sosie.errors import ModelFileError

    path = tmp_path / "m.sosie"
    sosie.GaussianCopulaGenerator(rng=0).fit(adult_small).save(path)
    with pytest.raises(ModelFileError, match="expected a IndependentColumns"):
        IndependentColumns.load(path)


def test_not_fitted_errors():
    from sosie.errors import NotFittedError

    gen = sosie.GaussianCopulaGenerator()
    with pytest.raises(NotFittedError, match="fit"):
        gen.sample(3)
    with pytest.raises(NotFittedError):
        gen.save("never.sosie")


def test_repr_and_params():
    gen = sosie.GaussianCopulaGenerator(max_atoms=10, rng=3)
    assert repr(gen) == "GaussianCopulaGenerator(max_atoms=10, rng=3)"
    assert gen.get_params()["max_atoms"] == 10
