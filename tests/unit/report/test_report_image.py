"""The HTML report of an image evaluation: sample thumbnails, closest pairs, the header, the
content security policy, escaping, golden file, browser."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import numpy as np

from sosie.evaluate import Evaluation, MetricResult
from sosie.report import family_verdicts, render_html, write_html


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


_html = _load("_report_factory_img", "test_report_html.py")
HOSTILE, parse, ALLOWED_TAGS = _html.HOSTILE, _html.parse, _html.ALLOWED_TAGS
GOLDEN = Path(__file__).parent / "golden"

# 8 x 8 PNGs written by sosie.evaluate.image.png_data_uri (fixed here: the golden file must not
# depend on the zlib build): a white square, a grey ramp, magenta (RGB) and a white bar
SQUARE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAEklEQVR42mNgwAL+AwEhBhoAAD4mD/ELx9zYAAAAAElFTkSuQmCC"
RAMP = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAFElEQVR42mNgUHBIaFhw4AEDZQwAxnUcAYqwUcEAAAAASUVORK5CYII="
MAGENTA = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mP4z/AfK2IYWhIA0ad/gQofP30AAAAASUVORK5CYII="
BAR = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAE0lEQVR42mNgYGD4/58BAihgAAA+Jg/xObkRdAAAAABJRU5ErkJggg=="
MAGENTA_RGB = (255, 0, 255)


# ------------------------------------------------------------------ factory
def make_image_evaluation(
    classes: tuple[str, str, str] = ("ok", "scratch", "dent"),
    uris: tuple[str, str, str, str] = (SQUARE, RAMP, MAGENTA, BAR),
) -> Evaluation:
    """An image evaluation shaped like ``evaluate_images``' output: every metric, three
    classes with two real and two synthetic thumbnails each, two closest pairs."""
    sq, ramp, mag, bar = uris
    shares_r = {classes[0]: 0.6, classes[1]: 0.25, classes[2]: 0.15}
    shares_s = {classes[0]: 0.7, classes[1]: 0.25, classes[2]: 0.05}
    recall = {
        classes[0]: {"trtr": 0.97, "tstr": 0.95},
        classes[1]: {"trtr": 0.88, "tstr": 0.71},
        classes[2]: {"trtr": 0.81, "tstr": 0.42},
    }
    pairs = [
        {"synthetic_index": 17, "train_index": 230, "distance": 0.0041,
         "synthetic_png": mag, "train_png": mag},
        {"synthetic_index": 3, "train_index": 41, "distance": 0.052,
         "synthetic_png": bar, "train_png": sq},
    ]  # fmt: skip
    dcr = {
        "bin_edges": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25],
        "synthetic": [0.1, 0.05, 0.3, 0.4, 0.15],
        "holdout": [0.0, 0.05, 0.35, 0.45, 0.15],
        "last_bin_includes_larger": True,
    }
    metrics = [
        MetricResult("frechet_distance", "fidelity", "minimize", (0.0, float("inf")), 12.5, 0.93,
                     "Fréchet distance between Gaussians fitted to the features", ci=(9.1, 15.8),
                     baseline=1.2, details={"real_total_variance": 320.0}),
        MetricResult("precision", "fidelity", "maximize", (0, 1), 0.88, 0.96,
                     "share of synthetic images inside the real feature manifold",
                     ci=(0.86, 0.9), baseline=0.92),
        MetricResult("recall", "fidelity", "maximize", (0, 1), 0.61, 0.66,
                     "share of real images inside the synthetic feature manifold",
                     ci=(0.58, 0.64), baseline=0.92),
        MetricResult("class_balance", "fidelity", "maximize", (0, 1), 0.9, 0.9,
                     "1 - total variation distance between the class shares", ci=(0.87, 0.93),
                     breakdown={c: round(shares_s[c] - shares_r[c], 3) for c in classes},
                     details={"real": shares_r, "synthetic": shares_s,
                              "score_name": "share of images"}),
        MetricResult("tstr", "utility", "maximize", (0, 1), 0.84, 0.91,
                     "accuracy on real holdout images of a CNN trained on synthetic images",
                     ci=(0.81, 0.87), baseline=0.92, breakdown=recall,
                     details={"groups": recall, "score_name": "recall", "attribute": "class",
                              "accuracy": {"trtr": 0.92, "tstr": 0.84}}),
        MetricResult("memorisation_pixels", "privacy", "minimize", (0, 1), 0.12, 0.86,
                     "share of synthetic images nearer to a training image than 95 % of "
                     "holdout images are (pixels)", ci=(0.1, 0.14), baseline=0.05,
                     details={"space": "pixels", "pixel_dcr_histogram": dcr,
                              "closest_pairs": pairs}),
        MetricResult("memorisation_features", "privacy", "minimize", (0, 1), 0.06, 0.98,
                     "the same in classifier features", ci=(0.05, 0.07), baseline=0.05),
        MetricResult("near_copies", "privacy", "minimize", (0, 1), 0.01, 0.9,
                     "share of synthetic images that nearly copy a training image",
                     ci=(0.004, 0.016), baseline=0.0),
    ]  # fmt: skip
    summary = {
        "frechet_distance": 12.5,
        "precision": 0.88,
        "recall": 0.61,
        "class_balance": 0.9,
        "tstr_ratio": 0.913,
        "tstr_accuracy": 0.84,
        "trtr_accuracy": 0.92,
        "memorisation_pixels": 0.12,
        "memorisation_features": 0.06,
        "near_copies": 0.01,
    }
    meta = {
        "kind": "images",
        "images": {
            "height": 8,
            "width": 8,
            "channels": 3,
            "classes": list(classes),
            "n_images": {"real_train": 600, "real_holdout": 200, "synthetic": 500},
            "thumbnails": {
                "classes": list(classes),
                "real": [[sq, ramp], [bar, sq], [ramp, bar]],
                "synthetic": [[mag, sq], [ramp, mag], [bar]],
                "per_class": True,
            },
        },
        "n_real_train": 600,
        "n_real_holdout": 200,
        "n_synthetic": 500,
        "skipped": {"fairness": "not evaluated for images"},
    }
    return Evaluation(metrics, meta=meta, summary=summary)


def _section(page: str, sid: str) -> str:
    start = page.index(f'<section id="{sid}"')
    return page[start : page.index("</section>", start)]


IMG_SRC = re.compile(r'<img class="thumb" src="([^"]*)" alt="([^"]*)">')


# ------------------------------------------------------------------ structure
def test_image_report_shows_samples_pairs_and_plots():
    # Run
    page = render_html(make_image_evaluation(), title="Defects")
    # Assert
    samples = _section(page, "samples")
    assert samples.count("<img") == 11 and "Real (train)" in samples
    for name in ("ok", "scratch", "dent"):
        assert f'<th scope="row">{name}</th>' in samples
    privacy = _section(page, "privacy")
    assert privacy.count("<img") == 4  # two pairs
    assert "memorisation_pixels: closest pairs" in privacy
    assert "synthetic #17 · train #230" in privacy and "distance 0.004" in privacy
    assert "Distance to the closest training image (pixels)" in privacy
    assert page.count("<img") == 15
    assert {src for src, _ in IMG_SRC.findall(page)} == {SQUARE, RAMP, MAGENTA, BAR}
    fid, util = _section(page, "fidelity"), _section(page, "utility")
    assert "class_balance: real vs synthetic" in fid and fid.count("<svg") == 1
    assert "tstr: recall by group of class" in util and util.count("<svg") == 1
    assert "feature space of a small classifier" in fid  # the image blurbs
    assert "recall of each class" in util
    assert page.count("<svg") == page.count("</svg>") == 3
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS | {"img"}
    assert not {a for a in tags.attrs if a.startswith("on")}


def test_header_summary_and_policy_of_an_image_report():
    # Run
    ev = make_image_evaluation()
    page = render_html(ev)
    header = page[page.index("<header") : page.index("</header>")]
    summary = _section(page, "summary")
    # Assert
    assert "8 × 8 px · 3 channels · 3 classes" in header
    assert "Images per set" in header and "train 600 · holdout 200 · synthetic 500" in header
    assert '<a href="#samples">Sample images</a>' in header
    for label in ("Fréchet distance", "Precision", "Recall", "Class balance", "Near copies",
                  "Memorisation (pixels)"):  # fmt: skip
        assert label in summary, label
    assert family_verdicts(ev) == {"fidelity": "warn", "utility": "pass", "privacy": "warn"}
    # embedded PNGs are allowed, nothing else is
    assert "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"" in page
    assert "img.thumb{" in page


def test_pages_without_images_keep_the_strict_policy():
    ev = make_image_evaluation()
    ev.meta["images"].pop("thumbnails")
    ev["memorisation_pixels"].details.pop("closest_pairs")
    page = render_html(ev)
    assert "<img" not in page and "img-src" not in page and "img.thumb" not in page
    assert 'id="samples"' not in page
    assert "8 × 8 px" in page  # still an image report


def test_only_embedded_pngs_reach_an_img_src():
    # Setup: hostile and foreign sources wherever a URI goes
    bad = (
        "javascript:alert(1)",
        'data:image/png;base64,AAAA" onerror="alert(1)',
        "data:image/svg+xml;base64,PHN2Zy8+",
        "https://example.com/x.png",
    )
    ev = make_image_evaluation(uris=(SQUARE, *bad[:3]))
    ev.meta["images"]["thumbnails"]["real"][0].append(bad[3])
    ev.meta["images"]["thumbnails"]["synthetic"][1].append(42)
    # Run
    page = render_html(ev)
    # Assert
    for src, _ in IMG_SRC.findall(page):
        assert src == SQUARE
    assert page.count("<img") == 3  # the squares among the thumbnails; no pair survives
    for raw in ("javascript:", "onerror", "svg+xml", "example.com"):
        assert raw not in page, raw
    assert "10 thumbnail(s) that are not embedded PNG images not shown" in page
    assert "2 closest pair(s) without two embedded PNG images not shown" in page
    tags = parse(page)
    assert not tags.errors and not tags.stack


def test_image_strings_are_escaped():
    # Setup
    ev = make_image_evaluation(classes=HOSTILE[:3])
    # Run
    page = render_html(ev, title=HOSTILE[1])
    # Assert
    tags = parse(page)
    assert not tags.errors and not tags.stack
    assert set(tags.tags) <= ALLOWED_TAGS | {"img"}
    assert not {a for a in tags.attrs if a.startswith("on")}
    assert "<script" not in page and "<b>" not in page
    assert page.count("<img") == 15
    text = "".join(tags.text)
    assert HOSTILE[0] in text and HOSTILE[2] in text
    alts = [alt for _, alt in IMG_SRC.findall(page)]
    assert any("&lt;script&gt;" in a for a in alts)


def test_golden_image_report():
    """Set SOSIE_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change."""
    page = render_html(make_image_evaluation(), title="Image report")
    golden = GOLDEN / "image_report.html"
    if os.environ.get("SOSIE_UPDATE_GOLDEN"):
        golden.write_text(page, encoding="utf-8", newline="\n")
    assert golden.exists(), "golden file missing: run with SOSIE_UPDATE_GOLDEN=1"
    assert page == golden.read_text(encoding="utf-8")


def test_round_trip_keeps_the_thumbnails():
    ev = Evaluation.from_json(make_image_evaluation().to_json())
    assert render_html(ev) == render_html(make_image_evaluation())


# ------------------------------------------------------------------ in a browser
def test_image_report_renders_in_chromium(tmp_path):
    browser_mod = _load("_report_browser_img", "test_report_browser.py")
    browser = browser_mod._chromium()  # skips without Chromium
    page = write_html(make_image_evaluation(), tmp_path / "report.html", title="Image report")
    png = tmp_path / "image.png"
    width, height = 1280, 3600
    proc = browser_mod._run(
        browser, tmp_path, f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()
    )
    assert png.exists(), proc.stderr[-2000:]
    keep = os.environ.get("SOSIE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "image_report.png").write_bytes(png.read_bytes())
    img = browser_mod.read_png(png)
    assert img.shape == (height, width, 3)
    # the magenta PNG is shown 4 times (2 thumbnails, 1 pair), each 56 px wide with its
    # frame: the policy lets embedded images through and they are drawn, scaled up
    magenta = int((np.abs(img.astype(int) - MAGENTA_RGB).sum(axis=2) <= 6).sum())
    assert magenta > 4 * 50 * 50, magenta
