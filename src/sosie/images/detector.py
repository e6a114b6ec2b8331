"""A small defect detector trained on segmentation masks: where is the defect, if any.

Inspection defects are small and local (a scratch, a missing part, a solder bridge a few
pixels wide); a whole-image classifier trained on a few thousand boards does not find them
under realistic noise and blur (measured on the circuit-board line: ROC AUC 0.5-0.6).
:class:`DefectDetector` uses what simulation and annotation give for free, the defect's
mask: a fully convolutional network predicts, for every cell of a grid (4 x 4 pixels), the
probability that a defect touches it. It is trained on the cells (per-cell cross-entropy)
and on the image (the image's defect logit is the largest cell logit); its image score is
that maximum, and :meth:`DefectDetector.defect_map` shows where it looked.

Images of a defect class without any mask pixel (e.g. generated images whose mask came out
empty) train the image term only.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import time as _time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, ModelFileError, NotFittedError, Problem
from ._batch import ImageBatch

__all__ = ["DefectDetector"]

log = logging.getLogger(__name__)

_KIND = "defect_detector"
_CELL = 4  # the defect map has one cell per 4 x 4 pixels


def _net_class(torch: Any) -> Any:
    nn = torch.nn

    class _FCN(nn.Module):
        """Three stages of two 3x3 conv/BN/ReLU layers (widths w, 2w, 4w), 2x2 max pooling
        between them, and a 1x1 convolution to one logit per cell."""

        def __init__(self, channels: int, width: int, gen: Any):
            super().__init__()
            layers: list[Any] = []
            c = channels
            for stage, out in enumerate((width, 2 * width, 4 * width)):
                if stage:
                    layers.append(nn.MaxPool2d(2, ceil_mode=True))
                for _ in range(2):
                    conv = nn.utils.skip_init(nn.Conv2d, c, out, 3, padding=1, bias=False)
                    with torch.no_grad():  # He initialisation from the explicit generator
                        conv.weight.normal_(0.0, math.sqrt(2.0 / (c * 9)), generator=gen)
                    layers += [conv, nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                    c = out
            self.body = nn.Sequential(*layers)
            head = nn.utils.skip_init(nn.Conv2d, c, 1, 1)
            with torch.no_grad():
                head.weight.normal_(0.0, math.sqrt(1.0 / c), generator=gen)
                head.bias.fill_(-2.0)  # start from "probably no defect here"
            self.head = head

        def forward(self, x):
            return self.head(self.body(x))[:, 0]

        def embed(self, x):
            f = self.body(x)
            return torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)

    return _FCN


def _crop(torch: Any, xb: Any, cb: Any, k: int, gen: np.random.Generator) -> tuple[Any, Any]:
    """A random ``k x k``-cell crop of each image (pixels) and of its cell targets."""
    n, h, w = xb.shape[0], xb.shape[2], xb.shape[3]
    dev = xb.device
    # offsets in whole cells, so that the crop's pixels stay inside the image
    oy = torch.from_numpy(gen.integers(0, h // _CELL - k + 1, n)).to(dev)
    ox = torch.from_numpy(gen.integers(0, w // _CELL - k + 1, n)).to(dev)
    b = torch.arange(n, device=dev)
    ar = torch.arange(k, device=dev)
    cells = cb[b[:, None, None], (oy[:, None] + ar)[:, :, None], (ox[:, None] + ar)[:, None, :]]
    pr = torch.arange(k * _CELL, device=dev)
    rows = (oy[:, None] * _CELL + pr)[:, None, :, None]
    cols = (ox[:, None] * _CELL + pr)[:, None, None, :]
    chans = torch.arange(xb.shape[1], device=dev)[None, :, None, None]
    return xb[b[:, None, None, None], chans, rows, cols], cells


class DefectDetector:
    """Fully convolutional defect detector trained on masks; image score = most defective cell.

    Args:
        width: channels of the first stage (then ``2 * width`` and ``4 * width``).
        batch_size: images per training step.
        learning_rate: peak AdamW learning rate (linear warm-up, cosine decay).
        weight_decay: AdamW weight decay.
        cell_weight: weight of a defect cell against a clean one in the per-cell loss
            (defect cells are rare).
        augment: random horizontal and vertical flips of the training images (and masks).
        crop: train on random crops of this many pixels (a multiple of 4, aligned to the
            cells), about 2.5 times faster than whole 48 px images for the same number of
            images; ``None`` trains on whole images. Prediction always sees whole images. A
            crop's image-level target is whether it holds a defect cell (for a defect image
            without mask pixels: the image's label).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        n_threads: torch threads while fitting and predicting (``None``: torch's setting).

    Attributes:
        classes_: the training batch's class names; ``ok_class_`` the clean one.
        image_shape_: ``(height, width, channels)`` of the training images.
        history_: mean training loss per epoch; ``seconds_``: training time.

    Example:
        >>> import numpy as np
        >>> from sosie.images import ImageBatch
        >>> g = np.random.default_rng(0)
        >>> x = g.integers(0, 60, (96, 16, 16)).astype(np.uint8)
        >>> masks = np.zeros((96, 16, 16), np.int32)
        >>> for i in range(0, 96, 2):  # every other image has a bright 2 x 2 spot somewhere
        ...     r, c = g.integers(0, 14, 2)
        ...     x[i, r:r + 2, c:c + 2] = 255
        ...     masks[i, r:r + 2, c:c + 2] = 1
        >>> b = ImageBatch(x, labels=1 - np.arange(96) % 2, classes=("ok", "defect"), masks=masks)
        >>> det = DefectDetector(n_threads=1).fit(b, rng=0, epochs=15)
        >>> float((det.predict(b) == b.labels).mean()) > 0.9
        True
        >>> det.defect_map(b[:1]).shape
        (1, 4, 4)
    """

    def __init__(
        self,
        *,
        width: int = 16,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        cell_weight: float = 10.0,
        augment: bool = True,
        crop: int | None = 32,
        device: str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.width = width
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.cell_weight = cell_weight
        self.augment = augment
        self.crop = crop
        self.device = device
        self.n_threads = n_threads

    def __repr__(self) -> str:
        return (
            f"DefectDetector(width={self.width}, batch_size={self.batch_size}, "
            f"cell_weight={self.cell_weight}, augment={self.augment}, crop={self.crop}, "
            f"device={self.device!r})"
        )

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters."""
        return {
            k: getattr(self, k)
            for k in (
                "width",
                "batch_size",
                "learning_rate",
                "weight_decay",
                "cell_weight",
                "augment",
                "crop",
                "device",
                "n_threads",
            )
        }

    def _check_params(self) -> None:
        from ..generators._torch import check_threads

        for name in ("width", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"parameter {name!r} must be an integer >= 1, got {v!r}")
        for name in ("learning_rate", "weight_decay", "cell_weight"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v < 0
            ):
                raise ValueError(f"parameter {name!r} must be a finite number >= 0, got {v!r}")
        if self.crop is not None and (
            isinstance(self.crop, bool)
            or not isinstance(self.crop, (int, np.integer))
            or self.crop < 8
            or self.crop % _CELL
        ):
            raise ValueError(
                f"parameter 'crop' must be None or a multiple of {_CELL} >= 8, got {self.crop!r}"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(
                f"parameter 'device' must be 'auto', 'cpu' or 'cuda', got {self.device!r}"
            )
        check_threads(self.n_threads)

    # -- fitting -----------------------------------------------------------------------
    def fit(
        self,
        batch: ImageBatch,
        *,
        ok_class: str = "ok",
        rng: RNGLike = None,
        epochs: int = 15,
        max_seconds: float | None = None,
        class_weight: Literal["balanced"] | None = None,
        sample_weight: np.ndarray | None = None,
        verbose: bool = False,
    ) -> DefectDetector:
        """Train on labelled images with defect masks.

        Args:
            batch: images with labels and ``masks`` (an instance map per image; any
                non-zero pixel is a defect). Every class other than ``ok_class`` is a
                defect.
            ok_class: the name of the defect-free class.
            rng: seed for the initial weights, shuffling and flips.
            epochs: passes over the data.
            max_seconds: stop after the step that passes this training time.
            class_weight: ``"balanced"`` weighs defect and clean images equally in the loss.
            sample_weight: a non-negative weight per image (multiplies ``class_weight``),
                e.g. to balance defects within each source of a mixed training set.
            verbose: a progress bar with the loss.

        Returns:
            ``self``.

        Raises:
            InvalidDataError: no labels, no masks, no ``ok_class``, images under 8 px.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((4, 8, 8), np.uint8), labels=[0, 1, 0, 1],
            ...                classes=("ok", "bad"), masks=np.zeros((4, 8, 8), int))
            >>> DefectDetector(n_threads=1).fit(b, rng=0, epochs=1).classes_
            ('ok', 'bad')
        """
        from ..evaluate.image import _check_batch, _check_fit_args, _fit_loop
        from ..generators._torch import (
            import_torch,
            make_torch_generator,
            resolve_device,
            seed_int,
            torch_threads,
        )

        problems = _check_batch(batch, "batch", labels=True)
        if not problems:
            if batch.masks is None:
                problems.append(
                    Problem(
                        "batch masks",
                        "a defect mask per image (ImageBatch masks=)",
                        "a batch without masks",
                        "pass the masks (the simulator and COCO folders carry them), or use "
                        "sosie.evaluate.ImageClassifier for image labels only",
                    )
                )
            if ok_class not in batch.classes:
                problems.append(
                    Problem(
                        "ok_class",
                        f"one of the batch's classes {list(batch.classes)}",
                        repr(ok_class),
                        "name the defect-free class (ok_class=...)",
                    )
                )
            if min(batch.shape[:2]) < 8:
                problems.append(
                    Problem(
                        "batch images",
                        "images of at least 8 x 8 pixels",
                        "{} x {}".format(*batch.shape[:2]),
                        "resize the images (load_image_folder(size=...))",
                    )
                )
        if problems:
            raise InvalidDataError(problems)
        self._check_params()
        _check_fit_args(epochs, max_seconds, class_weight)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.shape != (len(batch),) or not np.isfinite(sw).all() or (sw < 0).any():
                raise InvalidDataError(
                    [
                        Problem(
                            "sample_weight",
                            f"{len(batch)} finite weights >= 0 (one per image)",
                            f"shape {sw.shape}"
                            if sw.shape != (len(batch),)
                            else "negative or non-finite values",
                            "pass one non-negative weight per image",
                        )
                    ]
                )
        torch = import_torch("the defect detector")
        device = resolve_device(self.device)
        gen = as_generator(rng)
        h, w, c = batch.shape
        assert batch.masks is not None and batch.labels is not None
        defect = batch.labels != batch.classes.index(ok_class)
        n = len(batch)
        t0 = _time.perf_counter()
        F = torch.nn.functional
        with torch_threads(self.n_threads):
            net = _net_class(torch)(c, int(self.width), make_torch_generator(seed_int(gen)))
            net = net.to(device, memory_format=torch.channels_last)  # faster convolutions
            x = torch.from_numpy(np.ascontiguousarray(batch.as_float())).to(device)
            m = torch.from_numpy((batch.masks > 0).astype(np.float32))[:, None]
            cells = F.max_pool2d(m, _CELL, ceil_mode=True)[:, 0].to(device)
            y = torch.from_numpy(defect.astype(np.float32)).to(device)
            # a defect image without any mask pixel trains the image term only
            has_map = torch.from_numpy((~defect | (batch.masks > 0).any((1, 2))).astype(np.float32))
            has_map = has_map.to(device)
            img_w = torch.ones(n, device=device)
            if class_weight == "balanced" and 0 < defect.sum() < n:
                share = float(defect.mean())
                img_w = torch.where(y > 0, 0.5 / share, 0.5 / (1 - share)).to(device)
            if sample_weight is not None:
                img_w = img_w * torch.from_numpy(sw / sw.mean()).float().to(device)
            pos = torch.tensor(float(self.cell_weight), device=device)
            crop = None
            if self.crop is not None and min(h, w) >= int(self.crop) + _CELL:
                crop = int(self.crop) // _CELL  # in cells

            def step_loss(idx_np: np.ndarray) -> Any:
                idx = torch.from_numpy(idx_np).to(device)
                xb, cb = x[idx], cells[idx]
                yb = y[idx]
                if crop is not None:
                    xb, cb = _crop(torch, xb, cb, crop, gen)
                    # a crop holds a defect when it holds a defect cell (or, for a defect
                    # image without mask pixels, when the image does)
                    yb = torch.where(has_map[idx] > 0, cb.flatten(1).amax(1), yb)
                if self.augment:
                    flips = gen.integers(0, 2, 2)
                    dims = [d for d, f in zip((2, 3), flips, strict=True) if f]
                    if dims:
                        xb = xb.flip(dims)
                        cb = cb.flip([d - 1 for d in dims])
                logits = net(xb.contiguous(memory_format=torch.channels_last))
                wb = img_w[idx]
                image = F.binary_cross_entropy_with_logits(logits.flatten(1).amax(1), yb, weight=wb)
                per_cell = F.binary_cross_entropy_with_logits(
                    logits, cb, pos_weight=pos, reduction="none"
                ).mean((1, 2))
                cell = (per_cell * has_map[idx] * wb).sum() / (has_map[idx] * wb).sum().clamp_min(
                    1e-6
                )
                return image + cell

            history, stopped = _fit_loop(
                torch,
                net,
                n,
                step_loss,
                epochs=int(epochs),
                batch_size=int(self.batch_size),
                learning_rate=float(self.learning_rate),
                weight_decay=float(self.weight_decay),
                gen=gen,
                max_seconds=max_seconds,
                t0=t0,
                verbose=verbose,
                label="defect detector",
            )
        self.net_ = net.to("cpu") if device != "cpu" else net
        self.device_ = device
        self.classes_ = tuple(batch.classes)
        self.ok_class_ = ok_class
        self.image_shape_ = (h, w, c)
        self.n_epochs_ = len(history)
        self.stopped_early_ = stopped
        self.history_ = history
        self.seconds_ = round(_time.perf_counter() - t0, 3)
        return self

    # -- inference ---------------------------------------------------------------------
    def _run(self, batch: ImageBatch, what: str) -> np.ndarray:
        from ..evaluate.image import _check_predict_batch
        from ..generators._torch import import_torch, resolve_device, torch_threads

        _check_predict_batch(self, batch, "detector")
        torch = import_torch("the defect detector")
        device = resolve_device(self.device)
        x = np.ascontiguousarray(batch.as_float())
        out = []
        net = self.net_.to(device)
        with torch_threads(self.n_threads), torch.no_grad():
            net.eval()
            for s in range(0, len(x), 512):
                xb = torch.from_numpy(x[s : s + 512]).to(device)
                if what == "features":
                    out.append(net.embed(xb).cpu().numpy())
                else:
                    out.append(torch.sigmoid(net(xb)).cpu().numpy())
        self.net_ = net.to("cpu")
        return np.concatenate(out).astype(np.float64)

    def defect_map(self, batch: ImageBatch) -> np.ndarray:
        """Defect probability per cell of 4 x 4 pixels: ``(n, ceil(h / 4), ceil(w / 4))``.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((2, 8, 8), np.uint8), labels=[0, 1], classes=("ok", "bad"),
            ...                masks=np.zeros((2, 8, 8), int))
            >>> DefectDetector(n_threads=1).fit(b, rng=0, epochs=1).defect_map(b).shape
            (2, 2, 2)
        """
        return self._run(batch, "map")

    def predict_proba(self, batch: ImageBatch) -> np.ndarray:
        """``(n, 2)`` probabilities of ``[clean, defect]``; defect = the most defective cell.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((2, 8, 8), np.uint8), labels=[0, 1], classes=("ok", "bad"),
            ...                masks=np.zeros((2, 8, 8), int))
            >>> p = DefectDetector(n_threads=1).fit(b, rng=0, epochs=1).predict_proba(b)
            >>> p.shape, bool(np.allclose(p.sum(1), 1))
            ((2, 2), True)
        """
        maps = self._run(batch, "map")
        p = maps.reshape(len(maps), -1).max(1) if len(maps) else np.zeros(0)
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, batch: ImageBatch, threshold: float = 0.5) -> np.ndarray:
        """1 for images whose defect probability reaches ``threshold``, else 0.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((2, 8, 8), np.uint8), labels=[0, 1], classes=("ok", "bad"),
            ...                masks=np.zeros((2, 8, 8), int))
            >>> DefectDetector(n_threads=1).fit(b, rng=0, epochs=1).predict(b).shape
            (2,)
        """
        return (self.predict_proba(batch)[:, 1] >= threshold).astype(np.int64)

    def features(self, batch: ImageBatch) -> np.ndarray:
        """Mean and max of the last stage's channels: ``(n, 8 * width)`` (for distances).

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((2, 8, 8), np.uint8), labels=[0, 1], classes=("ok", "bad"),
            ...                masks=np.zeros((2, 8, 8), int))
            >>> DefectDetector(width=4, n_threads=1).fit(b, rng=0, epochs=1).features(b).shape
            (2, 32)
        """
        return self._run(batch, "features")

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to one ``.sosie`` file (JSON manifest + safetensors weights; no pickle).

        Example:
            >>> import tempfile, numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((2, 8, 8), np.uint8), labels=[0, 1], classes=("ok", "bad"),
            ...                masks=np.zeros((2, 8, 8), int))
            >>> det = DefectDetector(n_threads=1).fit(b, rng=0, epochs=1)
            >>> p = det.save(tempfile.mkdtemp() + "/det.sosie")
            >>> bool(np.allclose(DefectDetector.load(p).predict_proba(b), det.predict_proba(b)))
            True
        """
        from .. import __version__
        from .._serial import write_model_file
        from ..generators._torch import state_to_numpy

        if not hasattr(self, "net_"):
            raise NotFittedError("this DefectDetector is not fitted yet; call fit(batch) first")
        manifest = {
            "kind": _KIND,
            "sosie_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "params": {k: v for k, v in self.get_params().items() if k != "n_threads"},
        }
        state = {
            "classes": list(self.classes_),
            "ok_class": self.ok_class_,
            "image_shape": list(self.image_shape_),
            "history": self.history_,
            "seconds": self.seconds_,
            "model": {"safetensors": state_to_numpy(self.net_, "net")},
        }
        return write_model_file(path, manifest, state)

    @classmethod
    def load(cls, path: str | Path) -> DefectDetector:
        """Load a detector written by :meth:`save` (on CPU; ``device="auto"`` at prediction).

        Raises:
            ModelFileError: not a defect-detector file, or a corrupt one.
        """
        from .._serial import read_model_file
        from ..generators._torch import import_torch, make_torch_generator, numpy_to_state

        manifest, state = read_model_file(path)
        where = f"model file {str(path)!r}"
        if manifest.get("kind") != _KIND:
            raise ModelFileError(
                f"{where}: expected a defect detector, found "
                f"{manifest.get('kind') or manifest.get('generator') or 'another model'!r}; "
                "fix: load generators with sosie.generators.Generator.load"
            )
        try:
            det = cls(**manifest["params"])
            h, w, c = (int(v) for v in state["image_shape"])
            torch = import_torch("the defect detector")
            net = _net_class(torch)(c, int(det.width), make_torch_generator(0))
            net.load_state_dict(numpy_to_state(state["model"]["safetensors"], "net"))
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(
                f"{where}: the detector's state is corrupt or incomplete ({type(e).__name__}: "
                f"{e}); fix: re-create the model"
            ) from None
        net.eval()
        det.net_ = net
        det.device_ = "cpu"
        det.classes_ = tuple(state["classes"])
        det.ok_class_ = str(state["ok_class"])
        det.image_shape_ = (h, w, c)
        det.history_ = [float(v) for v in state["history"]]
        det.n_epochs_ = len(det.history_)
        det.stopped_early_ = False
        det.seconds_ = float(state["seconds"])
        return det
