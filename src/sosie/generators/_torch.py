"""Torch helpers shared by the neural generator families (GAN, diffusion, ...).

Everything here keeps the global torch random state untouched: layers are built
without torch's default initialisation (which draws from the global generator)
and then initialised from an explicit :class:`torch.Generator`; dropout draws its
masks from an explicit generator too. Torch is imported lazily so that
``import sosie`` works without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import missing_dependency

__all__ = [
    "SeededDropout",
    "import_torch",
    "linear",
    "make_torch_generator",
    "numpy_to_state",
    "resolve_device",
    "seed_int",
    "state_to_numpy",
    "torch_threads",
]


def import_torch(purpose: str) -> Any:
    """Import torch, or raise a clear :class:`~sosie.errors.MissingDependencyError`."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise missing_dependency("torch", "deep", purpose) from None
    return torch


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; ``"cpu"``/``"cuda"`` checked."""
    torch = import_torch("neural generators")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA device is available; use 'auto'")
    return device


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, restoring the previous setting after.

    ``None`` leaves torch's setting alone. On a shared or small machine fewer threads
    than cores often train faster (OpenMP threads spin while waiting for a busy core).

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    if n is None:
        yield
        return
    torch = import_torch("neural generators")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_threads(n: Any) -> None:
    """Validate an ``n_threads`` parameter: ``None`` or an integer >= 1."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(
            f"parameter 'n_threads' must be None (torch's default) or an integer >= 1, got {n!r}"
        )


def seed_int(rng: np.random.Generator) -> int:
    """A 63-bit integer seed drawn from a numpy generator.

    Example:
        >>> seed_int(np.random.default_rng(0)) == seed_int(np.random.default_rng(0))
        True
    """
    return int(rng.integers(0, 2**63 - 1))


def make_torch_generator(seed: int, device: str = "cpu") -> Any:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (global seed untouched)."""
    torch = import_torch("neural generators")
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def linear(n_in: int, n_out: int, gen: Any) -> Any:
    """A ``torch.nn.Linear`` initialised from ``gen`` (PyTorch's default uniform bounds)."""
    torch = import_torch("neural generators")
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out)
    bound = 1.0 / float(np.sqrt(n_in))
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    return layer


def _dropout_class() -> Any:
    torch = import_torch("neural generators")

    class _SeededDropout(torch.nn.Module):
        """Inverted dropout whose masks come from an explicit generator."""

        def __init__(self, p: float, gen: Any):
            super().__init__()
            self.p = float(p)
            self.gen = gen

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            keep = torch.rand(x.shape, generator=self.gen, device=x.device) >= self.p
            return x * keep / (1.0 - self.p)

    return _SeededDropout


def SeededDropout(p: float, gen: Any) -> Any:
    """Dropout drawing its masks from ``gen`` (never the global generator)."""
    return _dropout_class()(p, gen)


def state_to_numpy(module: Any, prefix: str) -> dict[str, np.ndarray]:
    """CPU numpy copies of a module's ``state_dict`` under ``prefix.`` names."""
    return {
        f"{prefix}.{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()
    }


def numpy_to_state(arrays: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Inverse of :func:`state_to_numpy`: a CPU ``state_dict`` for ``module.load_state_dict``."""
    torch = import_torch("neural generators")
    p = prefix + "."
    return {
        k[len(p) :]: torch.as_tensor(np.asarray(v)).cpu()
        for k, v in arrays.items()
        if k.startswith(p)
    }
