"""Gaussian copula: marginals, dependence, nulls and exact conditioning, checked on known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sosie.generators import GaussianCopulaGenerator
from sosie.generators._marginal import Marginal, fit_marginal
from sosie.generators.copula import _truncnorm


# -- marginals -------------------------------------------------------------------------------
def test_marginal_atoms_and_intervals():
    m = fit_marginal(np.array([0, 0, 0, 1, 2, 2, 2, 2], dtype=float), discrete=True)
    assert m.ppf(np.array([0.0, 0.2, 0.374, 0.376, 0.49, 0.51, 0.99])).tolist() == [
        0,
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    lo, hi = m.interval(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(lo, [0.0, 0.375, 0.5], atol=1e-9)
    np.testing.assert_allclose(hi, [0.375, 0.5, 1.0], atol=1e-9)


def test_marginal_continuous_with_zero_inflation():
    rng = np.random.default_rng(0)
    x = np.where(rng.random(20000) < 0.6, 0.0, rng.lognormal(3, 1, 20000))
    m = fit_marginal(x, discrete=False)
    assert not m.atomic
    draws = m.ppf_z(rng.standard_normal(50000))
    assert abs((draws == 0).mean() - 0.6) < 0.01  # the atom keeps its mass
    assert stats.ks_2samp(draws[draws > 0], x[x > 0]).statistic < 0.02
    lo, hi = m.interval(np.array([0.0]))
    assert hi[0] - lo[0] == pytest.approx((x == 0).mean(), abs=1e-9)


@pytest.mark.parametrize(
    ("family", "make"),
    [
        ("norm", lambda r: r.normal(10, 2, 5000)),
        ("lognorm", lambda r: r.lognormal(1, 0.8, 5000)),
        ("uniform", lambda r: r.uniform(-3, 7, 5000)),
    ],
)
def test_parametric_marginal_picks_the_true_family(family, make):
    x = make(np.random.default_rng(1))
    m = fit_marginal(x, discrete=False, family="parametric")
    assert m.family == family


def test_truncated_normal_sampler_matches_scipy():
    rng = np.random.default_rng(0)
    n = 40000
    for a, b in [(-1.0, 0.5), (2.5, 6.0), (-7.0, -4.0)]:
        draws = _truncnorm(np.zeros(n), np.ones(n), np.full(n, a), np.full(n, b), rng)
        assert draws.min() >= a and draws.max() <= b
        assert stats.kstest(draws, stats.truncnorm(a, b).cdf).pvalue > 1e-3


def test_marginal_handles_single_value():
    m = Marginal(np.array([0.0, 1.0]), np.array([5.0, 5.0]))
    assert m.ppf_z(np.array([-3.0, 0.0, 3.0])).tolist() == [5.0, 5.0, 5.0]


# -- dependence -----------------------------------------------------------------------------
def test_recovers_gaussian_correlation():
    rng = np.random.default_rng(0)
    cov = [[1, 0.7, -0.3], [0.7, 1, 0.0], [-0.3, 0.0, 1]]
    x = rng.multivariate_normal([0, 0, 0], cov, size=20000)
    df = pd.DataFrame({"a": np.exp(x[:, 0]), "b": x[:, 1] * 5 + 3, "c": x[:, 2] ** 3})
    gen = GaussianCopulaGenerator(rng=0).fit(df)
    np.testing.assert_allclose(gen.corr_, cov, atol=0.03)
    s = gen.sample(20000, rng=1)
    rho_real = stats.spearmanr(df).statistic
    rho_syn = stats.spearmanr(s).statistic
    np.testing.assert_allclose(rho_syn, rho_real, atol=0.03)


def test_discrete_latent_correlation_is_not_attenuated():
    # binary and 4-level variables thresholded from a latent Gaussian with rho = 0.6
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=30000)
    df = pd.DataFrame(
        {
            "flag": np.where(z[:, 0] > 0.8, "yes", "no"),
            "level": pd.cut(
                z[:, 1], [-np.inf, -1, 0, 1, np.inf], labels=["a", "b", "c", "d"]
            ).astype(str),
        }
    )
    gen = GaussianCopulaGenerator(rng=0).fit(df)
    # categories are ordered by frequency, so the sign of the latent correlation is arbitrary
    assert abs(gen.corr_[0, 1]) == pytest.approx(0.6, abs=0.08)
    s = gen.sample(30000, rng=3)
    real = pd.crosstab(df.flag, df.level, normalize=True)
    syn = pd.crosstab(s.flag, s.level, normalize=True)
    assert (real - syn).abs().to_numpy().max() < 0.02


# -- on real data ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adult_model(adult_train):
    return GaussianCopulaGenerator(rng=0).fit(adult_train)


def test_adult_marginals_and_types(adult_model, adult_train):
    s = adult_model.sample(len(adult_train), rng=1)
    assert list(s.columns) == list(adult_train.columns)
    assert s.dtypes.equals(adult_train.dtypes)
    for col in ("age", "fnlwgt", "hours_per_week", "education_num"):
        assert stats.ks_2samp(s[col], adult_train[col]).statistic < 0.03, col
    for col in ("workclass", "education", "income", "race", "native_country"):
        p = adult_train[col].value_counts(normalize=True, dropna=False)
        q = s[col].value_counts(normalize=True, dropna=False).reindex(p.index, fill_value=0)
        assert 0.5 * (p - q).abs().sum() < 0.03, col  # total variation distance
    assert s["age"].between(17, 90).all()
    assert set(s["income"].unique()) <= {"<=50K", ">50K"}


def test_adult_nulls_depend_on_other_columns(adult_model, adult_train):
    s = adult_model.sample(40000, rng=2)
    share = s["workclass"].isna().mean()
    assert share == pytest.approx(adult_train["workclass"].isna().mean(), abs=0.01)
    # occupation is missing whenever workclass is: the dependence survives
    assert s.loc[s["workclass"].isna(), "occupation"].isna().mean() > 0.85
    assert s.loc[s["workclass"].notna(), "occupation"].isna().mean() < 0.01


def test_adult_conditions_are_exact_and_shift_the_rest(adult_model, adult_train):
    s = adult_model.sample(4000, conditions={"income": ">50K"}, rng=3)
    assert (s["income"] == ">50K").all()
    rich = adult_train[adult_train["income"] == ">50K"]
    # conditioning moves related columns in the right direction
    assert s["age"].mean() == pytest.approx(rich["age"].mean(), abs=2.0)
    assert s["education_num"].mean() > adult_train["education_num"].mean() + 0.8
    both = adult_model.sample(
        1000, conditions={"income": ">50K", "sex": "Female", "age": 40}, rng=4
    )
    assert (both["income"] == ">50K").all() and (both["sex"] == "Female").all()
    assert (both["age"] == 40).all()
    nulls = adult_model.sample(500, conditions={"occupation": None}, rng=5)
    assert nulls["occupation"].isna().all()
    assert nulls["workclass"].isna().mean() > 0.8


def test_per_row_conditions(adult_model):
    cond = pd.DataFrame({"sex": ["Male", "Female"] * 50, "income": [">50K"] * 50 + ["<=50K"] * 50})
    s = adult_model.sample(100, conditions=cond, rng=6)
    assert s["sex"].tolist() == cond["sex"].tolist()
    assert s["income"].tolist() == cond["income"].tolist()


def test_parametric_option_runs_on_adult(adult_small):
    gen = GaussianCopulaGenerator(marginals={"fnlwgt": "parametric"}, rng=0).fit(adult_small)
    fams = gen.marginal_families()
    assert fams["fnlwgt"] in ("norm", "lognorm", "gamma", "beta", "uniform", "truncnorm")
    assert fams["age"] == "empirical"
    s = gen.sample(3000, rng=0)
    assert stats.ks_2samp(s["fnlwgt"], adult_small["fnlwgt"]).statistic < 0.08


def test_rejects_bad_parameters(adult_small):
    from sosie.errors import SchemaError

    with pytest.raises(SchemaError, match="marginals"):
        GaussianCopulaGenerator(marginals="weibull").fit(adult_small)
    with pytest.raises(ValueError, match="n_knots"):
        GaussianCopulaGenerator(n_knots=1).fit(adult_small)
