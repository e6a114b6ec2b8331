"""Small, dependency-free SVG charts for the HTML report.

Every chart is one ``<svg>`` element meant to be inlined in an HTML page (no ``xmlns``, no ids,
no external references). Every data-derived string goes through :func:`esc`. Charts raise
``ValueError`` (or ``TypeError``) on malformed input; the caller turns that into a note.

Colours follow the Okabe-Ito colour-blind-safe palette, the same meaning everywhere:
real data is blue, synthetic data is orange (and dashed where drawn as a line).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "AUGMENTED",
    "REAL",
    "SYNTH",
    "bar_chart",
    "categorical_overlay",
    "esc",
    "fmt",
    "heatmap",
    "histogram_overlay",
    "line_chart",
    "roc_chart",
    "series_colour",
]

REAL = "#0072B2"  # blue: real data, TRTR, holdout
SYNTH = "#E69F00"  # orange: synthetic data, TSTR
AUGMENTED = "#009E73"  # green: real + synthetic
# other series (attacks, extra keys): never blue or orange, so they never read as real/synthetic
EXTRA = ("#009E73", "#CC79A7", "#000000", "#D55E00", "#56B4E9", "#999999")
DASHES = ("", "6 3", "2 2", "8 3 2 3")
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
NA_FILL = "#d9d9d9"

_SERIES = {
    "real": REAL,
    "trtr": REAL,
    "holdout": REAL,
    "holdout_to_train": REAL,
    "synthetic": SYNTH,
    "tstr": SYNTH,
    "synthetic_to_train": SYNTH,
    "augmented": AUGMENTED,
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def series_colour(key: str, index: int = 0) -> str:
    """The colour of a named series (``real``, ``synthetic``, ``trtr``...), else an extra colour."""
    return _SERIES.get(str(key).lower(), EXTRA[(index + 1) % len(EXTRA)])


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes too); control characters and lone surrogates
    become U+FFFD so the page is always valid UTF-8."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub("\ufffd", text)
    return html.escape(text, quote=True)


def finite(x: Any) -> float | None:
    """``x`` as a finite float, else ``None`` (NaN, inf, None, strings, bools...)."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt(x: Any, digits: int = 3) -> str:
    """A number for people: ``n/a`` for missing or non-finite values.

    Example:
        >>> fmt(0.91234), fmt(None), fmt(float("nan")), fmt(12345), fmt(3), fmt(0.00012)
        ('0.912', 'n/a', 'n/a', '12,345', '3', '1.2e-04')
    """
    f = finite(x)
    if f is None:
        return "n/a"
    if isinstance(x, (int, np.integer)) or (f.is_integer() and abs(f) >= 1000):
        return f"{int(f):,}"
    if f != 0 and abs(f) < 10**-digits:
        return f"{f:.1e}"
    if abs(f) >= 1e6:
        return f"{f:.3g}"
    return f"{f:.{digits}f}"


