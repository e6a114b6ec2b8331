"""The image generator contract: ``fit(images)`` and ``sample(n) -> ImageBatch``.

An :class:`ImageGenerator` learns from an :class:`~sosie.images.ImageBatch` (or an
array plus labels). The base class owns what every image family shares: input
checks, the :class:`ImageSchema` (size, channels, classes and their counts), seeding
(the same stream rules as tabular generators), label conditions and persistence
(JSON manifest + arrays, never pickle). A family implements ``_fit_images(x, y, rng)``
on float pixels ``(n, c, h, w)`` in ``[-1, 1]`` and ``_sample_images(n, labels, rng)``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..._rng import RNGLike, as_generator, as_seed_sequence, child_seed_sequence
from ...errors import ConditionError, InvalidDataError, Problem
from ...images import ImageBatch
from ..base import Generator, _check_n_rows

__all__ = ["ImageGenerator", "ImageSchema", "image_fingerprint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageSchema:
    """What an image generator learned the shape of: size, channels and classes.

    Example:
        >>> s = ImageSchema(28, 28, 1, ("0", "1"), (10, 5))
        >>> ImageSchema.from_dict(s.to_dict()) == s
        True
    """

    height: int
    width: int
    channels: int
    classes: tuple[str, ...] = ()
    class_counts: tuple[int, ...] = ()
    masks: bool = False

    @property
    def planes(self) -> int:
        """Channels the model works on: the image's, plus one for the mask when learned."""
        return self.channels + int(self.masks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (stored in the model file's manifest)."""
        return {
            "modality": "image",
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "classes": list(self.classes),
            "class_counts": list(self.class_counts),
            "masks": self.masks,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["height"]),
            int(d["width"]),
            int(d["channels"]),
            tuple(d.get("classes", ())),
            tuple(int(c) for c in d.get("class_counts", ())),
            bool(d.get("masks", False)),
        )


def image_fingerprint(batch: ImageBatch) -> dict[str, Any]:
    """A SHA-256 fingerprint of a batch's pixels and labels (order matters).

    Example:
        >>> b = ImageBatch(np.zeros((2, 4, 4), np.uint8))
        >>> image_fingerprint(b)["n_images"], image_fingerprint(b) == image_fingerprint(b)
        (2, True)
    """
    h = hashlib.sha256()
    h.update(str(batch.images.shape).encode())
    h.update(np.ascontiguousarray(batch.images).tobytes())
    if batch.labels is not None:
        h.update("\x1f".join(batch.classes).encode())
        h.update(batch.labels.astype(np.int64).tobytes())
    return {"sha256": h.hexdigest(), "n_images": len(batch), "shape": list(batch.shape)}


class ImageGenerator(Generator):
    """Base class of learned image generators.

    Subclasses implement ``_fit_images(x, y, rng)`` (``x`` float32 ``(n, c, h, w)`` in
    ``[-1, 1]``, ``y`` int64 class indices or ``None``) and ``_sample_images(n, y, rng)``
    returning floats of the same layout for the requested labels (``None`` when the
    model has no classes), plus ``_state_dict``/``_load_state_dict``.

    Segmentation masks: a family whose ``masks`` parameter is ``"auto"`` (learn them when
    the training batch has them) or ``True`` learns each image's mask as one more plane
    (``+1`` inside an object, ``-1`` outside; ``schema_.planes`` counts it). Sampled masks
    are thresholded at 0 and split into connected objects, each with a box annotation
    named after its image's class, so generated images come with their labels.
    """

    modality: ClassVar[str] = "image"
    min_rows: ClassVar[int] = 8

    def fit(  # type: ignore[override]
        self,
        data: ImageBatch | np.ndarray,
        *,
        labels: Sequence[Any] | np.ndarray | None = None,
        classes: Sequence[str] | None = None,
    ) -> ImageGenerator:
        """Learn from real images.

        Args:
            data: an :class:`~sosie.images.ImageBatch`, or a ``uint8`` array
                ``(n, h, w[, c])`` with ``labels`` (class names) alongside.
            labels: class name per image when ``data`` is an array.
            classes: the class order when ``labels`` are given (default: sorted names).

        Returns:
            ``self``, fitted.

        Raises:
            InvalidDataError: too few images, or labels that do not match the images.
        """
        batch = _as_batch(data, labels, classes)
        if len(batch) < self.min_rows:
            raise InvalidDataError(
                [
                    Problem(
                        "images",
                        f"at least {self.min_rows} images",
                        f"{len(batch)}",
                        "pass more real images",
                    )
                ]
            )
        t0 = time.perf_counter()
        self._check_params()
        h, w, c = batch.shape
        counts = tuple(batch.counts().values()) if batch.labels is not None else ()
        with_masks = self._learns_masks(batch)
        self.schema_ = ImageSchema(
            h, w, c, batch.classes if batch.labels is not None else (), counts, with_masks
        )
        seq = as_seed_sequence(self.rng)
        self._entropy_ = seq.entropy
        self._fit_key_ = tuple(seq.spawn_key)
        self._sample_calls_ = 0
        fit_rng = as_generator(child_seed_sequence(self._entropy_, *self._fit_key_, 0))
        x = batch.as_float()
        if with_masks:
            assert batch.masks is not None
            plane = np.where(batch.masks > 0, 1.0, -1.0).astype(np.float32)[:, None]
            x = np.concatenate([x, plane], axis=1)
        self._fit_images(x, batch.labels, fit_rng)
        self.fingerprint_ = image_fingerprint(batch)
        self.fit_seconds_ = time.perf_counter() - t0
        log.info(
            "%s fitted on %d images in %.2fs", type(self).__name__, len(batch), self.fit_seconds_
        )
        return self

    def _learns_masks(self, batch: ImageBatch) -> bool:
        mode = getattr(self, "masks", False)
        if mode is True and batch.masks is None:
            raise InvalidDataError(
                [
                    Problem(
                        "masks",
                        "a segmentation mask per image (masks=True)",
                        "a batch without masks",
                        "pass masks= to the ImageBatch, or masks='auto' to learn images only",
                    )
                ]
            )
        return bool(mode) and batch.masks is not None

    @classmethod
    def _schema_from_dict(cls, d: dict[str, Any]) -> ImageSchema:
        return ImageSchema.from_dict(d)

    def sample(  # type: ignore[override]
        self,
        n_rows: int,
        *,
        conditions: dict[str, Any] | None = None,
        rng: RNGLike = None,
    ) -> ImageBatch:
        """Generate ``n_rows`` images.

        Args:
            n_rows: number of images.
            conditions: ``{"label": name}`` for one class, or ``{"label": [name, ...]}``
                with one name per image; by default labels follow the training shares.
            rng: seed for this call alone; by default the stream seeded at fit continues.

        Returns:
            An :class:`~sosie.images.ImageBatch` with labels (for a class-conditional model).

        Raises:
            ConditionError: an unknown condition key or class name.
        """
        self._check_fitted()
        n = _check_n_rows(n_rows)
        seq = self._next_seed(rng)
        gen = as_generator(seq)
        y = self._labels_for(n, conditions, gen)
        s = self.schema_
        x = (
            self._sample_images(n, y, gen)
            if n
            else np.zeros((0, s.planes, s.height, s.width), np.float32)
        )
        classes = s.classes
        masks = annotations = None
        if s.masks:
            masks, annotations = _objects(x[:, -1] > 0, y, classes)
            x = x[:, :-1]
        return ImageBatch.from_float(
            x,
            labels=y if classes else None,
            classes=classes,
            masks=masks,
            annotations=annotations,
            meta={"generator": self.name, "params": self._json_params(), "synthetic": True},
        )

    def _labels_for(
        self, n: int, conditions: dict[str, Any] | None, gen: np.random.Generator
    ) -> np.ndarray | None:
        classes = self.schema_.classes
        if conditions is None or not conditions:
            if not classes:
                return None
            p = np.asarray(self.schema_.class_counts, float)
            return gen.choice(len(classes), size=n, p=p / p.sum()).astype(np.int64)
        unknown = sorted(set(conditions) - {"label"})
        if unknown:
            raise ConditionError(
                f"conditions: expected only the key 'label', found {unknown}; "
                "fix: condition image generators on the class label"
            )
        if not classes:
            raise ConditionError(
                "conditions: this model was fitted without labels, so it cannot be "
                "conditioned on 'label'; fix: fit it with labels"
            )
        value = conditions["label"]
        names = [value] * n if isinstance(value, (str, int, np.integer)) else list(value)
        if len(names) != n:
            raise ConditionError(
                f"conditions['label']: expected one name or {n} names, found {len(names)}"
            )
        index = {c: i for i, c in enumerate(classes)}
        bad = sorted({str(v) for v in names} - set(index))
        if bad:
            raise ConditionError(
                f"conditions['label']: expected one of {list(classes)}, found {bad}; "
                "fix: use a class seen at fit"
            )
        return np.array([index[str(v)] for v in names], np.int64)

    # -- what a family implements ----------------------------------------------------------
    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:  # pragma: no cover
        raise TypeError("image generators fit on images: use fit(batch)")

    def _sample(self, n_rows, conditions, rng):  # pragma: no cover
        raise TypeError("image generators sample images: use sample(n)")

    @abstractmethod
    def _fit_images(self, x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator) -> None:
        """Learn from float pixels ``(n, c, h, w)`` in ``[-1, 1]`` and class indices."""

    @abstractmethod
    def _sample_images(self, n: int, y: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """Float pixels ``(n, c, h, w)`` in ``[-1, 1]`` for the classes ``y`` (or unlabelled)."""


def _objects(
    binary: np.ndarray, y: np.ndarray | None, classes: tuple[str, ...]
) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """Instance maps (connected regions, 8-neighbourhood) and box annotations of binary masks.

    Example:
        >>> m = np.zeros((1, 5, 5), bool); m[0, 0, 0] = m[0, 3:5, 2:4] = True
        >>> inst, anns = _objects(m, np.array([0]), ("bad",))
        >>> int(inst.max()), anns[0][1]
        (2, {'category': 'bad', 'bbox': [2, 3, 2, 2]})
    """
    from scipy import ndimage

    inst = np.zeros(binary.shape, np.int32)
    annotations: list[list[dict[str, Any]]] = []
    for i, m in enumerate(binary):
        lab, _ = ndimage.label(m, structure=np.ones((3, 3), bool))
        inst[i] = lab
        name = classes[int(y[i])] if y is not None and classes else "object"
        anns = []
        for sl in ndimage.find_objects(lab):
            rows, cols = sl
            anns.append(
                {
                    "category": name,
                    "bbox": [
                        cols.start,
                        rows.start,
                        cols.stop - cols.start,
                        rows.stop - rows.start,
                    ],
                }
            )
        annotations.append(anns)
    return inst, annotations


def _as_batch(data: Any, labels: Any, classes: Sequence[str] | None) -> ImageBatch:
    if isinstance(data, ImageBatch):
        if labels is not None:
            raise InvalidDataError(
                [
                    Problem(
                        "labels",
                        "labels inside the ImageBatch",
                        "labels passed twice",
                        "drop labels= (the batch carries them)",
                    )
                ]
            )
        return data
    if labels is None:
        return ImageBatch(np.asarray(data))
    return ImageBatch.from_names(np.asarray(data), list(labels), classes)
