"""CircuitBoardSimulator and DomainRandomization: reproducibility, labels, masks, looks, specs."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
from scipy import stats

from sosie.errors import ConditionError, DataSourceError, InvalidDataError
from sosie.images import load_image_folder
from sosie.images.simulation import (
    DEFECT_TYPES,
    CircuitBoardSimulator,
    DomainRandomization,
    _progress,
)

DEFECTS = list(DEFECT_TYPES)


def sim_(**kwargs) -> CircuitBoardSimulator:
    kwargs.setdefault("verbose", False)
    return CircuitBoardSimulator(**kwargs)


def assert_same(a, b) -> None:
    assert np.array_equal(a.images, b.images)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.masks, b.masks)
    assert a.annotations == b.annotations


def check_annotations(batch) -> None:
    """Every defect image has >= 1 annotation; each mask instance is non-empty and its box
    is the tight box of the instance; ok images have neither."""
    names = batch.label_names
    for i in range(len(batch)):
        anns, mask = batch.annotations[i], batch.masks[i]
        if names[i] == "ok":
            assert anns == [] and not mask.any(), i
            continue
        assert len(anns) >= 1, i
        assert set(np.unique(mask)) <= set(range(len(anns) + 1)), i
        for k, ann in enumerate(anns, start=1):
            assert ann["category"] == names[i]
            ys, xs = np.nonzero(mask == k)
            assert ys.size > 0, (i, k)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0], (i, k)


# --- reproducibility -------------------------------------------------------------------------


def test_same_rng_gives_identical_batch(global_rng_guard):
    # Setup
    sim = sim_(defect_rate=0.5, randomization="wide")
    # Run
    a = sim.sample(30, rng=7)
    b = sim.sample(30, rng=7)
    # Assert
    assert_same(a, b)
    assert (a.labels > 0).any() and (a.labels == 0).any()


def test_different_rng_differs():
    sim = sim_(defect_rate=0.5)
    a, b = sim.sample(10, rng=1), sim.sample(10, rng=2)
    assert not np.array_equal(a.images, b.images)


def test_stream_continues_and_is_reproducible(global_rng_guard):
    # Setup: two simulators with the same constructor seed
    s1, s2 = sim_(size=48, rng=3), sim_(size=48, rng=3)
    # Run
    a1, b1 = s1.sample(6), s1.sample(6)
    a2, b2 = s2.sample(6), s2.sample(6)
    # Assert: calls differ from each other, the sequence repeats
    assert not np.array_equal(a1.images, b1.images)
    assert_same(a1, a2)
    assert_same(b1, b2)
    # a seeded call does not advance or depend on the stream
    assert_same(s1.sample(4, rng=9), s2.sample(4, rng=9))
    assert_same(s1.sample(6), s2.sample(6))


def test_generator_and_seedsequence_rng(global_rng_guard):
    sim = sim_(size=48)
    a = sim.sample(3, rng=np.random.default_rng(5))
    b = sim.sample(3, rng=np.random.default_rng(5))
    assert_same(a, b)
    c = sim.sample(3, rng=np.random.SeedSequence(11))
    assert_same(c, sim.sample(3, rng=11))


def test_meta_records_parameters_and_seed_and_reproduces():
    sim = sim_(size=48, defect_rate=0.3, randomization="factory", rng=4)
    sim.sample(2)
    batch = sim.sample(5)
    meta = batch.meta
    assert meta["generator"] == "CircuitBoardSimulator"
    assert meta["parameters"]["defect_rate"] == 0.3
    assert meta["randomization"] == DomainRandomization.factory().to_dict()
    seq = np.random.SeedSequence(meta["rng"]["entropy"], spawn_key=meta["rng"]["spawn_key"])
    assert_same(batch, sim.sample(5, rng=seq))


def test_image_depends_only_on_seed_and_index():
    sim = sim_(size=48)
    a = sim.sample(6, conditions={"label": "ok"}, rng=5)
    b = sim.sample(3, conditions={"label": "ok"}, rng=5)
    assert np.array_equal(a.images[:3], b.images)


# --- labels and conditions --------------------------------------------------------------------


def test_defect_rate_is_honoured():
    # Setup
    sim = sim_(size=48, defect_rate=0.1, rng=0)
    # Run
    batch = sim.sample(2000)
    # Assert: the defect count lies within a two-sided 99.9% binomial interval
    n_def = int((batch.labels > 0).sum())
    lo, hi = stats.binom.interval(0.999, 2000, 0.1)
    assert lo <= n_def <= hi, n_def
    # the types are uniform among the defects (chi-square, not rejected at 0.1%)
    counts = np.bincount(batch.labels[batch.labels > 0], minlength=5)[1:]
    assert stats.chisquare(counts).pvalue > 0.001, counts
    check_annotations(batch)


def test_defect_rate_extremes():
    sim = sim_(size=48)
    assert sim.sample(20, rng=0).labels.sum() >= 0
    assert (sim_(size=48, defect_rate=0.0).sample(50, rng=1).labels == 0).all()
    assert (sim_(size=48, defect_rate=1.0).sample(50, rng=1).labels > 0).all()


@pytest.mark.parametrize("label", ["ok", *DEFECTS])
def test_condition_one_label(label):
    batch = sim_(size=48).sample(6, conditions={"label": label}, rng=2)
    assert list(batch.label_names) == [label] * 6
    check_annotations(batch)


def test_condition_list_and_counts():
    sim = sim_(size=48, defect_types=["stain", "scratch"])
    assert sim.classes == ("ok", "stain", "scratch")
    names = ["ok", "stain", "scratch", "ok"]
    b = sim.sample(4, conditions={"label": names}, rng=0)
    assert list(b.label_names) == names
    c = sim.sample(10, conditions={"label": {"ok": 7, "scratch": 3}}, rng=0)
    assert c.counts() == {"ok": 7, "stain": 0, "scratch": 3}
    check_annotations(c)


@pytest.mark.parametrize(
    ("conditions", "fragment"),
    [
        ({"label": "solder_bridge"}, "solder_bridge"),  # not among this simulator's types
        ({"label": "scrtch"}, "scrtch"),
        ({"label": ["ok"] * 3}, "one class name per image (4)"),
        ({"label": {"ok": 3}}, "counts summing to n (4)"),
        ({"label": {"ok": -1, "stain": 5}}, "a count >= 0"),
        ({"kind": "ok"}, "'label'"),
        ({"label": 3}, "a class name, a list of n names or a dict of counts"),
    ],
)
def test_bad_conditions_raise(conditions, fragment):
    sim = sim_(size=48, defect_types=["stain"])
    with pytest.raises(ConditionError) as err:
        sim.sample(4, conditions=conditions, rng=0)
    assert fragment in str(err.value)


def test_empty_and_grayscale():
    sim = sim_(size=48, channels=1, defect_rate=0.5)
    assert len(sim.sample(0, rng=0)) == 0
    b = sim.sample(5, rng=0)
    assert b.images.shape == (5, 48, 48, 1)
    check_annotations(b)


# --- masks, boxes, visibility -----------------------------------------------------------------


def test_masks_and_boxes_follow_rotation_and_scale():
    # Setup: broad randomisation, several defects per image
    sim = sim_(randomization="wide", defects_per_image=(1, 3), defect_rate=1.0)
    # Run
    batch = sim.sample(80, rng=12)
    # Assert
    check_annotations(batch)
    assert max(len(a) for a in batch.annotations) >= 2


def test_quarter_turn_rotates_masks_exactly():
    # Setup: no light gradient, noise or texture, so a 90 degree turn is a pure rot90
    flat = {"shading": 0, "specular": 0, "noise": 0, "texture": 0}
    plain = sim_(randomization=flat)
    turned = sim_(randomization={**flat, "rotation": 90})
    labels = {"label": ["missing_component", "scratch", "stain", "solder_bridge"]}
    # Run
    a = plain.sample(4, conditions=labels, rng=8)
    b = turned.sample(4, conditions=labels, rng=8)
    # Assert: the same boards, turned a quarter, masks exactly
    assert any(
        all(np.array_equal(np.rot90(m, k), r) for m, r in zip(a.masks, b.masks, strict=True))
        for k in (1, -1)
    )
    k = 1 if np.array_equal(np.rot90(a.masks[0], 1), b.masks[0]) else -1
    diff = np.abs(np.rot90(a.images, k, axes=(1, 2)).astype(int) - b.images.astype(int))
    assert diff.max() <= 1
    check_annotations(b)


def test_zoom_enlarges_defects():
    sim1 = sim_(randomization={"scale": 1.0})
    sim2 = sim_(randomization={"scale": 1.6})
    cond = {"label": "missing_component"}
    a1 = (sim1.sample(40, conditions=cond, rng=3).masks > 0).sum() / 40
    a2 = (sim2.sample(40, conditions=cond, rng=3).masks > 0).sum() / 40
    assert 1.6 < a2 / a1 < 3.5  # about 1.6 ** 2, less what falls off the frame


@pytest.mark.parametrize("label", DEFECTS)
def test_defect_changes_only_its_pixels(label):
    # Setup: the same seeds rendered as ok and with the defect
    sim = sim_()
    ok = sim.sample(12, conditions={"label": "ok"}, rng=21)
    bad = sim.sample(12, conditions={"label": label}, rng=21)
    # Assert: identical boards outside the mask, clearly different inside
    for i in range(12):
        inside = bad.masks[i] > 0
        diff = np.abs(ok.images[i].astype(int) - bad.images[i].astype(int)).max(-1)
        assert diff[~inside].max() == 0, i
        assert diff[inside].mean() > 15, (i, diff[inside].mean())


def test_missing_component_keeps_pads_and_outline():
    # the empty footprint still shows bright pads / silkscreen near the masked body
    sim = sim_(randomization={"noise": 0})
    b = sim.sample(10, conditions={"label": "missing_component"}, rng=4)
    for img, mask in zip(b.images, b.masks, strict=True):
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        ring = img[max(y0 - 4, 0) : y1 + 4, max(x0 - 4, 0) : x1 + 4].astype(int)
        assert (ring.min(-1) > 150).sum() >= 6  # silver pads and white silkscreen


def test_defects_are_learnable_locally():
    """A logistic regression on small crops at the defect's place (pixels plus sorted
    values) tells held-out boards with the defect from the same boards without it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sim = sim_()
    n, h = 100, 6
    scores = {}
    for label in DEFECTS:
        ok = sim.sample(n, conditions={"label": "ok"}, rng=5)
        bad = sim.sample(n, conditions={"label": label}, rng=5)
        X, y = [], []
        for i in range(n):
            ys, xs = np.nonzero(bad.masks[i] == 1)
            j = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
            cy, cx = (int(np.clip(v, h, 64 - h)) for v in (ys[j], xs[j]))
            for img, target in ((ok.images[i], 0), (bad.images[i], 1)):
                crop = img[cy - h : cy + h, cx - h : cx + h].astype(np.float32) / 255
                X.append(np.concatenate([crop.ravel(), np.sort(crop.reshape(-1, 3), 0).ravel()]))
                y.append(target)
        X, y = np.array(X), np.array(y)
        train = np.arange(len(y)) < 140  # 70 boards to train, 30 held out (pairs kept together)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        clf.fit(X[train], y[train])
        scores[label] = clf.score(X[~train], y[~train])
    assert min(scores.values()) >= 0.65, scores
    assert np.mean(list(scores.values())) >= 0.8, scores


