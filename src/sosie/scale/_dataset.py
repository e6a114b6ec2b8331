"""A sampled dataset on disk: numbered parts, each a pure function of (model, rows, seed).

The output of :meth:`Generator.sample_to` and :func:`sosie.scale.sample_distributed` is a
folder of parts (``part-00000.parquet``, ...) plus ``_sosie_dataset.json`` (what was made:
model hash, rows, parts, seed). It is built in a hidden sibling folder
``.<name>.partial`` whose ``_sosie_progress.json`` records the request; each part is written
atomically, and the dataset is moved into place only when every part is there. A crash
leaves the partial folder: running the same request again writes only the missing parts and,
because part ``i`` is sampled with the seed ``SeedSequence(entropy, spawn_key=(*key, i))``,
the result is the same as an uninterrupted run, with no duplicate or missing rows, whatever
the number of processes or workers.

Local (and mounted) folders are renamed into place in one step. Object stores
(``s3://bucket/prefix``, ``gs://...``, through pyarrow's filesystems) have no rename: each part
is uploaded whole (an object appears complete or not at all), the parts are moved under the
target when all exist, and ``_sosie_dataset.json`` is written **last**: on an object store the
dataset is complete when that file exists (as Hadoop's ``_SUCCESS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataSourceError, Problem

PROGRESS = "_sosie_progress.json"
META = "_sosie_dataset.json"
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Target:
    """Where a dataset goes: a local folder, or a prefix on a pyarrow filesystem."""

    uri: str  # as given (workers rebuild the filesystem from it)
    path: str  # the folder: a local path, or the path inside the filesystem
    local: bool

    @property
    def name(self) -> str:
        return posixpath.basename(self.path) if not self.local else Path(self.path).name

    def fs(self) -> Any:
        import pyarrow.fs as pafs

        if self.local:
            return pafs.LocalFileSystem()
        return pafs.FileSystem.from_uri(self.uri)[0]

    def sibling(self, name: str) -> str:
        parent = posixpath.dirname(self.path) if not self.local else str(Path(self.path).parent)
        return posixpath.join(parent, name) if not self.local else str(Path(parent) / name)

    @property
    def partial(self) -> str:
        return self.sibling(f".{self.name}.partial")

    def join(self, folder: str, name: str) -> str:
        return str(Path(folder) / name) if self.local else posixpath.join(folder, name)


def resolve_target(path: Any) -> Target:
    """A local folder (``file://`` allowed) or an object-store URI pyarrow understands."""
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        import pyarrow as pa
        import pyarrow.fs as pafs

        try:
            _, inner = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as e:
            raise DataSourceError(
                str(
                    Problem(
                        f"output {text!r}",
                        "a local folder or an object-store URI pyarrow can open (s3://, gs://)",
                        f"{type(e).__name__}: {e}",
                        "check the scheme, the bucket and the credentials",
                    )
                )
            ) from None
        inner = inner.rstrip("/")
        if "/" not in inner:
            raise DataSourceError(
                str(
                    Problem(
                        f"output {text!r}",
                        "a prefix inside a bucket (s3://bucket/folder)",
                        "a bare bucket",
                        "add a folder name after the bucket",
                    )
                )
            )
        return Target(text, inner, False)
    p = Path(text.removeprefix("file://")).expanduser().absolute()
    return Target(str(p), str(p), True)


def dataset_format(target: Target, format: str | None) -> str:
    """``parquet`` or ``csv``: given, or from a suffix on the folder name (default parquet)."""
    suffix = posixpath.splitext(target.name)[1].lstrip(".").lower()
    fmt = format or suffix or "parquet"
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


def partial_dir(path: Any) -> Path:
    """The partial folder of a local output (for tools and tests)."""
    return Path(resolve_target(path).partial)


# ------------------------------------------------------------------ storage operations
def _exists(t: Target, fs: Any, path: str) -> bool:
    if t.local:
        return os.path.lexists(path)
    import pyarrow.fs as pafs

    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _names(t: Target, fs: Any, folder: str) -> list[str]:
    if t.local:
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    import pyarrow.fs as pafs

    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    return sorted(posixpath.basename(i.path) for i in infos)


def _remove(t: Target, fs: Any, path: str) -> None:
    if t.local:
        p = Path(path)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            p.unlink()
        return
    import pyarrow.fs as pafs

    kind = fs.get_file_info(path).type
    if kind == pafs.FileType.Directory:
        fs.delete_dir(path)
    elif kind == pafs.FileType.File:
        fs.delete_file(path)


def _read_json(t: Target, fs: Any, path: str) -> Any:
    try:
        if t.local:
            return json.loads(Path(path).read_text())
        with fs.open_input_stream(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def _put(t: Target, fs: Any, local_file: Path, dest: str) -> None:
    """Copy a finished local file to ``dest`` atomically (a temporary name, then a move)."""
    folder, name = (str(Path(dest).parent), Path(dest).name) if t.local else posixpath.split(dest)
    tmp = t.join(folder, f".{name}.tmp")
    if t.local:
        shutil.copyfile(local_file, tmp)
        os.replace(tmp, dest)
        return
    with open(local_file, "rb") as src, fs.open_output_stream(tmp) as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
    fs.move(tmp, dest)


def _write_json(t: Target, fs: Any, path: str, obj: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        local = Path(d) / "x.json"
        local.write_text(json.dumps(obj, indent=1))
        _put(t, fs, local, path)


# ------------------------------------------------------------------ the dataset's life
def open_partial(
    target: Target,
    request: dict[str, Any],
    *,
    overwrite: bool,
    new_seed: Callable[[], dict[str, Any]],
) -> tuple[str, dict]:
    """Create (or resume) the partial folder for ``request``; returns it and the recorded request.

    A recorded request that differs from ``request`` (another model, row count, part size,
    format or seed) is an error rather than a silent mix; ``request["seed"]`` may be ``None``
    (continue the model's stream): a resumed run reuses the recorded seed, a new one asks
    ``new_seed()``. An unreadable record (a crash while it was written) starts over.
    """
    fs = target.fs()
    if _exists(target, fs, target.path) and not overwrite:
        raise DataSourceError(
            str(
                Problem(
                    f"output '{target.uri}'",
                    "a path where nothing exists yet",
                    "something already there",
                    "remove it, write elsewhere, or pass overwrite=True",
                )
            )
        )
    part = target.partial
    record = target.join(part, PROGRESS)
    if _exists(target, fs, record):
        old = _read_json(target, fs, record)
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
        _remove(target, fs, part)  # parts of an unknown request: never mixed into this one
    if target.local:
        Path(part).mkdir(parents=True, exist_ok=True)
    else:
        fs.create_dir(part, recursive=True)
    if request.get("seed") is None:
        request = {**request, "seed": new_seed()}
    _write_json(target, fs, record, request)
    return part, request


def missing_parts(target: Target, part: str, request: dict[str, Any]) -> list[int]:
    fmt = request["format"]
    have = set(_names(target, target.fs(), part))
    sizes = part_rows(request["n_rows"], request["chunk_rows"])
    return [i for i in range(len(sizes)) if part_name(i, fmt) not in have]


def write_part(target: Target, folder: str, i: int, df: Any, fmt: str) -> int:
    """Write part ``i`` atomically; returns its row count."""
    from ..io import write_table

    name = part_name(i, fmt)
    if target.local:
        write_table(df, Path(folder) / name, format=fmt)
        return len(df)
    with tempfile.TemporaryDirectory() as d:
        local = Path(d) / name
        write_table(df, local, format=fmt)
        _put(target, target.fs(), local, posixpath.join(folder, name))
    return len(df)


def finish(target: Target, part: str, request: dict[str, Any], *, overwrite: bool) -> Path | str:
    """Check every part is there, record the dataset, and move it into place."""
    fs = target.fs()
    missing = missing_parts(target, part, request)
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
    for name in _names(target, fs, part):  # temporaries of writers that died (rewritten since)
        if name.startswith("."):
            _remove(target, fs, target.join(part, name))
    meta = {**request, "parts": len(part_rows(request["n_rows"], request["chunk_rows"]))}
    if target.local:
        _write_json(target, fs, target.join(part, META), meta)
        os.unlink(target.join(part, PROGRESS))
        dest = Path(target.path)
        if os.path.lexists(dest):  # overwrite=True was checked when the partial was opened
            old = dest.with_name(f".{dest.name}.old")
            _remove(target, fs, str(old))
            os.replace(dest, old)
            os.replace(part, dest)
            _remove(target, fs, str(old))
        else:
            os.replace(part, dest)
        return dest
    # an object store: no rename; the parts move under the target, the metadata file last
    if _exists(target, fs, target.path):
        fs.delete_dir_contents(target.path, missing_dir_ok=True)
    fs.create_dir(target.path, recursive=True)
    for name in _names(target, fs, part):
        if name.startswith("part-"):
            fs.move(posixpath.join(part, name), posixpath.join(target.path, name))
    _write_json(target, fs, posixpath.join(target.path, META), meta)
    _remove(target, fs, part)
    return target.uri
