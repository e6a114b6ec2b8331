"""Image evaluation: synthetic images against the real ones they were made from.

:func:`evaluate_images` compares three :class:`~sosie.images.ImageBatch` sets (real train,
real holdout, synthetic) and returns an :class:`~sosie.evaluate.Evaluation` that the HTML
report renders (metric tables, sample thumbnails per class, closest synthetic/train pairs).
Every image metric works in one of two spaces:

* **features**: the penultimate layer of a small CNN (:class:`ImageClassifier`) trained on
  the *real training* images to predict their labels. This plays the role Inception-v3 plays
  in FID, but is trained on the data at hand (no download, works for 1-channel 28 px digits
  and 64 px product photos alike); numbers are comparable between generators evaluated with
  the same classifier, not across data sets.
* **pixels**: RMS pixel difference (``||a - b|| / sqrt(h * w * c)`` on pixels in [0, 1]).

Metrics:

* ``frechet_distance`` (fidelity): Fréchet distance between Gaussians fitted to the real
  training and the synthetic features (:func:`frechet_distance`); baseline: the same
  distance for the real holdout, at the same sample size (what a fresh real sample scores).
* ``precision`` and ``recall`` (fidelity): improved precision and recall
  (:func:`precision_recall`): the share of synthetic images inside the real feature manifold
  (realism) and the share of real images inside the synthetic one (diversity); the baseline
  is the real holdout's score.
* ``class_balance`` (fidelity): 1 - total variation distance between the class shares of the
  synthetic and the real training images.
* ``tstr`` (utility): accuracy on the real holdout of the CNN trained on the synthetic images
  (TSTR), next to the CNN trained on the real training images (TRTR, ``baseline``); per-class
  recall of both in ``breakdown``.
* ``memorisation_pixels``, ``memorisation_features`` and ``near_copies`` (privacy):
  nearest training image of each synthetic image against the nearest-training distances of
  real holdout images (:func:`memorisation`).

Scores (``normalized``, 1 is best): ``frechet_distance`` 1 - 2 x (distance - holdout's) /
total variance of the real features (the distance of a generator whose images all sit at the
real mean; the distance itself is too noisy at a few thousand images for a ratio to the
holdout's); ``precision`` and ``recall`` value / holdout's; ``tstr`` TSTR / TRTR; the
memorisation shares 1 - 2 x their excess over 0.05; ``near_copies`` 1 - 10 x its excess over
the holdout's rate.

For the report, ``meta["images"]["thumbnails"]`` holds a few real and synthetic images per
class (``{"classes": [...], "real": [[uri, ...] per class], "synthetic": [...]}``) and each
memorisation metric's ``details["closest_pairs"]`` its closest synthetic/training pairs, as
PNG data URIs (:func:`png_data_uri`): the evaluation stays one JSON document.

Example:
    >>> import numpy as np
    >>> from sosie.images import ImageBatch
    >>> g = np.random.default_rng(0)
    >>> def blobs(n):  # bright square top-left (class "a") or bottom-right (class "b")
    ...     x = g.integers(0, 60, (n, 16, 16)).astype(np.uint8)
    ...     y = g.integers(0, 2, n)
    ...     for i in range(n):
    ...         r = 2 if y[i] == 0 else 9
    ...         x[i, r:r + 5, r:r + 5] = 250
    ...     return ImageBatch(x, labels=y, classes=("a", "b"))
    >>> ev = evaluate_images(blobs(200), blobs(100), blobs(100), rng=0, classifier_epochs=3,
    ...                      n_threads=1)
    >>> round(ev["tstr"].baseline, 2), ev["tstr"].value > 0.9
    (1.0, True)
    >>> sorted(ev.meta["images"]["n_images"].items())
    [('real_holdout', 100), ('real_train', 200), ('synthetic', 100)]
"""

from __future__ import annotations

import base64
import logging
import math
import struct
import time as _time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._rng import RNGLike, as_generator, as_seed_sequence
from ..errors import InvalidDataError, NotFittedError, Problem
from ..images import ImageBatch
from ._core import Evaluation, MetricResult, bootstrap_ci, clip01

__all__ = [
    "IMAGE_METRICS",
    "ImageClassifier",
    "Memorisation",
    "evaluate_images",
    "frechet_distance",
    "memorisation",
    "png_data_uri",
    "precision_recall",
]

log = logging.getLogger(__name__)

IMAGE_METRICS = (
    "frechet_distance",
    "precision",
    "recall",
    "class_balance",
    "tstr",
    "memorisation",
)
#: metrics computed only when asked for (each trains another CNN)
OPTIONAL_IMAGE_METRICS = ("domain_gap",)
N_BOOT = 50  # bootstrap resamples for the intervals
_PNG_PREFIX = "data:image/png;base64,"


# --------------------------------------------------------------------------- the classifier


