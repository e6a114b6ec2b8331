"""Rule-based simulators: how fast sosie generates the bundled event examples.

The two bundled specs, ``card_transactions`` (5,000 customers, spending profiles, a daily
rhythm, rule-based fraud labels and injected card-testing bursts and unusual-merchant sprees)
and ``network_logs`` (300 hosts as Poisson processes, protocol rules, injected port scans and
beaconing), are generated at 1,000,000 and 5,000,000 rows.

Method: every measurement is a **fresh subprocess** (this script with ``--worker``) that
imports sosie, loads the spec, then times **one** call of
``sosie.generators.rules.generate(spec, n_rows, rng=seed)``: everything from the spec to the
finished DataFrame (per-entity tables, Faker pools, rows, rule checks and resampling, event
times, injected episodes, sorting per entity by time, sequence numbering, null blanking). One
call in a fresh process is what a user of ``sosie generate`` sees: the one-off costs (building
the Faker pools, importing scipy.stats) are included, imports and spec loading are not (they
are reported apart). The peak RSS is ``ru_maxrss`` of that process: interpreter, libraries and
the table. Measurements run one at a time (the machines have 2 cores); the table reports the
median of the repeats with their range. The load average before each measurement is recorded:
other jobs on the machine make timings noisy, and the results file says so when it was high.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_simulators.py            # full run: 3 repeats, ~3 min
    .venv/bin/python benchmarks/run_simulators.py --quick    # smoke run: 1 repeat, ~20 s

Results: ``benchmarks/results/simulators.{md,json}``, written atomically (``--quick`` writes to
``benchmarks/_work/results/`` instead, so smoke runs never overwrite committed results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
RESULTS = HERE / "results"
NAME = "simulators"
EXAMPLES = ("card_transactions", "network_logs")
#: per example: the label column and the column naming the pattern behind each label
LABELS = {
    "card_transactions": ("is_fraud", "fraud_pattern", "customer_id", "timestamp"),
    "network_logs": ("is_anomaly", "anomaly_kind", "host", "timestamp"),
}
FULL = {"repeats": 3, "rows": [1_000_000, 5_000_000]}
QUICK = {"repeats": 1, "rows": [100_000, 1_000_000]}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the measuring process -----------------------------------------------------------------


def _rss_now() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in ("sosie", "numpy", "pandas", "scipy", "pyarrow", "faker"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def worker(example: str, n_rows: int, seed: int, out: Path) -> None:
    """One measurement: import, load the spec, time one generate call, write JSON."""
    result: dict[str, Any] = {"example": example, "n_rows": n_rows, "seed": seed}
    try:
        t0 = time.perf_counter()
        import numpy as np
        import pandas as pd

        from sosie.generators.rules import example_path, generate, load_spec

        t1 = time.perf_counter()
        spec = load_spec(example_path(example))
        t2 = time.perf_counter()
        rss_before = _rss_now()
        df = generate(spec, n_rows, rng=seed)
        t3 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        label, kind, entity, when = LABELS[example]
        codes = pd.factorize(df[entity], sort=True)[0]
        times = pd.DatetimeIndex(df[when]).as_unit("ns").asi8
        same = codes[1:] == codes[:-1]
        ordered = bool(
            np.all(codes[1:] >= codes[:-1]) and np.all(times[1:][same] >= times[:-1][same])
        )
        result.update(
            status="ok",
            python=platform.python_version(),
            versions=_versions(),
            import_s=t1 - t0,
            load_spec_s=t2 - t1,
            generate_s=t3 - t2,
            rows_per_s=n_rows / (t3 - t2),
            rss_before_generate=rss_before,
            peak_rss=peak,
            shape=list(df.shape),
            inject_patterns=[p.name for p in spec.inject],
            label_share=float(df[label].mean()),
            rows_by_kind={str(k): int(v) for k, v in df[kind].value_counts().items()},
            ordered_per_entity_by_time=ordered,
        )
    except Exception as exc:  # reported, not raised: the parent records the failure
        import traceback

        result.update(status="error", error=f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
    out.write_text(json.dumps(result, indent=1))


# --- the driver ----------------------------------------------------------------------------


def measure(example: str, n_rows: int, seed: int, timeout: float) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable, str(Path(__file__).resolve()), "--worker", "--example", example,
            "--rows", str(n_rows), "--seed", str(seed), "--out", str(out),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            return {"status": "error", "error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - start
        if not out.exists():
            tail = (proc.stderr or proc.stdout)[-2000:]
            return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}
        result = json.loads(out.read_text())
        result["process_wall_s"] = wall
        result["load_avg_1min_before"] = load_before
        return result


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


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


def _range(entry: dict[str, float] | None, fmt: str, scale: float = 1.0) -> str:
    if not entry:
        return "n/a"
    med = fmt.format(entry["median"] / scale)
    if entry["min"] == entry["max"]:
        return med
    return f"{med} ({fmt.format(entry['min'] / scale)}–{fmt.format(entry['max'] / scale)})"


def render_markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    quick = " --quick" if settings["quick"] else ""
    repeats = settings["repeats"]
    lines = [
        "# Rule-based simulators: generation speed of the bundled examples",
        "",
        f"Generated {report['date']} by `benchmarks/run_simulators.py{quick}`. "
        + (
            f"Each cell: median of {repeats} measurements (min–max), "
            if repeats > 1
            else "Each cell: a single measurement (smoke run, not for quoting), "
        )
        + "each a fresh process timing one `generate(spec, n_rows, rng=seed)` call, "
        "one measurement at a time.",
        "",
        "| example | rows | time, s | rows/s | peak RSS, MiB | output |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for example in EXAMPLES:
        for n_rows in settings["rows"]:
            agg = report["results"].get(example, {}).get(str(n_rows))
            if not agg or not agg.get("generate_s"):
                err = (agg or {}).get("error", "not run")
                lines.append(f"| `{example}` | {n_rows:,} | {err} | | | |")
                continue
            shape = agg["shape"]
            lines.append(
                f"| `{example}` | {n_rows:,} | {_range(agg['generate_s'], '{:.2f}')} "
                f"| {_range(agg['rows_per_s'], '{:,.0f}')} "
                f"| {_range(agg['peak_rss'], '{:,.0f}', 2**20)} "
                f"| {shape[0]:,} x {shape[1]}, ordered per entity by time: "
                f"{'yes' if agg['ordered'] else 'NO'} |"
            )
    lines += [
        "",
        "Time and rows/s cover one `generate` call: from the validated spec to the finished, "
        "sorted DataFrame, including the one-off Faker pools (10,000 names for customers, 5,000 "
        "public IPs) and the injected episodes; imports and spec loading are excluded (below). "
        "Peak RSS is `ru_maxrss` of the measuring process: the interpreter, numpy/pandas/pyarrow "
        "and the table.",
        "",
        "## Injected episodes and labels (last measurement)",
        "",
        "| example | rows | label share | rows by kind |",
        "| --- | ---: | ---: | --- |",
    ]
    for example in EXAMPLES:
        for n_rows in settings["rows"]:
            agg = report["results"].get(example, {}).get(str(n_rows))
            if not agg or not agg.get("generate_s"):
                continue
            kinds = ", ".join(f"{k} {v:,}" for k, v in agg["rows_by_kind"].items())
            label = LABELS[example][0]
            lines.append(
                f"| `{example}` | {n_rows:,} | {label} {agg['label_share']:.4f} | {kinds} |"
            )
    lines += ["", "The injected patterns of the specs:", ""]
    for example in EXAMPLES:
        for text in report.get("patterns", {}).get(example, []):
            lines.append(f"- `{example}`: {text}")
    lines += [
        "",
        "Patterns given a share of the *entities* make the same episodes whatever the table "
        "size (up to their `max_share` of the rows), so their row counts do not grow with the "
        "table; the rule-based labels do.",
        "",
    ]
    loads = report["load_avg_1min"]
    cpus = report["machine"].get("usable_cpus") or report["machine"].get("logical_cpus") or 1
    lines += ["## Noise", ""]
    if loads:
        lines.append(
            f"1-minute load average before the measurements: median {statistics.median(loads):.2f}, "
            f"max {max(loads):.2f}, on {cpus} usable CPUs (it includes about 1 from this "
            "benchmark's own previous measurement)."
        )
        if max(loads) > 0.5 + cpus / 2:
            lines.append(
                "The load was high: other jobs shared the machine during some measurements, so "
                "the timings (and their ranges) are noisier and slower than on an idle machine; "
                "quote the medians and compare like with like."
            )
    lines.append("")
    m = report["machine"]
    v = report.get("versions") or {}
    lines += [
        "## Machine and versions",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m.get('usable_cpus')} usable CPUs, "
        f"{m.get('memory_gib', '?')} GiB RAM, {m['platform']}",
        f"- thread settings: {m['thread_env'] or 'library defaults (no *_NUM_THREADS set)'}",
        f"- sosie revision: {report.get('git_revision') or 'unknown'}",
        f"- Python {report.get('python')}; " + ", ".join(f"{k} {x}" for k, x in v.items() if x),
        f"- imports took {_range(report.get('import_s'), '{:.2f}')} s and loading the spec "
        f"{_range(report.get('load_spec_s'), '{:.3f}')} s per process (not in the times above)",
        "",
        f"Raw numbers: `{NAME}.json`. Reproduce: `.venv/bin/python benchmarks/run_simulators.py"
        f"{quick}` (options: `--repeats N`, `--rows 1000000,5000000`, `--examples ...`, "
        "`--seed S`, `--out-dir DIR`).",
        "",
    ]
    return "\n".join(lines)


def describe_patterns(example: str) -> list[str]:
    """One line per injected pattern of an example spec (for the results file)."""
    from sosie.generators.rules import example_path, load_spec

    out = []
    for p in load_spec(example_path(example)).inject:
        how = (
            f"{p.entities:.1%} of the `{p.entity}` entities"
            if p.entities is not None
            else f"{p.rate:g} episodes per row"
        )
        events = p.events.value if p.events.is_constant else _dist_text(p.events.column)
        out.append(f"`{p.name}`: {how}, events per episode {events}, max_share {p.max_share:g}")
    return out


def _dist_text(c: Any) -> str:
    params = ", ".join(f"{k} {v.value}" for k, v in c.params.items())
    bounds = "".join(
        f", {k} {getattr(c, k):g}" for k in ("min", "max") if getattr(c, k) is not None
    )
    return f"{c.distribution}({params}{bounds})"


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, 100k and 1M rows")
    parser.add_argument("--repeats", type=int, help="measurements per example and size (3)")
    parser.add_argument(
        "--rows",
        type=lambda s: [int(x.replace("_", "")) for x in s.split(",")],
        help="comma-separated sizes (default 1000000,5000000)",
    )
    parser.add_argument("--examples", default=",".join(EXAMPLES), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--out-dir", type=Path, help="where to write the .md and .json")
    # worker mode (internal)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--example", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    preset = QUICK if args.quick else FULL
    args.repeats = args.repeats if args.repeats is not None else preset["repeats"]
    args.rows = args.rows or preset["rows"]
    args.out_dir = args.out_dir or (WORK / "results" if args.quick else RESULTS)
    args.examples = [e.strip() for e in args.examples.split(",") if e.strip()]
    if set(args.examples) - set(EXAMPLES) or args.repeats < 1:
        parser.error(f"--examples must be among {', '.join(EXAMPLES)}; --repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.example, args.rows[0], args.seed, args.out)
        return 0
    started = time.perf_counter()
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
    loads: list[float] = []
    for rep in range(args.repeats):
        for example in args.examples:
            for n_rows in args.rows:
                log(f"{example}: {n_rows:,} rows, repeat {rep + 1}/{args.repeats}")
                r = measure(example, n_rows, args.seed + rep, args.timeout)
                runs.setdefault(example, {}).setdefault(n_rows, []).append(r)
                if r.get("load_avg_1min_before") is not None:
                    loads.append(r["load_avg_1min_before"])
                if r.get("status") != "ok":
                    log(f"  {r.get('status')}: {r.get('error')}")
                    continue
                log(
                    f"  {r['generate_s']:.2f} s, {r['rows_per_s']:,.0f} rows/s, peak RSS "
                    f"{r['peak_rss'] / 2**20:,.0f} MiB (load {r['load_avg_1min_before']:.2f})"
                )
    results: dict[str, dict[str, Any]] = {}
    ok_runs = [r for ex in runs.values() for rs in ex.values() for r in rs if r["status"] == "ok"]
    for example, by_size in runs.items():
        for n_rows, rs in by_size.items():
            good = [r for r in rs if r["status"] == "ok"]
            entry: dict[str, Any] = {"runs": rs}
            if good:
                last = good[-1]
                entry.update(
                    generate_s=_stats([r["generate_s"] for r in good]),
                    rows_per_s=_stats([r["rows_per_s"] for r in good]),
                    peak_rss=_stats([r["peak_rss"] for r in good]),
                    shape=last["shape"],
                    ordered=all(r["ordered_per_entity_by_time"] for r in good),
                    label_share=last["label_share"],
                    rows_by_kind=last["rows_by_kind"],
                    inject_patterns=last["inject_patterns"],
                )
            else:
                entry["error"] = rs[-1].get("error", "failed")
            results.setdefault(example, {})[str(n_rows)] = entry
    report: dict[str, Any] = {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "method": (
            "fresh subprocess per measurement; one timed generate(spec, n_rows, rng=seed) call "
            "after imports and load_spec; peak RSS = ru_maxrss of that process; measurements "
            "one at a time; median (min-max) over repeats"
        ),
        "settings": {
            "quick": args.quick,
            "repeats": args.repeats,
            "rows": args.rows,
            "examples": args.examples,
            "seed": args.seed,
            "timeout_s": args.timeout,
        },
        "machine": machine_info(),
        "git_revision": git_revision(),
        "python": ok_runs[-1]["python"] if ok_runs else None,
        "versions": ok_runs[-1]["versions"] if ok_runs else None,
        "import_s": _stats([r["import_s"] for r in ok_runs]),
        "load_spec_s": _stats([r["load_spec_s"] for r in ok_runs]),
        "load_avg_1min": loads,
        "patterns": {example: describe_patterns(example) for example in args.examples},
        "results": results,
    }
    report["elapsed_s"] = time.perf_counter() - started
    json_path, md_path = args.out_dir / f"{NAME}.json", args.out_dir / f"{NAME}.md"
    _atomic_write(json_path, json.dumps(report, indent=1, default=str) + "\n")
    _atomic_write(md_path, render_markdown(report))
    log(f"wrote {md_path} and {json_path.name} ({report['elapsed_s']:.0f} s)")
    return (
        0
        if ok_runs and len(ok_runs) == sum(len(rs) for ex in runs.values() for rs in ex.values())
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
