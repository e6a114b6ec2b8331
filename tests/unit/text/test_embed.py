"""The offline sentence encoder against sentence-transformers' own output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from sosie.text import SentenceEncoder, default_encoder

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_embeddings_match_sentence_transformers(backend):
    # Setup: the reference embeddings sentence-transformers 6.2 computed for these texts
    # (short, empty, accented/CJK/emoji, and 400 words: truncated at 256 tokens)
    if backend == "torch":
        pytest.importorskip("torch")
    enc = SentenceEncoder(backend=backend)
    # Run
    got = enc.encode(REFERENCE["texts"])
    # Assert: the same vectors (float32 round-off), unit length
    ref = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert got.shape == ref.shape == (7, 384)
    assert np.abs(got - ref).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_embeddings():
    # Setup: texts of very different lengths, encoded in batches of 2 and all at once
    texts = REFERENCE["texts"]
    # Run
    small = SentenceEncoder(batch_size=2).encode(texts)
    one = default_encoder().encode(texts[::-1])[::-1]
    # Assert
    assert np.abs(small - one).max() < 1e-5


def test_similar_meanings_are_closer_than_unrelated_ones():
    e = default_encoder().encode(
        ["This coffee tastes wonderful.", "Great-tasting coffee!", "The train was late again."]
    )
    assert e[0] @ e[1] > 0.5 > e[0] @ e[2]


def test_bad_backend_is_named():
    with pytest.raises(ValueError, match="backend must be"):
        SentenceEncoder(backend="jax")
