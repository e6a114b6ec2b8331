"""Image evidence: the classifier, Fréchet distance, precision/recall, memorisation and
evaluate_images, with known answers and on real MNIST digits."""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pytest
import scipy.linalg
from scipy.ndimage import gaussian_filter

from sosie.errors import InvalidDataError, NotFittedError
from sosie.evaluate import (
    Evaluation,
    ImageClassifier,
    evaluate_images,
    frechet_distance,
    memorisation,
    precision_recall,
)
from sosie.evaluate.image import png_data_uri
from sosie.images import ImageBatch
from sosie.report import family_verdicts, render_html

DIGITS = tuple(str(d) for d in range(10))
FAST = {"n_threads": 1}  # one torch thread: fastest on a small shared machine


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def mnist(mnist_5k) -> tuple[np.ndarray, np.ndarray]:
    return mnist_5k


@pytest.fixture(scope="module")
def parts(mnist) -> dict[str, ImageBatch]:
    """Disjoint real digits: train (2,000), holdout (1,000) and another sample (2,000)."""
    x, y = mnist
    perm = np.random.default_rng(0).permutation(len(x))
    cut = {"train": perm[:2000], "holdout": perm[2000:3000], "other": perm[3000:]}
    return {k: ImageBatch(x[i], labels=y[i], classes=DIGITS) for k, i in cut.items()}


@pytest.fixture(scope="module")
def clf(parts) -> ImageClassifier:
    return ImageClassifier(**FAST).fit(parts["train"], rng=0, epochs=6)


def blurred(batch: ImageBatch, sigma: float = 1.2) -> ImageBatch:
    """Heavily blurred digits (rescaled to full brightness), same labels."""
    b = gaussian_filter(batch.images[..., 0].astype(float), sigma=(0, sigma, sigma))
    b = np.clip(b * 255.0 / np.maximum(b.max(axis=(1, 2), keepdims=True), 1), 0, 255)
    return ImageBatch(b.astype(np.uint8), labels=batch.labels, classes=batch.classes)


