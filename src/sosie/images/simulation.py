"""Procedural circuit-board images with defects and domain randomisation.

:class:`CircuitBoardSimulator` draws small top-down pictures of printed circuit
boards with numpy: a solder-mask substrate with a fibre-glass weave, copper traces
with right-angle bends and vias, tinned pads, silkscreen outlines and components
(ICs on two rows of pins, chip resistors and capacitors on pairs of pads). A
share of the boards carries a defect, each with a pixel mask and a box:

- ``scratch``: a thin bright or dark line or arc across the board;
- ``missing_component``: a footprint whose pads and silkscreen outline are there but
  whose body is not (an empty cell of the board has neither);
- ``solder_bridge``: a blob of solder joining two adjacent pins of an IC;
- ``stain``: an irregular, semi-transparent discoloured blotch.

:class:`DomainRandomization` sets how much the look varies from image to image:
lighting direction and intensity, shading, a specular highlight, board colour,
weave texture, sensor noise, blur, rotation and scale. Four presets:
:meth:`~DomainRandomization.none` (the nominal "source" look),
:meth:`~DomainRandomization.moderate` (plausible ranges for one kind of line: what to train
a detector on), :meth:`~DomainRandomization.wide` (anything goes: any colour, any rotation) and
:meth:`~DomainRandomization.factory` (a fixed, different camera and board: the
held-out "target" domain of the inspection demo).

Randomness follows the library contract: ``sample(n)`` without ``rng`` continues a
stream seeded from the constructor's ``rng``; ``sample(n, rng=s)`` is reproducible on
its own. Image ``i`` of a call depends only on the call's seed and ``i``, and its
board, look and defect come from three separate streams, so the same seed rendered
as ``"ok"`` and as a defect gives the same board with and without the defect.

Example:
    >>> sim = CircuitBoardSimulator(size=48, defect_rate=0.5, rng=0)
    >>> batch = sim.sample(8, verbose=False)
    >>> batch.images.shape, batch.classes[:2]
    ((8, 48, 48, 3), ('ok', 'scratch'))
"""

from __future__ import annotations

import colorsys
import difflib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .._rng import RNGLike, as_generator, as_seed_sequence, child_seed_sequence
from ..errors import ConditionError, DataSourceError, InvalidDataError, Problem
from ._batch import ImageBatch

__all__ = ["DEFECT_TYPES", "CircuitBoardSimulator", "DomainRandomization"]

#: The defects the simulator can draw, in the default order of the classes.
DEFECT_TYPES: tuple[str, ...] = ("scratch", "missing_component", "solder_bridge", "stain")

_PRESETS = ("none", "moderate", "wide", "factory")

# --- domain randomisation ----------------------------------------------------------------

#: field -> (lowest allowed, highest allowed, what it is)
_BOUNDS: dict[str, tuple[float, float, str]] = {
    "light_angle": (-360.0, 360.0, "degrees, direction the light comes from (0 right, 90 top)"),
    "light_intensity": (0.05, 4.0, "brightness multiplier"),
    "shading": (0.0, 1.0, "strength of the brightness gradient along the light direction"),
    "specular": (0.0, 1.0, "peak of the soft specular highlight (fraction of full scale)"),
    "hue": (-360.0, 360.0, "board hue in degrees (120 green, 180 cyan, 240 blue)"),
    "saturation": (0.0, 1.0, "board saturation"),
    "value": (0.0, 1.0, "board brightness (HSV value)"),
    "texture": (0.0, 0.5, "amplitude of the fibre-glass weave and mottling"),
    "noise": (0.0, 0.5, "sensor noise std for a mid-grey pixel (fraction of full scale)"),
    "blur": (0.0, 8.0, "Gaussian blur sigma in pixels"),
    "rotation": (-360.0, 360.0, "rotation of the board in the frame, degrees"),
    "scale": (0.25, 4.0, "zoom factor (> 1 magnifies)"),
}