def _net_class(torch: Any) -> Any:
    nn = torch.nn

    class _Net(nn.Module):
        """Conv blocks (conv 3x3, batch norm, ReLU, 2x2 max pool), average pooling to a 2 x 2
        grid (any input size), a ReLU feature layer and a linear head."""

        def __init__(
            self, channels: int, n_classes: int, width: int, n_blocks: int, feature_dim: int, gen
        ):
            super().__init__()
            from ..generators._torch import linear

            layers: list[Any] = []
            c = channels
            for b in range(n_blocks):
                out = width * 2**b
                conv = nn.utils.skip_init(nn.Conv2d, c, out, 3, padding=1, bias=False)
                with torch.no_grad():  # He initialisation from the explicit generator
                    conv.weight.normal_(0.0, math.sqrt(2.0 / (c * 9)), generator=gen)
                layers += [conv, nn.BatchNorm2d(out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
                c = out
            self.body = nn.Sequential(*layers)
            self.feature = linear(4 * c, feature_dim, gen)
            self.head = linear(feature_dim, n_classes, gen)

        def embed(self, x):
            pooled = torch.nn.functional.adaptive_avg_pool2d(self.body(x), 2).flatten(1)
            return torch.relu(self.feature(pooled))

        def forward(self, x):
            return self.head(self.embed(x))

    return _Net


def _check_batch(batch: Any, what: str, *, labels: bool) -> list[Problem]:
    if not isinstance(batch, ImageBatch):
        return [
            Problem(
                what,
                "an ImageBatch (sosie.images.ImageBatch)",
                type(batch).__name__,
                "wrap the arrays: ImageBatch(images, labels=..., classes=...)",
            )
        ]
    problems = []
    if len(batch) == 0:
        problems.append(Problem(what, "at least one image", "an empty batch", "pass images"))
    if labels and batch.labels is None:
        problems.append(
            Problem(
                f"{what} labels",
                "a class label per image",
                "a batch without labels",
                "pass labels= and classes= to ImageBatch (or ImageBatch.from_names)",
            )
        )
    return problems


class ImageClassifier:
    """A small CNN for image evidence: feature extractor, TSTR model, defect classifier.

    Conv blocks (3x3 convolution, batch norm, ReLU, 2x2 max pooling; ``width``, ``2 *
    width``, ``4 * width`` channels, a fourth block for images of 48 px and more), average
    pooling to a 2 x 2 grid (so any image size works), a ReLU layer of ``feature_dim``
    units (:meth:`features`) and a linear head. Inputs are :meth:`ImageBatch.as_float`
    pixels; 1 or 3 channels, 8 px and more (tuned for 28-64 px). Weights are initialised
    from a ``torch.Generator`` seeded from ``rng`` and batches are shuffled by a NumPy
    generator: torch's global random state is never touched, and the same ``rng`` gives the
    same model on the same machine (CPU).

    Args:
        width: channels of the first conv block.
        feature_dim: size of the feature layer.
        batch_size: images per training step.
        learning_rate: peak learning rate of AdamW (linear warm-up, cosine decay).
        weight_decay: AdamW weight decay.
        augment: shift training images by up to 1/10 of their size (edge pixels repeated).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        n_threads: torch intra-op threads while fitting and predicting (``None``: torch's
            setting); on a small or shared machine 1-2 threads are often fastest.

    Attributes:
        classes_: the class names of the training batch (predictions index them).
        image_shape_: ``(height, width, channels)`` of the training images.
        n_epochs_: epochs run (fewer than asked when ``max_seconds`` ran out).
        stopped_early_: whether ``max_seconds`` stopped the training.
        history_: mean training loss per epoch.
        seconds_: training time.
        device_: the device used.

    Example:
        >>> import numpy as np
        >>> from sosie.images import ImageBatch
        >>> g = np.random.default_rng(0)
        >>> x = g.integers(0, 40, (64, 16, 16)).astype(np.uint8)
        >>> y = np.arange(64) % 2
        >>> x[y == 1, 4:12, 4:12] = 255  # class "square" has a bright square
        >>> b = ImageBatch(x, labels=y, classes=("plain", "square"))
        >>> clf = ImageClassifier(n_threads=1).fit(b, rng=0, epochs=4)
        >>> float((clf.predict(b) == y).mean())
        1.0
        >>> clf.predict_proba(b).shape, clf.features(b).shape
        ((64, 2), (64, 128))
    """

    def __init__(
        self,
        *,
        width: int = 16,
        feature_dim: int = 128,
        batch_size: int = 128,
        learning_rate: float = 1e-2,
        weight_decay: float = 1e-4,
        augment: bool = False,
        device: str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.width = width
        self.feature_dim = feature_dim
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.augment = augment
        self.device = device
        self.n_threads = n_threads

    def __repr__(self) -> str:
        return (
            f"ImageClassifier(width={self.width}, feature_dim={self.feature_dim}, "
            f"batch_size={self.batch_size}, augment={self.augment}, device={self.device!r})"
        )

    def _check_params(self, epochs: int, max_seconds: float | None, class_weight: Any) -> None:
        from ..generators._torch import check_threads

        for name in ("width", "feature_dim", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"parameter {name!r} must be an integer >= 1, got {v!r}")
        for name in ("learning_rate", "weight_decay"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"parameter {name!r} must be a finite number >= 0, got {v!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(
                f"parameter 'device' must be 'auto', 'cpu' or 'cuda', got {self.device!r}"
            )
        check_threads(self.n_threads)
        _check_fit_args(epochs, max_seconds, class_weight)

    def fit(
        self,
        batch: ImageBatch,
        *,
        rng: RNGLike = None,
        epochs: int = 8,
        max_seconds: float | None = None,
        class_weight: Literal["balanced"] | None = None,
        verbose: bool = False,
    ) -> ImageClassifier:
        """Train on a labelled batch.

        Args:
            batch: the training images, with labels (all of ``batch.classes`` become outputs,
                also classes without images).
            rng: seed for the initial weights, shuffling and augmentation.
            epochs: passes over the data.
            max_seconds: stop after the step that passes this training time (the model is
                then usable but not reproducible; ``stopped_early_`` says so).
            class_weight: ``"balanced"`` weighs the loss of each class by
                ``n / (n_classes_present * n_class)`` (rare defects count as much as the
                common class); ``None`` weighs every image the same.
            verbose: show a progress bar with the loss.

        Returns:
            ``self``.

        Raises:
            InvalidDataError: the batch has no labels, no images, or images smaller than
                8 px.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((8, 12, 12), np.uint8), labels=[0, 1] * 4,
            ...                classes=("ok", "bad"))
            >>> ImageClassifier(n_threads=1).fit(b, rng=0, epochs=1).classes_
            ('ok', 'bad')
        """
        from ..generators._torch import (
            import_torch,
            make_torch_generator,
            resolve_device,
            seed_int,
            torch_threads,
        )

        problems = _check_batch(batch, "batch", labels=True)
        if not problems and min(batch.shape[:2]) < 8:
            problems.append(
                Problem(
                    "batch images",
                    "images of at least 8 x 8 pixels",
                    f"{batch.shape[0]} x {batch.shape[1]}",
                    "resize the images (load_image_folder(size=...))",
                )
            )
        if problems:
            raise InvalidDataError(problems)
        self._check_params(epochs, max_seconds, class_weight)
        torch = import_torch("the image classifier")
        device = resolve_device(self.device)
        gen = as_generator(rng)
        h, w, c = batch.shape
        k = max(len(batch.classes), 1)
        n_blocks = 4 if min(h, w) >= 48 else 3
        t0 = _time.perf_counter()
        with torch_threads(self.n_threads):
            tgen = make_torch_generator(seed_int(gen))  # CPU: initialisation
            net = _net_class(torch)(c, k, self.width, n_blocks, self.feature_dim, tgen).to(device)
            x = torch.from_numpy(np.ascontiguousarray(batch.as_float())).to(device)
            y_np = np.asarray(batch.labels, dtype=np.int64)
            y = torch.from_numpy(y_np).to(device)
            weight = None
            if class_weight == "balanced":
                counts = np.bincount(y_np, minlength=k).astype(float)
                present = max(int((counts > 0).sum()), 1)
                wts = np.where(counts > 0, len(y_np) / (present * np.maximum(counts, 1)), 0.0)
                weight = torch.tensor(wts, dtype=torch.float32, device=device)
            n = len(y_np)
            shift = max(1, round(0.1 * min(h, w))) if self.augment else 0

            def step_loss(idx_np: np.ndarray) -> Any:
                idx = torch.from_numpy(idx_np).to(device)
                xb = x[idx]
                if shift:
                    xb = _shift(torch, xb, shift, gen)
                return torch.nn.functional.cross_entropy(net(xb), y[idx], weight=weight)

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
                label="image classifier",
            )
        self.net_ = net
        self.classes_ = tuple(batch.classes)
        self.image_shape_ = (h, w, c)
        self.n_epochs_ = len(history)
        self.stopped_early_ = stopped
        self.history_ = history
        self.seconds_ = round(_time.perf_counter() - t0, 3)
        self.device_ = device
        if stopped:
            log.info(
                "image classifier: max_seconds=%s reached after %d of %d epochs",
                max_seconds,
                len(history),
                epochs,
            )
        return self

    # -- inference ---------------------------------------------------------------------
    def _run(self, batch: ImageBatch, what: str) -> np.ndarray:
        _check_predict_batch(self, batch, "classifier")
        from ..generators._torch import import_torch, torch_threads

        torch = import_torch("the image classifier")
        x = np.ascontiguousarray(batch.as_float())
        out = []
        with torch_threads(self.n_threads), torch.no_grad():
            self.net_.eval()
            for s in range(0, len(x), 1024):
                xb = torch.from_numpy(x[s : s + 1024]).to(self.device_)
                if what == "features":
                    out.append(self.net_.embed(xb).cpu().numpy())
                else:
                    out.append(torch.softmax(self.net_(xb), dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def predict_proba(self, batch: ImageBatch) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``, columns in the order of ``classes_``.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((8, 12, 12), np.uint8), labels=[0, 1] * 4,
            ...                classes=("ok", "bad"))
            >>> p = ImageClassifier(n_threads=1).fit(b, rng=0, epochs=1).predict_proba(b)
            >>> p.shape, bool(np.allclose(p.sum(1), 1))
            ((8, 2), True)
        """
        return self._run(batch, "proba")

    def predict(self, batch: ImageBatch) -> np.ndarray:
        """The most probable class of each image, as an index into ``classes_``.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((8, 12, 12), np.uint8), labels=[0] * 8, classes=("ok",))
            >>> ImageClassifier(n_threads=1).fit(b, rng=0, epochs=1).predict(b).tolist()
            [0, 0, 0, 0, 0, 0, 0, 0]
        """
        return self.predict_proba(batch).argmax(1)

    def features(self, batch: ImageBatch) -> np.ndarray:
        """The feature layer (penultimate, after its ReLU): ``(n, feature_dim)`` floats.

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((8, 12, 12), np.uint8), labels=[0, 1] * 4,
            ...                classes=("ok", "bad"))
            >>> clf = ImageClassifier(feature_dim=32, n_threads=1).fit(b, rng=0, epochs=1)
            >>> clf.features(b).shape
            (8, 32)
        """
        return self._run(batch, "features")

    def score(self, batch: ImageBatch) -> float:
        """Accuracy on a labelled batch (its class names mapped onto ``classes_``).

        Example:
            >>> import numpy as np
            >>> from sosie.images import ImageBatch
            >>> b = ImageBatch(np.zeros((8, 12, 12), np.uint8), labels=[0] * 8, classes=("ok",))
            >>> ImageClassifier(n_threads=1).fit(b, rng=0, epochs=1).score(b)
            1.0
        """
        problems = _check_batch(batch, "batch", labels=True)
        if problems:
            raise InvalidDataError(problems)
        y = _map_labels(batch, tuple(getattr(self, "classes_", batch.classes)), "batch")
        return float(np.mean(self.predict(batch) == y))


def _check_predict_batch(model: Any, batch: ImageBatch, what: str) -> None:
    """A fitted model, and a batch of its training image shape, or a clear error."""
    if not hasattr(model, "net_"):
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted yet; call fit(batch) first"
        )
    problems = _check_batch(batch, "batch", labels=False)
    if not problems and tuple(batch.shape) != tuple(model.image_shape_):
        h, w, c = model.image_shape_
        problems.append(
            Problem(
                "batch images",
                f"images of the training shape {h} x {w} x {c} (height, width, channels)",
                "{} x {} x {}".format(*batch.shape),
                f"resize or convert the images to the shape the {what} was trained on",
            )
        )
    if problems:
        raise InvalidDataError(problems)


def _check_fit_args(epochs: Any, max_seconds: Any, class_weight: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and max_seconds > 0):
        raise ValueError(f"max_seconds must be None or a number > 0, got {max_seconds!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")


def _fit_loop(
    torch: Any,
    net: Any,
    n: int,
    step_loss: Callable[[np.ndarray], Any],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    gen: np.random.Generator,
    max_seconds: float | None,
    t0: float,
    verbose: bool,
    label: str,
) -> tuple[list[float], bool]:
    """Epochs of AdamW steps (linear warm-up over 5%, cosine decay) on shuffled batches.

    ``step_loss(indices)`` returns the loss of one batch of row indices. Returns the mean
    loss per epoch and whether ``max_seconds`` (measured from ``t0``) stopped the training.
    The network is left in eval mode.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bs = min(batch_size, n)
    steps = max(n // bs, 1)
    total = steps * epochs
    warm = max(1, total // 20)
    opt = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay)

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(total - warm, 1)
        return 0.5 * (1.0 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    history: list[float] = []
    stopped = False
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total} loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        disable=not verbose,
        transient=True,
    )
    net.train()
    with progress:
        task = progress.add_task("fit", total=epochs, loss="-")
        for _epoch in range(epochs):
            perm = gen.permutation(n)
            losses = []
            for s in range(steps):
                loss = step_loss(perm[s * bs : (s + 1) * bs])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
                if max_seconds is not None and _time.perf_counter() - t0 > max_seconds:
                    stopped = True
                    break
            history.append(float(np.mean(losses)))
            progress.update(task, advance=1, loss=f"{history[-1]:.4f}")
            if stopped:
                break
    net.eval()
    return history, stopped


def _shift(torch: Any, xb: Any, s: int, gen: np.random.Generator) -> Any:
    """Shift each image by up to ``s`` pixels in each direction (edge pixels repeated)."""
    n, _, h, w = xb.shape
    pad = torch.nn.functional.pad(xb, (s, s, s, s), mode="replicate")
    dy = torch.from_numpy(gen.integers(0, 2 * s + 1, n)).to(xb.device)
    dx = torch.from_numpy(gen.integers(0, 2 * s + 1, n)).to(xb.device)
    rows = (dy[:, None] + torch.arange(h, device=xb.device)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=xb.device)[None, :])[:, None, None, :]
    b = torch.arange(n, device=xb.device)[:, None, None, None]
    ch = torch.arange(xb.shape[1], device=xb.device)[None, :, None, None]
    return pad[b, ch, rows, cols]


