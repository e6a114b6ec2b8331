"""The image diffusion generator: it learns class-conditional structure, and keeps the contract."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

import sosie
from sosie.errors import ConditionError, InvalidDataError
from sosie.generators import make_generator
from sosie.generators.image import ImageDiffusionGenerator
from sosie.images import ImageBatch

SIZE = 12


def bars(n: int, rng: np.random.Generator) -> ImageBatch:
    """Known answer: class "h" images hold one bright horizontal bar, class "v" a vertical one;
    the mask marks the bar."""
    x = np.zeros((n, SIZE, SIZE), np.uint8)
    names = []
    for i in range(n):
        k = int(rng.integers(2, SIZE - 3))
        if i % 2:
            x[i, k : k + 2, :] = 255
            names.append("h")
        else:
            x[i, :, k : k + 2] = 255
            names.append("v")
    b = ImageBatch.from_names(x, names, classes=("h", "v"))
    b.masks = (x > 0).astype(np.int32)
    return b


def orientation(images: np.ndarray) -> np.ndarray:
    """+1 where the bright mass lies along rows (horizontal), -1 along columns."""
    x = images[..., 0].astype(float)
    row_var = x.mean(axis=2).var(axis=1)  # a horizontal bar makes row means vary
    col_var = x.mean(axis=1).var(axis=1)
    return np.sign(row_var - col_var)


FAST = {"channels": (16, 32), "max_steps": 400, "batch_size": 32, "sample_steps": 10, "lr": 3e-3}


@pytest.fixture(scope="module")
def data():
    return bars(256, np.random.default_rng(0))


@pytest.fixture(scope="module")
def fitted(data):
    return ImageDiffusionGenerator(**FAST, rng=1).fit(data)


def test_learns_class_conditional_structure(fitted):
    # Setup / Run
    h = fitted.sample(40, conditions={"label": "h"}, rng=2)
    v = fitted.sample(40, conditions={"label": "v"}, rng=2)
    # Assert: the requested orientation, not the other one
    assert (orientation(h.images) > 0).mean() > 0.8
    assert (orientation(v.images) < 0).mean() > 0.8
    # bright bars on a dark ground, like the data (not grey noise)
    assert 0.05 < (h.images > 128).mean() < 0.35
    assert fitted.final_loss_ < fitted.loss_curve_[0]


def test_learns_masks_that_mark_the_generated_bars(fitted):
    # the training batch had masks (masks="auto"): they are one more plane of the model
    assert fitted.schema_.masks and fitted.schema_.planes == 2
    out = fitted.sample(40, conditions={"label": "h"}, rng=4)
    assert out.masks is not None and out.masks.shape == (40, SIZE, SIZE)
    bright, marked = out.images[..., 0] > 128, out.masks > 0
    iou = (bright & marked).sum() / max(1, (bright | marked).sum())
    assert iou > 0.6, iou
    # each connected region is one object, boxed and named after the image's class
    i = int(np.argmax(out.masks.max((1, 2))))
    anns = out.annotations[i]
    assert len(anns) == out.masks[i].max() and {a["category"] for a in anns} == {"h"}
    x, y, w, h = anns[0]["bbox"]
    assert (out.masks[i][y : y + h, x : x + w] == 1).any()


def test_masks_false_ignores_them_and_true_requires_them(data):
    tiny = {"channels": (8, 16), "max_steps": 2, "sample_steps": 2}
    gen = ImageDiffusionGenerator(**tiny, masks=False, rng=0).fit(data)
    assert not gen.schema_.masks and gen.sample(2).masks is None
    no_masks = ImageBatch(data.images, labels=data.labels, classes=data.classes)
    with pytest.raises(InvalidDataError, match="masks"):
        ImageDiffusionGenerator(**tiny, masks=True, rng=0).fit(no_masks)
    with pytest.raises(ValueError, match="'masks'"):
        ImageDiffusionGenerator(**tiny, masks="yes").fit(no_masks)


def test_default_labels_follow_training_shares(fitted):
    out = fitted.sample(200, rng=3)
    assert out.classes == ("h", "v")
    assert 0.35 < (out.labels == 0).mean() < 0.65
    assert out.meta["synthetic"] is True and out.meta["generator"] == "image_diffusion"


def test_same_seed_same_model_and_streams(data):
    tiny = {"channels": (8, 16), "max_steps": 20, "sample_steps": 3}
    one = ImageDiffusionGenerator(**tiny, rng=1).fit(data)
    two = make_generator("image_diffusion", **tiny, rng=1).fit(data)
    other = ImageDiffusionGenerator(**tiny, rng=2).fit(data)
    np.testing.assert_array_equal(one.sample(6, rng=5).images, two.sample(6, rng=5).images)
    assert not np.array_equal(one.sample(6, rng=5).images, other.sample(6, rng=5).images)
    a, b = two.sample(4), two.sample(4)
    assert not np.array_equal(a.images, b.images)  # the stream continues...
    np.testing.assert_array_equal(one.sample(4).images, a.images)  # ...reproducibly


def test_save_load_same_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.sosie")
    loaded = sosie.load(path)
    assert isinstance(loaded, ImageDiffusionGenerator)
    assert loaded.schema_ == fitted.schema_
    a, b = loaded.sample(5, rng=7), fitted.sample(5, rng=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert loaded.get_params() == fitted.get_params()


def test_global_random_state_untouched(data, global_rng_guard):
    gen = ImageDiffusionGenerator(channels=(8, 16), max_steps=3, sample_steps=2, rng=4)
    gen.fit(data).sample(3)


def test_conditions_list_and_errors(fitted):
    out = fitted.sample(3, conditions={"label": ["v", "h", "v"]}, rng=0)
    assert list(out.label_names) == ["v", "h", "v"]
    with pytest.raises(ConditionError, match="expected one of"):
        fitted.sample(2, conditions={"label": "diagonal"})
    with pytest.raises(ConditionError, match="only the key 'label'"):
        fitted.sample(2, conditions={"colour": "red"})
    with pytest.raises(ConditionError, match="one name or 2 names"):
        fitted.sample(2, conditions={"label": ["h"]})


def test_unlabelled_rgb_odd_size():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (16, 10, 10, 3), dtype=np.uint8)
    gen = ImageDiffusionGenerator(channels=(8, 8, 16), max_steps=2, sample_steps=2, rng=0)
    gen.fit(x)
    assert gen.net_config_["sample_size"] == [12, 12]  # padded to fit two halvings
    out = gen.sample(3)
    assert out.images.shape == (3, 10, 10, 3) and out.labels is None
    with pytest.raises(ConditionError, match="without labels"):
        gen.sample(1, conditions={"label": "a"})


def test_fit_from_array_with_labels():
    x = np.zeros((10, 8, 8), np.uint8)
    gen = ImageDiffusionGenerator(channels=(8, 16), max_steps=1, sample_steps=1, rng=0)
    gen.fit(x, labels=["a"] * 5 + ["b"] * 5)
    assert gen.schema_.classes == ("a", "b") and gen.schema_.class_counts == (5, 5)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"channels": (12, 16)}, "multiples of 8"),
        ({"prediction": "x0"}, "v_prediction"),
        ({"max_steps": 0}, "max_steps"),
        ({"p_uncond": 1.5}, "p_uncond"),
        ({"guidance_scale": -1}, "guidance_scale"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        ImageDiffusionGenerator(**params).fit(np.zeros((8, 8, 8), np.uint8))


def test_bad_input():
    with pytest.raises(InvalidDataError, match="at least 8 images"):
        ImageDiffusionGenerator().fit(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(InvalidDataError, match="images"):
        ImageDiffusionGenerator().fit(np.zeros((10, 8), np.uint8))
