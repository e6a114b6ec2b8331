"""The data card of a text dataset made by prompting an LLM."""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from ..card import (
    _DEFAULT_USE,
    _GENERIC_LIMITS,
    CARD_FORMAT,
    evaluation_section,
    synthetic_section,
)
from ..generators.base import _versions
from ._filters import FilterResult
from ._generate import GenerationResult
from ._spec import TextSpec

__all__ = ["text_card"]

_LLM_LIMITS = [
    "Texts are written by a language model prompted with the spec: they reflect the model's "
    "knowledge, style and biases as much as the few-shot seeds; facts in them may be invented.",
    "Labels are the ones the prompt asked for, not annotations: check them (the label "
    "consistency filter and the TSTR evidence) before training on them.",
    "Few-shot seeds are shown to the model verbatim: the memorisation guard removes copies of "
    "them, but paraphrases of real texts can remain. This is no differential-privacy guarantee.",
]


def _texts_sha256(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def text_card(
    spec: TextSpec,
    result: GenerationResult,
    *,
    model: str,
    seeds: pd.DataFrame | None = None,
    seeds_source: str | None = None,
    text_field: str = "text",
    filters: FilterResult | None = None,
    output: str | Path | None = None,
    evaluation: Any = None,
    rng_seed: int | None = None,
    intended_use: str | None = None,
) -> dict[str, Any]:
    """The data card (JSON-ready) of a generated text dataset: spec, model, seeds, filters,
    generation counts, evidence and known limits; :func:`sosie.card.write_card` writes it.

    Args:
        spec: the spec the records were generated from.
        result: what :func:`generate_text` returned.
        model: the model that wrote the texts (e.g. ``client.name`` and the model file).
        seeds: the real few-shot seeds (their fingerprint is recorded, not their texts).
        seeds_source: where the seeds came from (a path or dataset name).
        text_field: the seeds' text column.
        filters: the :func:`filter_texts` result, when the records were filtered.
        output: the dataset file (its SHA-256 is recorded).
        evaluation: an :class:`~sosie.evaluate.Evaluation` of the dataset.
        rng_seed: the seed of the generation plan.
        intended_use: what the data is for.

    Example:
        >>> from sosie.text import GenerationResult, TextSpec
        >>> spec = TextSpec.from_dict({"instructions": "Write a review.", "labels": {"a": 1, "b": 1}})
        >>> res = GenerationResult(pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"]}),
        ...                        stats={"made": 2})
        >>> card = text_card(spec, res, model="llama_cpp: SmolLM2")
        >>> card["generator"]["name"], card["synthetic"]["n_rows"]
        ('llm_prompting', 2)
    """
    n_rows = len(filters.kept) if filters is not None else len(result.data)
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "version": 1,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "library_versions": _versions(),
        "generator": {
            "name": "llm_prompting",
            "class": "sosie.text.generate_text",
            "parameters": {"model": model, **spec.to_dict()},
            "seed_entropy": rng_seed,
            "fit_seconds": result.stats.get("seconds"),
        },
    }
    if seeds is not None:
        texts = seeds[text_field].astype(str).tolist() if text_field in seeds.columns else []
        card["input"] = {
            "fingerprint_sha256": _texts_sha256(texts),
            "n_rows": len(seeds),
            "n_columns": seeds.shape[1],
            "source": seeds_source,
            "role": f"few-shot seeds ({spec.few_shot_k} per prompt) and the memorisation "
            "guard's reference",
        }
    card["synthetic"] = synthetic_section(output, n_rows, None, rng_seed)
    card["text"] = {
        "model": model,
        "task": spec.task,
        "requested": spec.counts,
        "generation": result.stats,
        "failures": len(result.failures),
        "filters": None if filters is None else filters.counts,
        "kept_by_label": None
        if filters is None or "label" not in filters.kept.columns
        else {str(k): int(v) for k, v in filters.kept["label"].value_counts().items()},
    }
    card["privacy"] = {
        "differentially_private": False,
        "budget_spent": None,
        "note": "not differentially private: the model saw the few-shot seeds verbatim; see "
        "the copy and memorisation checks in the evaluation",
    }
    if evaluation is not None:
        card["evaluation"] = evaluation_section(evaluation)
    card["intended_use"] = intended_use or _DEFAULT_USE
    card["known_limits"] = [*_LLM_LIMITS, *_GENERIC_LIMITS[1:]]
    return card
