"""AIM: an adaptive and iterative mechanism for differentially private synthetic data.

McKenna, Mullins, Sheldon & Miklau (2022), "AIM: An Adaptive and Iterative Mechanism for
Differentially Private Synthetic Data", PVLDB 15(11). With a budget ``rho`` (zCDP), a
workload ``W`` of marginals (default: every pair of columns) and a plan of ``T = 16 d``
rounds (``d`` columns):

1. Measure every 1-way marginal with Gaussian noise ``sigma_0 = sqrt(T / (2 alpha rho))``
   (``alpha = 0.9`` of each round's share goes to measuring, the rest to selecting).
2. Each round, *select* a marginal ``r`` from the downward closure of ``W`` with the
   exponential mechanism (``epsilon_t = sqrt(8 (1 - alpha) rho / T)``) and score
   ``w_r (||M_r(D) - M_r(model)||_1 - sqrt(2/pi) sigma_t n_r)``: its current error, minus
   the error its measurement's noise would add, weighted by its overlap with the workload
   (``w_r = sum over s in W of |r & s|``; sensitivity ``max w_r``). Only candidates that
   keep the model's junction tree under ``(rho_used / rho) * max_model_size`` MB qualify.
3. *Measure* it with ``sigma_t`` and re-estimate the model with mbi (warm start).
4. *Anneal*: when the new measurement barely moved the model (L1 change below the noise
   level), halve ``sigma`` and double ``epsilon`` for the next rounds. When what is left
   would not pay for two rounds, the last round spends all of it.

Sampling from the final model is post-processing and spends nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import Problem, SchemaError
from ...privacy import NoiseSource, PrivacyLedger, exponential_mechanism, gaussian_mechanism
from ..registry import register
from ._base import MarginalDPGenerator
from ._mbi import MarkovModel, Measurement, load_mbi

__all__ = ["AIMGenerator", "aim_round_costs"]

_ALPHA = 0.9


def aim_round_costs(rho: float, n_attributes: int, max_rounds: int) -> dict[str, float]:
    """Initial noise of AIM: sigma of the 1-ways and of a round, epsilon of a selection.

    ``n_attributes`` 1-way measurements cost ``alpha rho d / T``; each later round costs
    ``rho / T`` (``alpha`` of it measuring, the rest selecting).

    Example:
        >>> c = aim_round_costs(1.0, 4, 64)
        >>> one_ways, one_round = 4 / (2 * c["sigma"] ** 2), 1 / (2 * c["sigma"] ** 2) + c["epsilon"] ** 2 / 8
        >>> round(one_ways, 6), round(one_round, 6)
        (0.05625, 0.015625)
    """
    T = int(max_rounds)
    if math.isinf(rho):
        return {"sigma": 0.0, "epsilon": math.inf}
    return {
        "sigma": math.sqrt(T / (2 * _ALPHA * rho)),
        "epsilon": math.sqrt(8 * (1 - _ALPHA) * rho / T),
    }


def downward_closure(workload: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every non-empty subset of the workload's cliques (sorted by size, then order).

    Example:
        >>> downward_closure([("a", "b")])
        [('a',), ('b',), ('a', 'b')]
    """
    seen: dict[tuple[str, ...], None] = {}
    for cl in workload:
        for k in range(1, len(cl) + 1):
            for sub in itertools.combinations(cl, k):
                seen.setdefault(sub, None)
    return sorted(seen, key=len)