def _map_labels(batch: ImageBatch, classes: Sequence[str], what: str) -> np.ndarray:
    """The batch's labels as indices into ``classes`` (matched by class name)."""
    index = {c: i for i, c in enumerate(classes)}
    names = list(batch.classes)
    unknown = sorted({names[i] for i in np.unique(batch.labels)} - set(index))
    if unknown:
        raise InvalidDataError(
            Problem(
                f"{what} classes",
                f"class names of the real training images ({', '.join(map(repr, classes))})",
                ", ".join(map(repr, unknown)),
                "label the images with the real training classes (names are matched)",
            )
        )
    lut = np.array([index.get(c, -1) for c in names], dtype=np.int64)
    return lut[batch.labels]


# --------------------------------------------------------------------------- distances


def _one_blas_thread() -> Any:
    """One BLAS thread for the small dense algebra here: on a shared or small machine the
    BLAS threads spin while waiting for a busy core (60x slower eigh, measured on 2 cores)."""
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    return threadpool_limits(limits=1, user_api="blas")


def _vector_pair(x: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets as float arrays with the same number of columns, or a clear error."""
    a, b = _as_vectors(x, x_name), _as_vectors(y, y_name)
    if a.shape[1] != b.shape[1]:
        raise InvalidDataError(
            Problem(
                y_name,
                f"{a.shape[1]} features per row (as {x_name})",
                f"{b.shape[1]}",
                "extract both sets with the same classifier",
            )
        )
    return a, b


def _as_vectors(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2 or not np.isfinite(a).all():
        raise InvalidDataError(
            Problem(
                what,
                "a 2-d array of finite numbers (one row per image), at least 2 rows",
                f"shape {a.shape}" if a.ndim != 2 or len(a) < 2 else "NaN or infinite values",
                "pass feature vectors, e.g. ImageClassifier.features(batch)",
            )
        )
    return a


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the "F" of FID).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with the sample means and
    covariances. The trace of the matrix square root is computed as the sum of the square
    roots of the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)`` (symmetric, so real and exact
    also for singular covariances: tiny negative eigenvalues from rounding are clipped);
    it equals ``tr(scipy.linalg.sqrtm(S_a @ S_b))`` without its complex round-off.

    The estimate is biased upwards for small samples (about ``tr(S) / n``): compare
    distances computed on sets of the same size, e.g. against a real holdout's distance.

    Args:
        features_a: ``(n_a, d)`` feature vectors.
        features_b: ``(n_b, d)`` feature vectors.

    Returns:
        The distance (>= 0).

    Example:
        >>> g = np.random.default_rng(0)
        >>> a = g.normal(0.0, 1.0, (20_000, 2))
        >>> b = g.normal([3.0, 0.0], [2.0, 1.0], (20_000, 2))
        >>> round(frechet_distance(a, b), 1)  # 3^2 + (2 - 1)^2 for these diagonal Gaussians
        10.0
        >>> frechet_distance(a, a) < 1e-6
        True
    """
    a, b = _vector_pair(features_a, features_b, "features_a", "features_b")
    with _one_blas_thread():
        s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
        return _frechet(a.mean(0), s_a, b.mean(0), s_b)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((s + s.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _frechet(mu_a: np.ndarray, s_a: np.ndarray, mu_b: np.ndarray, s_b: np.ndarray) -> float:
    root = _psd_sqrt(s_a)
    m = root @ s_b @ root
    tr_cross = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_cross)
    return max(value, 0.0)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _nearest(
    queries: np.ndarray, refs: np.ndarray, k: int = 1, *, chunk: int = 256, skip_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the ``k`` nearest ``refs`` of every query (exact,
    chunked matrix products). ``skip_self``: queries are ``refs`` and a row is not its own
    neighbour."""
    rn = _sq_norms(refs)
    n = len(queries)
    dist = np.empty((n, k))
    idx = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, chunk):
        q = queries[s : s + chunk]
        d2 = _sq_norms(q)[:, None] + rn[None, :] - 2.0 * (q @ refs.T)
        np.maximum(d2, 0.0, out=d2)
        if skip_self:
            rows = np.arange(len(q))
            d2[rows, s + rows] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else np.argsort(d2, 1)
        pd2 = np.take_along_axis(d2, part, 1)
        order = np.argsort(pd2, axis=1, kind="stable")
        idx[s : s + chunk] = np.take_along_axis(part, order, 1)[:, :k]
        dist[s : s + chunk] = np.sqrt(np.take_along_axis(pd2, order, 1)[:, :k])
    return dist, idx


def _inside(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 256):
    """Whether each query lies within ``radii[i]`` of some centre ``i``."""
    cn = _sq_norms(centres)
    r2 = radii**2
    out = np.empty(len(queries), dtype=bool)
    for s in range(0, len(queries), chunk):
        q = queries[s : s + chunk]
        d2 = _sq_norms(q)[:, None] + cn[None, :] - 2.0 * (q @ centres.T)
        out[s : s + chunk] = (d2 <= r2[None, :]).any(1)
    return out


def _pr_members(real: np.ndarray, syn: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per synthetic row: inside the real manifold; per real row: inside the synthetic one."""
    r_rad = _nearest(real, real, k, skip_self=True)[0][:, -1]
    s_rad = _nearest(syn, syn, k, skip_self=True)[0][:, -1]
    return _inside(syn, real, r_rad), _inside(real, syn, s_rad)


def precision_recall(
    real_features: np.ndarray, synthetic_features: np.ndarray, *, k: int = 3
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) in a feature space.

    Each set's manifold is the union of balls around its points, each ball reaching the
    point's ``k``-th nearest neighbour in the same set. **Precision** is the share of
    synthetic points inside the real manifold (are the images realistic?); **recall** the
    share of real points inside the synthetic manifold (is the real variety covered?). Both
    depend on the sample sizes: compare sets of the same size (the paper uses equal sizes).

    Args:
        real_features: ``(n_real, d)`` real feature vectors.
        synthetic_features: ``(n_synthetic, d)`` synthetic feature vectors.
        k: the neighbour that sets each ball's radius (the paper's default is 3).

    Returns:
        ``(precision, recall)``, each in [0, 1].

    Example:
        >>> g = np.random.default_rng(0)
        >>> real = g.normal(size=(1000, 4))
        >>> p, r = precision_recall(real, g.normal(size=(1000, 4)))
        >>> p > 0.9 and r > 0.9
        True
        >>> p, r = precision_recall(real, g.normal(0, 0.05, size=(1000, 4)))  # one mode only
        >>> p > 0.9 and r < 0.2
        True
    """
    real, syn = _vector_pair(
        real_features, synthetic_features, "real_features", "synthetic_features"
    )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if min(len(real), len(syn)) <= k:
        raise InvalidDataError(
            Problem(
                "features",
                f"more than k={k} rows in each set",
                f"{len(real)} real and {len(syn)} synthetic rows",
                "pass more images or a smaller k",
            )
        )
    with _one_blas_thread():
        in_real, in_syn = _pr_members(real, syn, int(k))
    return float(in_real.mean()), float(in_syn.mean())


# --------------------------------------------------------------------------- memorisation


@dataclass(eq=False)
class Memorisation:
    """What :func:`memorisation` found (distances in the chosen space).

    Attributes:
        space: ``"pixels"`` (RMS pixel difference, pixels in [0, 1]) or ``"features"``.
        share_close: share of synthetic images nearer to their nearest training image than
            ``threshold``.
        baseline: the share a fresh real sample gets by construction (``quantile``).
        threshold: the ``quantile`` of the holdout images' nearest-training distances.
        near_copies: number of synthetic images nearer to a training image than
            ``copy_threshold``.
        near_copy_share: ``near_copies`` over the number of synthetic images.
        holdout_near_copy_share: the same share for the holdout images (the natural rate).
        copy_threshold: ``copy_ratio`` times the median holdout nearest-training distance.
        synthetic_distance: per synthetic image, the distance to its nearest training image.
        synthetic_nearest: per synthetic image, the index of that training image.
        holdout_distance: per holdout image, the distance to its nearest training image.
        closest_pairs: ``(synthetic index, train index, distance)`` of the closest synthetic
            images, closest first.

    Example:
        >>> m = Memorisation("pixels", 0.05, 0.05, 0.1, 0, 0.0, 0.0, 0.02)
        >>> m.to_dict()["share_close"]
        0.05
    """

    space: str
    share_close: float
    baseline: float
    threshold: float
    near_copies: int
    near_copy_share: float
    holdout_near_copy_share: float
    copy_threshold: float
    synthetic_distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    synthetic_nearest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    holdout_distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    closest_pairs: list[tuple[int, int, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The summary numbers and the closest pairs (no per-image arrays), JSON-ready."""
        return {
            "space": self.space,
            "share_close": float(self.share_close),
            "baseline": float(self.baseline),
            "threshold": float(self.threshold),
            "near_copies": int(self.near_copies),
            "near_copy_share": float(self.near_copy_share),
            "holdout_near_copy_share": float(self.holdout_near_copy_share),
            "copy_threshold": float(self.copy_threshold),
            "closest_pairs": [
                {"synthetic_index": int(s), "train_index": int(t), "distance": float(d)}
                for s, t, d in self.closest_pairs
            ],
        }


def _pixels(batch: ImageBatch) -> np.ndarray:
    x = batch.images.reshape(len(batch), -1).astype(np.float64) / 255.0
    return x / math.sqrt(x.shape[1])  # Euclidean distance = RMS pixel difference


def _memorisation_vectors(
    train: np.ndarray,
    holdout: np.ndarray,
    synthetic: np.ndarray,
    space: str,
    quantile: float,
    copy_ratio: float,
    n_pairs: int,
) -> Memorisation:
    d_syn, i_syn = _nearest(synthetic, train, 1)
    d_hold = _nearest(holdout, train, 1)[0][:, 0]
    d_syn, i_syn = d_syn[:, 0], i_syn[:, 0]
    threshold = float(np.quantile(d_hold, quantile))
    # ties at the threshold (e.g. a zero quantile) count half, as the holdout's own share
    close = np.where(d_syn == threshold, 0.5, (d_syn < threshold).astype(float))
    copy_threshold = float(copy_ratio * np.median(d_hold))
    copies = d_syn <= copy_threshold
    order = np.argsort(d_syn, kind="stable")[: max(int(n_pairs), 0)]
    return Memorisation(
        space=space,
        share_close=float(close.mean()),
        baseline=float(quantile),
        threshold=threshold,
        near_copies=int(copies.sum()),
        near_copy_share=float(copies.mean()),
        holdout_near_copy_share=float(np.mean(d_hold <= copy_threshold)),
        copy_threshold=copy_threshold,
        synthetic_distance=d_syn,
        synthetic_nearest=i_syn,
        holdout_distance=d_hold,
        closest_pairs=[(int(j), int(i_syn[j]), float(d_syn[j])) for j in order],
    )


def memorisation(
    real_train: ImageBatch,
    real_holdout: ImageBatch,
    synthetic: ImageBatch,
    *,
    space: Literal["pixels", "features"] = "pixels",
    classifier: ImageClassifier | None = None,
    quantile: float = 0.05,
    copy_ratio: float = 0.2,
    n_pairs: int = 8,
) -> Memorisation:
    """Do synthetic images sit on training images? A distance-to-closest-record check.

    Finds each synthetic image's nearest training image (distance and index) and compares
    the distances with those of real holdout images, which the generator never saw: a
    fresh real image is nearer to some training image than the holdout's ``quantile``
    (5th percentile) with probability ``quantile``, so ``share_close`` well above
    ``quantile`` means the generator reproduces training images. ``near_copies`` counts
    synthetic images nearer than ``copy_ratio`` times the median holdout distance (next to
    the holdout's own rate of such twins), and ``closest_pairs`` names the closest
    synthetic/training pairs for a look by eye.

    Args:
        real_train: the images the generator was fitted on.
        real_holdout: real images of the same population the generator never saw.
        synthetic: the generated images.
        space: ``"pixels"`` (RMS pixel difference) or ``"features"`` (the feature layer of
            ``classifier``, which is then required and should be trained on ``real_train``).
        classifier: a fitted :class:`ImageClassifier` for ``space="features"``.
        quantile: the holdout quantile that defines "close".
        copy_ratio: near-copy threshold as a share of the median holdout distance.
        n_pairs: how many closest pairs to return.

    Returns:
        A :class:`Memorisation`.

    Raises:
        InvalidDataError: a set is not an ``ImageBatch``, is empty, or the image shapes differ.

    Example:
        >>> g = np.random.default_rng(0)
        >>> imgs = g.integers(0, 256, (300, 8, 8), dtype=np.uint8)
        >>> train, hold = ImageBatch(imgs[:200]), ImageBatch(imgs[200:])
        >>> copies = ImageBatch(imgs[:50])  # a "generator" that returns training images
        >>> m = memorisation(train, hold, copies)
        >>> m.share_close, m.near_copies, m.closest_pairs[0][2]
        (1.0, 50, 0.0)
        >>> memorisation(train, hold, ImageBatch(g.integers(0, 256, (100, 8, 8)))).near_copies
        0
    """
    problems: list[Problem] = []
    for what, b in (
        ("real_train", real_train),
        ("real_holdout", real_holdout),
        ("synthetic", synthetic),
    ):
        problems += _check_batch(b, what, labels=False)
    if not problems:
        problems += _shape_problems(real_train, real_holdout=real_holdout, synthetic=synthetic)
    if problems:
        raise InvalidDataError(problems)
    if space not in ("pixels", "features"):
        raise ValueError(f"space must be 'pixels' or 'features', got {space!r}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if not copy_ratio >= 0:
        raise ValueError(f"copy_ratio must be >= 0, got {copy_ratio!r}")
    if space == "features":
        if classifier is None:
            raise ValueError(
                "space='features' needs classifier= (an ImageClassifier fitted on real_train)"
            )
        vecs = [classifier.features(b) for b in (real_train, real_holdout, synthetic)]
    else:
        vecs = [_pixels(b) for b in (real_train, real_holdout, synthetic)]
    with _one_blas_thread():
        return _memorisation_vectors(*vecs, space, quantile, copy_ratio, n_pairs)


# --------------------------------------------------------------------------- thumbnails


def png_data_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of one ``uint8`` image (for the HTML report).

    Encoded with the standard library (zlib), so reports need no imaging package.

    Args:
        image: ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)`` ``uint8`` pixels.

    Example:
        >>> uri = png_data_uri(np.zeros((4, 4), np.uint8))
        >>> uri.startswith("data:image/png;base64,iVBORw0KGgo")
        True
    """
    x = np.asarray(image)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.dtype != np.uint8 or x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] != 3):
        raise ValueError(
            f"image: expected uint8 pixels (h, w), (h, w, 1) or (h, w, 3), got {x.dtype} {x.shape}"
        )
    h, w = x.shape[:2]
    colour = 2 if x.ndim == 3 else 0
    raw = b"".join(b"\x00" + x[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    return _PNG_PREFIX + base64.b64encode(png).decode("ascii")


def _thumbnails(
    train: ImageBatch,
    syn: ImageBatch,
    classes: Sequence[str],
    y_train: np.ndarray,
    y_syn: np.ndarray | None,
    n: int,
    gen: np.random.Generator,
    max_classes: int = 10,
) -> dict[str, Any]:
    """A few real and synthetic images per class, as PNG data URIs."""

    def pick(batch: ImageBatch, rows: np.ndarray) -> list[str]:
        rows = np.sort(gen.permutation(rows)[:n]) if len(rows) > n else rows
        return [png_data_uri(batch.images[i]) for i in rows]

    if y_syn is None:
        return {
            "classes": ["all images"],
            "real": [pick(train, np.arange(len(train)))],
            "synthetic": [pick(syn, np.arange(len(syn)))],
            "per_class": False,
        }
    shown = list(range(len(classes)))[:max_classes]
    return {
        "classes": [classes[c] for c in shown],
        "real": [pick(train, np.flatnonzero(y_train == c)) for c in shown],
        "synthetic": [pick(syn, np.flatnonzero(y_syn == c)) for c in shown],
        "per_class": True,
        "n_classes_not_shown": max(len(classes) - max_classes, 0),
    }


# --------------------------------------------------------------------------- the protocol


def _shape_problems(real_train: ImageBatch, **others: ImageBatch) -> list[Problem]:
    problems = []
    shape = real_train.shape
    for what, b in others.items():
        if b.shape != shape:
            problems.append(
                Problem(
                    f"{what} images",
                    "the shape of the real training images: {} x {} x {} (h, w, c)".format(*shape),
                    "{} x {} x {}".format(*b.shape),
                    "resize/convert the images to one shape (load_image_folder(size=...))",
                )
            )
    return problems


def _subsample(n: int, m: int, gen: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= m else np.sort(gen.choice(n, m, replace=False))


def _g(x: float) -> float:
    return float(f"{x:.6g}") if math.isfinite(x) else float("nan")


def _shares(y: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y, minlength=k) / max(len(y), 1)


def _class_recall(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    hits = np.bincount(y_true[y_pred == y_true], minlength=k).astype(float)
    total = np.bincount(y_true, minlength=k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, hits / np.maximum(total, 1), np.nan)


def _ci_or_none(ci: tuple[float, float]) -> tuple[float, float] | None:
    return ci if all(math.isfinite(v) for v in ci) else None


def evaluate_images(
    real_train: ImageBatch,
    real_holdout: ImageBatch,
    synthetic: ImageBatch,
    *,
    rng: RNGLike = None,
    metrics: Sequence[str] = IMAGE_METRICS,
    classifier: ImageClassifier | None = None,
    classifier_epochs: int = 8,
    max_seconds: float | None = None,
    max_samples: int = 5000,
    k: int = 3,
    n_thumbnails: int = 4,
    n_pairs: int = 6,
    device: str = "auto",
    n_threads: int | None = None,
    verbose: bool = False,
) -> Evaluation:
    """Evaluate synthetic images against real ones: fidelity, utility and memorisation.

    See the module docstring for the metrics. A small CNN (:class:`ImageClassifier`) is
    trained on ``real_train`` (or ``classifier`` is used as given): its features are the
    space of the fidelity metrics, and it is the TRTR model; a second one, trained on
    ``synthetic``, is the TSTR model. Both are tested on ``real_holdout``. Comparisons that
    depend on sample size (Fréchet distance, precision, recall) use the same number of
    synthetic and holdout images, so the holdout's score is a fair baseline.

    Args:
        real_train: the labelled real images the generator was fitted on.
        real_holdout: labelled real images of the same population the generator never saw.
        synthetic: the generated images; labels (class names of ``real_train``) are needed
            for ``class_balance`` and ``tstr``.
        rng: seed for the classifiers, subsamples, bootstraps and thumbnails.
        metrics: which of :data:`IMAGE_METRICS` to compute, plus ``"domain_gap"`` if wanted
            (it trains one more CNN, on 75 % of the synthetic images, and scores it on the
            other 25 % and on the real holdout; :mod:`sosie.evaluate.domain_gap`).
        classifier: an :class:`ImageClassifier` already fitted on ``real_train`` (skips
            training one); its classes must be ``real_train``'s.
        classifier_epochs: training epochs of each classifier.
        max_seconds: training-time limit of each classifier (see :meth:`ImageClassifier.fit`).
        max_samples: at most this many images of each set enter the feature and distance
            computations (subsampled at random; ``meta["images"]["n_compared"]`` says how
            many); the classifiers train and test on every image.
        k: the neighbour of the precision/recall manifolds.
        n_thumbnails: real and synthetic sample images per class stored (as PNG data URIs)
            in ``meta["images"]["thumbnails"]`` for the report; 0 stores none.
        n_pairs: closest synthetic/training pairs stored with the memorisation metrics.
        device: where the classifiers run (``"auto"``: CUDA when available).
        n_threads: torch threads of the classifiers.
        verbose: progress bars while training.

    Returns:
        An :class:`~sosie.evaluate.Evaluation`; ``meta["images"]`` records the image shape,
        classes, the sizes and class counts of each set and what each set was used for.

    Raises:
        InvalidDataError: a set is not an ``ImageBatch``, has fewer than ``k + 2`` images,
            lacks labels where needed, has other class names or another image shape.

    Example:
        >>> g = np.random.default_rng(1)
        >>> x = g.integers(0, 256, (120, 12, 12), dtype=np.uint8)
        >>> b = ImageBatch(x, labels=np.arange(120) % 2, classes=("a", "b"))
        >>> ev = evaluate_images(b[:60], b[60:], b[:60], rng=0, metrics=("memorisation",))
        >>> ev["memorisation_pixels"].value, ev["near_copies"].value  # copies of train
        (1.0, 1.0)
    """
    with _one_blas_thread():
        return _evaluate_images(
            real_train,
            real_holdout,
            synthetic,
            rng=rng,
            metrics=metrics,
            classifier=classifier,
            classifier_epochs=classifier_epochs,
            max_seconds=max_seconds,
            max_samples=max_samples,
            k=k,
            n_thumbnails=n_thumbnails,
            n_pairs=n_pairs,
            device=device,
            n_threads=n_threads,
            verbose=verbose,
        )


def _evaluate_images(
    real_train: Any,
    real_holdout: Any,
    synthetic: Any,
    *,
    rng: RNGLike,
    metrics: Sequence[str],
    classifier: ImageClassifier | None,
    classifier_epochs: int,
    max_seconds: float | None,
    max_samples: int,
    k: int,
    n_thumbnails: int,
    n_pairs: int,
    device: str,
    n_threads: int | None,
    verbose: bool,
) -> Evaluation:
    t_all = _time.perf_counter()
    unknown = [m for m in metrics if m not in IMAGE_METRICS + OPTIONAL_IMAGE_METRICS]
    if unknown:
        raise ValueError(
            f"unknown metrics {unknown}; choose from {IMAGE_METRICS + OPTIONAL_IMAGE_METRICS}"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)):
        raise ValueError(f"max_samples must be an integer, got {max_samples!r}")
    max_samples = max(int(max_samples), k + 2)
    sets = {"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic}
    needs_syn_labels = any(m in metrics for m in ("class_balance", "tstr", "domain_gap"))
    problems: list[Problem] = []
    for what, b in sets.items():
        p = _check_batch(b, what, labels=what != "synthetic" or needs_syn_labels)
        if p and what == "synthetic" and isinstance(b, ImageBatch) and b.labels is None:
            p[-1] = Problem(
                "synthetic labels",
                "a class label per image (for class_balance, tstr and domain_gap)",
                "a batch without labels",
                "sample with labels (a class-conditional generator), or pass metrics= "
                "without 'class_balance', 'tstr' and 'domain_gap'",
            )
        problems += p
        if not p and len(b) < k + 2:
            problems.append(
                Problem(what, f"at least {k + 2} images", f"{len(b)}", "pass more images")
            )
    if not problems:
        problems += _shape_problems(real_train, real_holdout=real_holdout, synthetic=synthetic)
    if problems:
        raise InvalidDataError(problems)
    classes = tuple(real_train.classes)
    n_classes = len(classes)
    y_train = np.asarray(real_train.labels)
    y_hold = y_syn = None
    for what in ("real_holdout", "synthetic"):
        if sets[what].labels is None:
            continue
        try:
            mapped = _map_labels(sets[what], classes, what)
        except InvalidDataError as e:
            problems += e.errors
            continue
        y_hold, y_syn = (mapped, y_syn) if what == "real_holdout" else (y_hold, mapped)
    if problems:
        raise InvalidDataError(problems)
    assert y_hold is not None
    if classifier is not None:
        if not hasattr(classifier, "net_"):
            raise NotFittedError("classifier= must be fitted on real_train (call fit first)")
        if tuple(classifier.classes_) != classes or classifier.image_shape_ != real_train.shape:
            raise InvalidDataError(
                Problem(
                    "classifier",
                    f"a classifier fitted on real_train (classes {list(classes)}, images "
                    "{} x {} x {})".format(*real_train.shape),
                    f"classes {list(classifier.classes_)}, images {{}} x {{}} x {{}}".format(
                        *classifier.image_shape_
                    ),
                    "fit it on real_train, or leave classifier=None",
                )
            )

    seq = as_seed_sequence(rng)
    names = ("classifier", "subsample", *IMAGE_METRICS, "tstr_model", "thumbnails", "domain_gap")
    seeds = dict(zip(names, seq.spawn(len(names)), strict=True))

    def gen(name: str) -> np.random.Generator:
        return as_generator(seeds[name])

    timings: dict[str, float] = {}
    t0 = _time.perf_counter()
    fit_kw = {"epochs": classifier_epochs, "max_seconds": max_seconds, "verbose": verbose}
    feature_metrics = {"frechet_distance", "precision", "recall", "tstr", "memorisation"}
    trained_here = False
    if classifier is None and feature_metrics & set(metrics):
        classifier = ImageClassifier(device=device, n_threads=n_threads)
        classifier.fit(real_train, rng=gen("classifier"), **fit_kw)
        trained_here = True
        timings["classifier"] = round(_time.perf_counter() - t0, 3)

    # the images that enter the distance computations (the classifiers use every image):
    # at most max_samples of each set; FD and precision/recall compare equal-size subsets
    sub = gen("subsample")
    rows = {what: _subsample(len(b), max_samples, sub) for what, b in sets.items()}
    n_eq = min(len(rows["real_holdout"]), len(rows["synthetic"]))
    eq = {what: _subsample(len(r), n_eq, sub) for what, r in rows.items()}  # positions in rows
    feats: dict[str, np.ndarray] = {}

    def features(what: str) -> np.ndarray:
        """Features of the rows[what] images."""
        if what not in feats:
            assert classifier is not None
            feats[what] = classifier.features(sets[what][rows[what]])
        return feats[what]

    results: list[MetricResult] = []
    if "frechet_distance" in metrics:
        t0 = _time.perf_counter()
        results.append(_fd_metric(features, eq, gen("frechet_distance")))
        timings["frechet_distance"] = round(_time.perf_counter() - t0, 3)
    if "precision" in metrics or "recall" in metrics:
        t0 = _time.perf_counter()
        pr = _pr_metrics(features, eq, k, gen("precision"))
        results += [r for r in pr if r.name in metrics]
        timings["precision_recall"] = round(_time.perf_counter() - t0, 3)
    if "class_balance" in metrics:
        assert y_syn is not None
        results.append(_class_balance(y_train, y_syn, classes, gen("class_balance")))
    tstr_info: dict[str, Any] = {}
    if "tstr" in metrics:
        assert y_syn is not None and classifier is not None
        t0 = _time.perf_counter()
        tstr_model = ImageClassifier(
            width=classifier.width,
            feature_dim=classifier.feature_dim,
            batch_size=classifier.batch_size,
            learning_rate=classifier.learning_rate,
            weight_decay=classifier.weight_decay,
            augment=classifier.augment,
            device=device,
            n_threads=n_threads,
        )
        syn_named = ImageBatch(synthetic.images, labels=y_syn, classes=classes)
        tstr_model.fit(syn_named, rng=gen("tstr_model"), **fit_kw)
        results.append(
            _tstr_metric(classifier, tstr_model, real_holdout, y_hold, classes, gen("tstr"))
        )
        tstr_info = _model_info(tstr_model)
        timings["tstr"] = round(_time.perf_counter() - t0, 3)
    if "domain_gap" in metrics:
        assert y_syn is not None
        t0 = _time.perf_counter()
        results.append(
            _image_gap(synthetic, y_syn, real_holdout, y_hold, classes, gen("domain_gap"),
                       device=device, n_threads=n_threads, fit_kw=fit_kw)
        )  # fmt: skip
        timings["domain_gap"] = round(_time.perf_counter() - t0, 3)
    if "memorisation" in metrics:
        t0 = _time.perf_counter()
        results += _memorisation_metrics(
            real_train[rows["real_train"]],
            real_holdout[rows["real_holdout"]],
            synthetic[rows["synthetic"]],
            (features("real_train"), features("real_holdout"), features("synthetic")),
            rows["real_train"],
            rows["synthetic"],
            n_pairs,
            gen("memorisation"),
        )
        timings["memorisation"] = round(_time.perf_counter() - t0, 3)

    summary: dict[str, float | None] = {}
    for m in results:
        if m.name == "tstr":
            summary["tstr_ratio"] = _finite(m.value / m.baseline if m.baseline else math.nan)
            summary["tstr_accuracy"] = _finite(m.value)
            summary["trtr_accuracy"] = _finite(m.baseline)
        else:
            summary[m.name] = _finite(m.value)

    thumbs: dict[str, Any] | None = None
    if n_thumbnails and n_thumbnails > 0:
        thumbs = _thumbnails(
            real_train, synthetic, classes, y_train, y_syn, int(n_thumbnails), gen("thumbnails")
        )
    h, w, c = real_train.shape
    images_meta: dict[str, Any] = {
        "height": h,
        "width": w,
        "channels": c,
        "classes": list(classes),
        "n_images": {what: len(b) for what, b in sets.items()},
        "class_counts": {
            "real_train": dict(
                zip(classes, np.bincount(y_train, minlength=n_classes).tolist(), strict=True)
            ),
            "real_holdout": dict(
                zip(classes, np.bincount(y_hold, minlength=n_classes).tolist(), strict=True)
            ),
            "synthetic": None
            if y_syn is None
            else dict(zip(classes, np.bincount(y_syn, minlength=n_classes).tolist(), strict=True)),
        },
        "sets": {
            "real_train": "the real images the generator was fitted on; trains the feature "
            "classifier (TRTR) and is searched for each synthetic image's nearest neighbour",
            "real_holdout": "real images the generator never saw; the test set of TSTR and TRTR "
            "and the baseline of every comparison",
            "synthetic": "the generated images; train the TSTR classifier",
        },
        "n_compared": {
            **{what: len(r) for what, r in rows.items()},
            "precision_recall_and_frechet": int(n_eq),
        },
        "feature_space": "feature layer of an ImageClassifier trained on real_train",
    }
    if thumbs is not None:
        images_meta["thumbnails"] = thumbs
    meta: dict[str, Any] = {
        "kind": "images",
        "images": images_meta,
        "n_real_train": len(real_train),
        "n_real_holdout": len(real_holdout),
        "n_synthetic": len(synthetic),
        "max_samples": int(max_samples),
        "families": sorted({m.family for m in results}),
        "skipped": {
            **({} if "tstr" in metrics else {"utility": "'tstr' was not in metrics"}),
            **(
                {}
                if "memorisation" in metrics
                else {"privacy": "'memorisation' was not in metrics"}
            ),
            "fairness": "not evaluated for images",
        },
        "seed_entropy": seq.entropy,
        "seconds": {**timings, "total": round(_time.perf_counter() - t_all, 3)},
    }
    if classifier is not None:
        meta["classifier"] = {**_model_info(classifier), "trained_here": trained_here}
        if tstr_info:
            meta["tstr_classifier"] = tstr_info
    return Evaluation(results, meta=meta, summary=summary)


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _model_info(clf: ImageClassifier) -> dict[str, Any]:
    return {
        "network": "ImageClassifier",
        "width": clf.width,
        "feature_dim": clf.feature_dim,
        "augment": clf.augment,
        "epochs": clf.n_epochs_,
        "stopped_early": clf.stopped_early_,
        "seconds": clf.seconds_,
        "device": clf.device_,
    }


def _fd_metric(
    features, eq, gen: np.random.Generator, noun: str = "images", space: str = "features"
) -> MetricResult:
    from .fidelity import _centred_ci

    ft = features("real_train")  # every sampled training image: the reference
    fs, fh = features("synthetic")[eq["synthetic"]], features("real_holdout")[eq["real_holdout"]]
    mu_t, s_t = ft.mean(0), np.cov(ft, rowvar=False)
    value = _frechet(mu_t, s_t, fs.mean(0), np.cov(fs, rowvar=False))
    base = _frechet(mu_t, s_t, fh.mean(0), np.cov(fh, rowvar=False))

    def stat(ri: np.ndarray, si: np.ndarray) -> float:
        a, b = ft[ri], fs[si]
        return _frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))

    ci = _centred_ci(value, stat, len(ft), len(fs), 30, gen, bounds=(0.0, math.inf))
    # the excess over the holdout's distance as a share of the real features' total variance
    # (the distance of a generator whose images all sit at the real mean): FD is noisy (its
    # sampling spread at 1,000 images is of the order of the baseline itself), so a ratio to
    # the baseline would fail real samples; a share of the total variance does not
    total = float(np.trace(np.atleast_2d(s_t)))
    excess = max(0.0, value - base) / total if total > 0 else 0.0
    norm = clip01(1.0 - 2.0 * excess)
    return MetricResult(
        "frechet_distance",
        "fidelity",
        "minimize",
        (0.0, math.inf),
        value,
        norm,
        f"Fréchet distance between Gaussians fitted to the {space} of real training and "
        f"synthetic {noun} ({len(fs)} of each set compared); baseline: a real holdout sample "
        f"of the same size (score: 1 - 2 x (value - baseline) / total variance of the real "
        f"{space})",
        ci=ci,
        baseline=base,
        details={
            "n_compared": {"real_train": len(ft), "synthetic": len(fs), "real_holdout": len(fh)},
            "feature_dim": int(ft.shape[1]),
            "ratio_to_baseline": _g(value / base) if base > 0 else None,
            "real_total_variance": _g(total),
            "excess_share_of_variance": _g(excess),
        },
    )


def _pr_metrics(
    features, eq, k: int, gen, noun: str = "images", space: str = "feature"
) -> list[MetricResult]:
    ft = features("real_train")[eq["real_train"]]  # manifolds of equal size
    fs, fh = features("synthetic")[eq["synthetic"]], features("real_holdout")[eq["real_holdout"]]
    p_in, r_in = _pr_members(ft, fs, k)
    bp_in, br_in = _pr_members(ft, fh, k)
    out = []
    for name, inside, base_inside, what in (
        (
            "precision",
            p_in,
            bp_in,
            f"share of synthetic {noun} inside the real {space} manifold (realism)",
        ),
        (
            "recall",
            r_in,
            br_in,
            f"share of real {noun} inside the synthetic {space} manifold (diversity, coverage)",
        ),
    ):
        value, base = float(inside.mean()), float(base_inside.mean())
        out.append(
            MetricResult(
                name,
                "fidelity",
                "maximize",
                (0.0, 1.0),
                value,
                clip01(value / base) if base > 0 else float("nan"),
                f"improved {name} (Kynkäänniemi et al. 2019, k={k}): {what}; baseline: a real "
                f"holdout sample of the same size ({len(fs)} {noun}; score: value / baseline)",
                ci=_ci_or_none(bootstrap_ci(np.mean, inside.astype(float), n_boot=N_BOOT, rng=gen)),
                baseline=base,
                details={
                    "k": k,
                    "n_compared": len(fs),
                    "interval": f"bootstrap of the {noun} tested, manifolds held fixed",
                },
            )
        )
    return out


def _class_balance(y_train, y_syn, classes, gen, noun: str = "images") -> MetricResult:
    k = len(classes)
    r = _shares(y_train, k)

    def stat(ys: np.ndarray) -> float:
        return 1.0 - 0.5 * float(np.abs(_shares(ys, k) - r).sum())

    s = _shares(y_syn, k)
    value = stat(y_syn)
    return MetricResult(
        "class_balance",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value),
        "1 - total variation distance between the class shares of the synthetic and the real "
        f"training {noun}",
        ci=_ci_or_none(bootstrap_ci(stat, y_syn, n_boot=N_BOOT, rng=gen)),
        breakdown={c: _g(float(s[i] - r[i])) for i, c in enumerate(classes)},
        details={
            "real": {c: _g(float(r[i])) for i, c in enumerate(classes)},
            "synthetic": {c: _g(float(s[i])) for i, c in enumerate(classes)},
            "score_name": f"share of {noun}",
            "counts": {
                "real": dict(zip(classes, np.bincount(y_train, minlength=k).tolist(), strict=True)),
                "synthetic": dict(
                    zip(classes, np.bincount(y_syn, minlength=k).tolist(), strict=True)
                ),
            },
        },
    )


def _image_gap(synthetic, y_syn, holdout, y_hold, classes, gen, *, device, n_threads, fit_kw):
    """A CNN trained on 75 % of the synthetic images: held-out synthetic vs real holdout."""
    from .domain_gap import gap_metric, split_synthetic

    tr, te = split_synthetic(y_syn, 0.25, gen)
    model = ImageClassifier(device=device, n_threads=n_threads)
    model.fit(
        ImageBatch(synthetic.images[tr], labels=y_syn[tr], classes=classes), rng=gen, **fit_kw
    )
    names = np.asarray(classes, dtype=object)
    test = ImageBatch(synthetic.images[te], labels=y_syn[te], classes=classes)
    return gap_metric(
        names[y_syn[te]],
        names[model.predict(test)],
        names[y_hold],
        names[model.predict(holdout)],
        score="accuracy",
        model="the small CNN",
        n_boot=N_BOOT,
        rng=gen,
    )


def _tstr_metric(trtr_model, tstr_model, holdout, y_hold, classes, gen) -> MetricResult:
    k = len(classes)
    p_real = trtr_model.predict(holdout)
    p_syn = tstr_model.predict(holdout)
    hit_real = (p_real == y_hold).astype(float)
    hit_syn = (p_syn == y_hold).astype(float)
    trtr, tstr = float(hit_real.mean()), float(hit_syn.mean())
    rec_real, rec_syn = _class_recall(y_hold, p_real, k), _class_recall(y_hold, p_syn, k)
    groups = {
        c: {"trtr": _g(float(rec_real[i])), "tstr": _g(float(rec_syn[i]))}
        for i, c in enumerate(classes)
        if np.isfinite(rec_real[i])
    }
    return MetricResult(
        "tstr",
        "utility",
        "maximize",
        (0.0, 1.0),
        tstr,
        clip01(tstr / trtr) if trtr > 0 else float("nan"),
        "accuracy on real holdout images of a CNN trained on the synthetic images (TSTR, value) "
        "and of the same CNN trained on the real training images (TRTR, baseline); score: "
        "TSTR / TRTR",
        ci=_ci_or_none(bootstrap_ci(np.mean, hit_syn, n_boot=N_BOOT, rng=gen)),
        baseline=trtr,
        breakdown=groups,
        details={
            "accuracy": {"trtr": _g(trtr), "tstr": _g(tstr)},
            "groups": groups,
            "score_name": "recall",
            "attribute": "class",
            "trtr_ci": _ci_or_none(bootstrap_ci(np.mean, hit_real, n_boot=N_BOOT, rng=gen)),
            "n_test": len(y_hold),
            "chance": _g(float(np.max(np.bincount(y_hold, minlength=k)) / len(y_hold))),
        },
    )


def _memorisation_metrics(
    train: ImageBatch,
    holdout: ImageBatch,
    syn: ImageBatch,
    feature_sets: tuple[np.ndarray, np.ndarray, np.ndarray],
    i_train: np.ndarray,
    i_syn: np.ndarray,
    n_pairs: int,
    gen: np.random.Generator,
) -> list[MetricResult]:
    from .privacy import _histograms

    out = []
    pixel_result = None
    for space, vecs in (
        ("pixels", (_pixels(train), _pixels(holdout), _pixels(syn))),
        ("features", feature_sets),
    ):
        m = _memorisation_vectors(*vecs, space, 0.05, 0.2, n_pairs)
        if space == "pixels":
            pixel_result = m
        close = np.where(
            m.synthetic_distance == m.threshold, 0.5, (m.synthetic_distance < m.threshold) * 1.0
        )
        excess = max(0.0, m.share_close - m.baseline)
        pairs = []
        for j, t, d in m.closest_pairs:
            pairs.append(
                {
                    "synthetic_index": int(i_syn[j]),
                    "train_index": int(i_train[t]),
                    "distance": _g(d),
                    "synthetic_png": png_data_uri(syn.images[j]),
                    "train_png": png_data_uri(train.images[t]),
                }
            )
        unit = "RMS pixel difference, pixels in [0, 1]" if space == "pixels" else "feature distance"
        out.append(
            MetricResult(
                f"memorisation_{space}",
                "privacy",
                "minimize",
                (0.0, 1.0),
                m.share_close,
                clip01(1.0 - 2.0 * excess),
                "attacker holds the synthetic images and looks for training images in them; share "
                "of synthetic images nearer to a training image than 95 % of real holdout images "
                f"are ({'pixels' if space == 'pixels' else 'classifier features'}; "
                f"{m.baseline:.2f} when the generator copies nothing; score 1 - 2 x excess)",
                ci=_ci_or_none(bootstrap_ci(np.mean, close, n_boot=N_BOOT, rng=gen)),
                baseline=m.baseline,
                details={
                    "space": space,
                    "unit": unit,
                    "threshold": _g(m.threshold),
                    "median_distance": {
                        "synthetic_to_train": _g(float(np.median(m.synthetic_distance))),
                        "holdout_to_train": _g(float(np.median(m.holdout_distance))),
                    },
                    "near_copies": m.near_copies,
                    "near_copy_share": _g(m.near_copy_share),
                    f"{space.removesuffix('s')}_dcr_histogram": _histograms(
                        m.synthetic_distance, m.holdout_distance
                    ),
                    "closest_pairs": pairs,
                    "n_compared": {
                        "real_train": len(vecs[0]),
                        "real_holdout": len(vecs[1]),
                        "synthetic": len(vecs[2]),
                    },
                },
            )
        )
    assert pixel_result is not None
    m = pixel_result
    copies = (m.synthetic_distance <= m.copy_threshold).astype(float)
    natural = m.holdout_near_copy_share
    excess = max(0.0, m.near_copy_share - natural)
    out.append(
        MetricResult(
            "near_copies",
            "privacy",
            "minimize",
            (0.0, 1.0),
            m.near_copy_share,
            clip01(1.0 - 10.0 * excess),
            "attacker holds the synthetic images and looks for copies of training images; share "
            "of synthetic images within 0.2 x the median holdout-to-train pixel distance of a "
            "training image (baseline: the share of holdout images that close; score "
            "1 - 10 x excess)",
            ci=_ci_or_none(bootstrap_ci(np.mean, copies, n_boot=N_BOOT, rng=gen)),
            baseline=natural,
            details={
                "n_copies": m.near_copies,
                "copy_threshold": _g(m.copy_threshold),
                "unit": "RMS pixel difference, pixels in [0, 1]",
                "n_synthetic": len(m.synthetic_distance),
                "exact_copies": int(np.sum(m.synthetic_distance == 0)),
            },
        )
    )
    return out
