"""Benchmark sosie's Gaussian copula against SDV's GaussianCopulaSynthesizer on UCI Adult.

One run measures both sides on the same table (``sosie.datasets.load_adult("train")``,
32,561 rows x 15 columns): fit time, sampling throughput (rows/s) and peak resident memory.
Every measurement is a fresh subprocess that fits once and samples each requested size, so
its peak RSS is its own; measurements run one at a time (two cores: jobs side by side distort
each other) and the two sides alternate order from repeat to repeat. The tables report the
median over the repeats, the range, and sosie/SDV ratios.

SDV is licensed under the Business Source License: it is never a sosie dependency. This
script installs it into a throwaway virtualenv, ``benchmarks/.venv-sdv`` (git-ignored), with
``benchmarks/constraints.txt`` pinning SDV and torch (an unpinned torch pulls multi-GB CUDA
wheels), and runs the SDV side there. The sosie side runs in the interpreter running this
script, which must have sosie installed (``pip install -e .`` in the repository root).

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_copula_vs_sdv.py            # full run, ~5 min
    .venv/bin/python benchmarks/run_copula_vs_sdv.py --quick    # smoke run, ~1 min

Results: ``benchmarks/results/gaussian_copula_adult.{md,json}`` (``--quick`` writes to
``benchmarks/_work/results/`` instead, so smoke runs never overwrite committed results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKER = HERE / "_copula_worker.py"
CONSTRAINTS = HERE / "constraints.txt"
SDV_VENV = HERE / ".venv-sdv"
WORK = HERE / "_work"
RESULTS = HERE / "results"
NAME = "gaussian_copula_adult"

FULL = {"repeats": 5, "warmup": 1, "rows": [32561, 1_000_000]}
QUICK = {"repeats": 1, "warmup": 0, "rows": [32561, 100_000]}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SIDE_LABEL = {"sosie": "sosie", "sdv": "SDV"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- environments --------------------------------------------------------------------------


def sdv_python(args: argparse.Namespace) -> Path:
    """The SDV interpreter: --sdv-python, or benchmarks/.venv-sdv (created on first use)."""
    if args.sdv_python:
        return Path(args.sdv_python)
    python = SDV_VENV / "bin" / "python"
    if python.exists() and _can_import(python, "sdv.single_table"):
        return python
    if args.no_setup:
        sys.exit(f"{python} has no SDV; run without --no-setup to install it")
    log(f"creating {SDV_VENV} and installing SDV pinned by {CONSTRAINTS.name} (about a minute)")
    venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(SDV_VENV)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), "sdv"],
        check=True,
    )
    if not _can_import(python, "sdv.single_table"):
        sys.exit(f"SDV installed into {SDV_VENV} but cannot be imported")
    return python


def _can_import(python: Path, module: str) -> bool:
    probe = subprocess.run(
        [str(python), "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


def export_adult() -> tuple[Path, Path]:
    """Write load_adult('train') as CSV + dtypes JSON for the SDV interpreter to read."""
    from sosie.datasets import load_adult

    df = load_adult("train")
    WORK.mkdir(parents=True, exist_ok=True)
    data, dtypes = WORK / "adult_train.csv", WORK / "adult_train.dtypes.json"
    _atomic_write(data, df.to_csv(index=False))
    _atomic_write(dtypes, json.dumps({str(c): str(t) for c, t in df.dtypes.items()}, indent=1))
    return data, dtypes


# --- measuring -----------------------------------------------------------------------------


def measure(
    python: Path, side: str, rows: list[int], seed: int, data: Path, dtypes: Path, timeout: float
) -> dict[str, Any]:
    """Run one fresh worker process; return its JSON result."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "result.json"
        command = [
            str(python), str(WORKER), "--side", side, "--rows", ",".join(map(str, rows)),
            "--seed", str(seed), "--data", str(data), "--dtypes", str(dtypes), "--out", str(out),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            return {"side": side, "status": "error", "error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - start
        if not out.exists():
            tail = (proc.stderr or proc.stdout)[-2000:]
            return {"side": side, "status": "error", "error": f"exit {proc.returncode}: {tail}"}
        result = json.loads(out.read_text())
        result["process_wall_s"] = wall
        if result.get("status") == "error":
            result["stderr_tail"] = proc.stderr[-2000:]
        return result


def run_all(args: argparse.Namespace, pythons: dict[str, Path], data: Path, dtypes: Path):
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in pythons}
    unavailable: dict[str, dict[str, Any]] = {}
    total = args.warmup + args.repeats
    for index in range(total):
        warm = index < args.warmup
        order = list(pythons) if index % 2 == 0 else list(reversed(pythons))
        for side in order:
            if side in unavailable:
                continue
            label = "warm-up" if warm else f"repeat {index - args.warmup + 1}/{args.repeats}"
            log(f"{SIDE_LABEL[side]}: {label}")
            result = measure(pythons[side], side, args.rows, index, data, dtypes, args.timeout)
            status = result.get("status")
            if status != "ok":
                log(f"  {status}: {result.get('error')}")
                unavailable[side] = result
                continue
            sample_text = ", ".join(
                f"{s['n_rows']:,} rows {s['rows_per_s']:,.0f}/s" for s in result["samples"]
            )
            log(
                f"  fit {result['fit_s']:.2f} s; {sample_text}; "
                f"peak RSS {result['peak_rss'] / 2**20:,.0f} MiB"
            )
            if not warm:
                runs[side].append(result)
    return runs, unavailable


# --- aggregating ---------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def aggregate(runs: list[dict[str, Any]], rows: list[int]) -> dict[str, Any]:
    if not runs:
        return {}
    out: dict[str, Any] = {
        "fit_s": _stats([r["fit_s"] for r in runs]),
        "import_s": _stats([r["import_s"] for r in runs]),
        "rss_after_load": _stats([r["rss_after_load"] for r in runs]),
        "peak_rss_fit": _stats([r["peak_rss_fit"] for r in runs]),
        "peak_rss": _stats([r["peak_rss"] for r in runs]),
    }
    if all("detect_s" in r for r in runs):
        out["detect_s"] = _stats([r["detect_s"] for r in runs])
    for n_rows in rows:
        samples = [s for r in runs for s in r["samples"] if s["n_rows"] == n_rows]
        out[f"sample_{n_rows}_s"] = _stats([s["sample_s"] for s in samples])
        out[f"sample_{n_rows}_rows_per_s"] = _stats([s["rows_per_s"] for s in samples])
    return out


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return info


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}{' (src modified)' if dirty else ''}"


