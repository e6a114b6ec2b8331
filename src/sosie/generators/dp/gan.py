"""DP-CTGAN: the CTGAN-class GAN with a critic trained by DP-SGD (opacus).

Only the critic reads real rows; the generator learns from the critic's scores of its own
fakes, which is post-processing. So the critic is trained with DP-SGD (Poisson sampling of the
rows at rate ``q``, per-row gradients clipped to ``max_grad_norm``, Gaussian noise from a
:class:`~sosie.privacy.NoiseSource`) and the whole model is (epsilon, delta)-DP. What CTGAN
otherwise reads from the data is measured with a declared share of the budget
(``preprocess_share``) or changed so that it reads nothing:

* the mode-specific normalisation (a Bayesian Gaussian mixture per number) is fitted on draws
  from a noisy histogram of the column between its public bounds, not on the rows;
* the category frequencies that drive the conditional vector are noisy 1-way histograms; the
  missing-value patterns a noisy joint histogram whose total is the noisy row count (it sets
  ``q = batch_size / count``);
* training-by-sampling picks real rows *by category*, which Poisson sampling cannot account
  for: here each sampled real row is conditioned on one of its own categories (drawn at
  random), and the fakes on categories drawn from the noisy frequencies;
* PacGAN and the gradient penalty need the gradients of several rows at once (or of a
  gradient): the critic sees one row at a time (``pac = 1``) and uses the non-saturating GAN
  loss (logistic), whose per-row clipping keeps it bounded;
* early stopping on held-out real rows would read them outside the budget: training runs its
  planned epochs (or its time budget), and the training losses are not saved.

Accounting as in :mod:`sosie.generators.dp.diffusion`: opacus' RDP analysis of the sampled
Gaussian mechanism composed with the histograms' zCDP cost, noise calibrated so the planned
critic steps fit, and a check before every epoch.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, ClassVar

import numpy as np

from ...privacy import NoiseSource, PrivacyLedger
from ...privacy._accounting import sgd_noise_multiplier
from .._nulls import draw_null_patterns
from .._torch import import_torch, make_torch_generator, resolve_device, seed_int
from ..gan import CTGANGenerator
from ..registry import register
from ._private import public_bin_edges
from ._sgd import DPSGDMixin, Histograms, load_opacus, noise_source_optimizer

__all__ = ["DPCTGANGenerator"]

_SURROGATE_ROWS = 20_000  # draws from the noisy histograms the mode mixtures are fitted on


@register("dp_ctgan")
class DPCTGANGenerator(DPSGDMixin, CTGANGenerator):
    """CTGAN with a DP-SGD critic: (epsilon, delta)-differentially private (needs ``dp``, ``deep``).

    See the module documentation for what changes from ``ctgan`` and why. Every bound and
    category set must come from a public schema, as for the other DP generators.

    Args:
        epsilon: the privacy budget's epsilon (required; ``inf``: no noise, a baseline).
        delta: the privacy budget's delta (required; far below 1 / number of rows).
        max_grad_norm: per-row gradient clipping norm of the critic.
        preprocess_share: share of the zCDP budget spent on the histograms.
        n_bins: histogram bins of each number between its public bounds.
        batch_size: expected number of real rows per critic step (Poisson sampling).
        max_epochs: planned passes over the data; the noise is calibrated for all of them.
        secure_mode: noise and row sampling from the operating system's secure generator
            (refuses ``rng``); otherwise a seeded PRNG, with one warning.
        Other arguments: as :class:`~sosie.generators.gan.CTGANGenerator` (``pac`` must be 1;
        ``holdout``, ``patience`` and ``check_every`` are not used).

    Example:
        >>> from sosie.datasets import load_adult, adult_public_schema
        >>> cols = ["age", "sex", "education_num", "income"]
        >>> real = load_adult()[cols].sample(2000, random_state=0)
        >>> gen = DPCTGANGenerator(epsilon=1.0, delta=1e-6, max_epochs=2, batch_size=500, rng=0)
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
        embedding_dim: int = 128,
        generator_dim: int = 256,
        generator_layers: int = 2,
        discriminator_dim: int = 256,
        discriminator_layers: int = 2,
        batch_size: int = 2000,
        pac: int = 1,
        discriminator_steps: int = 1,
        learning_rate: float = 2e-4,
        weight_decay: float = 1e-6,
        max_modes: int = 10,
        extra_condition_prob: float = 0.0,
        max_epochs: int = 50,
        time_budget: float | None = None,
        sample_batch: int = 50_000,
        device: str = "auto",
        n_threads: int | None = None,
        secure_mode: bool = False,
        verbose: bool = False,
        rng: Any = None,
    ):
        super().__init__(
            embedding_dim=embedding_dim,
            generator_dim=generator_dim,
            generator_layers=generator_layers,
            discriminator_dim=discriminator_dim,
            discriminator_layers=discriminator_layers,
            batch_size=batch_size,
            pac=pac,
            discriminator_steps=discriminator_steps,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            max_modes=max_modes,
            extra_condition_prob=extra_condition_prob,
            max_epochs=max_epochs,
            time_budget=time_budget,
            holdout=0.0,
            sample_batch=sample_batch,
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

    def _check_params(self) -> None:
        super()._check_params()
        errors = []
        if self.pac != 1:
            errors.append(
                f"parameter 'pac' must be 1 for dp_ctgan (per-row gradients), got {self.pac!r}"
            )
        if self.extra_condition_prob != 0.0:
            errors.append(
                "parameter 'extra_condition_prob' must be 0 for dp_ctgan (fakes are conditioned "
                f"on one noisy marginal at a time), got {self.extra_condition_prob!r}"
            )
        if errors:
            raise ValueError("; ".join(errors))

    def _measure(
        self, X: np.ndarray, ledger: PrivacyLedger, noise: NoiseSource, rng: np.random.Generator
    ) -> tuple[np.ndarray, float]:
        """Noisy histograms -> (a surrogate matrix drawn from them, the noisy row count).

        Also sets the sampler's state (category frequencies, null patterns) from them.
        """
        cols = self.preprocessor_.model_columns
        kinds = [c.kind for c in cols]
        nulls = [j for j, k in enumerate(kinds) if k == "missing"]
        others = [j for j, k in enumerate(kinds) if k != "missing"]
        hist = Histograms(ledger, noise, len(others) + 1, self.preprocess_share)
        patterns, probs, count = hist.null_patterns(X[:, nulls] >= 0.5)
        m = len(nulls)

        n_s = _SURROGATE_ROWS
        S = np.zeros((n_s, len(cols)))
        self._dp_probs: dict[int, np.ndarray] = {}
        for j in others:
            name = cols[j].source
            if kinds[j] == "continuous":
                edges, _ = public_bin_edges(self.preprocessor_, name, int(self.n_bins))
                p = hist.number(X[:, j], edges, name)
                p = p / p.sum()
                k = rng.choice(len(p), n_s, p=p)
                S[:, j] = edges[k] + rng.random(n_s) * (edges[k + 1] - edges[k])
            else:
                K = int(cols[j].n_categories or 2)
                codes = X[:, j]
                codes = np.clip(codes[~np.isnan(codes)].astype(np.int64), 0, K - 1)
                y = np.maximum(
                    hist.measure(np.bincount(codes, minlength=K), f"histogram of {name!r}"), 0.0
                )
                p = y / y.sum() if y.sum() > 0 else np.full(K, 1.0 / K)
                self._dp_probs[j] = p
                S[:, j] = rng.choice(K, n_s, p=p)
        if m:
            S[:, nulls] = patterns[rng.choice(len(probs), n_s, p=probs)]
            for i, j in enumerate(nulls):
                self._dp_probs[j] = np.array(
                    [1.0 - (probs @ patterns[:, i]), probs @ patterns[:, i]]
                )
        self.null_patterns_dp_, self.null_probs_dp_ = patterns, probs
        return S, count

    def _set_sampler(self, count: float) -> None:
        """The sampler's state from the noisy measurements (never from the rows)."""
        missing = np.array([k == "missing" for k in self.kinds_], dtype=bool)
        self.eligible_ = np.flatnonzero((self.block_sizes_ > 1) & ~missing)
        self.null_blocks_ = np.flatnonzero(missing)
        self.null_patterns_, self.null_probs_ = self.null_patterns_dp_, self.null_probs_dp_
        self.free_probs_ = {}
        for j, kind in enumerate(self.kinds_):
            if kind == "continuous":  # modes: the mixture's weights (fitted on noisy draws)
                self.free_probs_[j] = np.exp(self.logw_[j]) / np.exp(self.logw_[j]).sum()
            else:
                self.free_probs_[j] = self._dp_probs[j]
        self.n_train_ = round(count)

    def _real_conditions(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each real row revealed on one of its own eligible blocks (and its null pattern)."""
        n = len(codes)
        cond = np.zeros((n, self.cond_dim_), dtype=np.float32)
        rows = np.arange(n)
        if len(self.eligible_):
            prim = self.eligible_[rng.integers(0, len(self.eligible_), n)]
            use = rng.random(n) >= 0.25  # as ctgan: a quarter of the rows unconditioned
            cond[rows[use], self.cond_off_[prim[use]] + codes[rows[use], prim[use]]] = 1.0
        for j in self.null_blocks_:
            cond[rows, self.cond_off_[j] + codes[:, j]] = 1.0
        return cond

    def _fake_conditions(
        self, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Condition vectors from the noisy marginals: (cond, revealed mask, target codes)."""
        cond = np.zeros((n, self.cond_dim_), dtype=np.float32)
        mask = np.zeros((n, len(self.kinds_)), dtype=bool)
        target = np.zeros((n, len(self.kinds_)), dtype=np.int64)
        rows = np.arange(n)
        if len(self.eligible_):
            prim = self.eligible_[rng.integers(0, len(self.eligible_), n)]
            use = rng.random(n) >= 0.25
            for j in np.unique(prim[use]):
                sel = rows[use & (prim == j)]
                code = rng.choice(len(self.free_probs_[j]), len(sel), p=self.free_probs_[j])
                cond[sel, self.cond_off_[j] + code] = 1.0
                mask[sel, j] = True
                target[sel, j] = code
        if len(self.null_blocks_):
            want = np.full((n, len(self.null_blocks_)), -1, dtype=np.int64)
            chosen = draw_null_patterns(self.null_patterns_, self.null_probs_, want, rng)
            for i, j in enumerate(self.null_blocks_):
                cond[rows, self.cond_off_[j] + chosen[:, i]] = 1.0
                mask[:, j] = True
                target[:, j] = chosen[:, i]
        return cond, mask, target

    def _train_private(self, X: np.ndarray, rng: np.random.Generator, noise: NoiseSource) -> None:
        torch = import_torch("dp_ctgan")
        opacus, _ = load_opacus()
        t0 = time.perf_counter()
        device = resolve_device(self.device)
        ledger = PrivacyLedger(self.epsilon, self.delta)
        ledger.noise_source = noise.description
        surrogate, count = self._measure(X, ledger, noise, rng)
        self._fit_layout(surrogate, rng)  # modes fitted on noisy draws, not on the rows
        self._set_sampler(count)
        # real rows: missing values filled from the noisy distributions (never from other rows)
        X = X.copy()
        for j in range(X.shape[1]):
            nan = np.isnan(X[:, j])
            if nan.any():
                X[nan, j] = surrogate[rng.integers(0, len(surrogate), int(nan.sum())), j]
        data, codes = self._encode(X, rng)
        n = len(X)

        q = min(1.0, float(self.batch_size) / count)
        steps_per_epoch = max(1, round(1 / q)) * int(self.discriminator_steps)
        planned = steps_per_epoch * int(self.max_epochs)
        sigma = sgd_noise_multiplier(self.epsilon, self.delta, q, planned, rho=ledger.rho_spent)
        self.noise_multiplier_, self.sample_rate_ = float(sigma), float(q)

        gen = make_torch_generator(seed_int(rng))
        dev_gen = gen if device == "cpu" else make_torch_generator(seed_int(rng), device)
        net_g, net_d = self._networks(torch, gen)
        net_g.to(device)
        net_d.to(device)
        for mod in net_d.modules():
            if hasattr(mod, "gen") and mod.gen is not None:
                mod.gen = dev_gen
        critic = opacus.GradSampleModule(net_d, loss_reduction="mean")
        opt_g = torch.optim.Adam(
            net_g.parameters(),
            lr=self.learning_rate,
            betas=(0.5, 0.9),
            weight_decay=self.weight_decay,
        )
        opt_d = noise_source_optimizer(
            torch.optim.Adam(
                critic.parameters(),
                lr=self.learning_rate,
                betas=(0.5, 0.9),
                weight_decay=self.weight_decay,
            ),
            noise=noise,
            noise_multiplier=float(sigma),
            max_grad_norm=float(self.max_grad_norm),
            expected_batch_size=int(2 * self.batch_size),  # real and fake rows per step
        )
        d_params = [p for p in critic.parameters() if p.requires_grad]
        data_t = torch.from_numpy(data).to(device)
        softplus = torch.nn.functional.softplus
        bs = int(self.batch_size)
        what = "DP-SGD gradients of the critic"
        self.history_ = []  # losses on private rows: shown while training, never saved
        self.best_score_ = float("nan")
        self.stop_reason_ = "max_epochs"
        self.epochs_ = 0

        def noise_z(size: int):
            return torch.randn((size, self.embedding_dim), generator=gen).to(device)

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("DP-CTGAN"),
            BarColumn(),
            TextColumn("epoch {task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            disable=not self.verbose,
            transient=False,
        )
        with progress, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Full backward hook.*")
            task = progress.add_task("fit", total=self.max_epochs, info="")
            for epoch in range(1, int(self.max_epochs) + 1):
                if not self._epoch_fits(ledger, sigma, q, steps_per_epoch, what):
                    self.stop_reason_ = "privacy_budget"  # checked before any step is taken
                    break
                net_g.train()
                critic.train()
                sum_d = sum_g = 0.0
                for step in range(steps_per_epoch):
                    rows = np.flatnonzero(noise.uniform(n) < q)  # Poisson sampling
                    for p in d_params:  # (before zero_grad, which skips frozen weights)
                        p.requires_grad_(True)
                    critic.enable_hooks()
                    opt_d.zero_grad(set_to_none=True)
                    c_fake, _, _ = self._fake_conditions(bs, rng)
                    with torch.no_grad():
                        cf = torch.from_numpy(c_fake).to(device)
                        fake = self._activate(
                            torch, net_g(torch.cat([noise_z(bs), cf], 1)), dev_gen
                        )
                    fake_in = torch.cat([fake, cf], 1)
                    if rows.size:
                        cr = torch.from_numpy(self._real_conditions(codes[rows], rng)).to(device)
                        real_in = torch.cat([data_t[torch.from_numpy(rows).to(device)], cr], 1)
                        x = torch.cat([real_in, fake_in], 0)
                        sign = torch.cat(
                            [-torch.ones(len(rows), device=device), torch.ones(bs, device=device)]
                        )
                    else:
                        x, sign = fake_in, torch.ones(bs, device=device)
                    # logistic GAN loss per row: softplus(-D(real)), softplus(D(fake))
                    loss_d = softplus(sign * critic(x).squeeze(1)).mean()
                    loss_d.backward()
                    opt_d.step()
                    sum_d += float(loss_d.detach())
                    if (step + 1) % int(self.discriminator_steps):
                        continue
                    for p in d_params:  # the generator step needs no critic gradients
                        p.requires_grad_(False)
                    critic.disable_hooks()
                    c_g, mask, target = self._fake_conditions(bs, rng)
                    cg = torch.from_numpy(c_g).to(device)
                    raw = net_g(torch.cat([noise_z(bs), cg], 1))
                    fake = self._activate(torch, raw, dev_gen)
                    ce = self._cond_loss(
                        torch,
                        raw,
                        torch.from_numpy(target).to(device),
                        torch.from_numpy(mask.astype(np.float32)).to(device),
                    )
                    loss_g = softplus(-critic(torch.cat([fake, cg], 1)).squeeze(1)).mean() + ce
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    sum_g += float(loss_g.detach())
                ledger.spend_sgd(sigma, q, steps_per_epoch, measured=what)
                self.epochs_ = epoch
                info = f"G {sum_g / max(1, steps_per_epoch):.3f} D {sum_d / steps_per_epoch:.3f}"
                progress.update(task, completed=epoch, info=info)
                if self.time_budget is not None and time.perf_counter() - t0 > self.time_budget:
                    self.stop_reason_ = "time_budget"
                    break
        for p in d_params:
            p.requires_grad_(True)
        critic.enable_hooks()
        critic.to_standard_module()
        self._set_network(net_g.to("cpu"))
        self._keep_ledger(ledger)
