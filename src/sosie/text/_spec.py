"""The text generation spec: what to ask an LLM for, how often, and how to vary it.

A spec is a YAML file or a mapping::

    task: classification            # or: instruction (instruction / response pairs)
    instructions: Write one realistic customer review of a food product bought online.
    labels:                         # classification: a target count and meaning per label
      positive: {count: 40, description: a review that is happy with the product}
      negative: {count: 40, description: a review that is unhappy with the product}
    # count: 100                    # instruction task: how many pairs
    slots:                          # drawn per request (uniformly) for diversity
      product: [coffee, green tea, dark chocolate, olive oil]
      persona: [a student, a retired teacher, a professional chef]
      style: [casual, formal, enthusiastic, terse]
      length: [one sentence, two or three sentences, a short paragraph]
    few_shot: {k: 2}                # real examples per request (passed to generate_text)
    sampling:
      temperature: [0.7, 1.1]       # a schedule: linear from first to last request
      top_p: 0.95
      max_tokens: 160
    max_retries: 3                  # new seed per retry when the JSON is missing or invalid

Every request asks for one JSON object (``{"text": ...}`` or ``{"instruction": ...,
"response": ...}``); the label is assigned, not generated, so that the counts are met.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError

__all__ = ["TextSpec", "load_text_spec"]

TASKS = ("classification", "instruction")
_KEYS = ("task", "instructions", "labels", "count", "slots", "few_shot", "sampling", "max_retries")


@dataclass(frozen=True)
class TextSpec:
    """A validated text generation spec (see the module docstring for the YAML form).

    Example:
        >>> spec = TextSpec.from_dict({"task": "classification", "instructions": "Write a review.",
        ...     "labels": {"pos": {"count": 2, "description": "happy"}, "neg": 1}})
        >>> spec.counts, spec.n_records
        ({'pos': 2, 'neg': 1}, 3)
    """

    task: str
    instructions: str
    counts: dict[str, int]
    descriptions: dict[str, str] = field(default_factory=dict)
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    few_shot_k: int = 0
    temperature: tuple[float, float] = (0.8, 0.8)
    top_p: tuple[float, float] = (0.95, 0.95)
    max_tokens: int = 200
    max_retries: int = 3

    @property
    def n_records(self) -> int:
        """How many records the spec asks for."""
        return sum(self.counts.values())

    @property
    def fields(self) -> tuple[str, ...]:
        """The JSON fields each answer must hold."""
        return ("text",) if self.task == "classification" else ("instruction", "response")

    def to_dict(self) -> dict[str, Any]:
        """The spec as a mapping that :meth:`from_dict` reads back (for data cards)."""
        out: dict[str, Any] = {"task": self.task, "instructions": self.instructions}
        if self.task == "classification":
            out["labels"] = {
                k: {"count": v, "description": self.descriptions.get(k, "")}
                for k, v in self.counts.items()
            }
        else:
            out["count"] = self.counts["instruction"]
        out["slots"] = {k: list(v) for k, v in self.slots.items()}
        out["few_shot"] = {"k": self.few_shot_k}
        out["sampling"] = {
            "temperature": list(self.temperature),
            "top_p": list(self.top_p),
            "max_tokens": self.max_tokens,
        }
        out["max_retries"] = self.max_retries
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "spec") -> TextSpec:
        """Validate a mapping; every problem is reported at once (:class:`SpecError`)."""
        problems: list[Problem] = []
        if not isinstance(d, Mapping):
            raise SpecError(
                [Problem(where, "a mapping (YAML object)", type(d).__name__, "see the docs")]
            )
        for key in d:
            if key not in _KEYS:
                close = difflib.get_close_matches(str(key), _KEYS, n=1)
                problems.append(
                    Problem(
                        f"{where}.{key}",
                        "a known key (" + ", ".join(_KEYS) + ")",
                        "an unknown key",
                        f"did you mean {close[0]!r}?" if close else "remove it",
                    )
                )
        task = d.get("task", "classification")
        if task not in TASKS:
            problems.append(
                Problem(f"{where}.task", "'classification' or 'instruction'", repr(task), "fix it")
            )
        instructions = d.get("instructions")
        if not isinstance(instructions, str) or not instructions.strip():
            problems.append(
                Problem(
                    f"{where}.instructions",
                    "the task in words (a non-empty string)",
                    repr(instructions),
                    "e.g. instructions: Write one customer review of a food product.",
                )
            )
        counts: dict[str, int] = {}
        descriptions: dict[str, str] = {}
        if task == "classification":
            labels = d.get("labels")
            if not isinstance(labels, Mapping) or not labels:
                problems.append(
                    Problem(
                        f"{where}.labels",
                        "a mapping label -> count or {count, description}",
                        repr(labels),
                        "e.g. labels: {positive: 50, negative: 50}",
                    )
                )
            else:
                for name, v in labels.items():
                    n, desc = (
                        (v.get("count"), v.get("description", ""))
                        if isinstance(v, Mapping)
                        else (v, "")
                    )
                    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                        problems.append(
                            Problem(
                                f"{where}.labels.{name}.count",
                                "an integer >= 0",
                                repr(n),
                                "give how many examples of this label to generate",
                            )
                        )
                        continue
                    counts[str(name)] = n
                    descriptions[str(name)] = str(desc or "")
        elif task == "instruction":
            n = d.get("count")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                problems.append(
                    Problem(f"{where}.count", "an integer >= 1", repr(n), "e.g. count: 100")
                )
            else:
                counts = {"instruction": n}
        slots: dict[str, tuple[str, ...]] = {}
        raw_slots = d.get("slots") or {}
        if not isinstance(raw_slots, Mapping):
            problems.append(
                Problem(f"{where}.slots", "a mapping name -> list of values", repr(raw_slots), "")
            )
        else:
            for name, values in raw_slots.items():
                if (
                    not isinstance(values, (list, tuple))
                    or not values
                    or not all(isinstance(v, (str, int, float)) for v in values)
                ):
                    problems.append(
                        Problem(
                            f"{where}.slots.{name}",
                            "a non-empty list of values",
                            repr(values),
                            f"e.g. {name}: [a, b, c]",
                        )
                    )
                    continue
                slots[str(name)] = tuple(str(v) for v in values)
        few = d.get("few_shot") or {}
        k = few.get("k", 0) if isinstance(few, Mapping) else few
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 20:
            problems.append(
                Problem(f"{where}.few_shot.k", "an integer in [0, 20]", repr(k), "e.g. k: 2")
            )
            k = 0
        sampling = d.get("sampling") or {}
        if not isinstance(sampling, Mapping):
            problems.append(Problem(f"{where}.sampling", "a mapping", repr(sampling), ""))
            sampling = {}
        temperature = _schedule(
            sampling.get("temperature", 0.8), 0.0, 2.0, f"{where}.sampling.temperature", problems
        )
        top_p = _schedule(
            sampling.get("top_p", 0.95), 1e-6, 1.0, f"{where}.sampling.top_p", problems
        )
        max_tokens = sampling.get("max_tokens", 200)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 8:
            problems.append(
                Problem(
                    f"{where}.sampling.max_tokens", "an integer >= 8", repr(max_tokens), "e.g. 200"
                )
            )
        retries = d.get("max_retries", 3)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
            problems.append(
                Problem(f"{where}.max_retries", "an integer in [0, 20]", repr(retries), "e.g. 3")
            )
        if problems:
            raise SpecError(problems)
        return cls(
            task=task,
            instructions=instructions.strip(),
            counts=counts,
            descriptions=descriptions,
            slots=slots,
            few_shot_k=k,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            max_retries=retries,
        )


def _schedule(
    v: Any, lo: float, hi: float, where: str, problems: list[Problem]
) -> tuple[float, float]:
    pair = v if isinstance(v, (list, tuple)) else (v, v)
    ok = (
        len(pair) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
        and all(lo <= float(x) <= hi for x in pair)
    )
    if not ok:
        problems.append(
            Problem(
                where,
                f"a number in [{lo:g}, {hi:g}] or a [first, last] schedule",
                repr(v),
                "e.g. 0.8 or [0.7, 1.1]",
            )
        )
        return (lo, lo)
    return (float(pair[0]), float(pair[1]))


def load_text_spec(source: TextSpec | Mapping[str, Any] | str | os.PathLike[str]) -> TextSpec:
    """A :class:`TextSpec` from a spec, a mapping or a YAML file.

    Raises:
        SpecError: every problem of the spec, named by its key.

    Example:
        >>> load_text_spec({"task": "instruction", "instructions": "Ask about cooking.",
        ...                 "count": 5}).fields
        ('instruction', 'response')
    """
    if isinstance(source, TextSpec):
        return source
    if isinstance(source, Mapping):
        return TextSpec.from_dict(source)
    import yaml

    path = Path(source)
    if not path.is_file():
        raise SpecError(
            [Problem("spec file", "an existing YAML file", str(path), "check the path")]
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpecError(
            [
                Problem(
                    f"spec file {path.name}", "valid YAML", str(e).splitlines()[0], "fix the YAML"
                )
            ]
        ) from None
    return TextSpec.from_dict(data, where=path.name)
