"""Locale-aware fake values for PII and free text, drawn from a seeded Faker instance."""

from __future__ import annotations

import numpy as np

from ..errors import Problem, SchemaError

_PROVIDERS = {
    "email": "email",
    "phone": "phone_number",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "address": "address",
    "street_address": "street_address",
    "ssn": "ssn",
    "credit_card": "credit_card_number",
    "ipv4": "ipv4",
    "iban": "iban",
}

POOL_SIZE = 20_000


def _faker(locale: str, rng: np.random.Generator):
    from faker import Faker

    try:
        fk = Faker(locale)
    except AttributeError as e:
        raise SchemaError(
            Problem(
                "field 'locale'", "a Faker locale such as 'en_US'", repr(locale), "fix the locale"
            )
        ) from e
    fk.seed_instance(int(rng.integers(0, 2**31 - 1)))
    return fk


def fake_values(
    kind: str, n: int, rng: np.random.Generator, *, locale: str = "en_US"
) -> np.ndarray:
    """``n`` fake values of PII ``kind`` (object array).

    Faker is slow per call, so for large ``n`` a pool of up to 20,000 values is
    drawn from a seeded Faker instance and rows sample from it with ``rng``.

    Example:
        >>> vals = fake_values("email", 3, np.random.default_rng(0))
        >>> all("@" in v for v in vals)
        True
    """
    if kind not in _PROVIDERS:
        raise SchemaError(
            Problem(
                "field 'pii_kind'",
                "one of " + ", ".join(_PROVIDERS),
                repr(kind),
                "use a supported kind or declare the column text",
            )
        )
    if n == 0:
        return np.array([], dtype=object)
    fk = _faker(locale, rng)
    make = getattr(fk, _PROVIDERS[kind])
    size = min(n, POOL_SIZE)
    pool = [make() for _ in range(size)]
    if kind in ("address", "street_address"):
        pool = [p.replace("\n", ", ") for p in pool]
    pool_arr = np.array(pool, dtype=object)
    if size == n:
        return pool_arr
    return pool_arr[rng.integers(0, size, size=n)]


def fake_text(
    n_words: np.ndarray, rng: np.random.Generator, *, locale: str = "en_US"
) -> np.ndarray:
    """Sentences of the requested word counts from the locale's word list.

    Example:
        >>> out = fake_text(np.array([3, 5]), np.random.default_rng(0))
        >>> [len(s.split()) for s in out]
        [3, 5]
    """
    n = len(n_words)
    if n == 0:
        return np.array([], dtype=object)
    fk = _faker(locale, rng)
    vocab = np.array(fk.words(nb=2000, unique=False), dtype=object)
    counts = np.maximum(np.asarray(n_words, dtype=np.int64), 1)
    total = int(counts.sum())
    words = vocab[rng.integers(0, len(vocab), size=total)]
    ends = np.cumsum(counts)
    starts = ends - counts
    out = np.empty(n, dtype=object)
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        s = " ".join(words[a:b])
        out[i] = s[:1].upper() + s[1:] + "."
    return out
