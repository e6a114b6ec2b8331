"""The privacy-utility trade-off page: utility and attack success as epsilon varies.

One self-contained HTML page (inline SVG, no script) from a list of result rows, one per
(generator, epsilon): three line charts against epsilon on a log axis (``inf``, no privacy, at
the right end), one line per generator, and the table of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._html import _css, write_page
from ._svg import DASHES, EXTRA, MUTED, _c, _Svg, _y_axis, esc, fmt

__all__ = ["render_privacy_tradeoff", "write_privacy_tradeoff"]

_CHARTS = (
    ("tstr_roc_auc", "utility: TSTR ROC AUC (higher is better)", "trtr_roc_auc", "TRTR"),
    ("mia_auc", "privacy: best membership-inference AUC (0.5 = guessing)", None, "0.5"),
    ("pair_trends", "fidelity: pair trends (higher is better)", None, None),
)


def _eps(v: Any) -> float:
    x = float(v)
    if math.isnan(x) or x <= 0:
        raise ValueError(f"epsilon must be > 0 or 'inf', got {v!r}")
    return x


def _value(row: Mapping[str, Any], key: str) -> float | None:
    v = (row.get("summary") or {}).get(key, row.get(key))
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _chart(rows: Sequence[Mapping[str, Any]], key: str, title: str, ref_key, ref_label) -> str:
    eps = sorted({_eps(r["epsilon"]) for r in rows})
    finite = [e for e in eps if math.isfinite(e)]
    lo = math.log10(min(finite)) if finite else 0.0
    hi = math.log10(max(finite)) if finite else 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    has_inf = any(math.isinf(e) for e in eps)
    w, h, left, top = 400.0, 220.0, 46.0, 26.0
    plot_w = w - left - (60 if has_inf else 20)
    x0, x1, y0, y1 = left, left + plot_w, top + h - 70, top
    span = hi - lo

    def px(e: float) -> float:
        if math.isinf(e):
            return x1 + 40
        return x0 + (math.log10(e) - lo) / span * (x1 - x0)

    values = [v for r in rows for v in (_value(r, key),) if v is not None]
    ref = [v for r in rows for v in ((_value(r, ref_key) if ref_key else None),) if v is not None]
    if ref_label == "0.5":
        ref = [0.5]
    vlo = min([*values, *ref], default=0.0)
    vhi = max([*values, *ref], default=1.0)
    vlo, vhi = math.floor(vlo * 10) / 10, math.ceil(vhi * 10) / 10
    if vhi - vlo < 0.1:
        vhi = vlo + 0.1

    def py(v: float) -> float:
        return y0 - (v - vlo) / (vhi - vlo) * (y0 - y1)

    svg = _Svg(w, h + 10, title)
    svg.text(left, 14, title, size=12, weight="600")
    _y_axis(svg, x0, y0, y1, vlo, vhi, "", n=4, grid_to=x1 + (40 if has_inf else 0))
    svg.line(x0, y0, x1 + (40 if has_inf else 0), y0, stroke=MUTED)
    for e in finite:
        svg.line(px(e), y0, px(e), y0 + 3, stroke=MUTED)
        svg.text(px(e), y0 + 13, f"{e:g}", size=9.5, anchor="middle", fill=MUTED)
    if has_inf:
        svg.text(px(math.inf), y0 + 13, "inf", size=9.5, anchor="middle", fill=MUTED)
    svg.text((x0 + x1) / 2, y0 + 26, "epsilon (log scale; inf = no privacy)", size=10,
             anchor="middle", fill=MUTED)  # fmt: skip
    if ref:
        r = sum(ref) / len(ref)
        svg.add(
            f'<line x1="{_c(x0)}" y1="{_c(py(r))}" x2="{_c(px(max(eps)))}" y2="{_c(py(r))}" '
            f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="3 3"><title>{esc(ref_label)} '
            f"{fmt(r)}</title></line>"
        )
        svg.text(x0 + 4, py(r) - 4, f"{ref_label} {fmt(r)}", size=9.5, fill=MUTED)
    generators = list(dict.fromkeys(str(r["generator"]) for r in rows))
    ly = y0 + 44
    lx = x0
    for k, g in enumerate(generators):
        col, dash = EXTRA[k % len(EXTRA)], DASHES[k % len(DASHES)]
        pts = sorted(
            (_eps(r["epsilon"]), v)
            for r in rows
            if str(r["generator"]) == g
            for v in (_value(r, key),)
            if v is not None
        )
        if not pts:
            continue
        d = "M" + " L".join(f"{_c(px(e))} {_c(py(v))}" for e, v in pts)
        da = f' stroke-dasharray="{dash}"' if dash else ""
        svg.add(
            f'<path d="{d}" fill="none" stroke="{col}" stroke-width="2"{da}>'
            f"<title>{esc(g)}</title></path>"
        )
        for e, v in pts:
            svg.add(
                f'<circle cx="{_c(px(e))}" cy="{_c(py(v))}" r="3" fill="{col}">'
                f"<title>{esc(g)} at epsilon {e:g}: {fmt(v)}</title></circle>"
            )
        svg.add(
            f'<line x1="{_c(lx)}" y1="{_c(ly - 4)}" x2="{_c(lx + 20)}" y2="{_c(ly - 4)}" '
            f'stroke="{col}" stroke-width="2.5"{da}/>'
        )
        svg.text(lx + 24, ly, g, size=10.5)
        lx += 34 + 7 * len(g)
    return str(svg)


def render_privacy_tradeoff(
    rows: Sequence[Mapping[str, Any]], *, title: str = "Privacy-utility trade-off"
) -> str:
    """An HTML page plotting utility, attack success and fidelity against epsilon.

    Args:
        rows: one per (generator, epsilon): ``{"generator": ..., "epsilon": 1.0 or "inf",
            "summary": {...}}`` where the summary holds the keys of
            :attr:`sosie.evaluate.Evaluation.summary` (``tstr_roc_auc``, ``trtr_roc_auc``,
            ``mia_auc``, ``pair_trends``, ``column_shapes``, ``detection_auc``); missing
            numbers are skipped.
        title: the page title.

    Returns:
        The HTML text (self-contained, no script).

    Example:
        >>> rows = [{"generator": "mst", "epsilon": e, "summary": {"tstr_roc_auc": a,
        ...          "mia_auc": 0.5, "pair_trends": 0.8}} for e, a in [(1, 0.8), ("inf", 0.85)]]
        >>> page = render_privacy_tradeoff(rows)
        >>> page.count("<svg"), "inf" in page, "<script" in page
        (3, True, False)
    """
    rows = [r for r in rows if "generator" in r and "epsilon" in r]
    if not rows:
        raise ValueError("no rows: each needs 'generator', 'epsilon' and 'summary'")
    charts = "".join(
        f'<figure class="plot">{_chart(rows, k, t, ref, lab)}</figure>'
        for k, t, ref, lab in _CHARTS
    )
    cols = ("column_shapes", "pair_trends", "detection_auc", "tstr_roc_auc", "mia_auc")
    head = "".join(f"<th>{esc(c)}</th>" for c in ("generator", "epsilon", *cols))
    body = "".join(
        "<tr>"
        + f"<td>{esc(r['generator'])}</td><td>{esc(r['epsilon'])}</td>"
        + "".join(f"<td>{fmt(_value(r, c))}</td>" for c in cols)
        + "</tr>"
        for r in sorted(rows, key=lambda r: (str(r["generator"]), _eps(r["epsilon"])))
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{esc(title)}</title>\n<style>{_css()}</style>\n</head>\n<body>\n<main>"
        f"<h1>{esc(title)}</h1>"
        '<p class="note">Each line is one generator; epsilon on a log axis, inf (no noise, '
        "the generator's non-private baseline) at the right. A membership-inference AUC of 0.5 "
        "means the attacker does no better than a coin flip.</p>"
        f"<section>{charts}</section>"
        f"<section><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
        "</main>\n</body>\n</html>\n"
    )


def write_privacy_tradeoff(
    rows: Sequence[Mapping[str, Any]], path: str | Path, *, title: str = "Privacy-utility trade-off"
) -> Path:
    """Write :func:`render_privacy_tradeoff` atomically; returns the path.

    Example:
        >>> import tempfile, pathlib
        >>> rows = [{"generator": "mst", "epsilon": 1, "summary": {"tstr_roc_auc": 0.8}}]
        >>> out = write_privacy_tradeoff(rows, pathlib.Path(tempfile.mkdtemp()) / "dp.html")
        >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        True
    """
    return write_page(render_privacy_tradeoff(rows, title=title), path)
