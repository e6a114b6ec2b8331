"""An autoregressive GRU over tokenised events, conditioned on each entity's attributes.

Each event is a row of tokens (see :class:`~sosie.generators.sequence._tokens.Tokenizer`):
the gap since the previous event first, then every event column. A GRU reads the
previous event, the entity's context (static attributes, length, start; also its
initial state), the position in the sequence, the time elapsed since the start, where
the previous event lies in the training time window (trends over calendar time) and,
for datetimes, the time of day and day of week of the previous event. Within an event
the columns are generated one after the other, each head seeing the GRU state, the
tokens already drawn for this event and the calendar of the event's own time, so the
columns of one event depend on each other and on the time of day.

Training: teacher forcing on windows of at most ``window`` events (longer sequences are
cut into windows that start from the true previous event), cross-entropy per column,
AdamW with dropout, early stopping on the negative log-likelihood of held-out entities.
Sampling runs all entities of a batch in lock-step on the CPU or GPU.
"""

from __future__ import annotations

import math
import time as _time
from typing import Any

import numpy as np

from ...errors import Problem, SchemaError
from .._torch import (
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
from ..registry import register
from ._base import SequenceGenerator
from ._tokens import Tokenizer

__all__ = ["SequenceGRUGenerator"]

_N_CAL = 8


def _build_net(torch: Any, sizes, n_event0, emb, ctx_dim, cal_dim, hidden, layers, dropout, gen):
    """The network; every weight initialised from ``gen`` (global RNG untouched)."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.sizes = list(sizes)
            self.n_event0 = n_event0  # heads from this column on see the event's calendar
            self.cal_dim = cal_dim
            self.layers = layers
            self.hidden = hidden
            self.embs = nn.ModuleList()
            for n in sizes:
                e = nn.utils.skip_init(nn.Embedding, n + 1, emb)  # + 1: start-of-sequence
                with torch.no_grad():
                    e.weight.normal_(0.0, 1.0, generator=gen)
                self.embs.append(e)
            d_in = len(sizes) * emb + ctx_dim + 4 + cal_dim
            self.init = linear(ctx_dim, hidden * layers, gen)
            # built on the meta device (no draw from the global generator), then initialised
            self.gru = nn.GRU(d_in, hidden, layers, batch_first=True, device="meta")
            self.gru = self.gru.to_empty(device="cpu")
            bound = 1.0 / math.sqrt(hidden)
            with torch.no_grad():
                for p in self.gru.parameters():
                    p.uniform_(-bound, bound, generator=gen)
            self.heads = nn.ModuleList()
            for j, n in enumerate(sizes):
                d = hidden + j * emb + (cal_dim if j >= n_event0 else 0)
                self.heads.append(
                    nn.Sequential(
                        SeededDropout(dropout, gen),
                        linear(d, hidden, gen),
                        nn.ReLU(),
                        SeededDropout(dropout, gen),
                        linear(hidden, n, gen),
                    )
                )
            self.drop_in = SeededDropout(dropout, gen)

        def h0(self, ctx):
            h = torch.tanh(self.init(ctx))
            return h.view(ctx.shape[0], self.layers, self.hidden).transpose(0, 1).contiguous()

        def step_input(self, prev, ctx, pos, cal_prev):
            parts = [self.drop_in(self.embs[j](prev[..., j])) for j in range(len(self.sizes))]
            parts += [ctx, pos]
            if self.cal_dim:
                parts.append(cal_prev)
            return torch.cat(parts, dim=-1)

        def head_input(self, j, out, cur_embs, cal_cur):
            parts = [out, *cur_embs[:j]]
            if self.cal_dim and j >= self.n_event0:
                parts.append(cal_cur)
            return torch.cat(parts, dim=-1)

    return Net()


@register("sequence_gru")
class SequenceGRUGenerator(SequenceGenerator):
    """Learned event sequences: an autoregressive GRU conditioned on static attributes.

    Learns the entity table (static attributes with the sequence length and start) with a
    tabular generator, and the events (gaps between events, then the event columns) with
    an autoregressive GRU. Samples any number of new entities, conditioned on static
    attributes, with drawn lengths or a given ``length``, or over a date range (``start``,
    ``end``) beyond the training window.

    Args:
        hidden: GRU state size (also the width of the per-column heads).
        layers: stacked GRU layers.
        embedding_dim: size of each token embedding.
        n_bins: quantile bins per continuous column (frequent values get their own token).
        epochs: the most passes over the training windows.
        patience: stop after this many epochs without improvement of the held-out
            negative log-likelihood (``None``: train all ``epochs``).
        batch_size: the most windows per optimisation step (small data uses smaller
            batches, so that an epoch takes at least 30 steps).
        window: the longest window trained on (longer sequences are cut).
        learning_rate: Adam's step size.
        dropout: dropout on the previous event's embeddings and inside the column heads
            (against memorising training sequences).
        weight_decay: AdamW's decoupled weight decay.
        holdout: share of entities held out for early stopping (at least 1 when there are
            10 or more entities; none below that).
        max_seconds: stop training after this many seconds (``None``: no limit).
        temperature: softmax temperature at sampling (1.0: the learned distribution).
        static_generator: registry name of the tabular generator for the entity table.
        static_params: its parameters.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        n_threads: torch threads while fitting and sampling (``None``: torch's setting).
        verbose: show a progress bar with the losses.
        rng: seed for fitting (and the default sampling stream).

    Example:
        >>> import pandas as pd
        >>> from sosie.datasets import load_rdataset
        >>> panel = load_rdataset("sampleSelection", "nlswork")[
        ...     ["idcode", "year", "race", "age", "hours", "ln_wage"]].head(600)
        >>> gen = SequenceGRUGenerator(epochs=2, hidden=32, rng=0)
        >>> gen = gen.fit(panel, entity="idcode", time="year")
        >>> synth = gen.sample(20, rng=1)
        >>> list(synth.columns) == list(panel.columns), synth["idcode"].nunique()
        (True, 20)
    """

    def __init__(
        self,
        *,
        hidden: int = 128,
        layers: int = 1,
        embedding_dim: int = 16,
        n_bins: int = 50,
        epochs: int = 100,
        patience: int | None = 6,
        batch_size: int = 128,
        window: int = 128,
        learning_rate: float = 3e-3,
        dropout: float = 0.2,
        weight_decay: float = 1e-5,
        holdout: float = 0.1,
        max_seconds: float | None = None,
        temperature: float = 1.0,
        static_generator: str = "arf",
        static_params: dict[str, Any] | None = None,
        device: str = "cpu",
        n_threads: int | None = None,
        verbose: bool = False,
        rng: Any = None,
    ):
        self.hidden = hidden
        self.layers = layers
        self.embedding_dim = embedding_dim
        self.n_bins = n_bins
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.window = window
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.holdout = holdout
        self.max_seconds = max_seconds
        self.temperature = temperature
        self.static_generator = static_generator
        self.static_params = static_params
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.rng = rng

    def _check_params(self) -> None:
        super()._check_params()
        ints = {
            "hidden": 1,
            "layers": 1,
            "embedding_dim": 1,
            "n_bins": 1,
            "epochs": 1,
            "batch_size": 1,
            "window": 2,
        }
        problems = []
        for name, lo in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                problems.append(
                    Problem(f"parameter {name!r}", f"an integer >= {lo}", repr(v), "fix the value")
                )
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 1):
            problems.append(
                Problem("parameter 'patience'", "None or an integer >= 1", repr(self.patience), "")
            )
        if not (isinstance(self.holdout, (int, float)) and 0 <= self.holdout < 0.5):
            problems.append(
                Problem("parameter 'holdout'", "a share in [0, 0.5)", repr(self.holdout), "")
            )
        for name in ("dropout", "weight_decay"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v < 1):
                problems.append(Problem(f"parameter {name!r}", "a number in [0, 1)", repr(v), ""))
        for name in ("learning_rate", "temperature"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                problems.append(Problem(f"parameter {name!r}", "a number > 0", repr(v), ""))
        if problems:
            raise SchemaError(problems)
        check_threads(self.n_threads)
        import_torch("the sequence_gru generator")
        resolve_device(self.device)

    # -- columns <-> tokens --------------------------------------------------------------
    def _token_columns(self) -> list[int]:
        """Model columns that get tokens (value flags are implied by null tokens)."""
        implied = self._implied_flags()
        return [j for j in range(len(self.events_preprocessor_.model_columns)) if j not in implied]

    def _fit_tokenizers(self, X: np.ndarray, first: np.ndarray) -> None:
        pre = self.events_preprocessor_
        has_time = self.sequence_schema_.time is not None
        toks = []
        for j in self.token_columns_:
            c = pre.model_columns[j]
            if c.kind == "continuous":
                x = X[:, j]
                if has_time and j == 0:  # gaps: first events have none
                    x = np.delete(x, first)
                    x = x if x.size else np.zeros(1)
                toks.append(Tokenizer.fit_continuous(x, n_bins=self.n_bins))
            else:
                toks.append(Tokenizer.fit_discrete(X[:, j], c.n_categories or 2))
        self.tokenizers_ = toks

    def _positions(
        self, steps: np.ndarray, remaining: np.ndarray, elapsed: np.ndarray, clock: np.ndarray
    ) -> np.ndarray:
        """Position, events still to come, time since the start, clock in the training window."""
        scale = math.log1p(max(self.max_length_, 1))
        a = np.log1p(steps) / scale
        r = np.log1p(np.maximum(remaining, 0)) / scale
        b = np.log1p(np.maximum(elapsed, 0.0)) / self.elapsed_scale_
        c = np.clip((clock - self.window_[0]) / self.window_[1], -3.0, 4.0)
        return np.stack([a, r, b, c], axis=-1).astype(np.float32)

    # -- fitting -------------------------------------------------------------------------
    def _fit_events(self, X, offsets, context, times, rng):
        torch = import_torch("the sequence_gru generator")
        device = resolve_device(self.device)
        self.token_columns_ = self._token_columns()
        lengths = np.diff(offsets)
        n_ent = len(lengths)
        n_ev = int(offsets[-1])
        first = offsets[:-1]
        owner = np.repeat(np.arange(n_ent), lengths)
        step = np.arange(n_ev) - np.repeat(first, lengths)
        self._fit_tokenizers(X, first)
        tok = np.stack(
            [t.encode(X[:, j]) for t, j in zip(self.tokenizers_, self.token_columns_, strict=True)],
            axis=1,
        )
        sizes = [t.n_tokens for t in self.tokenizers_]
        has_time = self.sequence_schema_.time is not None
        if has_time:
            tok[first, 0] = self.tokenizers_[0].encode(np.zeros(1))[0]
        prev = np.empty_like(tok)
        prev[1:] = tok[:-1]
        prev[first] = np.asarray(sizes)  # start-of-sequence tokens
        # inputs describe the *previous* event (the gap to this one is what is predicted)
        clock = np.zeros(n_ev)  # time of the previous event (the start for first events)
        elapsed = np.zeros(n_ev)
        if has_time:
            clock[1:] = times[:-1]
            clock[first] = times[first]
            elapsed = clock - times[first][owner]
            self.window_ = (float(times.min()), float(max(times.max() - times.min(), 1e-9)))
        else:
            self.window_ = (0.0, 1.0)
        self.elapsed_scale_ = float(max(math.log1p(max(float(elapsed.max()), 0.0)), 1.0))
        pos = self._positions(step, np.repeat(lengths, lengths) - 1 - step, elapsed, clock)
        cal_cur = self.calendar(times) if has_time else None
        cal_dim = 0 if cal_cur is None else _N_CAL
        if cal_cur is not None:
            cal_prev = np.empty_like(cal_cur)
            cal_prev[1:] = cal_cur[:-1]
            cal_prev[first] = cal_cur[first]
        else:
            cal_prev = cal_cur = np.zeros((n_ev, 0), dtype=np.float32)
        loss_mask = np.ones(tok.shape, dtype=np.float32)
        if has_time:
            loss_mask[first, 0] = 0.0

        # entities held out for early stopping; windows of at most `window` events
        n_hold = round(self.holdout * n_ent) if n_ent >= 10 else 0
        n_hold = max(n_hold, 1) if n_ent >= 10 and self.holdout > 0 else n_hold
        perm = rng.permutation(n_ent)
        is_hold = np.zeros(n_ent, dtype=bool)
        is_hold[perm[:n_hold]] = True
        W = int(self.window)
        starts, ends, wowner = [], [], []
        for s0, ln, i in zip(first, lengths, range(n_ent), strict=True):
            for a in range(0, int(ln), W):
                starts.append(s0 + a)
                ends.append(s0 + min(a + W, int(ln)))
                wowner.append(i)
        starts, ends, wowner = map(np.asarray, (starts, ends, wowner))
        train_w = np.flatnonzero(~is_hold[wowner])
        hold_w = np.flatnonzero(is_hold[wowner])

        T = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
        tok_t, prev_t = T(tok, torch.long), T(prev, torch.long)
        pos_t, ctx_t = T(pos), T(context)
        calp_t, calc_t = T(cal_prev), T(cal_cur)
        mask_t, owner_t = T(loss_mask), T(owner, torch.long)

        gen = make_torch_generator(seed_int(rng), "cpu")
        net = _build_net(
            torch,
            sizes,
            1 if has_time else 0,
            self.embedding_dim,
            context.shape[1],
            cal_dim,
            self.hidden,
            self.layers,
            self.dropout,
            gen,
        ).to(device)
        opt = torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        n_cols = len(sizes)

        # small data: smaller batches, so that an epoch still takes >= 30 optimisation steps
        bs = int(min(self.batch_size, max(8, len(train_w) // 30)))
        self.batch_size_ = bs

        def batches(idx: np.ndarray, shuffle: bool) -> list[np.ndarray]:
            order = idx[np.argsort(ends[idx] - starts[idx], kind="stable")]
            out = [order[k : k + bs] for k in range(0, len(order), bs)]
            if shuffle:
                out = [out[k] for k in rng.permutation(len(out))]
            return out

        def gather(b: np.ndarray):
            ln = ends[b] - starts[b]
            L = int(ln.max())
            grid = starts[b][:, None] + np.arange(L)[None, :]
            valid = np.arange(L)[None, :] < ln[:, None]
            idx = T(np.where(valid, grid, starts[b][:, None]), torch.long)
            v = T(valid.astype(np.float32))
            return idx, v

        def nll(b: np.ndarray):
            idx, valid = gather(b)
            ctx = ctx_t[owner_t[idx]]
            x_in = net.step_input(prev_t[idx], ctx, pos_t[idx], calp_t[idx])
            out, _ = net.gru(x_in, net.h0(ctx[:, 0]))
            cur = tok_t[idx]
            cur_embs = [net.embs[j](cur[..., j]) for j in range(n_cols)]
            m = mask_t[idx] * valid[..., None]
            total = out.new_zeros(())
            for j in range(n_cols):
                logits = net.heads[j](net.head_input(j, out, cur_embs, calc_t[idx]))
                ce = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, sizes[j]), cur[..., j].reshape(-1), reduction="none"
                )
                total = total + (ce * m[..., j].reshape(-1)).sum()
            return total, valid.sum()

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("sequence_gru"),
            BarColumn(),
            TextColumn("epoch {task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            disable=not self.verbose,
            transient=False,
        )
        history: list[dict[str, float]] = []
        best, best_state, bad = math.inf, None, 0
        self.stop_reason_ = "epochs"
        t0 = _time.perf_counter()
        with torch_threads(self.n_threads), progress:
            task = progress.add_task("fit", total=self.epochs, info="")
            for epoch in range(1, self.epochs + 1):
                net.train()
                tot = cnt = 0.0
                for b in batches(train_w, shuffle=True):
                    loss, n = nll(b)
                    opt.zero_grad(set_to_none=True)
                    (loss / n).backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                    opt.step()
                    tot += float(loss.detach())
                    cnt += float(n)
                row = {"epoch": epoch, "train_nll": tot / max(cnt, 1.0)}
                if len(hold_w):
                    net.eval()
                    with torch.no_grad():
                        ht = hc = 0.0
                        for b in batches(hold_w, shuffle=False):
                            loss, n = nll(b)
                            ht += float(loss)
                            hc += float(n)
                    row["holdout_nll"] = ht / max(hc, 1.0)
                history.append(row)
                score = row.get("holdout_nll", row["train_nll"])
                if score < best - 1e-4:
                    best, bad = score, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                info = " ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "epoch")
                progress.update(task, completed=epoch, info=info)
                if self.patience is not None and len(hold_w) and bad >= self.patience:
                    self.stop_reason_ = "early_stopping"
                    break
                if self.max_seconds is not None and _time.perf_counter() - t0 > self.max_seconds:
                    self.stop_reason_ = "max_seconds"
                    break
        if best_state is not None and len(hold_w):
            net.load_state_dict(best_state)
        self.net_ = net.eval()
        self.sizes_ = sizes
        self.cal_dim_ = cal_dim
        self.history_ = history
        self.epochs_ = len(history)
        self.best_nll_ = float(best)

    # -- sampling ------------------------------------------------------------------------
    def _sample_events(self, context, lengths, starts, rng, planned=None):
        torch = import_torch("the sequence_gru generator")
        device = next(self.net_.parameters()).device
        n = len(lengths)
        m = len(self.events_preprocessor_.model_columns)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        X = np.full((int(offsets[-1]), m), np.nan)
        if n == 0:
            return X
        gen = make_torch_generator(seed_int(rng), str(device))
        planned = lengths if planned is None else planned
        chunk = 4096
        with torch_threads(self.n_threads), torch.no_grad():
            for a in range(0, n, chunk):
                idx = np.arange(a, min(a + chunk, n))
                self._sample_chunk(
                    torch,
                    gen,
                    rng,
                    context[idx],
                    lengths[idx],
                    planned[idx],
                    None if starts is None else starts[idx],
                    X,
                    offsets[idx],
                )
        return X

    def _sample_chunk(self, torch, gen, rng, ctx, lengths, planned, starts, X, row0):
        net = self.net_
        device = next(net.parameters()).device
        has_time = self.sequence_schema_.time is not None
        order = np.argsort(-lengths, kind="stable")  # longest first: active entities are a prefix
        ctx, lengths, row0, planned = ctx[order], lengths[order], row0[order], planned[order]
        starts = None if starts is None else starts[order]
        B, L = len(lengths), int(lengths.max())
        n_cols = len(self.sizes_)
        ctx_t = torch.as_tensor(ctx, device=device)
        h = net.h0(ctx_t)
        prev = torch.as_tensor(np.asarray(self.sizes_), device=device).repeat(B, 1)
        now = np.zeros(B) if starts is None else starts.astype("float64").copy()
        elapsed = np.zeros(B)
        zero_gap = int(self.tokenizers_[0].encode(np.zeros(1))[0]) if has_time else 0
        tokens = np.zeros((B, L, n_cols), dtype=np.int64)
        gaps = np.zeros((B, L))
        empty = np.zeros((B, 0), dtype=np.float32)
        for t in range(L):
            k = int((lengths > t).sum())
            cal_prev = self.calendar(now[:k]) if self.cal_dim_ else empty[:k]
            pos = self._positions(np.full(k, t), planned[:k] - 1 - t, elapsed[:k], now[:k])
            x_in = net.step_input(
                prev[:k],
                ctx_t[:k],
                torch.as_tensor(pos, device=device),
                torch.as_tensor(cal_prev, device=device),
            )
            out, h_k = net.gru(x_in[:, None, :], h[:, :k].contiguous())
            h = torch.cat([h_k, h[:, k:]], dim=1)
            out = out[:, 0]
            cur_embs, cal_cur_t = [], torch.as_tensor(empty[:k], device=device)
            chosen = []
            for j in range(n_cols):
                if has_time and j == 0 and t == 0:
                    tj = torch.full((k,), zero_gap, dtype=torch.long, device=device)
                else:
                    logits = net.heads[j](net.head_input(j, out, cur_embs, cal_cur_t))
                    probs = torch.softmax(logits / self.temperature, dim=-1)
                    tj = torch.multinomial(probs, 1, generator=gen)[:, 0]
                if has_time and j == 0:
                    g = self.tokenizers_[0].decode(tj.cpu().numpy(), rng)
                    g = np.nan_to_num(np.maximum(g, 0.0)) if t > 0 else np.zeros(k)
                    gaps[:k, t] = g
                    now[:k] = now[:k] + g
                    elapsed[:k] = elapsed[:k] + g
                    if self.cal_dim_:
                        cal_cur_t = torch.as_tensor(self.calendar(now[:k]), device=device)
                cur_embs.append(net.embs[j](tj))
                chosen.append(tj)
            step_tok = torch.stack(chosen, dim=1)
            tokens[:k, t] = step_tok.cpu().numpy()
            prev = torch.cat([step_tok, prev[k:]], dim=0)
        # decode into X rows (entity i's events at row0[i] ...)
        valid = np.arange(L)[None, :] < lengths[:, None]
        rows = (row0[:, None] + np.arange(L)[None, :])[valid]
        for c, (tk, j) in enumerate(zip(self.tokenizers_, self.token_columns_, strict=True)):
            if has_time and c == 0:
                X[rows, j] = gaps[valid]
            else:
                X[rows, j] = tk.decode(tokens[..., c][valid], rng)

    # -- persistence ---------------------------------------------------------------------
    def _state_dict(self) -> dict[str, Any]:
        return {
            **self._base_state(),
            "safetensors": state_to_numpy(self.net_, "net"),
            "tokenizers": [t.state() for t in self.tokenizers_],
            "token_columns": list(self.token_columns_),
            "sizes": list(self.sizes_),
            "cal_dim": int(self.cal_dim_),
            "elapsed_scale": float(self.elapsed_scale_),
            "window": list(self.window_),
            "history": self.history_,
            "epochs": int(self.epochs_),
            "stop_reason": self.stop_reason_,
            "best_nll": float(self.best_nll_),
        }

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        torch = import_torch("the sequence_gru generator")
        self._load_base_state(state)
        self.tokenizers_ = [Tokenizer.from_state(s) for s in state["tokenizers"]]
        self.token_columns_ = [int(j) for j in state["token_columns"]]
        self.sizes_ = [int(v) for v in state["sizes"]]
        self.cal_dim_ = int(state["cal_dim"])
        self.elapsed_scale_ = float(state["elapsed_scale"])
        self.window_ = tuple(float(v) for v in state["window"])
        self.history_ = list(state.get("history", []))
        self.epochs_ = int(state["epochs"])
        self.stop_reason_ = str(state["stop_reason"])
        self.best_nll_ = float(state["best_nll"])
        gen = make_torch_generator(0, "cpu")
        net = _build_net(
            torch,
            self.sizes_,
            1 if self.sequence_schema_.time is not None else 0,
            self.embedding_dim,
            self.context_dim,
            self.cal_dim_,
            self.hidden,
            self.layers,
            self.dropout,
            gen,
        )
        net.load_state_dict(numpy_to_state(state["safetensors"], "net"))
        self.net_ = net.to(resolve_device(self.device)).eval()
