"""The LLM as judge: ask a model which label fits each text, as a label-consistency check."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from ._llm import LLMClient

__all__ = ["judge_labels"]

_SYSTEM = (
    "You are a careful annotator. Read the text and choose the one label that fits it best. "
    'Answer with a JSON object {"label": "<one of the labels>"} and nothing else.'
)


def _prompt(text: str, labels: Sequence[str], descriptions: Mapping[str, str]) -> str:
    lines = [
        f"- {lab}: {descriptions[lab]}" if lab in descriptions else f"- {lab}" for lab in labels
    ]
    return "Labels:\n" + "\n".join(lines) + f"\n\nText:\n{text}\n\nWhich label fits the text?"


def _parse(answer: str, labels: Sequence[str]) -> str | None:
    try:
        got = json.loads(answer)
        lab = str(got.get("label", "")).strip() if isinstance(got, dict) else ""
    except (json.JSONDecodeError, TypeError):
        lab = answer.strip().strip('"').strip()
    by_lower = {x.lower(): x for x in labels}
    return by_lower.get(lab.lower())


def judge_labels(
    texts: Sequence[str],
    labels: Sequence[str],
    client: LLMClient,
    *,
    descriptions: Mapping[str, str] | None = None,
    max_tokens: int = 24,
    seed: int = 0,
) -> list[str | None]:
    """Ask ``client`` which of ``labels`` fits each text (greedy, schema-constrained JSON).

    Each text gets one request: the label list (with ``descriptions`` where given), the text,
    and a JSON schema whose ``label`` is one of ``labels``. An answer that names no label
    (a backend without constrained decoding can do that) gives ``None``. Requests run
    ``client.concurrency`` at a time.

    Use it as a second opinion next to the classifier trained on real seeds
    (``filter_texts(..., judge=client)``); a small local model is a weak judge (measured in
    ``benchmarks/results/text.md``), a strong hosted one a good one.

    Args:
        texts: the texts to label.
        labels: the label set.
        client: any :class:`LLMClient`.
        descriptions: a sentence per label (e.g. the spec's label descriptions).
        max_tokens: tokens per answer.
        seed: the sampling seed of every request (temperature 0).

    Returns:
        The judged label of each text, or ``None``.

    Raises:
        LLMError: the backend failed (after its own retries).

    Example:
        >>> from sosie.text import Completion
        >>> class Keyword:  # a stand-in client: "great" when the text says so
        ...     name, concurrency = "keyword", 1
        ...     def complete(self, messages, **kw):
        ...         text = messages[-1]["content"].split("Text:")[1]
        ...         return Completion('{"label": "%s"}' % ("great" if "love" in text else "other"))
        >>> judge_labels(["I love it", "Stale."], ["great", "other"], Keyword())
        ['great', 'other']
    """
    labels = [str(x) for x in labels]
    if len(labels) < 2:
        raise ValueError(f"labels: expected at least two labels, found {labels!r}")
    desc = {str(k): str(v) for k, v in (descriptions or {}).items()}
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": labels}},
        "required": ["label"],
    }

    def one(text: str) -> str | None:
        messages = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": _prompt(str(text), labels, desc)},
        ]
        answer = client.complete(
            messages,
            temperature=0.0,
            top_p=1.0,
            max_tokens=int(max_tokens),
            seed=int(seed),
            json_schema=schema,
        )
        return _parse(answer.text, labels)

    workers = max(1, int(getattr(client, "concurrency", 1) or 1))
    if workers == 1:
        return [one(t) for t in texts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, texts))
