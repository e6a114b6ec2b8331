"""generator="auto": the family follows the measured trade-off and the time budget."""

from __future__ import annotations

import pytest

import sosie
from sosie.errors import SchemaError
from sosie.generators.auto import choose_family


def test_budget_decides_the_family():
    assert choose_family(32_561, 18, 60)["name"] == "arf"
    assert choose_family(32_561, 18, 5)["name"] == "gaussian_copula"
    assert choose_family(10_000_000, 50, 600)["name"] == "gaussian_copula"
    choice = choose_family(1000, 10, 60)
    assert "detection AUC" in choice["reason"] and choice["predicted_fit_seconds"] < 60


def test_auto_is_the_chosen_family(adult_small, tmp_path):
    gen = sosie.make_generator("auto", time_budget=60, rng=0).fit(adult_small)
    assert gen.choice_["name"] == "arf" and isinstance(gen.chosen_, sosie.ARFGenerator)
    assert gen.schema_ is gen.chosen_.schema_
    out = gen.sample(200, conditions={"income": ">50K"}, rng=1)
    assert (out["income"] == ">50K").all()
    path = gen.save(tmp_path / "auto.sosie")
    loaded = sosie.load(path)
    assert isinstance(loaded, sosie.ARFGenerator)
    assert loaded.sample(50, rng=2).equals(gen.sample(50, rng=2))


def test_bad_budget():
    with pytest.raises(SchemaError, match="time_budget"):
        sosie.make_generator("auto", time_budget=0).fit(None)
