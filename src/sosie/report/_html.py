"""Render an :class:`~sosie.evaluate.Evaluation` (and a data card) to one self-contained HTML page.

See :mod:`sosie.report` for the ``details`` layouts that turn into plots.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import _svg
from ._svg import AUGMENTED, REAL, SYNTH, esc, finite, fmt
from ._verdict import FAMILIES, RULES, FamilyVerdict, family_verdict, is_auc_test, metric_verdict

logger = logging.getLogger("sosie.report")

DEFAULT_TITLE = "Synthetic data report"
MAX_SHAPE_COLUMNS = 48
MAX_HEATMAP_COLUMNS = 40
_PLOT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError)

_FAMILY_TITLES = {
    "fidelity": "Fidelity",
    "utility": "Utility",
    "privacy": "Privacy",
    "fairness": "Fairness",
    "drift": "Drift",
    "collapse": "Model collapse",
}
_FAMILY_BLURB = {
    "fidelity": "How closely the synthetic data reproduces the real distributions.",
    "utility": "How well models trained on synthetic data do on real data (TSTR), next to "
    "models trained on real data (TRTR).",
    "privacy": "How much the synthetic data reveals about the training records; attacks are "
    "scored on a real holdout the generator never saw.",
    "fairness": "Whether group shares and per-group performance survive the synthesis.",
    "drift": "Whether the current real data has moved away from the reference (what the "
    "generator learned): the population stability index of each column (tested, with the false "
    "discovery rate controlled) and a classifier telling reference rows from current rows.",
    "collapse": "Generators trained on their predecessors' output: each line is a regime "
    "(replace: synthetic only; accumulate: real and every sample so far; mix: a share of fresh "
    "real rows), each point a generation's sample measured against the original real data. "
    "Values in the table are the last generation of the regime that lost most; the dotted line "
    "is what the real data scores.",
}
_SEQUENCE_BLURB = {
    "fidelity": "How closely the synthetic sequences reproduce the real ones: lengths, gaps "
    "between events, autocorrelation and transitions within a sequence, per-entity aggregates "
    "and static attributes. Intervals resample whole entities.",
    "utility": "A sequence-level task: models trained on the per-sequence features of synthetic "
    "entities (TSTR), next to models trained on real entities (TRTR), tested on real entities.",
}
_IMAGE_BLURB = {
    "fidelity": "How closely the synthetic images match the real training images in the "
    "feature space of a small classifier trained on the real images: Fréchet distance, "
    "precision (are the images realistic?), recall (is the real variety covered?) and the "
    "class balance. Baselines: the same scores for a real holdout sample of the same size.",
    "utility": "A classifier trained on the synthetic images (TSTR) next to the same classifier "
    "trained on the real training images (TRTR), both tested on real holdout images; the chart "
    "shows the recall of each class.",
    "privacy": "Whether synthetic images copy training images: the nearest training image of "
    "each synthetic image, in pixels and in classifier features, against the distances a real "
    "holdout image (never seen by the generator) gets. The closest pairs are shown side by side.",
}
_TEXT_BLURB = {
    "fidelity": "How closely the synthetic texts match the real training texts: in the space of "
    "sentence embeddings (all-MiniLM-L6-v2: Fréchet distance, precision, recall, a detection "
    "classifier), in lexical diversity (distinct n-grams), semantic diversity "
    "(self-similarity), length and label shares. Baselines: a real holdout scored the same way.",
    "utility": "Text classifiers trained on the synthetic texts (TSTR) next to the same "
    "classifiers trained on the real training texts (TRTR) and on both (augmented), all tested "
    "on real holdout texts (macro-F1); the chart by label shows recall.",
    "privacy": "Whether synthetic texts copy training texts (the LLM's few-shot seeds, a "
    "fine-tuning set): exact and near copies, and nearest neighbours in embedding space, next "
    "to the rates a real holdout text (never seen) gets. The closest pairs are listed.",
}
_MISSING = {
    "fidelity": "No fidelity metrics were computed.",
    "utility": "No utility metrics were computed (utility needs a target column).",
    "privacy": "No privacy metrics were computed (attacks need a real holdout the generator "
    "never saw).",
    "fairness": "No fairness metrics were computed (fairness needs sensitive columns).",
}
MAX_TILES = 8
_HEADLINES = {
    "quality_score": ("Quality score", "overall fidelity score, 1 is best"),
    "column_shapes": ("Column shapes", "similarity of each column's distribution, 1 is best"),
    "pair_trends": ("Pair trends", "similarity of pairwise correlations, 1 is best"),
    "sequence_length": ("Sequence lengths", "similarity of the events per entity, 1 is best"),
    "inter_arrival": ("Inter-arrival times", "similarity of the gaps between events, 1 is best"),
    "autocorrelation": ("Autocorrelation", "within-sequence autocorrelation kept, 1 is best"),
    "transitions": ("Transitions", "similarity of P(next | current), 1 is best"),
    "entity_aggregates": (
        "Per-entity aggregates",
        "similarity of per-sequence features, 1 is best",
    ),
    "static_shapes": ("Static attributes", "similarity of the per-entity columns, 1 is best"),
    "frechet_distance": (
        "Fréchet distance",
        "real vs synthetic features; lower is better, compare with the holdout's",
    ),
    "precision": ("Precision", "share of synthetic samples that look real, vs the holdout's"),
    "recall": ("Recall", "share of the real variety covered, vs the holdout's"),
    "distinct_n": ("Distinct bigrams", "lexical diversity; best at the real texts' value"),
    "self_similarity": (
        "Self-similarity",
        "mean cosine of two texts; best at the real texts' value",
    ),
    "class_balance": ("Class balance", "similarity of the class shares, 1 is best"),
    "detection_auc": ("Detection AUC", "a classifier telling real from synthetic; 0.5 is best"),
    "constraint_validity": (
        "Constraint validity",
        "share of synthetic rows obeying every exact rule of the real data; 1 is best",
    ),
    "tstr_ratio": ("TSTR / TRTR", "synthetic-trained model score over real-trained; 1 is best"),
    "mia_auc": ("Membership inference AUC", "best attack; 0.5 means no leakage"),
    "exact_copies": ("Exact copies", "share of synthetic rows identical to a training row"),
    "dcr_share": ("DCR share", "share of synthetic rows closer to train than to holdout"),
    "memorisation_pixels": (
        "Memorisation (pixels)",
        "share of synthetic images suspiciously close to a training image; 0.05 by chance",
    ),
    "memorisation_features": (
        "Memorisation (features)",
        "the same in classifier features; 0.05 by chance",
    ),
    "near_copies": ("Near copies", "share of synthetic images that nearly copy a training image"),
}
_SERIES_LABELS = {
    "real": "real",
    "synthetic": "synthetic",
    "trtr": "TRTR (train real)",
    "tstr": "TSTR (train synthetic)",
    "augmented": "augmented (real + synthetic)",
}
_MEASURES = {
    "cramers_v": "Cramér's V",
    "pearson": "Pearson correlation",
    "spearman": "Spearman correlation",
}
_GOALS = {"maximize": "higher is better", "minimize": "lower is better"}


# ------------------------------------------------------------------ small helpers
def _get(obj: Any, key: str, default: Any = None) -> Any:
    return obj.get(key, default) if isinstance(obj, Mapping) else default


def _find(sources: Sequence[Any], keys: Sequence[str]) -> Any:
    """The first value under one of ``keys`` in the sources, at top level or one level down."""
    for src in sources:
        if not isinstance(src, Mapping):
            continue
        for k in keys:
            if src.get(k) not in (None, "", {}):
                return src[k]
    for src in sources:
        if not isinstance(src, Mapping):
            continue
        for v in src.values():
            if isinstance(v, Mapping):
                for k in keys:
                    if v.get(k) not in (None, "", {}):
                        return v[k]
    return None


def _scalar_text(v: Any, limit: int = 300) -> str:
    """Plain text for a value (escaped by the caller)."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) or hasattr(v, "dtype"):
        f = finite(v)
        if f is None:
            return "n/a"
        if f.is_integer() and abs(f) < 1e15:
            return f"{int(f):,}" if abs(f) >= 10000 else str(int(f))
        return f"{f:.6g}"
    if isinstance(v, (list, tuple, dict)):
        try:
            text = json.dumps(v, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(v)
    else:
        text = str(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _badge(verdict: str, *, big: bool = False) -> str:
    cls = {"pass": "pass", "warn": "warn", "fail": "fail"}.get(verdict, "na")
    label = {"pass": "pass", "warn": "warn", "fail": "fail"}.get(verdict, "n/a")
    size = " big" if big else ""
    return f'<span class="badge {cls}{size}">{label}</span>'


def _ci_text(ci: Any) -> str:
    if ci is None or isinstance(ci, (str, bytes)):
        return "n/a"
    try:
        lo, hi = ci
    except (TypeError, ValueError):
        return "n/a"
    if finite(lo) is None or finite(hi) is None:
        return "n/a"
    return f"{fmt(lo)} – {fmt(hi)}"


def _legend_html(items: Sequence[tuple[str, str, bool]]) -> str:
    out = []
    for label, colour, dashed in items:
        cls = "sw dashed" if dashed else "sw"
        out.append(
            f'<span class="key"><span class="{cls}" style="--c:{colour}"></span>{esc(label)}</span>'
        )
    return '<div class="legend">' + "".join(out) + "</div>"


def _figure(svg: str, caption: str, *, wide: bool = False) -> str:
    cls = "fig wide" if wide else "fig"
    return f'<figure class="{cls}">{svg}<figcaption>{caption}</figcaption></figure>'


# ------------------------------------------------------------------ plots
def _plot_column_shapes(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    cols = d["columns"]
    if not isinstance(cols, Mapping) or not cols:
        raise ValueError("details['columns'] must be a non-empty mapping")
    cells, notes = [], []
    items = list(cols.items())
    breakdown = m.breakdown if isinstance(getattr(m, "breakdown", None), Mapping) else {}
    for name, spec in items[:MAX_SHAPE_COLUMNS]:
        score = (
            finite(breakdown.get(name)) if not isinstance(breakdown.get(name), Mapping) else None
        )
        title = f"{name} · {fmt(score)}" if score is not None else str(name)
        try:
            if not isinstance(spec, Mapping):
                raise TypeError("expected a mapping with a 'kind'")
            kind = spec.get("kind")
            if kind == "numeric":
                svg = _svg.histogram_overlay(
                    spec["edges"],
                    [("real", spec["real"], REAL), ("synthetic", spec["synthetic"], SYNTH)],
                    title=title,
                )
            elif kind == "categorical":
                svg = _svg.categorical_overlay(
                    spec["categories"], spec["real"], spec["synthetic"], title=title
                )
            else:
                raise ValueError(f"kind must be 'numeric' or 'categorical', found {kind!r}")
        except _PLOT_ERRORS as exc:
            notes.append(f"column {name!s}: plot skipped ({exc})")
            continue
        cells.append(f'<div class="cell">{svg}</div>')
    if len(items) > MAX_SHAPE_COLUMNS:
        notes.append(f"{len(items) - MAX_SHAPE_COLUMNS} more columns not shown")
    if not cells:
        return "", notes
    legend = _legend_html([("real", REAL, False), ("synthetic", SYNTH, True)])
    caption = (
        "Per-column distributions: numeric columns as density histograms, categorical columns "
        "as category shares (rare categories pooled)."
        + (" The number after a name is its score." if breakdown else "")
    )
    html = (
        f'<figure class="fig wide">{legend}<div class="grid">{"".join(cells)}</div>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )
    return html, notes


def _plot_pair_trends(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    fig, notes = _heatmaps(d)
    nested = d.get("correlation")
    if isinstance(nested, Mapping) and {"columns", "real", "synthetic"} <= set(nested):
        try:
            more, more_notes = _heatmaps(nested)
        except _PLOT_ERRORS as exc:
            notes.append(f"correlation heatmaps skipped ({exc})")
        else:
            fig += more
            notes += more_notes
    return fig, notes


def _heatmaps(d: Mapping[str, Any]) -> tuple[str, list[str]]:
    columns = [str(c) for c in d["columns"]]
    notes: list[str] = []
    n = len(columns)
    if n < 2:
        raise ValueError("needs at least two columns")
    real = _svg._matrix(d["real"], n, "real")
    synth = _svg._matrix(d["synthetic"], n, "synthetic")
    if n > MAX_HEATMAP_COLUMNS:
        notes.append(f"showing the first {MAX_HEATMAP_COLUMNS} of {n} columns")
        n = MAX_HEATMAP_COLUMNS
        columns = columns[:n]
        real = [row[:n] for row in real[:n]]
        synth = [row[:n] for row in synth[:n]]
    values = [v for mat in (real, synth) for row in mat for v in row if v is not None]
    diverging = any(v < 0 for v in values)
    cmap, lo = ("diverging", -1.0) if diverging else ("sequential", 0.0)
    measure = str(
        _get(d, "measure") or _get(d, "method") or ("correlation" if diverging else "association")
    )
    measure = _MEASURES.get(measure, measure)
    diff = [
        [None if a is None or b is None else abs(a - b) for a, b in zip(ra, rb, strict=True)]
        for ra, rb in zip(real, synth, strict=True)
    ]
    dmax = max([v for row in diff for v in row if v is not None] + [0.0])
    dtop = 1.0 if dmax <= 1.0 else 2.0
    svgs = [
        _svg.heatmap(columns, real, title=f"real: {measure}", cmap=cmap, vmin=lo, vmax=1.0),
        _svg.heatmap(columns, synth, title=f"synthetic: {measure}", cmap=cmap, vmin=lo, vmax=1.0),
        _svg.heatmap(
            columns, diff, title="|real − synthetic|", cmap="difference", vmin=0.0, vmax=dtop
        ),
    ]
    row = "".join(f'<div class="cell">{s}</div>' for s in svgs)
    caption = (
        f"Pairwise {measure} between columns in the real and synthetic data, and their absolute "
        "difference (white is no difference). Hover a cell for its value."
    )
    return (
        f'<figure class="fig wide"><div class="row">{row}</div>'
        f"<figcaption>{esc(caption)}</figcaption></figure>",
        notes,
    )


def _plot_dcr(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    series = [("synthetic → train", d["synthetic_to_train"], SYNTH)]
    if d.get("holdout_to_train") is not None:
        series.append(("holdout → train (real)", d["holdout_to_train"], REAL))
    svg = _svg.histogram_overlay(
        d["edges"],
        series,
        title="Distance to the closest training record",
        x_label=str(_get(d, "x_label") or "distance to closest training record"),
        y_label=str(_get(d, "y_label") or "frequency"),
        width=480,
        height=250,
        legend=True,
    )
    caption = (
        "If synthetic rows sit much closer to training rows than real holdout rows do, the "
        "generator may be copying its training data."
    )
    return _figure(svg, esc(caption)), []


def _series_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The series to draw: the known ones (real, synthetic, trtr, tstr, augmented) when present,
    else every numeric key (extra keys such as counts are ignored when known ones exist)."""
    seen: list[str] = []
    for r in rows:
        for k, v in r.items():
            numeric = v is None or finite(v) is not None or isinstance(v, float)
            if k not in seen and numeric and not isinstance(v, bool):
                seen.append(k)
    known = [k for k in _SERIES_LABELS if k in seen]
    return known or seen


def _grouped(
    rows: Mapping[str, Any], *, title: str, value_label: str, caption: str
) -> tuple[str, list[str]]:
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("expected a non-empty mapping")
    names = list(rows)
    specs = [rows[k] if isinstance(rows[k], Mapping) else {} for k in names]
    keys = _series_keys(specs)
    if not keys:
        raise ValueError("no numeric series")
    series = [
        (_SERIES_LABELS.get(k, k), [_get(s, k) for s in specs], _svg.series_colour(k, i))
        for i, k in enumerate(keys)
    ]
    svg = _svg.bar_chart(names, series, title=title, value_label=value_label)
    notes = [f"{len(names) - 30} more rows not shown"] if len(names) > 30 else []
    return _figure(svg, esc(caption)), notes


def _plot_models(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    score = str(_get(d, "score_name") or "score")
    return _grouped(
        d["models"],
        title=f"{m.name}: {score} by model",
        value_label=f"{score} on real test data",
        caption="Every model is tested on the same real test set: TRTR trains on real data, "
        "TSTR on synthetic data.",
    )


def _plot_groups(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    groups = d["groups"]
    specs = (
        [g for g in groups.values() if isinstance(g, Mapping)]
        if isinstance(groups, Mapping)
        else []
    )
    keys = _series_keys(specs)
    shares = "real" in keys and "synthetic" in keys
    attr = _get(d, "attribute") or _get(d, "column")
    label = str(_get(d, "score_name") or ("share" if shares else "score"))
    title = f"{m.name}: {label} by group" + (f" of {attr}" if attr is not None else "")
    if shares:
        caption = "Share of each group in the real and synthetic data."
    elif "trtr" in keys or "tstr" in keys:
        caption = "Per-group model performance on real test data."
    else:
        caption = "Per-group values."
    return _grouped(groups, title=title, value_label=label, caption=caption)


def _plot_gaps(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    gaps = d["gaps"]
    if (
        isinstance(gaps, Mapping)
        and gaps
        and all(not isinstance(v, Mapping) for v in gaps.values())
    ):
        rows: Mapping[str, Any] = {str(_get(d, "name") or "gap"): gaps}
    else:
        rows = gaps
    label = str(_get(d, "score_name") or "gap")
    return _grouped(
        rows,
        title=f"{m.name}: {label}, real vs synthetic",
        value_label=label,
        caption="The fairness gap measured on the real data and on the synthetic data.",
    )


_HIST_TITLES = {
    "dcr_histogram": "Distance to the closest training record",
    "nndr_histogram": "Nearest-neighbour distance ratio",
    "pixel_dcr_histogram": "Distance to the closest training image (pixels)",
    "feature_dcr_histogram": "Distance to the closest training image (features)",
}
_HIST_LABELS = {
    "synthetic": "synthetic → train",
    "holdout": "holdout → train (real)",
}


def _plot_histograms(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Every ``<name>_histogram`` in details: ``{"bin_edges" | "edges": [...], series: [...]}``."""
    figs, notes = [], []
    for key, h in d.items():
        if not (str(key).endswith("_histogram") and isinstance(h, Mapping)):
            continue
        try:
            edges = h.get("bin_edges", h.get("edges"))
            n_bins = len(edges) - 1
            series = [
                (_HIST_LABELS.get(str(k), str(k)), v, _svg.series_colour(k, i))
                for i, (k, v) in enumerate(h.items())
                if k not in ("bin_edges", "edges")
                and isinstance(v, (list, tuple, np.ndarray))
                and len(v) == n_bins
            ]
            svg = _svg.histogram_overlay(
                edges,
                series,
                title=_HIST_TITLES.get(str(key), f"{m.name}: {key}"),
                x_label=str(key).removesuffix("_histogram"),
                y_label="share of rows",
                width=480,
                height=250,
                legend=True,
            )
        except _PLOT_ERRORS as exc:
            notes.append(f"{key}: plot skipped ({exc})")
            continue
        cap = "Both series share the bins."
        if h.get("last_bin_includes_larger"):
            cap += " The last bin also holds every larger value."
        figs.append(_figure(svg, esc(cap)))
    return "".join(figs), notes


def _plot_paired_mapping(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"real": {key: x}, "synthetic": {key: y}}``: bars per key (with many keys, those that
    are 0 in both are left out)."""
    real, synth = d["real"], d["synthetic"]
    keys = list(dict.fromkeys([*real, *synth]))
    rows = {k: {"real": real.get(k), "synthetic": synth.get(k)} for k in keys}
    notes = []
    if len(rows) > 10:
        nonzero = {
            k: v for k, v in rows.items() if any(finite(x) not in (None, 0.0) for x in v.values())
        }
        if len(nonzero) < len(rows):
            notes.append(f"{len(rows) - len(nonzero)} rows that are 0 in both not shown")
            rows = nonzero
    if not rows:
        return "", notes
    fig, more = _grouped(
        rows,
        title=f"{m.name}: real vs synthetic",
        value_label=str(_get(d, "score_name") or "value"),
        caption="The same quantity measured on the real and on the synthetic data.",
    )
    return fig, notes + more


def _plot_top_features(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"top_features": [{"name": ..., "auc" | "importance": ...}]}``: one bar per feature."""
    rows = {
        str(t["name"]): {k: v for k, v in t.items() if k != "name" and not isinstance(v, str)}
        for t in d["top_features"]
        if isinstance(t, Mapping) and "name" in t
    }
    how = str(_get(d, "feature_importance") or "")
    return _grouped(
        rows,
        title=f"{m.name}: the columns that tell current rows from reference rows"
        if getattr(m, "family", None) == "drift"
        else f"{m.name}: the columns that give the synthetic data away",
        value_label=how.split(":")[0] if how else "importance",
        caption=(how[:1].upper() + how[1:] + ".") if how else "Per-column importance.",
    )


MAX_ACF_COLUMNS = 24
MAX_TRANSITION_COLUMNS = 8


def _plot_histogram(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"histogram": {"edges", "real", "synthetic", "x_label"?, "y_label"?, "title"?}}``."""
    h = d["histogram"]
    series = [
        (_SERIES_LABELS.get(str(k), str(k)), h[k], _svg.series_colour(str(k), i))
        for i, k in enumerate(("real", "synthetic"))
        if h.get(k) is not None
    ]
    svg = _svg.histogram_overlay(
        h["edges"],
        series,
        title=str(_get(h, "title") or f"{m.name}: real vs synthetic"),
        x_label=str(_get(h, "x_label") or ""),
        y_label=str(_get(h, "y_label") or "density"),
        width=480,
        height=250,
        legend=True,
    )
    cap = "Real and synthetic distributions over shared bins."
    if h.get("log10"):
        cap += " The x axis is on a log10 scale."
    if _get(h, "note"):
        cap += f" Note: {_scalar_text(h['note'])}."
    return _figure(svg, esc(cap)), []


def _plot_acf(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"acf": {column: {"lags": [1, 2...], "real": [r...], "synthetic": [r...]}}}``."""
    acf = d["acf"]
    if not acf:
        raise ValueError("details['acf'] is empty")
    cells, notes = [], []
    items = list(acf.items())
    breakdown = m.breakdown if isinstance(getattr(m, "breakdown", None), Mapping) else {}
    for name, spec in items[:MAX_ACF_COLUMNS]:
        score = (
            finite(breakdown.get(name)) if not isinstance(breakdown.get(name), Mapping) else None
        )
        title = f"{name} · {fmt(score)}" if score is not None else str(name)
        try:
            if not isinstance(spec, Mapping):
                raise TypeError("expected a mapping with 'lags', 'real' and 'synthetic'")
            lags = [f"lag {_scalar_text(v)}" for v in spec["lags"]]
            svg = _svg.bar_chart(
                lags,
                [("real", spec["real"], REAL), ("synthetic", spec["synthetic"], SYNTH)],
                title=title,
                value_label="autocorrelation",
                width=300,
            )
        except _PLOT_ERRORS as exc:
            notes.append(f"column {name!s}: plot skipped ({exc})")
            continue
        cells.append(f'<div class="cell">{svg}</div>')
    if len(items) > MAX_ACF_COLUMNS:
        notes.append(f"{len(items) - MAX_ACF_COLUMNS} more columns not shown")
    if not cells:
        return "", notes
    caption = (
        "Autocorrelation within sequences at each lag (events that many positions apart in one "
        "entity, values demeaned per entity), real vs synthetic."
        + (" The number after a name is its score." if breakdown else "")
    )
    return (
        f'<figure class="fig wide"><div class="grid">{"".join(cells)}</div>'
        f"<figcaption>{esc(caption)}</figcaption></figure>",
        notes,
    )


def _plot_transitions(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"transitions": {column: {"states": [...], "real": k x k, "synthetic": k x k}}}``:
    rows are the current state, columns the next one, cells P(next | current)."""
    trans = d["transitions"]
    if not trans:
        raise ValueError("details['transitions'] is empty")
    figs, notes = [], []
    items = list(trans.items())
    for name, spec in items[:MAX_TRANSITION_COLUMNS]:
        try:
            if not isinstance(spec, Mapping):
                raise TypeError("expected a mapping with 'states', 'real' and 'synthetic'")
            states = [str(v) for v in spec["states"]]
            k = len(states)
            if k < 1:
                raise ValueError("no states")
            real = _svg._matrix(spec["real"], k, "real")
            synth = _svg._matrix(spec["synthetic"], k, "synthetic")
            diff = [
                [
                    None if a is None or b is None else abs(a - b)
                    for a, b in zip(ra, rb, strict=True)
                ]
                for ra, rb in zip(real, synth, strict=True)
            ]
            svgs = [
                _svg.heatmap(
                    states, real, title=f"{name}: real", cmap="sequential", vmin=0.0, vmax=1.0
                ),
                _svg.heatmap(
                    states, synth, title=f"{name}: synthetic", cmap="sequential", vmin=0.0, vmax=1.0
                ),
                _svg.heatmap(
                    states,
                    diff,
                    title=f"{name}: |real − synthetic|",
                    cmap="difference",
                    vmin=0.0,
                    vmax=1.0,
                ),
            ]
        except _PLOT_ERRORS as exc:
            notes.append(f"column {name!s}: transition plot skipped ({exc})")
            continue
        row = "".join(f'<div class="cell">{s}</div>' for s in svgs)
        figs.append(f'<div class="row">{row}</div>')
    if len(items) > MAX_TRANSITION_COLUMNS:
        notes.append(f"{len(items) - MAX_TRANSITION_COLUMNS} more columns not shown")
    if not figs:
        return "", notes
    caption = (
        "Transition matrices P(next | current) of the categorical event columns: rows are the "
        "current category, columns the next one; then their absolute difference (white is no "
        "difference). Hover a cell for its value."
    )
    return (
        f'<figure class="fig wide">{"".join(figs)}<figcaption>{esc(caption)}</figcaption></figure>',
        notes,
    )


def _plot_heatmap_block(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"heatmap": {"columns": [...], "real": n x n, "synthetic": n x n, "method"?}}``."""
    return _heatmaps(d["heatmap"])


def _roc_of(m: Any, d: Mapping[str, Any]) -> tuple[str, Any, Any, Any]:
    roc = d["roc"]
    if not isinstance(roc, Mapping):
        raise TypeError("details['roc'] must be a mapping")
    fpr, tpr = _svg._floats(roc["fpr"], name="fpr"), _svg._floats(roc["tpr"], name="tpr")
    if fpr.size != tpr.size or (np.isfinite(fpr) & np.isfinite(tpr)).sum() < 2:
        raise ValueError("fpr and tpr must be equal-length lists of at least two numbers")
    auc = m.value if is_auc_test(m) else _get(roc, "auc", _get(d, "auc", m.value))
    return (str(m.name), fpr, tpr, finite(auc))


# ------------------------------------------------------------------ images
_PNG_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+={0,2}")
MAX_URI_CHARS = 400_000  # one embedded thumbnail (a 64 x 64 RGB PNG is about 16 kB)
MAX_PAIRS = 12
MAX_THUMB_CLASSES = 20
MAX_THUMBS = 8
THUMB_PX = 56  # thumbnails are drawn at least this wide (pixelated when scaled up)


def _img(uri: Any, alt: str) -> str | None:
    """An ``<img>`` of an embedded PNG data URI, or ``None`` when ``uri`` is not one (the
    report never loads anything, and nothing but a base64 PNG reaches the ``src``)."""
    if not (isinstance(uri, str) and len(uri) <= MAX_URI_CHARS and _PNG_URI.fullmatch(uri)):
        return None
    return f'<img class="thumb" src="{uri}" alt="{esc(alt)}">'


def _plot_closest_pairs(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"closest_pairs": [{"synthetic_png", "train_png", "distance", "synthetic_index",
    "train_index"}]}``: each synthetic image next to its nearest training image."""
    pairs, notes, bad = [], [], 0
    for p in d["closest_pairs"][:MAX_PAIRS]:
        if not isinstance(p, Mapping):
            bad += 1
            continue
        si, ti = _get(p, "synthetic_index"), _get(p, "train_index")
        syn = _img(_get(p, "synthetic_png"), f"synthetic image {_scalar_text(si)}")
        real = _img(_get(p, "train_png"), f"training image {_scalar_text(ti)}")
        if syn is None or real is None:
            bad += 1
            continue
        pairs.append(
            f'<div class="pair"><div class="imgs">{syn}{real}</div>'
            f'<div class="cap"><div>distance {esc(fmt(_get(p, "distance")))}</div>'
            f"<div>synthetic #{esc(_scalar_text(si))} · train #{esc(_scalar_text(ti))}</div>"
            "</div></div>"
        )
    if bad:
        notes.append(f"{bad} closest pair(s) without two embedded PNG images not shown")
    if len(d["closest_pairs"]) > MAX_PAIRS:
        notes.append(f"{len(d['closest_pairs']) - MAX_PAIRS} more closest pairs not shown")
    if not pairs:
        return "", notes
    space = _get(d, "space")
    caption = (
        "The synthetic images nearest to a training image"
        + (f" (in {esc(_scalar_text(space))})" if space else "")
        + ", closest first: synthetic on the left (orange frame), its nearest training image "
        "on the right (blue frame). "
        "Pairs that look alike point to memorised training images."
    )
    return (
        f'<figure class="fig wide"><h3 class="figtitle">{esc(m.name)}: closest pairs</h3>'
        f'<div class="pairs">{"".join(pairs)}</div><figcaption>{caption}</figcaption></figure>',
        notes,
    )


def _image_fact(images: Mapping[str, Any]) -> str:
    """One line saying the data are images: size, channels and classes."""
    parts = []
    h, w, c = (finite(images.get(k)) for k in ("height", "width", "channels"))
    if h is not None and w is not None:
        parts.append(f"{int(h)} × {int(w)} px")
    if c is not None:
        parts.append(f"{int(c)} channel{'s' if int(c) != 1 else ''}")
    classes = images.get("classes")
    if isinstance(classes, (list, tuple)):
        parts.append(f"{len(classes)} class{'es' if len(classes) != 1 else ''}")
    return esc(" · ".join(parts)) if parts else "yes"


def _text_fact(text: Mapping[str, Any]) -> str:
    """One line saying the data are texts: the field, labels and the embedding model."""
    parts = []
    field = text.get("text_field")
    if field is not None:
        parts.append(f"field <code>{esc(_scalar_text(field))}</code>")
    labels = text.get("labels")
    if isinstance(labels, (list, tuple)) and labels:
        shown = ", ".join(esc(_scalar_text(x, 40)) for x in labels[:8])
        more = f" (+{len(labels) - 8})" if len(labels) > 8 else ""
        parts.append(f"labels {shown}{more}")
    med = text.get("median_words")
    if isinstance(med, Mapping) and finite(med.get("synthetic")) is not None:
        real = finite(med.get("real_train"))
        parts.append(
            f"median words: synthetic {fmt(med.get('synthetic'))}"
            + (f", real {fmt(real)}" if real is not None else "")
        )
    enc = text.get("encoder")
    if enc:
        parts.append(f"embeddings {esc(_scalar_text(enc, 80))}")
    return " · ".join(parts) if parts else "yes"


MAX_TEXT_EXAMPLES = 12
MAX_TEXT_CHARS = 600


def _text_list(rows: Any) -> str:
    if not isinstance(rows, (list, tuple)) or not rows:
        return '<span class="muted">none</span>'
    items = []
    for r in rows[:MAX_TEXT_EXAMPLES]:
        if not isinstance(r, Mapping):
            continue
        label = r.get("label")
        tag = f'<span class="lab">{esc(_scalar_text(label, 40))}</span> ' if label else ""
        items.append(f"<li>{tag}{esc(_scalar_text(r.get('text'), MAX_TEXT_CHARS))}</li>")
    return f'<ul class="texts">{"".join(items)}</ul>'


def _text_samples_section(text: Mapping[str, Any]) -> str:
    """Real and synthetic example texts (``meta["text"]["examples"]``)."""
    ex = text.get("examples")
    if not isinstance(ex, Mapping):
        return ""
    return (
        '<section id="samples"><h2>Sample texts</h2><p class="blurb">A few real training texts '
        "and synthetic texts of each label, drawn at random; look for repeated openings, "
        "wrong labels, prompt echoes and too little variety.</p>"
        '<div class="textcols"><div><h3>Real (train)</h3>'
        + _text_list(ex.get("real"))
        + "</div><div><h3>Synthetic</h3>"
        + _text_list(ex.get("synthetic"))
        + "</div></div></section>"
    )


def _plot_closest_texts(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"closest_texts": [{"synthetic", "train", "cosine"?, "jaccard"?}]}``: a table."""
    rows, bad = [], 0
    for p in d["closest_texts"][:MAX_PAIRS]:
        if not isinstance(p, Mapping) or not isinstance(p.get("synthetic"), str):
            bad += 1
            continue
        sims = " · ".join(
            f"{k} {fmt(p.get(k))}" for k in ("cosine", "jaccard") if finite(p.get(k)) is not None
        )
        rows.append(
            f"<tr><td>{esc(_scalar_text(p.get('synthetic'), MAX_TEXT_CHARS))}</td>"
            f"<td>{esc(_scalar_text(p.get('train'), MAX_TEXT_CHARS))}</td>"
            f'<td class="n">{esc(sims)}</td></tr>'
        )
    notes = [f"{bad} closest pair(s) without texts not shown"] if bad else []
    if not rows:
        return "", notes
    return (
        f'<figure class="fig wide"><h3 class="figtitle">{esc(m.name)}: closest pairs</h3>'
        '<div class="table-wrap"><table class="metrics"><thead><tr><th>Synthetic text</th>'
        '<th>Nearest training text</th><th class="n">Similarity</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div><figcaption>The synthetic texts nearest to a training text "
        "(sentence embeddings), closest first. Pairs that read alike point to copied training "
        "texts.</figcaption></figure>",
        notes,
    )


def _plot_constraints(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Constraint validity: a bar chart of real vs synthetic shares and a table of every rule."""
    rows = [r for r in d["constraints"] if isinstance(r, Mapping)]
    if not rows:
        raise ValueError("no constraint rows")
    bars = {
        str(_get(r, "constraint")): {"real": _get(r, "real"), "synthetic": _get(r, "synthetic")}
        for r in rows
    }
    fig, notes = _grouped(
        bars,
        title="Constraint validity: share of rows obeying each rule",
        value_label="share of rows",
        caption="Each exact rule of the table (declared in the schema, or discovered in the real "
        "data with its evidence), and the share of real and synthetic rows that obey it.",
    )
    body = "".join(
        "<tr>"
        f"<td>{esc(_scalar_text(_get(r, 'constraint')))}</td>"
        f"<td>{esc(_scalar_text(_get(r, 'kind')))}</td>"
        f"<td>{esc(_scalar_text(_get(r, 'provenance')))}</td>"
        f"<td>{esc(fmt(_get(r, 'real')))}</td>"
        f"<td>{esc(fmt(_get(r, 'synthetic')))}</td>"
        f"<td>{esc(_scalar_text(_get(r, 'synthetic_violations')))}</td>"
        "</tr>"
        for r in rows
    )
    table = (
        '<div class="table-wrap"><table class="metrics"><thead><tr><th>Constraint</th>'
        "<th>Kind</th><th>Provenance</th><th>Real</th><th>Synthetic</th>"
        "<th>Synthetic rows breaking it</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )
    return fig + table, notes


def _plot_curves(m: Any, d: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``{"curves": {"x": [...], "series": {name: [...]}, "x_label", "y_label", "reference",
    "reference_label"}}``: one line per series (e.g. a regime over generations)."""
    c = d["curves"]
    series = c.get("series")
    if not isinstance(series, Mapping) or not series:
        raise ValueError("curves: expected a 'series' mapping")
    svg = _svg.line_chart(
        c.get("x"),
        [(str(k), v) for k, v in series.items()],
        title=str(c.get("title") or m.name.replace("_", " ")),
        x_label=str(c.get("x_label") or ""),
        y_label=str(c.get("y_label") or ""),
        reference=c.get("reference"),
        reference_label=str(c.get("reference_label") or ""),
    )
    return _figure(svg, esc(m.description)), []


_COLLAPSE_COLUMNS = (
    ("train_rows", "train rows"),
    ("tail_coverage", "tail coverage"),
    ("rare_category_coverage", "rare categories"),
    ("extreme_quantile_coverage", "extreme quantiles"),
    ("variance_ratio", "variance ratio"),
    ("distinct_ratio", "distinct ratio"),
    ("column_shapes", "column shapes"),
    ("pair_trends", "pair trends"),
    ("detection_auc", "detection AUC"),
    ("tstr", "TSTR"),
)


def _collapse_section(study: Mapping[str, Any]) -> str:
    """The findings and a row per regime and generation (``meta["collapse"]``)."""
    rows = study.get("rows")
    if not isinstance(rows, list) or not rows:
        return ""
    cols = [
        (k, lab)
        for k, lab in _COLLAPSE_COLUMNS
        if any(isinstance(r, Mapping) and k in r for r in rows)
    ]
    trtr = finite(study.get("trtr"))
    body = []
    for r in rows:
        if not isinstance(r, Mapping):
            continue
        cells = "".join(f'<td class="n">{esc(fmt(r.get(k)))}</td>' for k, _ in cols)
        body.append(
            f"<tr><td>{esc(_scalar_text(r.get('regime'), 40))}</td>"
            f'<td class="n">{esc(fmt(r.get("generation")))}</td>{cells}</tr>'
        )
    findings = study.get("findings")
    items = (
        '<ul class="notes">'
        + "".join(f"<li>{esc(_scalar_text(f, 400))}</li>" for f in findings[:10])
        + "</ul>"
        if isinstance(findings, list) and findings
        else ""
    )
    score = _scalar_text(study.get("tstr_score") or "score", 40)
    ref = (
        f" TRTR (gradient boosting trained on the real train): {fmt(trtr)} {esc(score)}."
        if trtr is not None
        else ""
    )
    return (
        '<section id="generations"><h2>Generations</h2><p class="blurb">Every generation\'s '
        "sample measured against the original real data; generation 0 is fitted on the real "
        f"data and shared by the regimes.{ref}</p>"
        + items
        + '<div class="table-wrap"><table class="metrics"><thead><tr><th>Regime</th>'
        '<th class="n">Generation</th>'
        + "".join(f'<th class="n">{esc(lab)}</th>' for _, lab in cols)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div></section>"
    )


def _samples_section(images: Mapping[str, Any]) -> str:
    """Real and synthetic thumbnails per class (``meta["images"]["thumbnails"]``)."""
    th = images.get("thumbnails")
    if not isinstance(th, Mapping):
        return ""
    classes, real, syn = th.get("classes"), th.get("real"), th.get("synthetic")
    if not all(isinstance(v, (list, tuple)) for v in (classes, real, syn)):
        return ""
    rows, skipped = [], 0

    def cell(uris: Any, who: str, name: str) -> str:
        nonlocal skipped
        if not isinstance(uris, (list, tuple)):
            return '<td><span class="muted">none</span></td>'
        tags = []
        for i, u in enumerate(uris[:MAX_THUMBS]):
            tag = _img(u, f"{who} image {i + 1} of class {name}")
            if tag is None:
                skipped += 1
            else:
                tags.append(tag)
        inner = "".join(tags) or '<span class="muted">none</span>'
        return f'<td><div class="thumbs">{inner}</div></td>'

    for i, name in enumerate(list(classes)[:MAX_THUMB_CLASSES]):
        text = _scalar_text(name, 80)
        r = real[i] if i < len(real) else None
        s = syn[i] if i < len(syn) else None
        rows.append(
            f'<tr><th scope="row">{esc(text)}</th>'
            f"{cell(r, 'real', text)}{cell(s, 'synthetic', text)}</tr>"
        )
    notes = []
    more = len(classes) - MAX_THUMB_CLASSES + (finite(th.get("n_classes_not_shown")) or 0)
    if more > 0:
        notes.append(f"{int(more)} more classes not shown")
    if skipped:
        notes.append(f"{skipped} thumbnail(s) that are not embedded PNG images not shown")
    notes_html = (
        '<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    first = "Class" if th.get("per_class", True) else "Images"
    return (
        '<section id="samples"><h2>Sample images</h2><p class="blurb">A few real training '
        "images and synthetic images of each class, drawn at random; look for missing "
        "classes, artefacts and too little variety.</p>"
        '<div class="table-wrap"><table class="samples"><thead><tr>'
        f"<th>{first}</th><th>Real (train)</th><th>Synthetic</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
        + notes_html
        + "</section>"
    )


_IMAGE_CSS = f"""
img.thumb{{display:block;width:{THUMB_PX}px;height:auto;min-height:{THUMB_PX // 2}px;
image-rendering:pixelated;border:1px solid var(--line);background:#000;flex:none}}
table.samples{{border-collapse:collapse;font-size:13px}}
table.samples th{{text-align:left;font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted);border-bottom:2px solid var(--line);padding:6px 10px 6px 0}}
table.samples tbody th{{text-transform:none;font-size:13px;color:var(--ink);
border-bottom:1px solid var(--line);white-space:nowrap}}
table.samples td{{border-bottom:1px solid var(--line);padding:6px 16px 6px 0;vertical-align:top}}
div.thumbs{{display:flex;flex-wrap:wrap;gap:4px}}
.figtitle{{margin:0 0 8px;font-size:13px}}
.pairs{{display:flex;flex-wrap:wrap;gap:14px}}
.pair .imgs{{display:flex;gap:3px}}
.pair img.thumb{{border:2px solid var(--real)}}
.pair img.thumb:first-child{{border-color:var(--synth)}}
.pair .cap{{font-size:11.5px;color:var(--muted);margin-top:3px}}
"""


_TEXT_CSS = """
.textcols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
@media (max-width:760px){.textcols{grid-template-columns:1fr}}
ul.texts{margin:0;padding-left:18px;font-size:13px}ul.texts li{margin:0 0 8px}
.lab{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:var(--na-bg);
color:var(--na)}
.muted{color:var(--muted)}
"""


_Builder = Callable[[Any, Mapping[str, Any]], tuple[str, list[str]]]


def _layouts(d: Mapping[str, Any]) -> list[_Builder]:
    """The plot builders whose layout ``details`` matches (several may)."""
    out: list[_Builder] = []
    cols = d.get("columns")
    is_list = isinstance(cols, Sequence) and not isinstance(cols, str)
    if isinstance(cols, Mapping):
        out.append(_plot_column_shapes)
    elif is_list and "real" in d and "synthetic" in d:
        out.append(_plot_pair_trends)
    elif isinstance(d.get("real"), Mapping) and isinstance(d.get("synthetic"), Mapping):
        out.append(_plot_paired_mapping)
    if "edges" in d and "synthetic_to_train" in d:
        out.append(_plot_dcr)
    if any(str(k).endswith("_histogram") and isinstance(v, Mapping) for k, v in d.items()):
        out.append(_plot_histograms)
    if isinstance(d.get("models"), Mapping):
        out.append(_plot_models)
    if isinstance(d.get("groups"), Mapping):
        out.append(_plot_groups)
    if isinstance(d.get("gaps"), Mapping):
        out.append(_plot_gaps)
    if isinstance(d.get("top_features"), list) and d["top_features"]:
        out.append(_plot_top_features)
    if isinstance(d.get("histogram"), Mapping):
        out.append(_plot_histogram)
    if isinstance(d.get("acf"), Mapping):
        out.append(_plot_acf)
    if isinstance(d.get("transitions"), Mapping):
        out.append(_plot_transitions)
    heat = d.get("heatmap")
    if isinstance(heat, Mapping) and len(heat.get("columns") or ()) >= 2:
        out.append(_plot_heatmap_block)
    if isinstance(d.get("closest_pairs"), list) and d["closest_pairs"]:
        out.append(_plot_closest_pairs)
    if isinstance(d.get("closest_texts"), list) and d["closest_texts"]:
        out.append(_plot_closest_texts)
    if isinstance(d.get("curves"), Mapping):
        out.append(_plot_curves)
    if isinstance(d.get("constraints"), list) and d["constraints"]:
        out.append(_plot_constraints)
    return out


def _plots(family: str, metrics: Sequence[Any]) -> tuple[list[str], list[str]]:
    figures: list[str] = []
    notes: list[str] = []
    curves: list[tuple[str, Any, Any, Any]] = []
    roc_slot: int | None = None
    for m in metrics:
        d = m.details if isinstance(getattr(m, "details", None), Mapping) else {}
        if not d:
            continue
        if "roc" in d:
            try:
                curves.append(_roc_of(m, d))
                if roc_slot is None:
                    roc_slot = len(figures)
            except _PLOT_ERRORS as exc:
                notes.append(f"{m.name}: ROC curve skipped ({exc})")
        for builder in _layouts(d):
            try:
                fig, more = builder(m, d)
            except _PLOT_ERRORS as exc:
                logger.debug("plot for %s skipped", m.name, exc_info=True)
                notes.append(f"{m.name}: plot skipped ({exc})")
                continue
            notes.extend(f"{m.name}: {n}" for n in more)
            if fig:
                figures.append(fig)
    if curves:
        if family == "privacy":
            title, caption = (
                "Attack ROC curves",
                "Each attack tries to tell training records from holdout records using the "
                "synthetic data; a curve on the diagonal means the attack does no better than "
                "guessing.",
            )
        elif family == "drift":
            title, caption = (
                "Drift detection ROC",
                "A classifier trained to tell current rows from reference rows; a curve on the "
                "diagonal means no joint drift.",
            )
        elif family == "fidelity":
            title, caption = (
                "Detection ROC",
                "A classifier trained to tell real rows from synthetic rows; a curve on the "
                "diagonal means it cannot.",
            )
        else:
            title, caption = "ROC curves", "ROC curves; the diagonal is chance."
        try:
            fig = _figure(_svg.roc_chart(curves, title=title), esc(caption))
            figures.insert(roc_slot or 0, fig)
        except _PLOT_ERRORS as exc:
            notes.append(f"ROC curves skipped ({exc})")
    return figures, notes


# ------------------------------------------------------------------ page parts
def _header(evaluation: Any, card: Mapping[str, Any] | None, title: str) -> str:
    meta = evaluation.meta if isinstance(evaluation.meta, Mapping) else {}
    sources = [card or {}, meta]
    facts: list[tuple[str, str]] = []
    gen = _find(sources, ("generator", "generator_name", "model"))
    if isinstance(gen, Mapping):
        gen = gen.get("name") or gen.get("type") or gen.get("class")
    if gen is not None:
        facts.append(("Generator", f"<strong>{esc(_scalar_text(gen))}</strong>"))
    fp = _find(sources, ("fingerprint", "input_fingerprint", "data_fingerprint", "sha256"))
    if fp is not None and not isinstance(fp, Mapping):
        facts.append(("Data fingerprint", f"<code>{esc(_scalar_text(fp))}</code>"))
    rows = []
    for key, alias, label in (
        ("n_train", "n_real_train", "train"),
        ("n_holdout", "n_real_holdout", "holdout"),
        ("n_synthetic", "n_synthetic_rows", "synthetic"),
    ):
        v = _find(sources, (key, alias))
        if v is not None and not isinstance(v, Mapping):
            rows.append(f"{esc(label)} {esc(_scalar_text(v))}")
    seqs = _find(sources, ("sequences",))
    if isinstance(seqs, Mapping):
        facts.append(("Sequences", _sequence_fact(seqs, events=not rows)))
    images = _find(sources, ("images",))
    images = images if isinstance(images, Mapping) and not isinstance(seqs, Mapping) else None
    if images is not None:
        facts.append(("Images", _image_fact(images)))
    text = _find(sources, ("text",)) if images is None and not isinstance(seqs, Mapping) else None
    text = text if isinstance(text, Mapping) else None
    if text is not None:
        facts.append(("Texts", _text_fact(text)))
    if rows:
        label = (
            "Events"
            if isinstance(seqs, Mapping)
            else "Images"
            if images
            else "Texts"
            if text
            else "Rows"
        )
        facts.append((label + (" per set" if images or text else ""), " · ".join(rows)))
    drift = meta.get("drift")
    if isinstance(drift, Mapping) and drift.get("verdict"):
        reasons = drift.get("reasons")
        why = "; ".join(str(r) for r in reasons[:6]) if isinstance(reasons, (list, tuple)) else ""
        facts.append(
            (
                "Drift verdict",
                f"<strong>{esc(_scalar_text(drift.get('verdict')))}</strong>"
                + (f" · {esc(_scalar_text(why, 400))}" if why else ""),
            )
        )
    study = meta.get("collapse")
    if isinstance(study, Mapping) and study.get("regimes"):
        regimes = study.get("regimes")
        names = ", ".join(map(str, regimes)) if isinstance(regimes, list) else str(regimes)
        facts.append(
            (
                "Study",
                f"{esc(_scalar_text(study.get('generations')))} generations · regimes "
                f"{esc(_scalar_text(names, 200))}",
            )
        )
    privacy = _get(card, "privacy")
    if isinstance(privacy, Mapping) and privacy.get("budget_spent") is not None:
        # a differentially private generator: its guarantee in one line (the ledger is in the card)
        facts.append(("Privacy", esc(_scalar_text(privacy.get("note"), 240))))
    shown = {"generator", "fingerprint", "n_train", "n_holdout", "n_synthetic", "skipped",
             "n_real_train", "n_real_holdout", "columns", "schema", "drift_verdict",
             "families", "collapse"}  # fmt: skip
    extra = [
        (str(k), esc(_scalar_text(v, 160)))
        for k, v in meta.items()
        if str(k) not in shown
        and not isinstance(v, Mapping)
        and not (isinstance(v, (list, tuple)) and len(v) > 8)
    ]
    fact_html = "".join(
        f'<div class="fact"><span class="k">{esc(k)}</span><span class="v">{v}</span></div>'
        for k, v in facts
    )
    extra_html = (
        '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in extra) + "</dl>"
        if extra
        else ""
    )
    nav = "".join(
        f'<a href="#{f}">{_FAMILY_TITLES[f]}</a>' for f in FAMILIES if evaluation.by_family(f)
    )
    if card:
        nav += '<a href="#card">Data card</a>'
    if images is not None and isinstance(images.get("thumbnails"), Mapping):
        nav = '<a href="#samples">Sample images</a>' + nav
    if text is not None and isinstance(text.get("examples"), Mapping):
        nav = '<a href="#samples">Sample texts</a>' + nav
    return (
        f'<header><div class="wrap"><p class="kicker">sosie evaluation report</p>'
        f"<h1>{esc(title)}</h1>"
        f'<div class="facts">{fact_html}</div>{extra_html}'
        f'<nav><a href="#summary">Summary</a>{nav}</nav></div></header>'
    )


_TABLE_LABELS = {
    "real_train": "train",
    "train": "train",
    "real_holdout": "holdout",
    "holdout": "holdout",
    "synthetic": "synthetic",
}


def _sequence_fact(seqs: Mapping[str, Any], *, events: bool = True) -> str:
    """One line saying the data are sequences: entity and time columns, entities, and (with
    ``events``) events per table."""
    parts = []
    entity = seqs.get("entity")
    if entity is not None:
        parts.append(f"entity <code>{esc(_scalar_text(entity))}</code>")
    tcol = seqs.get("time")
    if tcol is not None:
        kind = seqs.get("time_kind")
        parts.append(
            f"time <code>{esc(_scalar_text(tcol))}</code>"
            + (f" ({esc(_scalar_text(kind))})" if kind else "")
        )
    elif "time" in seqs:
        parts.append("ordered by row")
    for key, label in (("n_entities", "entities"), ("n_events", "events")):
        if key == "n_events" and not events:
            continue
        v = seqs.get(key)
        if isinstance(v, Mapping):
            counts = [
                f"{esc(_TABLE_LABELS.get(str(k), str(k)))} {esc(_scalar_text(x))}"
                for k, x in v.items()
                if x is not None and not isinstance(x, (Mapping, list, tuple))
            ]
            if counts:
                parts.append(f"{label}: " + ", ".join(counts))
        elif v is not None and not isinstance(v, (list, tuple)):
            parts.append(f"{esc(_scalar_text(v))} {label}")
    return " · ".join(parts) if parts else "yes"


#: headline numbers computed from a metric of another name (image TSTR: the ``tstr`` metric)
_HEADLINE_ALIASES = {"tstr_ratio": "tstr"}


def _metric_for_headline(metrics: Sequence[Any], key: str, value: Any) -> Any:
    """The metric behind a headline number: the same name, else a metric of the same prefix
    with the same value (``mia_auc`` is the value of the strongest ``mia_*`` attack)."""
    same = next((m for m in metrics if m.name in (key, _HEADLINE_ALIASES.get(key))), None)
    if same is not None:
        return same
    v = finite(value)
    prefix = key.split("_")[0] + "_"
    if v is None or prefix == key + "_":
        return None
    return next(
        (m for m in metrics if str(m.name).startswith(prefix) and finite(m.value) == v), None
    )


def _is_study(evaluation: Any) -> bool:
    """A drift check or a collapse study: the four evaluation families do not apply."""
    return _get(evaluation.meta, "kind") in ("drift", "collapse")


_COLLAPSE_HEADLINES = {
    "tail_coverage": ("Tail coverage", "rare categories and 1 % tails kept; 1 is best"),
    "tstr": ("TSTR", "score on real holdout data"),
    "detection_auc": ("Detection AUC", "original real vs this generation; 0.5 is best"),
}


def _collapse_labels(meta: Any) -> dict[str, tuple[str, str]]:
    """Headline tiles of a collapse study: each quantity at the last generation of each regime."""
    study = _get(meta, "collapse")
    if not isinstance(study, Mapping) or not isinstance(study.get("regimes"), list):
        return {}
    g = _scalar_text(study.get("generations"), 10)
    return {
        f"{name}_{regime}": (f"{label} ({regime})", f"generation {g}; {hint}")
        for name, (label, hint) in _COLLAPSE_HEADLINES.items()
        for regime in map(str, study["regimes"])
    }


def _regime_metric(metrics: Sequence[Any], key: str, value: Any) -> Any:
    """A collapse metric as one regime scores it (its value and ``details["normalized"]``)."""
    for m in metrics:
        regime = key[len(m.name) + 1 :] if key.startswith(m.name + "_") else None
        norms = m.details.get("normalized") if isinstance(m.details, Mapping) else None
        if regime and isinstance(norms, Mapping) and regime in norms:
            return SimpleNamespace(
                name=m.name, value=value, normalized=norms[regime], ci=None,
                target_value=m.target_value, baseline=m.baseline,
            )  # fmt: skip
    return None


def _summary(evaluation: Any, verdicts: Mapping[str, FamilyVerdict]) -> str:
    cards = []
    skipped = _get(evaluation.meta, "skipped") or {}
    study = _is_study(evaluation)
    for f in FAMILIES:
        fv = verdicts.get(f)
        if fv is None and study:
            continue
        if fv is None:
            why = _get(skipped, f)
            note = esc(_scalar_text(why)) if why else "not evaluated"
            cards.append(
                f'<div class="verdict na"><div class="fam">{_FAMILY_TITLES[f]}</div>'
                f'{_badge("n/a", big=True)}<div class="why">{note}</div></div>'
            )
            continue
        score = f'<div class="score">score {fmt(fv.score)}</div>' if fv.score is not None else ""
        cls = fv.verdict if fv.verdict in ("pass", "warn", "fail") else "na"
        cards.append(
            f'<div class="verdict {cls}"><div class="fam"><a href="#{f}">{_FAMILY_TITLES[f]}</a></div>'
            f'{_badge(fv.verdict, big=True)}{score}<div class="why">{esc(fv.reason)}</div></div>'
        )
    others = [
        f for f in verdicts if f not in FAMILIES
    ]  # families outside the four still get a card
    for f in others:
        fv = verdicts[f]
        cls = fv.verdict if fv.verdict in ("pass", "warn", "fail") else "na"
        cards.append(
            f'<div class="verdict {cls}"><div class="fam">{esc(f)}</div>'
            f'{_badge(fv.verdict, big=True)}<div class="why">{esc(fv.reason)}</div></div>'
        )
    summary = evaluation.summary if isinstance(evaluation.summary, Mapping) else {}
    known = [k for k in _HEADLINES if k in summary]
    labels = _collapse_labels(evaluation.meta)
    tile_keys = [k for k in labels if k in summary] or known or list(summary)[:MAX_TILES]
    rest = [k for k in summary if k not in tile_keys]
    tiles = []
    for key in tile_keys:
        value = summary[key]
        label, hint = labels.get(str(key)) or _HEADLINES.get(
            str(key), (str(key).replace("_", " ").capitalize(), "")
        )
        metric = (
            _regime_metric(evaluation.metrics, str(key), value)
            if key in labels
            else _metric_for_headline(evaluation.metrics, str(key), value)
        )
        verdict = metric_verdict(metric) if metric is not None else "n/a"
        cls = verdict if verdict in ("pass", "warn", "fail") else "na"
        ci = ""
        # an aliased metric's interval is of another quantity (TSTR accuracy, not the ratio)
        aliased = metric is not None and metric.name == _HEADLINE_ALIASES.get(key)
        if metric is not None and not aliased and _ci_text(metric.ci) != "n/a":
            ci = f'<div class="ci">95 % CI {esc(_ci_text(metric.ci))}</div>'
        val = value if not isinstance(value, (Mapping, list, tuple)) else None
        tiles.append(
            f'<div class="tile {cls}"><div class="label">{esc(label)}</div>'
            f'<div class="num">{esc(fmt(val))}</div>{ci}'
            + (f'<div class="hint">{esc(hint)}</div>' if hint else "")
            + "</div>"
        )
    tiles_html = (
        f'<h3>Headline numbers</h3><div class="tiles">{"".join(tiles)}</div>'
        if tiles
        else '<p class="note">No headline numbers in this evaluation.</p>'
    )
    if rest:
        items = "".join(
            f"<div><dt>{esc(k)}</dt><dd>{esc(fmt(summary[k]))}</dd></div>" for k in rest
        )
        tiles_html += f'<h3>Other summary numbers</h3><dl class="more">{items}</dl>'
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<div class="verdicts">{"".join(cards)}</div>{tiles_html}</section>'
    )


def _metric_table(metrics: Sequence[Any]) -> str:
    rows = []
    for m in metrics:
        v = metric_verdict(m)
        goal = getattr(m, "goal", None)
        if goal == "target" or is_auc_test(m):
            tv = (
                m.target_value
                if finite(m.target_value) is not None
                else 0.5
                if is_auc_test(m)
                else None
            )
            goal_text = f"best at {fmt(tv)}" if tv is not None else "best at target"
        else:
            goal_text = _GOALS.get(str(goal), str(goal))
        norm = finite(m.normalized)
        bar = (
            f'<span class="meter"><span style="width:{max(0.0, min(norm, 1.0)) * 100:.0f}%"></span></span>'
            if norm is not None
            else ""
        )
        rows.append(
            "<tr>"
            f'<td class="name"><code>{esc(m.name)}</code><span class="goal">{esc(goal_text)}</span></td>'
            f"<td>{_badge(v)}</td>"
            f'<td class="n">{esc(fmt(m.value))}</td>'
            f'<td class="n ci">{esc(_ci_text(m.ci))}</td>'
            f'<td class="n">{esc(fmt(m.baseline))}</td>'
            f'<td class="n">{bar}{esc(fmt(m.normalized))}</td>'
            f'<td class="desc">{esc(m.description)}</td>'
            "</tr>"
        )
    return (
        '<div class="table-wrap"><table class="metrics"><thead><tr><th>Metric</th><th>Verdict</th>'
        '<th class="n">Value</th><th class="n">95 % CI</th><th class="n">Baseline</th>'
        '<th class="n">Score</th><th>What it measures</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _family_section(
    family: str,
    metrics: Sequence[Any],
    fv: FamilyVerdict,
    *,
    sequences: bool = False,
    images: bool = False,
    text: bool = False,
) -> str:
    title = _FAMILY_TITLES.get(family, family)
    figures, notes = _plots(family, metrics)
    notes_html = (
        '<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    blurbs = (
        _SEQUENCE_BLURB
        if sequences
        else _IMAGE_BLURB
        if images
        else _TEXT_BLURB
        if text
        else _FAMILY_BLURB
    )
    blurb = blurbs.get(family, _FAMILY_BLURB.get(family, ""))
    return (
        f'<section id="{esc(family)}" class="family"><h2>{esc(title)} {_badge(fv.verdict)}</h2>'
        + (f'<p class="blurb">{esc(blurb)}</p>' if blurb else "")
        + _metric_table(metrics)
        + (f'<div class="figs">{"".join(figures)}</div>' if figures else "")
        + notes_html
        + "</section>"
    )


def _card_value(v: Any, depth: int = 0) -> str:
    if isinstance(v, Mapping):
        if not v:
            return '<span class="muted">(empty)</span>'
        if depth >= 5:
            return f"<code>{esc(_scalar_text(v, 2000))}</code>"
        rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{_card_value(x, depth + 1)}</td></tr>" for k, x in v.items()
        )
        return f'<table class="kv">{rows}</table>'
    if isinstance(v, (list, tuple)):
        if not v:
            return '<span class="muted">(none)</span>'
        if all(not isinstance(x, (Mapping, list, tuple)) for x in v):
            return esc(", ".join(_scalar_text(x, 10_000) for x in v))
        if depth >= 5:
            return f"<code>{esc(_scalar_text(v, 2000))}</code>"
        return "<ol>" + "".join(f"<li>{_card_value(x, depth + 1)}</li>" for x in v) + "</ol>"
    return esc(_scalar_text(v, 10_000))


def _card_section(card: Mapping[str, Any]) -> str:
    return (
        '<section id="card"><h2>Data card</h2><p class="blurb">What was made, from what and how: '
        "the record for disclosure.</p>"
        f'<div class="card">{_card_value(dict(card))}</div></section>'
    )


def _footer() -> str:
    rules = "".join(f"<li>{esc(r)}</li>" for r in RULES)
    colours = _legend_html(
        [
            ("real data / TRTR / holdout", REAL, False),
            ("synthetic data / TSTR", SYNTH, True),
            ("augmented (real + synthetic)", AUGMENTED, False),
        ]
    )
    return (
        '<footer><div class="wrap"><h2>How to read this report</h2>'
        f"<h3>Verdict rules</h3><ul>{rules}</ul>"
        f"<h3>Colours</h3>{colours}"
        '<p class="muted">Generated by sosie. This page is self-contained: it loads nothing from '
        "the network and can be archived as is.</p></div></footer>"
    )


_CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f7f8fa;--pass:#1a7f37;--pass-bg:#dcf5e3;
--warn:#8a5a00;--warn-bg:#fff1c7;--fail:#b42318;--fail-bg:#fde3e1;--na:#52606d;--na-bg:#eceff3;
--real:#0072B2;--synth:#E69F00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;color:var(--ink);background:#fff;font:14px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
.wrap,main{max-width:1180px;margin:0 auto;padding:0 24px}
header{background:var(--bg);border-bottom:1px solid var(--line);padding:20px 0 0}
.kicker{margin:0;color:var(--muted);font-size:12px;letter-spacing:.06em;text-transform:uppercase}
h1{margin:2px 0 10px;font-size:26px;line-height:1.25;overflow-wrap:anywhere}
h2{font-size:20px;margin:30px 0 8px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}
.facts{display:flex;flex-wrap:wrap;gap:6px 28px}
.fact{display:flex;flex-direction:column;min-width:0}
.fact .k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.fact .v{overflow-wrap:anywhere}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
overflow-wrap:anywhere}
dl.meta{display:flex;flex-wrap:wrap;gap:2px 18px;margin:10px 0 0;font-size:12.5px;color:var(--muted)}
dl.meta dt{font-weight:600}dl.meta dt::after{content:":"}
dl.meta dd{margin:0 0 0 -14px;overflow-wrap:anywhere}
nav{display:flex;flex-wrap:wrap;gap:4px 18px;margin-top:14px}
nav a{color:var(--ink);text-decoration:none;padding:6px 0;border-bottom:2px solid transparent;
font-weight:500}
nav a:hover{border-bottom-color:var(--real)}
section{margin-bottom:8px}
.blurb{margin:0 0 12px;color:var(--muted)}
.verdicts{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px}
.verdict{border:1px solid var(--line);border-top:4px solid var(--na);border-radius:8px;
padding:12px 14px;background:#fff}
.verdict.pass{border-top-color:var(--pass)}.verdict.warn{border-top-color:#d99a00}
.verdict.fail{border-top-color:var(--fail)}
.verdict .fam{font-weight:600;font-size:15px;margin-bottom:6px}
.verdict .fam a{color:inherit;text-decoration:none}
.verdict .score{font-size:13px;margin-top:6px}
.verdict .why{font-size:12px;color:var(--muted);margin-top:4px;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:700;
text-transform:uppercase;letter-spacing:.04em;vertical-align:middle;white-space:nowrap;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.badge.big{font-size:14px;padding:3px 12px}
.badge.pass{color:var(--pass);background:var(--pass-bg)}
.badge.warn{color:var(--warn);background:var(--warn-bg)}
.badge.fail{color:var(--fail);background:var(--fail-bg)}
.badge.na{color:var(--na);background:var(--na-bg)}
h2 .badge{margin-left:8px;position:relative;top:-2px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.tile{border:1px solid var(--line);border-left:4px solid var(--na);border-radius:6px;padding:8px 12px}
.tile.pass{border-left-color:var(--pass)}.tile.warn{border-left-color:#d99a00}
.tile.fail{border-left-color:var(--fail)}
.tile .label{font-size:12px;color:var(--muted);font-weight:600;overflow-wrap:anywhere}
.tile .num{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.tile .ci,.tile .hint{font-size:11.5px;color:var(--muted)}
dl.more{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:0 24px;
margin:0;font-size:12.5px}
dl.more div{display:flex;justify-content:space-between;gap:8px;border-bottom:1px solid var(--line);
padding:3px 0}
dl.more dt{color:#3e4c59;overflow-wrap:anywhere}dl.more dd{margin:0;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto}
table.metrics{width:100%;border-collapse:collapse;font-size:13px}
table.metrics th{text-align:left;font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted);border-bottom:2px solid var(--line);padding:6px 8px}
table.metrics td{border-bottom:1px solid var(--line);padding:7px 8px;vertical-align:top}
table.metrics .n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.metrics td.name code{font-weight:600;display:block;white-space:nowrap}
table.metrics .goal{display:block;font-size:11.5px;color:var(--muted)}
table.metrics td.desc{color:#3e4c59;min-width:220px;overflow-wrap:anywhere}
.meter{display:inline-block;width:46px;height:6px;background:var(--line);border-radius:3px;
margin-right:6px;vertical-align:middle;overflow:hidden;-webkit-print-color-adjust:exact;
print-color-adjust:exact}
.meter span{display:block;height:100%;background:#52606d}
.figs{display:flex;flex-wrap:wrap;gap:16px;margin-top:16px;align-items:flex-start}
figure{margin:0}
.fig{border:1px solid var(--line);border-radius:8px;padding:12px;max-width:100%;break-inside:avoid}
.fig.wide{flex:1 1 100%}
figcaption{font-size:12px;color:var(--muted);margin-top:6px;width:0;min-width:100%}
.fig.wide figcaption{width:auto;max-width:760px}
svg.plot{display:block;max-width:100%;height:auto;overflow:visible}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px 14px}
.grid .cell{break-inside:avoid}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:12px;margin-bottom:8px}
.key{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:16px;height:10px;background:var(--c);border-radius:2px;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sw.dashed{height:0;border-top:3px dashed var(--c);background:none;border-radius:0}
.notes{font-size:12px;color:var(--muted);margin:10px 0 0;padding-left:18px}
.note{color:var(--muted);font-style:italic;margin:8px 0}
.muted{color:var(--muted)}
.card{overflow-x:auto}
table.kv{border-collapse:collapse;font-size:13px;width:100%}
table.kv th{text-align:left;vertical-align:top;font-weight:600;padding:5px 12px 5px 0;
width:1%;white-space:nowrap;color:#3e4c59}
table.kv td{padding:5px 0;vertical-align:top;overflow-wrap:anywhere}
table.kv tr{border-bottom:1px solid var(--line)}
table.kv table.kv{font-size:12.5px}
table.kv table.kv tr:last-child{border-bottom:0}
.card ol{margin:0;padding-left:20px}
footer{margin-top:36px;background:var(--bg);border-top:1px solid var(--line);padding:4px 0 24px;
font-size:13px}
footer h2{border:0}
@media print{
body{font-size:11px}header,footer{background:#fff}nav{display:none}
.wrap,main{max-width:none;padding:0}
section.family,#card{break-before:auto}h2{break-after:avoid}
tr,.fig,.verdict,.tile{break-inside:avoid}
a{color:inherit;text-decoration:none}
}
"""


def _css() -> str:
    return "".join(line.strip() for line in _CSS.strip().splitlines())


def render_page(evaluation: Any, *, card: Mapping[str, Any] | None, title: str | None) -> str:
    """The whole page (see :func:`sosie.report.render_html`)."""
    if card is not None and not isinstance(card, Mapping):
        raise TypeError(f"card: expected a dict or None, found {type(card).__name__}")
    page_title = title or _get(card, "title") or DEFAULT_TITLE
    page_title = str(page_title)
    families = list(FAMILIES) + sorted(
        {str(m.family) for m in evaluation.metrics if m.family not in FAMILIES}
    )
    verdicts = {}
    sections = []
    skipped = _get(evaluation.meta, "skipped") or {}
    sequences = isinstance(_find([card or {}, evaluation.meta], ("sequences",)), Mapping)
    image_meta = None if sequences else _find([evaluation.meta, card or {}], ("images",))
    image_meta = image_meta if isinstance(image_meta, Mapping) else None
    text_meta = None if sequences or image_meta else _find([evaluation.meta, card or {}], ("text",))
    text_meta = text_meta if isinstance(text_meta, Mapping) else None
    study = _is_study(evaluation)
    for f in families:
        ms = evaluation.by_family(f)
        if not ms and study:
            continue
        if not ms:
            why = _get(skipped, f)
            text = (
                f"No {f} metrics were computed ({_scalar_text(why)})." if why else _MISSING.get(f)
            )
            if text:
                sections.append(
                    f'<section id="{esc(f)}" class="family missing"><p class="note">'
                    f"{esc(text)}</p></section>"
                )
            continue
        verdicts[f] = family_verdict(f, ms)
        sections.append(
            _family_section(
                f,
                ms,
                verdicts[f],
                sequences=sequences,
                images=bool(image_meta),
                text=bool(text_meta),
            )
        )
    body = (
        _header(evaluation, card, page_title)
        + "<main>"
        + _summary(evaluation, verdicts)
        + (_samples_section(image_meta) if image_meta else "")
        + (_text_samples_section(text_meta) if text_meta else "")
        + "".join(sections)
        + (
            _collapse_section(evaluation.meta["collapse"])
            if isinstance(_get(evaluation.meta, "collapse"), Mapping)
            else ""
        )
        + (_card_section(card) if card else "")
        + "</main>"
        + _footer()
    )
    # embedded images (data: PNGs only, see _img) need img-src; pages without them are unchanged
    has_img = '<img class="thumb" src="data:image/png;base64,' in body
    img_src = "; img-src data:" if has_img else ""
    css = (
        _css()
        + ("".join(ln.strip() for ln in _IMAGE_CSS.strip().splitlines()) if has_img else "")
        + ("".join(ln.strip() for ln in _TEXT_CSS.strip().splitlines()) if text_meta else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src 'unsafe-inline'{img_src}\">\n"
        '<meta name="generator" content="sosie">\n'
        f"<title>{esc(page_title)}</title>\n"
        f"<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def write_page(text: str, path: str | Path) -> Path:
    """Write atomically (a reader never sees half a report)."""
    from ..io import atomic_write_text

    return atomic_write_text(path, text)
