"""Circuit-board image simulator: how many 64-pixel images per second sosie renders on CPU.

Measures ``CircuitBoardSimulator(size=64, defect_rate=0.02).sample(n)`` with the ``none``
(fixed nominal look) and ``wide`` (broad domain randomisation: rotation, zoom, blur, noise,
lighting, colour) presets, once in memory and once followed by ``batch.save(folder)`` (PNG
files per class plus COCO ``annotations.json``, written atomically).

Method: every measurement is a **fresh subprocess** (this script with ``--worker``) pinned to
**one CPU core** (``sched_setaffinity``) with ``*_NUM_THREADS=1``; it imports sosie, renders
a small untimed warm-up batch, then times one ``sample`` call (and, for the "write" rows, the
``save`` that follows). Measurements run one at a time; the table reports the median of the
repeats with their range, and the 1-minute load average before each, since other jobs on the
machine slow the timings down.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_image_simulator.py            # full run: 3 repeats, ~1 min
    .venv/bin/python benchmarks/run_image_simulator.py --quick    # smoke run: 1 repeat, ~10 s

Results: ``benchmarks/results/image_simulator.md``, written atomically (``--quick`` writes to
``benchmarks/_work/results/`` instead, so smoke runs never overwrite committed results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
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
NAME = "image_simulator"
PRESETS = ("none", "wide")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
FULL = {"repeats": 3, "n": 5000}
QUICK = {"repeats": 1, "n": 500}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the measuring process -----------------------------------------------------------------


def worker(preset: str, n: int, write: bool, seed: int, out: Path) -> None:
    result: dict[str, Any] = {"preset": preset, "n": n, "write": write, "seed": seed}
    try:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
        t0 = time.perf_counter()
        from importlib import metadata

        import numpy as np

        from sosie.images.simulation import CircuitBoardSimulator

        t1 = time.perf_counter()
        sim = CircuitBoardSimulator(size=64, defect_rate=0.02, randomization=preset, verbose=False)
        sim.sample(50, rng=seed + 1000)  # warm-up: caches, first-call imports
        folder = Path(tempfile.mkdtemp(dir=WORK)) / "boards"
        t2 = time.perf_counter()
        batch = sim.sample(n, rng=seed)
        t3 = time.perf_counter()
        if write:
            batch.save(folder)
        t4 = time.perf_counter()
        files = sum(1 for _ in folder.rglob("*.png")) if write else 0
        size_mb = sum(p.stat().st_size for p in folder.rglob("*")) / 2**20 if write else 0.0
        shutil.rmtree(folder.parent, ignore_errors=True)
        total = t4 - t2
        result.update(
            status="ok",
            python=platform.python_version(),
            versions={
                k: metadata.version(k) for k in ("sosie", "numpy", "scipy", "pillow", "rich")
            },
            import_s=t1 - t0,
            sample_s=t3 - t2,
            save_s=t4 - t3,
            total_s=total,
            images_per_s=n / total,
            defective=int((batch.labels > 0).sum()),
            annotations=int(sum(len(a) for a in batch.annotations)),
            files=files,
            folder_mib=size_mb,
            shape=list(batch.images.shape),
            cpus_used=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            mean_pixel=float(np.mean(batch.images)),
        )
    except Exception as exc:  # reported, not raised: the parent records the failure
        import traceback

        result.update(status="error", error=f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
    out.write_text(json.dumps(result, indent=1))


# --- the driver ----------------------------------------------------------------------------


def measure(preset: str, n: int, write: bool, seed: int, timeout: float) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable, str(Path(__file__).resolve()), "--worker", "--preset", preset,
            "--n", str(n), "--seed", str(seed), "--out", str(out),
        ] + (["--write"] if write else [])  # fmt: skip
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{k: "1" for k in THREAD_VARS})
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            return {"status": "error", "error": f"timed out after {timeout:.0f} s"}
        if not out.exists():
            tail = (proc.stderr or proc.stdout)[-2000:]
            return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}
        result = json.loads(out.read_text())
        result["load_avg_1min_before"] = load_before
        return result


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _range(entry: dict[str, float] | None, fmt: str) -> str:
    if not entry:
        return "n/a"
    med = fmt.format(entry["median"])
    if entry["min"] == entry["max"]:
        return med
    return f"{med} ({fmt.format(entry['min'])}–{fmt.format(entry['max'])})"


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
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


def render_markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    quick = " --quick" if s["quick"] else ""
    lines = [
        "# Circuit-board image simulator: images per second at 64 px on one CPU core",
        "",
        f"Generated {report['date']} by `benchmarks/run_image_simulator.py{quick}`. "
        + (
            f"Each cell: median of {s['repeats']} measurements (min–max), "
            if s["repeats"] > 1
            else "Each cell: a single measurement (smoke run, not for quoting), "
        )
        + f"each a fresh process pinned to one core timing one `sample({s['n']:,})` call of "
        "`CircuitBoardSimulator(size=64, defect_rate=0.02, randomization=...)`, then "
        "`batch.save(folder)` for the write rows.",
        "",
        "| randomization | output | images | time, s | images/s | of which save, s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        agg = row["agg"]
        target = "PNG folder + COCO json" if row["write"] else "in memory"
        if not agg:
            lines.append(f"| `{row['preset']}` | {target} | {s['n']:,} | {row['error']} | | |")
            continue
        save = _range(agg["save_s"], "{:.2f}") if row["write"] else "–"
        lines.append(
            f"| `{row['preset']}` | {target} | {s['n']:,} | {_range(agg['total_s'], '{:.2f}')} "
            f"| {_range(agg['images_per_s'], '{:,.0f}')} | {save} |"
        )
    last = next((r["last"] for r in report["rows"] if r["write"] and r["last"]), None)
    lines += [
        "",
        "`none`: the fixed nominal look (no rotation, zoom or blur). `wide`: every factor drawn "
        "per image (any rotation, 0.8–1.25x zoom, blur up to 1.2 px, noise, light, colour), "
        "which adds an affine warp of the image and mask and a Gaussian blur. Times cover "
        "rendering, labels, masks and boxes (and for the write rows PNG encoding and the "
        "COCO file); imports and a 50-image warm-up are excluded. The save share is "
        "`ImageBatch.save`: PNG encoding plus one fsync per file (its atomic folder write), "
        "so writing, not rendering, limits the write rows.",
    ]
    if last:
        lines.append(
            f"A written folder of {s['n']:,} images holds {last['files']:,} PNG files, "
            f"{last['folder_mib']:.1f} MiB with `annotations.json` "
            f"({last['defective']} defective images, {last['annotations']} annotations)."
        )
    loads = [x for x in report["load_avg_1min"] if x is not None]
    cpus = report["machine"].get("usable_cpus") or 1
    lines += ["", "## Noise", ""]
    if loads:
        lines.append(
            f"1-minute load average before the measurements: median {statistics.median(loads):.2f}, "
            f"max {max(loads):.2f}, on {cpus} usable CPUs (it includes about 1 from this "
            "benchmark's own previous measurement)."
        )
        if max(loads) > 0.5 + cpus / 2:
            lines.append(
                "The load was high: other jobs shared the machine during some measurements, so "
                "the timings are slower and noisier than on an idle machine; quote the medians."
            )
    m, v = report["machine"], report.get("versions") or {}
    lines += [
        "",
        "## Machine and versions",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m.get('usable_cpus')} usable CPUs (1 used per "
        f"measurement), {m.get('memory_gib', '?')} GiB RAM, {m['platform']}",
        "- thread settings: " + ", ".join(f"{k}=1" for k in THREAD_VARS),
        f"- Python {report.get('python')}; " + ", ".join(f"{k} {x}" for k, x in v.items() if x),
        "",
        "Reproduce: `.venv/bin/python benchmarks/run_image_simulator.py"
        f"{quick}` (options: `--repeats N`, `--n IMAGES`, `--seed S`, `--out-dir DIR`).",
        "",
    ]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat of 500 images")
    parser.add_argument("--repeats", type=int, help="measurements per row (3)")
    parser.add_argument("--n", type=int, help="images per measurement (5000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    parser.add_argument("--out-dir", type=Path, help="where to write the .md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    preset = QUICK if args.quick else FULL
    args.repeats = args.repeats if args.repeats is not None else preset["repeats"]
    args.n = args.n or preset["n"]
    args.out_dir = args.out_dir or (WORK / "results" if args.quick else RESULTS)
    if args.repeats < 1 or args.n < 1:
        parser.error("--repeats and --n must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.preset, args.n, args.write, args.seed, args.out)
        return 0
    rows, loads, versions, python = [], [], None, None
    for preset in PRESETS:
        for write in (False, True):
            runs = []
            for r in range(args.repeats):
                log(f"{preset} {'write' if write else 'memory'} repeat {r + 1}/{args.repeats}")
                res = measure(preset, args.n, write, args.seed + r, args.timeout)
                loads.append(res.get("load_avg_1min_before"))
                if res.get("status") != "ok":
                    log(f"  failed: {res.get('error')}")
                    continue
                versions, python = res["versions"], res["python"]
                log(f"  {res['images_per_s']:,.0f} images/s")
                runs.append(res)
            agg = (
                {k: _stats([x[k] for x in runs]) for k in ("total_s", "images_per_s", "save_s")}
                if runs
                else None
            )
            rows.append(
                {
                    "preset": preset,
                    "write": write,
                    "agg": agg,
                    "last": runs[-1] if runs else None,
                    "error": "failed" if not runs else None,
                }
            )
    report = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {"quick": args.quick, "repeats": args.repeats, "n": args.n},
        "rows": rows,
        "load_avg_1min": loads,
        "machine": machine_info(),
        "versions": versions,
        "python": python,
    }
    path = args.out_dir / f"{NAME}.md"
    _atomic_write(path, render_markdown(report))
    log(f"wrote {path}")
    return 0 if all(r["agg"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