def _pair(value: Any) -> tuple[float, float] | None:
    """``value`` as a ``(low, high)`` pair of finite floats, or ``None`` if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return (v, v) if math.isfinite(v) else None
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2:
        if any(
            isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
            for v in value
        ):
            return None
        lo, hi = float(value[0]), float(value[1])
        return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
    return None


def _did_you_mean(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "use one of " + ", ".join(options)


@dataclass(frozen=True)
class DomainRandomization:
    """How the look of the boards varies from image to image.

    Every field is a ``(low, high)`` range drawn uniformly per image; equal ends (or a
    single number) fix the value. The defaults are the nominal look, the same as
    :meth:`none`.

    Args:
        light_angle: direction the light comes from, degrees (0 from the right, 90 from
            the top); sets the shading gradient and where the highlight sits.
        light_intensity: brightness multiplier (1 nominal).
        shading: strength of the brightness gradient along the light direction (0 flat).
        specular: peak of a soft white highlight on the lit side (0 none).
        hue: board (solder mask) hue in degrees; 120 green, 180 cyan, 240 blue.
        saturation: board saturation, 0-1.
        value: board brightness (HSV value), 0-1.
        texture: amplitude of the fibre-glass weave and mottling of the substrate.
        noise: std of the Gaussian sensor noise for a mid-grey pixel (fraction of full
            scale); it grows with brightness, like shot noise.
        blur: Gaussian blur sigma in pixels (0 sharp).
        rotation: rotation of the board in the frame, degrees.
        scale: zoom (> 1 magnifies); the frame outside the board is the board colour.

    Raises:
        InvalidDataError: a range is not a pair of numbers, has ``low > high`` or leaves
            the field's allowed bounds (``.errors`` lists every problem).

    Example:
        >>> dr = DomainRandomization.wide()
        >>> dr.rotation
        (-180.0, 180.0)
        >>> DomainRandomization.from_dict(dr.to_dict()) == dr
        True
        >>> DomainRandomization(blur=(2.0, 1.0))
        Traceback (most recent call last):
        ...
        sosie.errors.InvalidDataError: invalid data: randomization.blur: expected a (low, high) range with low <= high, found (2.0, 1.0); fix: swap the ends: (1.0, 2.0)
    """

    light_angle: tuple[float, float] = (135.0, 135.0)
    light_intensity: tuple[float, float] = (1.0, 1.0)
    shading: tuple[float, float] = (0.15, 0.15)
    specular: tuple[float, float] = (0.06, 0.06)
    hue: tuple[float, float] = (128.0, 128.0)
    saturation: tuple[float, float] = (0.78, 0.78)
    value: tuple[float, float] = (0.42, 0.42)
    texture: tuple[float, float] = (0.05, 0.05)
    noise: tuple[float, float] = (0.01, 0.01)
    blur: tuple[float, float] = (0.0, 0.0)
    rotation: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for f in fields(self):
            raw = getattr(self, f.name)
            lo_ok, hi_ok, what = _BOUNDS[f.name]
            pair = _pair(raw)
            where = f"randomization.{f.name}"
            if pair is None:
                problems.append(
                    Problem(
                        where,
                        f"a number or a (low, high) pair of finite numbers ({what})",
                        repr(raw),
                        f"write e.g. {f.name}: [{lo_ok:g}, {hi_ok:g}]",
                    )
                )
                continue
            object.__setattr__(self, f.name, pair)
            lo, hi = pair
            if lo > hi:
                problems.append(
                    Problem(
                        where,
                        "a (low, high) range with low <= high",
                        repr(pair),
                        f"swap the ends: ({hi!r}, {lo!r})",
                    )
                )
            elif lo < lo_ok or hi > hi_ok:
                problems.append(
                    Problem(
                        where,
                        f"a range within [{lo_ok:g}, {hi_ok:g}] ({what})",
                        repr(pair),
                        f"clip the range to [{lo_ok:g}, {hi_ok:g}]",
                    )
                )
        if problems:
            raise InvalidDataError(problems)

    # -- presets -----------------------------------------------------------------------
    @classmethod
    def none(cls) -> DomainRandomization:
        """The nominal look, fixed: green board, light from the top left, little noise.

        Example:
            >>> DomainRandomization.none().hue
            (128.0, 128.0)
        """
        return cls()

    @classmethod
    def moderate(cls) -> DomainRandomization:
        """Plausible ranges for one kind of line: what to randomise when training a detector.

        Light from any side at 75-115% intensity, green to blue boards of middling
        brightness, from no to more sensor noise and blur than a typical camera, +-10 degree
        rotation and +-10% zoom. The :meth:`factory` look lies inside these ranges. Measured
        at 48 px (4,000 boards, half defective, a :class:`~sosie.images.DefectDetector` of
        15 epochs): ROC AUC 0.83 on held-out boards of these ranges and 0.84 on the factory
        look, against 0.55 on the factory look when trained on the nominal look alone (and
        0.55 when trained on :meth:`wide`, whose ranges are too broad to learn at that budget).

        Example:
            >>> DomainRandomization.moderate().rotation
            (-10.0, 10.0)
        """
        return cls(
            light_angle=(0.0, 360.0),
            light_intensity=(0.75, 1.15),
            shading=(0.05, 0.4),
            specular=(0.0, 0.2),
            hue=(100.0, 200.0),
            saturation=(0.5, 0.9),
            value=(0.22, 0.5),
            texture=(0.02, 0.12),
            noise=(0.0, 0.05),
            blur=(0.0, 1.0),
            rotation=(-10.0, 10.0),
            scale=(0.9, 1.1),
        )

    @classmethod
    def wide(cls) -> DomainRandomization:
        """Broad ranges of every factor: what a domain-randomised training set uses.

        Any board colour, light from any side, from dim to bright, sharp to blurred,
        clean to noisy, any rotation, 0.8-1.25x zoom. The :meth:`factory` look lies
        inside these ranges.

        Example:
            >>> DomainRandomization.wide().hue
            (0.0, 360.0)
        """
        return cls(
            light_angle=(0.0, 360.0),
            light_intensity=(0.6, 1.4),
            shading=(0.0, 0.45),
            specular=(0.0, 0.3),
            hue=(0.0, 360.0),
            saturation=(0.25, 0.95),
            value=(0.15, 0.65),
            texture=(0.0, 0.15),
            noise=(0.0, 0.06),
            blur=(0.0, 1.2),
            rotation=(-180.0, 180.0),
            scale=(0.8, 1.25),
        )

    @classmethod
    def factory(cls) -> DomainRandomization:
        """A fixed, different camera and board: the held-out "target" domain.

        A darker blue-green board lit from the lower right by a dimmer lamp, more
        sensor noise, a slightly soft lens, and a little jitter in the board's
        rotation and distance.

        Example:
            >>> DomainRandomization.factory().hue
            (172.0, 176.0)
        """
        return cls(
            light_angle=(300.0, 320.0),
            light_intensity=(0.82, 0.9),
            shading=(0.3, 0.35),
            specular=(0.15, 0.18),
            hue=(172.0, 176.0),
            saturation=(0.68, 0.72),
            value=(0.28, 0.31),
            texture=(0.08, 0.1),
            noise=(0.035, 0.045),
            blur=(0.6, 0.8),
            rotation=(-4.0, 4.0),
            scale=(0.95, 1.05),
        )

    @classmethod
    def preset(cls, name: str) -> DomainRandomization:
        """A preset by name: ``"none"``, ``"moderate"``, ``"wide"`` or ``"factory"``.

        Example:
            >>> DomainRandomization.preset("factory") == DomainRandomization.factory()
            True
        """
        if name not in _PRESETS:
            raise InvalidDataError(
                [
                    Problem(
                        "randomization preset",
                        "one of " + ", ".join(_PRESETS),
                        repr(name),
                        _did_you_mean(name, _PRESETS),
                    )
                ]
            )
        return getattr(cls, name)()

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, list[float]]:
        """The ranges as a JSON-friendly dict ``{field: [low, high]}``.

        Example:
            >>> DomainRandomization().to_dict()["scale"]
            [1.0, 1.0]
        """
        return {f.name: [float(v) for v in getattr(self, f.name)] for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str | None) -> DomainRandomization:
        """Build from :meth:`to_dict` output, a preset name, or a partial mapping.

        A mapping may name a ``preset`` to start from; the other keys override its
        ranges (fields not given keep the preset's, or the nominal, values).

        Raises:
            InvalidDataError: an unknown key (named, with the closest valid one), an
                unknown preset or a bad range.

        Example:
            >>> DomainRandomization.from_dict({"preset": "factory", "blur": 0}).blur
            (0.0, 0.0)
            >>> DomainRandomization.from_dict({"blurr": [0, 1]})
            Traceback (most recent call last):
            ...
            sosie.errors.InvalidDataError: invalid data: randomization.blurr: expected one of preset, light_angle, light_intensity, shading, specular, hue, saturation, value, texture, noise, blur, rotation, scale, found an unknown key; fix: did you mean 'blur'?
        """
        if data is None:
            return cls()
        if isinstance(data, DomainRandomization):
            return data
        if isinstance(data, str):
            return cls.preset(data)
        if not isinstance(data, Mapping):
            raise InvalidDataError(
                [
                    Problem(
                        "randomization",
                        "a preset name (none, moderate, wide, factory) or a mapping of ranges",
                        f"a {type(data).__name__}",
                        "write e.g. randomization: wide, or randomization: {blur: [0, 1]}",
                    )
                ]
            )
        names = [f.name for f in fields(cls)]
        valid = ["preset", *names]
        unknown = [k for k in data if k not in valid]
        if unknown:
            raise InvalidDataError(
                [
                    Problem(
                        f"randomization.{k}",
                        "one of " + ", ".join(valid),
                        "an unknown key",
                        _did_you_mean(k, valid),
                    )
                    for k in unknown
                ]
            )
        base = cls.preset(data["preset"]) if "preset" in data else cls()
        values = {n: data.get(n, getattr(base, n)) for n in names}
        return cls(**values)

    # -- drawing -----------------------------------------------------------------------
    def _draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One look: a value per field, drawn uniformly in its range (one vector draw)."""
        names = [f.name for f in fields(self)]
        lo = np.array([getattr(self, n)[0] for n in names])
        hi = np.array([getattr(self, n)[1] for n in names])
        v = rng.uniform(lo, hi)
        return {n: float(x) for n, x in zip(names, v, strict=True)}


# --- colours (RGB in [0, 1]) -------------------------------------------------------------

_SILK = np.array([0.92, 0.92, 0.88], np.float32)
_PAD = np.array([0.76, 0.75, 0.70], np.float32)
_SOLDER = np.array([0.95, 0.95, 0.92], np.float32)
_IC_BODY = np.array([0.12, 0.12, 0.13], np.float32)
_PIN1 = np.array([0.38, 0.38, 0.40], np.float32)
_RES_BODY = np.array([0.07, 0.07, 0.07], np.float32)
_CAP_BODY = np.array([0.68, 0.55, 0.36], np.float32)
_END_CAP = np.array([0.62, 0.62, 0.60], np.float32)
_HOLE = np.array([0.08, 0.07, 0.05], np.float32)
_COPPER = np.array([0.85, 0.58, 0.32], np.float32)
_SCRATCH = (np.array([0.9, 0.87, 0.76], np.float32), np.array([0.05, 0.05, 0.04], np.float32))
_STAINS = (
    np.array([0.55, 0.40, 0.12], np.float32),  # flux residue
    np.array([0.26, 0.18, 0.09], np.float32),  # burn / dirt
    np.array([0.82, 0.78, 0.52], np.float32),  # pale residue
)
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


class _Grids:
    """Per-size constants: normalised coordinates and pixel indices."""

    def __init__(self, size: int):
        ax = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / (size / 2)
        self.x = ax[None, :]  # -1 left .. 1 right
        self.y = -ax[:, None]  # 1 top .. -1 bottom
        self.r2 = self.x**2 + self.y**2
        self.idx = np.arange(size, dtype=np.float32)


_GRID_CACHE: dict[int, _Grids] = {}


def _grids(size: int) -> _Grids:
    g = _GRID_CACHE.get(size)
    if g is None:
        g = _GRID_CACHE[size] = _Grids(size)
    return g


# --- small drawing helpers ---------------------------------------------------------------

Rect = tuple[int, int, int, int]  # y0, x0, y1, x1 (ends exclusive)


def _sl(r: Rect) -> tuple[slice, slice]:
    return slice(max(r[0], 0), max(r[2], 0)), slice(max(r[1], 0), max(r[3], 0))


def _fill(img: np.ndarray, r: Rect, colour: np.ndarray) -> None:
    img[_sl(r)] = colour


def _outline(img: np.ndarray, r: Rect, colour: np.ndarray, t: int) -> None:
    y0, x0, y1, x1 = r
    _fill(img, (y0, x0, y0 + t, x1), colour)
    _fill(img, (y1 - t, x0, y1, x1), colour)
    _fill(img, (y0, x0, y1, x0 + t), colour)
    _fill(img, (y0, x1 - t, y1, x1), colour)


def _local(horizontal: bool, y0: int, x0: int, c0: int, a0: int, c1: int, a1: int) -> Rect:
    """A rect given along/across offsets: along is x for horizontal parts, y otherwise."""
    if horizontal:
        return (y0 + c0, x0 + a0, y0 + c1, x0 + a1)
    return (y0 + a0, x0 + c0, y0 + a1, x0 + c1)


def _centre(r: Rect) -> tuple[float, float]:
    return ((r[0] + r[2] - 1) / 2, (r[1] + r[3] - 1) / 2)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((h % 360.0) / 360.0, s, v), np.float32)


