"""The privacy ledger: every mechanism invocation, what it measured and what it cost."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BudgetExceededError, Problem
from ._accounting import (
    ACCOUNTANT,
    RDP_ACCOUNTANT,
    check_epsilon_delta,
    epsilon_delta_to_zcdp,
    rdp_epsilon,
    zcdp_to_epsilon,
)

__all__ = ["LedgerEntry", "PrivacyLedger"]

# relative slack for floating-point sums of budget shares (the budget itself is
# already shrunk by 1e-9 in epsilon_delta_to_zcdp, so this never crosses the target)
_SLACK = 1e-12
#: the mechanism name of DP-SGD steps (accounted by RDP, not zCDP)
SAMPLED_GAUSSIAN = "sampled gaussian"


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def _from_json_float(v: Any) -> float:
    return float(v)  # also reads "inf" / "-inf"


@dataclass(frozen=True)
class LedgerEntry:
    """One mechanism invocation.

    Attributes:
        mechanism: ``"gaussian"``, ``"exponential"``...
        measured: what it looked at, in words (e.g. ``"marginal ('age', 'sex')"``).
        rho: its zCDP cost (``None`` for DP-SGD steps, which are accounted in RDP from
            their ``noise_multiplier``, ``sample_rate`` and ``steps`` details).
        details: JSON values (noise scale, epsilon of a selection, round...).

    Example:
        >>> LedgerEntry("gaussian", "marginal ('age',)", 0.01, {"sigma": 7.07}).to_dict()["rho"]
        0.01
    """

    mechanism: str
    measured: str
    rho: float | None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "mechanism": self.mechanism,
            "measured": self.measured,
            "rho": None if self.rho is None else _json_float(self.rho),
            **({"details": dict(self.details)} if self.details else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LedgerEntry:
        """Inverse of :meth:`to_dict`."""
        rho = d.get("rho")
        return cls(
            d["mechanism"],
            d["measured"],
            None if rho is None else _from_json_float(rho),
            d.get("details", {}),
        )

    @property
    def sgd_run(self) -> tuple[float, float, int] | None:
        """``(noise_multiplier, sample_rate, steps)`` of a DP-SGD entry, else ``None``."""
        if self.mechanism != SAMPLED_GAUSSIAN:
            return None
        d = self.details
        return float(d["noise_multiplier"]), float(d["sample_rate"]), int(d["steps"])


class PrivacyLedger:
    """A privacy budget (epsilon, delta) and the record of what was spent, in zCDP.

    The target (epsilon, delta) is converted once to a zCDP budget ``rho``; each
    mechanism's cost is recorded with :meth:`spend`, which refuses to go over
    budget. Reported totals are exact sums of the recorded costs, converted back to
    (epsilon, delta) by the accountant (see :mod:`sosie.privacy`); the ledger is
    JSON and is saved in the model file.

    Args:
        epsilon: target epsilon (``inf`` for a non-private baseline).
        delta: target delta, in (0, 1).

    Example:
        >>> ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
        >>> _ = ledger.spend(ledger.rho_budget / 2, mechanism="gaussian", measured="marginal ('a',)")
        >>> round(ledger.rho_spent / ledger.rho_budget, 3), ledger.epsilon_spent < 1.0
        (0.5, True)
        >>> PrivacyLedger.from_dict(ledger.to_dict()).rho_spent == ledger.rho_spent
        True
    """

    def __init__(self, epsilon: float, delta: float):
        self.epsilon, self.delta = check_epsilon_delta(epsilon, delta)
        self.rho_budget = epsilon_delta_to_zcdp(self.epsilon, self.delta)
        self.entries: list[LedgerEntry] = []
        self.noise_source: str | None = None

    # -- spending ----------------------------------------------------------------------------
    def spend(self, rho: float, *, mechanism: str, measured: str, **details: Any) -> LedgerEntry:
        """Record a mechanism costing ``rho`` (zCDP); refuses to exceed the budget.

        Raises:
            BudgetExceededError: the cost does not fit in what is left (nothing is recorded).
            ValueError: ``rho`` is negative or NaN.
        """
        rho = float(rho)
        if not rho >= 0:
            raise ValueError(f"a mechanism's cost must be >= 0, got rho={rho!r}")
        entry = LedgerEntry(mechanism, measured, rho, details)
        if self.has_sgd:
            self._check_fits([*self.entries, entry], entry)
        else:
            after = math.fsum([*(e.rho for e in self.entries if e.rho is not None), rho])
            if after > self.rho_budget * (1 + _SLACK) and not math.isinf(self.rho_budget):
                raise self._exceeded(entry, f"rho {rho:.6g}")
        self.entries.append(entry)
        return entry

    def spend_sgd(
        self,
        noise_multiplier: float,
        sample_rate: float,
        steps: int,
        *,
        measured: str,
        check_only: bool = False,
        **details: Any,
    ) -> LedgerEntry:
        """Record ``steps`` DP-SGD steps (sampled Gaussian mechanism); refuses to exceed the budget.

        Consecutive runs with the same noise, sample rate and ``measured`` are merged into
        one entry. ``check_only=True`` raises exactly as recording would, and records nothing:
        a trainer calls it *before* the steps it is about to take.

        Raises:
            BudgetExceededError: the steps do not fit in what is left (nothing is recorded).

        Example:
            >>> ledger = PrivacyLedger(epsilon=1.0, delta=1e-5)
            >>> _ = ledger.spend_sgd(8.0, 0.01, 100, measured="gradients")
            >>> _ = ledger.spend_sgd(8.0, 0.01, 100, measured="gradients")
            >>> len(ledger), ledger.entries[0].details["steps"], ledger.epsilon_spent < 1.0
            (1, 200, True)
        """
        if not (noise_multiplier >= 0 and 0 < sample_rate <= 1 and int(steps) >= 1):
            raise ValueError(
                "need noise_multiplier >= 0, 0 < sample_rate <= 1 and steps >= 1, got "
                f"{noise_multiplier!r}, {sample_rate!r}, {steps!r}"
            )
        entries = list(self.entries)
        last = entries[-1] if entries else None
        run = last.sgd_run if last is not None else None
        if (
            last is not None
            and run is not None
            and last.measured == measured
            and run[:2] == (float(noise_multiplier), float(sample_rate))
        ):
            entries.pop()
            steps = int(steps) + run[2]
            details = {**dict(last.details), **details}
        entry = LedgerEntry(
            SAMPLED_GAUSSIAN,
            measured,
            None,
            {
                **details,
                "noise_multiplier": float(noise_multiplier),
                "sample_rate": float(sample_rate),
                "steps": int(steps),
            },
        )
        entries.append(entry)
        self._check_fits(entries, entry)
        if not check_only:
            self.entries = entries
        return entry

    def _check_fits(self, entries: list[LedgerEntry], entry: LedgerEntry) -> None:
        if math.isinf(self.epsilon):
            return
        eps = _epsilon_of(entries, self.delta)
        if eps > self.epsilon * (1 + 1e-9):
            raise self._exceeded(entry, f"a total epsilon of {eps:.6g}")

    def _exceeded(self, entry: LedgerEntry, found: str) -> BudgetExceededError:
        return BudgetExceededError(
            Problem(
                f"{entry.mechanism} mechanism on {entry.measured}",
                f"a cost within the remaining budget (epsilon {self.epsilon:.6g} in all, "
                f"{self.epsilon_spent:.6g} spent)",
                found,
                "spend less per step (more noise, fewer steps) or raise epsilon",
            )
        )

    # -- totals ------------------------------------------------------------------------------
    @property
    def has_sgd(self) -> bool:
        """Whether the ledger holds DP-SGD steps (then totals are accounted in RDP)."""
        return any(e.rho is None for e in self.entries)

    @property
    def rho_spent(self) -> float:
        """Total zCDP cost of the zCDP mechanisms (exact sum; DP-SGD steps are not included)."""
        return math.fsum(e.rho for e in self.entries if e.rho is not None)

    @property
    def rho_remaining(self) -> float:
        """What is left of the zCDP budget (never negative; ledgers without DP-SGD steps)."""
        if math.isinf(self.rho_budget):
            return math.inf
        return max(0.0, self.rho_budget - self.rho_spent)

    @property
    def epsilon_spent(self) -> float:
        """Epsilon spent so far, at the ledger's delta (an upper bound; 0 when nothing ran)."""
        return _epsilon_of(self.entries, self.delta)

    @property
    def delta_spent(self) -> float:
        """Delta of the reported guarantee (the target's, once anything was spent)."""
        spent = any(e.rho is None or e.rho > 0 for e in self.entries)
        return self.delta if spent else 0.0  # (no second accountant run for to_dict)

    @property
    def accountant(self) -> str:
        """How the totals are computed."""
        return RDP_ACCOUNTANT if self.has_sgd else ACCOUNTANT

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return (
            f"PrivacyLedger(epsilon={self.epsilon}, delta={self.delta}, "
            f"entries={len(self.entries)}, epsilon_spent={self.epsilon_spent:.4g})"
        )

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: target, totals spent, accountant, noise source and every step."""
        return {
            "accountant": self.accountant,
            "noise_source": self.noise_source,
            "target": {
                "epsilon": _json_float(self.epsilon),
                "delta": self.delta,
                "rho": _json_float(self.rho_budget),
            },
            "spent": {
                "epsilon": _json_float(self.epsilon_spent),
                "delta": self.delta_spent,
                "rho": _json_float(self.rho_spent),
            },
            "n_steps": len(self.entries),
            "steps": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PrivacyLedger:
        """Rebuild a ledger from :meth:`to_dict` (totals are recomputed from the steps)."""
        target = d["target"]
        self = cls.__new__(cls)
        self.epsilon = _from_json_float(target["epsilon"])
        self.delta = float(target["delta"])
        self.rho_budget = _from_json_float(target["rho"])
        self.entries = [LedgerEntry.from_dict(e) for e in d.get("steps", [])]
        self.noise_source = d.get("noise_source")
        return self


def _epsilon_of(entries: list[LedgerEntry], delta: float) -> float:
    """Epsilon of a list of entries: zCDP alone, or RDP when DP-SGD steps are among them."""
    rho = math.fsum(e.rho for e in entries if e.rho is not None)
    runs = [e.sgd_run for e in entries if e.rho is None]
    if runs:
        return rdp_epsilon([r for r in runs if r is not None], delta, rho=rho)
    return zcdp_to_epsilon(rho, delta) if rho > 0 else 0.0
