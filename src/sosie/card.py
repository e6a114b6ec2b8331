"""Data cards: how a synthetic dataset was made, and the evidence, for disclosure and audit.

A card is a JSON document (and its Markdown rendering) recording the input
fingerprint, the schema, the generator and its parameters, the seed, library
versions, the privacy budget spent (if any), the evaluation summary, the
intended use and the known limits.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .evaluate import Evaluation
from .generators.base import Generator, _versions

__all__ = [
    "CARD_FORMAT",
    "build_card",
    "evaluation_section",
    "render_card_markdown",
    "synthetic_section",
    "write_card",
]

CARD_FORMAT = "sosie-data-card"

_DEFAULT_USE = (
    "Development, testing, teaching and model prototyping where the real data cannot be shared. "
    "Validate any model trained on it against real data before relying on it."
)
_GENERIC_LIMITS = [
    "Synthetic rows are not real records: rare combinations and outliers are under-represented.",
    "Patterns absent from the training data cannot appear; biases present in it are reproduced.",
]
_FAMILY_LIMITS = {
    "gaussian_copula": [
        "A Gaussian copula captures monotone pairwise dependence; non-linear and higher-order "
        "interactions (e.g. exact functional relations between columns) are only approximated.",
    ],
    "rules": ["Rule-based data follows the spec's assumptions, not an observed population."],
    "mst": [
        "MST models each column from at most a few others (a tree of 2-way marginals): "
        "interactions of three or more columns are only approximated.",
        "Numbers and dates are generated within public bins (uniform inside a bin).",
    ],
    "aim": [
        "AIM is accurate on the marginals of its workload (by default every pair of columns); "
        "others are only approximated.",
        "Numbers and dates are generated within public bins (uniform inside a bin).",
    ],
}


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_card(
    generator: Generator | None = None,
    *,
    evaluation: Evaluation | None = None,
    output: str | Path | None = None,
    n_rows: int | None = None,
    conditions: dict[str, Any] | None = None,
    sample_seed: int | None = None,
    intended_use: str | None = None,
    limits: list[str] | None = None,
) -> dict[str, Any]:
    """Assemble a data card (JSON-ready dict).

    Args:
        generator: the fitted (or loaded) generator that made the data.
        evaluation: its evaluation, if one was run.
        output: the synthetic dataset's path (its SHA-256 is recorded when it is a file).
        n_rows: number of synthetic rows.
        conditions: sampling conditions used.
        sample_seed: seed of the sampling call.
        intended_use: what the data is for (a sensible default otherwise).
        limits: known limits (generic and family-specific ones are added).

    Example:
        >>> import pandas as pd
        >>> from sosie.generators import GaussianCopulaGenerator
        >>> gen = GaussianCopulaGenerator(rng=0).fit(pd.DataFrame({"x": [1.0, 2.0, 3.5, 4.0]}))
        >>> card = build_card(gen, n_rows=10)
        >>> card["generator"]["name"], card["input"]["n_rows"], card["privacy"]["differentially_private"]
        ('gaussian_copula', 4, False)
    """
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "version": 1,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "library_versions": _versions(),
    }
    if generator is not None:
        manifest = generator._manifest() if generator.is_fitted else {}
        fp = getattr(generator, "fingerprint_", None) or {}
        card["input"] = {
            "fingerprint_sha256": fp.get("sha256"),
            "n_rows": fp.get("n_rows"),
            "n_columns": fp.get("n_columns"),
        }
        if fp.get("withheld"):
            card["input"]["withheld"] = fp["withheld"]
        sample = getattr(generator, "fit_sample_", None)
        if sample:  # fitted on a uniform sample of a larger table (sosie.scale.read_sample)
            card["input"]["sampled_from"] = sample
        card["generator"] = {
            "name": generator.name,
            "class": f"{type(generator).__module__}.{type(generator).__qualname__}",
            "parameters": manifest.get("params", {}),
            "seed_entropy": manifest.get("rng", {}).get("entropy"),
            "fit_seconds": getattr(generator, "fit_seconds_", None),
        }
        card["schema"] = generator.schema_.to_dict() if generator.is_fitted else None
        layer = getattr(generator, "constraints_", None)
        if layer is not None:  # the exact rules, and how the generator keeps each one
            card["constraints"] = layer.describe_roles()
        spent = getattr(generator, "privacy_spent_", None)
        eps = _spent_epsilon(spent)
        card["privacy"] = {
            "differentially_private": spent is not None and eps is not None and math.isfinite(eps),
            "budget_spent": spent,
            "note": _privacy_note(spent, eps),
        }
    card["synthetic"] = synthetic_section(output, n_rows, conditions, sample_seed)
    if evaluation is not None:
        card["evaluation"] = evaluation_section(evaluation)
        if evaluation.meta.get("sequences"):  # event data: entity, time, entities and events
            card["sequences"] = evaluation.meta["sequences"]
    family = card.get("generator", {}).get("name")
    card["intended_use"] = intended_use or _DEFAULT_USE
    card["known_limits"] = [*(limits or []), *_FAMILY_LIMITS.get(family, []), *_GENERIC_LIMITS]
    return card


def synthetic_section(
    output: str | Path | None,
    n_rows: int | None,
    conditions: dict[str, Any] | None = None,
    sample_seed: int | None = None,
) -> dict[str, Any]:
    """The card's ``synthetic`` part: the file (and its SHA-256), rows, conditions, seed.

    Example:
        >>> synthetic_section(None, 10)["n_rows"]
        10
    """
    return {
        "path": str(output) if output is not None else None,
        "sha256": _file_sha256(Path(output))
        if output is not None and Path(output).is_file()
        else None,
        "n_rows": n_rows,
        "conditions": conditions,
        "sample_seed": sample_seed,
    }


def evaluation_section(evaluation: Evaluation) -> dict[str, Any]:
    """The card's ``evaluation`` part: the summary, the target (a text evaluation's label
    field), the sensitive columns and the rows used.

    Example:
        >>> from sosie.evaluate import Evaluation
        >>> evaluation_section(Evaluation([], meta={"text": {"label_field": "score"}}))["target"]
        'score'
    """
    meta = evaluation.meta
    text = meta.get("text") or {}
    return {
        "summary": evaluation.to_dict()["summary"],
        "target": meta.get("target", text.get("label_field")),
        "sensitive": meta.get("sensitive"),
        "rows_used": meta.get("n_used", text.get("n_compared")),
    }


def _spent_epsilon(spent: Any) -> float | None:
    try:
        return float(spent["spent"]["epsilon"])
    except (TypeError, KeyError, ValueError):
        return None


def _privacy_note(spent: Any, eps: float | None) -> str | None:
    if spent is None:
        return (
            "not a differentially private generator: no formal privacy guarantee; "
            "see the privacy attacks in the evaluation"
        )
    if eps is None or not math.isfinite(eps):
        return "fitted with an infinite epsilon: no privacy guarantee (a non-private baseline)"
    total = spent.get("spent", {})
    sgd = [s for s in spent.get("steps", []) if isinstance(s, dict) and s.get("rho") is None]
    how = (
        f"RDP accountant; {sum(int(s.get('details', {}).get('steps', 0)) for s in sgd)} DP-SGD "
        f"steps and {len(spent.get('steps', [])) - len(sgd)} other mechanism steps"
        if sgd
        else f"zCDP rho {_fmt(total.get('rho'))}, {spent.get('n_steps', 0)} mechanism steps"
    )
    note = (
        f"({_fmt(eps)}, {_fmt(total.get('delta'))})-differentially private ({how}); "
        "sampling is post-processing and spends nothing"
    )
    if spent.get("noise_source"):
        note += f"; noise from {spent['noise_source']}"
    return note


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.4g}"
    if v is None:
        return "n/a"
    return str(v)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown (for humans and regulatory files).

    Example:
        >>> md = render_card_markdown({"format": CARD_FORMAT, "intended_use": "tests", "known_limits": []})
        >>> md.splitlines()[0]
        '# Data card'
    """
    lines = ["# Data card", ""]
    gen = card.get("generator")
    if gen:
        lines += ["## How it was made", "", "| | |", "|---|---|"]
        lines.append(f"| generator | `{gen.get('name')}` ({_md_escape(str(gen.get('class')))}) |")
        params = ", ".join(f"{k}={v!r}" for k, v in (gen.get("parameters") or {}).items())
        lines.append(f"| parameters | {_md_escape(params) or 'defaults'} |")
        lines.append(f"| seed entropy | `{gen.get('seed_entropy')}` |")
        lines.append(f"| fit time | {_fmt(gen.get('fit_seconds'))} s |")
        lines.append("")
    inp = card.get("input")
    if inp:
        lines += ["## Input data", "", "| | |", "|---|---|"]
        lines.append(
            f"| SHA-256 fingerprint | `{inp.get('fingerprint_sha256')}` |"
            if not inp.get("withheld")
            else f"| SHA-256 fingerprint | withheld ({_md_escape(str(inp['withheld']))}) |"
        )
        lines.append(f"| rows x columns | {inp.get('n_rows')} x {inp.get('n_columns')} |")
        lines.append("")
    syn = card.get("synthetic") or {}
    if any(v is not None for v in syn.values()):
        lines += ["## Synthetic data", "", "| | |", "|---|---|"]
        for k in ("path", "n_rows", "sha256", "conditions", "sample_seed"):
            if syn.get(k) is not None:
                lines.append(f"| {k} | {_md_escape(str(syn[k]))} |")
        lines.append("")
    text = card.get("text")
    if text:  # a text dataset written by an LLM (sosie.text.text_card)
        lines += ["## Text generation", "", "| | |", "|---|---|"]
        gen_stats = text.get("generation") or {}
        removed = {k: v for k, v in (text.get("filters") or {}).items() if v}
        for k, v in (
            ("model", text.get("model")),
            ("task", text.get("task")),
            ("requested", text.get("requested")),
            ("made / failed", f"{gen_stats.get('made')} / {text.get('failures')}"),
            ("retried", gen_stats.get("retried")),
            ("seconds", gen_stats.get("seconds")),
            ("removed by filters", removed if text.get("filters") is not None else None),
            ("kept by label", text.get("kept_by_label")),
        ):
            if v is not None:
                lines.append(f"| {k} | {_md_escape(str(v))} |")
        lines.append("")
    priv = card.get("privacy")
    if priv:
        lines += ["## Privacy", ""]
        spent = priv.get("budget_spent")
        if isinstance(spent, dict) and isinstance(spent.get("steps"), list):
            lines.append(_md_escape(priv.get("note") or ""))
            lines += ["", "| step | mechanism | measured | cost (zCDP rho) |", "|---|---|---|---|"]
            for i, step in enumerate(spent["steps"][:200], 1):
                cost = _fmt(step.get("rho"))
                if step.get("rho") is None:  # DP-SGD: accounted in RDP from its parameters
                    d = step.get("details", {})
                    cost = (
                        f"{d.get('steps')} steps, noise multiplier "
                        f"{_fmt(d.get('noise_multiplier'))}, sample rate {_fmt(d.get('sample_rate'))}"
                    )
                lines.append(
                    f"| {i} | {_md_escape(str(step.get('mechanism')))} | "
                    f"{_md_escape(str(step.get('measured')))} | {_md_escape(cost)} |"
                )
            if len(spent["steps"]) > 200:
                lines.append(
                    f"| ... | {len(spent['steps']) - 200} more steps in the JSON card | | |"
                )
        elif priv.get("differentially_private"):
            lines.append(
                f"Differentially private; budget spent: `{json.dumps(priv.get('budget_spent'))}`."
            )
        else:
            lines.append(priv.get("note") or "")
        lines.append("")
    ev = card.get("evaluation")
    if ev:
        lines += ["## Evaluation summary", "", "| measure | value |", "|---|---|"]
        for k, v in (ev.get("summary") or {}).items():
            lines.append(f"| {_md_escape(k)} | {_fmt(v)} |")
        lines.append("")
    schema = card.get("schema")
    if schema:
        lines += ["## Schema", "", "| column | type | nullable |", "|---|---|---|"]
        for c in schema.get("columns", []):
            lines.append(
                f"| {_md_escape(str(c['name']))} | {c['type']} | {c.get('nullable', False)} |"
            )
        lines.append("")
    rules = card.get("constraints")
    if rules:
        lines += [
            "## Constraints",
            "",
            "| rule | kind | provenance | kept | how |",
            "|---|---|---|---|---|",
        ]
        for r in rules:
            lines.append(
                f"| {_md_escape(str(r.get('constraint')))} | {r.get('kind')} | "
                f"{r.get('provenance')} | {r.get('kept')} | {_md_escape(str(r.get('method', '')))} |"
            )
        lines.append("")
    lines += ["## Intended use", "", _md_escape(str(card.get("intended_use", ""))), ""]
    lines += ["## Known limits", ""]
    lines += [f"- {_md_escape(x)}" for x in card.get("known_limits", [])]
    versions = card.get("library_versions")
    if versions:
        lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in versions.items())]
    created = card.get("created_at")
    if created:
        lines += ["", f"_Created {created} by sosie._"]
    return "\n".join(lines) + "\n"


def write_card(card: dict[str, Any], path: str | Path) -> tuple[Path, Path]:
    """Write ``card`` as ``<path>.json`` and ``<path>.md`` (atomically); returns both paths.

    ``path`` may end in ``.json`` or have no suffix.

    Example:
        >>> import tempfile, os
        >>> j, m = write_card({"format": CARD_FORMAT, "known_limits": []}, os.path.join(tempfile.mkdtemp(), "card"))
        >>> j.suffix, m.suffix
        ('.json', '.md')
    """
    from .io import atomic_write_text

    base = Path(path)
    if base.suffix == ".json":
        base = base.with_suffix("")
    json_path = base.with_name(base.name + ".json")
    md_path = base.with_name(base.name + ".md")
    atomic_write_text(json_path, json.dumps(card, indent=2, default=str, allow_nan=False) + "\n")
    atomic_write_text(md_path, render_card_markdown(card))
    return json_path, md_path
