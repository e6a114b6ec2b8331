"""The HTML report: self-contained, escaped, deterministic, tolerant, and golden."""

from __future__ import annotations

import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from sosie.evaluate._core import Evaluation, MetricResult
from sosie.report import family_verdicts, metric_verdict, render_html, write_html

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</svg><b>x</b>",
    "&amp; 'quoted' é漢字 🙂",
)


# ------------------------------------------------------------------ factory
def _roc(strength: float, n: int = 41) -> dict:
    fpr = np.linspace(0, 1, n)
    return {"fpr": fpr.round(4).tolist(), "tpr": (fpr ** (1 - strength)).round(4).tolist()}


def make_evaluation(names: tuple[str, ...] = ("age", "income", "workclass", "sex")) -> Evaluation:
    """A realistic evaluation with every plot layout. ``names``: two numeric then two
    categorical column names (pass hostile strings to test escaping)."""
    num1, num2, cat1, cat2 = names
    edges = np.linspace(17, 90, 11).round(2).tolist()
    real_age = [0.004, 0.021, 0.027, 0.024, 0.018, 0.014, 0.009, 0.005, 0.003, 0.001]
    syn_age = [0.006, 0.019, 0.025, 0.026, 0.019, 0.012, 0.010, 0.004, 0.002, 0.0015]
    columns = {
        num1: {"kind": "numeric", "edges": edges, "real": real_age, "synthetic": syn_age},
        num2: {
            "kind": "numeric",
            "edges": [0, 10_000, 25_000, 50_000, 100_000, 250_000],
            "real": [2e-6, 1.4e-5, 1.2e-5, 4e-6, 3e-7],
            "synthetic": [3e-6, 1.3e-5, 1.1e-5, 5e-6, None],
        },
        cat1: {
            "kind": "categorical",
            "categories": [
                "Private",
                "Self-emp",
                "Local-gov",
                "State-gov",
                "Federal-gov",
                "Never-worked",
                "Without-pay",
                "Self-emp-inc",
                "?",
                cat1,
            ],
            "real": [0.69, 0.08, 0.06, 0.04, 0.03, 0.001, 0.001, 0.03, 0.05, 0.018],
            "synthetic": [0.66, 0.09, 0.07, 0.04, 0.03, 0.0, 0.002, 0.04, 0.04, 0.018],
        },
        cat2: {
            "kind": "categorical",
            "categories": ["Male", cat2],
            "real": [0.67, 0.33],
            "synthetic": [0.64, 0.36],
        },
    }
    corr_cols = [num1, num2, cat1, cat2, "hours_per_week"]
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    real = np.corrcoef(a @ a.T)
    synth = np.clip(real + rng.normal(scale=0.1, size=(5, 5)), -1, 1)
    synth = ((synth + synth.T) / 2).round(3)
    np.fill_diagonal(synth, 1.0)
    metrics = [
        MetricResult(
            "column_shapes",
            "fidelity",
            "maximize",
            (0, 1),
            0.931,
            0.931,
            "mean per-column similarity (1 - KS / TV distance)",
            breakdown={num1: 0.95, num2: 0.88, cat1: 0.94, cat2: 0.97},
            details={"columns": columns},
        ),
        MetricResult(
            "pair_trends",
            "fidelity",
            "maximize",
            (0, 1),
            0.88,
            0.88,
            "similarity of pairwise correlations",
            details={
                "columns": corr_cols,
                "real": real.round(3).tolist(),
                "synthetic": synth.tolist(),
            },
        ),
        MetricResult(
            "detection_auc",
            "fidelity",
            "target",
            (0, 1),
            0.62,
            0.76,
            "AUC of a classifier telling real from synthetic rows",
            ci=(0.59, 0.65),
            baseline=0.5,
            target_value=0.5,
            details={"roc": _roc(0.3)},
        ),
        MetricResult(
            "tstr_ratio",
            "utility",
            "maximize",
            (0, 1),
            0.94,
            0.94,
            "TSTR score over TRTR score (roc_auc)",
            details={
                "score_name": "roc_auc",
                "models": {
                    "logistic_regression": {"trtr": 0.90, "tstr": 0.86, "augmented": 0.905},
                    "random_forest": {"trtr": 0.91, "tstr": 0.84, "augmented": 0.912},
                    "hist_gradient_boosting": {"trtr": 0.93, "tstr": 0.87},
                },
            },
        ),
        MetricResult(
            "mia_distance",
            "privacy",
            "target",
            (0, 1),
            0.53,
            0.94,
            "distance-to-closest-record membership inference (attacker sees synthetic)",
            ci=(0.50, 0.56),
            baseline=0.5,
            target_value=0.5,
            details={"roc": _roc(0.06)},
        ),
        MetricResult(
            "mia_shadow",
            "privacy",
            "target",
            (0, 1),
            0.57,
            0.86,
            "shadow-model membership inference",
            ci=(0.54, 0.60),
            baseline=0.5,
            target_value=0.5,
            details={"roc": _roc(0.15)},
        ),
        MetricResult(
            "exact_copies",
            "privacy",
            "minimize",
            (0, 1),
            0.002,
            0.998,
            "share of synthetic rows identical to a training row",
            baseline=0.003,
        ),
        MetricResult(
            "dcr_share",
            "privacy",
            "target",
            (0, 1),
            0.51,
            0.98,
            "share of synthetic rows closer to train than to holdout",
            target_value=0.5,
            details={
                "edges": [0, 0.5, 1, 1.5, 2, 2.5, 3, 4],
                "synthetic_to_train": [0.05, 0.18, 0.27, 0.22, 0.14, 0.09, 0.05],
                "holdout_to_train": [0.04, 0.17, 0.28, 0.23, 0.15, 0.08, 0.05],
            },
        ),
        MetricResult(
            "group_shares",
            "fairness",
            "maximize",
            (0, 1),
            0.97,
            0.97,
            f"share of each {cat2} group kept",
            details={
                "attribute": cat2,
                "groups": {
                    "Male": {"real": 0.67, "synthetic": 0.64, "n": 2010},
                    cat2: {"real": 0.33, "synthetic": 0.36, "n": 990},
                },
            },
        ),
        MetricResult(
            "group_utility",
            "fairness",
            "maximize",
            (0, 1),
            0.91,
            0.91,
            "per-group TSTR accuracy",
            details={
                "score_name": "accuracy",
                "groups": {"Male": {"trtr": 0.82, "tstr": 0.79}, cat2: {"trtr": 0.91, "tstr": 0.9}},
            },
        ),
        MetricResult(
            "demographic_parity_gap",
            "fairness",
            "minimize",
            (-1, 1),
            0.19,
            0.92,
            "difference in positive rate between groups",
            details={"gaps": {"real": 0.19, "synthetic": 0.16}},
        ),
    ]
    return Evaluation(
        metrics,
        meta={
            "n_train": 3000,
            "n_holdout": 1000,
            "n_synthetic": 3000,
            "target": "income",
            "seed": 0,
            "generator": "gaussian_copula",
        },
        summary={
            "column_shapes": 0.931,
            "pair_trends": 0.88,
            "detection_auc": 0.62,
            "tstr_ratio": 0.94,
            "mia_auc": 0.57,
            "exact_copies": 0.002,
            "dcr_share": 0.51,
        },
    )


