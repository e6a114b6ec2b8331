"""Noise sources and mechanisms: the right distributions, seeded or secure, global state untouched."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sosie.privacy import NoiseSource, exponential_mechanism, gaussian_mechanism


@pytest.mark.parametrize("secure", [False, True])
def test_noise_has_the_right_distribution(secure, global_rng_guard):
    noise = NoiseSource.secure() if secure else NoiseSource.seeded(np.random.default_rng(0))
    u = noise.uniform(20000)
    assert ((u > 0) & (u < 1)).all()
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    z = noise.standard_normal((100, 200))
    assert z.shape == (100, 200)
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-4
    g = noise.gumbel(20000)
    assert stats.kstest(g, "gumbel_r").pvalue > 1e-4
    assert noise.is_secure is secure


def test_seeded_noise_is_reproducible_and_secure_noise_is_not():
    a = NoiseSource.seeded(np.random.default_rng(5)).standard_normal(8)
    b = NoiseSource.seeded(np.random.default_rng(5)).standard_normal(8)
    assert np.array_equal(a, b)
    c, d = NoiseSource.secure().standard_normal(8), NoiseSource.secure().standard_normal(8)
    assert not np.array_equal(c, d)
    assert "urandom" in NoiseSource.secure().description
    with pytest.raises(TypeError):
        NoiseSource(None)


def test_gaussian_mechanism_adds_noise_of_the_given_scale():
    noise = NoiseSource.seeded(np.random.default_rng(1))
    out = gaussian_mechanism(np.full(50000, 10.0), 3.0, noise)
    assert out.mean() == pytest.approx(10.0, abs=0.05)
    assert out.std() == pytest.approx(3.0, rel=0.02)


@pytest.mark.parametrize("secure", [False, True])
def test_exponential_mechanism_samples_the_softmax(secure):
    # Setup: P(i) proportional to exp(eps * q_i / (2 * sensitivity))
    noise = NoiseSource.secure() if secure else NoiseSource.seeded(np.random.default_rng(2))
    scores, eps, sens = np.array([0.0, 1.0, 2.0, 2.0]), 2.0, 0.5
    expected = np.exp(eps * scores / (2 * sens))
    expected /= expected.sum()
    # Run
    picks = np.array([exponential_mechanism(scores, eps, sens, noise) for _ in range(20000)])
    # Assert
    freq = np.bincount(picks, minlength=4) / picks.size
    assert np.abs(freq - expected).max() < 0.015
    assert exponential_mechanism(scores, float("inf"), sens, noise) == 2  # first best
    with pytest.raises(ValueError):
        exponential_mechanism(np.array([]), 1.0, 1.0, noise)
