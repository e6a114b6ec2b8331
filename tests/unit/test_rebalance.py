"""Rebalancing rare classes on real data with a rare class (lending_club, ~5% bad loans)."""

from __future__ import annotations

import pandas as pd
import pytest

import sosie
from sosie.errors import InvalidDataError


@pytest.fixture(scope="module")
def loans():
    df = sosie.datasets.load_rdataset("modeldata", "lending_club")
    return df.sample(4000, random_state=0).reset_index(drop=True)


def test_ratio_and_counts(loans):
    counts = loans["Class"].value_counts()
    rare, common = counts.index[-1], counts.index[0]
    assert counts[rare] / len(loans) < 0.1
    out = sosie.rebalance(loans, "Class", ratio=0.5, rng=0)
    c = out["Class"].value_counts()
    assert c[common] == counts[common] and c[rare] == round(0.5 * counts[common])
    assert out["synthetic"].sum() == c[rare] - counts[rare]
    assert (out.loc[out["synthetic"], "Class"] == rare).all()
    pd.testing.assert_frame_equal(out.loc[~out["synthetic"]].drop(columns="synthetic"), loans)
    out2 = sosie.rebalance(
        loans, "Class", counts={rare: counts[rare] + 100}, rng=0, marker="is_syn"
    )
    assert out2["is_syn"].sum() == 100


def test_synthetic_minority_looks_like_the_real_minority(loans):
    counts = loans["Class"].value_counts()
    rare = counts.index[-1]
    out = sosie.rebalance(loans, "Class", ratio=1.0, rng=1)
    syn = out[out["synthetic"]]
    real_rare = loans[loans["Class"] == rare]
    real_common = loans[loans["Class"] != rare]
    col = "int_rate"
    # the synthetic minority's interest rates resemble the real minority's, not the majority's
    assert abs(syn[col].mean() - real_rare[col].mean()) < abs(
        syn[col].mean() - real_common[col].mean()
    )


def test_same_seed_same_rows(loans):
    a = sosie.rebalance(loans, "Class", ratio=0.3, rng=7)
    b = sosie.rebalance(loans, "Class", ratio=0.3, rng=7)
    pd.testing.assert_frame_equal(a, b)


def test_fitted_generator_is_reused(loans):
    gen = sosie.GaussianCopulaGenerator(rng=0).fit(loans)
    out = sosie.rebalance(loans, "Class", ratio=0.2, generator=gen, rng=0)
    assert out["synthetic"].any()


def test_errors(loans):
    with pytest.raises(InvalidDataError, match="exactly one"):
        sosie.rebalance(loans, "Class", rng=0)
    with pytest.raises(InvalidDataError, match="never drops"):
        sosie.rebalance(loans, "Class", counts={loans["Class"].iloc[0]: 1})
    with pytest.raises(InvalidDataError, match="nope"):
        sosie.rebalance(loans, "nope", ratio=1.0)
    with pytest.raises(InvalidDataError, match="unknown class"):
        sosie.rebalance(loans, "Class", counts={"maybe": 10})
    with pytest.raises(InvalidDataError, match=r"\(0, 1\]"):
        sosie.rebalance(loans, "Class", ratio=2.0)
