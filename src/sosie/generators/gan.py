"""A CTGAN-class conditional GAN for tables (Xu et al., 2019), with multi-column conditioning.

See :class:`CTGANGenerator` for the design.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ._nulls import draw_null_patterns, null_patterns
from ._torch import (
    SeededDropout,
    check_threads,
    import_torch,
    linear,
    make_torch_generator,
    numpy_to_state,
    resolve_device,
    seed_int,
    state_to_numpy,
    torch_threads,
)
from .base import Generator
from .registry import register

__all__ = ["CTGANGenerator"]

_PURPOSE = "the CTGAN generator"
_DEVICES = ("auto", "cpu", "cuda")
_FREE_SHARE = 0.25  # training rows without a primary condition


def _log_posterior(
    x: np.ndarray, means: np.ndarray, stds: np.ndarray, logw: np.ndarray
) -> np.ndarray:
    """Unnormalised log posterior of each mixture mode for each value, shape (n, modes)."""
    z = (x[:, None] - means[None, :]) / stds[None, :]
    return logw[None, :] - np.log(stds)[None, :] - 0.5 * z * z


def _draw_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of a (n, k) probability matrix, vectorised."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _fidelity_signal(real: np.ndarray, synth: np.ndarray, discrete: np.ndarray) -> float:
    """Cheap held-out fidelity on encoded matrices: column shapes minus half the correlation gap.

    Shapes: 1 - KS for continuous columns, 1 - total variation for discrete codes.
    Higher is better; 1.0 means identical marginals and correlations.
    """
    shapes = []
    for j in range(real.shape[1]):
        a, b = real[:, j], synth[:, j]
        if discrete[j]:
            k = int(max(a.max(), b.max())) + 1
            pa = np.bincount(a.astype(np.int64), minlength=k) / len(a)
            pb = np.bincount(b.astype(np.int64), minlength=k) / len(b)
            shapes.append(1.0 - 0.5 * np.abs(pa - pb).sum())
        else:
            grid = np.concatenate([a, b])
            fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
            fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
            shapes.append(1.0 - np.abs(fa - fb).max())
    gap = 0.0
    if real.shape[1] > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            ca = np.nan_to_num(np.corrcoef(real, rowvar=False))
            cb = np.nan_to_num(np.corrcoef(synth, rowvar=False))
        iu = np.triu_indices(real.shape[1], 1)
        gap = float(np.abs(ca[iu] - cb[iu]).mean())
    return float(np.mean(shapes)) - 0.5 * gap


def _build_networks(
    torch: Any,
    z_dim: int,
    cond_dim: int,
    data_dim: int,
    g_dim: int,
    g_layers: int,
    d_dim: int,
    d_layers: int,
    pac: int,
    gen: Any,
) -> tuple[Any, Any]:
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, n_in: int, n_out: int):
            super().__init__()
            self.fc = linear(n_in, n_out, gen)
            self.bn = nn.BatchNorm1d(n_out)

        def forward(self, x):
            return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            layers, dim = [], z_dim + cond_dim
            for _ in range(g_layers):
                layers.append(Residual(dim, g_dim))
                dim += g_dim
            self.body = nn.Sequential(*layers)
            self.out = linear(dim, data_dim, gen)

        def forward(self, x):
            return self.out(self.body(x))

    class Disc(nn.Module):
        def __init__(self):
            super().__init__()
            layers: list[Any] = []
            dim = pac * (data_dim + cond_dim)
            for _ in range(d_layers):
                layers += [linear(dim, d_dim, gen), nn.LeakyReLU(0.2), SeededDropout(0.5, gen)]
                dim = d_dim
            layers.append(linear(dim, 1, gen))
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x.reshape(-1, pac * x.shape[1]))

    return Gen(), Disc()


@register("ctgan")
class CTGANGenerator(Generator):
    """Conditional tabular GAN (CTGAN-class) with native multi-column and null conditioning.

    Design:

    * **Encoding.** Every model column becomes a *block*. A continuous column is
      normalised per mode: a variational (Dirichlet-process) Gaussian mixture is fitted
      on a subsample, each value gets a mode drawn from its posterior and is encoded as
      ``(x - mu_mode) / (4 sd_mode)`` (a ``tanh`` output) plus the mode one-hot. Discrete
      columns and the ``#null`` indicators of nullable columns are one-hots. Missing
      values in value columns are filled with a random observed value before the mixture
      is fitted (the indicator says they are missing).
    * **Conditional vector.** One one-hot block per model column (the category, the
      ``#null`` indicator, or the mixture mode of a continuous column); an all-zero block
      means "not given". Training by sampling: most rows pick a primary block at random
      and a category by log-frequency, then a real row holding it; a quarter of the rows
      take a uniformly drawn real row with no primary block. Every other block of that
      real row is revealed with probability ``extra_condition_prob``, and the null
      pattern (all ``#null`` blocks) is always revealed, so the generator learns to
      honour any set of given blocks at once. The generator pays a cross-entropy
      penalty for disagreeing with a given block; the critic sees ``(row, condition)``
      pairs, real rows being those the conditions came from.
    * **Sampling.** Every row gets a null pattern drawn from the training table's
      pattern frequencies restricted to the patterns that agree with the row's own
      null conditions (so null shares and co-missingness are reproduced exactly in
      expectation). Conditions on categories and nulls set their blocks; a condition
      on a continuous value sets the block of its most likely mode, and the exact value
      is assigned afterwards. One-hot outputs are drawn by Gumbel-max (as in training).
      Several columns can be conditioned together; no rejection loop is used.
    * **Training.** WGAN-GP loss with PacGAN (``pac`` rows per critic input), Adam,
      residual generator with batch norm, critic with leaky ReLU and dropout. A held-out
      share of rows (``holdout``) is compared with fresh samples every ``check_every``
      epochs (column-shape similarity minus correlation gap on the encoded matrix);
      training stops when it has not improved for ``patience`` checks, and the best
      weights are kept. ``max_epochs`` and ``time_budget`` (seconds) are hard caps.
    * **Randomness.** All torch randomness (initialisation, noise, dropout, gradient
      penalty) comes from a ``torch.Generator`` seeded from the ``rng`` of the call; the
      global torch, numpy and ``random`` states are never used.

    Args:
        embedding_dim: size of the generator's noise input.
        generator_dim: width of each residual generator layer.
        generator_layers: number of residual generator layers.
        discriminator_dim: width of each critic layer.
        discriminator_layers: number of critic layers.
        batch_size: rows per training step (a multiple of ``pac``).
        pac: rows packed into one critic input (PacGAN).
        discriminator_steps: critic updates per generator update.
        learning_rate: Adam learning rate of both networks.
        weight_decay: Adam weight decay of both networks.
        gp_weight: weight of the gradient penalty.
        max_modes: most mixture modes per continuous column.
        vgm_max_rows: rows used to fit each column's mixture.
        extra_condition_prob: chance that each other block is revealed during training.
        max_epochs: hard cap on training epochs.
        time_budget: hard cap on training seconds (``None``: no cap).
        patience: checks without held-out improvement before stopping.
        check_every: epochs between held-out checks.
        holdout: share of rows kept aside for early stopping (0 disables early stopping).
        sample_batch: rows generated per forward pass when sampling.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``. Saved weights
            are CPU copies, so models load anywhere.
        n_threads: torch threads while fitting and sampling (``None``: torch's
            setting); restored afterwards.
        verbose: show a progress bar with the losses.
        rng: seed for fitting (and the default sampling stream).

    Example:
        Training takes a few seconds, so this example is skipped by doctest:

        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(2000, random_state=0)
        >>> gen = CTGANGenerator(max_epochs=30, rng=0).fit(real)  # doctest: +SKIP
        >>> gen.sample(5, conditions={"sex": "Female", "workclass": None})  # doctest: +SKIP
    """

    min_rows = 10

    def __init__(
        self,
        *,
        embedding_dim: int = 128,
        generator_dim: int = 256,
        generator_layers: int = 2,
        discriminator_dim: int = 256,
        discriminator_layers: int = 2,
        batch_size: int = 500,
        pac: int = 10,
        discriminator_steps: int = 1,
        learning_rate: float = 2e-4,
        weight_decay: float = 1e-6,
        gp_weight: float = 10.0,
        max_modes: int = 10,
        vgm_max_rows: int = 5000,
        extra_condition_prob: float = 0.15,
        max_epochs: int = 300,
        time_budget: float | None = None,
        patience: int = 5,
        check_every: int = 5,
        holdout: float = 0.1,
        sample_batch: int = 50_000,
        device: str = "auto",
        n_threads: int | None = None,
        verbose: bool = False,
        rng: Any = None,
    ):
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.generator_layers = generator_layers
        self.discriminator_dim = discriminator_dim
        self.discriminator_layers = discriminator_layers
        self.batch_size = batch_size
        self.pac = pac
        self.discriminator_steps = discriminator_steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.gp_weight = gp_weight
        self.max_modes = max_modes
        self.vgm_max_rows = vgm_max_rows
        self.extra_condition_prob = extra_condition_prob
        self.max_epochs = max_epochs
        self.time_budget = time_budget
        self.patience = patience
        self.check_every = check_every
        self.holdout = holdout
        self.sample_batch = sample_batch
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.rng = rng

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        ints = {
            "embedding_dim": (self.embedding_dim, 1),
            "generator_dim": (self.generator_dim, 1),
            "generator_layers": (self.generator_layers, 0),
            "discriminator_dim": (self.discriminator_dim, 1),
            "discriminator_layers": (self.discriminator_layers, 0),
            "batch_size": (self.batch_size, 1),
            "pac": (self.pac, 1),
            "discriminator_steps": (self.discriminator_steps, 1),
            "max_modes": (self.max_modes, 1),
            "vgm_max_rows": (self.vgm_max_rows, 10),
            "max_epochs": (self.max_epochs, 1),
            "patience": (self.patience, 1),
            "check_every": (self.check_every, 1),
            "sample_batch": (self.sample_batch, 1),
        }
        for name, (v, lo) in ints.items():
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"parameter {name!r} must be an integer >= {lo}, got {v!r}")
        if self.batch_size % self.pac:
            raise ValueError(
                f"parameter 'batch_size' ({self.batch_size}) must be a multiple of 'pac' "
                f"({self.pac}); fix: e.g. batch_size={max(1, self.batch_size // self.pac) * self.pac}"
            )
        for name, v, lo, hi in (
            ("learning_rate", self.learning_rate, 0.0, np.inf),
            ("gp_weight", self.gp_weight, -1e-300, np.inf),
        ):
            if not isinstance(v, (int, float)) or not lo < float(v) < hi:
                raise ValueError(f"parameter {name!r} must be a positive number, got {v!r}")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise ValueError(f"parameter 'weight_decay' must be >= 0, got {self.weight_decay!r}")
        if not 0 <= float(self.extra_condition_prob) <= 1:
            raise ValueError(
                f"parameter 'extra_condition_prob' must be in [0, 1], got {self.extra_condition_prob!r}"
            )
        if not 0 <= float(self.holdout) < 0.5:
            raise ValueError(f"parameter 'holdout' must be in [0, 0.5), got {self.holdout!r}")
        if self.time_budget is not None and (
            isinstance(self.time_budget, bool)
            or not isinstance(self.time_budget, (int, float))
            or self.time_budget <= 0
        ):
            raise ValueError(
                f"parameter 'time_budget' must be None or a positive number of seconds, got {self.time_budget!r}"
            )
        if self.device not in _DEVICES:
            raise ValueError(f"parameter 'device' must be one of {_DEVICES}, got {self.device!r}")
        if not isinstance(self.verbose, bool):
            raise ValueError(f"parameter 'verbose' must be a bool, got {self.verbose!r}")
        check_threads(self.n_threads)
        import_torch(_PURPOSE)

    # -- encoding --------------------------------------------------------------------------
    def _fit_layout(self, X: np.ndarray, rng: np.random.Generator) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        cols = self.preprocessor_.model_columns
        self.kinds_ = [c.kind for c in cols]
        self.block_sizes_ = np.zeros(len(cols), dtype=np.int64)
        self.means_: dict[int, np.ndarray] = {}
        self.stds_: dict[int, np.ndarray] = {}
        self.logw_: dict[int, np.ndarray] = {}
        self.bounds_: dict[int, np.ndarray] = {}
        for j, col in enumerate(cols):
            if col.kind != "continuous":
                self.block_sizes_[j] = int(col.n_categories or 2)
                continue
            x = X[:, j]
            self.bounds_[j] = np.array([x.min(), x.max()])
            scale = float(x.std()) or 1.0
            uniq = np.unique(x)
            k = int(min(self.max_modes, len(uniq)))
            if k <= 1:
                means, stds, w = np.array([x.mean()]), np.array([scale * 1e-3]), np.ones(1)
            else:
                sub = (
                    x
                    if len(x) <= self.vgm_max_rows
                    else rng.choice(x, self.vgm_max_rows, replace=False)
                )
                vgm = BayesianGaussianMixture(
                    n_components=k,
                    weight_concentration_prior_type="dirichlet_process",
                    weight_concentration_prior=1e-3,
                    max_iter=100,
                    n_init=1,
                    random_state=int(rng.integers(0, 2**31 - 1)),
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    vgm.fit(sub.reshape(-1, 1))
                keep = vgm.weights_ > 5e-3
                if not keep.any():
                    keep[np.argmax(vgm.weights_)] = True
                means = vgm.means_.ravel()[keep]
                stds = np.sqrt(vgm.covariances_.ravel()[keep])
                w = vgm.weights_[keep] / vgm.weights_[keep].sum()
            self.means_[j] = means.astype("float64")
            self.stds_[j] = np.maximum(stds, scale * 1e-4 + 1e-12).astype("float64")
            self.logw_[j] = np.log(w).astype("float64")
            self.block_sizes_[j] = len(means)
        self._finish_layout()

    def _finish_layout(self) -> None:
        """Derived offsets: output segments and condition blocks."""
        offs, pos = [], 0
        for j, kind in enumerate(self.kinds_):
            if kind == "continuous":
                offs.append((pos, pos + 1))  # scalar position, block start
                pos += 1 + int(self.block_sizes_[j])
            else:
                offs.append((-1, pos))
                pos += int(self.block_sizes_[j])
        self.data_dim_ = pos
        self.scalar_pos_ = np.array([o[0] for o in offs], dtype=np.int64)
        self.block_pos_ = np.array([o[1] for o in offs], dtype=np.int64)
        self.cond_off_ = np.concatenate([[0], np.cumsum(self.block_sizes_)[:-1]]).astype(np.int64)
        self.cond_dim_ = int(self.block_sizes_.sum())

    def _modes(self, j: int, x: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Mode of each value: drawn from the posterior, or its argmax when ``rng`` is None."""
        lp = _log_posterior(x, self.means_[j], self.stds_[j], self.logw_[j])
        if rng is None:
            return np.argmax(lp, axis=1)
        p = np.exp(lp - lp.max(axis=1, keepdims=True))
        return _draw_categorical(p, rng)

    def _encode(self, X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Network matrix (n, data_dim) and block codes (n, n_blocks)."""
        n = len(X)
        data = np.zeros((n, self.data_dim_), dtype=np.float32)
        codes = np.zeros((n, len(self.kinds_)), dtype=np.int64)
        rows = np.arange(n)
        for j, kind in enumerate(self.kinds_):
            if kind == "continuous":
                m = self._modes(j, X[:, j], rng)
                mu, sd = self.means_[j][m], self.stds_[j][m]
                data[:, self.scalar_pos_[j]] = np.clip((X[:, j] - mu) / (4 * sd), -0.99, 0.99)
                codes[:, j] = m
            else:
                codes[:, j] = np.clip(X[:, j].astype(np.int64), 0, self.block_sizes_[j] - 1)
            data[rows, self.block_pos_[j] + codes[:, j]] = 1.0
        return data, codes

    def _decode(
        self, codes: np.ndarray, scalars: np.ndarray, cond: np.ndarray | None = None
    ) -> np.ndarray:
        """Drawn block codes (n, blocks) and tanh scalars (n, continuous) -> model matrix.

        With ``cond``, ``#null`` indicators take the null pattern given in the condition.
        """
        n = len(codes)
        X = np.empty((n, len(self.kinds_)), dtype="float64")
        k = 0
        for j, kind in enumerate(self.kinds_):
            code = codes[:, j]
            if kind == "continuous":
                s = scalars[:, k].astype("float64")
                k += 1
                v = s * 4 * self.stds_[j][code] + self.means_[j][code]
                X[:, j] = np.clip(v, *self.bounds_[j])
            else:
                X[:, j] = code
        if cond is not None:
            for j in self.null_blocks_:
                o = int(self.cond_off_[j])
                blk = cond[:, o : o + int(self.block_sizes_[j])]
                given = blk.sum(axis=1) > 0
                X[given, j] = np.argmax(blk[given], axis=1)
        return X

    # -- conditional vectors -------------------------------------------------------------------
    def _prepare_sampler(self, codes: np.ndarray) -> None:
        self.n_train_ = len(codes)
        missing = np.array([k == "missing" for k in self.kinds_], dtype=bool)
        self.eligible_ = np.flatnonzero((self.block_sizes_ > 1) & ~missing)
        self.null_blocks_ = np.flatnonzero(missing)
        self.null_patterns_, self.null_probs_ = null_patterns(codes[:, self.null_blocks_])
        self.free_probs_: dict[int, np.ndarray] = {}
        self._train_index: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for j in range(len(self.kinds_)):
            counts = np.bincount(codes[:, j], minlength=int(self.block_sizes_[j])).astype("float64")
            self.free_probs_[j] = counts / counts.sum()
            logf = np.where(counts > 0, np.log1p(counts), 0.0)
            order = np.argsort(codes[:, j], kind="stable")
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            self._train_index[j] = (logf / logf.sum(), order, starts, counts.astype(np.int64))

    def _train_conditions(
        self, size: int, codes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training-by-sampling: (cond vectors, revealed-block mask, matching real rows)."""
        rows = rng.integers(0, self.n_train_, size)
        if len(self.eligible_) == 0:
            prim = np.full(size, -1)
        else:
            prim = self.eligible_[rng.integers(0, len(self.eligible_), size)]
            prim[rng.random(size) < _FREE_SHARE] = -1  # unconditioned rows: uniform real rows
        for j in np.unique(prim[prim >= 0]):
            sel = prim == j
            p, order, starts, counts = self._train_index[int(j)]
            cat = rng.choice(len(p), int(sel.sum()), p=p)
            r = starts[cat] + (rng.random(len(cat)) * counts[cat]).astype(np.int64)
            rows[sel] = order[r]
        mask = rng.random((size, len(self.kinds_))) < self.extra_condition_prob
        has = np.flatnonzero(prim >= 0)
        mask[has, prim[has]] = True
        mask[:, self.null_blocks_] = True  # the null pattern is always given
        cond = np.zeros((size, self.cond_dim_), dtype=np.float32)
        cond[np.arange(size)[:, None], self.cond_off_[None, :] + codes[rows]] = mask
        return cond, mask, rows

    def _sample_conditions(
        self, n: int, conditions: dict[int, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        cond = np.zeros((n, self.cond_dim_), dtype=np.float32)
        for j, v in conditions.items():
            v = np.asarray(v, dtype="float64")
            m = ~np.isnan(v)
            if not m.any():
                continue
            if self.kinds_[j] == "continuous":
                code = self._modes(j, v[m], None)
            else:
                code = np.clip(v[m].astype(np.int64), 0, self.block_sizes_[j] - 1)
            cond[np.flatnonzero(m), self.cond_off_[j] + code] = 1.0
        if len(self.null_blocks_):
            self._draw_null_patterns(cond, conditions, rng)
        return cond

    def _draw_null_patterns(
        self, cond: np.ndarray, conditions: dict[int, np.ndarray], rng: np.random.Generator
    ) -> None:
        """Give every row a null pattern agreeing with its null conditions (see _nulls)."""
        nb = self.null_blocks_
        want = np.full((len(cond), len(nb)), -1, dtype=np.int64)
        for i, j in enumerate(nb):
            if int(j) in conditions:
                v = np.asarray(conditions[int(j)], dtype="float64")
                want[~np.isnan(v), i] = v[~np.isnan(v)].astype(np.int64)
        chosen = draw_null_patterns(self.null_patterns_, self.null_probs_, want, rng)
        cond[np.arange(len(cond))[:, None], self.cond_off_[nb][None, :] + chosen] = 1.0

    # -- torch pieces ------------------------------------------------------------------------
    def _block_index(self, torch: Any, device: Any) -> tuple[Any, Any, Any, Any]:
        """Padded gather index of the one-hot blocks: (index (B, K), valid (B, K), flat
        positions of the valid slots, scalar positions), cached per device."""
        cache = getattr(self, "_index_cache", None)
        if cache is not None and cache[0] == str(device):
            return cache[1]
        sizes = self.block_sizes_
        kmax = int(sizes.max()) if len(sizes) else 1
        idx = np.zeros((len(sizes), kmax), dtype=np.int64)
        valid = np.zeros((len(sizes), kmax), dtype=bool)
        for j, k in enumerate(sizes):
            idx[j, :k] = self.block_pos_[j] + np.arange(k)
            valid[j, :k] = True
        scal = self.scalar_pos_[self.scalar_pos_ >= 0]
        out = (
            torch.from_numpy(idx).to(device),
            torch.from_numpy(valid).to(device),
            torch.from_numpy(idx[valid]).to(device),
            torch.from_numpy(scal).to(device),
        )
        self._index_cache = (str(device), out)
        return out

    def _block_logits(self, torch: Any, raw: Any) -> tuple[Any, Any]:
        """One-hot block logits gathered into a padded (n, B, K) tensor (padding: -inf)."""
        idx, valid, _, _ = self._block_index(torch, raw.device)
        logits = raw[:, idx].masked_fill(~valid[None], float("-inf"))
        return logits, valid

    def _activate(self, torch: Any, raw: Any, gen: Any | None, tau: float = 0.2) -> Any:
        """tanh on scalars, Gumbel-softmax (training) or softmax (gen=None) on one-hots.

        Every block is handled at once on a padded tensor (no per-column Python loop).
        """
        _, _, flat, scal = self._block_index(torch, raw.device)
        logits, valid = self._block_logits(torch, raw)
        if gen is not None:
            u = torch.rand(logits.shape, generator=gen, device=logits.device)
            g = -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
            probs = torch.softmax((logits + g) / tau, dim=2)
        else:
            probs = torch.softmax(logits, dim=2)
        out = torch.empty_like(raw)
        out[:, flat] = probs[:, valid]
        if len(scal):
            out[:, scal] = torch.tanh(raw[:, scal])
        return out

    def _cond_loss(self, torch: Any, raw: Any, codes: Any, mask: Any) -> Any:
        """Cross-entropy of the given (masked) blocks, summed over blocks, mean over rows."""
        logits, _ = self._block_logits(torch, raw)
        logp = torch.log_softmax(logits, dim=2)
        picked = logp.gather(2, codes[:, :, None]).squeeze(2)
        return -(picked * mask).sum() / raw.shape[0]

    def _networks(self, torch: Any, gen: Any) -> tuple[Any, Any]:
        return _build_networks(
            torch,
            self.embedding_dim,
            self.cond_dim_,
            self.data_dim_,
            self.generator_dim,
            self.generator_layers,
            self.discriminator_dim,
            self.discriminator_layers,
            self.pac,
            gen,
        )

    def _generate_encoded(
        self, torch: Any, net: Any, cond: np.ndarray, gen: Any, device: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Generate rows for the given condition vectors: (block codes, tanh scalars).

        Each block's code is drawn from its softmax by Gumbel-max (as in training); the
        noise is drawn for valid slots only and no softmax is computed.
        """
        n_blocks = len(self.kinds_)
        codes = np.empty((len(cond), n_blocks), dtype=np.int64)
        scalars = np.empty((len(cond), int((self.scalar_pos_ >= 0).sum())), dtype=np.float32)
        gen_device = (
            gen
            if device == "cpu"
            else make_torch_generator(int(torch.randint(0, 2**62, (1,), generator=gen)), device)
        )
        idx, valid, flat, scal = self._block_index(torch, device)
        net.eval()
        with torch.no_grad():
            for s in range(0, len(cond), self.sample_batch):
                c = torch.from_numpy(cond[s : s + self.sample_batch])
                z = torch.randn((len(c), self.embedding_dim), generator=gen)
                raw = net(torch.cat([z, c], dim=1).to(device))
                u = torch.rand((len(c), len(flat)), generator=gen_device, device=raw.device)
                noisy = raw[:, flat] - torch.log(-torch.log(u.clamp(1e-20, 1 - 1e-7)))
                padded = raw.new_full((len(c), *idx.shape), float("-inf"))
                padded[:, valid] = noisy
                codes[s : s + len(c)] = padded.argmax(2).cpu().numpy()
                scalars[s : s + len(c)] = torch.tanh(raw[:, scal]).cpu().numpy()
        return codes, scalars

    # -- fit -------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        with torch_threads(self.n_threads):
            self._train(X, rng)

    def _train(self, X: np.ndarray, rng: np.random.Generator) -> None:
        torch = import_torch(_PURPOSE)
        t0 = time.perf_counter()
        device = resolve_device(self.device)
        X = X.copy()
        for j in range(X.shape[1]):
            nan = np.isnan(X[:, j])
            if nan.any():
                obs = X[~nan, j]
                X[nan, j] = rng.choice(obs, int(nan.sum())) if len(obs) else 0.0
        n = len(X)
        perm = rng.permutation(n)
        n_hold = round(self.holdout * n) if n >= 50 else 0
        hold, train = X[perm[:n_hold]], X[perm[n_hold:]]
        self._fit_layout(train, rng)
        data, codes = self._encode(train, rng)
        self._prepare_sampler(codes)
        discrete = np.array([k != "continuous" for k in self.kinds_])

        gen = make_torch_generator(seed_int(rng))
        dev_gen = gen if device == "cpu" else make_torch_generator(seed_int(rng), device)
        # weights are initialised on the CPU from the CPU generator (the same model for a seed
        # on any device), then moved; stochastic layers draw from the device's generator
        net_g, net_d = self._networks(torch, gen)
        net_g.to(device)
        net_d.to(device)
        for mod in net_d.modules():
            if hasattr(mod, "gen") and mod.gen is not None:
                mod.gen = dev_gen
        opt_g = torch.optim.Adam(
            net_g.parameters(),
            lr=self.learning_rate,
            betas=(0.5, 0.9),
            weight_decay=self.weight_decay,
        )
        opt_d = torch.optim.Adam(
            net_d.parameters(),
            lr=self.learning_rate,
            betas=(0.5, 0.9),
            weight_decay=self.weight_decay,
        )
        data_t = torch.from_numpy(data).to(device)
        codes_t = torch.from_numpy(codes).to(device)
        bs = self.batch_size
        steps = max(1, len(train) // bs)
        self.history_: list[dict[str, float]] = []
        best, best_state, bad = -np.inf, None, 0
        self.stop_reason_ = "max_epochs"
        self.epochs_ = 0

        def noise(size: int):
            return torch.randn((size, self.embedding_dim), generator=gen).to(device)

        def score() -> float:
            ref = hold if len(hold) else train[rng.choice(len(train), min(len(train), 2000))]
            m = int(min(max(len(ref), 500), 5000))
            cond = self._sample_conditions(m, {}, rng)
            synth = self._decode(*self._generate_encoded(torch, net_g, cond, gen, device), cond)
            net_g.train()
            return _fidelity_signal(ref, synth, discrete)

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("CTGAN"),
            BarColumn(),
            TextColumn("epoch {task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            disable=not self.verbose,
            transient=False,
        )
        with progress:
            task = progress.add_task("fit", total=self.max_epochs, info="")
            out_of_time = False
            for epoch in range(1, self.max_epochs + 1):
                net_g.train()
                net_d.train()
                sum_g = sum_d = 0.0
                for _ in range(steps):
                    for _ in range(self.discriminator_steps):
                        cond, mask, rows = self._train_conditions(bs, codes, rng)
                        c = torch.from_numpy(cond).to(device)
                        real = data_t[torch.from_numpy(rows).to(device)]
                        with torch.no_grad():  # the critic step needs no generator graph
                            fake = self._activate(
                                torch, net_g(torch.cat([noise(bs), c], 1)), dev_gen
                            )
                        real_in = torch.cat([real, c], 1)
                        fake_in = torch.cat([fake, c], 1)
                        loss_d = net_d(fake_in).mean() - net_d(real_in).mean()
                        alpha = torch.rand((bs // self.pac, 1, 1), generator=gen).to(device)
                        shape = (bs // self.pac, self.pac, real_in.shape[1])
                        mix = alpha * real_in.reshape(shape) + (1 - alpha) * fake_in.reshape(shape)
                        mix = mix.reshape(bs, -1).requires_grad_(True)
                        grad = torch.autograd.grad(net_d(mix).sum(), mix, create_graph=True)[0]
                        grad = grad.reshape(bs // self.pac, -1)
                        gp = ((grad.norm(2, dim=1) - 1) ** 2).mean() * self.gp_weight
                        opt_d.zero_grad(set_to_none=True)
                        (loss_d + gp).backward()
                        opt_d.step()
                    cond, mask, rows = self._train_conditions(bs, codes, rng)
                    c = torch.from_numpy(cond).to(device)
                    raw = net_g(torch.cat([noise(bs), c], 1))
                    fake = self._activate(torch, raw, dev_gen)
                    m_t = torch.from_numpy(mask.astype(np.float32)).to(device)
                    ce = self._cond_loss(
                        torch, raw, codes_t[torch.from_numpy(rows).to(device)], m_t
                    )
                    loss_g = -net_d(torch.cat([fake, c], 1)).mean() + ce
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    sum_g += float(loss_g.detach())
                    sum_d += float(loss_d.detach())
                    if self.time_budget is not None and time.perf_counter() - t0 > self.time_budget:
                        out_of_time = True
                        break
                self.epochs_ = epoch
                rec = {"epoch": epoch, "loss_g": sum_g / steps, "loss_d": sum_d / steps}
                last = epoch == self.max_epochs or out_of_time
                if epoch % self.check_every == 0 or last:
                    rec["score"] = score()
                    if rec["score"] > best + 1e-4:
                        best, bad = rec["score"], 0
                        best_state = {k: v.detach().clone() for k, v in net_g.state_dict().items()}
                    else:
                        bad += 1
                self.history_.append(rec)
                info = f"G {rec['loss_g']:.3f} D {rec['loss_d']:.3f}"
                if "score" in rec:
                    info += f" held-out {rec['score']:.4f}"
                progress.update(task, completed=epoch, info=info)
                if out_of_time:
                    self.stop_reason_ = "time_budget"
                    break
                if self.holdout > 0 and bad >= self.patience:
                    self.stop_reason_ = "early_stopping"
                    break
        if best_state is not None:
            net_g.load_state_dict(best_state)
        self.best_score_ = float(best)
        self._set_network(net_g.to("cpu"))

    def _set_network(self, net_g: Any) -> None:
        self.net_ = net_g
        self.net_.eval()

    # -- sample ------------------------------------------------------------------------------
    def _sample_device(self) -> str:
        torch = import_torch(_PURPOSE)
        return "cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu"

    def _sample(
        self, n_rows: int, conditions: dict[int, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        with torch_threads(self.n_threads):
            return self._sample_matrix(n_rows, conditions, rng)

    def _sample_matrix(
        self, n_rows: int, conditions: dict[int, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        torch = import_torch(_PURPOSE)
        gen = make_torch_generator(seed_int(rng))
        cond = self._sample_conditions(n_rows, conditions, rng)
        device = self._sample_device()
        net = self.net_.to(device)
        codes, scalars = self._generate_encoded(torch, net, cond, gen, device)
        self.net_ = net.to("cpu")
        return self._decode(codes, scalars, cond)

    # -- persistence -------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        cont = [j for j, k in enumerate(self.kinds_) if k == "continuous"]
        return {
            "safetensors": state_to_numpy(self.net_, "generator"),
            "kinds": list(self.kinds_),
            "block_sizes": self.block_sizes_,
            "continuous": {
                str(j): {
                    "means": self.means_[j],
                    "stds": self.stds_[j],
                    "logw": self.logw_[j],
                    "bounds": self.bounds_[j],
                }
                for j in cont
            },
            "free_probs": [self.free_probs_[j] for j in range(len(self.kinds_))],
            "eligible": self.eligible_,
            "null_blocks": self.null_blocks_,
            "null_patterns": self.null_patterns_,
            "null_probs": self.null_probs_,
            "n_train": int(self.n_train_),
            "history": self.history_,
            "epochs": int(self.epochs_),
            "stop_reason": self.stop_reason_,
            "best_score": float(self.best_score_),
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        torch = import_torch(_PURPOSE)
        self.kinds_ = list(state["kinds"])
        self.block_sizes_ = np.asarray(state["block_sizes"], dtype=np.int64)
        self.means_, self.stds_, self.logw_, self.bounds_ = {}, {}, {}, {}
        for key, c in state["continuous"].items():
            j = int(key)
            self.means_[j] = np.asarray(c["means"], dtype="float64")
            self.stds_[j] = np.asarray(c["stds"], dtype="float64")
            self.logw_[j] = np.asarray(c["logw"], dtype="float64")
            self.bounds_[j] = np.asarray(c["bounds"], dtype="float64")
        self.free_probs_ = {
            j: np.asarray(p, dtype="float64") for j, p in enumerate(state["free_probs"])
        }
        self.eligible_ = np.asarray(state["eligible"], dtype=np.int64)
        self.null_blocks_ = np.asarray(state["null_blocks"], dtype=np.int64)
        self.null_probs_ = np.asarray(state["null_probs"], dtype="float64")
        self.null_patterns_ = np.asarray(state["null_patterns"], dtype=np.int64).reshape(
            len(self.null_probs_), len(self.null_blocks_)
        )
        self.n_train_ = int(state["n_train"])
        self.history_ = list(state["history"])
        self.epochs_ = int(state["epochs"])
        self.stop_reason_ = state["stop_reason"]
        self.best_score_ = float(state["best_score"])
        self._finish_layout()
        with torch.random.fork_rng(devices=[]):
            net_g, _ = self._networks(torch, make_torch_generator(0))
        net_g.load_state_dict(numpy_to_state(state["safetensors"], "generator"))
        self._set_network(net_g)