def _tick(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    for threshold, scale, suffix in (
        (1e12, 1e12, "T"),
        (1e9, 1e9, "G"),
        (1e6, 1e6, "M"),
        (1e4, 1e3, "k"),
    ):
        if a >= threshold:
            return f"{x / scale:.4g}{suffix}"
    if a < 1e-3:
        return f"{x:.0e}"
    return f"{x:.4g}"


def _c(x: float) -> str:
    """A coordinate with one decimal (stable text, no ``-0.0``)."""
    s = f"{x:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def _short(text: Any, max_chars: int) -> str:
    s = str(text)
    return s if len(s) <= max_chars else s[: max(1, max_chars - 1)] + "…"


def _floats(values: Any, *, name: str = "values") -> np.ndarray:
    """A 1-D float array (``None`` becomes NaN); raises on anything else."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name}: expected a list of numbers")
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a flat list")
    return arr


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]`` (steps of 1, 2 or 5 times a power of 10)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _nice_max(hi: float) -> float:
    if hi <= 0 or not math.isfinite(hi):
        return 1.0
    ticks = nice_ticks(0.0, hi, 4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi
    top = ticks[-1]
    return top if top >= hi - 1e-12 else top + step


class _Svg:
    """Collects elements; ``str()`` gives the ``<svg>`` element."""

    def __init__(self, width: float, height: float, label: str) -> None:
        self.width, self.height, self.label = width, height, label
        self.parts: list[str] = []

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(
        self,
        x: float,
        y: float,
        s: Any,
        *,
        size: float = 11,
        anchor: str = "start",
        fill: str = INK,
        weight: str | None = None,
        rotate: float | None = None,
        full: Any = None,
        baseline: str | None = None,
    ) -> None:
        attrs = f'x="{_c(x)}" y="{_c(y)}" font-size="{size:g}" fill="{fill}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if baseline:
            attrs += f' dominant-baseline="{baseline}"'
        if rotate is not None:
            attrs += f' transform="rotate({rotate:g} {_c(x)} {_c(y)})"'
        tip = f"<title>{esc(full)}</title>" if full is not None and str(full) != str(s) else ""
        self.add(f"<text {attrs}>{tip}{esc(s)}</text>")

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, width: float = 1
    ) -> None:
        self.add(
            f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" '
            f'stroke="{stroke}" stroke-width="{width:g}"/>'
        )

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: str,
        tip: str | None = None,
        extra: str = "",
    ) -> None:
        body = f'x="{_c(x)}" y="{_c(y)}" width="{_c(max(w, 0))}" height="{_c(max(h, 0))}" fill="{fill}"'
        if extra:
            body += " " + extra
        if tip is None:
            self.add(f"<rect {body}/>")
        else:
            self.add(f"<rect {body}><title>{tip}</title></rect>")

    def __str__(self) -> str:
        w, h = _c(self.width), _c(self.height)
        return (
            f'<svg class="plot" role="img" aria-label="{esc(self.label)}" viewBox="0 0 {w} {h}" '
            f'width="{w}" height="{h}" font-family="inherit">'
            f"<title>{esc(self.label)}</title>" + "".join(self.parts) + "</svg>"
        )


def _legend_rows(items: Sequence[tuple[str, str, str]], x0: float, max_x: float) -> int:
    """How many rows :func:`_legend` needs between ``x0`` and ``max_x``."""
    rows, x = 1, x0
    for label, _, _ in items:
        w = 21 + 6.2 * len(_short(label, 28)) + 14
        if x > x0 and x + w - 14 > max_x:
            rows, x = rows + 1, x0
        x += w
    return rows


def _legend(
    svg: _Svg,
    items: Sequence[tuple[str, str, str]],
    x: float,
    y: float,
    max_x: float | None = None,
) -> None:
    """Legend entries ``(label, colour, dash)`` from ``(x, y)``, wrapping at ``max_x``."""
    x0 = x
    for label, colour, dash in items:
        short = _short(label, 28)
        w = 21 + 6.2 * len(short) + 14
        if max_x is not None and x > x0 and x + w - 14 > max_x:
            x, y = x0, y + 15
        if dash:
            svg.add(
                f'<line x1="{_c(x)}" y1="{_c(y - 4)}" x2="{_c(x + 16)}" y2="{_c(y - 4)}" '
                f'stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/>'
            )
        else:
            svg.rect(x, y - 9, 16, 9, colour)
        svg.text(x + 21, y, short, size=10.5, fill=INK, full=label)
        x += w


def _x_axis(
    svg: _Svg, x0: float, x1: float, y: float, lo: float, hi: float, label: str, n: int = 4
) -> None:
    svg.line(x0, y, x1, y, stroke=MUTED)
    for t in nice_ticks(lo, hi, n):
        px = x0 + (t - lo) / (hi - lo) * (x1 - x0) if hi > lo else x0
        svg.line(px, y, px, y + 3, stroke=MUTED)
        svg.text(px, y + 13, _tick(t), size=9.5, anchor="middle", fill=MUTED)
    if label:
        svg.text((x0 + x1) / 2, y + 26, label, size=10, anchor="middle", fill=MUTED)


def _y_axis(
    svg: _Svg,
    x: float,
    y0: float,
    y1: float,
    lo: float,
    hi: float,
    label: str,
    n: int = 4,
    grid_to: float | None = None,
) -> None:
    """``y0`` is the bottom pixel (value ``lo``), ``y1`` the top (value ``hi``)."""
    svg.line(x, y0, x, y1, stroke=MUTED)
    for t in nice_ticks(lo, hi, n):
        py = y0 - (t - lo) / (hi - lo) * (y0 - y1) if hi > lo else y0
        if grid_to is not None and t != lo:
            svg.line(x, py, grid_to, py)
        svg.line(x - 3, py, x, py, stroke=MUTED)
        svg.text(x - 5, py + 3, _tick(t), size=9.5, anchor="end", fill=MUTED)
    if label:
        mid = (y0 + y1) / 2
        svg.text(11, mid, label, size=10, anchor="middle", fill=MUTED, rotate=-90)


def _fix_edges(edges: np.ndarray, n_bins: int) -> np.ndarray:
    if edges.size != n_bins + 1 or n_bins < 1:
        raise ValueError(f"expected {n_bins + 1} edges, found {edges.size}")
    e = edges.copy()
    if n_bins >= 3 and not math.isfinite(e[0]):
        e[0] = e[1] - (e[2] - e[1])
    if n_bins >= 3 and not math.isfinite(e[-1]):
        e[-1] = e[-2] + (e[-2] - e[-3])
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) < 0) or e[-1] <= e[0]:
        raise ValueError("edges must be finite and increasing")
    return e


def _step_path(edges: np.ndarray, heights: np.ndarray, sx, sy) -> tuple[str, str]:
    """The outline and the filled area of a step histogram, in pixels."""
    h = np.where(np.isfinite(heights), heights, 0.0)
    pts = [(sx(edges[0]), sy(0.0))]
    for i in range(h.size):
        pts.append((sx(edges[i]), sy(h[i])))
        pts.append((sx(edges[i + 1]), sy(h[i])))
    pts.append((sx(edges[-1]), sy(0.0)))
    d = "M" + " L".join(f"{_c(px)} {_c(py)}" for px, py in pts)
    return d, d + " Z"


def histogram_overlay(
    edges: Any,
    series: Sequence[tuple[str, Any, str]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "density",
    width: float = 280,
    height: float = 170,
    legend: bool = False,
) -> str:
    """Step histograms sharing ``edges``; ``series`` is ``[(label, heights, colour)]``."""
    if not series:
        raise ValueError("no series")
    arrays = [(lab, _floats(h, name=lab), col) for lab, h, col in series]
    n = arrays[0][1].size
    if any(a.size != n for _, a, _ in arrays):
        raise ValueError("series of different lengths")
    e = _fix_edges(_floats(edges, name="edges"), n)
    top_pad = 20 + (16 if title else 0) + (16 if legend else 0)
    left, right, bottom = 46, 12, 30 + (12 if x_label else 0)
    svg = _Svg(width, height, f"{title or 'histogram'}: {', '.join(s[0] for s in series)}")
    if title:
        svg.text(
            left, 14, _short(title, int((width - left) / 6.6)), size=12, weight="600", full=title
        )
    if legend:
        _legend(
            svg,
            [(lab, col, "6 3" if col == SYNTH else "") for lab, _, col in arrays],
            left,
            14 + (16 if title else 0),
        )
    hi = max((float(np.nanmax(a)) for _, a, _ in arrays if np.isfinite(a).any()), default=0.0)
    ymax = _nice_max(hi)
    x0, x1, y0, y1 = left, width - right, height - bottom, top_pad
    sx = lambda v: x0 + (v - e[0]) / (e[-1] - e[0]) * (x1 - x0)  # noqa: E731
    sy = lambda v: y0 - min(max(v, 0.0), ymax) / ymax * (y0 - y1)  # noqa: E731
    _y_axis(svg, x0, y0, y1, 0.0, ymax, y_label, n=3, grid_to=x1)
    # real (and other) series as filled areas first, synthetic as a dashed outline on top
    ordered = [a for a in arrays if a[2] != SYNTH] + [a for a in arrays if a[2] == SYNTH]
    for lab, a, col in ordered:
        outline, area = _step_path(e, a, sx, sy)
        if col == SYNTH:
            dash = ' stroke-dasharray="5 3"'
        else:
            dash = ""
            svg.add(f'<path d="{area}" fill="{col}" fill-opacity="0.16" stroke="none"/>')
        svg.add(
            f'<path d="{outline}" fill="none" stroke="{col}" stroke-width="1.8"{dash}>'
            f"<title>{esc(lab)}</title></path>"
        )
    _x_axis(svg, x0, x1, y0, float(e[0]), float(e[-1]), x_label, n=3 if width < 320 else 5)
    return str(svg)


def categorical_overlay(
    categories: Any,
    real: Any,
    synthetic: Any,
    *,
    title: str = "",
    width: float = 280,
    max_categories: int = 8,
) -> str:
    """Paired horizontal bars (real above synthetic) of category shares; the rarest categories
    beyond ``max_categories`` are pooled into one "other" row."""
    if isinstance(categories, (str, bytes)) or not isinstance(categories, (Sequence, np.ndarray)):
        raise TypeError("categories: expected a list")
    cats = [str(c) for c in categories]
    r, s = _floats(real, name="real"), _floats(synthetic, name="synthetic")
    if not (len(cats) == r.size == s.size) or not cats:
        raise ValueError("categories, real and synthetic must have the same non-zero length")
    r0, s0 = np.nan_to_num(r, nan=0.0), np.nan_to_num(s, nan=0.0)
    order = list(range(len(cats)))
    if len(cats) > max_categories:
        keep = sorted(order, key=lambda i: (-max(r0[i], s0[i]), i))[: max_categories - 1]
        rest = [i for i in order if i not in set(keep)]
        keep.sort()
        labels = [cats[i] for i in keep] + [f"other ({len(rest)})"]
        rv = [r[i] for i in keep] + [float(r0[rest].sum())]
        sv = [s[i] for i in keep] + [float(s0[rest].sum())]
    else:
        labels, rv, sv = cats, list(r), list(s)
    row, bar = 17.0, 6.5
    left, right, top = 92.0, 34.0, 24.0 if title else 6.0
    height = top + row * len(labels) + 26
    svg = _Svg(width, height, f"{title or 'categories'}: real vs synthetic shares")
    if title:
        svg.text(6, 14, _short(title, int(width / 6.6)), size=12, weight="600", full=title)
    hi = max([v for v in rv + sv if finite(v) is not None] + [0.0])
    xmax = _nice_max(hi)
    x0, x1 = left, width - right
    y_axis = top + row * len(labels) + 2
    for t in nice_ticks(0.0, xmax, 3)[1:]:
        px = x0 + t / xmax * (x1 - x0)
        svg.line(px, top, px, y_axis)
    for k, (lab, a, b) in enumerate(zip(labels, rv, sv, strict=True)):
        y = top + k * row + 2
        svg.text(left - 5, y + bar + 2.5, _short(lab, 14), size=10, anchor="end", full=lab)
        for j, (v, col, who) in enumerate(((a, REAL, "real"), (b, SYNTH, "synthetic"))):
            fv = finite(v)
            w = 0.0 if fv is None else max(fv, 0.0) / xmax * (x1 - x0)
            tip = f"{esc(lab)} ({who}): {fmt(v)}"
            if fv is None:
                svg.text(x0 + 2, y + j * bar + bar - 0.5, "n/a", size=7.5, fill=MUTED)
            else:
                svg.rect(x0, y + j * bar, w, bar - 0.5, col, tip)
    svg.line(x0, top, x0, y_axis, stroke=MUTED)
    svg.line(x0, y_axis, x1, y_axis, stroke=MUTED)
    for t in nice_ticks(0.0, xmax, 3):
        px = x0 + t / xmax * (x1 - x0)
        svg.text(
            px,
            y_axis + 12,
            f"{t:.0%}" if xmax <= 1 else _tick(t),
            size=9.5,
            anchor="middle",
            fill=MUTED,
        )
    return str(svg)


# ---------------------------------------------------------------- heatmaps
def _lerp(c1: tuple[int, int, int], c2: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c1, c2, strict=True))


_BLUE, _WHITE, _RED = (33, 102, 172), (247, 247, 247), (178, 24, 43)
_PURPLE = (63, 0, 125)


def _colour(v: float | None, cmap: str, vmin: float, vmax: float) -> str:
    if v is None:
        return NA_FILL
    t = min(max((v - vmin) / (vmax - vmin), 0.0), 1.0) if vmax > vmin else 0.5
    if cmap == "diverging":  # RdBu: negative blue, positive red
        return _lerp(_BLUE, _WHITE, t * 2) if t < 0.5 else _lerp(_WHITE, _RED, (t - 0.5) * 2)
    if cmap == "difference":
        return _lerp(_WHITE, _PURPLE, t)
    return _lerp(_WHITE, _BLUE, t)


def _matrix(m: Any, n: int, name: str) -> list[list[float | None]]:
    if isinstance(m, np.ndarray):
        m = m.tolist()
    if not isinstance(m, Sequence) or isinstance(m, (str, bytes)) or len(m) != n:
        raise ValueError(f"{name}: expected a {n}x{n} matrix")
    out = []
    for row in m:
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, Sequence) or isinstance(row, (str, bytes)) or len(row) != n:
            raise ValueError(f"{name}: expected a {n}x{n} matrix")
        out.append([finite(v) for v in row])
    return out


def heatmap(
    columns: Sequence[Any],
    matrix: Any,
    *,
    title: str,
    cmap: str = "diverging",
    vmin: float = -1.0,
    vmax: float = 1.0,
    scale_label: str = "",
) -> str:
    """A square matrix as coloured cells, labelled rows and columns, and a colour scale."""
    names = [str(c) for c in columns]
    n = len(names)
    if n == 0:
        raise ValueError("no columns")
    m = _matrix(matrix, n, title)
    cell = min(26.0, max(5.0, 220.0 / n))
    show_labels = cell >= 9
    lab_chars = 14
    lab_w = (min(lab_chars, max(len(x) for x in names)) * 6.0 + 8) if show_labels else 4
    top = 22 + (lab_w * 0.72 if show_labels else 4)
    left = lab_w + 6
    grid = cell * n
    width = max(left + grid + 14, 200)
    height = top + grid + 48
    svg = _Svg(width, height, title)
    svg.text(4, 14, _short(title, int(width / 6.6)), size=12, weight="600", full=title)
    for i in range(n):
        for j in range(n):
            v = m[i][j]
            svg.rect(
                left + j * cell,
                top + i * cell,
                cell,
                cell,
                _colour(v, cmap, vmin, vmax),
                f"{esc(names[i])} × {esc(names[j])}: {fmt(v)}",
            )
    svg.add(
        f'<rect x="{_c(left)}" y="{_c(top)}" width="{_c(grid)}" height="{_c(grid)}" '
        f'fill="none" stroke="{MUTED}" stroke-width="0.6"/>'
    )
    if show_labels:
        fs = min(10.0, cell * 0.8)
        for i, name in enumerate(names):
            short = _short(name, lab_chars)
            cy = top + i * cell + cell / 2 + fs * 0.35
            svg.text(left - 4, cy, short, size=fs, anchor="end", full=name)
            cx = left + i * cell + cell / 2 + fs * 0.35
            svg.text(cx, top - 4, short, size=fs, rotate=-50, full=name)
    # colour scale: 24 discrete steps (no gradient ids needed)
    sy, sw = top + grid + 14, min(grid, 180.0)
    steps = 24
    for k in range(steps):
        v = vmin + (k + 0.5) / steps * (vmax - vmin)
        svg.rect(left + k * sw / steps, sy, sw / steps + 0.3, 8, _colour(v, cmap, vmin, vmax))
    svg.text(left, sy + 20, _tick(vmin), size=9.5, fill=MUTED)
    svg.text(left + sw, sy + 20, _tick(vmax), size=9.5, anchor="end", fill=MUTED)
    if cmap == "diverging" and vmin < 0 < vmax:
        svg.text(left + sw / 2, sy + 20, "0", size=9.5, anchor="middle", fill=MUTED)
    if scale_label:
        svg.text(left, sy + 32, scale_label, size=9.5, fill=MUTED)
    if any(v is None for row in m for v in row):
        svg.rect(left + sw + 10, sy, 8, 8, NA_FILL)
        svg.text(left + sw + 21, sy + 8, "n/a", size=9.5, fill=MUTED)
    return str(svg)


# ---------------------------------------------------------------- ROC curves
def _downsample(x: np.ndarray, y: np.ndarray, k: int = 200) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= k:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, k).round().astype(int))
    return x[idx], y[idx]


def roc_chart(curves: Sequence[tuple[str, Any, Any, float | None]], *, title: str) -> str:
    """ROC curves ``[(label, fpr, tpr, auc)]`` on one chart with the chance diagonal."""
    good = []
    for lab, fpr, tpr, auc in curves:
        x, y = _floats(fpr, name="fpr"), _floats(tpr, name="tpr")
        ok = np.isfinite(x) & np.isfinite(y)
        if x.size != y.size or ok.sum() < 2:
            raise ValueError(f"{lab}: fpr and tpr must be equal-length lists of numbers")
        x, y = np.clip(x[ok], 0, 1), np.clip(y[ok], 0, 1)
        good.append((lab, *_downsample(x, y), auc))
    if not good:
        raise ValueError("no curves")
    size, left, top = 220.0, 46.0, 26.0
    legend_w = 230.0
    width, height = left + size + 20 + legend_w, top + size + 44
    svg = _Svg(width, height, title)
    svg.text(left, 14, title, size=12, weight="600")
    x0, x1, y0, y1 = left, left + size, top + size, top
    _y_axis(svg, x0, y0, y1, 0.0, 1.0, "true positive rate", n=4, grid_to=x1)
    _x_axis(svg, x0, x1, y0, 0.0, 1.0, "false positive rate", n=4)
    svg.add(
        f'<line x1="{_c(x0)}" y1="{_c(y0)}" x2="{_c(x1)}" y2="{_c(y1)}" stroke="{MUTED}" '
        'stroke-width="1" stroke-dasharray="3 3"/>'
    )
    ly = top + 8
    lx = x1 + 20
    for k, (lab, x, y, auc) in enumerate(good):
        col, dash = EXTRA[k % len(EXTRA)], DASHES[k % len(DASHES)]
        d = "M" + " L".join(
            f"{_c(x0 + a * size)} {_c(y0 - b * size)}" for a, b in zip(x, y, strict=True)
        )
        da = f' stroke-dasharray="{dash}"' if dash else ""
        svg.add(
            f'<path d="{d}" fill="none" stroke="{col}" stroke-width="2"{da}>'
            f"<title>{esc(lab)}</title></path>"
        )
        svg.add(
            f'<line x1="{_c(lx)}" y1="{_c(ly - 4)}" x2="{_c(lx + 22)}" y2="{_c(ly - 4)}" '
            f'stroke="{col}" stroke-width="2.5"{da}/>'
        )
        svg.text(lx + 28, ly, _short(lab, 26), size=10.5, full=lab)
        svg.text(lx + 28, ly + 12, f"AUC {fmt(auc)}", size=9.5, fill=MUTED)
        ly += 28
    svg.add(
        f'<line x1="{_c(lx)}" y1="{_c(ly - 4)}" x2="{_c(lx + 22)}" y2="{_c(ly - 4)}" '
        f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="3 3"/>'
    )
    svg.text(lx + 28, ly, "chance (AUC 0.5)", size=10.5, fill=MUTED)
    return str(svg)


# ---------------------------------------------------------------- grouped bars
def bar_chart(
    categories: Sequence[Any],
    series: Sequence[tuple[str, Sequence[Any], str]],
    *,
    title: str,
    value_label: str = "",
    width: float = 520,
    max_categories: int = 30,
) -> str:
    """Horizontal grouped bars: one row per category, one bar per series ``(label, values, colour)``;
    the value is written at the end of each bar; negative values grow to the left of zero."""
    cats = [str(c) for c in categories][:max_categories]
    if not cats or not series:
        raise ValueError("nothing to draw")
    vals = []
    for lab, values, col in series:
        v = [finite(x) for x in list(values)[: len(cats)]]
        if len(v) != len(cats):
            raise ValueError(f"{lab}: expected {len(cats)} values")
        vals.append((lab, v, col))
    nums = [x for _, v, _ in vals for x in v if x is not None]
    if not nums:
        raise ValueError("no finite values")
    lo = min([0.0, *nums])
    hi = max([0.0, *nums])
    if lo >= 0 and hi <= 1 and nums:
        hi = 1.0
    hi = _nice_max(hi) if hi > 0 else 0.0
    lo = -_nice_max(-lo) if lo < 0 else 0.0
    if hi == lo:
        hi = 1.0
    bar = 11.0
    row = bar * len(vals) + 9
    lab_w = min(150.0, max(len(_short(c, 22)) for c in cats) * 6.2 + 10)
    legend = [(lab, col, "") for lab, _, col in vals]
    legend_x = min(lab_w + 6, 60.0)
    extra_rows = _legend_rows(legend, legend_x, width - 8) - 1
    # the value of a negative bar is written left of it: keep it clear of the row labels
    neg_pad = 36.0 if lo < 0 else 0.0
    left, right, top = lab_w + 6 + neg_pad, 48.0, 44.0 + 15 * extra_rows
    height = top + row * len(cats) + 34 + (12 if value_label else 0)
    svg = _Svg(width, height, title)
    svg.text(6, 14, _short(title, int(width / 6.6)), size=12, weight="600", full=title)
    _legend(svg, legend, legend_x, 32, max_x=width - 8)
    x0, x1 = left, width - right
    sx = lambda v: x0 + (v - lo) / (hi - lo) * (x1 - x0)  # noqa: E731
    y_end = top + row * len(cats)
    for t in nice_ticks(lo, hi, 5):
        svg.line(sx(t), top - 2, sx(t), y_end)
    for k, cat in enumerate(cats):
        y = top + k * row + 4
        svg.text(
            left - 6 - neg_pad,
            y + bar * len(vals) / 2 + 3.5,
            _short(cat, 22),
            size=10.5,
            anchor="end",
            full=cat,
        )
        for j, (lab, v, col) in enumerate(vals):
            fv = v[k]
            by = y + j * bar
            if fv is None:
                svg.text(sx(0) + 3, by + bar - 2.5, "n/a", size=9, fill=MUTED)
                continue
            a, b = sorted((sx(0), sx(fv)))
            svg.rect(a, by, b - a, bar - 1.5, col, f"{esc(cat)}, {esc(lab)}: {fmt(fv)}")
            tx, anchor = (b + 3, "start") if fv >= 0 else (a - 3, "end")
            svg.text(tx, by + bar - 2.5, fmt(fv), size=9, anchor=anchor, fill=MUTED)
    svg.line(sx(0), top - 2, sx(0), y_end, stroke=MUTED)
    _x_axis(svg, x0, x1, y_end, lo, hi, value_label, n=5)
    return str(svg)


# ---------------------------------------------------------------- lines over steps
def line_chart(
    x: Any,
    series: Sequence[tuple[str, Any]],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    reference: float | None = None,
    reference_label: str = "",
    width: float = 330,
) -> str:
    """Lines with markers, one per series ``(label, values)`` over shared ``x`` values (e.g.
    generations), each in its own colour and dash; an optional dotted ``reference`` level
    (what the real data scores)."""
    xs = _floats(x, name="x")
    if xs.size < 1 or not np.all(np.isfinite(xs)):
        raise ValueError("x: expected finite numbers")
    lines = []
    for lab, values in series:
        v = _floats(values, name=str(lab))
        if v.size != xs.size:
            raise ValueError(f"{lab}: expected {xs.size} values, found {v.size}")
        lines.append((str(lab), v))
    if not lines:
        raise ValueError("no series")
    nums = [float(u) for _, v in lines for u in v if math.isfinite(u)]
    ref = finite(reference)
    if ref is not None:
        nums.append(ref)
    if not nums:
        raise ValueError("no finite values")
    lo, hi = min(nums), max(nums)
    pad = (hi - lo) * 0.08 if hi > lo else max(abs(hi) * 0.1, 0.05)
    lo, hi = lo - pad, hi + pad
    legend = [
        (lab, EXTRA[k % len(EXTRA)], DASHES[k % len(DASHES)] or "0")
        for k, (lab, _) in enumerate(lines)
    ]
    if ref is not None:
        legend.append((reference_label or "reference", MUTED, "2 3"))
    left, right = 50.0, 12.0
    extra_rows = _legend_rows(legend, 8, width - 8) - 1
    top = 42.0 + 15 * extra_rows
    plot_h = 150.0
    height = top + plot_h + 40
    svg = _Svg(width, height, title)
    svg.text(6, 14, _short(title, int(width / 6.6)), size=12, weight="600", full=title)
    _legend(svg, legend, 8, 32, max_x=width - 8)
    x0, x1, y0, y1 = left, width - right, top + plot_h, top
    xlo, xhi = float(xs.min()), float(xs.max())
    if xhi == xlo:
        xlo, xhi = xlo - 0.5, xhi + 0.5
    sx = lambda v: x0 + (v - xlo) / (xhi - xlo) * (x1 - x0)  # noqa: E731
    sy = lambda v: y0 - (v - lo) / (hi - lo) * (y0 - y1)  # noqa: E731
    _y_axis(svg, x0, y0, y1, lo, hi, y_label, n=4, grid_to=x1)
    _x_axis(svg, x0, x1, y0, xlo, xhi, x_label, n=min(6, max(int(xhi - xlo), 1)))
    if ref is not None:
        svg.add(
            f'<line x1="{_c(x0)}" y1="{_c(sy(ref))}" x2="{_c(x1)}" y2="{_c(sy(ref))}" '
            f'stroke="{MUTED}" stroke-width="1.2" stroke-dasharray="2 3"/>'
        )
    for k, (lab, v) in enumerate(lines):
        col, dash = EXTRA[k % len(EXTRA)], DASHES[k % len(DASHES)]
        ok = np.isfinite(v)
        da = f' stroke-dasharray="{dash}"' if dash else ""
        pts = [(sx(a), sy(b)) for a, b, good in zip(xs, v, ok, strict=True) if good]
        if len(pts) >= 2:
            d = "M" + " L".join(f"{_c(px)} {_c(py)}" for px, py in pts)
            svg.add(
                f'<path d="{d}" fill="none" stroke="{col}" stroke-width="2"{da}>'
                f"<title>{esc(lab)}</title></path>"
            )
        for a, b, good in zip(xs, v, ok, strict=True):
            if good:
                svg.add(
                    f'<circle cx="{_c(sx(a))}" cy="{_c(sy(b))}" r="2.6" fill="{col}">'
                    f"<title>{esc(lab)}, {esc(x_label or 'x')} {_tick(float(a))}: {fmt(b)}"
                    "</title></circle>"
                )
    return str(svg)
