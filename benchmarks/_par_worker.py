"""One fit + sample of SDV's PARSynthesizer on sequence data; reports JSON.

Started by ``run_sequences.py`` in a fresh process, in the throwaway SDV virtualenv
(``benchmarks/.venv-sdv``; SDV is BSL-licensed and never a sosie dependency), so it imports
only the standard library, pandas, numpy, torch and SDV, never sosie. Its peak resident set
size (``ru_maxrss``) is its own.

Input: a CSV of real training events (long format: one row per event) and a JSON spec::

    {"table": "nlswork", "entity": "idcode", "time": "year",
     "static": ["birth_yr", "race", "grade", "collgrad"],
     "dtypes": {"idcode": "int64", ...},            # to read the CSV back exactly
     "sdtypes": {"race": "categorical", ...},       # what the columns are (overrides recorded)
     "epochs": 128, "n_sequences": 3738, "seed": 0}

Output: the sampled sequences as CSV (``--out-data``, columns and dtypes of the input where
possible, sorted by entity then time) and a JSON report (``--out``): fit and sampling seconds,
peak RSS after imports, after fitting and after sampling, versions, the detected and final
SDV metadata, the overrides made, and PAR's per-epoch loss.

SDV 2.0 API used: ``Metadata.detect_from_dataframes({table: df})``, ``update_column``,
``set_sequence_key``, ``set_sequence_index``, ``PARSynthesizer(metadata, context_columns=...,
epochs=..., cuda=False)``, ``fit({table: df})``, ``sample_sequences(n)[table]``.

Usage::

    .venv-sdv/bin/python _par_worker.py --data train.csv --spec spec.json \
        --out-data synthetic.csv --out result.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import resource
import sys
import time
import traceback
import warnings
from typing import Any

PACKAGES = ("sdv", "deepecho", "rdt", "copulas", "torch", "pandas", "numpy", "scikit-learn")


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _read(path: str, dtypes: dict[str, str]) -> Any:
    import pandas as pd

    return pd.read_csv(
        path,
        dtype={c: (object if t in ("object", "str", "string") else t) for c, t in dtypes.items()},
        keep_default_na=False,
        na_values=[""],
    )


def build_metadata(df: Any, spec: dict[str, Any]) -> tuple[Any, dict[str, Any], list[dict]]:
    """Detected metadata, corrected to say what the columns are; every change is recorded."""
    from sdv.metadata import Metadata

    table = spec["table"]
    metadata = Metadata.detect_from_dataframes({table: df})
    detected = metadata.to_dict()["tables"][table]
    overrides: list[dict[str, Any]] = []
    if detected.get("primary_key") is not None:
        overrides.append({"primary_key": detected["primary_key"], "set": None})
        metadata.remove_primary_key(table_name=table)
    wanted = dict(spec.get("sdtypes", {}))
    wanted[spec["entity"]] = "id"
    for column, sdtype in wanted.items():
        got = detected["columns"][column]["sdtype"]
        if got != sdtype:
            metadata.update_column(column_name=column, table_name=table, sdtype=sdtype)
            overrides.append({"column": column, "detected": got, "set": sdtype})
    metadata.set_sequence_key(column_name=spec["entity"], table_name=table)
    if spec.get("time"):
        metadata.set_sequence_index(column_name=spec["time"], table_name=table)
    return metadata, detected, overrides


def run(args: argparse.Namespace) -> dict[str, Any]:
    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    result: dict[str, Any] = {
        "side": "sdv_par",
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "pid": os.getpid(),
        "machine": platform.machine(),
        "spec": {k: v for k, v in spec.items() if k != "dtypes"},
    }
    start = time.perf_counter()
    try:
        import numpy as np
        import torch
        from sdv.sequential import PARSynthesizer
    except ImportError as exc:
        result.update(status="not available", error=f"{type(exc).__name__}: {exc}")
        return result
    result["import_s"] = time.perf_counter() - start
    result["versions"] = _versions()
    result["torch_threads"] = torch.get_num_threads()
    result["rss_after_import"] = _peak_rss_bytes()

    df = _read(args.data, spec["dtypes"])
    result["data_shape"] = list(df.shape)
    result["rss_after_load"] = _peak_rss_bytes()

    # PAR (deepecho) draws from torch's and numpy's global generators; seed them in this
    # throwaway process so that a rerun gives the same model on the same machine.
    seed = int(spec.get("seed", 0))
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (deepecho and copulas use the legacy global RNG)
    torch.manual_seed(seed)

    table = spec["table"]
    start = time.perf_counter()
    metadata, detected, overrides = build_metadata(df, spec)
    result["detect_s"] = time.perf_counter() - start
    result["detected_sdtypes"] = {c: s["sdtype"] for c, s in detected["columns"].items()}
    result["metadata_overrides"] = overrides
    context = [c for c in spec.get("static", []) if c not in (spec["entity"], spec.get("time"))]
    epochs = int(spec.get("epochs", 128))
    synthesizer = PARSynthesizer(metadata, context_columns=context, epochs=epochs, cuda=False)
    result["settings"] = (
        f"PARSynthesizer(metadata, context_columns={context}, epochs={epochs}, cuda=False), "
        "defaults otherwise (enforce_min_max_values=True, enforce_rounding=True, "
        "segment_size=None, sample_size=1)"
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*save_to_json.*")
        synthesizer.fit({table: df})
    result["fit_s"] = time.perf_counter() - start  # metadata detection included
    result["peak_rss_fit"] = _peak_rss_bytes()
    loss = getattr(getattr(synthesizer, "_model", None), "loss_values", None)
    if loss is not None and len(loss):
        result["loss_first_last"] = [float(loss["Loss"].iloc[0]), float(loss["Loss"].iloc[-1])]
        result["epochs_run"] = len(loss)

    n_sequences = int(spec["n_sequences"])
    start = time.perf_counter()
    sampled = synthesizer.sample_sequences(num_sequences=n_sequences)[table]
    result["sample_s"] = time.perf_counter() - start
    result["peak_rss"] = _peak_rss_bytes()

    problems = []
    if list(sampled.columns) != list(df.columns):
        problems.append(f"columns differ: {list(sampled.columns)}")
    got_sequences = int(sampled[spec["entity"]].nunique())
    if got_sequences != n_sequences:
        problems.append(f"asked for {n_sequences} sequences, got {got_sequences}")
    sort_by = [spec["entity"]] + ([spec["time"]] if spec.get("time") else [])
    sampled = sampled.sort_values(sort_by, kind="stable", ignore_index=True)
    result.update(
        n_sequences=got_sequences,
        n_rows=len(sampled),
        sampled_dtypes={str(c): str(t) for c, t in sampled.dtypes.items()},
        problems=problems,
    )
    tmp = f"{args.out_data}.tmp"
    sampled.to_csv(tmp, index=False)
    os.replace(tmp, args.out_data)
    result["status"] = "ok"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CSV of the real training events")
    parser.add_argument("--spec", required=True, help="JSON spec (see the module docstring)")
    parser.add_argument("--out-data", required=True, help="where to write the sampled CSV")
    parser.add_argument("--out", required=True, help="where to write the JSON report")
    args = parser.parse_args()
    try:
        result = run(args)
    except Exception as exc:
        result = {
            "side": "sdv_par",
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