# --- the simulator -----------------------------------------------------------------------


def _int_range(value: Any) -> tuple[int, int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return (int(value[0]), int(value[1]))
    return None


_PARAMS = (
    "size",
    "channels",
    "defect_rate",
    "defect_types",
    "defects_per_image",
    "n_components",
    "randomization",
    "verbose",
    "rng",
)


class CircuitBoardSimulator:
    """Procedural images of printed circuit boards, some with a defect.

    Each image is a board seen from above: substrate colour and weave, copper traces,
    vias, pads, silkscreen and 4-9 components on a grid of cells. A share
    ``defect_rate`` of the images gets a defect (type drawn uniformly from
    ``defect_types``); their label is the defect type, the others' is ``"ok"``. Masks
    mark each defect's pixels (instance ``k`` for the ``k``-th annotation of the
    image) and the annotations give its category and box ``[x, y, w, h]``, both after
    the image's rotation and zoom. The look of each image is drawn from
    ``randomization``.

    What a mask marks: the line of a ``scratch``, the blotch of a ``stain``, the
    solder of a ``solder_bridge`` (both pins' exposed ends, the gap between them and
    the bulge) and the place of the absent body of a ``missing_component``. Defects
    are placed where they stay in the frame after rotation and zoom; one that still
    falls out is dropped (its image keeps the others, and an image that would lose
    all of them is drawn again). ``missing_component`` picks distinct components, so
    an image has at most as many as its board has components.

    Speed: about 770 (``"none"``) and 440 (``"wide"``) 64-pixel images per second on
    one CPU core, rendering only; ``ImageBatch.save`` (PNG files, fsync) costs more
    than rendering (see ``benchmarks/results/image_simulator.md``).

    Args:
        size: image height and width in pixels (32-1024); geometry scales with it.
            The board's cells must be at least 14 pixels wide: 48 pixels fit 9
            components, 64 pixels 16.
        channels: 3 (RGB) or 1 (grayscale).
        defect_rate: share of images with a defect, in ``[0, 1]``.
        defect_types: which defects to draw (a non-empty subset of
            :data:`DEFECT_TYPES`); the classes are ``("ok", *defect_types)``.
        defects_per_image: how many defects a defective image has, an ``int`` or an
            inclusive ``(low, high)`` range; all of the image's defects are of its type.
        n_components: components per board, an ``int`` or an inclusive ``(low, high)``
            range (1-16); the board is a grid of ``ceil(sqrt(high))`` squared cells.
        randomization: a :class:`DomainRandomization`, a preset name (``"none"``,
            ``"wide"``, ``"factory"``) or a mapping for
            :meth:`DomainRandomization.from_dict`; ``None`` is ``"none"``.
        verbose: show a progress bar when sampling 1,000 images or more.
        rng: seed of the stream that :meth:`sample` continues when called without
            ``rng``: ``None``, an ``int``, a ``SeedSequence`` or a numpy ``Generator``.

    Example:
        >>> sim = CircuitBoardSimulator(size=48, rng=1)
        >>> b = sim.sample(3, conditions={"label": "stain"}, verbose=False)
        >>> list(b.label_names), b.annotations[0][0]["category"]
        (['stain', 'stain', 'stain'], 'stain')
        >>> bool((b.masks[0] > 0).any())
        True
    """

    def __init__(
        self,
        size: int = 64,
        channels: int = 3,
        defect_rate: float = 0.02,
        defect_types: Sequence[str] = DEFECT_TYPES,
        *,
        defects_per_image: int | tuple[int, int] = (1, 1),
        n_components: int | tuple[int, int] = (4, 9),
        randomization: DomainRandomization | str | Mapping[str, Any] | None = None,
        verbose: bool = True,
        rng: RNGLike = None,
    ):
        self.size = size
        self.channels = channels
        self.defect_rate = defect_rate
        self.defect_types = defect_types
        self.defects_per_image = defects_per_image
        self.n_components = n_components
        self.randomization = randomization
        self.verbose = verbose
        self.rng = rng

    # -- validation --------------------------------------------------------------------
    def _problems(self) -> list[Problem]:
        p: list[Problem] = []
        size = self.size
        if (
            isinstance(size, bool)
            or not isinstance(size, (int, np.integer))
            or not 32 <= size <= 1024
        ):
            p.append(Problem("size", "an integer from 32 to 1024", repr(size), "use e.g. size=64"))
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            p.append(
                Problem("channels", "1 (grayscale) or 3 (RGB)", repr(self.channels), "use 3 or 1")
            )
        rate = self.defect_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float, np.integer, np.floating))
            or not 0.0 <= float(rate) <= 1.0
        ):
            p.append(
                Problem(
                    "defect_rate",
                    "a share in [0, 1]",
                    repr(rate),
                    "use e.g. defect_rate=0.02 for 2% defective boards",
                )
            )
        types = self.defect_types
        if isinstance(types, str) or not isinstance(types, Sequence) or not len(types):
            p.append(
                Problem(
                    "defect_types",
                    "a non-empty list of " + ", ".join(DEFECT_TYPES),
                    repr(types),
                    f"use e.g. defect_types={list(DEFECT_TYPES)}",
                )
            )
        else:
            for t in types:
                if t not in DEFECT_TYPES:
                    p.append(
                        Problem(
                            f"defect_types item {t!r}",
                            "one of " + ", ".join(DEFECT_TYPES),
                            "an unknown defect type",
                            _did_you_mean(str(t), DEFECT_TYPES),
                        )
                    )
            if len(set(types)) != len(types):
                p.append(
                    Problem("defect_types", "distinct names", repr(list(types)), "drop duplicates")
                )
        for name, lo_ok, hi_ok in (("defects_per_image", 1, 10), ("n_components", 1, 16)):
            raw = getattr(self, name)
            pair = _int_range(raw)
            if pair is None or not lo_ok <= pair[0] <= pair[1] <= hi_ok:
                p.append(
                    Problem(
                        name,
                        f"an integer or an inclusive (low, high) range with "
                        f"{lo_ok} <= low <= high <= {hi_ok}",
                        repr(raw),
                        f"use e.g. {name}=({lo_ok}, {min(hi_ok, 3 if lo_ok == 1 else 9)})",
                    )
                )
        pair = _int_range(self.n_components)
        if not p and pair is not None:
            cell = int(self.size) / math.ceil(math.sqrt(pair[1]))
            if cell < 14:
                p.append(
                    Problem(
                        "n_components",
                        f"at most {min(16, (int(self.size) // 14) ** 2)} components on a {self.size}-pixel "
                        "board (cells of >= 14 pixels)",
                        repr(self.n_components),
                        "lower the upper end or raise size",
                    )
                )
        if not isinstance(self.verbose, bool):
            p.append(Problem("verbose", "True or False", repr(self.verbose), "pass a bool"))
        return p

    def _check(self) -> DomainRandomization:
        problems = self._problems()
        try:
            dr = DomainRandomization.from_dict(self.randomization)  # type: ignore[arg-type]
        except InvalidDataError as e:
            problems += e.errors
            dr = None
        if problems:
            raise InvalidDataError(problems)
        if not isinstance(self.rng, np.random.Generator):
            as_seed_sequence(self.rng)  # a clear TypeError / ValueError for a bad seed
        assert dr is not None
        return dr

    @property
    def classes(self) -> tuple[str, ...]:
        """``("ok", *defect_types)``: the class names of the batches.

        Example:
            >>> CircuitBoardSimulator(defect_types=["stain"]).classes
            ('ok', 'stain')
        """
        return ("ok", *(str(t) for t in self.defect_types))

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-friendly dict (what :meth:`from_dict` reads).

        ``rng`` is kept when it is ``None`` or an ``int``; a ``Generator`` or
        ``SeedSequence`` is written as ``None`` (record the batch ``meta`` instead).

        Example:
            >>> d = CircuitBoardSimulator(size=48, rng=3).to_dict()
            >>> d["size"], d["rng"], d["randomization"]["blur"]
            (48, 3, [0.0, 0.0])
        """
        dr = DomainRandomization.from_dict(self.randomization)  # type: ignore[arg-type]
        rng = self.rng
        rng_value = (
            int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) else None
        )
        dpi = _int_range(self.defects_per_image)
        nc = _int_range(self.n_components)
        return {
            "size": int(self.size),
            "channels": int(self.channels),
            "defect_rate": float(self.defect_rate),
            "defect_types": [str(t) for t in self.defect_types],
            "defects_per_image": list(dpi) if dpi else self.defects_per_image,
            "n_components": list(nc) if nc else self.n_components,
            "randomization": dr.to_dict(),
            "verbose": bool(self.verbose),
            "rng": rng_value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "spec") -> CircuitBoardSimulator:
        """Build and validate a simulator from a dict (e.g. parsed YAML).

        Keys are the constructor's arguments (all optional); ``randomization`` is a
        preset name or a mapping of ranges (with an optional ``preset`` to start from).
        ``name`` and ``description`` are allowed and ignored. Ranges are written as
        two-item lists.

        Raises:
            InvalidDataError: unknown keys (with the closest valid name), bad values or
                ranges; every problem at once, each naming its key.

        Example:
            >>> sim = CircuitBoardSimulator.from_dict({"size": 48, "randomization": "wide"})
            >>> sim.to_dict()["randomization"]["hue"]
            [0.0, 360.0]
            >>> CircuitBoardSimulator.from_dict({"defect_rat": 0.1})
            Traceback (most recent call last):
            ...
            sosie.errors.InvalidDataError: invalid data: spec key 'defect_rat': expected one of size, channels, defect_rate, defect_types, defects_per_image, n_components, randomization, verbose, rng, found an unknown key; fix: did you mean 'defect_rate'?
        """
        if not isinstance(data, Mapping):
            raise InvalidDataError(
                [
                    Problem(
                        source,
                        "a mapping of simulator parameters",
                        f"a {type(data).__name__}",
                        "write key: value pairs (see sosie/examples/images/circuit_board.yaml)",
                    )
                ]
            )
        unknown = [k for k in data if k not in _PARAMS and k not in ("name", "description")]
        if unknown:
            raise InvalidDataError(
                [
                    Problem(
                        f"{source} key {k!r}",
                        "one of " + ", ".join(_PARAMS),
                        "an unknown key",
                        _did_you_mean(str(k), _PARAMS),
                    )
                    for k in unknown
                ]
            )
        kwargs = {k: v for k, v in data.items() if k in _PARAMS}
        for k in ("defects_per_image", "n_components"):
            if isinstance(kwargs.get(k), list):
                kwargs[k] = tuple(kwargs[k])
        sim = cls(**kwargs)
        sim._check()
        return sim

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> CircuitBoardSimulator:
        """Read a simulator spec from a YAML file (keys as in :meth:`from_dict`).

        Raises:
            DataSourceError: the file cannot be read.
            InvalidDataError: the YAML is malformed, or a key or range is bad (named with
                the file, the key, what was expected and how to fix it).

        Example:
            >>> from importlib import resources
            >>> path = resources.files("sosie") / "examples" / "images" / "circuit_board.yaml"
            >>> CircuitBoardSimulator.from_yaml(str(path)).size
            64
        """
        import yaml

        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise DataSourceError(
                [Problem(str(p), "a readable YAML file", type(e).__name__, "check the path")]
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InvalidDataError(
                [Problem(p.name, "valid YAML", str(e).replace("\n", " "), "fix the syntax")]
            ) from None
        return cls.from_dict(data if data is not None else {}, source=p.name)

    # -- sampling ----------------------------------------------------------------------
    def _next_seed(self, rng: RNGLike) -> np.random.SeedSequence:
        if rng is not None:
            return as_seed_sequence(rng)
        if getattr(self, "_entropy_", None) is None:
            seq = as_seed_sequence(self.rng)
            self._entropy_ = seq.entropy
            self._key_ = tuple(seq.spawn_key)
            self._calls_ = 0
        seq = child_seed_sequence(self._entropy_, *self._key_, self._calls_)
        self._calls_ += 1
        return seq

    def _labels(
        self, n: int, conditions: Mapping[str, Any] | None, rng: np.random.Generator
    ) -> np.ndarray:
        classes = self.classes
        if conditions is None:
            defective = rng.random(n) < float(self.defect_rate)
            kind = rng.integers(0, len(classes) - 1, size=n)
            return np.where(defective, kind + 1, 0).astype(np.int64)
        if not isinstance(conditions, Mapping) or set(conditions) != {"label"}:
            keys = list(conditions) if isinstance(conditions, Mapping) else conditions
            raise ConditionError(
                [
                    Problem(
                        "conditions",
                        "a dict with the one key 'label'",
                        repr(keys),
                        "pass conditions={'label': 'scratch'} (or a list of n names, "
                        "or a dict of counts)",
                    )
                ]
            )
        spec = conditions["label"]
        index = {c: i for i, c in enumerate(classes)}

        def unknown(names: Sequence[Any]) -> ConditionError:
            return ConditionError(
                [
                    Problem(
                        "conditions['label']",
                        "class names among " + ", ".join(classes),
                        repr(sorted({str(v) for v in names if v not in index})),
                        "use one of the classes (defect_types must include a defect to ask for it)",
                    )
                ]
            )

        if isinstance(spec, str):
            if spec not in index:
                raise unknown([spec])
            return np.full(n, index[spec], np.int64)
        if isinstance(spec, Mapping):
            if any(k not in index for k in spec):
                raise unknown(list(spec))
            counts = {}
            for k, v in spec.items():
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                    raise ConditionError(
                        [
                            Problem(
                                f"conditions['label'][{k!r}]",
                                "a count >= 0",
                                repr(v),
                                "give an integer number of images per class",
                            )
                        ]
                    )
                counts[k] = int(v)
            if sum(counts.values()) != n:
                raise ConditionError(
                    [
                        Problem(
                            "conditions['label']",
                            f"counts summing to n ({n})",
                            f"a total of {sum(counts.values())}",
                            "make the counts add up to the number of images asked for",
                        )
                    ]
                )
            labels = np.concatenate(
                [np.full(c, index[k], np.int64) for k, c in counts.items()]
                + [np.zeros(0, np.int64)]
            )
            return rng.permutation(labels)
        if isinstance(spec, (Sequence, np.ndarray)):
            names = list(spec)
            if len(names) != n:
                raise ConditionError(
                    [
                        Problem(
                            "conditions['label']",
                            f"one class name per image ({n})",
                            f"{len(names)} names",
                            "pass a list as long as n",
                        )
                    ]
                )
            if any(v not in index for v in names):
                raise unknown(names)
            return np.array([index[v] for v in names], np.int64)
        raise ConditionError(
            [
                Problem(
                    "conditions['label']",
                    "a class name, a list of n names or a dict of counts",
                    f"a {type(spec).__name__}",
                    "pass e.g. {'label': 'scratch'}",
                )
            ]
        )

    def sample(
        self,
        n: int,
        *,
        conditions: Mapping[str, Any] | None = None,
        rng: RNGLike = None,
        verbose: bool | None = None,
    ) -> ImageBatch:
        """Render ``n`` board images.

        Args:
            n: number of images (>= 0).
            conditions: ``None`` draws each label (a defect with probability
                ``defect_rate``, its type uniformly among ``defect_types``). Otherwise
                ``{"label": value}`` where value is one class name for every image
                (``"ok"``, ``"scratch"``, ...), a list of ``n`` class names, or a dict
                of counts per class summing to ``n`` (``{"ok": 980, "scratch": 20}``;
                the images come in a shuffled order).
            rng: seed for this call alone; by default the stream seeded by the
                constructor's ``rng`` continues (repeated calls differ, the sequence is
                reproducible).
            verbose: override the constructor's ``verbose`` for this call.

        Returns:
            An :class:`~sosie.images.ImageBatch` with ``labels``, ``classes``,
            ``masks`` and ``annotations``; ``meta`` records the parameters, the
            randomisation ranges and the seed (``meta["rng"]``: pass
            ``SeedSequence(entropy, spawn_key=spawn_key)`` as ``rng`` to redo the call).

        Raises:
            InvalidDataError: a bad parameter (every problem at once).
            ConditionError: ``conditions`` names an unknown class or has the wrong shape.

        Example:
            >>> sim = CircuitBoardSimulator(size=48, rng=0)
            >>> a = sim.sample(2, rng=5, verbose=False)
            >>> b = sim.sample(2, rng=5, verbose=False)
            >>> bool((a.images == b.images).all())
            True
            >>> sim.sample(4, conditions={"label": {"ok": 3, "scratch": 1}}, verbose=False).counts()
            {'ok': 3, 'scratch': 1, 'missing_component': 0, 'solder_bridge': 0, 'stain': 0}
        """
        dr = self._check()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InvalidDataError(
                [Problem("n", "an integer >= 0", repr(n), "ask for a number of images")]
            )
        n = int(n)
        seq = self._next_seed(rng)
        label_seq, image_seq = seq.spawn(2)
        labels = self._labels(n, conditions, as_generator(label_seq))
        size, channels = int(self.size), int(self.channels)
        images = np.empty((n, size, size, channels), np.uint8)
        masks = np.zeros((n, size, size), np.int32)
        annotations: list[list[dict[str, Any]]] = []
        renderer = _Renderer(self, dr)
        show = self.verbose if verbose is None else bool(verbose)
        with _progress(show and n >= 1000, n) as advance:
            for i in range(n):
                child = np.random.SeedSequence(
                    image_seq.entropy, spawn_key=(*image_seq.spawn_key, i)
                )
                label = self.classes[labels[i]] if labels[i] else None
                img, mask, anns = renderer.render(child, label)
                images[i] = img
                masks[i] = mask
                annotations.append(anns)
                if (i + 1) % 128 == 0 or i + 1 == n:
                    advance(i + 1)
        meta = {
            "generator": "CircuitBoardSimulator",
            "parameters": self.to_dict(),
            "randomization": dr.to_dict(),
            "conditions": _jsonable(conditions),
            "rng": {"entropy": seq.entropy, "spawn_key": [int(k) for k in seq.spawn_key]},
        }
        return ImageBatch(
            images,
            labels=labels,
            classes=self.classes,
            masks=masks,
            annotations=annotations,
            meta=meta,
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in _PARAMS if k != "verbose")
        return f"CircuitBoardSimulator({args})"


def _jsonable(conditions: Any) -> Any:
    if conditions is None:
        return None
    label = conditions.get("label") if isinstance(conditions, Mapping) else None
    if isinstance(label, str):
        return {"label": label}
    if isinstance(label, Mapping):
        return {"label": {str(k): int(v) for k, v in label.items()}}
    return {"label": "per image"}


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    """A rich progress bar (``advance(done)``); a no-op when not enabled."""
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("circuit boards"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as p:
        task = p.add_task("render", total=total)
        yield lambda done: p.update(task, completed=done)


# --- rendering ---------------------------------------------------------------------------


class _Renderer:
    """Draws one image at a time for a validated simulator."""

    def __init__(self, sim: CircuitBoardSimulator, dr: DomainRandomization):
        self.size = s = int(sim.size)
        self.channels = int(sim.channels)
        self.dr = dr
        self.u = s / 64.0
        self.n_comp = _int_range(sim.n_components)
        self.n_def = _int_range(sim.defects_per_image)
        self.g = math.ceil(math.sqrt(self.n_comp[1]))  # type: ignore[index]
        self.grids = _grids(s)

    def px(self, k: float, least: int = 1) -> int:
        """``k`` pixels at 64 px, scaled to this size."""
        return max(least, round(k * self.u))

    # -- one image ---------------------------------------------------------------------
    def render(
        self, seq: np.random.SeedSequence, label: str | None
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        board_seq, look_seq, defect_seq = seq.spawn(3)
        board_rng = np.random.Generator(np.random.PCG64(board_seq))
        look_rng = np.random.Generator(np.random.PCG64(look_seq))
        layout = self.layout(board_rng)
        look = self.dr._draw(look_rng)
        look_state = look_rng.bit_generator.state
        geo = self.geometry(look)
        if label is None:
            img, mask = self.draw(layout, look, look_rng, geo, [])
            return img, mask, []
        defect_rng = np.random.Generator(np.random.PCG64(defect_seq))
        for _ in range(20):
            plan = self.plan(label, layout, geo, defect_rng)
            look_rng.bit_generator.state = look_state  # the same look for every attempt
            img, mask = self.draw(layout, look, look_rng, geo, plan)
            slices = ndimage.find_objects(mask)
            anns, new_ids = [], np.zeros(len(plan) + 1, np.int32)
            for k, sl in enumerate(slices, start=1):
                if sl is None:
                    continue
                new_ids[k] = len(anns) + 1
                ys, xs = sl
                anns.append(
                    {
                        "category": label,
                        "bbox": [xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start],
                    }
                )
            if anns:
                if len(anns) < len(plan):
                    mask = new_ids[mask]
                return img, mask, anns
        raise RuntimeError(  # pragma: no cover - would be a bug in the placement
            f"could not place a visible {label!r} defect in 20 attempts"
        )

    # -- the board ---------------------------------------------------------------------
    def layout(self, rng: np.random.Generator) -> dict[str, Any]:
        s, g = self.size, self.g
        lo, hi = self.n_comp  # type: ignore[misc]
        n = int(rng.integers(lo, hi + 1))
        cells = rng.choice(g * g, size=n, replace=False)
        cs = s / g
        m = self.px(1)  # gap between footprint and silkscreen line
        t = self.px(1)  # line thickness
        comps = []
        for j, cell in enumerate(cells.tolist()):
            cy0, cx0 = round((cell // g) * cs), round((cell % g) * cs)
            room = math.floor(cs) - 2 * (m + t) - 1
            kind = (
                "ic" if j == 0 or rng.random() < 0.3 else ("res" if rng.random() < 0.5 else "cap")
            )
            horizontal = bool(rng.random() < 0.5)
            comp = (
                self._ic(rng, room, horizontal)
                if kind == "ic"
                else self._chip(rng, room, horizontal, kind)
            )
            fa, fc = comp.pop("extent")  # along, across
            fh, fw = (fc, fa) if horizontal else (fa, fc)
            y0 = cy0 + m + t + 1 + int(rng.integers(0, max(room - fh, 0) + 1))
            x0 = cx0 + m + t + 1 + int(rng.integers(0, max(room - fw, 0) + 1))
            comp = self._place(comp, y0, x0, horizontal)
            comp["silk"] = (y0 - m - t, x0 - m - t, y0 + fh + m + t, x0 + fw + m + t)
            comp["mark"] = None
            if rng.random() < 0.6:  # a reference-designator stub next to the outline
                sy, sx = comp["silk"][0], comp["silk"][1]
                comp["mark"] = (sy - t - self.px(1), sx, sy - self.px(1), sx + self.px(3))
            comps.append(comp)
        # traces: L-shaped paths between pads of different components, or to an edge
        tw = self.px(1)
        traces, vias = [], []
        for _ in range(int(rng.integers(n, 2 * n + 2))):
            a = comps[int(rng.integers(n))]
            pa = _centre(a["pads"][int(rng.integers(len(a["pads"])))])
            if n > 1 and rng.random() < 0.8:
                b = comps[int(rng.integers(n))]
                pb = _centre(b["pads"][int(rng.integers(len(b["pads"])))])
            else:
                side = int(rng.integers(4))
                pb = (
                    (0.0, pa[1])
                    if side == 0
                    else (s - 1.0, pa[1])
                    if side == 1
                    else (pa[0], 0.0)
                    if side == 2
                    else (pa[0], s - 1.0)
                )
            ya, xa, yb, xb = int(pa[0]), int(pa[1]), int(pb[0]), int(pb[1])
            corner = (ya, xb) if rng.random() < 0.5 else (yb, xa)
            for (y1, x1), (y2, x2) in (((ya, xa), corner), (corner, (yb, xb))):
                traces.append((min(y1, y2), min(x1, x2), max(y1, y2) + tw, max(x1, x2) + tw))
            if rng.random() < 0.35:
                vias.append(corner)
        for _ in range(int(rng.integers(0, 4))):
            vias.append((int(rng.integers(2, s - 2)), int(rng.integers(2, s - 2))))
        return {
            "comps": comps,
            "traces": traces,
            "vias": vias,
            "texture_phase": rng.uniform(0, 2 * np.pi, 2),
            "texture_period": float(rng.uniform(3.0, 5.0)) * self.u,
        }

    def _ic(self, rng: np.random.Generator, room: int, horizontal: bool) -> dict[str, Any]:
        pitch, gap = self.px(3, 2), self.px(1)
        pin_len = self.px(float(rng.integers(2, 4)), 2)
        inset = self.px(1)
        npin_max = max(2, (room - gap) // pitch)
        npin = int(rng.integers(min(3, npin_max), min(5, npin_max) + 1))
        along = npin * pitch + gap
        body_max = max(3, room - 2 * pin_len)
        body = min(self.px(float(rng.integers(5, 9)), 3), body_max)
        pins: list[list[tuple[int, int, int, int]]] = [[], []]
        for k in range(npin):
            a0 = gap + k * pitch
            # local rects as (c0, a0, c1, a1): across first, along second
            pins[0].append((0, a0, pin_len + inset, a0 + pitch - gap))
            pins[1].append((pin_len + body - inset, a0, 2 * pin_len + body, a0 + pitch - gap))
        return {
            "kind": "ic",
            "extent": (along, body + 2 * pin_len),
            "body": (pin_len, 0, pin_len + body, along),
            "sides": pins,
            "pin1": (pin_len + self.px(1), self.px(1), pin_len + self.px(3, 2), self.px(3, 2)),
            "caps": [],
        }

    def _chip(
        self, rng: np.random.Generator, room: int, horizontal: bool, kind: str
    ) -> dict[str, Any]:
        pad_a = self.px(3, 2)
        pad_c = self.px(float(rng.integers(3, 5)), 3)
        gap = self.px(float(rng.integers(2, 5)), 2)
        along = min(2 * pad_a + gap, room)
        e = self.px(1)
        inner = e if pad_c >= 4 else 0
        cap = self.px(1)
        return {
            "kind": kind,
            "extent": (along, pad_c),
            "body": (inner, e, pad_c - inner, along - e),
            "sides": [[(0, 0, pad_c, pad_a)], [(0, along - pad_a, pad_c, along)]],
            "pin1": None,
            "caps": [
                (inner, e, pad_c - inner, e + cap),
                (inner, along - e - cap, pad_c - inner, along - e),
            ],
        }

    @staticmethod
    def _place(comp: dict[str, Any], y0: int, x0: int, horizontal: bool) -> dict[str, Any]:
        def at(r: tuple[int, int, int, int]) -> Rect:
            c0, a0, c1, a1 = r
            return _local(horizontal, y0, x0, c0, a0, c1, a1)

        sides = [[at(r) for r in side] for side in comp["sides"]]
        return {
            "kind": comp["kind"],
            "horizontal": horizontal,
            "body": at(comp["body"]),
            "sides": sides,
            "pads": [r for side in sides for r in side],
            "pin1": at(comp["pin1"]) if comp["pin1"] else None,
            "caps": [at(r) for r in comp["caps"]],
        }

    # -- look and geometry -------------------------------------------------------------
    def geometry(self, look: dict[str, float]) -> tuple[np.ndarray, np.ndarray] | None:
        """Output -> input affine ``(matrix, offset)``, or None for the identity."""
        rot, scale = look["rotation"], look["scale"]
        if abs(rot) < 1e-9 and abs(scale - 1.0) < 1e-9:
            return None
        a = math.radians(rot)
        cos, sin = math.cos(a), math.sin(a)
        m = np.array([[cos, -sin], [sin, cos]]) / scale
        c = np.full(2, (self.size - 1) / 2)
        return m, c - m @ c

    def visible(self, geo: tuple[np.ndarray, np.ndarray] | None, y: float, x: float) -> bool:
        """Whether the board point ``(y, x)`` lands inside the frame (3-pixel margin)."""
        hi = self.size - 1 - 3
        if geo is None:
            return 3 <= y <= hi and 3 <= x <= hi
        m, off = geo
        o = np.linalg.solve(m, np.array([y, x]) - off)
        return bool(3 <= o[0] <= hi and 3 <= o[1] <= hi)

    # -- defects -----------------------------------------------------------------------
    def plan(
        self,
        label: str,
        layout: dict[str, Any],
        geo: tuple[np.ndarray, np.ndarray] | None,
        rng: np.random.Generator,
    ) -> list[dict[str, Any]]:
        lo, hi = self.n_def  # type: ignore[misc]
        k = int(rng.integers(lo, hi + 1))
        comps = layout["comps"]
        out: list[dict[str, Any]] = []
        if label == "missing_component":
            seen = [i for i, c in enumerate(comps) if self.visible(geo, *_centre(c["body"]))]
            pool = seen or list(range(len(comps)))
            for i in rng.permutation(pool)[:k]:
                out.append({"type": label, "component": int(i)})
            return out
        if label == "solder_bridge":
            ics = [i for i, c in enumerate(comps) if c["kind"] == "ic"]
            seen = [i for i in ics if self.visible(geo, *_centre(comps[i]["body"]))]
            pool = seen or ics
            for _ in range(k):
                c = comps[int(pool[int(rng.integers(len(pool)))])]
                side = c["sides"][int(rng.integers(2))]
                j = int(rng.integers(len(side) - 1))
                out.append({"type": label, "pixels": self._bridge(c, side[j], side[j + 1])})
            return out
        for _ in range(k):
            y, x = self._visible_point(geo, rng)
            if label == "scratch":
                out.append({"type": label, **self._scratch(rng, y, x)})
            else:
                out.append({"type": label, **self._stain(rng, y, x)})
        return out

    def _visible_point(
        self, geo: tuple[np.ndarray, np.ndarray] | None, rng: np.random.Generator
    ) -> tuple[float, float]:
        s = self.size
        for _ in range(30):
            y, x = rng.uniform(0.1 * s, 0.9 * s, 2)
            if self.visible(geo, y, x):
                return float(y), float(x)
        if geo is None:
            return (s - 1) / 2, (s - 1) / 2
        m, off = geo  # the board point seen at the centre of the frame
        c = m @ np.full(2, (s - 1) / 2) + off
        return float(c[0]), float(c[1])

    def _bridge(self, comp: dict[str, Any], p: Rect, q: Rect) -> list[Rect]:
        """Rects covering the exposed parts of two adjacent pins, the gap and a bulge."""
        body = comp["body"]
        h = comp["horizontal"]
        ax = 0 if h else 1  # across-axis index into (y, x)
        # exposed part of each pin: the side away from the body
        outward = -1 if p[ax] < body[ax] else 1
        if outward < 0:
            c0, c1 = p[ax], body[ax]
        else:
            c0, c1 = body[ax + 2], p[ax + 2]
        a0, a1 = p[1 - ax], q[3 - ax]
        b = self.px(1)
        core = (c0, a0, c1, a1)
        bulge = (c0 - b, a0 + 1, c0, a1 - 1) if outward < 0 else (c1, a0 + 1, c1 + b, a1 - 1)
        rects = [core, bulge]
        if h:
            return rects
        return [(r[1], r[0], r[3], r[2]) for r in rects]

    def _scratch(self, rng: np.random.Generator, y: float, x: float) -> dict[str, Any]:
        s = self.size
        length = rng.uniform(0.25, 0.6) * s
        a = rng.uniform(0, np.pi)
        d = np.array([math.sin(a), math.cos(a)]) * length / 2
        p0, p1 = np.array([y, x]) - d, np.array([y, x]) + d
        bend = rng.uniform(-0.2, 0.2) * length
        ctrl = np.array([y, x]) + np.array([math.cos(a), -math.sin(a)]) * bend
        t = np.linspace(0.0, 1.0, int(2 * length) + 2)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1
        width = self.px(float(rng.uniform(0.7, 1.6)))
        if width > 1:
            normal = np.array([math.cos(a), -math.sin(a)])
            pts = np.concatenate([pts + normal * (w - (width - 1) / 2) for w in range(width)])
        ij = np.round(pts).astype(np.int64)
        keep = ((ij >= 0) & (ij < s)).all(axis=1)
        bright = rng.random() < 0.7
        return {
            "ys": ij[keep, 0],
            "xs": ij[keep, 1],
            "colour": _SCRATCH[0] if bright else _SCRATCH[1],
            "alpha": float(rng.uniform(0.7, 0.95)),
        }

    def _stain(self, rng: np.random.Generator, y: float, x: float) -> dict[str, Any]:
        r = rng.uniform(3.5, 8.0) * self.u
        h = math.ceil(r)
        win = 2 * h + 1
        field = ndimage.gaussian_filter(rng.standard_normal((win, win)), sigma=max(1.0, r / 3))
        field /= field.std() + 1e-9
        yy, xx = np.mgrid[-h : h + 1, -h : h + 1]
        score = 1.0 - np.sqrt(yy**2 + xx**2) / r + 0.3 * field
        blob = score > 0.2
        need = min(int(0.3 * np.pi * r * r), score.size)
        if blob.sum() < need:  # keep the blotch a sensible size whatever the noise did
            blob = score >= np.partition(score.ravel(), -need)[-need]
        blob[h, h] = True
        alpha = float(rng.uniform(0.35, 0.6)) * np.clip(0.6 + score, 0.6, 1.0)
        colour = _STAINS[int(rng.integers(len(_STAINS)))]
        return {
            "y0": round(y) - h,
            "x0": round(x) - h,
            "blob": blob,
            "alpha": alpha.astype(np.float32),
            "colour": colour,
        }

    # -- drawing -----------------------------------------------------------------------
    def draw(
        self,
        layout: dict[str, Any],
        look: dict[str, float],
        rng: np.random.Generator,
        geo: tuple[np.ndarray, np.ndarray] | None,
        plan: list[dict[str, Any]],
    ) -> tuple[np.ndarray, np.ndarray]:
        s, gr = self.size, self.grids
        t = self.px(1)
        base = _hsv(look["hue"], look["saturation"], look["value"])
        # substrate: base colour modulated by a fibre-glass weave and mottling
        period, (py, px) = layout["texture_period"], layout["texture_phase"]
        wy = np.sin(2 * np.pi * gr.idx / period + py)
        wx = np.sin(2 * np.pi * gr.idx / period + px)
        weave = wy[:, None] * wx[None, :]
        mottle = rng.standard_normal((s, s), dtype=np.float32)
        tex = 1.0 + look["texture"] * (0.6 * weave + 0.5 * mottle)
        img = base[None, None, :] * tex[:, :, None]
        mask = np.zeros((s, s), np.int32)
        # copper traces under the solder mask: a lighter, warmer tone of the board
        trace = np.clip((0.7 * base + 0.3 * _COPPER) * 1.2 + 0.03, 0, 1)
        for r in layout["traces"]:
            _fill(img, r, trace)
        v = self.px(1)
        for y, x in layout["vias"]:
            _fill(img, (y - v, x - v, y + v + 1, x + v + 1), _PAD)
            if 0 <= y < s and 0 <= x < s:
                img[y, x] = _HOLE
        missing = {d["component"] for d in plan if d["type"] == "missing_component"}
        comps = layout["comps"]
        for c in comps:
            _outline(img, c["silk"], _SILK, t)
            if c["mark"] is not None:
                _fill(img, c["mark"], _SILK)
        for c in comps:
            for r in c["pads"]:
                _fill(img, r, _PAD)
        for i, c in enumerate(comps):
            if i in missing:
                continue
            body = _IC_BODY if c["kind"] == "ic" else _RES_BODY if c["kind"] == "res" else _CAP_BODY
            _fill(img, c["body"], body)
            for r in c["caps"]:
                _fill(img, r, _END_CAP)
            if c["pin1"] is not None:
                _fill(img, c["pin1"], _PIN1)
        # defects, in plan order (instance k = k-th item)
        for k, d in enumerate(plan, start=1):
            kind = d["type"]
            if kind == "missing_component":
                mask[_sl(comps[d["component"]]["body"])] = k
            elif kind == "solder_bridge":
                for r in d["pixels"]:
                    _fill(img, r, _SOLDER)
                    mask[_sl(r)] = k
            elif kind == "scratch":
                ys, xs, a = d["ys"], d["xs"], d["alpha"]
                img[ys, xs] = img[ys, xs] * (1 - a) + d["colour"] * a
                mask[ys, xs] = k
            else:  # stain
                y0, x0, blob = d["y0"], d["x0"], d["blob"]
                wy0, wx0 = max(y0, 0), max(x0, 0)
                wy1, wx1 = min(y0 + blob.shape[0], s), min(x0 + blob.shape[1], s)
                if wy1 <= wy0 or wx1 <= wx0:
                    continue
                sub = blob[wy0 - y0 : wy1 - y0, wx0 - x0 : wx1 - x0]
                a = (d["alpha"][wy0 - y0 : wy1 - y0, wx0 - x0 : wx1 - x0] * sub)[..., None]
                patch = img[wy0:wy1, wx0:wx1]
                img[wy0:wy1, wx0:wx1] = patch * (1 - a) + d["colour"] * a
                mask[wy0:wy1, wx0:wx1][sub] = k
        # camera: rotation and zoom (frame outside the board = board colour)
        if geo is not None:
            m, off = geo
            img = np.stack(
                [
                    ndimage.affine_transform(
                        img[..., ch], m, off, order=1, mode="grid-constant", cval=float(base[ch])
                    )
                    for ch in range(3)
                ],
                axis=-1,
            )
            if plan:
                mask = ndimage.affine_transform(mask, m, off, order=0, mode="grid-constant", cval=0)
        # lighting: gradient along the light direction, intensity, a soft highlight
        ang = math.radians(look["light_angle"])
        lx, ly = math.cos(ang), math.sin(ang)
        shade = look["light_intensity"] * (1.0 + look["shading"] * (lx * gr.x + ly * gr.y))
        img = img * shade[:, :, None]
        if look["specular"] > 0:
            d2 = (gr.x - 0.5 * lx) ** 2 + (gr.y - 0.5 * ly) ** 2
            img = img + (look["specular"] * np.exp(-d2 / (2 * 0.35**2)))[:, :, None]
        if self.channels == 1:
            img = (img @ _GREY)[:, :, None]
        if look["blur"] >= 0.05:
            img = ndimage.gaussian_filter(img, sigma=(look["blur"], look["blur"], 0), truncate=3.0)
        if look["noise"] > 0:
            noise = rng.standard_normal(img.shape, dtype=np.float32)
            img = img + noise * (look["noise"] * (0.5 + np.clip(img, 0, 1)))
        out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out, mask
