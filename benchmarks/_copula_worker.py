"""One measurement of one side (sosie or SDV): import, load Adult, fit, sample; print JSON.

Started by ``run_copula_vs_sdv.py`` in a fresh process per measurement, so the peak resident
set size it reports (``ru_maxrss`` of this process) belongs to this measurement alone. It runs
under two different interpreters (sosie's and the throwaway SDV virtualenv), so it uses only
the standard library, pandas and the side's own package, and it must not import sosie on the
SDV side.

Usage::

    python _copula_worker.py --side sdv --data adult_train.csv --dtypes dtypes.json \
        --rows 32561,1000000 --seed 0 --out result.json
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import sys
import time
import traceback
import warnings
from typing import Any

TABLE = "adult"
TARGET = "income"
POSITIVE = ">50K"


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _versions(names: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def fingerprint(df: Any) -> str:
    """A pandas-version-independent digest of a table's columns, dtypes and values."""
    h = hashlib.sha256()
    h.update(repr(list(df.columns)).encode())
    h.update(repr([str(t) for t in df.dtypes]).encode())
    h.update(repr(df.shape).encode())
    for column in df.columns:
        values = df[column]
        h.update(f"{column}:{int(values.isna().sum())}".encode())
        if str(values.dtype) == "int64":
            h.update(repr(values.to_numpy().tolist()).encode())
        else:
            h.update(repr(["\0" if v != v else v for v in values.tolist()]).encode())
    return h.hexdigest()


def summary(df: Any) -> dict[str, Any]:
    """A few cheap sanity figures, to show the output is a plausible Adult table."""
    return {
        "n_rows": len(df),
        "columns": [str(c) for c in df.columns],
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
        "share_" + POSITIVE: round(float((df[TARGET] == POSITIVE).mean()), 4),
        "missing_share": {
            str(c): round(float(v), 4) for c, v in df.isna().mean().items() if float(v) > 0
        },
        "age_mean": round(float(df["age"].mean()), 3),
        # Dependence, not only marginals: a copula should keep these near the real values.
        "corr_education_num_income": round(
            float(df["education_num"].corr((df[TARGET] == POSITIVE).astype(float))), 4
        ),
        "corr_age_hours_per_week": round(float(df["age"].corr(df["hours_per_week"])), 4),
    }


# --- sides ---------------------------------------------------------------------------------


class SosieSide:
    """sosie's GaussianCopulaGenerator; the data comes from sosie.datasets.load_adult."""

    name = "sosie"
    packages = ("sosie", "pandas", "numpy", "scipy", "scikit-learn")

    def import_libraries(self) -> None:
        from sosie import GaussianCopulaGenerator
        from sosie.datasets import load_adult

        self.generator_class = GaussianCopulaGenerator
        self.load_adult = load_adult

    def load(self, args: argparse.Namespace) -> Any:
        return self.load_adult("train")

    def fit(self, df: Any, seed: int) -> dict[str, Any]:
        self.model = self.generator_class(rng=seed).fit(df)
        return {"settings": "GaussianCopulaGenerator(rng=seed), defaults otherwise"}

    def sample(self, n_rows: int) -> Any:
        return self.model.sample(n_rows)


