"""The privacy ledger never reports less than was spent and never lets a step cross the budget."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sosie.errors import BudgetExceededError
from sosie.generators.dp.aim import aim_round_costs
from sosie.generators.dp.mst import mst_budget
from sosie.privacy import LedgerEntry, PrivacyLedger, zcdp_to_epsilon

pytest.importorskip("dp_accounting")


@settings(max_examples=40, deadline=None)
@given(
    epsilon=st.floats(0.05, 20.0),
    shares=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=25),
)
def test_totals_are_exact_monotone_and_within_the_target(epsilon, shares):
    # Setup: split the whole budget in the given proportions
    ledger = PrivacyLedger(epsilon=epsilon, delta=1e-6)
    costs = [ledger.rho_budget * s / math.fsum(shares) for s in shares]
    previous_eps = 0.0
    for i, rho in enumerate(costs):
        # Run
        ledger.spend(rho, mechanism="gaussian", measured=f"step {i}", sigma=1.0)
        # Assert: never less than spent, never more than the target
        assert ledger.rho_spent == pytest.approx(math.fsum(costs[: i + 1]), rel=1e-12)
        assert ledger.rho_spent >= max(costs[: i + 1])
        assert ledger.epsilon_spent >= previous_eps
        assert ledger.epsilon_spent >= zcdp_to_epsilon(rho, 1e-6)  # >= any single step
        assert ledger.epsilon_spent <= epsilon
        previous_eps = ledger.epsilon_spent
    assert ledger.epsilon_spent == pytest.approx(epsilon, rel=1e-3)  # all of it was used


@settings(max_examples=30, deadline=None)
@given(epsilon=st.floats(0.05, 20.0), over=st.floats(1e-6, 2.0))
def test_a_step_over_budget_is_refused_and_not_recorded(epsilon, over):
    ledger = PrivacyLedger(epsilon=epsilon, delta=1e-6)
    ledger.spend(ledger.rho_budget / 2, mechanism="gaussian", measured="half")
    before = (ledger.rho_spent, len(ledger))
    with pytest.raises(BudgetExceededError):
        ledger.spend(ledger.rho_budget * (0.5 + over), mechanism="gaussian", measured="too much")
    assert (ledger.rho_spent, len(ledger)) == before


@settings(max_examples=40, deadline=None)
@given(rho=st.floats(1e-6, 100.0), d=st.integers(1, 200))
def test_mst_split_spends_at_most_rho(rho, d):
    b = mst_budget(rho, d)
    spent = math.fsum([d * b["one_way"], (d - 1) * b["select"], (d - 1) * b["two_way"]])
    assert spent <= rho * (1 + 1e-12)
    assert spent == pytest.approx(rho, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(rho=st.floats(1e-6, 100.0), d=st.integers(1, 100), extra=st.integers(1, 2000))
def test_aim_plan_leaves_budget_for_its_rounds(rho, d, extra):
    # the d one-way measurements plus one round fit in the budget, whatever the plan
    T = d + extra
    c = aim_round_costs(rho, d, T)
    one_ways = d / (2 * c["sigma"] ** 2)
    one_round = 1 / (2 * c["sigma"] ** 2) + c["epsilon"] ** 2 / 8
    assert one_ways + one_round <= rho * (1 + 1e-12)
    assert one_round == pytest.approx(rho / T, rel=1e-9)


def test_json_round_trip_and_infinite_budget():
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    ledger.noise_source = "test"
    ledger.spend(0.001, mechanism="exponential", measured="a choice", epsilon=0.09, chosen=["a"])
    d = ledger.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = PrivacyLedger.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert back.entries[0] == LedgerEntry(
        "exponential", "a choice", 0.001, d["steps"][0]["details"]
    )
    free = PrivacyLedger(epsilon=math.inf, delta=1e-6)
    free.spend(math.inf, mechanism="gaussian", measured="exact counts", sigma=0.0)
    d = free.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["spent"]["epsilon"] == "inf"
    assert PrivacyLedger.from_dict(d).epsilon_spent == math.inf


def test_bad_costs_are_refused():
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    with pytest.raises(ValueError, match="rho"):
        ledger.spend(-0.1, mechanism="gaussian", measured="x")
    with pytest.raises(ValueError, match="rho"):
        ledger.spend(float("nan"), mechanism="gaussian", measured="x")
    assert ledger.epsilon_spent == 0.0 and ledger.delta_spent == 0.0
