"""What the DP-SGD generators (``dp_tabddpm``, ``dp_ctgan``) share.

* :class:`DPSGDMixin`: their extra parameters, fitting under :class:`PrivateFitMixin`, the
  per-epoch budget check and the persisted noise, sampling rate and ledger.
* :class:`Histograms`: the measurements made before training with the declared share of the
  budget (missing-value patterns with the row count, one histogram per column), each a
  Gaussian mechanism recorded in the ledger.
* opacus' ``DPOptimizer`` with its Gaussian noise drawn from a :class:`NoiseSource`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import BudgetExceededError, PrivacyError, Problem, missing_dependency
from ...privacy import NoiseSource, PrivacyLedger, gaussian_mechanism, gaussian_sigma
from .._torch import torch_threads
from ._private import PrivateFitMixin

__all__ = ["MAX_NULLABLE", "DPSGDMixin", "Histograms", "load_opacus", "noise_source_optimizer"]

MAX_NULLABLE = 16  # the 2^16 missing-value patterns are measured jointly


def load_opacus() -> tuple[Any, Any]:
    """``(opacus, DPOptimizer)``; raises MissingDependencyError naming the ``dp`` extra."""
    try:
        import opacus
        from opacus.optimizers import DPOptimizer
    except ImportError:
        raise missing_dependency("opacus", "dp", "DP-SGD training (dp_tabddpm, dp_ctgan)") from None
    return opacus, DPOptimizer


def noise_source_optimizer(optimizer: Any, *, noise: NoiseSource, **kwargs: Any) -> Any:
    """opacus' DPOptimizer around ``optimizer``, its Gaussian noise drawn from ``noise``."""
    _, DPOptimizer = load_opacus()

    class NoiseSourceDPOptimizer(DPOptimizer):  # type: ignore[misc, valid-type]
        def add_noise(self) -> None:
            import torch

            std = self.noise_multiplier * self.max_grad_norm
            for p in self.params:
                ref = p.summed_grad
                if std > 0:
                    draw = noise.standard_normal(tuple(ref.shape)) * std
                    ref = ref + torch.as_tensor(draw, dtype=ref.dtype, device=ref.device)
                p.grad = ref.view_as(p).clone()

    return NoiseSourceDPOptimizer(optimizer, **kwargs)


class Histograms:
    """Gaussian measurements of ``n_queries`` histograms sharing ``share`` of the ledger's budget."""

    def __init__(self, ledger: PrivacyLedger, noise: NoiseSource, n_queries: int, share: float):
        self.ledger, self.noise = ledger, noise
        infinite = math.isinf(ledger.rho_budget)
        self.rho = math.inf if infinite else ledger.rho_budget * share / n_queries
        self.sigma = gaussian_sigma(self.rho)

    def measure(self, counts: np.ndarray, what: str) -> np.ndarray:
        """Noisy ``counts`` (may be negative); the cost is recorded in the ledger."""
        y = gaussian_mechanism(np.asarray(counts, dtype=np.float64), self.sigma, self.noise)
        self.ledger.spend(self.rho, mechanism="gaussian", measured=what, sigma=self.sigma)
        return y

    def null_patterns(self, indicators: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Every missing-value pattern, its noisy share, and the noisy row count.

        ``indicators`` is (n, m) 0/1; the 2^m patterns are listed in binary order.
        """
        n, m = indicators.shape
        if m > MAX_NULLABLE:
            raise PrivacyError(
                Problem(
                    "the public schema",
                    f"at most {MAX_NULLABLE} nullable columns (the joint histogram of their "
                    "missing-value patterns is measured)",
                    f"{m} nullable columns",
                    "set 'nullable': false on the columns that are never missing",
                )
            )
        bits = (1 << np.arange(m))[::-1]
        ids = indicators.astype(np.int64) @ bits if m else np.zeros(n, dtype=np.int64)
        noisy = self.measure(
            np.bincount(ids, minlength=2**m),
            f"histogram of the {2**m} missing-value patterns (and the row count)"
            if m
            else "the row count",
        )
        patterns = ((np.arange(2**m)[:, None] >> np.arange(m)[::-1]) & 1).astype(np.int64)
        w = np.maximum(noisy, 0.0)
        probs = w / w.sum() if w.sum() > 0 else np.full(2**m, 0.5**m)
        return patterns, probs, max(float(noisy.sum()), 1.0)

    def number(self, x: np.ndarray, edges: np.ndarray, name: str) -> np.ndarray:
        """Strictly positive bin weights of the observed values of ``x`` between ``edges``."""
        seen = x[~np.isnan(x)]
        bins = np.clip(np.searchsorted(edges, seen, side="right") - 1, 0, len(edges) - 2)
        y = self.measure(np.bincount(bins, minlength=len(edges) - 1), f"histogram of {name!r}")
        w = np.maximum(y, 0.0)
        return w + max(w.sum(), 1.0) * 1e-6  # every bin keeps a sliver: a strictly rising CDF


class DPSGDMixin(PrivateFitMixin):
    """Parameters, fitting, budget checks and persistence of the DP-SGD generators.

    The class using it defines ``max_grad_norm``, ``preprocess_share``, ``n_bins``,
    ``n_threads`` and ``_train_private(X, rng, noise)``, which sets ``noise_multiplier_``,
    ``sample_rate_`` and the ledger (:meth:`_keep_ledger`).
    """

    max_grad_norm: float
    preprocess_share: float
    n_bins: int
    n_threads: int | None

    def _check_params(self) -> None:
        super()._check_params()
        errors = []
        v = self.max_grad_norm
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            errors.append(f"parameter 'max_grad_norm' must be a number > 0, got {v!r}")
        v = self.preprocess_share
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            errors.append(f"parameter 'preprocess_share' must be in (0, 1), got {v!r}")
        v = self.n_bins
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            errors.append(f"parameter 'n_bins' must be an integer >= 2, got {v!r}")
        if errors:
            raise ValueError("; ".join(errors))

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        self._forget_data_facts(X)
        noise = self._noise_source(rng)
        with torch_threads(self.n_threads):
            self._train_private(X, rng, noise)

    def _train_private(
        self, X: np.ndarray, rng: np.random.Generator, noise: NoiseSource
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _epoch_fits(ledger: PrivacyLedger, sigma: float, q: float, steps: int, what: str) -> bool:
        """Whether an epoch of ``steps`` DP-SGD steps still fits the budget (nothing spent)."""
        try:
            ledger.spend_sgd(sigma, q, steps, measured=what, check_only=True)
        except BudgetExceededError:
            return False
        return True

    def _keep_ledger(self, ledger: PrivacyLedger) -> None:
        self.privacy_ledger_ = ledger
        self.privacy_spent_ = ledger.to_dict()

    def _state_dict(self) -> dict[str, Any]:
        state = super()._state_dict()  # type: ignore[misc]
        state.update(
            {
                "privacy": self.privacy_spent_,
                "noise_multiplier": self.noise_multiplier_,
                "sample_rate": self.sample_rate_,
            }
        )
        return state

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        super()._load_state_dict(state)  # type: ignore[misc]
        self.noise_multiplier_ = float(state["noise_multiplier"])
        self.sample_rate_ = float(state["sample_rate"])
        self.privacy_spent_ = state["privacy"]
        self.privacy_ledger_ = PrivacyLedger.from_dict(self.privacy_spent_)
