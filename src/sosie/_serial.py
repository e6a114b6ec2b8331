"""The ``.sosie`` model file: a zip of ``manifest.json``, ``state.json`` and arrays.

No pickle anywhere: JSON for structure, ``numpy.save(allow_pickle=False)`` for
numeric arrays (string arrays are stored as JSON lists), and ``safetensors`` for
neural-network weights: a model state may hold a dict under the key
``"safetensors"`` (name -> numpy array, on CPU), stored as ``weights.safetensors``.
Weights trained on a GPU are saved from CPU copies, so every model loads on CPU.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError

FORMAT = "sosie-model"
FORMAT_VERSION = 1
_ARRAY = "__ndarray__"
_FLOAT = "__float__"


def pack(obj: Any, arrays: dict[str, np.ndarray], prefix: str = "a") -> Any:
    """Replace numpy arrays in a nested structure by references, collecting them in ``arrays``."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biufcmM":
            key = f"{prefix}{len(arrays)}"
            arrays[key] = np.ascontiguousarray(obj)
            return {_ARRAY: key}
        return {_ARRAY + "list": [pack(v, arrays, prefix) for v in obj.tolist()]}
    if isinstance(obj, dict):
        return {str(k): pack(v, arrays, prefix) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [pack(v, arrays, prefix) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else {_FLOAT: repr(f)}
    if isinstance(obj, np.bool_):
        return bool(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a .sosie file")


def unpack(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of :func:`pack`."""
    if isinstance(obj, dict):
        if _ARRAY in obj and len(obj) == 1:
            return arrays[obj[_ARRAY]]
        if _ARRAY + "list" in obj and len(obj) == 1:
            return np.array([unpack(v, arrays) for v in obj[_ARRAY + "list"]], dtype=object)
        if _FLOAT in obj and len(obj) == 1:
            return float(obj[_FLOAT])
        return {k: unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unpack(v, arrays) for v in obj]
    return obj


def write_model_file(path: str | Path, manifest: dict[str, Any], state: Any) -> Path:
    """Write a ``.sosie`` file atomically."""
    from .io import atomic_path

    arrays: dict[str, np.ndarray] = {}
    weights = None
    if (
        isinstance(state, dict)
        and isinstance(state.get("model"), dict)
        and "safetensors" in state["model"]
    ):
        model = dict(state["model"])
        weights = _to_safetensors(model.pop("safetensors"))
        state = {**state, "model": model}
    packed = pack(state, arrays)
    manifest = {**manifest, "format": FORMAT, "format_version": FORMAT_VERSION}
    manifest["arrays"] = sorted(arrays)
    if weights is not None:
        manifest["weights"] = WEIGHTS
    path = Path(path)
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, allow_nan=False))
        zf.writestr("state.json", json.dumps(packed, allow_nan=False))
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            zf.writestr(f"arrays/{key}.npy", buf.getvalue())
        if weights is not None:
            zf.writestr(WEIGHTS, weights)
    return path


WEIGHTS = "weights.safetensors"


def _safetensors_numpy():
    try:
        from safetensors import numpy as stn
    except ImportError:
        from .errors import missing_dependency

        raise missing_dependency(
            "safetensors", "deep", "saving or loading neural-network weights"
        ) from None
    return stn


def _to_safetensors(weights: dict[str, Any]) -> bytes:
    stn = _safetensors_numpy()
    out = {}
    for k, v in weights.items():
        if hasattr(v, "detach"):  # a torch tensor, possibly on a GPU
            v = v.detach().cpu().numpy()
        out[str(k)] = np.ascontiguousarray(v)
    return stn.save(out)


def read_model_file(path: str | Path) -> tuple[dict[str, Any], Any]:
    """Read and check a ``.sosie`` file; returns ``(manifest, state)``."""
    p = Path(path)
    where = f"model file {str(p)!r}"
    if not p.exists():
        raise ModelFileError(
            f"{where}: no such file; fix: check the path (absolute: {p.absolute()})"
        )
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(
            f"{where}: expected a .sosie model (a zip archive), found a file that is not one ({e}); "
            "fix: pass a file written by Generator.save or `sosie fit`"
        ) from None
    with zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            raise ModelFileError(
                f"{where}: expected a sosie model with manifest.json, found a zip without it; "
                "fix: this is not a sosie model file"
            )
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as e:
            raise ModelFileError(
                f"{where}: manifest.json is corrupt ({e}); fix: re-create the model"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelFileError(
                f"{where}: expected format {FORMAT!r}, found "
                f"{manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__!r}; "
                "fix: this is not a sosie model file"
            )
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelFileError(
                f"{where}: expected model format version <= {FORMAT_VERSION}, found {version!r} "
                f"(written by sosie {manifest.get('sosie_version', '?')}); fix: upgrade sosie"
            )
        try:
            state = json.loads(zf.read("state.json"))
            arrays = {}
            for key in manifest.get("arrays", []):
                with zf.open(f"arrays/{key}.npy") as fh:
                    arrays[key] = np.load(io.BytesIO(fh.read()), allow_pickle=False)
            state = unpack(state, arrays)
            if manifest.get("weights"):
                weights = _safetensors_numpy().load(zf.read(manifest["weights"]))
                if isinstance(state.get("model"), dict):
                    state["model"]["safetensors"] = weights
        except (KeyError, ValueError, zipfile.BadZipFile, OSError, EOFError) as e:
            raise ModelFileError(
                f"{where}: the model's state is corrupt or incomplete ({type(e).__name__}: {e}); "
                "fix: re-create the model"
            ) from None
    return manifest, state
