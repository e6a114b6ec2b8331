"""The evaluation report: one self-contained HTML file (inline CSS, inline SVG plots, no script).

:func:`render_html` turns an :class:`~sosie.evaluate.Evaluation` (the data model: JSON,
diffable, testable) and an optional data card into a page that works offline, prints, and
escapes every data-derived string. :func:`write_html` writes it atomically.

The page: a header (title, generator, data fingerprint, row counts, run details from
``evaluation.meta``), a summary (a pass/warn/fail verdict per family and the headline numbers of
``evaluation.summary``), one section per family (a table of every metric, then its plots), the
data card, and a footer that states the verdict rules (all thresholds live in
``sosie.report._verdict``). A family without metrics becomes a one-line note; an optional
``evaluation.meta["skipped"] = {family: reason}`` gives the reason. Missing or non-finite numbers
show as ``n/a``.

Plot layouts in ``MetricResult.details`` (for metric authors)
-------------------------------------------------------------
Plots are chosen by the *shape* of ``details``; what is absent is skipped, what is malformed
becomes a one-line note under the section (never an exception). Extra keys are ignored. Lists
may hold ``None`` for missing values; NumPy arrays are accepted but ``to_dict`` stores lists.

``column_shapes`` (fidelity), a grid of small distribution overlays::

    {"columns": {col: {"kind": "numeric", "edges": [e0, ..., ek],
                       "real": [k densities], "synthetic": [k densities]},
                 col: {"kind": "categorical", "categories": [c1, ...],
                       "real": [shares], "synthetic": [shares]}}}

  Open-ended first/last edges (``-inf``/``inf``) are closed at one bin width. Beyond 8 categories
  the rarest are pooled into "other (n)". At most 48 columns are drawn. A numeric
  ``breakdown[col]`` is shown next to the column name.

``pair_trends`` (fidelity), real and synthetic heatmaps plus their absolute difference::

    {"columns": [names], "real": n x n matrix, "synthetic": n x n matrix, "measure": "correlation"}

  Values in [-1, 1] use a diverging scale, values in [0, 1] a sequential one. ``measure`` is
  optional. At most 40 columns are drawn. A nested block of the same layout under
  ``"correlation"`` (with ``"method"`` naming it) gets its own row of heatmaps.

``dcr_share`` (privacy), distance-to-closest-record histograms::

    {"edges": [...], "synthetic_to_train": [...], "holdout_to_train": [...]}

Any ``<name>_histogram`` block, histograms sharing bins (``synthetic`` is drawn orange and
dashed, ``holdout``/``real`` blue)::

    {"dcr_histogram": {"bin_edges": [...], "synthetic": [...], "holdout": [...]}}

Any metric with a ROC curve (``mia_*`` attacks, ``detection_auc``)::

    {"roc": {"fpr": [...], "tpr": [...]}}

  All ROC curves of one family share one chart with the chance diagonal; the legend shows the
  metric's ``value`` as its AUC (or ``roc["auc"]`` for metrics that are not AUC tests).

Utility metrics, grouped bars TRTR vs TSTR (vs augmented)::

    {"models": {model_name: {"trtr": x, "tstr": y, "augmented": z}}, "score_name": "roc_auc"}

Fairness metrics, per-group bars; one of::

    {"groups": {group: {"real": share, "synthetic": share}}, "attribute": "sex"}
    {"groups": {group: {"trtr": x, "tstr": y}}, "score_name": "accuracy"}
    {"gaps": {"real": x, "synthetic": y}}          # or {"gaps": {name: {"real": x, ...}}}

  ``attribute`` and ``score_name`` are optional. When a group holds any of the keys ``real``,
  ``synthetic``, ``trtr``, ``tstr``, ``augmented``, only those are drawn (so counts may ride
  along); otherwise every numeric key is a series.

Sequence metrics (``sosie.evaluate.evaluate_sequences``)::

    {"histogram": {"edges": [...], "real": [...], "synthetic": [...],
                   "x_label": "events per entity", "title": "...", "log10": False}}
    {"acf": {col: {"lags": [1, 2, 3], "real": [r1, r2, r3], "synthetic": [...]}}}
    {"transitions": {col: {"states": [s1, ...], "real": k x k, "synthetic": k x k}}}
    {"heatmap": {"columns": [...], "real": n x n, "synthetic": n x n, "method": "pearson"}}

  ``histogram``: one overlay (``x_label``, ``y_label``, ``title`` optional). ``acf``: a grid of
  small bar charts, lags real vs synthetic, at most 24 columns. ``transitions``: per column
  (at most 8) the real and synthetic P(next | current) (rows: current state) and their absolute
  difference. ``heatmap``: the pair-trends heatmaps of a nested block. When
  ``meta["sequences"]`` (or the card's ``sequences``) is present, the header says the data
  are sequences (entity, time, entities and events per table) and the section blurbs speak of
  sequences.

Lines over steps (the model-collapse study: one line per regime over the generations)::

    {"curves": {"x": [0, 1, 2], "series": {name: [v0, v1, v2]}, "x_label": "generation",
                "y_label": "...", "reference": 1.0, "reference_label": "real data"}}

  ``reference`` (optional) is drawn as a dotted level. When ``evaluation.meta["collapse"]``
  holds the study's ``rows`` (one per regime and generation) and ``findings``, a
  "Generations" section tables them and the headline tiles show each regime's last value.

Also drawn when present: ``{"real": {key: x}, "synthetic": {key: y}}`` (bars per key, e.g. null
shares per column) and ``{"top_features": [{"name": col, "auc": x}], "feature_importance": "..."}``
(bars per column, e.g. what gives synthetic rows away).

Colours are the Okabe-Ito colour-blind-safe palette: real data (and TRTR, holdout) blue,
synthetic data (and TSTR) orange and dashed where drawn as a line, augmented green.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._html import render_page, write_page
from ._tradeoff import render_privacy_tradeoff, write_privacy_tradeoff
from ._verdict import FAMILIES, auc_verdict, family_verdict, metric_verdict, score_verdict

if TYPE_CHECKING:
    from ..evaluate._core import Evaluation

__all__ = [
    "auc_verdict",
    "family_verdicts",
    "metric_verdict",
    "render_html",
    "render_privacy_tradeoff",
    "score_verdict",
    "write_html",
    "write_privacy_tradeoff",
]


def render_html(
    evaluation: Evaluation,
    *,
    card: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """Render an evaluation (and optionally its data card) to one self-contained HTML page.

    The page has no external references (no scripts, fonts, images or links to load), escapes
    every data-derived string, and is deterministic: the same input gives the same text.

    Args:
        evaluation: the metrics to report (see the module docstring for the plot layouts).
        card: the data card (any JSON-like dict), shown as nested tables; its ``generator``,
            ``fingerprint`` and row counts also feed the header.
        title: the page title (default: ``card["title"]`` or "Synthetic data report").

    Returns:
        The HTML text.

    Example:
        >>> from sosie.evaluate._core import Evaluation, MetricResult
        >>> ev = Evaluation(
        ...     [MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.93, 0.93,
        ...                   "similarity of each column's distribution")],
        ...     summary={"column_shapes": 0.93},
        ... )
        >>> page = render_html(ev, title="Adult <demo>")
        >>> page.startswith("<!DOCTYPE html>"), "Adult &lt;demo&gt;" in page, "<script" in page
        (True, True, False)
    """
    return render_page(evaluation, card=card, title=title)


def write_html(
    evaluation: Evaluation,
    path: str | Path,
    *,
    card: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Render with :func:`render_html` and write the page atomically (UTF-8).

    Args:
        evaluation: the metrics to report.
        path: the destination file; parent directories are created.
        card: the data card, as for :func:`render_html`.
        title: the page title, as for :func:`render_html`.

    Returns:
        The destination as a :class:`pathlib.Path`.

    Example:
        >>> import tempfile, pathlib
        >>> from sosie.evaluate._core import Evaluation, MetricResult
        >>> ev = Evaluation([MetricResult("exact_copies", "privacy", "minimize", (0, 1), 0.0, 1.0,
        ...                               "share of synthetic rows identical to a training row")])
        >>> out = write_html(ev, pathlib.Path(tempfile.mkdtemp()) / "report.html")
        >>> "exact_copies" in out.read_text(encoding="utf-8")
        True
    """
    return write_page(render_html(evaluation, card=card, title=title), path)


def family_verdicts(evaluation: Evaluation) -> dict[str, str]:
    """The report's verdict (``pass``, ``warn``, ``fail`` or ``n/a``) of each family present.

    The rules are stated in ``sosie.report._verdict`` and printed in the report's footer.

    Example:
        >>> from sosie.evaluate._core import Evaluation, MetricResult
        >>> ev = Evaluation([
        ...     MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.95, 0.95, "x"),
        ...     MetricResult("mia_distance", "privacy", "target", (0, 1), 0.71, 0.58, "y",
        ...                  ci=(0.66, 0.76), baseline=0.5, target_value=0.5),
        ... ])
        >>> family_verdicts(ev)
        {'fidelity': 'pass', 'privacy': 'fail'}
    """
    families = list(FAMILIES) + sorted(
        {str(m.family) for m in evaluation.metrics if m.family not in FAMILIES}
    )
    out: dict[str, str] = {}
    for f in families:
        ms = evaluation.by_family(f)
        if ms:
            out[f] = family_verdict(f, ms).verdict
    return out
