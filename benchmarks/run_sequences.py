"""Benchmark sosie's sequence generator against SDV's PARSynthesizer on two real data sets.

For each data set, split by entity into train and test (whole sequences held out):

* ``nlswork``: the NLS Young Women panel, ``sosie.datasets.load_nlswork("train"/"test")``
  (entity ``idcode``, time ``year``, static ``birth_yr``, ``race``, ``grade``, ``collgrad``;
  3,738 / 973 women). Utility target: ``collgrad`` predicted from the events.
* ``italy_power_demand``: the UCR problem, ``sosie.datasets.load_italy_power_demand``
  (entity ``series``, time ``hour``, static ``label``; 67 / 1,029 days of 24 readings).
  Utility: TSTR accuracy on ``label`` next to TRTR.

both generators are fitted on the same training sequences, each sample as many sequences as
the train split has, and every output is scored with the same code against the real test
split: ``sosie.evaluate.evaluate_sequences`` (lengths, gaps, autocorrelation, transitions,
per-entity aggregates, static columns, detection AUC, TSTR vs TRTR) plus a few checks of
this script's own that need nothing but pandas and scikit-learn (validity of the time
column, static columns constant per entity, TSTR/TRTR on plain per-sequence features; for
ItalyPowerDemand the 24 values, with 1-nearest-neighbour and a random forest).

Every fit runs in a fresh subprocess, one at a time (two cores), and reports fit seconds,
sampling seconds and peak RSS: sosie in this interpreter (this script re-started with
``--sosie-worker``), PAR in the throwaway SDV virtualenv ``benchmarks/.venv-sdv``
(``_par_worker.py``; SDV is BSL-licensed, never a sosie dependency; created on first use
as by ``run_copula_vs_sdv.py``, pinned by ``benchmarks/constraints.txt``, torch CPU build).

PAR's cost: SDV 2.0's PAR (deepecho 0.8.1) takes one full-batch gradient step per epoch and
its loss loops over the sequences in Python, so an epoch costs about the square of the number
of sequences. On this kind of machine (2 cores, nothing else running) 2 epochs on the whole
nlswork train split (3,738 women) took 206 s with a peak RSS of ~14 GiB, so its default 128
epochs would take about 4 hours (longer when other jobs compete: 300-450 s for 2 epochs);
128 epochs on 500 women took 348 s. PAR therefore keeps its default 128 epochs but is fitted
on a random 500 of the 3,738 train women (``--fit-entities``); sosie is fitted on the same 500
(the head-to-head) and, as a second row, on the whole train split. ``--par-probe-epochs N``
also times PAR for N epochs on the whole train split (not scored).

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_sequences.py                 # full run (~15 min quiet, PAR cached)
    .venv/bin/python benchmarks/run_sequences.py --sides sosie,sosie_full   # PAR from cache
    .venv/bin/python benchmarks/run_sequences.py --quick         # smoke run, a few minutes

PAR runs are cached under ``benchmarks/_work/sequences/runs`` (keyed by data fingerprint,
settings and worker code; ``--refit-par`` refits); sosie is always refitted. Results:
``benchmarks/results/sequences.{md,json}`` (``--quick``: ``benchmarks/_work/results/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAR_WORKER = HERE / "_par_worker.py"
RESULTS = HERE / "results"
NAME = "sequences"

sys.path.insert(0, str(HERE))
from run_copula_vs_sdv import (  # noqa: E402  (a sibling script, not a package)
    _atomic_write,
    git_revision,
    log,
    machine_info,
    sdv_python,
)

# What each column is, for PAR's metadata (SDV detects 0/1 columns as ordinal and c_city as
# a city name); sosie infers its own schema. Overrides are recorded per run.
NLSWORK_CATEGORICAL = ("race", "collgrad", "msp", "nev_mar", "not_smsa", "c_city", "south", "union")
DATASETS: dict[str, dict[str, Any]] = {
    "nlswork": {
        "title": "NLS Young Women panel (sampleSelection/nlswork)",
        "entity": "idcode",
        "time": "year",
        "static": ["birth_yr", "race", "grade", "collgrad"],
        "sdtypes": dict.fromkeys(NLSWORK_CATEGORICAL, "categorical"),
        "target": "collgrad",
        "fit_entities": 500,
        "repeats": 1,
    },
    "italy_power_demand": {
        "title": "ItalyPowerDemand (UCR time-series classification)",
        "entity": "series",
        "time": "hour",
        "static": ["label"],
        "sdtypes": {"label": "categorical", "hour": "numerical", "value": "numerical"},
        "target": "label",
        "fit_entities": None,
        "repeats": 3,
    },
}
SIDES = ("par", "sosie", "sosie_full")
SIDE_LABEL = {
    "par": "SDV PAR",
    "sosie": "sosie",
    "sosie_full": "sosie (whole train)",
    "reference": "real test (reference)",
}
QUICK = {"fit_entities": {"nlswork": 100}, "par_epochs": 2, "n_sequences": 100, "repeats": 1}


# --- data ----------------------------------------------------------------------------------


def load_split(name: str, split: str) -> Any:
    from sosie import datasets

    if name == "nlswork":
        return datasets.load_nlswork(split)
    return datasets.load_italy_power_demand(split)


def fingerprint(df: Any) -> str:
    """A digest of the columns, dtypes and exact values of a table."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def fit_subset(train: Any, entity: str, n_entities: int | None, seed: int = 0) -> Any:
    """``n_entities`` whole sequences of ``train``, drawn at random (seed 0), or all of them."""
    import numpy as np

    ids = np.sort(train[entity].unique())
    if n_entities is None or n_entities >= len(ids):
        return train
    chosen = np.random.default_rng(seed).choice(ids, size=n_entities, replace=False)
    return train[train[entity].isin(chosen)].reset_index(drop=True)


