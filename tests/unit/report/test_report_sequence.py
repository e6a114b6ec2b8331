"""The HTML report of a sequence evaluation: sequence plots, the header, escaping, golden, browser."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sosie.evaluate import Evaluation, MetricResult, evaluate_sequences
from sosie.report import _svg, family_verdicts, render_html, write_html
from sosie.schema import infer_sequence_schema


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


_html = _load("_report_factory_seq", "test_report_html.py")
HOSTILE, parse, ALLOWED_TAGS = _html.HOSTILE, _html.parse, _html.ALLOWED_TAGS
GOLDEN = Path(__file__).parent / "golden"


# ------------------------------------------------------------------ factory
def make_sequence_evaluation(
    names: tuple[str, str, str, str] = ("customer", "amount", "page", "browse"),
) -> Evaluation:
    """A sequence evaluation with every sequence plot. ``names``: the entity column, a numeric
    event column, a categorical event column and one of its categories (pass hostile strings
    to test escaping)."""
    entity, num, cat, state = names
    states = [state, "cart", "buy"]
    real_p = [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.1, 0.6]]
    syn_p = [[0.6, 0.3, 0.1], [0.1, 0.7, 0.2], [None, None, None]]
    metrics = [
        MetricResult(
            "sequence_length",
            "fidelity",
            "maximize",
            (0, 1),
            0.94,
            0.94,
            "1 - KS statistic of the number of events per entity",
            ci=(0.91, 0.96),
            details={
                "histogram": {
                    "edges": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5],
                    "real": [0.3, 0.25, 0.2, 0.15, 0.1],
                    "synthetic": [0.25, 0.3, 0.2, 0.1, 0.15],
                    "x_label": "events per entity",
                    "title": "Events per entity",
                }
            },
        ),
        MetricResult(
            "inter_arrival",
            "fidelity",
            "maximize",
            (0, 1),
            0.81,
            0.81,
            "1 - KS statistic of the gaps between consecutive events (seconds)",
            ci=(0.78, 0.84),
            details={
                "histogram": {
                    "edges": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                    "real": [0.05, 0.1, 0.3, 0.4, 0.15],
                    "synthetic": [0.02, 0.05, 0.2, 0.4, 0.33],
                    "x_label": "log10 gap (seconds)",
                    "title": "Gaps between consecutive events (log scale)",
                    "log10": True,
                    "note": "zero gaps are counted in the first bin",
                },
                "unit": "seconds",
            },
        ),
        MetricResult(
            "autocorrelation",
            "fidelity",
            "maximize",
            (0, 1),
            0.78,
            0.78,
            "1 - |r real - r synthetic| / 2 over columns and lags",
            ci=(0.75, 0.8),
            breakdown={num: 0.71, "level": 0.85},
            details={
                "acf": {
                    num: {
                        "lags": [1, 2, 3],
                        "real": [0.7, 0.49, 0.34],
                        "synthetic": [0.1, -0.05, 0.0],
                    },
                    "level": {
                        "lags": [1, 2, 3],
                        "real": [0.3, 0.1, -0.1],
                        "synthetic": [0.2, None, -0.2],
                    },
                }
            },
        ),
        MetricResult(
            "transitions",
            "fidelity",
            "maximize",
            (0, 1),
            0.83,
            0.83,
            "1 - weighted total variation of P(next | current)",
            ci=(0.8, 0.86),
            breakdown={cat: 0.83},
            details={"transitions": {cat: {"states": states, "real": real_p, "synthetic": syn_p}}},
        ),
        MetricResult(
            "entity_aggregates",
            "fidelity",
            "maximize",
            (0, 1),
            0.9,
            0.9,
            "column shapes and pair trends of the per-entity features",
            breakdown={"n_events": 0.94, f"mean({num})": 0.86},
            details={
                "columns": {
                    "n_events": {
                        "kind": "numeric",
                        "edges": [1, 3, 5, 7],
                        "real": [0.2, 0.2, 0.1],
                        "synthetic": [0.25, 0.15, 0.1],
                    },
                    f"mean({num})": {
                        "kind": "numeric",
                        "edges": [0, 10, 20, 30],
                        "real": [0.05, 0.03, 0.02],
                        "synthetic": [0.04, 0.04, 0.02],
                    },
                },
                "heatmap": {
                    "columns": ["n_events", f"mean({num})", "duration"],
                    "method": "pearson",
                    "real": [[1, 0.3, 0.8], [0.3, 1, 0.1], [0.8, 0.1, 1]],
                    "synthetic": [[1, 0.1, 0.7], [0.1, 1, 0.0], [0.7, 0.0, 1]],
                },
            },
        ),
        MetricResult(
            "detection_auc",
            "fidelity",
            "target",
            (0, 1),
            0.58,
            0.84,
            "classifier telling real from synthetic entities by their per-sequence features",
            ci=(0.55, 0.61),
            baseline=0.5,
            target_value=0.5,
            details={"roc": {"fpr": [0, 0.2, 0.6, 1], "tpr": [0, 0.3, 0.7, 1]}},
        ),
        MetricResult(
            "tstr_ratio",
            "utility",
            "maximize",
            (0, float("inf")),
            0.93,
            0.93,
            "TSTR / TRTR on a sequence-level task",
            baseline=1.0,
        ),
        MetricResult(
            "utility_roc_auc",
            "utility",
            "maximize",
            (0, 1),
            0.8,
            0.93,
            "ROC-AUC of a per-sequence classifier on real holdout entities",
            baseline=0.86,
            details={
                "score_name": "roc_auc",
                "models": {
                    "gradient_boosting": {"trtr": 0.86, "tstr": 0.8, "augmented": 0.87},
                    "linear": {"trtr": 0.82, "tstr": 0.79, "augmented": 0.83},
                },
            },
        ),
    ]
    summary = {m.name: m.value for m in metrics if m.family == "fidelity"}
    summary["tstr_ratio"] = 0.93
    meta = {
        "kind": "sequences",
        "sequences": {
            "entity": entity,
            "time": "ts",
            "time_kind": "datetime",
            "n_entities": {"real_train": 1200, "real_holdout": 400, "synthetic": 1200},
            "n_events": {"real_train": 18_400, "real_holdout": 6_100, "synthetic": 17_950},
        },
        "n_real_train": 18_400,
        "n_real_holdout": 6_100,
        "n_synthetic": 17_950,
        "skipped": {"privacy": "not evaluated for sequences", "fairness": "no sensitive columns"},
    }
    return Evaluation(metrics, meta=meta, summary=summary)


def _section(page: str, family: str) -> str:
    start = page.index(f'<section id="{family}"')
    return page[start : page.index("</section>", start)]


# ------------------------------------------------------------------ structure
def test_sequence_report_draws_every_sequence_plot():
    # Run
    page = render_html(make_sequence_evaluation())
    # Assert
    fid = _section(page, "fidelity")
    # 2 histograms + 2 autocorrelation charts + 3 transition heatmaps + 2 aggregate shapes
    # + 3 correlation heatmaps + the detection ROC
    assert fid.count("<svg") == 13
    assert _section(page, "utility").count("<svg") == 1
    assert page.count("<svg") == page.count("</svg>") == 14
    for title in (
        "Events per entity",
        "Gaps between consecutive events (log scale)",
        "page: real",
        "page: synthetic",
        "page: |real − synthetic|",
        "lag 1",
        "real: Pearson correlation",
    ):
        assert title in fid, title
    assert "The x axis is on a log10 scale." in fid
    assert "sequences reproduce the real ones" in fid  # the sequence blurb
    assert "per-sequence features of synthetic entities" in _section(page, "utility")
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS


def test_header_says_the_data_are_sequences():
    # Run
    page = render_html(make_sequence_evaluation())
    header = page[page.index("<header") : page.index("</header>")]
    # Assert
    assert "Sequences" in header
    assert "entity <code>customer</code>" in header
    assert "time <code>ts</code> (datetime)" in header
    assert "entities: train 1200, holdout 400, synthetic 1200" in header
    assert "Events" in header and "train 18,400" in header  # event counts, once
    assert header.count("18,400") == 1


def test_header_reads_sequences_from_the_card_too():
    # Setup: an evaluation without sequence meta, a card that says sequences
    ev = make_sequence_evaluation()
    ev.meta = {}
    card = {
        "data": {"sequences": {"entity": "host", "time": None, "n_entities": 12, "n_events": 300}}
    }
    # Run
    page = render_html(ev, card=card)
    header = page[page.index("<header") : page.index("</header>")]
    # Assert
    assert "entity <code>host</code> · ordered by row · 12 entities · 300 events" in header


def test_verdicts_and_headline_tiles_of_a_sequence_evaluation():
    ev = make_sequence_evaluation()
    page = render_html(ev)
    summary = page[page.index('id="summary"') : page.index('id="fidelity"')]

    assert family_verdicts(ev) == {"fidelity": "warn", "utility": "pass"}
    for label in ("Sequence lengths", "Inter-arrival times", "Autocorrelation", "Transitions"):
        assert label in summary
    assert "95 % CI 0.910 – 0.960" in summary
    assert "not evaluated for sequences" in summary


def test_sequence_strings_are_escaped():
    # Setup
    entity, num, cat, state = HOSTILE
    ev = make_sequence_evaluation((entity, num, cat, state))
    # Run
    page = render_html(ev, title=HOSTILE[2])
    # Assert
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS
    assert not {a for a in tags.attrs if a.startswith("on")}
    for raw in ("<script", "<img", "<b>"):
        assert raw not in page
    assert page.count("<svg") == page.count("</svg>") == 14
    text = "".join(tags.text)
    assert entity in text and state in text


def test_malformed_sequence_details_become_notes():
    # Setup
    ev = make_sequence_evaluation()
    ev["sequence_length"].details["histogram"]["edges"] = [0, 1]  # 5 values, 1 bin
    ev["autocorrelation"].details["acf"]["level"]["real"] = [0.1]  # 3 lags, 1 value
    ev["transitions"].details["transitions"]["page"]["synthetic"] = [[1.0]]  # not 3 x 3
    ev["inter_arrival"].details["histogram"] = {"edges": "oops"}
    # Run
    page = render_html(ev)
    # Assert
    fid = _section(page, "fidelity")
    assert "sequence_length: plot skipped" in fid
    assert "column level: plot skipped" in fid
    assert "column page: transition plot skipped" in fid
    assert "inter_arrival: plot skipped" in fid
    assert "lag 1" in fid  # the well-formed autocorrelation chart is still drawn


def test_golden_sequence_report():
    """Set SOSIE_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change."""
    page = render_html(make_sequence_evaluation(), title="Sequence report")
    golden = GOLDEN / "sequence_report.html"
    if os.environ.get("SOSIE_UPDATE_GOLDEN"):
        golden.write_text(page, encoding="utf-8", newline="\n")
    assert golden.exists(), "golden file missing: run with SOSIE_UPDATE_GOLDEN=1"
    assert page == golden.read_text(encoding="utf-8")


# ------------------------------------------------------------------ a real evaluation
def _clicks(n: int, seed: int, stay: float, gap: float) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    lens = g.integers(2, 25, n)
    total = int(lens.sum())
    ids = np.repeat(np.arange(n), lens)
    first = np.r_[True, ids[1:] != ids[:-1]]
    u = g.random(total)
    moves = g.integers(0, 3, total)
    state = np.empty(total, dtype=np.int64)
    state[first] = moves[first]
    for k in np.flatnonzero(~first):  # a sticky chain: stay with probability `stay`
        state[k] = state[k - 1] if u[k] < stay else moves[k]
    gaps = np.where(first, 0.0, g.exponential(gap, total))
    secs = pd.Series(gaps).groupby(ids).cumsum().to_numpy()
    level = g.normal(size=total).cumsum()
    return pd.DataFrame(
        {
            "visitor <id>": ids,
            "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(secs, unit="s"),
            "plan": np.repeat(g.choice(["free", "pro"], n), lens),
            "page": np.array(["home", "<b>cart</b>", "buy"])[state],
            "level": level - pd.Series(level).groupby(ids).transform("first").to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def real_sequence_page(tmp_path_factory) -> tuple[Evaluation, Path]:
    real = _clicks(300, 0, stay=0.8, gap=600.0)
    syn = _clicks(300, 1, stay=0.4, gap=1200.0)
    s = infer_sequence_schema(real, entity="visitor <id>", time="ts")
    ev = evaluate_sequences(
        real,
        None,
        syn,
        schema=s,
        rng=0,
        metrics=(
            "sequence_length",
            "inter_arrival",
            "autocorrelation",
            "transitions",
            "static_shapes",
        ),
    )
    out = tmp_path_factory.mktemp("seqreport") / "report.html"
    return ev, write_html(Evaluation.from_json(ev.to_json()), out, title="Click streams")


def test_report_of_a_real_sequence_evaluation(real_sequence_page):
    # Setup
    ev, path = real_sequence_page
    page = path.read_text(encoding="utf-8")
    # Assert
    assert ev["transitions"].value < 0.85  # the synthetic chain is far less sticky
    assert ev["inter_arrival"].value < 0.85  # and its gaps twice as long
    fid = _section(page, "fidelity")
    for title in ("Events per entity", "Gaps between consecutive events", "page: real"):
        assert title in fid
    assert "&lt;b&gt;cart&lt;/b&gt;" in fid and "<b>" not in page
    assert "entity <code>visitor &lt;id&gt;</code>" in page
    # 2 histograms + 1 autocorrelation chart + 3 transition heatmaps + 1 static column
    assert page.count("<svg") == page.count("</svg>") == 7


# ------------------------------------------------------------------ in a browser
def test_sequence_report_renders_in_chromium(real_sequence_page, tmp_path):
    browser_mod = _load("_report_browser_seq", "test_report_browser.py")
    browser = browser_mod._chromium()  # skips without Chromium
    ev, page = real_sequence_page
    png = tmp_path / "sequence.png"
    width, height = 1280, 3200
    proc = browser_mod._run(
        browser, tmp_path, f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()
    )
    assert png.exists(), proc.stderr[-2000:]
    keep = os.environ.get("SOSIE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "sequence_report.png").write_bytes(png.read_bytes())
    img = browser_mod.read_png(png)
    assert img.shape == (height, width, 3)
    ink = img.min(axis=2) < 235
    assert 0.03 < ink.mean() < 0.6, ink.mean()

    def count(rgb):
        return int((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).sum())

    assert count(browser_mod.REAL_RGB) > 500 and count(browser_mod.SYNTH_RGB) > 500
    # the real transition matrix is on screen: its stickiest cell, in its heatmap colour
    stay = max(v for row in ev["transitions"].details["transitions"]["page"]["real"] for v in row)
    cell = _svg._colour(stay, "sequential", 0.0, 1.0)
    rgb = [int(cell[i : i + 2], 16) for i in (1, 3, 5)]
    assert int((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).sum()) > 300
