"""zCDP <-> (epsilon, delta): known answers computed independently, and the safe direction always."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from sosie.errors import PrivacyError
from sosie.privacy import (
    check_epsilon_delta,
    epsilon_delta_to_zcdp,
    exponential_epsilon,
    gaussian_sigma,
    zcdp_to_delta,
    zcdp_to_epsilon,
)

pytest.importorskip("dp_accounting")


# -- independent references (not the code under test) ------------------------------------------
def cks_epsilon(rho: float, delta: float) -> float:
    """Canonne, Kamath & Steinke (2020), Prop. 12, minimised over a *continuous* order alpha."""

    def eps(t: float) -> float:  # alpha = 1 + e^t
        a = 1 + math.exp(t)
        return a * rho + (math.log(1 / delta) + (a - 1) * math.log1p(-1 / a) - math.log(a)) / (
            a - 1
        )

    grid = np.linspace(-12, 18, 3001)
    t0 = grid[int(np.argmin([eps(t) for t in grid]))]
    res = optimize.minimize_scalar(eps, bounds=(t0 - 0.02, t0 + 0.02), method="bounded")
    return max(0.0, float(res.fun))


def exact_gaussian_delta(sigma: float, eps: float) -> float:
    """The Gaussian mechanism's exact delta(eps), sensitivity 1 (Balle & Wang 2018, Thm. 8)."""
    return float(
        stats.norm.cdf(1 / (2 * sigma) - eps * sigma)
        - math.exp(eps) * stats.norm.cdf(-1 / (2 * sigma) - eps * sigma)
    )


# Literal values of the continuous optimum above (computed once with cks_epsilon, checked against
# the closed-form bound rho + 2 sqrt(rho log(1/delta)) which they must not exceed).
KNOWN = [
    # rho, delta, epsilon
    (0.1, 1e-6, 2.14194),
    (0.5, 1e-5, 4.72839),
    (0.01, 1e-9, 0.81017),
    (2.0, 1e-6, 11.68860),
]


@pytest.mark.parametrize(("rho", "delta", "expected"), KNOWN)
def test_zcdp_to_epsilon_known_answers(rho, delta, expected):
    assert cks_epsilon(rho, delta) == pytest.approx(expected, abs=2e-5)  # the reference itself
    got = zcdp_to_epsilon(rho, delta)
    assert got >= expected - 1e-5  # a grid of orders can only be more conservative
    assert got == pytest.approx(expected, rel=1e-3)
    assert got <= rho + 2 * math.sqrt(rho * math.log(1 / delta))  # Bun & Steinke, Prop. 1.3


def test_epsilon_delta_to_zcdp_known_answer():
    # epsilon = 1, delta = 1e-6: rho solves cks_epsilon(rho) = 1
    rho_ref = optimize.brentq(lambda r: cks_epsilon(r, 1e-6) - 1.0, 1e-4, 1.0, xtol=1e-12)
    rho = epsilon_delta_to_zcdp(1.0, 1e-6)
    assert rho <= rho_ref * (1 + 1e-6)
    assert rho == pytest.approx(rho_ref, rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    sigma=st.floats(0.3, 200.0),
    log10_delta=st.floats(-12, -2),
)
def test_never_reports_less_than_the_exact_gaussian_mechanism(sigma, log10_delta):
    # a Gaussian with sensitivity 1 and noise sigma is rho = 1/(2 sigma^2)-zCDP; its exact
    # privacy curve must hold at the epsilon we report (else we would under-report)
    delta = 10.0**log10_delta
    eps = zcdp_to_epsilon(1 / (2 * sigma**2), delta)
    assert exact_gaussian_delta(sigma, eps) <= delta * (1 + 1e-9) + 1e-300


@settings(max_examples=40, deadline=None)
@given(
    epsilon=st.floats(0.01, 50.0),
    log10_delta=st.floats(-12, -2),
)
def test_calibrated_budget_never_overshoots_the_target(epsilon, log10_delta):
    delta = 10.0**log10_delta
    rho = epsilon_delta_to_zcdp(epsilon, delta)
    got = zcdp_to_epsilon(rho, delta)
    assert got <= epsilon
    assert got >= epsilon * (1 - 1e-3)  # and wastes (almost) nothing
    assert zcdp_to_delta(rho, epsilon) <= delta * (1 + 1e-6)


@settings(max_examples=30, deadline=None)
@given(rho=st.floats(1e-6, 10.0), log10_delta=st.floats(-12, -2))
def test_epsilon_is_monotone_in_rho(rho, log10_delta):
    delta = 10.0**log10_delta
    assert zcdp_to_epsilon(rho, delta) <= zcdp_to_epsilon(rho * 1.01, delta)


def test_mechanism_parameters_spend_exactly_rho():
    sigma = gaussian_sigma(0.02, sensitivity=2.0)
    assert 2.0**2 / (2 * sigma**2) == pytest.approx(0.02)
    eps = exponential_epsilon(0.02)
    assert eps**2 / 8 == pytest.approx(0.02)
    assert gaussian_sigma(0.0) == math.inf and gaussian_sigma(math.inf) == 0.0


def test_infinite_epsilon_is_no_privacy():
    assert epsilon_delta_to_zcdp(math.inf, 1e-6) == math.inf
    assert zcdp_to_epsilon(math.inf, 1e-6) == math.inf
    assert zcdp_to_epsilon(0.0, 1e-6) == 0.0


@pytest.mark.parametrize(
    ("epsilon", "delta", "where"),
    [
        (None, 1e-6, ["parameter 'epsilon'"]),
        (0.0, 1e-6, ["parameter 'epsilon'"]),
        (-1, 0.0, ["parameter 'epsilon'", "parameter 'delta'"]),
        (1.0, 1.0, ["parameter 'delta'"]),
        ("1", 1e-6, ["parameter 'epsilon'"]),
        (True, 1e-6, ["parameter 'epsilon'"]),
        (1.0, float("nan"), ["parameter 'delta'"]),
    ],
)
def test_bad_budgets_are_refused_with_every_problem(epsilon, delta, where):
    with pytest.raises(PrivacyError) as e:
        check_epsilon_delta(epsilon, delta)
    assert [p.where for p in e.value.errors] == where
    assert "fix:" in str(e.value)
