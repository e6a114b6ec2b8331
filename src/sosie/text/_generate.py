"""Generate a labelled text dataset by prompting an LLM, resumably, with bounded retries.

:func:`generate_text` turns a :class:`~sosie.text.TextSpec` into a plan of requests (one per
record: its label, slot values, few-shot examples, seed, temperature and top-p), all drawn up
front from ``rng`` so that a resumed run asks exactly what the first run would have asked.
Each request wants one JSON object; an answer that is not valid JSON with the spec's fields
(non-empty strings) is asked again with a new seed, up to ``max_retries`` times. Answers are
appended to ``<out>.partial`` as they arrive (JSON Lines, one record per line, flushed); at
the end the records are sorted by id and written atomically to ``out``, and the partial file
is removed. Re-running with the same spec, seeds and ``rng`` resumes: records in ``out`` or in
a partial file left by an interrupted run are kept, and only the missing (or failed) requests
are asked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ._filters import require_columns
from ._llm import LLMClient
from ._spec import TextSpec, load_text_spec

__all__ = ["GenerationResult", "generate_text"]

log = logging.getLogger(__name__)
_RETRY_SEED_STEP = 1_000_003  # retry k of a request uses seed + k * step (mod _SEED_MOD)
_SEED_MOD = 2**31 - 1


@dataclass
class GenerationResult:
    """What :func:`generate_text` made.

    Attributes:
        data: one row per record: ``id``, ``label``, the spec's fields (``text``, or
            ``instruction`` and ``response``), ``slot_<name>`` per slot, ``seed``,
            ``attempts``, ``temperature``, ``top_p``, ``model``, ``seconds``.
        failures: requests that never produced a valid answer (id, label, last reason).
        stats: counts (asked, made, failed, retried, resumed) and timings.
        path: the JSON Lines file, when one was written.
    """

    data: pd.DataFrame
    failures: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _plan(spec: TextSpec, seeds: pd.DataFrame | None, label_field: str, gen: np.random.Generator):
    labels = [lab for lab, n in spec.counts.items() for _ in range(n)]
    order = gen.permutation(len(labels))
    n = len(labels)
    by_label: dict[str, np.ndarray] = {}
    if seeds is not None and spec.few_shot_k:
        if spec.task == "classification":
            for lab in spec.counts:
                by_label[lab] = np.flatnonzero(seeds[label_field].astype(str).to_numpy() == lab)
        else:
            by_label["instruction"] = np.arange(len(seeds))
    jobs = []
    for i, j in enumerate(order):
        label = labels[j]
        frac = i / max(1, n - 1)
        pool = by_label.get(label if spec.task == "classification" else "instruction")
        shots = (
            gen.choice(pool, size=min(spec.few_shot_k, len(pool)), replace=False).tolist()
            if pool is not None and len(pool)
            else []
        )
        jobs.append(
            {
                "id": i,
                "label": label,
                "slots": {k: v[int(gen.integers(len(v)))] for k, v in spec.slots.items()},
                "shots": shots,
                "seed": int(gen.integers(0, 2**31 - 1)),
                "temperature": spec.temperature[0]
                + frac * (spec.temperature[1] - spec.temperature[0]),
                "top_p": spec.top_p[0] + frac * (spec.top_p[1] - spec.top_p[0]),
            }
        )
    return jobs


def _messages(
    spec: TextSpec, job: dict[str, Any], seeds: pd.DataFrame | None, text_fields: Sequence[str]
) -> list[dict[str, str]]:
    keys = ", ".join(f'"{f}"' for f in spec.fields)
    system = (
        f"{spec.instructions}\nAnswer with one JSON object with the keys {keys} (strings) "
        "and nothing else."
    )
    lines = []
    if spec.task == "classification":
        desc = spec.descriptions.get(job["label"])
        lines.append(f"Label: {job['label']}" + (f" ({desc})." if desc else "."))
    if job["slots"]:
        lines.append("Details: " + "; ".join(f"{k}: {v}" for k, v in job["slots"].items()) + ".")
    if job["shots"] and seeds is not None:
        lines.append("Real examples, for tone and format only (do not copy them):")
        for r in job["shots"]:
            row = seeds.iloc[int(r)]
            example = {f: str(row[c]) for f, c in zip(spec.fields, text_fields, strict=True)}
            lines.append(json.dumps(example, ensure_ascii=False))
    lines.append("Write a new one.")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_record(text: str, fields: Sequence[str]) -> tuple[dict[str, str] | None, str]:
    """The first JSON object in ``text`` with every field a non-empty string, or why not.

    Example:
        >>> parse_record('```json\\n{"text": " Great tea. "}\\n```', ["text"])
        ({'text': 'Great tea.'}, '')
        >>> parse_record('{"text": ""}', ["text"])[1]
        "field 'text' is empty"
    """
    m = _JSON_OBJECT.search(text or "")
    if not m:
        return None, "no JSON object in the answer"
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError as e:
        return None, f"invalid JSON ({e.msg})"
    if not isinstance(obj, dict):
        return None, "the JSON is not an object"
    out = {}
    for f in fields:
        v = obj.get(f)
        if not isinstance(v, str):
            return None, f"field {f!r} missing or not a string"
        if not v.strip():
            return None, f"field {f!r} is empty"
        out[f] = v.strip()
    return out, ""


def _schema(fields: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f: {"type": "string", "minLength": 1} for f in fields},
        "required": list(fields),
    }


def _run_job(
    client: LLMClient,
    spec: TextSpec,
    job: dict[str, Any],
    seeds: pd.DataFrame | None,
    text_fields: Sequence[str],
) -> dict[str, Any]:
    messages = _messages(spec, job, seeds, text_fields)
    schema = _schema(spec.fields)
    reason = ""
    t0 = time.perf_counter()
    model = ""
    for attempt in range(spec.max_retries + 1):
        seed = (job["seed"] + attempt * _RETRY_SEED_STEP) % _SEED_MOD
        out = client.complete(
            messages,
            temperature=job["temperature"],
            top_p=job["top_p"],
            max_tokens=spec.max_tokens,
            seed=seed,
            json_schema=schema,
        )
        model = out.model
        record, reason = parse_record(out.text, spec.fields)
        if record is None and out.finish_reason == "length":
            reason += f" (the answer hit max_tokens={spec.max_tokens})"
        if record is not None:
            return {
                "id": job["id"],
                "label": job["label"] if spec.task == "classification" else None,
                **record,
                **{f"slot_{k}": v for k, v in job["slots"].items()},
                "seed": seed,
                "attempts": attempt + 1,
                "temperature": round(job["temperature"], 4),
                "top_p": round(job["top_p"], 4),
                "model": model,
                "seconds": round(time.perf_counter() - t0, 3),
            }
    return {
        "id": job["id"],
        "label": job["label"],
        "failed": reason,
        "attempts": spec.max_retries + 1,
    }


def _planned(rec: dict[str, Any], job: dict[str, Any], spec: TextSpec) -> bool:
    """Whether a record on disk answers this job of the plan: its label and its request seed
    (the job's seed, shifted per retry as in :func:`_run_job`) match."""
    label = job["label"] if spec.task == "classification" else None
    try:
        shift = (int(rec.get("attempts", 1)) - 1) * _RETRY_SEED_STEP
        return rec.get("label") == label and int(rec["seed"]) == (job["seed"] + shift) % _SEED_MOD
    except (KeyError, TypeError, ValueError):
        return False


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        if isinstance(rec, dict) and "id" in rec:
            out.append(rec)
    return out


def generate_text(
    spec: TextSpec | Mapping[str, Any] | str | os.PathLike[str],
    client: LLMClient,
    *,
    out: str | os.PathLike[str] | None = None,
    seeds: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    text_field: str | Sequence[str] = "text",
    label_field: str = "label",
    rng: RNGLike = 0,
    resume: bool = True,
    verbose: bool = True,
) -> GenerationResult:
    """Generate the records a spec asks for with an LLM client.

    Args:
        spec: a :class:`TextSpec`, a mapping, or a YAML file.
        client: any :class:`~sosie.text.LLMClient` (its ``concurrency`` sets how many
            requests run at once).
        out: a JSON Lines file to write (atomically at the end; ``<out>.partial`` while
            running, from which an interrupted run resumes); ``None`` keeps records in memory.
        seeds: real examples for few-shot prompts (a DataFrame or a list of dicts) with
            ``text_field`` (for an instruction task: two columns, instruction and response)
            and, for classification, ``label_field``.
        text_field: the seeds' text column(s).
        label_field: the seeds' label column.
        rng: seed of the plan (labels' order, slot values, few-shot picks, request seeds).
        resume: continue from ``<out>.partial`` (and skip records already in ``out``).
        verbose: a progress bar.

    Returns:
        A :class:`GenerationResult`.

    Raises:
        SpecError: an invalid spec. InvalidDataError: seeds without the named columns.

    Example:
        >>> from sosie.text import Completion
        >>> class Canned:  # a stand-in client; use LlamaCppClient() or a server in practice
        ...     name, concurrency = "canned", 1
        ...     def complete(self, messages, **kw):
        ...         return Completion('{"text": "Fine tea, would buy again."}', model="canned")
        >>> res = generate_text({"instructions": "Write a tea review.",
        ...                      "labels": {"positive": 2, "negative": 1}}, Canned(), verbose=False)
        >>> sorted(res.data["label"]), res.stats["made"]
        (['negative', 'positive', 'positive'], 3)
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    sp = load_text_spec(spec)
    fields_in = [text_field] if isinstance(text_field, str) else list(text_field)
    seed_df = None
    if seeds is not None:
        seed_df = seeds if isinstance(seeds, pd.DataFrame) else pd.DataFrame(list(seeds))
        need = list(fields_in) + ([label_field] if sp.task == "classification" else [])
        if len(fields_in) != len(sp.fields):
            raise InvalidDataError(
                [
                    Problem(
                        "text_field",
                        f"{len(sp.fields)} seed column(s) for {list(sp.fields)}",
                        repr(text_field),
                        "name one text column per field of the task",
                    )
                ]
            )
        require_columns(
            seed_df,
            need,
            "seeds column",
            "a column of the few-shot seeds",
            "pass text_field= / label_field= naming the seeds' columns",
        )
    jobs = _plan(sp, seed_df, label_field, as_generator(rng))
    path = Path(out) if out is not None else None
    partial = path.with_name(path.name + ".partial") if path is not None else None
    done: dict[int, dict[str, Any]] = {}
    if path is not None and resume:
        stale = 0
        for rec in _read_jsonl(path) + _read_jsonl(partial):  # type: ignore[arg-type]
            if "failed" in rec:
                continue
            i = int(rec.get("id", -1))
            if 0 <= i < len(jobs) and _planned(rec, jobs[i], sp):
                done[i] = rec
            else:
                stale += 1
        if stale:
            log.warning(
                "text generation: %d record(s) in %s were made from another spec, seed or plan; "
                "they are dropped and asked again (use another output file to keep them)",
                stale,
                path,
            )
    elif partial is not None and partial.exists():
        partial.unlink()
    resumed = len(done)
    todo = [j for j in jobs if j["id"] not in done]
    failures: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    fh = None
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        fh = partial.open("w", encoding="utf-8")
        for i in sorted(done):  # the partial file holds every record made so far
            fh.write(json.dumps(done[i], ensure_ascii=False) + "\n")
        fh.flush()
    progress = Progress(
        TextColumn("text generation"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        disable=not verbose,
        transient=True,
    )
    try:
        with progress, ThreadPoolExecutor(max_workers=max(1, int(client.concurrency))) as pool:
            task = progress.add_task("gen", total=len(jobs), completed=resumed, failed=0)
            futures = [pool.submit(_run_job, client, sp, j, seed_df, fields_in) for j in todo]
            for fut in as_completed(futures):
                rec = fut.result()
                if "failed" in rec:
                    failures.append(rec)
                else:
                    done[rec["id"]] = rec
                    if fh is not None:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                        fh.flush()
                progress.update(task, advance=1, failed=len(failures))
    finally:
        if fh is not None:
            fh.close()
            if not done and partial is not None:  # nothing to resume from: leave no file
                partial.unlink(missing_ok=True)
    records = [done[i] for i in sorted(done)]
    data = pd.DataFrame(records)
    if path is not None:
        from ..io import atomic_write_text

        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        if partial is not None and partial.exists():
            partial.unlink()  # everything made is in `out`; a re-run retries the failures
    retried = int((data["attempts"] > 1).sum()) if len(data) else 0
    stats = {
        "asked": len(jobs),
        "made": len(records),
        "failed": len(failures),
        "retried": retried,
        "resumed": resumed,
        "seconds": round(time.perf_counter() - t0, 2),
        "by_label": {k: int(v) for k, v in data["label"].value_counts().items()}
        if len(data) and sp.task == "classification"
        else {},
    }
    if failures:
        log.warning(
            "text generation: %d of %d requests gave no valid answer after %d attempts "
            "(first reason: %s); re-run to retry them",
            len(failures),
            len(jobs),
            sp.max_retries + 1,
            failures[0]["failed"],
        )
    return GenerationResult(data=data, failures=failures, stats=stats, path=path)