class SdvSide:
    """SDV's GaussianCopulaSynthesizer with default settings and detected metadata."""

    name = "sdv"
    packages = ("sdv", "rdt", "copulas", "pandas", "numpy", "scipy", "scikit-learn", "torch")

    def import_libraries(self) -> None:
        import pandas as pd
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer

        self.pd = pd
        self.metadata_class = Metadata
        self.synthesizer_class = GaussianCopulaSynthesizer

    def load(self, args: argparse.Namespace) -> Any:
        with open(args.dtypes, encoding="utf-8") as handle:
            dtypes = json.load(handle)
        return self.pd.read_csv(
            args.data,
            dtype={c: (object if t == "object" else t) for c, t in dtypes.items()},
            keep_default_na=False,
            na_values=[""],
        )

    def fit(self, df: Any, seed: int) -> dict[str, Any]:
        # SDV 2.0: metadata is multi-table; fit/sample take and return {table_name: DataFrame}.
        start = time.perf_counter()
        metadata = self.metadata_class.detect_from_dataframes({TABLE: df})
        overrides = self._override(metadata, df)
        detect_s = time.perf_counter() - start
        self.model = self.synthesizer_class(metadata)
        with warnings.catch_warnings():
            # "We strongly recommend saving the metadata using 'save_to_json'..."
            warnings.filterwarnings("ignore", message=".*save_to_json.*")
            self.model.fit({TABLE: df})
        table = metadata.to_dict()["tables"][TABLE]
        return {
            "detect_s": detect_s,
            "metadata_overrides": overrides,
            "detected_sdtypes": {c: s["sdtype"] for c, s in table["columns"].items()},
            "primary_key": table.get("primary_key"),
            "settings": "GaussianCopulaSynthesizer(metadata), defaults otherwise "
            "(default_distribution='beta', enforce_min_max_values=True, enforce_rounding=True)",
        }

    def _override(self, metadata: Any, df: Any) -> list[dict[str, Any]]:
        """Make the metadata say what the columns are; record every change made."""
        expected = {
            str(c): ("numerical" if str(t) == "int64" else "categorical")
            for c, t in df.dtypes.items()
        }
        overrides: list[dict[str, Any]] = []
        table = metadata.to_dict()["tables"][TABLE]
        if table.get("primary_key") is not None:
            overrides.append({"primary_key": table["primary_key"], "set": None})
            metadata.remove_primary_key(table_name=TABLE)
        for column, want in expected.items():
            got = table["columns"][column]["sdtype"]
            if got != want:
                metadata.update_column(column_name=column, table_name=TABLE, sdtype=want)
                overrides.append({"column": column, "detected": got, "set": want})
        return overrides

    def sample(self, n_rows: int) -> Any:
        return self.model.sample(num_rows=n_rows)[TABLE]


SIDES = {"sosie": SosieSide, "sdv": SdvSide}


def run(args: argparse.Namespace) -> dict[str, Any]:
    side = SIDES[args.side]()
    result: dict[str, Any] = {
        "side": side.name,
        "seed": args.seed,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "pid": os.getpid(),
    }
    start = time.perf_counter()
    try:
        side.import_libraries()
    except ImportError as exc:
        result.update(status="not available", error=f"{type(exc).__name__}: {exc}")
        return result
    result["import_s"] = time.perf_counter() - start
    result["versions"] = _versions(side.packages)
    result["rss_after_import"] = _peak_rss_bytes()

    df = side.load(args)
    result["data_fingerprint"] = fingerprint(df)
    result["data_shape"] = list(df.shape)
    result["rss_after_load"] = _peak_rss_bytes()

    start = time.perf_counter()
    fit_info = side.fit(df, args.seed)
    result["fit_s"] = time.perf_counter() - start
    result["peak_rss_fit"] = _peak_rss_bytes()
    result.update(fit_info)
    result["real_summary"] = summary(df)

    result["samples"] = []
    for n_rows in args.rows:
        start = time.perf_counter()
        out = side.sample(n_rows)
        elapsed = time.perf_counter() - start
        info = summary(out)
        problems = []
        if info["n_rows"] != n_rows:
            problems.append(f"asked for {n_rows} rows, got {info['n_rows']}")
        if info["columns"] != [str(c) for c in df.columns]:
            problems.append(f"columns differ: {info['columns']}")
        real_dtypes = {str(c): str(t) for c, t in df.dtypes.items()}
        for column, dtype in info["dtypes"].items():
            if real_dtypes.get(column) not in (None, dtype):
                problems.append(f"column {column!r} is {dtype}, real is {real_dtypes[column]}")
        result["samples"].append(
            {
                "n_rows": n_rows,
                "sample_s": elapsed,
                "rows_per_s": n_rows / elapsed,
                "peak_rss": _peak_rss_bytes(),
                "summary": info,
                "problems": problems,
            }
        )
        del out
    result["peak_rss"] = _peak_rss_bytes()
    result["machine"] = platform.machine()
    result["status"] = "ok"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=sorted(SIDES), required=True)
    parser.add_argument("--data", help="CSV export of load_adult('train') (SDV side)")
    parser.add_argument("--dtypes", help="JSON {column: dtype} for --data (SDV side)")
    parser.add_argument("--rows", type=lambda s: [int(x) for x in s.split(",")], required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = run(args)
    except Exception as exc:
        result = {
            "side": args.side,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, default=str)
    os.replace(tmp, args.out)
    return 0 if result["status"] in ("ok", "not available") else 1


if __name__ == "__main__":
    raise SystemExit(main())
