"""CTGANGenerator: learning, native conditions, determinism, persistence, early stopping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

import sosie
from sosie.generators import get_generator
from sosie.generators.gan import CTGANGenerator, _fidelity_signal

TINY = {
    "embedding_dim": 16,
    "generator_dim": 32,
    "discriminator_dim": 32,
    "batch_size": 200,
    "max_epochs": 2,
    "holdout": 0.0,
}


@pytest.fixture(scope="module")
def real(adult_train) -> pd.DataFrame:
    return adult_train.sample(2000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def small(real) -> pd.DataFrame:
    return real.iloc[:400].reset_index(drop=True)


@pytest.fixture(scope="module")
def trained(real) -> CTGANGenerator:
    return CTGANGenerator(
        generator_dim=128,
        discriminator_dim=128,
        batch_size=500,
        max_epochs=20,
        check_every=4,
        holdout=0.1,
        patience=100,
        rng=0,
    ).fit(real)


def _tv(a: pd.Series, b: pd.Series) -> float:
    pa = a.astype(object).fillna("<NA>").value_counts(normalize=True)
    pb = b.astype(object).fillna("<NA>").value_counts(normalize=True)
    return 0.5 * pa.sub(pb, fill_value=0).abs().sum()


def test_registered():
    assert get_generator("ctgan") is CTGANGenerator


def test_training_learns(trained, real):
    hist = trained.history_
    assert len(hist) == 20 and trained.stop_reason_ == "max_epochs"
    assert np.mean([h["loss_g"] for h in hist[-3:]]) < np.mean([h["loss_g"] for h in hist[:3]])
    scores = [h["score"] for h in hist if "score" in h]
    assert max(scores[1:]) > scores[0]  # the held-out signal improves over training
    synth = trained.sample(3000, rng=0)
    gen = np.random.default_rng(0)
    ratios = []
    for col in (
        "workclass",
        "education",
        "marital_status",
        "relationship",
        "race",
        "sex",
        "income",
    ):
        cats = real[col].dropna().unique()
        uniform = pd.Series(gen.choice(cats, 3000))
        ratios.append(_tv(synth[col], real[col]) / _tv(uniform, real[col]))
    assert max(ratios) < 1.0 and np.mean(ratios) < 0.6, ratios
    assert abs(synth["age"].median() - real["age"].median()) < 8


def test_conditions_honoured_natively(trained, real):
    out = trained.sample(500, conditions={"income": ">50K"}, rng=1)
    assert (out["income"] == ">50K").all()
    two = trained.sample(500, conditions={"sex": "Female", "age": 41}, rng=2)
    assert (two["sex"] == "Female").all() and (two["age"] == 41).all()
    null = trained.sample(500, conditions={"workclass": None}, rng=3)
    assert null["workclass"].isna().all()
    # the rest of the row follows the condition (native, not only pinned): in Adult,
    # occupation is missing when workclass is
    free = trained.sample(2000, rng=3)
    assert null["occupation"].isna().mean() > 1.5 * free["occupation"].isna().mean()
    per_row = pd.DataFrame({"sex": ["Male", "Female"] * 50, "workclass": [None, "Private"] * 50})
    out = trained.sample(100, conditions=per_row, rng=4)
    assert (out["sex"] == per_row["sex"]).all()
    assert (
        out["workclass"].iloc[::2].isna().all() and (out["workclass"].iloc[1::2] == "Private").all()
    )


def test_same_rng_same_model_and_samples(small):
    a = CTGANGenerator(**TINY, rng=7).fit(small)
    b = CTGANGenerator(**TINY, rng=7).fit(small)
    pd.testing.assert_frame_equal(a.sample(300, rng=1), b.sample(300, rng=1))
    assert not a.sample(300, rng=1).equals(a.sample(300, rng=2))
    c = CTGANGenerator(**TINY, rng=8).fit(small)
    assert not c.sample(300, rng=1).equals(a.sample(300, rng=1))


def test_save_load_identical(trained, tmp_path):
    path = trained.save(tmp_path / "gan.sosie")
    loaded = sosie.load(path)
    assert isinstance(loaded, CTGANGenerator)
    pd.testing.assert_frame_equal(loaded.sample(400, rng=9), trained.sample(400, rng=9))
    cond = {"sex": "Female", "workclass": None}
    pd.testing.assert_frame_equal(
        loaded.sample(50, conditions=cond, rng=3), trained.sample(50, conditions=cond, rng=3)
    )
    assert loaded.get_params() == trained.get_params()
    assert loaded.epochs_ == trained.epochs_


def test_global_rng_untouched(small, global_rng_guard):
    gen = CTGANGenerator(**TINY, rng=3).fit(small)
    gen.sample(100)
    gen.sample(50, conditions={"workclass": None})


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 505, "pac": 10},
        {"device": "tpu"},
        {"holdout": 0.7},
        {"time_budget": -1},
        {"max_epochs": 0},
        {"learning_rate": 0},
        {"extra_condition_prob": 1.5},
        {"verbose": "yes"},
    ],
)
def test_bad_params(params, small):
    with pytest.raises(ValueError, match=next(iter(params))):
        CTGANGenerator(**params).fit(small)


def test_early_stopping_stops_on_stalled_signal(real):
    gen = CTGANGenerator(
        **{**TINY, "holdout": 0.2, "max_epochs": 200},
        check_every=1,
        patience=1,
        learning_rate=1e-7,  # practically frozen: the held-out signal cannot improve
        rng=0,
    ).fit(real.iloc[:600])
    assert gen.stop_reason_ == "early_stopping"
    assert gen.epochs_ <= 3


def test_time_budget_is_a_hard_cap(real):
    gen = CTGANGenerator(**{**TINY, "max_epochs": 10_000}, time_budget=0.5, rng=0).fit(real)
    assert gen.stop_reason_ == "time_budget"
    assert gen.fit_seconds_ < 10


def test_verbose_progress_bar(small, capsys):
    CTGANGenerator(**{**TINY, "max_epochs": 1}, verbose=True, rng=0).fit(small)
    shown = capsys.readouterr()
    assert "CTGAN" in shown.out + shown.err and "G " in shown.out + shown.err
    CTGANGenerator(**{**TINY, "max_epochs": 1}, verbose=False, rng=0).fit(small)
    silent = capsys.readouterr()
    assert silent.out == "" and silent.err == ""


def test_fidelity_signal_ranks_closer_tables_higher():
    gen = np.random.default_rng(0)
    real = np.column_stack([gen.normal(size=800), gen.integers(0, 3, 800)]).astype(float)
    same = np.column_stack([gen.normal(size=800), gen.integers(0, 3, 800)]).astype(float)
    off = np.column_stack([gen.normal(2, 1, 800), np.zeros(800)])
    disc = np.array([False, True])
    assert _fidelity_signal(real, same, disc) > _fidelity_signal(real, off, disc) + 0.3
