"""MST: differentially private synthetic data from a maximum spanning tree of 2-way marginals.

McKenna, Sheldon & Miklau (2021), "Winning the NIST Contest: A scalable and general
approach to differentially private synthetic data", Journal of Privacy and
Confidentiality 11(3). The budget ``rho`` (zCDP) is split in three equal parts:

1. *Measure* every 1-way marginal with the Gaussian mechanism (``rho/3`` in all).
2. *Compress*: values whose noisy count is below ``3 sigma`` are merged into one value
   (post-processing of step 1: rare categories are handled without looking at the data
   again, and are split back at sampling time in proportion to their noisy counts).
3. *Select* ``d - 1`` pairs forming a maximum spanning tree (Kruskal's algorithm), each
   edge chosen by the exponential mechanism (``rho/3`` in all) among the pairs that join
   two components, with score the L1 error of the 1-way model on that pair (sensitivity 1).
4. *Measure* the selected 2-way marginals (``rho/3``) and estimate a graphical model
   from all the measurements with mbi; sampling from it is post-processing.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ...privacy import (
    NoiseSource,
    PrivacyLedger,
    exponential_epsilon,
    exponential_mechanism,
    gaussian_mechanism,
    gaussian_sigma,
)
from ..registry import register
from ._base import Compression, MarginalDPGenerator
from ._mbi import MarkovModel, Measurement

__all__ = ["MSTGenerator"]


def mst_budget(rho: float, n_attributes: int) -> dict[str, float]:
    """The zCDP cost of each step of MST: per 1-way, per selection, per 2-way measurement.

    Example:
        >>> b = mst_budget(0.3, 4)
        >>> round(4 * b["one_way"] + 3 * b["select"] + 3 * b["two_way"], 12)
        0.3
    """
    d = int(n_attributes)
    if d <= 1:
        return {"one_way": rho / max(d, 1), "select": 0.0, "two_way": 0.0}
    third = rho / 3
    return {"one_way": third / d, "select": third / (d - 1), "two_way": third / (d - 1)}


@register("mst")
class MSTGenerator(MarginalDPGenerator):
    """MST: differentially private tables from a tree of noisy 2-way marginals (needs ``dp``).

    The model is a tree-structured graphical model: every column depends on at most a few
    others (those next to it in the tree), which keeps it accurate at small epsilon. See
    the module documentation for the algorithm; the budget spent is in ``privacy_spent_``.

    Args:
        epsilon: the privacy budget's epsilon (required; ``inf`` means no privacy).
        delta: the privacy budget's delta (required; far below 1 / number of rows).
        n_bins: bins for numbers and datetimes, equal width between their public bounds.
        compress: merge values whose noisy count is below 3 sigma (the paper's default).
        iters: iterations of mbi's estimator (mirror descent).
        secure_mode: draw the noise from the operating system's secure generator (refuses
            ``rng``); otherwise a seeded PRNG is used, with one warning.
        rng: seed for fitting and the default sampling stream.

    Example:
        >>> from sosie.datasets import load_adult, adult_public_schema
        >>> real = load_adult()[["age", "sex", "income"]].sample(1000, random_state=0)
        >>> schema = adult_public_schema().select(["age", "sex", "income"])
        >>> gen = MSTGenerator(epsilon=1.0, delta=1e-6, rng=0).fit(real, schema=schema)
        >>> gen.sample(3).shape, gen.privacy_spent_["spent"]["epsilon"] <= 1.0
        ((3, 3), True)
    """

    def __init__(
        self,
        *,
        epsilon: float,
        delta: float,
        n_bins: int = 32,
        compress: bool = True,
        iters: int = 1000,
        secure_mode: bool = False,
        rng: Any = None,
    ):
        self.epsilon = epsilon
        self.delta = delta
        self.n_bins = n_bins
        self.compress = compress
        self.iters = iters
        self.secure_mode = secure_mode
        self.rng = rng

    def _run(
        self,
        codes: np.ndarray,
        names: list[str],
        sizes: list[int],
        ledger: PrivacyLedger,
        noise: NoiseSource,
    ) -> MarkovModel:
        d = len(names)
        budget = mst_budget(ledger.rho_budget, d)

        # 1. every 1-way marginal
        sigma1 = gaussian_sigma(budget["one_way"])
        noisy1 = []
        for i, name in enumerate(names):
            y = gaussian_mechanism(self._marginal(codes, [i], sizes), sigma1, noise)
            ledger.spend(
                budget["one_way"],
                mechanism="gaussian",
                measured=f"1-way marginal ({name!r},)",
                sigma=sigma1,
            )
            noisy1.append(y)

        # 2. compression of rare values (post-processing of the noisy 1-ways)
        model_codes = codes.copy()
        model_sizes = list(sizes)
        one_way: list[Measurement] = []
        for i, y in enumerate(noisy1):
            small = y < 3 * sigma1
            if self.compress and small.sum() > 1:
                mapping = np.empty(len(y), dtype=np.int64)
                mapping[~small] = np.arange((~small).sum())
                mapping[small] = (~small).sum()
                comp = Compression(mapping, y.copy())
                self.compression_[i] = comp
                model_codes[:, i] = mapping[codes[:, i]]
                model_sizes[i] = comp.size
                counts = np.bincount(mapping, minlength=comp.size).astype(np.float64)
                weights = 1.0 / np.sqrt(counts)  # a merged cell's noise has variance m sigma^2
                merged = np.bincount(mapping, weights=y, minlength=comp.size)
                one_way.append(Measurement((names[i],), merged * weights, sigma1, weights))
            else:
                one_way.append(Measurement((names[i],), y, sigma1))
        self.fit_info_["compressed"] = {
            names[i]: int(c.mapping.size - c.size + 1)
            for i, c in enumerate(self.compression_)
            if c is not None
        }
        total = self._noisy_total(
            [Measurement((n,), y, sigma1) for n, y in zip(names, noisy1, strict=True)]
        )
        if d == 1:
            return MarkovModel.estimate(names, model_sizes, one_way, iters=self.iters, total=total)

        # 3. the tree: Kruskal with the exponential mechanism on L1 errors of the 1-way model
        base = MarkovModel.estimate(names, model_sizes, one_way, iters=self.iters, total=total)
        margs = [base.project((n,)) for n in names]
        pairs = list(itertools.combinations(range(d), 2))
        errors = np.empty(len(pairs))
        for k, (i, j) in enumerate(pairs):
            exact = self._marginal(model_codes, [i, j], model_sizes)
            independent = np.outer(margs[i], margs[j]).ravel() / max(base.total, 1e-12)
            errors[k] = np.abs(exact - independent).sum()
        eps_sel = exponential_epsilon(budget["select"])
        component = list(range(d))

        def find(a: int) -> int:
            while component[a] != a:
                component[a] = component[component[a]]
                a = component[a]
            return a

        tree: list[tuple[int, int]] = []
        for _ in range(d - 1):
            open_ = [k for k, (i, j) in enumerate(pairs) if find(i) != find(j)]
            pick = open_[exponential_mechanism(errors[open_], eps_sel, 1.0, noise)]
            i, j = pairs[pick]
            ledger.spend(
                budget["select"],
                mechanism="exponential",
                measured=f"choice of a 2-way marginal among {len(open_)} candidates",
                epsilon=eps_sel,
                sensitivity=1.0,
                chosen=[names[i], names[j]],
            )
            component[find(i)] = find(j)
            tree.append((i, j))

        # 4. measure the tree's 2-way marginals, then estimate
        sigma2 = gaussian_sigma(budget["two_way"])
        two_way = []
        for i, j in tree:
            y = gaussian_mechanism(self._marginal(model_codes, [i, j], model_sizes), sigma2, noise)
            ledger.spend(
                budget["two_way"],
                mechanism="gaussian",
                measured=f"2-way marginal ({names[i]!r}, {names[j]!r})",
                sigma=sigma2,
            )
            two_way.append(Measurement((names[i], names[j]), y, sigma2))
        self.fit_info_["tree"] = [[names[i], names[j]] for i, j in tree]
        return MarkovModel.estimate(
            names, model_sizes, one_way + two_way, iters=self.iters, total=total, warm_start=base
        )
