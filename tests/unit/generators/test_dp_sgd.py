"""dp_tabddpm and dp_ctgan: DP-SGD (opacus) on real Adult rows with a public schema.

It learns without noise and is hurt by a lot of it, spends exactly what its ledger says
(checked against an independent accountant), stops before exceeding the budget, takes nothing
from the rows outside the budget, refuses inferred facts and seeds in secure mode, and is
reproducible, persistent and conditional like every generator.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.datasets import adult_public_schema
from sosie.errors import PrivacyError, SosieWarning

pytest.importorskip("torch")
pytest.importorskip("opacus")
dpa = pytest.importorskip("dp_accounting")

from sosie.generators import get_generator  # noqa: E402
from sosie.privacy._accounting import RDP_ORDERS, rdp_epsilon  # noqa: E402

COLS = ["age", "workclass", "education_num", "sex", "hours_per_week", "income"]
FAST = {
    "dp_tabddpm": {"batch_size": 256, "width": 64, "embedding_dim": 32, "num_timesteps": 200,
                   "sample_steps": 20, "verbose": False},
    "dp_ctgan": {"batch_size": 500, "embedding_dim": 32, "generator_dim": 64,
                 "discriminator_dim": 64},
}  # fmt: skip
BOTH = pytest.mark.parametrize("name", sorted(FAST))


@pytest.fixture(scope="module")
def real(adult_train) -> pd.DataFrame:
    return adult_train[COLS].sample(3000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def schema():
    return adult_public_schema().select(COLS)


def _fit(data, schema, name="dp_tabddpm", **params):
    gen = get_generator(name)(**{"delta": 1e-6, "max_epochs": 10, **FAST[name], **params})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen.fit(data, schema=schema)
    gen.test_warnings_ = [w for w in caught if issubclass(w.category, SosieWarning)]
    return gen


@pytest.fixture(scope="module")
def clean(real, schema):
    return _fit(real, schema, epsilon=math.inf, rng=0)


_MID: dict[str, object] = {}


@pytest.fixture
def mid(request, real, schema):
    """A model at epsilon 3 of the test's generator (``name``), fitted once per module."""
    name = request.getfixturevalue("name")
    if name not in _MID:
        _MID[name] = _fit(real, schema, name, epsilon=3.0, rng=0)
    return _MID[name]


def _tvd(a: pd.Series, b: pd.Series) -> float:
    pa = a.value_counts(normalize=True, dropna=False)
    pb = b.value_counts(normalize=True, dropna=False)
    return 0.5 * float(pa.sub(pb, fill_value=0).abs().sum())


# -- learning ----------------------------------------------------------------------------------
def test_learns_without_noise_and_heavy_noise_hurts(clean, real, schema):
    s = clean.sample(3000, rng=1)
    for col, tol in (("sex", 0.1), ("income", 0.12), ("workclass", 0.15)):
        assert _tvd(s[col], real[col]) < tol, col
    assert abs(s["workclass"].isna().mean() - real["workclass"].isna().mean()) < 0.03
    noisy = _fit(real, schema, epsilon=0.05, rng=0)
    assert noisy.noise_multiplier_ > 20
    t = noisy.sample(3000, rng=1)
    assert _tvd(t["income"], real["income"]) > _tvd(s["income"], real["income"]) + 0.05


def test_number_ranges_come_from_the_public_bounds_only(real, schema):
    # the rows only hold ages 25..50; the model's range is the public 17..90 all the same
    narrow = real[real["age"].between(25, 50)].reset_index(drop=True)
    gen = _fit(narrow, schema, epsilon=1.0, max_epochs=1, rng=0)
    k = [gen.preprocessor_.model_columns[j].source for j in gen.num_idx_].index("age")
    assert gen.quantiles_[0, k] == 17.0 and gen.quantiles_[-1, k] == 90.0
    assert gen.loss_history_ == [] and gen.fingerprint_["sha256"] is None


@pytest.mark.slow
def test_dp_ctgan_learns_without_noise_and_heavy_noise_hurts(real, schema):
    clean = _fit(real, schema, "dp_ctgan", epsilon=math.inf, max_epochs=20, rng=0)
    s = clean.sample(3000, rng=1)
    for col, tol in (("sex", 0.06), ("income", 0.08), ("workclass", 0.25)):
        assert _tvd(s[col], real[col]) < tol, col
    assert clean.history_ == [] and clean.fingerprint_["sha256"] is None
    noisy = _fit(real, schema, "dp_ctgan", epsilon=0.05, max_epochs=20, rng=0)
    t = noisy.sample(3000, rng=1)
    assert noisy.noise_multiplier_ > 20

    def total(df):
        return sum(_tvd(df[c], real[c]) for c in ("sex", "income", "workclass"))

    assert total(t) > total(s) + 0.05


def _weights(gen) -> dict[str, np.ndarray]:
    net = gen._net if hasattr(gen, "_net") else gen.net_
    return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}


#: histograms measured on COLS: numbers (+ categories for dp_ctgan) + the null patterns
N_HIST = {"dp_tabddpm": 3 + 1, "dp_ctgan": 3 + 3 + 1}
MODULE = {"dp_tabddpm": "diffusion", "dp_ctgan": "gan"}


