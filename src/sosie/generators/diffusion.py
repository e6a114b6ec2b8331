"""TabDDPM-style diffusion: Gaussian diffusion for numbers, multinomial diffusion for categories.

Numbers are filled where missing (a random observed value: the ``#null`` indicator
columns carry missingness), mapped to a standard normal with a quantile transform
fitted on a subsample, and diffused with Gaussian noise (the network predicts the
noise). Categorical and missing-indicator columns are diffused with the uniform
multinomial kernel of Hoogeboom et al. (2021), ``q(x_t | x_{t-1}) = (1 - beta_t) x +
beta_t / K``; the network predicts ``x_0`` and the reverse step is the closed-form
posterior ``q(x_{t-1} | x_t, x_0)`` evaluated in log space.

Conditioning: every categorical / missing-indicator column has its own embedding with
an extra "null" token. During training each row keeps a random subset of its columns
as condition (and drops all of them with probability ``p_uncond``), so any subset of
columns can be conditioned at sampling, with classifier-free guidance mixing the
conditional and unconditional predictions. Conditioned coordinates (numeric ones
included) are also inpainted: at every reverse step they are replaced by a fresh
forward-noised copy of their requested value, so the other columns follow.

Sampling is fast: the model trains with ``num_timesteps`` steps and samples on a
strided schedule of ``sample_steps`` steps (DDIM with ``eta = 0`` for the Gaussian
part; for the categorical part the uniform kernel composes, ``q(x_t | x_s)`` is uniform
with ``alpha_bar_t / alpha_bar_s``, so the strided posterior is again closed-form and
a valid distribution).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy import special

from .._rng import as_seed_sequence, torch_generator
from ..errors import missing_dependency
from ._nulls import draw_null_patterns, null_patterns
from ._torch import check_threads, torch_threads
from .base import Generator
from .registry import register

__all__ = ["TabDDPMGenerator"]

_Z_CLIP = 5.2  # the normal quantile of 1e-7, as in scikit-learn's QuantileTransformer
_CHUNK = 65536


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise missing_dependency("torch", "deep", "the TabDDPM generator") from None
    return torch


def _cosine_alpha_bar(T: int, s: float = 0.008) -> np.ndarray:
    """alpha_bar_0..T of the cosine schedule (alpha_bar_0 = 1: the clean data)."""
    t = np.arange(T + 1) / T
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    betas = np.clip(1 - f[1:] / f[:-1], 1e-5, 0.999)
    return np.concatenate([[1.0], np.cumprod(1 - betas)])


def _build_net(n_in: int, n_out: int, cat_tokens: int, dim: int, width: int, depth: int, gen):
    """The denoiser; every weight is initialised from ``gen`` (no global RNG).

    Only ``nn.Linear`` and ``nn.Embedding`` hold weights, so opacus can compute per-sample
    gradients (DP-SGD, see :class:`~sosie.generators.dp.DPTabDDPMGenerator`).
    """
    torch = _torch()
    nn = torch.nn

    def Lin(a: int, b: int):
        layer = nn.utils.skip_init(nn.Linear, a, b)  # no draw from torch's global RNG
        bound = 1 / math.sqrt(a)
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
        return layer

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.dim = dim
            self.inp = Lin(n_in, dim)
            self.t1 = Lin(dim, dim)
            self.t2 = Lin(dim, dim)
            self.cond = nn.utils.skip_init(nn.Embedding, max(cat_tokens, 1), dim)
            with torch.no_grad():
                self.cond.weight.normal_(generator=gen)
            layers, a = [], dim
            for _ in range(depth):
                layers += [Lin(a, width), nn.SiLU()]
                a = width
            self.body = nn.Sequential(*layers)
            self.out = Lin(a, n_out)

        def forward(self, x, t, tokens):
            half = self.dim // 2
            freqs = torch.exp(
                -math.log(10000.0) * torch.arange(half, device=x.device, dtype=x.dtype) / half
            )
            arg = t.to(x.dtype)[:, None] * freqs[None]
            temb = torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)
            if temb.shape[1] < self.dim:
                temb = torch.nn.functional.pad(temb, (0, self.dim - temb.shape[1]))
            temb = self.t2(torch.nn.functional.silu(self.t1(temb)))
            h = self.inp(x) + temb
            if tokens.shape[1]:
                h = h + self.cond(tokens).sum(1)
            return self.out(self.body(torch.nn.functional.silu(h)))

    return Net()


@register("tabddpm")
class TabDDPMGenerator(Generator):
    """TabDDPM-class diffusion generator with classifier-free guidance and a fast sampler.

    Args:
        num_timesteps: diffusion steps used in training (cosine schedule).
        sample_steps: steps of the strided sampler (DDIM / strided multinomial posterior);
            at most ``num_timesteps``. Fewer is faster.
        width: hidden width of the MLP denoiser.
        depth: number of hidden layers of the denoiser.
        embedding_dim: size of the input, time and condition embeddings.
        batch_size: training batch size.
        lr: Adam learning rate (annealed linearly to a tenth over training).
        max_epochs: passes over the data.
        time_budget: stop training after this many seconds (``None``: no cap). A time cap
            makes the number of epochs, hence the model, depend on the machine's speed.
        p_uncond: probability of dropping every condition of a training row
            (classifier-free guidance); other rows keep a random subset of columns.
        guidance: guidance weight ``w`` at sampling: ``uncond + w (cond - uncond)``;
            1 is the plain conditional model, above 1 strengthens conditions.
        quantile_subsample: rows used to fit the quantile transform of numbers.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        n_threads: torch threads while fitting and sampling (``None``: torch's
            setting); restored afterwards.
        verbose: show a progress bar with the loss while training.
        rng: seed for fitting (and the default sampling stream).

    Conditions on categorical columns (and on missingness) are native: guidance plus
    inpainting. Conditions on numbers are inpainted (the known coordinate is replaced by
    its noised value at every step), so the other columns follow them too.

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(300, random_state=0)
        >>> gen = TabDDPMGenerator(max_epochs=1, width=32, depth=1, verbose=False, rng=0)
        >>> gen = gen.fit(real)  # one epoch, to show the API (train far longer in practice)
        >>> synth = gen.sample(5, conditions={"income": ">50K"})
        >>> synth["income"].unique().tolist(), len(synth)
        (['>50K'], 5)
    """

    def __init__(
        self,
        *,
        num_timesteps: int = 1000,
        sample_steps: int = 50,
        width: int = 256,
        depth: int = 3,
        embedding_dim: int = 128,
        batch_size: int = 1024,
        lr: float = 2e-3,
        max_epochs: int = 200,
        time_budget: float | None = None,
        p_uncond: float = 0.1,
        guidance: float = 1.0,
        quantile_subsample: int = 10_000,
        device: str = "auto",
        n_threads: int | None = None,
        verbose: bool = True,
        rng: Any = None,
    ):
        self.num_timesteps = num_timesteps
        self.sample_steps = sample_steps
        self.width = width
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.batch_size = batch_size
        self.lr = lr
        self.max_epochs = max_epochs
        self.time_budget = time_budget
        self.p_uncond = p_uncond
        self.guidance = guidance
        self.quantile_subsample = quantile_subsample
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.rng = rng

    # -- parameters ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        errors = []
        for name, lo in (
            ("num_timesteps", 2),
            ("sample_steps", 1),
            ("width", 1),
            ("depth", 1),
            ("embedding_dim", 2),
            ("batch_size", 1),
            ("max_epochs", 1),
            ("quantile_subsample", 10),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                errors.append(f"parameter {name!r} must be an integer >= {lo}, got {v!r}")
        if not errors and self.sample_steps > self.num_timesteps:
            errors.append(
                f"parameter 'sample_steps' must be <= num_timesteps ({self.num_timesteps}), "
                f"got {self.sample_steps!r}; fix: lower sample_steps"
            )
        if not _is_real(self.lr) or not self.lr > 0:
            errors.append(f"parameter 'lr' must be a number > 0, got {self.lr!r}")
        if self.time_budget is not None and (
            not _is_real(self.time_budget) or not self.time_budget > 0
        ):
            errors.append(
                f"parameter 'time_budget' must be None or seconds > 0, got {self.time_budget!r}"
            )
        if not _is_real(self.p_uncond) or not 0 <= self.p_uncond < 1:
            errors.append(f"parameter 'p_uncond' must be in [0, 1), got {self.p_uncond!r}")
        if not _is_real(self.guidance) or not self.guidance >= 0:
            errors.append(f"parameter 'guidance' must be a number >= 0, got {self.guidance!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            errors.append(
                f"parameter 'device' must be 'auto', 'cpu' or 'cuda', got {self.device!r}"
            )
        try:
            check_threads(self.n_threads)
        except ValueError as exc:
            errors.append(str(exc))
        if errors:
            raise ValueError("; ".join(errors))

    def _device(self) -> str:
        torch = _torch()
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                "parameter 'device' is 'cuda' but no CUDA device is available; "
                "fix: use device='auto' or 'cpu'"
            )
        return self.device

    # -- layout --------------------------------------------------------------------------------
    def _layout(self) -> None:
        cols = self.preprocessor_.model_columns
        self.num_idx_ = [j for j, c in enumerate(cols) if c.kind == "continuous"]
        self.cat_idx_ = [j for j, c in enumerate(cols) if c.kind != "continuous"]
        self.cat_k_ = [max(int(cols[j].n_categories or 2), 1) for j in self.cat_idx_]
        self.null_cols_ = [k for k, j in enumerate(self.cat_idx_) if cols[j].kind == "missing"]

    def _setup(self) -> None:
        """Derived tensors (after fit or load).

        Categories live in one flat layout: column ``c`` owns the slots
        ``off[c] .. off[c] + K_c - 1``; ``_seg`` maps every slot to its column.
        """
        torch = _torch()
        dev = self.device_
        self._ab = torch.tensor(self.alpha_bar_, dtype=torch.float32, device=dev)
        ks = np.asarray(self.cat_k_ or [], dtype=np.int64)
        off = np.concatenate([[0], np.cumsum(ks)])[:-1].astype(np.int64)
        self._off = torch.tensor(off, dtype=torch.long, device=dev)
        self._kc = torch.tensor(ks, dtype=torch.float32, device=dev)  # (C,)
        self._seg = torch.tensor(np.repeat(np.arange(len(ks)), ks), dtype=torch.long, device=dev)
        self._kslot = self._kc[self._seg]  # (Ksum,): size of the slot's column
        self._ksum = int(ks.sum())
        self._seg_end = torch.tensor(off + ks - 1, dtype=torch.long, device=dev)
        tok = np.concatenate([[0], np.cumsum(ks + 1)])[:-1]
        self._tok_off = torch.tensor(tok, dtype=torch.long, device=dev)
        self._null_tok = torch.tensor(ks, dtype=torch.long, device=dev)
        null_mask = np.zeros(len(ks), dtype=bool)
        null_mask[list(self.null_cols_)] = True
        self._always = torch.tensor(null_mask, device=dev)  # null indicators: always given

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        with torch_threads(self.n_threads):
            self._train(X, rng)

    def _train(self, X: np.ndarray, rng: np.random.Generator) -> None:
        torch = _torch()
        from sklearn.preprocessing import QuantileTransformer

        self._layout()
        self.device_ = self._device()
        n = X.shape[0]
        T = int(self.num_timesteps)
        self.alpha_bar_ = _cosine_alpha_bar(T)

        # numbers: fill missing with random observed values, then quantile-normalise
        num = _fill_missing(X[:, self.num_idx_], rng)
        if self.num_idx_:
            qt = QuantileTransformer(
                n_quantiles=int(min(1000, n)),
                output_distribution="normal",
                subsample=int(self.quantile_subsample),
                random_state=int(rng.integers(0, 2**31 - 1)),
            ).fit(num)
            self.quantiles_ = np.asarray(qt.quantiles_, dtype="float64")
            self.references_ = np.asarray(qt.references_, dtype="float64")
            z = np.clip(qt.transform(num), -_Z_CLIP, _Z_CLIP)
        else:
            self.quantiles_ = np.zeros((2, 0))
            self.references_ = np.array([0.0, 1.0])
            z = np.zeros((n, 0))
        cat = _fill_missing(X[:, self.cat_idx_], rng).astype(np.int64)
        if cat.size:
            cat = np.clip(cat, 0, np.array(self.cat_k_) - 1)
        self.null_patterns_, self.null_probs_ = null_patterns(cat[:, self.null_cols_])

        self._setup()
        dev = self.device_
        gen = torch_generator(as_seed_sequence(rng), dev)
        init_gen = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        net = self._new_net(init_gen).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr))
        zt = torch.tensor(z, dtype=torch.float32, device=dev)
        ct = torch.tensor(cat, dtype=torch.long, device=dev)
        bs = int(min(self.batch_size, n))
        n_batches = max(1, math.ceil(n / bs))
        self.loss_history_: list[float] = []
        self.stop_reason_ = "max_epochs"
        t0 = time.perf_counter()
        budget = None if self.time_budget is None else float(self.time_budget)
        with _progress(self.verbose, int(self.max_epochs)) as bar:
            for epoch in range(int(self.max_epochs)):
                perm = torch.randperm(n, generator=gen, device=dev)
                total = torch.zeros((), device=dev)
                for b in range(n_batches):
                    elapsed = time.perf_counter() - t0
                    progress = (epoch + b / n_batches) / int(self.max_epochs)
                    if budget:
                        progress = max(progress, elapsed / budget)
                    for group in opt.param_groups:
                        group["lr"] = float(self.lr) * (1 - 0.9 * min(progress, 1.0))
                    idx = perm[b * bs : (b + 1) * bs]
                    loss = self._loss(net, zt[idx], ct[idx], gen)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * len(idx)
                self.loss_history_.append(float(total) / n)
                bar(epoch, self.loss_history_[-1])
                if budget is not None and time.perf_counter() - t0 > budget:
                    self.stop_reason_ = "time_budget"
                    break
        self.epochs_ = len(self.loss_history_)
        self._net = net.eval()

    def _new_net(self, gen):
        n_in = len(self.num_idx_) + sum(self.cat_k_)
        tokens = sum(k + 1 for k in self.cat_k_)
        return _build_net(
            n_in,
            n_in,
            tokens,
            int(self.embedding_dim),
            int(self.width),
            int(self.depth),
            gen,
        )

    # -- diffusion pieces (flat categorical layout, probability space) ----------------------
    def _seg_sum(self, x):
        """Per-column sums of a flat (n, Ksum) tensor -> (n, C)."""
        torch = _torch()
        out = torch.zeros((x.shape[0], len(self.cat_k_)), dtype=x.dtype, device=x.device)
        return out.index_add_(1, self._seg, x)

    def _seg_log_softmax(self, logits):
        """Log-softmax of flat logits within each column's slots."""
        torch = _torch()
        n = logits.shape[0]
        m = torch.full((n, len(self.cat_k_)), float("-inf"), device=logits.device)
        m = m.scatter_reduce(1, self._seg.expand(n, -1), logits.detach(), "amax")
        shifted = logits - m[:, self._seg]
        return shifted - torch.log(self._seg_sum(shifted.exp()))[:, self._seg]

    def _onehot(self, codes):
        """Flat one-hot (n, Ksum) of codes (n, C)."""
        torch = _torch()
        out = torch.zeros((codes.shape[0], self._ksum), device=codes.device)
        return out.scatter_(1, codes + self._off[None], 1.0)

    def _noise_cat(self, codes, a, gen):
        """Draw x_t ~ q(x_t | x_0) = a x_0 + (1 - a) / K: keep the code w.p. a, else uniform.

        ``a`` is (n,) or a scalar tensor.
        """
        torch = _torch()
        n, C = codes.shape
        keep = torch.rand((n, C), generator=gen, device=codes.device) < a.reshape(-1, 1)
        u = torch.rand((n, C), generator=gen, device=codes.device)
        uniform = (u * self._kc[None]).long().clamp_max(self._kc.long()[None] - 1)
        return torch.where(keep, codes, uniform)

    def _posterior(self, ct, p0, ab_t, ab_s):
        """p(x_s | x_t) = q(x_s | x_t, x_0 = p0) per column, flat and normalised.

        The plug-in posterior of multinomial diffusion (Hoogeboom et al., 2021; TabDDPM)
        for the uniform kernel: ``(a_ts x_t + (1 - a_ts) / K) * (ab_s p0 + (1 - ab_s) / K)``
        with ``a_ts = ab_t / ab_s``. (The exact mixture ``sum_k p0_k q(x_s | x_t, k)`` was
        measured too: worse marginals on Adult at equal training, so it is not used.)
        ``ct``: codes at step t (n, C); ``p0``: (n, Ksum); ``ab_t``, ``ab_s``: (n,) or scalars.
        """
        ab_s = ab_s.reshape(-1, 1)
        a_ts = ab_t.reshape(-1, 1) / ab_s
        inv_k = 1.0 / self._kslot[None]
        un = (a_ts * self._onehot(ct) + (1 - a_ts) * inv_k) * (ab_s * p0 + (1 - ab_s) * inv_k)
        return un / self._seg_sum(un)[:, self._seg]

    def _sample_flat(self, probs, gen):
        """Draw one code per column from flat per-column probabilities (inverse CDF)."""
        torch = _torch()
        n, C = probs.shape[0], len(self.cat_k_)
        cum = probs.double().cumsum(1)
        end = cum[:, self._seg_end]  # (n, C) cumulative mass at each column's last slot
        start = torch.cat([cum.new_zeros((n, 1)), end[:, :-1]], dim=1)
        u = torch.rand((n, C), generator=gen, device=probs.device, dtype=torch.float64)
        idx = torch.searchsorted(cum, start + u * (end - start), right=True)
        return (idx - self._off[None]).clamp(min=0).minimum(self._kc.long()[None] - 1)

    def _net_input(self, z, codes):
        torch = _torch()
        if codes.shape[1] == 0:
            return z
        return torch.cat([z, self._onehot(codes)], dim=1)

    def _split_out(self, out):
        """Network output -> (eps for numbers, flat x_0 log-probabilities for categories)."""
        d = len(self.num_idx_)
        eps = out[:, :d]
        if not self.cat_k_:
            return eps, None
        return eps, self._seg_log_softmax(out[:, d:])

    def _tokens(self, codes, keep):
        torch = _torch()
        tok = torch.where(keep, codes, self._null_tok[None])
        return tok + self._tok_off[None]

    def _loss(self, net, z0, c0, gen):
        torch = _torch()
        n = z0.shape[0]
        dev = z0.device
        T = int(self.num_timesteps)
        t = torch.randint(1, T + 1, (n,), generator=gen, device=dev)
        ab = self._ab[t]
        eps = torch.randn(z0.shape, generator=gen, device=dev)
        zt = ab.sqrt()[:, None] * z0 + (1 - ab).sqrt()[:, None] * eps
        C = c0.shape[1]
        if C:
            ct = self._noise_cat(c0, ab, gen)
            # conditions: drop all with p_uncond, else keep each column w.p. u ~ U(0, 1);
            # the null pattern is always given (sampling draws it first, see _sample_matrix)
            u = torch.rand((n, 1), generator=gen, device=dev)
            keep = (torch.rand((n, C), generator=gen, device=dev) < u) | self._always[None]
            drop = torch.rand((n, 1), generator=gen, device=dev) < float(self.p_uncond)
            keep = keep & ~drop
        else:
            ct = c0
            keep = torch.zeros((n, 0), dtype=torch.bool, device=dev)
        out = net(self._net_input(zt, ct), t, self._tokens(c0, keep))
        eps_hat, log_p0 = self._split_out(out)
        loss = torch.zeros((), device=dev)
        if z0.shape[1]:
            loss = loss + ((eps_hat - eps) ** 2).mean()
        if C:
            s = t - 1
            ab_s = self._ab[s]
            q = self._posterior(ct, self._onehot(c0), ab, ab_s)
            p = self._posterior(ct, log_p0.exp(), ab, ab_s)
            kl = self._seg_sum(q * (torch.log(q.clamp_min(1e-30)) - torch.log(p.clamp_min(1e-30))))
            nll = -log_p0.gather(1, c0 + self._off[None])  # (n, C)
            first = (t == 1)[:, None]
            # Hoogeboom et al.: KL for t > 1, -log p(x_0 | x_1) at t = 1; plus x_0 cross-entropy
            loss = loss + torch.where(first, nll, kl).mean() + 0.1 * nll.mean()
        return loss

    # -- sample --------------------------------------------------------------------------------
    def _to_z(self, x: np.ndarray, k: int) -> np.ndarray:
        q = self.quantiles_[:, k]
        p = np.interp(x, q, self.references_)
        return np.clip(special.ndtri(np.clip(p, 1e-7, 1 - 1e-7)), -_Z_CLIP, _Z_CLIP)

    def _from_z(self, z: np.ndarray) -> np.ndarray:
        p = special.ndtr(z)
        out = np.empty_like(z, dtype="float64")
        for k in range(z.shape[1]):
            out[:, k] = np.interp(p[:, k], self.references_, self.quantiles_[:, k])
        return out

    def _schedule(self) -> list[tuple[int, int]]:
        T, S = int(self.num_timesteps), int(self.sample_steps)
        steps = np.unique(np.linspace(1, T, S).round().astype(int))[::-1]
        return list(zip(steps.tolist(), [*steps[1:].tolist(), 0], strict=True))

    def _sample(self, n_rows, conditions, rng):
        with torch_threads(self.n_threads):
            return self._sample_matrix(n_rows, conditions, rng)

    def _sample_matrix(self, n_rows, conditions, rng):
        torch = _torch()
        d_all = len(self.preprocessor_.model_columns)
        out = np.zeros((n_rows, d_all))
        if n_rows == 0:
            return out
        gen = torch_generator(as_seed_sequence(rng), self.device_)
        d, C = len(self.num_idx_), len(self.cat_k_)
        known_z = np.full((n_rows, d), np.nan)
        for k, j in enumerate(self.num_idx_):
            if j in conditions:
                v = conditions[j]
                m = ~np.isnan(v)
                known_z[m, k] = self._to_z(v[m], k)
        known_c = np.full((n_rows, C), -1, dtype=np.int64)
        for k, j in enumerate(self.cat_idx_):
            if j in conditions:
                v = conditions[j]
                m = ~np.isnan(v)
                known_c[m, k] = np.clip(v[m].astype(np.int64), 0, self.cat_k_[k] - 1)
        if self.null_cols_:
            # exact missingness: each row's null pattern is drawn from the training
            # patterns agreeing with its null conditions, then generated as a condition
            nc = self.null_cols_
            known_c[:, nc] = draw_null_patterns(
                self.null_patterns_, self.null_probs_, known_c[:, nc], rng
            )
        zs, cs = [], []
        with torch.no_grad():
            for a in range(0, n_rows, _CHUNK):
                z, c = self._sample_chunk(known_z[a : a + _CHUNK], known_c[a : a + _CHUNK], gen)
                zs.append(z)
                cs.append(c)
        z = np.concatenate(zs)
        c = np.concatenate(cs)
        if d:
            out[:, self.num_idx_] = self._from_z(z)
        if C:
            out[:, self.cat_idx_] = c
        return out

    def _sample_chunk(self, known_z: np.ndarray, known_c: np.ndarray, gen):
        torch = _torch()
        dev = self.device_
        net = self._net
        n, d = known_z.shape
        C = known_c.shape[1]
        kz = torch.tensor(np.nan_to_num(known_z), dtype=torch.float32, device=dev)
        mz = torch.tensor(~np.isnan(known_z), device=dev)
        kc = torch.tensor(np.maximum(known_c, 0), dtype=torch.long, device=dev)
        mc = torch.tensor(known_c >= 0, device=dev)
        any_z, any_c = bool(mz.any()), bool(mc.any())
        guided = any_c and float(self.guidance) != 1.0

        z = torch.randn((n, d), generator=gen, device=dev)
        T = int(self.num_timesteps)
        if C:
            c = self._noise_cat(kc, self._ab.new_zeros(()), gen)  # x_T: uniform categories
        else:
            c = torch.zeros((n, 0), dtype=torch.long, device=dev)
        z, c = self._inpaint(z, c, T, kz, mz, kc, mc, any_z, any_c, gen)
        cond_tok = self._tokens(kc, mc)
        null_tok = self._tokens(kc, torch.zeros_like(mc))
        w = float(self.guidance)
        for t, s in self._schedule():
            tt = torch.full((n,), t, dtype=torch.long, device=dev)
            x = self._net_input(z, c)
            if guided:
                o = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond_tok, null_tok]))
                oc, ou = o[:n], o[n:]
                o = ou + w * (oc - ou)
            else:
                o = net(x, tt, cond_tok if any_c else null_tok)
            eps, log_x0 = self._split_out(o)
            ab_t, ab_s = self._ab[t], self._ab[s]
            if d:
                z0 = ((z - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()).clamp(-_Z_CLIP, _Z_CLIP)
                eps = (z - ab_t.sqrt() * z0) / (1 - ab_t).sqrt()
                z = ab_s.sqrt() * z0 + (1 - ab_s).sqrt() * eps
            if C:
                post = self._posterior(c, log_x0.exp(), ab_t, ab_s)
                c = self._sample_flat(post, gen)
            z, c = self._inpaint(z, c, s, kz, mz, kc, mc, any_z, any_c, gen)
        return z.cpu().numpy().astype("float64"), c.cpu().numpy()

    def _inpaint(self, z, c, t, kz, mz, kc, mc, any_z, any_c, gen):
        """Replace known coordinates by a forward-noised copy of their value at step ``t``."""
        torch = _torch()
        ab = self._ab[t]
        if any_z:
            noisy = ab.sqrt() * kz + (1 - ab).sqrt() * torch.randn(
                kz.shape, generator=gen, device=kz.device
            )
            z = torch.where(mz, noisy, z)
        if any_c:
            c = torch.where(mc, self._noise_cat(kc, ab, gen), c)
        return z, c

    # -- persistence ---------------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            "alpha_bar": self.alpha_bar_,
            "quantiles": self.quantiles_,
            "references": self.references_,
            "num_idx": list(self.num_idx_),
            "cat_idx": list(self.cat_idx_),
            "cat_k": list(self.cat_k_),
            "null_cols": list(self.null_cols_),
            "null_patterns": self.null_patterns_,
            "null_probs": self.null_probs_,
            "loss_history": list(self.loss_history_),
            "epochs": int(self.epochs_),
            "stop_reason": self.stop_reason_,
            "safetensors": {k: v.detach().cpu().numpy() for k, v in self._net.state_dict().items()},
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        torch = _torch()
        self.alpha_bar_ = np.asarray(state["alpha_bar"], dtype="float64")
        self.quantiles_ = np.asarray(state["quantiles"], dtype="float64")
        self.references_ = np.asarray(state["references"], dtype="float64")
        self.num_idx_ = [int(j) for j in state["num_idx"]]
        self.cat_idx_ = [int(j) for j in state["cat_idx"]]
        self.cat_k_ = [int(k) for k in state["cat_k"]]
        self.null_cols_ = [int(k) for k in state["null_cols"]]
        self.null_probs_ = np.asarray(state["null_probs"], dtype="float64")
        self.null_patterns_ = np.asarray(state["null_patterns"], dtype=np.int64).reshape(
            len(self.null_probs_), len(self.null_cols_)
        )
        self.loss_history_ = [float(v) for v in state["loss_history"]]
        self.epochs_ = int(state["epochs"])
        self.stop_reason_ = str(state["stop_reason"])
        # a model trained on a GPU loads anywhere: CUDA when there is one, else the CPU
        self.device_ = "cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu"
        self._setup()
        net = self._new_net(torch.Generator().manual_seed(0))
        weights = {k: torch.from_numpy(np.array(v)) for k, v in state["safetensors"].items()}
        if "cond" in weights:  # files written before the embedding became an nn.Embedding
            weights["cond.weight"] = weights.pop("cond")
        net.load_state_dict(weights)
        self._net = net.to(self.device_).eval()


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _fill_missing(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill NaN with random observed values of the same column (0 if none observed)."""
    a = a.copy()
    for k in range(a.shape[1]):
        miss = np.isnan(a[:, k])
        if miss.any():
            seen = a[~miss, k]
            a[miss, k] = rng.choice(seen, int(miss.sum())) if seen.size else 0.0
    return a


class _progress:
    """A rich progress bar over epochs (or steps) showing the loss (silent unless ``verbose``).

    ``every``: refresh the bar every this many updates (and at the last).
    """

    def __init__(
        self,
        verbose: bool,
        total: int,
        *,
        label: str = "TabDDPM",
        unit: str = "epoch",
        every: int = 1,
    ):
        self.verbose = verbose
        self.total = total
        self.label, self.unit, self.every = label, unit, every

    def __enter__(self):
        if not self.verbose:
            return lambda epoch, loss: None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(
            TextColumn(self.label),
            BarColumn(),
            TextColumn(self.unit + " {task.completed}/{task.total} loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.p.__enter__()
        task = self.p.add_task("fit", total=self.total, loss="-")

        def update(epoch: int, loss: float) -> None:
            if epoch % self.every == 0 or epoch + 1 == self.total:
                self.p.update(task, completed=epoch + 1, loss=f"{loss:.4f}")

        return update

    def __exit__(self, *exc):
        if self.verbose:
            self.p.__exit__(*exc)
        return False