def read_csv(path: Path, dtypes: dict[str, str]) -> Any:
    import pandas as pd

    return pd.read_csv(
        path,
        dtype={c: (object if t in ("object", "str") else t) for c, t in dtypes.items()},
        keep_default_na=False,
        na_values=[""],
    )


def read_synthetic(path: Path, real: Any) -> tuple[Any, list[str]]:
    """Read a sampled CSV and give it the real columns' dtypes where the values allow it."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)
    notes = []
    for column, dtype in real.dtypes.items():
        if column not in df.columns:
            notes.append(f"{column}: missing from the sample")
            continue
        values = df[column]
        if str(dtype) == "int64":
            numbers = pd.to_numeric(values, errors="coerce")
            whole = numbers.notna().all() and np.allclose(numbers, np.round(numbers))
            if whole:
                df[column] = np.round(numbers).astype("int64")
            else:
                df[column] = numbers.astype("float64")
                notes.append(f"{column}: int64 in the real data, float64 here (NaN or fractions)")
        elif str(dtype) == "float64":
            df[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            text = values.astype(object)
            df[column] = pd.Series(
                [v if isinstance(v, str) else (str(v) if v == v else np.nan) for v in text],
                dtype=object,
                index=df.index,
            )
    return df[[c for c in real.columns if c in df.columns]], notes


# --- running the generators ----------------------------------------------------------------


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_process(command: list[str], out: Path, timeout: float) -> dict[str, Any]:
    """Run one worker; sample the 1-minute load average every 2 s while it runs (the worker
    itself accounts for about 1-2 on two cores; more means other jobs were competing)."""
    start = time.perf_counter()
    measured_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        while proc.poll() is None:
            if time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
                return {"status": "timeout", "error": f"timed out after {timeout:.0f} s"}
            time.sleep(2)
            loads.append(os.getloadavg()[0])
        stderr.seek(0)
        err = stderr.read()
        stdout.seek(0)
        std = stdout.read()
    wall = time.perf_counter() - start
    if not out.exists():
        tail = (err or std)[-2000:]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}
    result = json.loads(out.read_text())
    result["measured_at"] = measured_at
    result["process_wall_s"] = wall
    result["load_average_at_start"] = round(loads[0], 2)
    result["load_average_during"] = {
        "mean": round(statistics.fmean(loads[1:] or loads), 2),
        "max": round(max(loads), 2),
    }
    if result.get("status") == "error":
        result["stderr_tail"] = err[-2000:]
    return result


def run_side(
    side: str, dataset: str, repeat: int, fit_csv: Path, spec: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    """Fit + sample one side once (fresh process); PAR runs are cached."""
    args, work = ctx["args"], ctx["work"]
    tag = f"{dataset}_{side}_r{repeat}"
    synth = work / "synth" / f"{tag}.csv"
    record = work / "runs" / f"{tag}.json"
    worker = PAR_WORKER if side == "par" else Path(__file__)
    key = hashlib.sha256(
        json.dumps([spec, _file_digest(fit_csv), _file_digest(worker)], sort_keys=True).encode()
    ).hexdigest()[:16]
    if side == "par" and not args.refit_par and record.exists() and synth.exists():
        cached = json.loads(record.read_text())
        if cached.get("key") == key and cached["result"].get("status") == "ok":
            log(f"{dataset} / {SIDE_LABEL[side]} #{repeat + 1}: cached ({record.name})")
            return {**cached["result"], "cached": True, "synthetic_csv": str(synth)}
    spec_path = work / "runs" / f"{tag}.spec.json"
    _atomic_write(spec_path, json.dumps(spec, indent=1))
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        out = Path(tmp) / "result.json"
        if side == "par":
            python = ctx["par_python"]
            command = [str(python), str(PAR_WORKER)]
        else:
            command = [sys.executable, str(Path(__file__).resolve()), "--sosie-worker"]
        command += ["--data", str(fit_csv), "--spec", str(spec_path)]
        command += ["--out-data", str(synth), "--out", str(out)]
        log(f"{dataset} / {SIDE_LABEL[side]} #{repeat + 1}: fitting")
        result = run_process(command, out, args.timeout)
    if result.get("status") == "ok":
        log(
            f"  fit {result['fit_s']:.1f} s, sample {result['sample_s']:.1f} s, "
            f"peak RSS {result['peak_rss'] / 2**20:,.0f} MiB"
        )
        if side == "par":
            _atomic_write(record, json.dumps({"key": key, "result": result}, indent=1) + "\n")
    else:
        log(f"  {result.get('status')}: {str(result.get('error'))[:300]}")
    return {**result, "cached": False, "synthetic_csv": str(synth)}


def sosie_worker(args: argparse.Namespace) -> int:
    """The sosie side, in a fresh process: fit sosie's sequence generator, sample, report."""
    import importlib.metadata
    import platform

    spec = json.loads(Path(args.spec).read_text())
    result: dict[str, Any] = {
        "side": "sosie",
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "machine": platform.machine(),
    }
    try:
        start = time.perf_counter()
        try:
            from sosie.generators import make_generator
        except ImportError as exc:
            result.update(status="not available", error=f"{type(exc).__name__}: {exc}")
            raise SystemExit from None
        result["import_s"] = time.perf_counter() - start
        result["versions"] = {}
        for name in ("sosie", "torch", "numpy", "pandas", "scikit-learn"):
            try:
                result["versions"][name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                result["versions"][name] = None
        df = read_csv(Path(args.data), spec["dtypes"])
        result["data_shape"] = list(df.shape)
        result["rss_after_load"] = _peak_rss()
        params = {"rng": spec["seed"], **spec.get("params", {})}
        try:
            generator = make_generator(spec["generator"], **params)
        except (KeyError, LookupError, ValueError) as exc:
            result.update(status="not available", error=f"{type(exc).__name__}: {exc}")
            raise SystemExit from None
        start = time.perf_counter()
        generator.fit(df, entity=spec["entity"], time=spec["time"], static=spec["static"])
        result["fit_s"] = time.perf_counter() - start
        result["peak_rss_fit"] = _peak_rss()
        result["settings"] = f"make_generator({spec['generator']!r}, **{params})"
        for attr in ("epochs_", "stop_reason_"):
            if hasattr(generator, attr):
                result[attr] = getattr(generator, attr)
        start = time.perf_counter()
        sampled = generator.sample(spec["n_sequences"], rng=spec["seed"] + 1)
        result["sample_s"] = time.perf_counter() - start
        result["peak_rss"] = _peak_rss()
        result["n_sequences"] = int(sampled[spec["entity"]].nunique())
        result["n_rows"] = len(sampled)
        result["problems"] = (
            [] if list(sampled.columns) == list(df.columns) else [f"columns {list(sampled)}"]
        )
        tmp = f"{args.out_data}.tmp"
        sampled.to_csv(tmp, index=False)
        os.replace(tmp, args.out_data)
        result["status"] = "ok"
    except SystemExit:
        pass
    except Exception as exc:
        result.update(
            status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
    _atomic_write(Path(args.out), json.dumps(result, indent=1, default=str))
    return 0 if result["status"] in ("ok", "not available") else 1


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# --- scoring -------------------------------------------------------------------------------


def entity_features(df: Any, cfg: dict[str, Any], real_dtypes: Any) -> Any:
    """Plain per-sequence features for this script's own TSTR: per numeric event column the
    mean, std, first, last value and missing share; the number of events; the time span.
    ItalyPowerDemand: the values at positions 0-23 instead (the usual classification view)."""
    import numpy as np
    import pandas as pd

    entity, timecol = cfg["entity"], cfg["time"]
    df = df.sort_values([entity, timecol], kind="stable")
    if "value" in df.columns and set(df.columns) == {entity, timecol, "value", "label"}:
        position = df.groupby(entity).cumcount()
        wide = df.assign(_pos=position).pivot(index=entity, columns="_pos", values="value")
        wide = wide.reindex(columns=range(24))
        return wide.set_axis([f"v{i}" for i in range(24)], axis=1)
    events = [
        c
        for c in df.columns
        if c not in (entity, timecol, *cfg["static"]) and str(real_dtypes[c]) != "object"
    ]
    grouped = df.groupby(entity, sort=True)
    parts = {
        "n_events": grouped.size(),
        "time_span": grouped[timecol].max() - grouped[timecol].min(),
    }
    for column in events:
        g = grouped[column]
        parts[f"{column}_mean"] = g.mean()
        parts[f"{column}_std"] = g.std()
        parts[f"{column}_first"] = g.first()
        parts[f"{column}_last"] = g.last()
        parts[f"{column}_missing"] = df[column].isna().groupby(df[entity]).mean()
    return pd.DataFrame(parts).astype(float).replace([np.inf, -np.inf], np.nan)


def entity_target(df: Any, cfg: dict[str, Any]) -> Any:
    return df.groupby(cfg["entity"], sort=True)[cfg["target"]].first().astype(str)


def own_utility(fit: Any, test: Any, synthetic: Any | None, cfg: dict[str, Any]) -> dict:
    """TSTR vs TRTR on plain per-sequence features (scikit-learn only).

    ItalyPowerDemand: accuracy of 1-nearest-neighbour (Euclidean, the UCR baseline) and of a
    random forest (500 trees, seed 0) on the 24 values. nlswork: ROC AUC and accuracy of
    ``HistGradientBoostingClassifier(l2_regularization=1.0, random_state=0)`` predicting
    ``collgrad`` from the event features (static columns excluded, so the score measures
    whether the events carry the relation to the static column)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.neighbors import KNeighborsClassifier

    dtypes = fit.dtypes
    x_test, y_test = entity_features(test, cfg, dtypes), entity_target(test, cfg)
    italy = "v0" in x_test.columns

    def models() -> dict[str, Any]:
        if italy:
            return {
                "1nn": KNeighborsClassifier(n_neighbors=1),
                "random_forest": RandomForestClassifier(n_estimators=500, random_state=0),
            }
        return {"hist_gb": HistGradientBoostingClassifier(l2_regularization=1.0, random_state=0)}

    def score(train_df: Any) -> dict[str, Any]:
        x, y = entity_features(train_df, cfg, dtypes), entity_target(train_df, cfg)
        x = x.reindex(columns=x_test.columns)
        out: dict[str, Any] = {"n_train": len(x), "classes_train": y.value_counts().to_dict()}
        if y.nunique() < 2:
            out["error"] = "one class only in the training sequences"
            return out
        incomplete = float(x.isna().any(axis=1).mean())
        for name, model in models().items():
            xt, xs = x.to_numpy(float), x_test.to_numpy(float)
            if italy:  # z-normalised readings: a missing position is filled with the mean, 0
                xt, xs = np.nan_to_num(xt), np.nan_to_num(xs)
            model.fit(xt, y.to_numpy())
            pred = model.predict(xs)
            out[f"{name}_accuracy"] = float(accuracy_score(y_test, pred))
            if not italy:
                positive = list(model.classes_).index("1") if "1" in model.classes_ else 1
                proba = model.predict_proba(xs)[:, positive]
                out[f"{name}_roc_auc"] = float(roc_auc_score(y_test == "1", proba))
        if italy:
            out["incomplete_sequences_share"] = incomplete
        return out

    if synthetic is None:
        return score(fit)
    return score(synthetic)


def own_checks(syn: Any, fit: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """Validity checks that need no model: do the sequences look like sequences of this data?"""
    import numpy as np

    entity, timecol = cfg["entity"], cfg["time"]
    grouped = syn.groupby(entity, sort=False)
    times = syn[timecol]
    lo, hi = fit[timecol].min(), fit[timecol].max()
    increasing = grouped[timecol].apply(lambda s: bool(np.all(np.diff(s.to_numpy()) > 0)))
    static_const = {c: float((grouped[c].nunique(dropna=False) == 1).mean()) for c in cfg["static"]}
    lengths, real_lengths = grouped.size(), fit.groupby(entity).size()
    out: dict[str, Any] = {
        "n_sequences": int(syn[entity].nunique()),
        "n_rows": len(syn),
        "mean_length": float(lengths.mean()),
        "real_mean_length": float(real_lengths.mean()),
        "time_strictly_increasing_share": float(increasing.mean()),
        "time_in_real_range_share": float(times.between(lo, hi).mean()),
        "static_constant_share": static_const,
        "missing_share_mean_abs_diff": float(
            (syn.isna().mean() - fit[syn.columns].isna().mean()).abs().mean()
        ),
    }
    if cfg["time"] == "hour":
        hours = grouped[timecol].apply(lambda s: s.tolist() == list(range(24)))
        out["hours_exactly_0_23_share"] = float(hours.mean())
    return out


def sosie_metrics(fit: Any, test: Any, syn: Any, cfg: dict[str, Any], utility: bool) -> dict:
    """``sosie.evaluate.evaluate_sequences``: every metric as a small dict, or why not."""
    try:
        from sosie.evaluate import evaluate_sequences
        from sosie.schema import infer_sequence_schema
    except ImportError as exc:
        return {"status": "not available", "error": f"{type(exc).__name__}: {exc}"}
    try:
        schema = infer_sequence_schema(
            fit, entity=cfg["entity"], time=cfg["time"], static=cfg["static"]
        )
        kwargs: dict[str, Any] = {"schema": schema, "rng": 0}
        if utility:
            kwargs["target"] = cfg["target"]
        else:
            kwargs["metrics"] = tuple(m for m in _sequence_metric_names() if m != "utility")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluation = evaluate_sequences(fit, test, syn, **kwargs)
        metrics = {}
        for m in evaluation:
            metrics[m.name] = {
                "value": _finite(m.value),
                "normalized": _finite(m.normalized),
                "ci": [_finite(v) for v in m.ci] if m.ci else None,
                "family": m.family,
                "goal": m.goal,
                "description": m.description,
            }
        return {"status": "ok", "elapsed_s": time.perf_counter() - start, "metrics": metrics}
    except Exception as exc:
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-3000:],
        }


def _sequence_metric_names() -> tuple[str, ...]:
    from sosie.evaluate import SEQUENCE_METRICS

    return tuple(SEQUENCE_METRICS)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def score_run(run: dict[str, Any], fit: Any, test: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """Score one sample; a part that fails is recorded as an error, the others still run."""
    try:
        syn, notes = read_synthetic(Path(run["synthetic_csv"]), fit)
    except Exception as exc:
        error = {"error": f"unreadable sample: {type(exc).__name__}: {exc}"}
        return {
            "checks": error,
            "own_utility": error,
            "sosie_metrics": {"status": "error", **error},
        }
    scores: dict[str, Any] = {"coercions": notes}
    parts = {
        "checks": lambda: own_checks(syn, fit, cfg),
        "own_utility": lambda: own_utility(fit, test, syn, cfg),
    }
    for part, compute in parts.items():
        try:
            scores[part] = compute()
        except Exception as exc:
            scores[part] = {"error": f"{type(exc).__name__}: {exc}"}
    scores["sosie_metrics"] = sosie_metrics(fit, test, syn, cfg, utility=True)
    return scores


# --- aggregating and reporting -------------------------------------------------------------


def _stats(values: list[Any]) -> dict[str, Any] | None:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r.get("status") == "ok"]
    agg: dict[str, Any] = {}
    for key in ("fit_s", "sample_s", "peak_rss", "peak_rss_fit"):
        agg[key] = _stats([r.get(key) for r in ok])
    agg["load_during"] = _stats([r.get("load_average_during", {}).get("mean") for r in ok])
    scores = [r["scores"] for r in ok if "scores" in r]
    for key in (
        "mean_length",
        "time_strictly_increasing_share",
        "time_in_real_range_share",
        "missing_share_mean_abs_diff",
        "hours_exactly_0_23_share",
    ):
        agg[f"check.{key}"] = _stats([s["checks"].get(key) for s in scores])
    for key in ("1nn_accuracy", "random_forest_accuracy", "hist_gb_accuracy", "hist_gb_roc_auc"):
        agg[f"own_utility.{key}"] = _stats([s["own_utility"].get(key) for s in scores])
    names = sorted(
        {
            n
            for s in scores
            if s["sosie_metrics"].get("status") == "ok"
            for n in s["sosie_metrics"]["metrics"]
        }
    )
    for name in names:
        agg[f"sosie.{name}"] = _stats(
            [s["sosie_metrics"].get("metrics", {}).get(name, {}).get("value") for s in scores]
        )
    return agg


def _fmt(value: float | None, kind: str = "num") -> str:
    if value is None:
        return "n/a"
    if kind == "s":
        return f"{value:.1f}" if value < 100 else f"{value:,.0f}"
    if kind == "mib":
        return f"{value / 2**20:,.0f}"
    if kind == "load":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}" if value >= 0.01 else f"{value:.3f}"
    return f"{value:.3f}"


def _cell(entry: dict[str, Any] | None, kind: str = "num", status: str = "ok") -> str:
    if not entry:
        return status if status != "ok" else "n/a"
    text = _fmt(entry["median"], kind)
    if entry["n"] > 1:
        text += f" ({_fmt(entry['min'], kind)}–{_fmt(entry['max'], kind)})"
    return text


def side_status(side: dict[str, Any] | None) -> str:
    if not side:
        return "not run"
    runs = side.get("runs", [])
    if any(r.get("status") == "ok" for r in runs):
        return "ok"
    if not runs:
        return "not run"
    return str(runs[-1].get("status", "error"))


def render_markdown(report: dict[str, Any]) -> str:
    quick = report["settings"]["quick"]
    lines = [
        "# Sequence generators on real data: sosie vs SDV PAR",
        "",
        f"Generated {report['date']} by `benchmarks/run_sequences.py{' --quick' if quick else ''}`"
        f" ({report['elapsed_s'] / 60:.0f} min). Each generator is fitted on the same real "
        "training sequences, samples as many sequences as the train split has, and is scored "
        "with the same code against real **test** sequences (whole entities the generators "
        "never saw). Every fit runs in a fresh process, one at a time.",
        "",
    ]
    if quick:
        lines += ["**Smoke run (`--quick`): tiny fits, figures meaningless.**", ""]
    for name, block in report["datasets"].items():
        lines += render_dataset(name, block)
    lines += render_footer(report)
    return "\n".join(lines)


def render_dataset(name: str, block: dict[str, Any]) -> list[str]:
    cfg, sides = block["config"], block["sides"]
    order = [s for s in (*SIDES, "reference") if s in sides]
    gen_sides = [s for s in order if s != "reference"]
    status = {s: side_status(sides.get(s)) for s in order}
    agg = {s: sides[s].get("aggregate", {}) for s in order}
    data = block["data"]
    lines = [
        f"## {cfg['title']}",
        "",
        f"- entity `{cfg['entity']}`, time `{cfg['time']}`, static "
        + ", ".join(f"`{c}`" for c in cfg["static"])
        + f"; utility target `{cfg['target']}`",
        f"- train: {data['train']['entities']:,} sequences ({data['train']['rows']:,} rows); "
        f"test: {data['test']['entities']:,} ({data['test']['rows']:,} rows); generators fitted "
        f"on {data['fit']['entities']:,} train sequences ({data['fit']['rows']:,} rows)"
        + (
            f", a random subset (seed 0) because of PAR's cost; `sosie (whole train)` is "
            f"fitted on all {data['train']['entities']:,}"
            if data["fit"]["entities"] < data["train"]["entities"]
            else ""
        )
        + f"; each samples {block['settings']['n_sequences']:,} sequences",
        f"- repeats: {block['settings']['repeats']} (different seeds); cells show the median "
        "(min–max)",
        "",
        "### Cost",
        "",
        "| measure | " + " | ".join(SIDE_LABEL[s] for s in gen_sides) + " | sosie / PAR |",
        "| --- |" + " ---: |" * (len(gen_sides) + 1),
    ]
    for label, key, kind in (
        ("fit, s", "fit_s", "s"),
        ("sampling, s", "sample_s", "s"),
        ("peak RSS after fit, MiB", "peak_rss_fit", "mib"),
        ("peak RSS incl. sampling, MiB", "peak_rss", "mib"),
        ("mean load average during the run", "load_during", "load"),
    ):
        cells = [_cell(agg[s].get(key), kind, status[s]) for s in gen_sides]
        p, q = agg.get("par", {}).get(key), agg.get("sosie", {}).get(key)
        ratio = _fmt(q["median"] / p["median"], "ratio") if p and q and p["median"] else "n/a"
        ratio = "—" if key == "load_during" else ratio
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    cached = sorted(
        {
            r.get("measured_at", "at an unrecorded date")
            for r in sides.get("par", {}).get("runs", [])
            if r.get("cached")
        }
    )
    lines += [
        "",
        "Ratios divide medians measured in this run (below 1: sosie is faster or smaller). "
        "Fit time: DataFrame in, fitted model out (SDV's metadata detection included); peak "
        "RSS is `ru_maxrss` of the fitting process (interpreter and torch included).",
        "",
    ]
    if cached:
        lines += [
            f"**PAR's runs were reused from the cache** (measured {', '.join(cached)}), so "
            "its times come from an earlier run than sosie's: compare the ratios with care.",
            "",
        ]
    lines += [
        "### Quality against the real test split",
        "",
        "| metric | " + " | ".join(SIDE_LABEL[s] for s in order) + " |",
        "| --- |" + " ---: |" * len(order),
    ]
    metric_keys: list[str] = []
    for s in order:
        metric_keys += [k for k in agg[s] if k.startswith("sosie.") and k not in metric_keys]
    for key in metric_keys:
        lines.append(
            f"| `{key.removeprefix('sosie.')}` | "
            + " | ".join(_cell(agg[s].get(key), "num", status[s]) for s in order)
            + " |"
        )
    if not metric_keys:
        lines.append(
            "| `evaluate_sequences` | "
            + " | ".join(_sosie_metrics_status(sides[s]) for s in order)
            + " |"
        )
    own_rows = [
        ("TSTR accuracy, 1-NN on the 24 values", "own_utility.1nn_accuracy"),
        ("TSTR accuracy, random forest on the 24 values", "own_utility.random_forest_accuracy"),
        (f"TSTR ROC AUC `{cfg['target']}`, gradient boosting", "own_utility.hist_gb_roc_auc"),
        (f"TSTR accuracy `{cfg['target']}`, gradient boosting", "own_utility.hist_gb_accuracy"),
        ("mean sequence length (real fit set: see below)", "check.mean_length"),
        (
            "share of sequences with strictly increasing time",
            "check.time_strictly_increasing_share",
        ),
        ("share of time values inside the real range", "check.time_in_real_range_share"),
        ("share of sequences with hours exactly 0..23", "check.hours_exactly_0_23_share"),
        ("mean abs. difference of missing shares", "check.missing_share_mean_abs_diff"),
    ]
    for label, key in own_rows:
        if any(agg[s].get(key) for s in order):
            lines.append(
                f"| {label} | "
                + " | ".join(_cell(agg[s].get(key), "num", status[s]) for s in order)
                + " |"
            )
    trtr = block.get("trtr", {})
    trtr_text = ", ".join(
        f"{k.replace('_', ' ')} {v:.3f}"
        for k, v in trtr.items()
        if k.endswith(("accuracy", "roc_auc")) and isinstance(v, float)
    )
    lines += [
        "",
        f"TRTR (the same models trained on the real fit set, tested on real test): "
        f"{trtr_text or 'n/a'}. Mean real sequence length in the fit set: "
        f"{block['data']['fit']['mean_length']:.2f}.",
        "",
        "Rows in backticks are `sosie.evaluate.evaluate_sequences(fit_set, test, synthetic, "
        f"schema=infer_sequence_schema(fit_set, ...), target={cfg['target']!r}, rng=0)` values "
        "(each in [0, 1], higher is better, except `detection_auc`: best 0.5, and "
        "`utility_*`: the raw scores). The reference column scores the real test sequences as "
        "if they were synthetic (fidelity only): what two real samples of different entities "
        "score. The other rows are this script's own checks (see its docstring).",
        "",
    ]
    for s in gen_sides:
        if status[s] != "ok":
            err = next((r.get("error") for r in sides[s].get("runs", []) if r.get("error")), "")
            lines += [f"**{SIDE_LABEL[s]}: {status[s]}** — {str(err)[:300]}", ""]
    par = sides.get("par", {})
    last = next((r for r in reversed(par.get("runs", [])) if r.get("status") == "ok"), None)
    if last:
        lines += [f"PAR settings: `{last.get('settings')}`."]
        overrides = last.get("metadata_overrides") or []
        if overrides:
            lines.append(
                "SDV metadata overrides (detected -> set): "
                + "; ".join(
                    f"`{o['column']}` {o['detected']} -> {o['set']}"
                    if "column" in o
                    else f"primary key `{o['primary_key']}` removed"
                    for o in overrides
                )
                + "."
            )
        lines.append("")
    probe = block.get("par_probe")
    if probe:
        if probe.get("status") == "ok":
            per_epoch = probe["fit_s"] / max(1, probe["spec"]["epochs"])
            lines += [
                f"PAR on the whole train split ({data['train']['entities']:,} sequences), "
                f"{probe['spec']['epochs']} epochs, not scored: fit {probe['fit_s']:,.0f} s "
                f"(~{per_epoch:,.0f} s per epoch; 128 epochs would take "
                f"~{per_epoch * 128 / 3600:.1f} h), peak RSS "
                f"{probe['peak_rss_fit'] / 2**30:.1f} GiB.",
                "",
            ]
        else:
            lines += [f"PAR whole-train probe: {probe.get('status')} {probe.get('error', '')}", ""]
    return lines


def _sosie_metrics_status(side: dict[str, Any]) -> str:
    for run in side.get("runs", []):
        sm = run.get("scores", {}).get("sosie_metrics", {})
        if sm and sm.get("status") != "ok":
            return sm.get("status", "error")
    return side_status(side)


def render_footer(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    lines = [
        "## Machine and versions",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m.get('usable_cpus')} usable CPUs, "
        f"{m.get('memory_gib', '?')} GiB RAM, {m['platform']}",
        f"- mean 1-minute load average during each fit, in run order: "
        f"{report.get('load_averages') or 'n/a'} (a fit itself accounts for about 1-2 on two "
        "cores; more means other jobs competed and inflated its times; the 1-minute average lags, "
        "so it says little about fits shorter than a minute)",
        f"- sosie revision: {report.get('git_revision') or 'unknown'}",
    ]
    for label, versions in report.get("versions", {}).items():
        if versions:
            text = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
            lines.append(f"- {label}: {text}")
    args = report["settings"].get("argv") or []
    lines += [
        "",
        f"Raw numbers: `{NAME}.json`. Reproduce: `.venv/bin/python benchmarks/run_sequences.py"
        f"{(' ' + ' '.join(args)) if args else ''}`.",
        "",
    ]
    return lines


# --- main ----------------------------------------------------------------------------------


def prepare(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cfg = dict(DATASETS[name])
    train, test = load_split(name, "train"), load_split(name, "test")
    n_fit = args.fit_entities.get(name, cfg["fit_entities"])
    fit = fit_subset(train, cfg["entity"], n_fit)
    paths = {}
    for part, df in (("fit", fit), ("train", train)):
        path = work / "data" / f"{name}_{part}.csv"
        _atomic_write(path, df.to_csv(index=False))
        back = read_csv(path, {c: str(t) for c, t in df.dtypes.items()})
        if fingerprint(back) != fingerprint(df):
            raise SystemExit(f"{path} does not read back identically; cannot hand it over")
        paths[part] = path
    n_sequences = args.n_sequences or int(train[cfg["entity"]].nunique())

    def describe(df: Any) -> dict[str, Any]:
        sizes = df.groupby(cfg["entity"]).size()
        return {
            "entities": len(sizes),
            "rows": len(df),
            "mean_length": float(sizes.mean()),
            "fingerprint": fingerprint(df),
        }

    return {
        "cfg": cfg,
        "train": train,
        "test": test,
        "fit": fit,
        "paths": paths,
        "n_sequences": n_sequences,
        "repeats": args.repeats or cfg["repeats"],
        "data": {"train": describe(train), "test": describe(test), "fit": describe(fit)},
    }


def spec_for(side: str, prep: dict[str, Any], seed: int, args: argparse.Namespace) -> dict:
    cfg = prep["cfg"]
    df = prep["fit"] if side != "sosie_full" else prep["train"]
    spec: dict[str, Any] = {
        "table": "events",
        "entity": cfg["entity"],
        "time": cfg["time"],
        "static": list(cfg["static"]),
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
        "n_sequences": prep["n_sequences"],
        "seed": seed,
    }
    if side == "par":
        spec["sdtypes"] = cfg["sdtypes"]
        spec["epochs"] = args.par_epochs
    else:
        spec["generator"] = args.sosie_generator
        spec["params"] = args.sosie_params
    return spec


def parse_params(text: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, (text or "").split(",")):
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run into _work/results")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--sides", default=",".join(SIDES), help="par,sosie,sosie_full")
    parser.add_argument("--repeats", type=int, help="per data set (default nlswork 1, italy 3)")
    parser.add_argument("--par-epochs", type=int, help="PAR epochs (default 128, SDV's)")
    parser.add_argument(
        "--fit-entities",
        help="sequences to fit on, per data set: nlswork=500 (default), or 'all'",
    )
    parser.add_argument("--n-sequences", type=int, help="sequences to sample (default: train's)")
    parser.add_argument("--par-probe-epochs", type=int, default=0, help="time PAR on all train")
    parser.add_argument("--sosie-generator", default="sequence_gru")
    parser.add_argument("--sosie-params", help="e.g. epochs=50,hidden=64 (JSON values)")
    parser.add_argument("--refit-par", action="store_true", help="ignore cached PAR runs")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="per fit, seconds")
    parser.add_argument("--sdv-python", help="use this interpreter for PAR instead of .venv-sdv")
    parser.add_argument("--no-setup", action="store_true", help="never create .venv-sdv")
    parser.add_argument("--out-dir", type=Path)
    # internal: the sosie side's fresh process
    parser.add_argument("--sosie-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out-data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.sosie_worker:
        return args
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if set(args.datasets) - set(DATASETS) or set(args.sides) - set(SIDES):
        parser.error(f"--datasets from {list(DATASETS)}, --sides from {list(SIDES)}")
    fit_entities: dict[str, int | None] = {}
    for item in filter(None, (args.fit_entities or "").split(",")):
        key, _, value = item.partition("=")
        fit_entities[key.strip()] = None if value.strip() == "all" else int(value)
    if args.quick:
        fit_entities = {**QUICK["fit_entities"], **fit_entities}
        args.par_epochs = args.par_epochs or QUICK["par_epochs"]
        args.n_sequences = args.n_sequences or QUICK["n_sequences"]
        args.repeats = args.repeats or QUICK["repeats"]
        args.sosie_params = args.sosie_params or "epochs=2"
    args.fit_entities = fit_entities
    args.par_epochs = args.par_epochs or 128
    args.sosie_params = parse_params(args.sosie_params)
    args.out_dir = args.out_dir or (HERE / "_work" / "results" if args.quick else RESULTS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sosie_worker:
        return sosie_worker(args)
    started = time.perf_counter()
    work = HERE / "_work" / ("sequences_quick" if args.quick else "sequences")
    for sub in ("data", "runs", "synth"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    ctx: dict[str, Any] = {"args": args, "work": work}
    if "par" in args.sides or args.par_probe_epochs:
        ctx["par_python"] = sdv_python(args)
    report: dict[str, Any] = {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {
            "quick": args.quick,
            "argv": args.argv,
            "sides": args.sides,
            "par_epochs": args.par_epochs,
            "sosie_generator": args.sosie_generator,
            "sosie_params": args.sosie_params,
            "timeout_s": args.timeout,
        },
        "machine": machine_info(),
        "git_revision": git_revision(),
        "datasets": {},
        "versions": {},
    }
    loads: list[float] = []
    for name in args.datasets:
        prep = prepare(name, args, work)
        cfg = prep["cfg"]
        log(
            f"{name}: fit set {prep['data']['fit']['entities']} sequences, "
            f"test {prep['data']['test']['entities']}, sampling {prep['n_sequences']}"
        )
        sides_here = [
            s for s in args.sides if s != "sosie_full" or len(prep["fit"]) < len(prep["train"])
        ]
        block: dict[str, Any] = {
            "config": {k: v for k, v in cfg.items()},
            "data": prep["data"],
            "settings": {"n_sequences": prep["n_sequences"], "repeats": prep["repeats"]},
            "sides": {s: {"runs": []} for s in sides_here},
        }
        for repeat in range(prep["repeats"]):
            order = sides_here if repeat % 2 == 0 else list(reversed(sides_here))
            for side in order:
                fit_csv = prep["paths"]["train" if side == "sosie_full" else "fit"]
                spec = spec_for(side, prep, repeat, args)
                run = run_side(side, name, repeat, fit_csv, spec, ctx)
                if "load_average_during" in run and not run.get("cached"):
                    loads.append(run["load_average_during"]["mean"])
                if run.get("status") == "ok":
                    fit_df = prep["train"] if side == "sosie_full" else prep["fit"]
                    log(f"{name} / {SIDE_LABEL[side]} #{repeat + 1}: scoring")
                    run["scores"] = score_run(run, fit_df, prep["test"], cfg)
                    sm = run["scores"]["sosie_metrics"]
                    if sm.get("status") != "ok":
                        log(f"  evaluate_sequences: {sm.get('status')}: {sm.get('error')}")
                    label = "PAR side" if side == "par" else "sosie side"
                    report["versions"].setdefault(label, run.get("versions"))
                block["sides"][side]["runs"].append(run)
        # reference: real test sequences scored as if synthetic (fidelity only)
        log(f"{name}: reference scores and TRTR")
        block["sides"]["reference"] = {
            "runs": [
                {
                    "status": "ok",
                    "scores": {
                        "checks": own_checks(prep["test"], prep["fit"], cfg),
                        "own_utility": {},
                        "sosie_metrics": sosie_metrics(
                            prep["fit"], prep["test"], prep["test"], cfg, utility=False
                        ),
                    },
                }
            ]
        }
        block["trtr"] = own_utility(prep["fit"], prep["test"], None, cfg)
        if name == "nlswork" and args.par_probe_epochs:
            probe_spec = spec_for("par", prep, 0, args)
            probe_spec.update(
                epochs=args.par_probe_epochs, n_sequences=min(200, prep["n_sequences"])
            )
            block["par_probe"] = run_side(
                "par", f"{name}_wholetrain", 0, prep["paths"]["train"], probe_spec, ctx
            )
        for entry in block["sides"].values():
            entry["aggregate"] = aggregate(entry["runs"])
        report["datasets"][name] = block
    report["load_averages"] = loads
    report["elapsed_s"] = time.perf_counter() - started
    json_path, md_path = args.out_dir / f"{NAME}.json", args.out_dir / f"{NAME}.md"
    _atomic_write(json_path, json.dumps(report, indent=1, default=str) + "\n")
    _atomic_write(md_path, render_markdown(report))
    log(f"wrote {md_path} and {json_path.name} ({report['elapsed_s'] / 60:.1f} min)")
    ok = any(
        r.get("status") == "ok"
        for block in report["datasets"].values()
        for s, e in block["sides"].items()
        if s != "reference"
        for r in e["runs"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