def test_defective_images_separable_above_chance():
    """Whole images, no locations: colour histograms + logistic regression beat chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = {"ok": 200, **{d: 50 for d in DEFECTS}}
    b = sim_().sample(400, conditions={"label": counts}, rng=9)
    hist = np.stack(
        [
            np.concatenate([np.bincount(im[..., c].ravel() // 16, minlength=16) for c in range(3)])
            for im in b.images
        ]
    )
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    acc = cross_val_score(clf, np.log1p(hist), b.labels > 0, cv=cv).mean()
    assert acc > 0.55, acc


# --- domain randomisation ---------------------------------------------------------------------


def mean_colours(randomization, rng=0, n=60):
    b = sim_(randomization=randomization).sample(n, rng=rng)
    return b.images.reshape(n, -1, 3).mean(1)


def test_none_varies_much_less_than_wide():
    none = mean_colours(DomainRandomization.none())
    wide = mean_colours(DomainRandomization.wide())
    assert none.std(0).max() * 4 < wide.std(0).min(), (none.std(0), wide.std(0))


def test_factory_differs_from_none():
    none = mean_colours("none")
    factory = mean_colours("factory")
    gap = np.abs(none.mean(0) - factory.mean(0))
    assert gap.max() > 15, gap
    assert factory.mean(0)[2] > none.mean(0)[2]  # bluer
    assert factory.mean() < none.mean()  # darker
    # and it is a fixed look: little spread, like none
    assert factory.std(0).max() < 10


def test_factory_look_lies_inside_the_randomised_presets():
    factory = DomainRandomization.factory().to_dict()
    for name in ("moderate", "wide"):
        ranges = DomainRandomization.preset(name).to_dict()
        for key, (lo, hi) in factory.items():
            assert ranges[key][0] <= lo <= hi <= ranges[key][1], (name, key)


def test_randomization_round_trip_and_presets():
    for name in ("none", "moderate", "wide", "factory"):
        dr = DomainRandomization.preset(name)
        assert DomainRandomization.from_dict(dr.to_dict()) == dr
    assert DomainRandomization() == DomainRandomization.none()
    dr = DomainRandomization(blur=0.5)
    assert dr.blur == (0.5, 0.5)
    assert DomainRandomization.from_dict({"preset": "wide", "rotation": [-10, 10]}).rotation == (
        -10.0,
        10.0,
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"blur": (2.0, 1.0)}, "randomization.blur: expected a (low, high) range with low <= high"),
        ({"scale": (0.0, 1.0)}, "randomization.scale: expected a range within [0.25, 4]"),
        ({"noise": "loud"}, "randomization.noise: expected a number or a (low, high) pair"),
        ({"hue": (0, float("nan"))}, "randomization.hue"),
    ],
)
def test_bad_randomization_raises(kwargs, fragment):
    with pytest.raises(InvalidDataError) as err:
        DomainRandomization(**kwargs)
    assert fragment in str(err.value)


def test_bad_randomization_collects_every_problem():
    with pytest.raises(InvalidDataError) as err:
        DomainRandomization(blur=(3, 1), saturation=(0, 2))
    assert len(err.value.errors) == 2


def test_bad_randomization_key_and_preset():
    with pytest.raises(InvalidDataError, match="did you mean 'rotation'"):
        DomainRandomization.from_dict({"rotaton": 3})
    with pytest.raises(InvalidDataError, match="did you mean 'wide'"):
        DomainRandomization.from_dict("wid")


# --- parameters and specs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"defect_rate": 1.5}, "defect_rate"),
        ({"size": 16}, "size"),
        ({"channels": 2}, "channels"),
        ({"defect_types": ["scrach"]}, "did you mean 'scratch'"),
        ({"defect_types": []}, "defect_types"),
        ({"n_components": (5, 3)}, "n_components"),
        ({"n_components": (1, 16), "size": 48}, "at most 9 components"),
        ({"defects_per_image": 0}, "defects_per_image"),
        ({"randomization": {"blur": [1, 0]}}, "randomization.blur"),
        ({"randomization": "fab"}, "randomization preset"),
    ],
)
def test_bad_parameters_raise_naming_the_key(kwargs, where):
    with pytest.raises(InvalidDataError) as err:
        sim_(**kwargs).sample(1, rng=0)
    assert where in str(err.value)


def test_bad_parameters_collected_and_bad_n():
    with pytest.raises(InvalidDataError) as err:
        sim_(defect_rate=-1, channels=4).sample(1)
    assert len(err.value.errors) == 2
    with pytest.raises(InvalidDataError, match="n: expected an integer >= 0"):
        sim_().sample(-1)
    with pytest.raises(TypeError):
        sim_(rng="seed").sample(1)


def test_to_dict_from_dict_round_trip():
    sim = sim_(size=48, channels=1, defect_rate=0.2, defect_types=["stain"], rng=5,
               randomization="factory", n_components=(2, 4), defects_per_image=2)  # fmt: skip
    d = sim.to_dict()
    again = CircuitBoardSimulator.from_dict(d)
    assert again.to_dict() == d
    assert_same(sim.sample(4, rng=1), again.sample(4, rng=1))


def test_example_yaml_loads_and_samples():
    path = resources.files("sosie") / "examples" / "images" / "circuit_board.yaml"
    sim = CircuitBoardSimulator.from_yaml(str(path))
    assert sim.to_dict()["randomization"]["rotation"] == [-20.0, 20.0]
    b = sim.sample(4, conditions={"label": "scratch"}, verbose=False)
    assert b.images.shape == (4, 64, 64, 3)
    check_annotations(b)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "size: 64\ndefect_rat: 0.1\n",
            ["board.yaml key 'defect_rat'", "did you mean 'defect_rate'"],
        ),
        ("randomization:\n  blur: [2, 1]\n", ["randomization.blur", "low <= high"]),
        ("randomization:\n  presett: wide\n", ["randomization.presett", "did you mean 'preset'"]),
        ("n_components: [4, 40]\n", ["n_components", "high <= 16"]),
        ("size: [64\n", ["board.yaml", "valid YAML"]),
        ("- 1\n- 2\n", ["board.yaml", "a mapping"]),
    ],
)
def test_bad_yaml_names_file_and_key(tmp_path, text, fragments):
    path = tmp_path / "board.yaml"
    path.write_text(text)
    with pytest.raises(InvalidDataError) as err:
        CircuitBoardSimulator.from_yaml(path)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(DataSourceError):
        CircuitBoardSimulator.from_yaml(tmp_path / "nope.yaml")


# --- files and progress -----------------------------------------------------------------------


def test_save_round_trip_restores_labels_boxes_and_masks(tmp_path):
    pytest.importorskip("PIL")
    # Setup
    sim = sim_(size=48, randomization="wide", defects_per_image=(1, 2))
    batch = sim.sample(12, conditions={"label": ["ok", *DEFECTS] * 2 + ["ok"] * 2}, rng=3)
    # Run
    loaded = load_image_folder(batch.save(tmp_path / "boards"))
    # Assert
    assert np.array_equal(loaded.images, batch.images)
    assert list(loaded.label_names) == list(batch.label_names)
    assert np.array_equal(loaded.masks, batch.masks)
    for got, want in zip(loaded.annotations, batch.annotations, strict=True):
        assert [a["category"] for a in got] == [a["category"] for a in want]
        assert [list(map(float, a["bbox"])) for a in got] == [
            list(map(float, a["bbox"])) for a in want
        ]


def test_progress_bar_runs_and_silent_path(capsys):
    with _progress(True, 3) as advance:
        advance(3)
    capsys.readouterr()
    with _progress(False, 3) as advance:
        advance(3)
    sim_(size=48, verbose=False).sample(2, rng=0)
    assert capsys.readouterr().out == ""
