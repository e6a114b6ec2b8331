"""Atomic writes: all or nothing, next to the target, files and directories."""

from __future__ import annotations

import os
import sys

import pytest

from sosie.errors import DataSourceError
from sosie.io import atomic_path, atomic_write_bytes, atomic_write_text


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writes_file_via_hidden_sibling_and_creates_parents(tmp_path):
    # Setup
    target = tmp_path / "a" / "b" / "out.txt"
    # Run
    with atomic_path(target) as tmp:
        seen = tmp
        tmp.write_text("done")
        assert not target.exists()
    # Assert
    assert seen.parent == target.parent
    assert seen.name.startswith(".out.txt.") and seen.name.endswith(".tmp")
    assert target.read_text() == "done"
    assert _names(target.parent) == ["out.txt"]


def test_suffix_is_appended_to_the_temporary_name(tmp_path):
    with atomic_path(tmp_path / "x.csv.gz", suffix=".csv.gz") as tmp:
        tmp.write_bytes(b"x")
        assert tmp.name.endswith(".tmp.csv.gz")


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_leaves_existing_file_untouched_and_no_temporary(tmp_path, error):
    # Setup
    target = tmp_path / "out.txt"
    target.write_text("original")
    # Run
    with pytest.raises(type(error)), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise error
    # Assert
    assert target.read_text() == "original"
    assert _names(tmp_path) == ["out.txt"]


def test_failure_creates_nothing_when_target_was_absent(tmp_path):
    with pytest.raises(ValueError), atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("partial")
        raise ValueError("boom")
    assert _names(tmp_path) == []


def test_directory_temporary_replaces_existing_directory(tmp_path):
    # Setup: an old dataset directory
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.parquet").write_bytes(b"old")
    # Run
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "part-0.parquet").write_bytes(b"new")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "part-1.parquet").write_bytes(b"new")
    # Assert
    assert _names(target) == ["part-0.parquet", "sub"]
    assert _names(tmp_path) == ["dataset"]


def test_directory_failure_leaves_old_directory_and_no_temporary(tmp_path):
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.parquet").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "part-0.parquet").write_bytes(b"half")
        raise RuntimeError("boom")
    assert _names(target) == ["old.parquet"]
    assert _names(tmp_path) == ["dataset"]


def test_file_over_directory_is_refused_and_cleaned_up(tmp_path):
    target = tmp_path / "thing"
    target.mkdir()
    with pytest.raises(DataSourceError, match="existing directory"), atomic_path(target) as tmp:
        tmp.write_text("file")
    assert target.is_dir()
    assert _names(tmp_path) == ["thing"]


def test_block_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(DataSourceError, match="nothing"), atomic_path(tmp_path / "x.txt"):
        pass
    assert _names(tmp_path) == []


def test_path_without_file_name_is_an_error():
    with pytest.raises(DataSourceError, match="file name"), atomic_path(".."):
        pass  # pragma: no cover


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_replacing_keeps_the_file_mode(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_is_followed(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_write_bytes_and_text(tmp_path):
    assert atomic_write_bytes(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    path = atomic_write_text(tmp_path / "t.txt", "é\r\n", encoding="utf-8")
    assert path.read_bytes() == "é\r\n".encode()
    with pytest.raises(TypeError, match="bytes"):
        atomic_write_bytes(tmp_path / "x", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        atomic_write_text(tmp_path / "x", b"bytes")  # type: ignore[arg-type]
    assert _names(tmp_path) == ["b.bin", "t.txt"]