# -- the budget ----------------------------------------------------------------------------------
@BOTH
def test_the_ledger_matches_an_independent_accountant(name, mid):
    spent = mid.privacy_spent_
    assert spent["spent"]["epsilon"] <= 3.0
    assert "RDP" in spent["accountant"]
    steps = spent["steps"]
    hist = [s for s in steps if s["mechanism"] == "gaussian"]
    sgd = [s for s in steps if s["rho"] is None]
    assert len(hist) == N_HIST[name]
    assert len(sgd) == 1 and sgd[0]["details"]["steps"] == mid.epochs_ * round(1 / mid.sample_rate_)
    from dp_accounting.rdp import rdp_privacy_accountant as rdp

    acc = rdp.RdpAccountant(orders=list(RDP_ORDERS))
    d = sgd[0]["details"]
    event = dpa.PoissonSampledDpEvent(d["sample_rate"], dpa.GaussianDpEvent(d["noise_multiplier"]))
    acc.compose(event, d["steps"])
    acc.compose(dpa.ZCDpEvent(sum(s["rho"] for s in hist)))
    assert spent["spent"]["epsilon"] == pytest.approx(acc.get_epsilon(1e-6), rel=2e-3)
    # the noise is calibrated to the target: 1% less would overshoot it
    rho = sum(s["rho"] for s in hist)
    less = [(d["noise_multiplier"] * 0.99, d["sample_rate"], d["steps"])]
    assert rdp_epsilon(less, 1e-6, rho=rho) > 3.0


@BOTH
def test_training_stops_before_the_budget_is_exceeded(name, real, schema, monkeypatch):
    import importlib

    mod = importlib.import_module(f"sosie.generators.dp.{MODULE[name]}")
    real_calibration = mod.sgd_noise_multiplier
    # a miscalibrated noise (too small for the planned epochs): the ledger must stop training
    monkeypatch.setattr(mod, "sgd_noise_multiplier", lambda *a, **k: real_calibration(*a, **k) / 2)
    gen = _fit(real, schema, name, epsilon=1.0, max_epochs=10, rng=0)
    assert gen.stop_reason_ == "privacy_budget"
    assert 0 < gen.epochs_ < 10
    assert gen.privacy_spent_["spent"]["epsilon"] <= 1.0


@BOTH
def test_a_time_budget_spends_only_the_epochs_it_ran(name, real, schema):
    gen = _fit(real, schema, name, epsilon=1.0, max_epochs=50, time_budget=0.01, rng=0)
    assert gen.stop_reason_ == "time_budget" and gen.epochs_ == 1
    assert gen.privacy_spent_["spent"]["epsilon"] < 0.5


# -- refusals --------------------------------------------------------------------------------------
@BOTH
def test_inferred_facts_and_missing_budgets_are_refused(name, real):
    cls = get_generator(name)
    with pytest.raises(PrivacyError) as e:
        cls(epsilon=1.0, delta=1e-6, **FAST[name]).fit(real)
    where = [p.where for p in e.value.errors]
    assert "column 'age'" in where and "column 'sex'" in where
    assert "schema.update(" in str(e.value)
    with pytest.raises(TypeError, match="epsilon"):
        cls(delta=1e-6)
    with pytest.raises(PrivacyError, match="rng"):
        cls(epsilon=1.0, delta=1e-6, secure_mode=True, rng=0).fit(real)


@BOTH
def test_secure_mode_draws_fresh_noise_and_does_not_warn(name, real, schema):
    a = _fit(real, schema, name, epsilon=1.0, max_epochs=1, secure_mode=True)
    b = _fit(real, schema, name, epsilon=1.0, max_epochs=1, secure_mode=True)
    assert a.test_warnings_ == [] and "os.urandom" in a.privacy_spent_["noise_source"]
    wa, wb = _weights(a), _weights(b)
    assert any(not np.array_equal(wa[k], wb[k]) for k in wa)


# -- the generator contract --------------------------------------------------------------------
@BOTH
def test_seeded_noise_warns_once_and_the_same_seed_gives_the_same_model(name, mid, real, schema):
    assert len(mid.test_warnings_) == 1 and "seeded PRNG" in str(mid.test_warnings_[0].message)
    again = _fit(real, schema, name, epsilon=3.0, rng=0)
    wa, wb = _weights(mid), _weights(again)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    pd.testing.assert_frame_equal(mid.sample(50, rng=3), again.sample(50, rng=3))


@BOTH
def test_save_load_identical(name, mid, tmp_path):
    path = mid.save(tmp_path / "m.sosie")
    back = sosie.load(path)
    pd.testing.assert_frame_equal(mid.sample(100, rng=5), back.sample(100, rng=5))
    assert back.privacy_spent_ == mid.privacy_spent_
    assert back.privacy_ledger_.epsilon_spent == pytest.approx(mid.privacy_ledger_.epsilon_spent)


@BOTH
def test_conditions_are_native(name, mid):
    rich = mid.sample(200, conditions={"income": ">50K"}, rng=2)
    assert (rich["income"] == ">50K").all()
    missing = mid.sample(100, conditions={"workclass": None}, rng=2)
    assert missing["workclass"].isna().all()


@BOTH
def test_a_table_without_nullable_columns_saves_and_loads(name, real, schema, tmp_path):
    cols = ["age", "sex", "income"]
    gen = _fit(real[cols], schema.select(cols), name, epsilon=1.0, max_epochs=1, rng=0)
    assert gen.privacy_spent_["steps"][0]["measured"] == "the row count"
    back = sosie.load(gen.save(tmp_path / "m.sosie"))
    pd.testing.assert_frame_equal(gen.sample(20, rng=1), back.sample(20, rng=1))
