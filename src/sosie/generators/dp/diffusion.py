"""DP-TabDDPM: the TabDDPM-class diffusion generator trained with DP-SGD (opacus).

The denoiser only ever sees the data through its gradients, so DP-SGD (Abadi et al. 2016)
makes the whole model differentially private: each step takes a Poisson sample of the rows
(rate ``q``), clips every row's gradient to L2 norm ``max_grad_norm``, sums them and adds
Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm``. Per-sample
gradients, clipping and the optimizer wrapper are opacus'; the noise and the Poisson
sampling are drawn from :class:`~sosie.privacy.NoiseSource` (the operating system's secure
generator with ``secure_mode=True``).

Everything else the model keeps from the data is measured with a declared share of the
budget (``preprocess_share``, 10% by default), never read from the rows:

* the distribution of every number (the quantile transform TabDDPM trains on) is a noisy
  histogram of ``n_bins`` equal-width bins between the column's *public* bounds (one bin
  per value for small integer ranges), by the Gaussian mechanism;
* the missing-value patterns (which columns are missing together) are a noisy histogram
  over every pattern the public schema allows (at most 16 nullable columns); its total is
  the noisy row count that sets the sampling rate ``q = batch_size / count``;
* missing values are filled, for training, from those noisy distributions (not from other
  rows' values, which would mix one row into another's gradient).

Accounting: opacus' RDP analysis of the sampled Gaussian mechanism, composed with the
zCDP cost of the histograms (RDP ``alpha * rho``), in one :class:`~sosie.privacy.PrivacyLedger`.
RDP rather than opacus' PRV accountant: RDP is a proven upper bound at any number of steps,
with no discretisation error to budget for; it composes exactly with the Gaussian
measurements; and it is cheap enough to check before every epoch. PRV reports a smaller
epsilon for the same noise (about 6% smaller on Adult's runs, ``benchmarks/results/dp_adult.md``),
a gain we leave for an estimate that carries a numerical error. The noise multiplier is calibrated so that
the planned ``max_epochs`` fit the budget exactly; before each epoch the ledger checks that
its steps still fit, and training stops otherwise (``stop_reason_ = "privacy_budget"``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any, ClassVar

import numpy as np

from ..._rng import as_seed_sequence, torch_generator
from ...privacy import NoiseSource, PrivacyLedger
from ...privacy._accounting import sgd_noise_multiplier
from ..diffusion import TabDDPMGenerator, _cosine_alpha_bar, _progress, _torch
from ..registry import register
from ._private import public_bin_edges
from ._sgd import DPSGDMixin, Histograms, load_opacus, noise_source_optimizer

__all__ = ["DPTabDDPMGenerator"]

_N_REFERENCES = 1000


@register("dp_tabddpm")
class DPTabDDPMGenerator(DPSGDMixin, TabDDPMGenerator):
    """TabDDPM trained with DP-SGD: (epsilon, delta)-differentially private (needs ``dp``, ``deep``).

    See the module documentation for what is measured and how the budget is accounted. Every
    bound and category set must come from a public schema, as for ``aim`` and ``mst``.

    Args:
        epsilon: the privacy budget's epsilon (required; ``inf`` trains without noise, with
            clipping and Poisson sampling: a baseline that isolates the cost of the noise).
        delta: the privacy budget's delta (required; far below 1 / number of rows).
        max_grad_norm: per-row gradient clipping norm ``C``.
        preprocess_share: share of the zCDP budget spent on the histograms (the rest,
            converted through RDP, goes to training).
        n_bins: histogram bins of each number between its public bounds.
        batch_size: expected batch size of the Poisson sampling (larger batches average
            more rows per unit of noise: DP-SGD likes them large).
        max_epochs: planned passes over the data; the noise is calibrated for all of them.
        width: hidden width of the denoiser; smaller than TabDDPM's default because the
            noise DP-SGD adds grows with the number of weights. The defaults were chosen by
            a sweep on Adult (``benchmarks/results/dp_adult.md``).
        secure_mode: noise and row sampling from the operating system's secure generator
            (refuses ``rng``); otherwise a seeded PRNG, with one warning.
        Other arguments: as :class:`~sosie.generators.diffusion.TabDDPMGenerator`.

    Example:
        >>> from sosie.datasets import load_adult, adult_public_schema
        >>> cols = ["age", "sex", "education_num", "income"]
        >>> real = load_adult()[cols].sample(2000, random_state=0)
        >>> gen = DPTabDDPMGenerator(epsilon=1.0, delta=1e-6, max_epochs=2, batch_size=256,
        ...                          width=32, verbose=False, rng=0)
        >>> gen = gen.fit(real, schema=adult_public_schema().select(cols))
        >>> gen.privacy_spent_["spent"]["epsilon"] <= 1.0, gen.sample(3).shape
        (True, (3, 4))
    """

    native_conditions: ClassVar[bool] = True

    def __init__(
        self,
        *,
        epsilon: float,
        delta: float,
        max_grad_norm: float = 1.0,
        preprocess_share: float = 0.1,
        n_bins: int = 64,
        num_timesteps: int = 1000,
        sample_steps: int = 50,
        width: int = 128,
        depth: int = 2,
        embedding_dim: int = 64,
        batch_size: int = 8192,
        lr: float = 5e-3,
        max_epochs: int = 100,
        time_budget: float | None = None,
        p_uncond: float = 0.1,
        guidance: float = 1.0,
        device: str = "auto",
        n_threads: int | None = None,
        secure_mode: bool = False,
        verbose: bool = True,
        rng: Any = None,
    ):
        super().__init__(
            num_timesteps=num_timesteps,
            sample_steps=sample_steps,
            width=width,
            depth=depth,
            embedding_dim=embedding_dim,
            batch_size=batch_size,
            lr=lr,
            max_epochs=max_epochs,
            time_budget=time_budget,
            p_uncond=p_uncond,
            guidance=guidance,
            device=device,
            n_threads=n_threads,
            verbose=verbose,
            rng=rng,
        )
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.preprocess_share = preprocess_share
        self.n_bins = n_bins
        self.secure_mode = secure_mode

    # -- fit -----------------------------------------------------------------------------------
    def _measure(
        self, X: np.ndarray, ledger: PrivacyLedger, noise: NoiseSource, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Noisy histograms -> (numbers filled and quantile-mapped, categories filled, count)."""
        n = X.shape[0]
        n_num = len(self.num_idx_)
        hist = Histograms(ledger, noise, n_num + 1, self.preprocess_share)
        null_cols = [self.cat_idx_[k] for k in self.null_cols_]
        self.null_patterns_, self.null_probs_, count = hist.null_patterns(X[:, null_cols] >= 0.5)

        # numbers: noisy histograms between public bounds -> quantile transform
        refs = np.linspace(0.0, 1.0, _N_REFERENCES)
        self.references_ = refs
        self.quantiles_ = np.zeros((_N_REFERENCES, n_num))
        z = np.zeros((n, n_num))
        for k, j in enumerate(self.num_idx_):
            name = self.preprocessor_.model_columns[j].source
            edges, _ = public_bin_edges(self.preprocessor_, name, int(self.n_bins))
            x = X[:, j]
            seen = ~np.isnan(x)
            w = hist.number(x, edges, name)
            cdf = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
            self.quantiles_[:, k] = np.interp(refs, cdf, edges)
            filled = x.copy()
            if (~seen).any():  # fill from the noisy distribution, not from other rows
                filled[~seen] = np.interp(
                    rng.random(int((~seen).sum())), refs, self.quantiles_[:, k]
                )
            z[:, k] = self._to_z(np.clip(filled, edges[0], edges[-1]), k)

        cat = X[:, self.cat_idx_].copy()
        for k in range(cat.shape[1]):
            miss = np.isnan(cat[:, k])
            if miss.any():  # a missing category: any code (the indicator says it is missing)
                cat[miss, k] = rng.integers(0, self.cat_k_[k], int(miss.sum()))
        cat = np.clip(cat.astype(np.int64), 0, np.array(self.cat_k_, dtype=np.int64) - 1)
        return z, cat, count

    def _train_private(self, X: np.ndarray, rng: np.random.Generator, noise: NoiseSource) -> None:
        torch = _torch()
        opacus, _ = load_opacus()
        self._layout()
        self.device_ = self._device()
        T = int(self.num_timesteps)
        self.alpha_bar_ = _cosine_alpha_bar(T)
        ledger = PrivacyLedger(self.epsilon, self.delta)
        ledger.noise_source = noise.description
        z, cat, count = self._measure(X, ledger, noise, rng)
        n = X.shape[0]

        # the sampling rate comes from the noisy count, never from the true one
        q = min(1.0, float(self.batch_size) / count)
        steps_per_epoch = max(1, round(1 / q))
        planned = steps_per_epoch * int(self.max_epochs)
        sigma = sgd_noise_multiplier(self.epsilon, self.delta, q, planned, rho=ledger.rho_spent)
        self.noise_multiplier_ = float(sigma)
        self.sample_rate_ = float(q)

        self._setup()
        dev = self.device_
        gen = torch_generator(as_seed_sequence(rng), dev)
        init_gen = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        net = opacus.GradSampleModule(self._new_net(init_gen).to(dev), loss_reduction="mean")
        opt = noise_source_optimizer(
            torch.optim.Adam(net.parameters(), lr=float(self.lr)),
            noise=noise,
            noise_multiplier=float(sigma),
            max_grad_norm=float(self.max_grad_norm),
            expected_batch_size=int(self.batch_size),
        )
        zt = torch.tensor(z, dtype=torch.float32, device=dev)
        ct = torch.tensor(cat, dtype=torch.long, device=dev)
        params = [p for p in net.parameters() if p.requires_grad]
        self.loss_history_ = []  # the training loss is not private: shown, never saved
        self.stop_reason_ = "max_epochs"
        t0 = time.perf_counter()
        budget = None if self.time_budget is None else float(self.time_budget)
        what = "DP-SGD gradients of the denoiser"
        epochs = 0
        with _progress(self.verbose, int(self.max_epochs)) as bar:
            for epoch in range(int(self.max_epochs)):
                if not self._epoch_fits(ledger, sigma, q, steps_per_epoch, what):
                    self.stop_reason_ = "privacy_budget"  # checked before any step is taken
                    break
                total, seen = 0.0, 0
                for b in range(steps_per_epoch):
                    elapsed = time.perf_counter() - t0
                    progress = (epoch + b / steps_per_epoch) / int(self.max_epochs)
                    if budget:
                        progress = max(progress, elapsed / budget)
                    for group in opt.param_groups:
                        group["lr"] = float(self.lr) * (1 - 0.9 * min(progress, 1.0))
                    rows = np.flatnonzero(noise.uniform(n) < q)  # Poisson sampling
                    opt.zero_grad(set_to_none=True)
                    if rows.size:
                        idx = torch.as_tensor(rows, device=dev)
                        loss = self._loss(net, zt[idx], ct[idx], gen)
                        with warnings.catch_warnings():  # opacus' hooks on an input-free graph
                            warnings.filterwarnings("ignore", message=".*Full backward hook.*")
                            loss.backward()
                        total += float(loss.detach()) * rows.size
                        seen += rows.size
                    else:  # an empty batch still releases a noisy (pure noise) update
                        for p in params:
                            p.grad_sample = torch.zeros((1, *p.shape), device=dev)
                    opt.step()
                ledger.spend_sgd(sigma, q, steps_per_epoch, measured=what)
                epochs += 1
                bar(epoch, total / max(seen, 1))
                if budget is not None and time.perf_counter() - t0 > budget:
                    self.stop_reason_ = "time_budget"
                    break
        self.epochs_ = epochs
        opt.zero_grad(set_to_none=True)
        plain = net.to_standard_module()  # hooks and per-sample gradients removed
        for p in plain.parameters():
            p.grad = None
            for attr in ("summed_grad", "grad_sample"):
                if hasattr(p, attr):
                    delattr(p, attr)
        self._net = plain.eval()
        self._keep_ledger(ledger)
