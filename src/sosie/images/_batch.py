"""ImageBatch: what image generators return and image metrics read.

One container for a batch of images with their labels and (optionally) object
annotations: ``images`` is ``uint8`` of shape ``(n, height, width, channels)``
(channels 1 or 3), ``labels`` indexes ``classes``; ``masks`` is an instance map per
image (0 background, ``k`` the ``k``-th annotation of that image) and
``annotations`` lists, per image, ``{"category": str, "bbox": [x, y, w, h]}``
dicts (pixels, COCO convention).

A batch is written as an image folder (``<class>/<id>.png``) plus COCO-format
``annotations.json``, atomically (the whole folder appears at once or not at all),
and read back with :func:`load_image_folder`, which also reads any plain
``<class>/*.png`` folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataSourceError, InvalidDataError, Problem, missing_dependency
from ..io import atomic_path

__all__ = ["ImageBatch", "load_image_folder"]

_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise missing_dependency("pillow", "images", "reading and writing image files") from None
    return Image


@dataclass
class ImageBatch:
    """A batch of images with labels and optional object annotations.

    Args:
        images: ``uint8`` array ``(n, height, width, channels)`` or ``(n, height, width)``
            (grayscale; a channel axis is added). Floats in ``[0, 1]`` are scaled to 0-255.
        labels: integer class index per image (into ``classes``), or ``None``.
        classes: the class names; required with ``labels``.
        masks: optional instance map per image, ``(n, height, width)`` integers.
        annotations: optional per-image lists of ``{"category", "bbox"}`` dicts.
        meta: free-form provenance (generator, parameters, ...), JSON values only.

    Example:
        >>> import numpy as np
        >>> b = ImageBatch(np.zeros((4, 8, 8), np.uint8), labels=[0, 1, 1, 0], classes=("ok", "bad"))
        >>> b.images.shape, b.counts()
        ((4, 8, 8, 1), {'ok': 2, 'bad': 2})
        >>> len(b[b.labels == 1])
        2
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    masks: np.ndarray | None = None
    annotations: list[list[dict[str, Any]]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        x = np.asarray(self.images)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise InvalidDataError(
                [
                    Problem(
                        "images",
                        "an array (n, height, width) or (n, height, width, 1 or 3)",
                        f"shape {tuple(np.shape(self.images))}",
                        "stack the images into one array, channels last",
                    )
                ]
            )
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.number):
                raise InvalidDataError(
                    [Problem("images", "numbers", f"dtype {x.dtype}", "pass uint8 pixels")]
                )
            lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
            if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
                x = np.round(x * 255.0)
            elif lo < 0.0 or hi > 255.0:
                raise InvalidDataError(
                    [
                        Problem(
                            "images",
                            "pixel values in [0, 255] (or floats in [0, 1])",
                            f"values from {lo:g} to {hi:g}",
                            "rescale the pixels, e.g. ((x + 1) * 127.5) for [-1, 1]",
                        )
                    ]
                )
            x = x.astype(np.uint8)
        self.images = x
        n = len(x)
        self.classes = tuple(str(c) for c in self.classes)
        if self.labels is not None:
            y = np.asarray(self.labels)
            if y.shape != (n,) or (y.size and not np.issubdtype(y.dtype, np.integer)):
                problems.append(
                    Problem(
                        "labels",
                        f"{n} integer class indices",
                        f"shape {y.shape}, dtype {y.dtype}",
                        "pass one class index per image (see ImageBatch.from_names)",
                    )
                )
            elif y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                problems.append(
                    Problem(
                        "labels",
                        f"indices into classes (0..{len(self.classes) - 1})",
                        f"values from {y.min()} to {y.max()}",
                        "pass classes= with a name for every label",
                    )
                )
            else:
                self.labels = y.astype(np.int64)
        if self.masks is not None:
            m = np.asarray(self.masks)
            if m.shape != x.shape[:3]:
                problems.append(
                    Problem(
                        "masks", f"shape {x.shape[:3]}", f"shape {m.shape}", "one map per image"
                    )
                )
            else:
                self.masks = m.astype(np.int32, copy=False)
        if self.annotations is not None and len(self.annotations) != n:
            problems.append(
                Problem(
                    "annotations",
                    f"one list per image ({n})",
                    f"{len(self.annotations)} lists",
                    "pass an empty list for images without objects",
                )
            )
        if problems:
            raise InvalidDataError(problems)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_names(
        cls, images: np.ndarray, names: Sequence[Any], classes: Sequence[str] | None = None
    ) -> ImageBatch:
        """A batch from images and one class *name* per image.

        Example:
            >>> import numpy as np
            >>> ImageBatch.from_names(np.zeros((3, 4, 4)), ["7", "1", "7"]).classes
            ('1', '7')
        """
        names = [str(v) for v in names]
        classes = tuple(classes) if classes is not None else tuple(sorted(set(names)))
        index = {c: i for i, c in enumerate(classes)}
        missing = sorted(set(names) - set(index))
        if missing:
            raise InvalidDataError(
                [Problem("labels", f"one of {list(classes)}", repr(missing), "add them to classes")]
            )
        return cls(images, labels=np.array([index[v] for v in names]), classes=classes)

    @classmethod
    def concat(cls, batches: Sequence[ImageBatch]) -> ImageBatch:
        """Stack batches of the same image shape; class lists are merged by name.

        Example:
            >>> import numpy as np
            >>> a = ImageBatch.from_names(np.zeros((2, 4, 4)), ["ok", "ok"])
            >>> b = ImageBatch.from_names(np.ones((1, 4, 4)), ["bad"])
            >>> c = ImageBatch.concat([a, b])
            >>> c.classes, list(c.label_names)
            (('ok', 'bad'), ['ok', 'ok', 'bad'])
        """
        if not batches:
            raise ValueError("concat() needs at least one batch")
        shapes = {b.images.shape[1:] for b in batches}
        if len(shapes) > 1:
            raise InvalidDataError(
                [
                    Problem(
                        "images",
                        "batches of one image shape",
                        f"shapes {sorted(shapes)}",
                        "resize the images first (load_image_folder(size=...))",
                    )
                ]
            )
        classes: list[str] = []
        for b in batches:
            classes += [c for c in b.classes if c not in classes]
        index = {c: i for i, c in enumerate(classes)}
        labelled = all(b.labels is not None for b in batches)
        labels = (
            np.concatenate(
                [np.array([index[b.classes[i]] for i in b.labels], np.int64) for b in batches]
            )
            if labelled
            else None
        )
        with_masks = all(b.masks is not None for b in batches)
        with_ann = all(b.annotations is not None for b in batches)
        return cls(
            np.concatenate([b.images for b in batches]),
            labels=labels,
            classes=tuple(classes),
            masks=np.concatenate([b.masks for b in batches]) if with_masks else None,  # type: ignore[misc]
            annotations=[a for b in batches for a in b.annotations] if with_ann else None,  # type: ignore[union-attr]
            meta={"parts": [b.meta for b in batches]},
        )

    # -- views -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Any) -> ImageBatch:
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return ImageBatch(
            self.images[idx],
            labels=None if self.labels is None else self.labels[idx],
            classes=self.classes,
            masks=None if self.masks is None else self.masks[idx],
            annotations=None if self.annotations is None else [self.annotations[i] for i in idx],
            meta=dict(self.meta),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def label_names(self) -> np.ndarray:
        """The class name of every image (an object array)."""
        if self.labels is None:
            raise ValueError("this batch has no labels")
        return np.array(self.classes, dtype=object)[self.labels]

    def counts(self) -> dict[str, int]:
        """Images per class name."""
        if self.labels is None:
            return {}
        n = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, n, strict=True)}

    def as_float(self) -> np.ndarray:
        """Pixels as ``float32`` in ``[-1, 1]``, channels first ``(n, c, h, w)`` (for torch)."""
        return (self.images.astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)

    @classmethod
    def from_float(cls, x: np.ndarray, **kwargs: Any) -> ImageBatch:
        """Inverse of :meth:`as_float`: ``(n, c, h, w)`` floats in ``[-1, 1]`` -> a batch."""
        x = np.clip((np.asarray(x, np.float32).transpose(0, 2, 3, 1) + 1.0) * 127.5, 0, 255)
        return cls(np.round(x).astype(np.uint8), **kwargs)

    # -- files -------------------------------------------------------------------------
    def to_coco(self, file_names: Sequence[str] | None = None) -> dict[str, Any]:
        """The batch as a COCO-format dict (images, annotations, categories).

        Image-level classes go in ``images[i]["class"]``; object annotations carry
        ``bbox`` ``[x, y, w, h]``, ``area`` and, with masks, an uncompressed RLE
        ``segmentation`` (``{"size": [h, w], "counts": [...]}``, column-major as in COCO).

        Example:
            >>> import numpy as np
            >>> m = np.zeros((1, 4, 4), int); m[0, 1:3, 2] = 1
            >>> b = ImageBatch(np.zeros((1, 4, 4), np.uint8), labels=[0], classes=("bad",),
            ...                masks=m, annotations=[[{"category": "bad", "bbox": [2, 1, 1, 2]}]])
            >>> coco = b.to_coco()
            >>> coco["annotations"][0]["segmentation"]["counts"], coco["annotations"][0]["area"]
            ([9, 2, 5], 2)
        """
        h, w, _ = self.shape
        names = (
            list(file_names)
            if file_names is not None
            else [f"{i:06d}.png" for i in range(len(self))]
        )
        categories: list[str] = []
        for anns in self.annotations or []:
            categories += [a["category"] for a in anns if a["category"] not in categories]
        cat_id = {c: i + 1 for i, c in enumerate(categories)}
        images, annotations = [], []
        for i in range(len(self)):
            rec: dict[str, Any] = {"id": i + 1, "file_name": names[i], "height": h, "width": w}
            if self.labels is not None:
                rec["class"] = self.classes[self.labels[i]]
            images.append(rec)
            for k, a in enumerate((self.annotations or [[]] * len(self))[i], start=1):
                ann: dict[str, Any] = {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": cat_id[a["category"]],
                    "bbox": [float(v) for v in a["bbox"]],
                    "iscrowd": 0,
                }
                if self.masks is not None:
                    inst = self.masks[i] == k
                    ann["segmentation"] = {"size": [h, w], "counts": _rle(inst)}
                    ann["area"] = int(inst.sum())
                else:
                    ann["area"] = float(a["bbox"][2] * a["bbox"][3])
                annotations.append(ann)
        return {
            "info": {
                "description": "written by sosie",
                **{k: v for k, v in self.meta.items() if k != "parts"},
            },
            "images": images,
            "annotations": annotations,
            "categories": [{"id": cat_id[c], "name": c} for c in categories],
            "classes": list(self.classes),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the batch as an image folder plus ``annotations.json`` (COCO), atomically.

        Layout: ``<path>/<class>/<index>.png`` (``images/`` without labels) and
        ``<path>/annotations.json``. The folder appears complete or not at all; an
        existing folder at ``path`` is replaced.

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> b = ImageBatch.from_names(np.zeros((2, 4, 4), np.uint8), ["ok", "bad"])
            >>> out = b.save(pathlib.Path(tempfile.mkdtemp()) / "set")
            >>> sorted(p.name for p in out.iterdir())
            ['annotations.json', 'bad', 'ok']
            >>> load_image_folder(out).counts()
            {'bad': 1, 'ok': 1}
        """
        Image = _pil()
        target = Path(path)
        with atomic_path(target) as tmp:
            tmp.mkdir(parents=True)
            names = []
            for i in range(len(self)):
                sub = self.classes[self.labels[i]] if self.labels is not None else "images"
                name = f"{sub}/{i:06d}.png"
                (tmp / sub).mkdir(exist_ok=True)
                img = self.images[i]
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(
                    tmp / name, compress_level=1
                )
                names.append(name)
            (tmp / "annotations.json").write_text(json.dumps(self.to_coco(names), indent=1))
        return target


def _rle(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE of a boolean mask (column-major runs, starting with zeros)."""
    flat = np.asarray(mask, bool).flatten(order="F")
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return [int(r) for r in runs]


def _unrle(counts: Sequence[int], h: int, w: int) -> np.ndarray:
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for c in counts:
        if value:
            flat[pos : pos + c] = True
        pos += c
        value = not value
    return flat.reshape((h, w), order="F")


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] | None = None,
    mode: str | None = None,
) -> ImageBatch:
    """Read an image folder: ``<class>/<image>`` files, plus COCO annotations if present.

    Args:
        path: a folder with one sub-folder per class (what :meth:`ImageBatch.save`
            writes, or any such folder); an ``annotations.json`` written by sosie
            restores the order, labels, boxes and masks.
        size: resize every image to ``size`` (``int`` for square, or ``(height, width)``);
            by default all images must share one size.
        mode: ``"L"`` (grayscale) or ``"RGB"``; by default the first image's mode.

    Returns:
        An :class:`ImageBatch`.

    Raises:
        DataSourceError: the folder is missing, empty, or its images differ in size.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> out = ImageBatch.from_names(np.zeros((2, 4, 4), np.uint8), ["a", "b"]).save(
        ...     pathlib.Path(tempfile.mkdtemp()) / "s")
        >>> load_image_folder(out, size=8).images.shape
        (2, 8, 8, 1)
    """
    Image = _pil()
    root = Path(path)
    if not root.is_dir():
        raise DataSourceError(
            [Problem(str(root), "a folder of images", "no such folder", "check the path")]
        )
    coco_path = root / "annotations.json"
    coco = json.loads(coco_path.read_text()) if coco_path.is_file() else None
    if coco is not None and coco.get("images"):
        files = [root / rec["file_name"] for rec in coco["images"]]
        names = [rec.get("class") for rec in coco["images"]]
        classes = coco.get("classes") or sorted({n for n in names if n is not None})
    else:
        files, names = [], []
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(sub.iterdir()):
                if f.suffix.lower() in _EXTS:
                    files.append(f)
                    names.append(sub.name)
        classes = sorted(set(names))
    if not files:
        raise DataSourceError(
            [
                Problem(
                    str(root),
                    "images in one sub-folder per class (<class>/<name>.png)",
                    "no image files",
                    "put the images in class folders",
                )
            ]
        )
    target = (size, size) if isinstance(size, int) else size
    arrays, first_mode = [], mode
    for f in files:
        with Image.open(f) as im:
            first_mode = first_mode or ("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
            im = im.convert(first_mode)
            if target is not None and im.size != (target[1], target[0]):
                im = im.resize((target[1], target[0]), Image.BILINEAR)
            arrays.append(np.asarray(im))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataSourceError(
            [
                Problem(
                    str(root),
                    "images of one size",
                    f"sizes {sorted(shapes)[:4]}",
                    "pass size= to resize them while reading",
                )
            ]
        )
    images = np.stack(arrays)
    labels = None
    if all(n is not None for n in names):
        index = {c: i for i, c in enumerate(classes)}
        labels = np.array([index[n] for n in names])
    masks = annotations = None
    if coco is not None and coco.get("annotations") is not None and target is None:
        h, w = images.shape[1:3]
        cat = {c["id"]: c["name"] for c in coco.get("categories", [])}
        annotations = [[] for _ in files]
        masks = np.zeros((len(files), h, w), np.int32)
        for ann in coco["annotations"]:
            i = ann["image_id"] - 1
            annotations[i].append({"category": cat[ann["category_id"]], "bbox": ann["bbox"]})
            seg = ann.get("segmentation")
            if isinstance(seg, dict):
                masks[i][_unrle(seg["counts"], h, w)] = len(annotations[i])
    return ImageBatch(
        images, labels=labels, classes=tuple(classes), masks=masks, annotations=annotations
    )