# --- reporting -----------------------------------------------------------------------------


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "s":
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "mib":
        return f"{value / 2**20:,.0f}"
    if kind == "ratio":
        return f"{value:.2f}"
    return str(value)


def _median(agg: dict[str, Any], key: str) -> float | None:
    entry = agg.get(key)
    return entry["median"] if entry else None


def _cell(agg: dict[str, Any], key: str, kind: str, status: str) -> str:
    entry = agg.get(key)
    if not entry:
        return status if status != "ok" else "n/a"
    text = _fmt(entry["median"], kind)
    if entry["n"] > 1:
        text += f" ({_fmt(entry['min'], kind)}–{_fmt(entry['max'], kind)})"
    return text


def render_markdown(report: dict[str, Any]) -> str:
    sides = report["sides"]
    rows_list: list[int] = report["settings"]["rows"]
    sosie, sdv = sides.get("sosie", {}), sides.get("sdv", {})
    sa, da = sosie.get("aggregate", {}), sdv.get("aggregate", {})
    s_status, d_status = sosie.get("status", "not run"), sdv.get("status", "not run")
    repeats = report["settings"]["repeats"]

    lines = [
        "# Gaussian copula on UCI Adult (train): sosie vs SDV",
        "",
        f"Generated {report['date']} by `benchmarks/run_copula_vs_sdv.py"
        f"{' --quick' if report['settings']['quick'] else ''}`. "
        + (
            f"Each cell: median of {repeats} measurements (min–max), "
            if repeats > 1
            else "Each cell: a single measurement (smoke run, not for quoting), "
        )
        + "each in a fresh process, one at a time, sides alternating order."
        + (" One untimed warm-up per side first." if report["settings"]["warmup"] else ""),
        "",
        "| measure | sosie | SDV | sosie / SDV |",
        "| --- | ---: | ---: | ---: |",
    ]
    table: list[tuple[str, str, str, str]] = [
        ("fit time, s (lower is better)", "fit_s", "s", "lower"),
    ]
    if da.get("detect_s"):
        table.append(("  of which SDV metadata detection, s", "detect_s", "s", ""))
    for n_rows in rows_list:
        table.append(
            (f"sampling {n_rows:,} rows, rows/s (higher is better)",
             f"sample_{n_rows}_rows_per_s", "rate", "higher")
        )  # fmt: skip
        table.append((f"sampling {n_rows:,} rows, s", f"sample_{n_rows}_s", "s", ""))
    table += [
        ("peak RSS after fit, MiB", "peak_rss_fit", "mib", "lower"),
        (f"peak RSS incl. sampling {max(rows_list):,} rows, MiB", "peak_rss", "mib", "lower"),
        ("RSS after imports + data load, MiB", "rss_after_load", "mib", ""),
        ("import time, s", "import_s", "s", ""),
    ]
    for label, key, kind, _direction in table:
        s_med, d_med = _median(sa, key), _median(da, key)
        ratio = _fmt(s_med / d_med, "ratio") if s_med is not None and d_med else "n/a"
        s_cell = "—" if key == "detect_s" else _cell(sa, key, kind, s_status)
        lines.append(f"| {label} | {s_cell} | {_cell(da, key, kind, d_status)} | {ratio} |")
    lines += [
        "",
        "Ratios divide the medians. For times and memory below 1 means sosie is faster or "
        "smaller; for rows/s above 1 means sosie is faster. Fit time includes everything "
        "between handing over the DataFrame and a fitted model (sosie's schema inference, "
        "SDV's `Metadata.detect_from_dataframes`); imports and loading the data are excluded. "
        "Peak RSS is `ru_maxrss` of the measuring process, so it includes the interpreter and "
        "imported libraries (SDV imports torch); the row above shows that baseline.",
        "",
    ]
    for side, label in (("sosie", "sosie"), ("sdv", "SDV")):
        entry = sides.get(side, {})
        if entry.get("status") not in (None, "ok"):
            lines.append(f"**{label}: {entry['status']}** — {entry.get('error', '')}".rstrip())
            lines.append("")

    lines += ["## Settings", ""]
    if sosie.get("settings"):
        lines.append(f"- sosie: `{sosie['settings']}`")
    if sdv.get("settings"):
        lines.append(f"- SDV: `{sdv['settings']}`")
    overrides = sdv.get("metadata_overrides")
    if overrides is not None:
        lines.append(
            "- SDV metadata: `Metadata.detect_from_dataframes({'adult': df})`, then checked "
            "against the expected sdtypes (int64 -> numerical, text -> categorical) and no "
            "primary key. Overrides needed: "
            + ("none (detection was right for all 15 columns)." if not overrides else "")
        )
        for item in overrides:
            lines.append(f"  - `{json.dumps(item)}`")
    lines.append(
        f"- data: `sosie.datasets.load_adult('train')`, shape {report['data']['shape']}; "
        "the SDV side reads a CSV export of the same frame with the same dtypes, checked "
        f"by fingerprint ({'identical' if report['data']['fingerprints_match'] else 'MISMATCH'})."
    )
    lines.append("")

    lines += ["## Sanity of the output (last measurement)", ""]
    lines += ["| figure | real | sosie | SDV |", "| --- | ---: | ---: | ---: |"]
    real = report["data"].get("summary") or {}
    big = max(rows_list)

    def _last_sample(side: str) -> dict[str, Any]:
        for sample in sides.get(side, {}).get("last_samples", []):
            if sample["n_rows"] == big:
                return sample["summary"]
        return {}

    s_sum, d_sum = _last_sample("sosie"), _last_sample("sdv")
    key = "share_>50K"
    lines.append(
        f"| share of `income == '>50K'` | {real.get(key, 'n/a')} | {s_sum.get(key, 'n/a')} "
        f"| {d_sum.get(key, 'n/a')} |"
    )
    lines.append(
        f"| mean `age` | {real.get('age_mean', 'n/a')} | {s_sum.get('age_mean', 'n/a')} "
        f"| {d_sum.get('age_mean', 'n/a')} |"
    )
    for label, key in (
        ("corr(`education_num`, `income == '>50K'`)", "corr_education_num_income"),
        ("corr(`age`, `hours_per_week`)", "corr_age_hours_per_week"),
    ):
        lines.append(
            f"| {label} | {real.get(key, 'n/a')} | {s_sum.get(key, 'n/a')} "
            f"| {d_sum.get(key, 'n/a')} |"
        )
    for column in ("workclass", "occupation", "native_country"):
        lines.append(
            f"| missing share `{column}` | {real.get('missing_share', {}).get(column, 0)} "
            f"| {s_sum.get('missing_share', {}).get(column, 'n/a' if not s_sum else 0)} "
            f"| {d_sum.get('missing_share', {}).get(column, 'n/a' if not d_sum else 0)} |"
        )
    problems = [
        f"{side}: {p}"
        for side in ("sosie", "sdv")
        for sample in sides.get(side, {}).get("last_samples", [])
        for p in sample.get("problems", [])
    ]
    lines.append("")
    if problems:
        lines += ["Problems in the output:", *[f"- {p}" for p in problems], ""]
    lines.append(f"(computed on the {big:,}-row sample; a speed figure is only worth quoting "
                 "when these look like Adult.)")  # fmt: skip
    lines.append("")

    m = report["machine"]
    lines += [
        "## Machine and versions",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m.get('usable_cpus')} usable CPUs, "
        f"{m.get('memory_gib', '?')} GiB RAM, {m['platform']}",
        f"- thread settings: {m['thread_env'] or 'library defaults (no *_NUM_THREADS set)'}",
        f"- sosie revision: {report.get('git_revision') or 'unknown'}",
    ]
    for side, label in (("sosie", "sosie side"), ("sdv", "SDV side")):
        entry = sides.get(side, {})
        if entry.get("versions"):
            versions = ", ".join(f"{k} {v}" for k, v in entry["versions"].items() if v)
            lines.append(f"- {label}: Python {entry.get('python')}; {versions}")
    lines += [
        "",
        f"Raw numbers: `{report['json_name']}`. Reproduce: "
        f"`.venv/bin/python benchmarks/run_copula_vs_sdv.py"
        f"{' --quick' if report['settings']['quick'] else ''}`.",
        "",
    ]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, 100k rows, no warm-up")
    parser.add_argument("--repeats", type=int, help="timed measurements per side (default 5)")
    parser.add_argument("--warmup", type=int, help="untimed measurements per side first (1)")
    parser.add_argument(
        "--rows",
        type=lambda s: [int(x.replace("_", "")) for x in s.split(",")],
        help="comma-separated sample sizes (default 32561,1000000)",
    )
    parser.add_argument("--sides", default="sosie,sdv", help="comma-separated subset of sosie,sdv")
    parser.add_argument("--sdv-python", help="use this interpreter for SDV instead of .venv-sdv")
    parser.add_argument(
        "--sosie-python", help="use this interpreter for sosie (default: the one running this)"
    )
    parser.add_argument("--no-setup", action="store_true", help="never create/install .venv-sdv")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per measurement")
    parser.add_argument("--out-dir", type=Path, help="where to write the .md and .json")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.repeats = args.repeats if args.repeats is not None else preset["repeats"]
    args.warmup = args.warmup if args.warmup is not None else preset["warmup"]
    args.rows = args.rows or preset["rows"]
    args.out_dir = args.out_dir or (WORK / "results" if args.quick else RESULTS)
    args.sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not args.sides or set(args.sides) - {"sosie", "sdv"} or args.repeats < 1:
        parser.error("--sides must name sosie and/or sdv, and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data, dtypes = export_adult()
    except ImportError as exc:
        sys.exit(
            f"sosie.datasets cannot be imported by {sys.executable} ({exc}); run this script "
            "with the interpreter of the environment where sosie is installed (.venv/bin/python)"
        )
    pythons = {}
    if "sosie" in args.sides:
        pythons["sosie"] = Path(args.sosie_python or sys.executable)
    if "sdv" in args.sides:
        pythons["sdv"] = sdv_python(args)

    started = time.perf_counter()
    runs, unavailable = run_all(args, pythons, data, dtypes)

    from sosie.datasets import load_adult

    real = load_adult("train")
    sys.path.insert(0, str(HERE))
    from _copula_worker import fingerprint, summary

    expected_fp = fingerprint(real)
    report: dict[str, Any] = {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {
            "quick": args.quick,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "rows": args.rows,
            "timeout_s": args.timeout,
        },
        "machine": machine_info(),
        "git_revision": git_revision(),
        "data": {
            "source": "sosie.datasets.load_adult('train')",
            "shape": list(real.shape),
            "fingerprint": expected_fp,
            "summary": summary(real),
        },
        "sides": {},
        "json_name": f"{NAME}.json",
    }
    fingerprints = set()
    for side in pythons:
        side_runs = runs[side]
        if side_runs:
            last = side_runs[-1]
            fingerprints.update(r["data_fingerprint"] for r in side_runs)
            report["sides"][side] = {
                "status": "ok",
                "python": last["python"],
                "versions": last["versions"],
                "settings": last.get("settings"),
                "metadata_overrides": last.get("metadata_overrides"),
                "detected_sdtypes": last.get("detected_sdtypes"),
                "aggregate": aggregate(side_runs, args.rows),
                "last_samples": last["samples"],
                "runs": side_runs,
            }
        else:
            failure = unavailable.get(side, {"status": "error", "error": "no measurement"})
            report["sides"][side] = {
                "status": failure.get("status", "error"),
                "error": failure.get("error"),
                "traceback": failure.get("traceback"),
            }
    report["data"]["fingerprints_match"] = fingerprints <= {expected_fp}
    report["elapsed_s"] = time.perf_counter() - started

    json_path, md_path = args.out_dir / f"{NAME}.json", args.out_dir / f"{NAME}.md"
    _atomic_write(json_path, json.dumps(report, indent=1, default=str) + "\n")
    _atomic_write(md_path, render_markdown(report))
    log(f"wrote {md_path} and {json_path.name} ({report['elapsed_s']:.0f} s)")
    if not report["data"]["fingerprints_match"]:
        log("WARNING: the two sides did not fit the same data (fingerprint mismatch)")
        return 1
    return 0 if any(runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