@register("aim")
class AIMGenerator(MarginalDPGenerator):
    """AIM: adaptive selection of noisy marginals for a workload (needs the ``dp`` extra).

    The state of the art for differentially private tables when you know which marginals
    matter (the ``workload``; by default every pair of columns). Slower than ``mst``: each
    round re-estimates the model. See the module documentation for the algorithm; the
    budget spent, round by round, is in ``privacy_spent_``.

    Args:
        epsilon: the privacy budget's epsilon (required; ``inf`` means no privacy).
        delta: the privacy budget's delta (required; far below 1 / number of rows).
        degree: size of the workload's marginals when ``workload`` is None.
        workload: marginals that should be accurate, as lists of column names
            (e.g. ``[["age", "income"], ["sex", "race", "income"]]``).
        max_model_size: cap on the model's junction tree, in megabytes (80 in the paper).
        max_rounds: adaptive rounds the budget is planned for, after the ``d`` one-way
            measurements (default ``15 d``: the paper's ``T = 16 d`` in all). About that many
            run; fewer when annealing spends the budget faster.
        n_bins: bins for numbers and datetimes, equal width between their public bounds.
        iters: iterations of mbi's estimator per round.
        secure_mode: draw the noise from the operating system's secure generator (refuses
            ``rng``); otherwise a seeded PRNG is used, with one warning.
        rng: seed for fitting and the default sampling stream.

    Example:
        >>> from sosie.datasets import load_adult, adult_public_schema
        >>> real = load_adult()[["age", "sex", "income"]].sample(1000, random_state=0)
        >>> schema = adult_public_schema().select(["age", "sex", "income"])
        >>> gen = AIMGenerator(epsilon=1.0, delta=1e-6, max_rounds=6, rng=0)
        >>> gen = gen.fit(real, schema=schema)
        >>> gen.sample(3).shape, gen.privacy_spent_["spent"]["epsilon"] <= 1.0
        ((3, 3), True)
    """

    def __init__(
        self,
        *,
        epsilon: float,
        delta: float,
        degree: int = 2,
        workload: list[list[str]] | None = None,
        max_model_size: float = 80.0,
        max_rounds: int | None = None,
        n_bins: int = 32,
        iters: int = 500,
        secure_mode: bool = False,
        rng: Any = None,
    ):
        self.epsilon = epsilon
        self.delta = delta
        self.degree = degree
        self.workload = workload
        self.max_model_size = max_model_size
        self.max_rounds = max_rounds
        self.n_bins = n_bins
        self.iters = iters
        self.secure_mode = secure_mode
        self.rng = rng

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.degree, bool) or not isinstance(self.degree, (int, np.integer)):
            raise ValueError(f"parameter 'degree' must be an integer >= 1, got {self.degree!r}")
        if self.degree < 1:
            raise ValueError(f"parameter 'degree' must be an integer >= 1, got {self.degree!r}")
        if self.max_rounds is not None and (
            isinstance(self.max_rounds, bool)
            or not isinstance(self.max_rounds, (int, np.integer))
            or self.max_rounds < 1
        ):
            raise ValueError(
                f"parameter 'max_rounds' must be None or >= 1, got {self.max_rounds!r}"
            )
        if not float(self.max_model_size) > 0:
            raise ValueError(f"parameter 'max_model_size' must be > 0, got {self.max_model_size!r}")

    def _workload(self, names: list[str]) -> list[tuple[str, ...]]:
        order = {n: i for i, n in enumerate(names)}
        if self.workload is None:
            k = min(int(self.degree), len(names))
            return list(itertools.combinations(names, k))
        out, problems = [], []
        for cl in self.workload:
            cols = (cl,) if isinstance(cl, str) else tuple(cl)
            unknown = [c for c in cols if c not in order]
            if unknown or not cols:
                problems.append(
                    Problem(
                        f"workload marginal {cols!r}",
                        "column names the model uses (not ids or PII without missing values)",
                        f"unknown {unknown!r}" if unknown else "an empty marginal",
                        f"use columns among {names[:20]!r}",
                    )
                )
                continue
            out.append(tuple(sorted(set(cols), key=order.__getitem__)))
        if problems:
            raise SchemaError(problems, header="invalid AIM workload")
        return list(dict.fromkeys(out))

    def _run(
        self,
        codes: np.ndarray,
        names: list[str],
        sizes: list[int],
        ledger: PrivacyLedger,
        noise: NoiseSource,
    ) -> MarkovModel:
        d = len(names)
        idx = {n: i for i, n in enumerate(names)}
        workload = self._workload(names)
        candidates = downward_closure(workload)
        weights = np.array([sum(len(set(r) & set(s)) for s in workload) for r in candidates], float)
        n_cells = {r: math.prod(sizes[idx[a]] for a in r) for r in candidates}
        data = {r: self._marginal(codes, [idx[a] for a in r], sizes) for r in candidates}
        rho = ledger.rho_budget
        # the paper plans T = 16 d rounds, the d one-way measurements included
        T = d + (int(self.max_rounds) if self.max_rounds is not None else 15 * d)
        start = aim_round_costs(rho, d, T)
        sigma, eps = start["sigma"], start["epsilon"]
        infinite = math.isinf(rho)

        # 1. every 1-way marginal
        measurements = []
        for n in names:
            exact = data.get((n,))
            if exact is None:  # a column outside a custom workload
                exact = self._marginal(codes, [idx[n]], sizes)
            y = gaussian_mechanism(exact, sigma, noise)
            ledger.spend(
                math.inf if infinite else 1 / (2 * sigma**2),
                mechanism="gaussian",
                measured=f"1-way marginal ({n!r},)",
                sigma=sigma,
            )
            measurements.append(Measurement((n,), y, sigma))
        total = self._noisy_total(measurements)
        model = MarkovModel.estimate(names, sizes, measurements, iters=self.iters, total=total)

        mbi = load_mbi()
        from mbi import junction_tree

        domain = mbi.Domain(names, sizes)
        sizes_mb: dict[tuple[str, ...], float] = {}
        rounds, annealed = 0, 0
        selected: list[list[str]] = []
        while True:
            rounds += 1
            if infinite:
                last = rounds >= min(len(candidates), T - d)  # every candidate, or the plan
                cost_measure = cost_select = math.inf
            else:
                remaining = ledger.rho_remaining
                cost = 1 / (2 * sigma**2) + eps**2 / 8
                last = remaining <= 2 * cost
                if last:  # spend everything that is left on this round
                    sigma = math.sqrt(1 / (2 * _ALPHA * remaining))
                    eps = math.sqrt(8 * (1 - _ALPHA) * remaining)
                    cost_measure, cost_select = _ALPHA * remaining, (1 - _ALPHA) * remaining
                else:
                    cost_measure, cost_select = 1 / (2 * sigma**2), eps**2 / 8
            used = ledger.rho_spent + cost_measure + cost_select
            limit = self.max_model_size * (1.0 if infinite else min(1.0, used / rho))
            current = list(model.cliques)
            ok = []
            for k, r in enumerate(candidates):
                if any(set(r) <= set(cl) for cl in current):
                    ok.append(k)
                    continue
                key = tuple(sorted(set(current) | {r}))
                if key not in sizes_mb:
                    sizes_mb[key] = junction_tree.hypothetical_model_size(domain, [*current, r])
                if sizes_mb[key] <= limit:
                    ok.append(k)
            errors = np.array(
                [
                    np.abs(data[candidates[k]] - model.project(candidates[k]).ravel()).sum()
                    for k in ok
                ]
            )
            penalty = np.array(
                [math.sqrt(2 / math.pi) * sigma * n_cells[candidates[k]] for k in ok]
            )
            scores = weights[ok] * (errors - penalty)
            sensitivity = float(weights[ok].max())
            pick = ok[exponential_mechanism(scores, eps, sensitivity, noise)]
            r = candidates[pick]
            ledger.spend(
                cost_select,
                mechanism="exponential",
                measured=f"choice of a marginal among {len(ok)} candidates",
                epsilon=eps,
                sensitivity=sensitivity,
                chosen=list(r),
                round=rounds,
            )
            y = gaussian_mechanism(data[r], sigma, noise)
            ledger.spend(
                cost_measure,
                mechanism="gaussian",
                measured=f"{len(r)}-way marginal {r!r}",
                sigma=sigma,
                round=rounds,
            )
            measurements.append(Measurement(r, y, sigma))
            selected.append(list(r))
            before = model.project(r).ravel()
            model = MarkovModel.estimate(
                names, sizes, measurements, iters=self.iters, total=total, warm_start=model
            )
            if last:
                break
            moved = np.abs(model.project(r).ravel() - before).sum()
            if not infinite and moved <= math.sqrt(2 / math.pi) * sigma * n_cells[r]:
                sigma, eps = sigma / 2, eps * 2
                annealed += 1
            if infinite and moved <= 1e-9 * max(total, 1.0):
                break
        self.fit_info_.update(
            {"rounds": rounds, "annealed": annealed, "selected": selected, "planned_rounds": T}
        )
        return model
