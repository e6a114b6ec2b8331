"""Atomic writes: write to a hidden temporary next to the target, then rename.

A rename inside one directory is atomic on POSIX and on Windows (``os.replace``),
so readers see either the old file or the complete new one, never a partial
file; a failure (an exception, ``KeyboardInterrupt``) removes the temporary and
leaves an existing target untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from sosie.errors import DataSourceError, Problem

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _remove(path: Path) -> None:
    """Remove a file, link or directory tree; ignore what is already gone."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def _fsync_file(path: Path) -> None:
    flags = os.O_RDWR if os.name == "nt" else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry (POSIX only; best effort on odd file systems)."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root, name))
            _fsync_dir(Path(root))
    else:
        _fsync_file(path)


def _sibling(target: Path, tag: str, suffix: str = "") -> Path:
    """A hidden, unused name next to ``target``: ``.name.<random>.<tag><suffix>``."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.{tag}{suffix}")
        if not os.path.lexists(candidate):
            return candidate


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _commit(tmp: Path, target: Path) -> None:
    """Move ``tmp`` onto ``target``, replacing what is there."""
    tmp_is_dir = _is_real_dir(tmp)
    if os.path.lexists(target):
        target_is_dir = _is_real_dir(target)
        if target_is_dir != tmp_is_dir:
            kind, other = ("directory", "file") if target_is_dir else ("file", "directory")
            raise DataSourceError(
                str(
                    Problem(
                        f"'{target}'",
                        f"a {other} (or nothing) at that path",
                        f"an existing {kind}",
                        f"remove the {kind} or write somewhere else",
                    )
                )
            )
        if target_is_dir:
            # os.replace cannot replace a non-empty directory: move the old one
            # aside, move the new one in, then delete the old one. On failure the
            # old directory is put back.
            backup = _sibling(target, "old")
            os.replace(target, backup)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(backup, target)
                raise
            _remove(backup)
            return
        # keep the permissions of the file being replaced
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary is a hidden sibling, ``.<name>.<random>.tmp<suffix>``, in the same
    directory as ``path`` (so the final rename is atomic). Nothing is created at the
    temporary path: the caller writes a file *or a directory* there (for example a
    partitioned Parquet dataset). On normal exit its content is flushed to disk
    (``fsync``) and it is renamed onto ``path``, replacing an existing file (or
    directory, when the temporary is a directory). If the block raises, the
    temporary is removed and the exception propagates: ``path`` is left exactly as
    it was. Missing parent directories are created. A symbolic link at ``path`` is
    followed: the file it points to is replaced.

    Args:
        path: the final destination.
        suffix: appended to the temporary's name, for writers that look at the
            extension (for example ``".csv.gz"``). Defaults to nothing.

    Yields:
        The temporary path (a :class:`pathlib.Path`, not yet created).

    Raises:
        DataSourceError: the block wrote nothing at the temporary path, or it wrote
            a file where a directory exists (or the reverse).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "sub" / "hello.txt"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_text("hello")
        ...     tmp.name.startswith(".hello.txt.") and tmp.parent == out.parent
        True
        >>> out.read_text()
        'hello'
        >>> try:
        ...     with atomic_path(out) as tmp:
        ...         _ = tmp.write_text("half")
        ...         raise RuntimeError("failed mid-write")
        ... except RuntimeError:
        ...     pass
        >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
        ('hello', ['hello.txt'])
    """
    target = Path(os.path.expanduser(os.fspath(path)))
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.name in ("", ".", ".."):
        raise DataSourceError(
            str(
                Problem(
                    f"path '{os.fspath(path)}'",
                    "a path that ends in a file name",
                    "no file name",
                    "add a file name, for example 'out/data.csv'",
                )
            )
        )
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataSourceError(
            str(
                Problem(
                    f"directory '{parent.absolute()}'",
                    "a directory that exists or can be created",
                    f"{type(exc).__name__}: {exc.strerror or exc}",
                    "check the path and your permissions",
                )
            )
        ) from exc
    tmp = _sibling(target, "tmp", suffix or "")
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise DataSourceError(
                str(
                    Problem(
                        f"temporary path for '{target}'",
                        "a file or directory written by the block",
                        "nothing",
                        "write to the path that atomic_path yields",
                    )
                )
            )
        _fsync_tree(tmp)
        _commit(tmp, target)
        _fsync_dir(parent)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (all of it or, on failure, nothing).

    Args:
        path: the destination file; parent directories are created.
        data: the bytes to write.

    Returns:
        The destination as a :class:`pathlib.Path`.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "blob.bin"
        >>> atomic_write_bytes(out, b"\\x00\\x01").read_bytes()
        b'\\x00\\x01'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, found {type(data).__name__}; fix: encode it first")
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        fh.write(data)
    return Path(os.path.expanduser(os.fspath(path)))


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, encoded as ``encoding``.

    The text is written as is: no newline translation on any platform.

    Args:
        path: the destination file; parent directories are created.
        text: the text to write.
        encoding: the text encoding (UTF-8 by default).

    Returns:
        The destination as a :class:`pathlib.Path`.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> atomic_write_text(out, "héllo\\n").read_text(encoding="utf-8")
        'héllo\\n'
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, found {type(text).__name__}; fix: convert it first")
    return atomic_write_bytes(path, text.encode(encoding))