@pytest.fixture(scope="module")
def ev_real(parts, clf) -> Evaluation:
    """'Synthetic' = a disjoint real sample: the best a generator can do."""
    return evaluate_images(
        parts["train"], parts["holdout"], parts["other"], rng=0, classifier=clf,
        classifier_epochs=6, **FAST,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ev_blur(parts, clf) -> Evaluation:
    """'Synthetic' = the same sample, heavily blurred."""
    return evaluate_images(
        parts["train"], parts["holdout"], blurred(parts["other"]), rng=0, classifier=clf,
        classifier_epochs=6, **FAST,
    )  # fmt: skip


# ------------------------------------------------------------------ the classifier
def test_classifier_learns_mnist(parts, clf):
    # Run
    acc = clf.score(parts["holdout"])
    proba = clf.predict_proba(parts["holdout"])
    feats = clf.features(parts["holdout"])
    # Assert
    assert acc > 0.9, acc  # chance is 0.1
    assert clf.classes_ == DIGITS and clf.n_epochs_ == 6 and not clf.stopped_early_
    assert proba.shape == (1000, 10) and np.allclose(proba.sum(1), 1.0)
    assert np.array_equal(proba.argmax(1), clf.predict(parts["holdout"]))
    assert feats.shape == (1000, 128) and np.isfinite(feats).all() and (feats >= 0).all()
    assert clf.history_[-1] < clf.history_[0]


def test_classifier_is_seeded_and_leaves_global_rng_alone(global_rng_guard, parts):
    # Setup
    small, test = parts["train"][:400], parts["holdout"][:200]
    # Run
    a = ImageClassifier(augment=True, **FAST).fit(small, rng=5, epochs=2).predict_proba(test)
    b = ImageClassifier(augment=True, **FAST).fit(small, rng=5, epochs=2).predict_proba(test)
    c = ImageClassifier(augment=True, **FAST).fit(small, rng=6, epochs=2).predict_proba(test)
    # Assert
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_balanced_class_weight_finds_rare_defects(mnist):
    # Setup: "defects" (digit 5) are 2 % of the training images
    x, y = mnist
    perm = np.random.default_rng(1).permutation(len(x))
    train, test = perm[:2500], perm[2500:3500]
    rows = np.r_[train[y[train] != 5][:600], train[y[train] == 5][:12]]
    fit_b = ImageBatch(x[rows], labels=(y[rows] == 5).astype(int), classes=("ok", "defect"))
    test_b = ImageBatch(x[test], labels=(y[test] == 5).astype(int), classes=("ok", "defect"))
    defect = test_b.labels == 1
    # Run
    recall = {}
    for cw in (None, "balanced"):
        model = ImageClassifier(**FAST).fit(fit_b, rng=0, epochs=8, class_weight=cw)
        recall[cw] = float((model.predict(test_b)[defect] == 1).mean())
        p = model.predict_proba(test_b)[:, 1]
        assert p.shape == (1000,) and ((p >= 0) & (p <= 1)).all()
    # Assert
    assert recall["balanced"] > 0.5, recall
    assert recall["balanced"] > recall[None] + 0.2, recall


def test_max_seconds_stops_training(parts):
    model = ImageClassifier(**FAST).fit(parts["train"][:300], rng=0, epochs=500, max_seconds=0.05)
    assert model.stopped_early_ and model.n_epochs_ < 500
    assert model.predict(parts["holdout"][:10]).shape == (10,)


def test_colour_64px_images():
    # Setup: red squares vs blue discs on noise, 64 x 64 RGB
    g = np.random.default_rng(0)
    n = 64
    x = g.integers(0, 60, (n, 64, 64, 3)).astype(np.uint8)
    y = np.arange(n) % 2
    yy, xx = np.mgrid[:64, :64]
    for i in range(n):
        cy, cx = g.integers(16, 48, 2)
        if y[i] == 0:
            x[i, cy - 8 : cy + 8, cx - 8 : cx + 8, 0] = 250
        else:
            x[i, (yy - cy) ** 2 + (xx - cx) ** 2 < 81, 2] = 250
    batch = ImageBatch(x, labels=y, classes=("square", "disc"))
    # Run
    model = ImageClassifier(feature_dim=64, batch_size=16, augment=True, **FAST)
    model.fit(batch, rng=0, epochs=8)
    # Assert
    assert model.score(batch) > 0.9
    assert model.features(batch).shape == (n, 64)
    n_convs = sum(type(m).__name__ == "Conv2d" for m in model.net_.body)
    assert n_convs == 4  # a fourth block for 64 px images


def test_classifier_errors(parts, clf):
    unlabelled = ImageBatch(parts["train"].images[:10])
    with pytest.raises(InvalidDataError, match="batch labels: expected a class label per image"):
        ImageClassifier().fit(unlabelled, rng=0)
    with pytest.raises(InvalidDataError, match=r"training shape 28 x 28 x 1.*found 14 x 14 x 1"):
        clf.predict(ImageBatch(np.zeros((2, 14, 14), np.uint8)))
    with pytest.raises(InvalidDataError, match="expected an ImageBatch"):
        clf.features(parts["train"].images)
    with pytest.raises(NotFittedError, match="call fit"):
        ImageClassifier().predict(parts["train"])
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        ImageClassifier().fit(parts["train"], epochs=0)
    with pytest.raises(ValueError, match="class_weight must be None or 'balanced'"):
        ImageClassifier().fit(parts["train"], class_weight="auto")  # type: ignore[arg-type]


# ------------------------------------------------------------------ Fréchet distance
def gaussian_sample(n: int, mean, cov, seed: int) -> np.ndarray:
    """Rows whose sample mean and covariance are exactly ``mean`` and ``cov``."""
    z = np.random.default_rng(seed).normal(size=(n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # cov(z) = I
    return np.asarray(mean) + z @ np.linalg.cholesky(np.asarray(cov, float)).T


def test_frechet_distance_known_answers():
    # diagonal covariances: ||mu_a - mu_b||^2 + sum (sd_a - sd_b)^2
    a = gaussian_sample(500, [0.0, 0.0, 0.0], np.diag([1.0, 4.0, 0.25]), 0)
    b = gaussian_sample(700, [1.0, -1.0, 0.0], np.diag([4.0, 4.0, 1.0]), 1)
    assert frechet_distance(a, b) == pytest.approx(2.0 + 1.0 + 0.0 + 0.25, abs=1e-9)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), abs=1e-9)
    # identical sets
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # full covariances: the textbook formula with scipy's sqrtm
    g = np.random.default_rng(2)
    m1, m2 = g.normal(size=(6, 6)), g.normal(size=(6, 6))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(6), m2 @ m2.T + 0.1 * np.eye(6)
    mu1, mu2 = g.normal(size=6), g.normal(size=6)
    expected = (
        np.sum((mu1 - mu2) ** 2)
        + np.trace(s1 + s2)
        - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    )
    fa, fb = gaussian_sample(300, mu1, s1, 3), gaussian_sample(300, mu2, s2, 4)
    assert frechet_distance(fa, fb) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_with_singular_covariances():
    # Setup: 3 informative features spread over 6 (rank-3 covariances, no zero column to see)
    # by a random rotation, which leaves the distance unchanged, plus a dead feature
    g = np.random.default_rng(0)
    a, b = g.normal(size=(400, 3)), g.normal(1.0, 2.0, size=(400, 3)) @ g.normal(size=(3, 3))
    q = np.linalg.qr(g.normal(size=(6, 6)))[0]
    pad_a = np.c_[a, np.zeros((400, 3))] @ q
    pad_b = np.c_[b, np.zeros((400, 3))] @ q
    # Run
    d, d_pad = frechet_distance(a, b), frechet_distance(pad_a, pad_b)
    # Assert
    assert np.linalg.matrix_rank(np.cov(pad_a, rowvar=False)) == 3
    assert math.isfinite(d_pad) and d_pad == pytest.approx(d, rel=1e-7)
    assert frechet_distance(pad_a, pad_a) == pytest.approx(0.0, abs=1e-9)
    dead = np.c_[a, np.zeros(400)], np.c_[b, np.zeros(400)]
    assert frechet_distance(*dead) == pytest.approx(d, rel=1e-9)
    assert frechet_distance(np.ones((5, 2)), np.ones((5, 2))) == 0.0  # zero covariance


def test_frechet_distance_errors():
    with pytest.raises(InvalidDataError, match="features_b: expected 3 features per row"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(InvalidDataError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(InvalidDataError, match="NaN or infinite"):
        frechet_distance(np.full((4, 3), np.nan), np.zeros((4, 3)))


# ------------------------------------------------------------------ precision / recall
def test_precision_recall_known_answers():
    g = np.random.default_rng(0)
    real = g.normal(size=(1000, 8))
    # same distribution: both high
    p, r = precision_recall(real, g.normal(size=(1000, 8)))
    assert p > 0.85 and r > 0.85, (p, r)
    # collapsed onto one mode: realistic but no variety
    p, r = precision_recall(real, g.normal(0.0, 0.05, size=(1000, 8)))
    assert p > 0.9 and r < 0.05, (p, r)
    # disjoint supports: neither
    assert precision_recall(real, g.normal(50.0, 1.0, size=(1000, 8))) == (0.0, 0.0)
    # the roles swap when the sets swap
    other = g.normal(0.5, 1.5, size=(600, 8))
    p1, r1 = precision_recall(real, other)
    p2, r2 = precision_recall(other, real)
    assert (p1, r1) == (r2, p2)


def test_precision_recall_errors():
    with pytest.raises(InvalidDataError, match="more than k=3 rows"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        precision_recall(np.zeros((10, 2)), np.zeros((10, 2)), k=0)


# ------------------------------------------------------------------ memorisation
def test_memorisation_flags_copies_of_training_images(parts, clf):
    # Setup: 300 training digits with a little noise (2 grey levels)
    train = parts["train"]
    g = np.random.default_rng(0)
    src = g.choice(len(train), 300, replace=False)
    noisy = np.clip(train.images[src].astype(float) + g.normal(0, 2, (300, 28, 28, 1)), 0, 255)
    copies = ImageBatch(noisy.astype(np.uint8))
    for space in ("pixels", "features"):
        # Run
        m = memorisation(train, parts["holdout"], copies, space=space, classifier=clf)
        # Assert
        assert m.share_close > 0.95, (space, m.share_close)
        assert m.near_copies >= 295 and m.holdout_near_copy_share < 0.01, space
        assert np.array_equal(m.synthetic_nearest, src)  # each copy finds its source
        s, t, d = m.closest_pairs[0]
        assert src[s] == t and d == m.synthetic_distance.min()
    assert m.to_dict()["closest_pairs"][0]["train_index"] == int(m.closest_pairs[0][1])


def test_memorisation_of_a_fresh_real_sample_is_the_baseline(parts, clf):
    for space in ("pixels", "features"):
        m = memorisation(
            parts["train"], parts["holdout"], parts["other"], space=space, classifier=clf
        )
        assert 0.02 < m.share_close < 0.09, (space, m.share_close)  # baseline 0.05
        assert m.near_copy_share <= m.holdout_near_copy_share + 0.005, space
        assert m.synthetic_distance.shape == (2000,) and m.holdout_distance.shape == (1000,)


def test_memorisation_errors(parts):
    with pytest.raises(ValueError, match="space='features' needs classifier="):
        memorisation(parts["train"], parts["holdout"], parts["other"], space="features")
    small = ImageBatch(np.zeros((3, 14, 14), np.uint8))
    with pytest.raises(InvalidDataError, match="synthetic images: expected the shape"):
        memorisation(parts["train"], parts["holdout"], small)


# ------------------------------------------------------------------ evaluate_images
def test_a_real_sample_scores_like_the_holdout(ev_real):
    ev = ev_real
    fd, p, r = ev["frechet_distance"], ev["precision"], ev["recall"]
    assert fd.value < 3 * fd.baseline and fd.normalized > 0.98
    assert p.value > 0.85 and r.value > 0.85
    assert abs(p.value - p.baseline) < 0.05 and abs(r.value - r.baseline) < 0.05
    tstr = ev["tstr"]
    assert tstr.baseline > 0.9 and abs(tstr.value - tstr.baseline) < 0.03  # TSTR ~ TRTR
    assert set(tstr.breakdown) == set(DIGITS)
    assert all(v["trtr"] > 0.75 and v["tstr"] > 0.75 for v in tstr.breakdown.values())
    assert ev["class_balance"].value > 0.93
    for name in ("memorisation_pixels", "memorisation_features"):
        assert 0.02 < ev[name].value < 0.09 and ev[name].normalized > 0.95, name
    assert ev["near_copies"].value < 0.005
    assert family_verdicts(ev) == {"fidelity": "pass", "utility": "pass", "privacy": "pass"}


def test_a_blurred_set_scores_clearly_worse(ev_real, ev_blur):
    real, blur = ev_real, ev_blur
    assert blur["frechet_distance"].value > 50 * real["frechet_distance"].value
    assert blur["frechet_distance"].normalized < 0.2
    assert blur["recall"].value < 0.1 < 0.85 < real["recall"].value
    assert blur["precision"].value < real["precision"].value - 0.3
    assert blur["tstr"].value < real["tstr"].value - 0.3
    assert blur["tstr"].baseline == real["tstr"].baseline  # the same TRTR model
    assert family_verdicts(blur)["fidelity"] == "fail"
    assert family_verdicts(blur)["utility"] == "fail"


def test_a_single_class_set_loses_recall_and_balance(parts, clf, ev_real):
    threes = parts["other"][parts["other"].labels == 3]
    ev = evaluate_images(
        parts["train"], parts["holdout"], threes, rng=0, classifier=clf,
        metrics=("frechet_distance", "precision", "recall", "class_balance"),
    )  # fmt: skip
    assert ev["class_balance"].value < 0.15
    assert ev["recall"].value < ev_real["recall"].value - 0.4
    assert ev["precision"].value > 0.8  # each image still looks real
    assert ev["frechet_distance"].value > 50 * ev_real["frechet_distance"].value
    assert ev.meta["images"]["n_compared"]["precision_recall_and_frechet"] == len(threes)


def test_evaluation_records_the_sets_and_round_trips(ev_real):
    ev = Evaluation.from_json(ev_real.to_json())
    img = ev.meta["images"]
    assert img["n_images"] == {"real_train": 2000, "real_holdout": 1000, "synthetic": 2000}
    assert (img["height"], img["width"], img["channels"]) == (28, 28, 1)
    assert set(img["sets"]) == {"real_train", "real_holdout", "synthetic"}
    assert sum(img["class_counts"]["real_holdout"].values()) == 1000
    th = img["thumbnails"]
    assert th["classes"] == list(DIGITS)
    assert all(len(row) == 4 for row in th["real"] + th["synthetic"])
    assert ev.meta["classifier"]["trained_here"] is False
    assert set(ev.summary) >= {"frechet_distance", "precision", "recall", "tstr_ratio"}
    assert ev.summary["tstr_ratio"] == pytest.approx(ev["tstr"].value / ev["tstr"].baseline)
    pairs = ev["memorisation_pixels"].details["closest_pairs"]
    assert len(pairs) == 6 and pairs[0]["synthetic_png"].startswith("data:image/png;base64,")
    json.dumps(ev.to_dict(), allow_nan=False)


def test_report_of_an_image_evaluation(ev_real):
    page = render_html(Evaluation.from_json(ev_real.to_json()), title="MNIST")
    assert page.count('<img class="thumb"') == 10 * 4 * 2 + 2 * 6 * 2
    assert "img-src data:" in page and 'id="samples"' in page
    assert "28 × 28 px · 1 channel · 10 classes" in page


def test_evaluate_images_trains_its_own_classifier(parts):
    # Setup: a small run without classifier=
    train, hold, syn = parts["train"][:600], parts["holdout"][:300], parts["other"][:300]
    # Run
    ev = evaluate_images(
        train, hold, syn, rng=1, classifier_epochs=3, metrics=("frechet_distance", "tstr"), **FAST
    )
    # Assert
    assert ev.meta["classifier"]["trained_here"] and ev.meta["classifier"]["epochs"] == 3
    assert ev.meta["tstr_classifier"]["epochs"] == 3
    assert [m.name for m in ev] == ["frechet_distance", "tstr"]


def test_evaluate_images_errors(parts, clf):
    train, hold, syn = parts["train"], parts["holdout"], parts["other"]
    small = ImageBatch(np.zeros((20, 14, 14), np.uint8), labels=[0] * 20, classes=("0",))
    with pytest.raises(InvalidDataError, match="synthetic images: expected the shape"):
        evaluate_images(train, hold, small, classifier=clf)
    no_labels = ImageBatch(hold.images)
    with pytest.raises(InvalidDataError, match="real_holdout labels"):
        evaluate_images(train, no_labels, syn, classifier=clf)
    with pytest.raises(InvalidDataError, match="without 'class_balance', 'tstr' and 'domain_gap'"):
        evaluate_images(train, hold, ImageBatch(syn.images), classifier=clf)
    renamed = ImageBatch(syn.images, labels=syn.labels, classes=[f"digit {d}" for d in DIGITS])
    with pytest.raises(InvalidDataError, match=r"synthetic classes.*'digit 0'"):
        evaluate_images(train, hold, renamed, classifier=clf)
    with pytest.raises(InvalidDataError, match="synthetic: expected an ImageBatch"):
        evaluate_images(train, hold, syn.images, classifier=clf)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_images(train, hold, syn, metrics=("fid",))

    def parity(b: ImageBatch) -> ImageBatch:
        return ImageBatch(b.images, labels=b.labels % 2, classes=("even", "odd"))

    with pytest.raises(InvalidDataError, match="classifier: expected a classifier fitted on"):
        evaluate_images(parity(train), parity(hold), parity(syn), classifier=clf)
    # without the label-based metrics an unlabelled synthetic set is fine
    ev = evaluate_images(
        train[:300], hold[:200], ImageBatch(syn.images[:200]), rng=0, metrics=("memorisation",),
        classifier_epochs=1, **FAST,
    )  # fmt: skip
    assert [m.name for m in ev] == ["memorisation_pixels", "memorisation_features",
                                    "near_copies"]  # fmt: skip


# ------------------------------------------------------------------ thumbnails
@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (6, 4, 3)])
def test_png_data_uri_round_trips(shape):
    from PIL import Image

    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    uri = png_data_uri(x)
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert np.array_equal(img, x.reshape(img.shape))
    with pytest.raises(ValueError, match="expected uint8 pixels"):
        png_data_uri(x.astype(float))
