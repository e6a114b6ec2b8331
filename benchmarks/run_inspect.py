"""The defect-inspection demo at its default size: what each synthetic source does to recall.

Runs :func:`sosie.images.inspect.inspect_demo` with the default :class:`InspectConfig`
(2,000 line boards at 2% defects, 3,000 held-out line boards, 48 px; simulated defects
without and with domain randomisation; a diffusion model trained on the line's boards) and
writes one table per question: defect detection on the held-out line for every training
set, and the domain gap of each synthetic source. The "real" line is the simulator's fixed
``factory`` camera (no board photographs ship with sosie); the report says so.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_inspect.py                 # full run: ~20 min on 2 cores
    .venv/bin/python benchmarks/run_inspect.py --quick         # smoke run: ~1 min
    .venv/bin/python benchmarks/run_inspect.py --from-run DIR  # tables from a finished run
                                                               # (sosie images inspect-demo -o DIR)

Results: ``benchmarks/results/inspect_demo.md`` and ``.json``, written atomically (``--quick``
writes under ``benchmarks/_work/results/`` so that smoke runs never overwrite committed results).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / "_work"

LABELS = {
    "real": "real line only",
    "real_balanced_weights": "real line only, balanced class weights",
    "real_plus_sim_nominal": "real + simulated defects, no randomisation",
    "real_plus_sim_randomized": "real + simulated defects, domain randomisation",
    "real_plus_diffusion": "real + diffusion defects",
    "sim_nominal_only": "simulation only, no randomisation",
    "sim_randomized_only": "simulation only, domain randomisation",
}


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render(results: dict[str, Any], machine: dict[str, Any], source: str) -> str:
    """The markdown tables of one finished run."""
    cfg = results["config"]
    sets = results["sets"]
    n_def = sum(v for k, v in sets["real_test"]["counts"].items() if k != "ok")
    lines = [
        "# Defect-inspection demo (`sosie images inspect-demo`)",
        "",
        f"Run {results['created_at']} ({source}); {machine}.",
        "",
        f"Config: {json.dumps(cfg)}",
        "",
        'What plays "real": the simulator\'s fixed `factory` camera and board look (no board '
        "photographs ship with sosie). Every score is on the held-out line set "
        f"({sets['real_test']['n_images']} boards, {n_def} defective), which no generator saw. "
        "Every model is the same `DefectDetector` (fully convolutional, trained on masks, "
        f"{cfg['detector_images']:,} training crops each).",
        "",
        "## Defect detection on the held-out line",
        "",
        "| training set | recall @0.5 | precision @0.5 | recall @1% false alarms | "
        "avg. precision | ROC AUC | recall by type (scratch / missing / bridge / stain) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, m in results["models"].items():
        by_type = " / ".join(_f(v, 2) for v in m["recall_by_type"].values())
        lines.append(
            f"| {LABELS.get(name, name)} | {_f(m['recall'])} | {_f(m['precision'])} | "
            f"{_f(m.get('recall_at_1pct_fpr'))} | {_f(m['average_precision'])} | "
            f"{_f(m['roc_auc'])} | {by_type} |"
        )
    gap = results["domain_gap"]
    lines += [
        "",
        "## Domain gap",
        "",
        "Fréchet distance to the held-out line boards in the features of the detector trained "
        "on the line (reference: another sample of the line), and the ROC AUC lost by a "
        "detector trained on simulation only.",
        "",
        "| set | Fréchet distance | ROC AUC drop vs real only | defect recall @0.5 |",
        "|---|---:|---:|---:|",
        f"| real line, training set (reference) | "
        f"{_f(gap['frechet_distance_real_train_to_real_test'], 2)} | n/a | n/a |",
    ]
    for name, g in gap.items():
        if isinstance(g, dict):
            lines.append(
                f"| {name} | {_f(g['frechet_distance_to_real_test'], 1)} | "
                f"{_f(g['roc_auc_drop_vs_real'])} | {_f(g['recall'])} |"
            )
    t = results["timings_s"]
    lines += [
        "",
        "## Time",
        "",
        "| step | seconds |",
        "|---|---:|",
        *(f"| {k} | {v:.0f} |" for k, v in t.items()),
        "",
    ]
    if results.get("diffusion"):
        d = results["diffusion"]
        lines += [
            f"Diffusion model: {d['steps']} steps, final loss {_f(d['final_loss'], 4)}, "
            f"fit {_f(d['fit_seconds'], 0)} s.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="InspectConfig.quick(), ~1 min")
    ap.add_argument("--from-run", type=Path, help="render the tables of a finished run's folder")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "src"))
    from sosie.images.inspect import InspectConfig, inspect_demo
    from sosie.io import atomic_write_text

    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch threads {args.threads}, load average {os.getloadavg()[0]:.1f} at start"
    )
    if args.from_run:
        results = json.loads((args.from_run / "results.json").read_text())
        source = f"rendered from {args.from_run}"
    else:
        out = WORK / ("inspect_quick" if args.quick else "inspect")
        cfg = InspectConfig.quick() if args.quick else InspectConfig()
        t0 = time.perf_counter()
        results = inspect_demo(out, config=cfg, rng=args.seed, n_threads=args.threads)
        source = f"run here in {time.perf_counter() - t0:.0f} s, outputs in {out}"
    dest = (WORK / "results") if args.quick else RESULTS
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest / "inspect_demo.md", render(results, machine, source))
    atomic_write_text(dest / "inspect_demo.json", json.dumps(results, indent=2))
    print(f"wrote {dest / 'inspect_demo.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
