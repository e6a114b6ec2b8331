"""Conversions between zero-concentrated DP (zCDP) and (epsilon, delta)-DP.

The marginal-based generators account in zCDP (Bun & Steinke 2016): a Gaussian
measurement of L2 sensitivity ``Δ`` with noise ``σ`` costs ``ρ = Δ² / (2σ²)``, an
exponential-mechanism selection with parameter ``ε`` costs ``ρ = ε² / 8``
(Cesar & Rogers 2021), and costs add up. The conversion to and from
(epsilon, delta) is not hand-rolled: it is Google's ``dp-accounting`` RDP
accountant (the ``dp`` extra), which composes ``ZCDpEvent(ρ)`` (RDP ``α·ρ`` at
every order ``α``) and converts with Proposition 12 of Canonne, Kamath &
Steinke (2020), evaluated on a fine grid of orders. A grid can only make epsilon
larger than the continuous optimum, never smaller: the reported epsilon is a
valid upper bound.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import PrivacyError, Problem, missing_dependency

__all__ = [
    "RDP_ACCOUNTANT",
    "check_epsilon_delta",
    "epsilon_delta_to_zcdp",
    "exponential_epsilon",
    "gaussian_sigma",
    "rdp_epsilon",
    "sgd_noise_multiplier",
    "zcdp_to_delta",
    "zcdp_to_epsilon",
]

# RDP orders: fine near 1 (large rho) and geometric up to 1e6 (tiny rho).
_ORDERS = tuple(float(a) for a in 1.0 + np.geomspace(0.0101, 1e6, 1200))
#: the accountant's name, as recorded in ledgers
ACCOUNTANT = "zCDP; (epsilon, delta) via dp-accounting's RDP accountant (Canonne-Kamath-Steinke 2020, Prop. 12)"


def _dp_accounting() -> Any:
    try:
        import dp_accounting
        from dp_accounting.rdp import rdp_privacy_accountant
    except ImportError:
        raise missing_dependency("dp-accounting", "dp", "differential-privacy accounting") from None
    return dp_accounting, rdp_privacy_accountant


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PrivacyError(
            Problem(
                f"parameter {name!r}",
                "a number",
                "None" if value is None else f"{type(value).__name__} {value!r}",
                f"pass {name}=<number>, e.g. epsilon=1.0, delta=1e-6",
            )
        )
    v = float(value)
    if math.isnan(v):
        raise PrivacyError(Problem(f"parameter {name!r}", "a number", "NaN", f"pass a real {name}"))
    return v


def check_epsilon_delta(epsilon: Any, delta: Any) -> tuple[float, float]:
    """Validate a privacy budget; returns it as floats.

    ``epsilon`` must be > 0 (``float('inf')`` means *no privacy*: no noise, for
    baselines); ``delta`` must be in (0, 1) because zCDP mechanisms have no pure
    epsilon guarantee.

    Raises:
        PrivacyError: naming each bad parameter.

    Example:
        >>> check_epsilon_delta(1, 1e-6)
        (1.0, 1e-06)
    """
    problems = []
    try:
        eps = _number("epsilon", epsilon)
        if eps <= 0:
            problems.append(
                Problem(
                    "parameter 'epsilon'",
                    "a positive number (smaller is more private; 0.1 to 10 is usual)",
                    repr(epsilon),
                    "pass e.g. epsilon=1.0",
                )
            )
    except PrivacyError as e:
        problems.extend(e.errors)
        eps = math.nan
    try:
        dlt = _number("delta", delta)
        if not 0 < dlt < 1:
            problems.append(
                Problem(
                    "parameter 'delta'",
                    "a number in (0, 1), far below 1/n_rows (e.g. 1e-6)",
                    repr(delta),
                    "pass e.g. delta=1e-6",
                )
            )
    except PrivacyError as e:
        problems.extend(e.errors)
        dlt = math.nan
    if problems:
        raise PrivacyError(problems)
    return eps, dlt


def _check_rho(rho: Any) -> float:
    r = _number("rho", rho)
    if r < 0:
        raise PrivacyError(Problem("parameter 'rho'", "a number >= 0", repr(rho), "pass rho >= 0"))
    return r


@lru_cache(maxsize=4096)
def zcdp_to_epsilon(rho: float, delta: float) -> float:
    """The epsilon of a ``rho``-zCDP mechanism at ``delta`` (an upper bound).

    Example:
        >>> round(zcdp_to_epsilon(0.1, 1e-6), 4)
        2.142
        >>> zcdp_to_epsilon(0.0, 1e-6), zcdp_to_epsilon(float("inf"), 1e-6)
        (0.0, inf)
    """
    rho = _check_rho(rho)
    delta = float(delta)
    if not 0 < delta < 1:
        raise PrivacyError(Problem("parameter 'delta'", "a number in (0, 1)", repr(delta), ""))
    if rho == 0:
        return 0.0
    if math.isinf(rho):
        return math.inf
    dpa, rdp = _dp_accounting()
    acc = rdp.RdpAccountant(orders=_ORDERS)
    acc.compose(dpa.ZCDpEvent(rho))
    return float(acc.get_epsilon(delta))


def zcdp_to_delta(rho: float, epsilon: float) -> float:
    """The delta of a ``rho``-zCDP mechanism at ``epsilon`` (an upper bound).

    Example:
        >>> zcdp_to_delta(0.1, 2.2) < 1e-6 < zcdp_to_delta(0.1, 2.1)
        True
    """
    rho = _check_rho(rho)
    if rho == 0:
        return 0.0
    if math.isinf(rho):
        return 1.0
    dpa, rdp = _dp_accounting()
    acc = rdp.RdpAccountant(orders=_ORDERS)
    acc.compose(dpa.ZCDpEvent(rho))
    return float(acc.get_delta(float(epsilon)))


@lru_cache(maxsize=1024)
def epsilon_delta_to_zcdp(epsilon: float, delta: float) -> float:
    """The largest ``rho`` whose zCDP guarantee implies (``epsilon``, ``delta``)-DP.

    Found by bisection on :func:`zcdp_to_epsilon` (dp-accounting's calibration
    routine, which guarantees the result does not exceed the target), then
    shrunk by one part in 10⁹ so that floating-point sums of the parts stay
    inside the budget.

    Example:
        >>> rho = epsilon_delta_to_zcdp(1.0, 1e-6)
        >>> round(rho, 5), zcdp_to_epsilon(rho, 1e-6) <= 1.0
        (0.02435, True)
    """
    epsilon, delta = check_epsilon_delta(epsilon, delta)
    if math.isinf(epsilon):
        return math.inf
    dpa, rdp = _dp_accounting()
    from dp_accounting import mechanism_calibration as mc

    hi = max(epsilon, 1.0)
    while zcdp_to_epsilon(hi, delta) <= epsilon:  # delta close to 1: a large rho still fits
        hi *= 4
    # the closed form eps = rho + 2 sqrt(rho log(1/delta)) under-estimates rho: a good scale
    guess = (math.sqrt(math.log(1 / delta) + epsilon) - math.sqrt(math.log(1 / delta))) ** 2
    rho = mc.calibrate_dp_mechanism(
        lambda: rdp.RdpAccountant(orders=_ORDERS),
        dpa.ZCDpEvent,
        epsilon,
        delta,
        bracket_interval=mc.ExplicitBracketInterval(0.0, hi),
        tol=max(guess, 1e-300) * 1e-7,
    )
    rho = float(rho) * (1 - 1e-9)
    if zcdp_to_epsilon(rho, delta) > epsilon:  # pragma: no cover - calibration guarantees it
        raise PrivacyError(
            Problem("privacy calibration", f"epsilon <= {epsilon}", "more", "report a bug")
        )
    return rho


def gaussian_sigma(rho: float, sensitivity: float = 1.0) -> float:
    """Noise scale of a Gaussian mechanism costing ``rho`` (zCDP): ``Δ / sqrt(2ρ)``.

    Example:
        >>> gaussian_sigma(0.5)
        1.0
        >>> gaussian_sigma(float("inf"))
        0.0
    """
    rho = _check_rho(rho)
    if rho == 0:
        return math.inf
    return float(sensitivity) / math.sqrt(2 * rho) if math.isfinite(rho) else 0.0


def exponential_epsilon(rho: float) -> float:
    """Parameter of an exponential mechanism costing ``rho`` (zCDP): ``sqrt(8ρ)``.

    Example:
        >>> exponential_epsilon(0.5)
        2.0
    """
    rho = _check_rho(rho)
    return math.sqrt(8 * rho) if math.isfinite(rho) else math.inf


# -- DP-SGD: the sampled Gaussian mechanism, accounted by opacus ------------------------------
#: RDP orders for DP-SGD ledgers: opacus' default grid, extended to high orders (small epsilon)
RDP_ORDERS: tuple[float, ...] = (
    *(1 + x / 10.0 for x in range(1, 100)),
    *(float(a) for a in range(12, 64)),
    *(64.0, 80.0, 96.0, 128.0, 160.0, 192.0, 256.0, 384.0, 512.0),
)
#: the accountant of ledgers holding DP-SGD steps, as recorded in them
RDP_ACCOUNTANT = (
    "RDP (opacus): sampled Gaussian mechanism of DP-SGD (Mironov et al. 2019) composed with the "
    "zCDP measurements (RDP alpha*rho at every order alpha), converted to (epsilon, delta) by "
    "Balle et al. 2020, Thm. 21"
)


def _opacus_rdp() -> Any:
    try:
        from opacus.accountants.analysis import rdp
    except ImportError:
        raise missing_dependency("opacus", "dp", "DP-SGD accounting") from None
    return rdp


def rdp_epsilon(
    history: Sequence[tuple[float, float, int]],
    delta: float,
    *,
    rho: float = 0.0,
    orders: Sequence[float] = RDP_ORDERS,
) -> float:
    """Epsilon of DP-SGD steps composed with zCDP measurements, at ``delta`` (an upper bound).

    ``history`` lists ``(noise_multiplier, sample_rate, steps)`` runs of the sampled Gaussian
    mechanism (opacus' RDP analysis); ``rho`` is the zCDP cost of everything else (a
    ``rho``-zCDP mechanism is ``(alpha, alpha * rho)``-RDP at every order ``alpha``).
    The bound is the best over ``orders`` (:data:`RDP_ORDERS` unless given).

    Example:
        >>> eps = rdp_epsilon([(1.0, 0.01, 1000)], 1e-5)
        >>> 1.0 < eps < 2.5, rdp_epsilon([], 1e-5), rdp_epsilon([(0.0, 0.01, 1)], 1e-5)
        (True, 0.0, inf)
    """
    rho = _check_rho(rho)
    if not history and rho == 0:
        return 0.0
    if math.isinf(rho) or any(s == 0 for s, q, k in history if k > 0 and q > 0):
        return math.inf
    rdp = _opacus_rdp()
    orders = np.asarray(orders, dtype=float)
    total = rho * orders
    for sigma, q, steps in history:
        if steps > 0 and q > 0:
            total = total + np.asarray(
                rdp.compute_rdp(
                    q=float(q), noise_multiplier=float(sigma), steps=int(steps), orders=list(orders)
                )
            )
    with warnings.catch_warnings():  # "optimal order at the end of the grid": still a bound
        warnings.filterwarnings("ignore", message=".*Optimal order is the.*")
        eps, _ = rdp.get_privacy_spent(orders=list(orders), rdp=list(total), delta=float(delta))
    return max(0.0, float(eps))


def sgd_noise_multiplier(
    epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    *,
    rho: float = 0.0,
) -> float:
    """The smallest noise multiplier (to 0.1%) whose ``steps`` DP-SGD steps fit the budget.

    The budget is (``epsilon``, ``delta``) for the whole ledger, which has already spent
    ``rho`` (zCDP) on other measurements. Bisection on :func:`rdp_epsilon`, returning the
    upper end of the bracket: the result never overshoots ``epsilon``.

    Raises:
        PrivacyError: ``rho`` alone already uses up ``epsilon``.

    Example:
        >>> sigma = sgd_noise_multiplier(1.0, 1e-5, 0.01, 1000)
        >>> rdp_epsilon([(sigma, 0.01, 1000)], 1e-5) <= 1.0
        True
        >>> sgd_noise_multiplier(float("inf"), 1e-5, 0.01, 1000)
        0.0
    """
    epsilon, delta = check_epsilon_delta(epsilon, delta)
    if math.isinf(epsilon):
        return 0.0
    if not 0 < sample_rate <= 1 or steps < 1:
        raise ValueError(f"need 0 < sample_rate <= 1 and steps >= 1, got {sample_rate}, {steps}")
    if rdp_epsilon([], delta, rho=rho) >= epsilon:
        raise PrivacyError(
            Problem(
                "DP-SGD noise calibration",
                f"budget left for training after the other measurements (epsilon {epsilon})",
                f"the other measurements already spend epsilon {zcdp_to_epsilon(rho, delta):.4g}",
                "lower the share of the budget spent before training, or raise epsilon",
            )
        )

    def fits(sigma: float) -> bool:
        return rdp_epsilon([(sigma, sample_rate, steps)], delta, rho=rho) <= epsilon

    lo, hi = 0.0, 1.0
    while not fits(hi):
        lo, hi = hi, hi * 2
        if hi > 1e7:  # pragma: no cover - only with an absurd number of steps
            raise PrivacyError(
                Problem("DP-SGD noise calibration", "a finite noise", "none fits", "fewer steps")
            )
    while hi - lo > 1e-3 * hi:
        mid = (lo + hi) / 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi
