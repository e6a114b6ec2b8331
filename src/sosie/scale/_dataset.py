"""A sampled dataset on disk: numbered parts, each a pure function of (model, rows, seed).

The output of :meth:`Generator.sample_to` and :func:`sosie.scale.sample_distributed` is a
folder of parts (``part-00000.parquet``, ...) plus ``_sosie_dataset.json`` (what was made:
model hash, rows, parts, seed). It is built in a hidden sibling folder
``.<name>.partial`` whose ``_sosie_progress.json`` records the request; each part is written
atomically (temporary file, then rename), and the folder is renamed onto the target only when
every part is there. A crash leaves the partial folder: running the same request again writes
only the missing parts and, because part ``i`` is sampled with the seed
``SeedSequence(entropy, spawn_key=(*key, i))``, the result is the same as an uninterrupted run,
with no duplicate or missing rows, whatever the number of processes or workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataSourceError, Problem

PROGRESS = "_sosie_progress.json"
META = "_sosie_dataset.json"
FORMATS = {"parquet": "parquet", "csv": "csv"}


def dataset_format(path: Path, format: str | None) -> str:
    """``parquet`` or ``csv``: given, or from a suffix on the folder name (default parquet)."""
    fmt = format or (path.suffix.lstrip(".").lower() if path.suffix else "parquet")
    if fmt not in FORMATS:
        raise DataSourceError(
            str(
                Problem(
                    "format",
                    "parquet or csv (a folder of parts)",
                    repr(fmt),
                    "pass format='parquet' or format='csv'",
                )
            )
        )
    return fmt


def local_target(path: Any) -> Path:
    """The output folder as a local path; object-store URLs are refused clearly."""
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        raise DataSourceError(
            str(
                Problem(
                    f"output {text!r}",
                    "a local or mounted folder",
                    "a URL",
                    "write to a local or mounted path (object stores are not supported yet: "
                    "copy the finished folder with your storage tool)",
                )
            )
        )
    return Path(text.removeprefix("file://")).expanduser().absolute()


def part_rows(n_rows: int, chunk_rows: int) -> list[int]:
    """Rows in each part: ``chunk_rows`` each, the remainder last.

    Example:
        >>> part_rows(10, 4), part_rows(8, 4), part_rows(0, 4)
        ([4, 4, 2], [4, 4], [])
    """
    full, rest = divmod(int(n_rows), int(chunk_rows))
    return [int(chunk_rows)] * full + ([rest] if rest else [])


def part_name(i: int, fmt: str) -> str:
    return f"part-{i:05d}.{fmt}"


def part_seed(root: dict[str, Any], i: int) -> np.random.SeedSequence:
    """The seed of part ``i``: a child of the root by logical part index."""
    return np.random.SeedSequence(root["entropy"], spawn_key=(*root["spawn_key"], int(i)))


def seed_record(seq: np.random.SeedSequence) -> dict[str, Any]:
    entropy = seq.entropy
    return {
        "entropy": [int(x) for x in entropy]
        if isinstance(entropy, (list, tuple))
        else int(entropy),
        "spawn_key": [int(k) for k in seq.spawn_key],
    }


def model_bytes(generator: Any) -> bytes:
    """The fitted model as the bytes of its ``.sosie`` file."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "model.sosie"
        generator.save(p)
        return p.read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_identity(data: bytes) -> str:
    """SHA-256 of a ``.sosie`` file's content, ignoring when it was saved and how far its
    default sampling stream has advanced (neither changes what a seeded part contains)."""
    import io
    import zipfile

    h = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(zf.namelist()):
            body = zf.read(name)
            if name == "manifest.json":
                manifest = json.loads(body)
                manifest.pop("created_at", None)
                if isinstance(manifest.get("rng"), dict):
                    manifest["rng"] = {
                        k: v for k, v in manifest["rng"].items() if k != "sample_calls"
                    }
                body = json.dumps(manifest, sort_keys=True).encode()
            h.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    return h.hexdigest()


def partial_dir(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def open_partial(
    target: Path,
    request: dict[str, Any],
    *,
    overwrite: bool,
    new_seed: Callable[[], dict[str, Any]],
) -> tuple[Path, dict]:
    """Create (or resume) the partial folder for ``request``; returns it and the recorded request.

    A recorded request that differs from ``request`` (another model, row count, part size,
    format or seed) is an error rather than a silent mix; ``request["seed"]`` may be ``None``
    (continue the model's stream): a resumed run reuses the recorded seed, a new one asks
    ``new_seed()``. An unreadable record (a crash while it was written) starts over.
    """
    if os.path.lexists(target) and not overwrite:
        raise DataSourceError(
            str(
                Problem(
                    f"output '{target}'",
                    "a path where nothing exists yet",
                    "an existing " + ("folder" if target.is_dir() else "file"),
                    "remove it, write elsewhere, or pass overwrite=True",
                )
            )
        )
    part = partial_dir(target)
    record = part / PROGRESS
    if record.exists():
        try:
            old = json.loads(record.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if isinstance(old, dict):
            mismatch = [
                k
                for k in ("model_sha256", "n_rows", "chunk_rows", "format", "conditions")
                if old.get(k) != request.get(k)
            ]
            if request.get("seed") is not None and old.get("seed") != request["seed"]:
                mismatch.append("seed")
            if mismatch:
                raise DataSourceError(
                    str(
                        Problem(
                            f"unfinished output '{part}'",
                            "the same request, to resume it",
                            "a different " + ", ".join(mismatch),
                            f"pass the same settings to resume, or delete '{part}' to start over",
                        )
                    )
                )
            return part, old
        _remove(part)  # parts of an unknown request: never mixed into this one
    part.mkdir(parents=True, exist_ok=True)
    if request.get("seed") is None:
        request = {**request, "seed": new_seed()}
    _write_json(record, request)
    return part, request


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def missing_parts(part: Path, request: dict[str, Any]) -> list[int]:
    fmt = request["format"]
    sizes = part_rows(request["n_rows"], request["chunk_rows"])
    return [i for i in range(len(sizes)) if not (part / part_name(i, fmt)).exists()]


def write_part(folder: Path, i: int, df: Any, fmt: str) -> int:
    """Write part ``i`` atomically; returns its row count."""
    from ..io import write_table

    write_table(df, folder / part_name(i, fmt), format=fmt)
    return len(df)


def finish(target: Path, part: Path, request: dict[str, Any], *, overwrite: bool) -> Path:
    """Check every part is there, record the dataset, and move the folder into place."""
    missing = missing_parts(part, request)
    if missing:
        raise DataSourceError(
            str(
                Problem(
                    f"output '{part}'",
                    "every part written",
                    f"{len(missing)} part(s) missing (first: {part_name(missing[0], request['format'])})",
                    "run the same request again to write them",
                )
            )
        )
    for p in part.iterdir():  # temporaries of parts whose writer died (the part was rewritten)
        if p.name.startswith("."):
            _remove(p)
    meta = {**request, "parts": len(part_rows(request["n_rows"], request["chunk_rows"]))}
    _write_json(part / META, meta)
    (part / PROGRESS).unlink()
    if os.path.lexists(target):  # overwrite=True was checked when the partial was opened
        old = target.with_name(f".{target.name}.old")
        _remove(old)
        os.replace(target, old)
        os.replace(part, target)
        _remove(old)
    else:
        os.replace(part, target)
    return target