def make_card(extra: str = "") -> dict:
    return {
        "title": "Adult census: gaussian_copula",
        "generator": {"name": "gaussian_copula", "params": {"default_distribution": "beta"}},
        "input": {"fingerprint": "sha256:9f86d081884c7d65", "n_rows": 4000, "columns": 15},
        "seed": 0,
        "versions": {"sosie": "0.1.0", "numpy": "2.x"},
        "privacy": {"epsilon": None, "delta": None, "note": "not differentially private" + extra},
        "schema": [{"name": "age", "type": "integer"}, {"name": "sex" + extra, "type": "category"}],
    }


def make_small_evaluation() -> Evaluation:
    """A small report for the golden file: one plot of each kind that matters most."""
    return Evaluation(
        [
            MetricResult(
                "column_shapes",
                "fidelity",
                "maximize",
                (0, 1),
                0.9,
                0.9,
                "mean per-column similarity",
                details={
                    "columns": {
                        "age": {
                            "kind": "numeric",
                            "edges": [0, 25, 50, 75, 100],
                            "real": [0.01, 0.02, 0.008, 0.002],
                            "synthetic": [0.012, 0.018, 0.009, 0.001],
                        },
                        "sex": {
                            "kind": "categorical",
                            "categories": ["F", "M"],
                            "real": [0.4, 0.6],
                            "synthetic": [0.45, 0.55],
                        },
                    }
                },
            ),
            MetricResult(
                "mia_distance",
                "privacy",
                "target",
                (0, 1),
                0.52,
                0.96,
                "distance-based membership inference",
                ci=(0.49, 0.55),
                baseline=0.5,
                target_value=0.5,
                details={"roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.54, 1]}},
            ),
            MetricResult(
                "tstr_ratio",
                "utility",
                "maximize",
                (0, 1),
                0.95,
                0.95,
                "TSTR over TRTR",
                details={
                    "score_name": "accuracy",
                    "models": {"logistic_regression": {"trtr": 0.8, "tstr": 0.76}},
                },
            ),
        ],
        meta={"n_train": 100, "n_holdout": 50, "n_synthetic": 100},
        summary={"tstr_ratio": 0.95, "mia_auc": 0.52},
    )


class _Tags(HTMLParser):
    """Collects every tag and attribute name; checks that elements nest properly."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.attrs: set[str] = set()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.update(a for a, _ in attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.update(a for a, _ in attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack[-1:] != ["style"]:
            self.text.append(data)


def parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    p.close()
    return p


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "nav", "section",
    "div", "span", "p", "h1", "h2", "h3", "a", "strong", "code", "dl", "dt", "dd", "ul", "ol", "li",
    "table", "thead", "tbody", "tr", "th", "td", "figure", "figcaption",
    "svg", "g", "rect", "line", "path", "text",
}  # fmt: skip


# ------------------------------------------------------------------ structure
def test_page_is_one_self_contained_file():
    page = render_html(make_evaluation(), card=make_card())

    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.rstrip().endswith("</html>")
    for needle in (
        "http://",
        "https://",
        "src=",
        "<link",
        "url(",
        "@import",
        "<script",
        "<iframe",
        "<img",
        "<object",
        "<embed",
        "xlink:href",
        "data:",
    ):
        assert needle not in page, needle
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS, set(tags.tags) - ALLOWED_TAGS


def test_summary_shows_a_verdict_per_family_and_the_headline_numbers():
    ev = make_evaluation()
    page = render_html(ev)
    summary = page[page.index('id="summary"') : page.index('id="fidelity"')]

    assert family_verdicts(ev) == {
        "fidelity": "warn",
        "utility": "pass",
        "privacy": "pass",
        "fairness": "pass",
    }
    for family in ("Fidelity", "Utility", "Privacy", "Fairness"):
        assert family in summary
    assert summary.count('class="badge warn big"') == 1
    assert summary.count('class="badge pass big"') == 3
    for label, number in [
        ("Detection AUC", "0.620"),
        ("TSTR / TRTR", "0.940"),
        ("Membership inference AUC", "0.570"),
        ("Exact copies", "0.002"),
    ]:
        assert label in summary and number in summary
    assert "95 % CI 0.590 – 0.650" in summary  # the CI of the metric behind a headline number


def _section(page: str, family: str) -> str:
    start = page.index(f'<section id="{family}"')
    return page[start : page.index("</section>", start)]


def test_one_svg_per_expected_plot():
    page = render_html(make_evaluation(), card=make_card())

    assert page.count("<svg") == page.count("</svg>") == 14
    # 4 column shapes + 3 heatmaps + detection ROC
    assert _section(page, "fidelity").count("<svg") == 8
    assert _section(page, "utility").count("<svg") == 1
    assert _section(page, "privacy").count("<svg") == 2  # one ROC chart for both attacks + DCR
    assert _section(page, "fairness").count("<svg") == 3
    roc = _section(page, "privacy").split("<svg")[1]
    assert "mia_distance" in roc and "mia_shadow" in roc and "chance" in roc
    assert "TRTR" in _section(page, "utility") and "TSTR" in _section(page, "utility")


def test_every_data_derived_string_is_escaped():
    ev = make_evaluation(HOSTILE)
    for m in ev.metrics:
        m.description = HOSTILE[0] + m.description
    ev.metrics[0].name = HOSTILE[1]
    ev.meta[HOSTILE[0]] = HOSTILE[1]
    ev.summary[HOSTILE[2]] = 0.5
    ev.metrics.append(
        MetricResult(
            HOSTILE[0],
            HOSTILE[1],
            "maximize",
            (0, 1),
            0.5,
            0.5,
            HOSTILE[2],  # type: ignore[arg-type]
            details={"groups": {HOSTILE[0]: {HOSTILE[1]: 0.5}}},
        )
    )
    page = render_html(ev, card=make_card(HOSTILE[1]) | {HOSTILE[0]: HOSTILE[3]}, title=HOSTILE[2])

    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS, set(tags.tags) - ALLOWED_TAGS
    assert not {a for a in tags.attrs if a.startswith("on")}
    for raw in ("<script", "<img", "<b>", "onerror=alert(1)>"):
        assert raw not in page
    assert page.count("<svg") == page.count("</svg>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&amp;amp;" in page and "é漢字 🙂" in page
    text = "".join(tags.text)  # what a reader sees: the hostile strings, verbatim
    assert HOSTILE[0] in text and HOSTILE[1] in text


def test_control_characters_and_lone_surrogates_do_not_break_the_page(tmp_path):
    ev = make_small_evaluation()
    ev.metrics[0].description = "nul\x00 bell\x07 \ud800 end"
    out = write_html(ev, tmp_path / "r.html")

    page = out.read_text(encoding="utf-8")
    assert "\x00" not in page and "\x07" not in page and "nul\ufffd" in page


# ------------------------------------------------------------------ tolerance
def test_nan_none_and_malformed_details_render_as_na_and_notes():
    nan = float("nan")
    metrics = [
        MetricResult(
            "column_shapes",
            "fidelity",
            "maximize",
            (0, 1),
            nan,
            nan,
            "no value",
            ci=(nan, nan),
            details={
                "columns": {
                    "bad_edges": {
                        "kind": "numeric",
                        "edges": [0, 1],
                        "real": [1, 2],
                        "synthetic": [1, 2],
                    },
                    "strings": {"kind": "numeric", "edges": "abc", "real": "x", "synthetic": 1},
                    "odd": {"kind": "weird"},
                    "not_a_dict": 3,
                    "ok": {
                        "kind": "categorical",
                        "categories": ["a", "b"],
                        "real": [0.5, None],
                        "synthetic": [nan, 0.5],
                    },
                }
            },
        ),
        MetricResult(
            "pair_trends",
            "fidelity",
            "maximize",
            (0, 1),
            0.5,
            0.5,
            "bad matrix",
            details={"columns": ["a", "b"], "real": [[1, 0]], "synthetic": 7},
        ),
        MetricResult(
            "detection_auc",
            "fidelity",
            "target",
            (0, 1),
            None,
            None,
            "no auc",  # type: ignore[arg-type]
            details={"roc": {"fpr": ["a"], "tpr": None}},
        ),
        MetricResult(
            "mia_x",
            "privacy",
            "target",
            (0, 1),
            0.5,
            1.0,
            "roc not a dict",
            details={"roc": [1, 2, 3]},
        ),
        MetricResult(
            "dcr_share",
            "privacy",
            "target",
            (0, 1),
            0.5,
            1.0,
            "short",
            details={"edges": [0, 1], "synthetic_to_train": [1, 2, 3]},
        ),
        MetricResult(
            "tstr_ratio",
            "utility",
            "maximize",
            (0, 1),
            0.9,
            0.9,
            "no numbers",
            details={"models": {"m": {"trtr": None, "tstr": nan}}},
        ),
        MetricResult(
            "group_shares",
            "fairness",
            "maximize",
            (0, 1),
            0.9,
            0.9,
            "empty groups",
            details={"groups": {}},
        ),
        MetricResult(
            "gap",
            "fairness",
            "minimize",
            (-1, 1),
            -0.2,
            0.8,
            "negative gap",
            details={"gaps": {"real": -0.2, "synthetic": 0.1}},
        ),
    ]
    ev = Evaluation(metrics, meta={"n_train": None}, summary={"detection_auc": None, "x": nan})

    page = render_html(ev)

    assert "n/a" in page
    assert "plot skipped" in page and "ROC curve skipped" in page
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert not re.search(r"\b(nan|NaN|None|inf)\b", "".join(tags.text))
    # the one good categorical column, the utility bars (all n/a) and the negative gap still draw
    assert _section(page, "fidelity").count("<svg") == 1
    assert _section(page, "fairness").count("<svg") == 1
    assert family_verdicts(ev)["fidelity"] == "fail"  # pair_trends 0.5; the NaNs do not count


def test_empty_evaluation_and_missing_families():
    page = render_html(Evaluation([]))

    assert "No headline numbers" in page
    assert page.count('class="badge na big"') == 4
    assert "No utility metrics were computed (utility needs a target column)." in page
    assert "<svg" not in page

    ev = make_small_evaluation()
    ev.meta["skipped"] = {"fairness": "no sensitive columns given"}
    page = render_html(ev)
    assert "No fairness metrics were computed (no sensitive columns given)." in page
    assert 'id="fairness" class="family missing"' in page


def test_numpy_details_and_unknown_family_are_accepted():
    ev = make_small_evaluation()
    col = ev.metrics[0].details["columns"]["age"]
    col["edges"], col["real"] = np.asarray(col["edges"]), np.asarray(col["real"])
    ev.metrics.append(MetricResult("collapse", "diversity", "maximize", (0, 1), 0.99, 0.99, "x"))

    page = render_html(ev)

    assert page.count("<svg") == 4
    assert 'id="diversity"' in page and family_verdicts(ev)["diversity"] == "pass"


def test_card_must_be_a_mapping():
    with pytest.raises(TypeError, match="card"):
        render_html(make_small_evaluation(), card=["not", "a", "dict"])  # type: ignore[arg-type]


def test_header_reads_title_generator_fingerprint_and_rows_from_card_and_meta():
    page = render_html(make_evaluation(), card=make_card())
    header = page[: page.index("</header>")]

    assert "<title>Adult census: gaussian_copula</title>" in page
    assert "gaussian_copula" in header and "sha256:9f86d081884c7d65" in header
    assert "train 3000 · holdout 1000 · synthetic 3000" in header
    assert render_html(Evaluation([])).count("<title>Synthetic data report</title>") == 1
    assert "<title>Mine</title>" in render_html(Evaluation([]), card=make_card(), title="Mine")


# ------------------------------------------------------------------ verdict rules
@pytest.mark.parametrize(
    ("value", "ci", "expected"),
    [
        (0.50, (0.47, 0.53), "pass"),
        (0.58, None, "warn"),  # no CI: the point estimate is 0.08 away
        (0.58, (0.56, 0.60), "warn"),  # whole CI more than 0.05 above chance
        (0.65, (0.45, 0.85), "warn"),  # wide CI: point estimate too far to pass
        (0.66, (0.61, 0.71), "fail"),  # whole CI more than 0.10 above chance
        (0.30, (0.25, 0.35), "fail"),  # reliably wrong leaks as much as reliably right
        (float("nan"), None, "n/a"),
    ],
)
def test_auc_verdicts(value, ci, expected):
    m = MetricResult(
        "mia_distance",
        "privacy",
        "target",
        (0, 1),
        value,
        0.5,
        "x",
        ci=ci,
        baseline=0.5,
        target_value=0.5,
    )
    assert metric_verdict(m) == expected


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (1.0, "pass"),
        (0.9, "pass"),
        (0.8999, "warn"),
        (0.75, "warn"),
        (0.7499, "fail"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_score_verdicts(score, expected):
    m = MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.0, score, "x")  # type: ignore[arg-type]
    assert metric_verdict(m) == expected


def test_family_rules_privacy_is_worst_case_others_average():
    def m(name, family, normalized):
        return MetricResult(name, family, "maximize", (0, 1), normalized, normalized, "x")

    ev = Evaluation(
        [
            m("a", "fidelity", 1.0),
            m("b", "fidelity", 0.7),  # mean 0.85: warn
            m("c", "privacy", 1.0),
            m("d", "privacy", 0.7),
        ]
    )  # worst 0.7: fail
    assert family_verdicts(ev) == {"fidelity": "warn", "privacy": "fail"}
    page = render_html(ev)
    assert "Privacy takes its worst metric" in page  # the footer states the rules


# ------------------------------------------------------------------ determinism and golden
def test_rendering_is_deterministic_and_survives_a_json_round_trip():
    ev = make_evaluation()
    first = render_html(ev, card=make_card())

    assert render_html(make_evaluation(), card=make_card()) == first
    assert render_html(Evaluation.from_json(ev.to_json()), card=make_card()) == first


def test_write_html_writes_the_rendered_page_atomically(tmp_path):
    ev = make_small_evaluation()
    out = write_html(ev, tmp_path / "sub" / "report.html", title="T")

    assert out == tmp_path / "sub" / "report.html"
    assert out.read_bytes() == render_html(ev, title="T").encode("utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_golden_small_report():
    """Set SOSIE_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change."""
    page = render_html(make_small_evaluation(), card={"generator": "gaussian_copula", "seed": 0})
    golden = GOLDEN / "small_report.html"
    if os.environ.get("SOSIE_UPDATE_GOLDEN") == "1":
        golden.write_text(page, encoding="utf-8", newline="\n")
    assert golden.exists(), "golden file missing: run with SOSIE_UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    assert page == expected, "report changed: inspect, then run with SOSIE_UPDATE_GOLDEN=1"


def test_numbers_are_formatted_for_people():
    from sosie.report._svg import fmt

    assert [fmt(v) for v in (0.91234, None, math.nan, math.inf, 12345, 3, 1e-4, True)] == [
        "0.912",
        "n/a",
        "n/a",
        "n/a",
        "12,345",
        "3",
        "1.0e-04",
        "n/a",
    ]


def test_layouts_the_metric_authors_also_use():
    """``*_histogram`` blocks, a nested ``correlation`` block, ``top_features``, and
    ``{"real": {...}, "synthetic": {...}}`` mappings are drawn too."""
    edges = [0.0, 0.5, 1.0, 1.5, 2.0]
    metrics = [
        MetricResult(
            "pair_trends",
            "fidelity",
            "maximize",
            (0, 1),
            0.9,
            0.9,
            "x",
            details={
                "columns": ["a", "b"],
                "measure": "cramers_v",
                "real": [[1, 0.2], [0.2, 1]],
                "synthetic": [[1, 0.3], [0.3, 1]],
                "correlation": {
                    "columns": ["a", "b"],
                    "method": "pearson",
                    "real": [[1, -0.4], [-0.4, 1]],
                    "synthetic": [[1, -0.2], [-0.2, 1]],
                },
            },
        ),
        MetricResult(
            "missing_values",
            "fidelity",
            "maximize",
            (0, 1),
            0.99,
            0.99,
            "x",
            details={"real": {"a": 0.05, "b": 0.0}, "synthetic": {"a": 0.06, "b": 0.0}},
        ),
        MetricResult(
            "detection_auc",
            "fidelity",
            "target",
            (0, 1),
            0.55,
            0.9,
            "x",
            ci=(0.52, 0.58),
            baseline=0.5,
            target_value=0.5,
            details={
                "roc": {"fpr": [0, 1], "tpr": [0, 1]},
                "top_features": [{"name": "a", "auc": 0.56}, {"name": "b", "auc": 0.51}],
                "feature_importance": "univariate AUC: each feature alone",
            },
        ),
        MetricResult(
            "dcr_share",
            "privacy",
            "target",
            (0, 1),
            0.5,
            1.0,
            "x",
            details={
                "dcr_histogram": {
                    "bin_edges": edges,
                    "synthetic": [0.1, 0.4, 0.3, 0.2],
                    "holdout": [0.1, 0.3, 0.4, 0.2],
                    "last_bin_includes_larger": True,
                },
                "synthetic_to_train": {"p5": 0.1, "p50": 0.9},
            },
        ),
        MetricResult(
            "group_fidelity[sex]",
            "fairness",
            "maximize",
            (0, 1),
            0.9,
            0.9,
            "x",
            details={"groups": {"F": {"synthetic": 0.92}, "M": {"synthetic": 0.95}}},
        ),
    ]

    page = render_html(Evaluation(metrics))

    assert "plot skipped" not in page
    fidelity = _section(page, "fidelity")
    assert fidelity.count("<svg") == 3 + 3 + 1 + 1 + 1  # 2 heatmap sets, bars, ROC, top features
    assert "Cramér&#x27;s V" in fidelity and "Pearson correlation" in fidelity
    assert _section(page, "privacy").count("<svg") == 1
    assert "Distance to the closest training record" in page and "holdout → train (real)" in page
    assert _section(page, "fairness").count("<svg") == 1


@pytest.mark.slow
def test_report_of_a_real_evaluation_draws_every_plot(adult_small, tmp_path):
    """End to end with the real metrics: nothing is skipped as malformed."""
    from sosie.evaluate import evaluate
    from sosie.schema import infer_schema

    schema = infer_schema(adult_small)  # categories of all three slices
    train, holdout = adult_small.iloc[:500], adult_small.iloc[500:800]
    synthetic = adult_small.iloc[800:1300].reset_index(drop=True)
    ev = evaluate(
        train, holdout, synthetic, schema=schema, target="income", sensitive=["sex"], rng=0
    )

    out = write_html(ev, tmp_path / "report.html")

    page = out.read_text(encoding="utf-8")
    assert "plot skipped" not in page and "curve skipped" not in page
    for family in ("fidelity", "utility", "privacy", "fairness"):
        assert _section(page, family).count("<svg") >= 1, family
    assert render_html(Evaluation.from_json(ev.to_json())) == page
