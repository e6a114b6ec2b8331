"""Benchmark: full sosie evaluation of Adult-sized data, next to SDMetrics' quality report.

One run, on this machine, the same tables for both:

* real train = Adult train (32,561 rows), real holdout = Adult test (16,281 rows),
  synthetic = 32,561 rows from sosie's ``gaussian_copula`` fitted on the train split;
* sosie: ``sosie.evaluate.evaluate`` with every family (fidelity incl. detection AUC,
  utility TSTR/TRTR with two model families, privacy DCR + three membership-inference
  attacks + attribute inference, bias audit on sex and race), timed per family;
* peer: SDMetrics' ``QualityReport`` (column shapes + pair trends only) in the throwaway
  SDV virtualenv made by ``run_copula_vs_sdv.py`` (skipped with a note if it is absent).

Each side runs in a fresh subprocess, one at a time, ``--repeats`` times; the table gives
medians and the ratio sosie / SDMetrics. Target: full evaluation under 60 s on 2 cores.

Usage (repository root)::

    .venv/bin/python benchmarks/run_evaluation.py [--repeats 3]

Results: ``benchmarks/results/evaluation_adult.{md,json}``.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SDV_PY = HERE / ".venv-sdv" / "bin" / "python"
NAME = "evaluation_adult"

SOSIE_WORKER = r"""
import json, sys, time
from sosie.datasets import load_adult
from sosie.evaluate import evaluate
from sosie.generators import GaussianCopulaGenerator
train, hold = load_adult("train"), load_adult("test")
gen = GaussianCopulaGenerator(rng=0).fit(train)
syn = gen.sample(len(train), rng=1)
syn.to_csv(sys.argv[1], index=False)
t = time.perf_counter()
ev = evaluate(train, hold, syn, schema=gen.schema_, target="income", sensitive=["sex", "race"], rng=0,
              generator_factory="gaussian_copula")
total = time.perf_counter() - t
print(json.dumps({"total": total, "families": ev.meta["seconds"], "summary": ev.summary}))
"""

SDMETRICS_WORKER = r"""
import json, sys, time, warnings
import pandas as pd
warnings.filterwarnings("ignore")
from sdmetrics.reports.single_table import QualityReport
real = pd.read_csv(sys.argv[1]); syn = pd.read_csv(sys.argv[2])
meta = {"columns": {c: ({"sdtype": "numerical"} if pd.api.types.is_numeric_dtype(real[c]) else {"sdtype": "categorical"}) for c in real.columns}}
t = time.perf_counter()
rep = QualityReport(); rep.generate(real, syn, meta, verbose=False)
total = time.perf_counter() - t
props = rep.get_properties()
print(json.dumps({"total": total, "score": rep.get_score(),
                  "properties": dict(zip(props["Property"], props["Score"]))}))
"""


def _run(python: str, code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from sosie.datasets import load_adult
    from sosie.io import atomic_write_text

    work = Path(tempfile.mkdtemp(prefix="sosie-evalbench-"))
    real_csv, syn_csv = work / "real.csv", work / "syn.csv"
    load_adult("train").to_csv(real_csv, index=False)
    sosie_runs, peer_runs = [], []
    for i in range(args.repeats):
        print(
            f"[{time.strftime('%H:%M:%S')}] repeat {i + 1}/{args.repeats}: sosie evaluate",
            flush=True,
        )
        sosie_runs.append(_run(sys.executable, SOSIE_WORKER, str(syn_csv)))
        if SDV_PY.exists():
            print(
                f"[{time.strftime('%H:%M:%S')}] repeat {i + 1}/{args.repeats}: SDMetrics QualityReport",
                flush=True,
            )
            peer_runs.append(_run(str(SDV_PY), SDMETRICS_WORKER, str(real_csv), str(syn_csv)))
    med = statistics.median(r["total"] for r in sosie_runs)
    fams = {
        f: statistics.median(r["families"][f] for r in sosie_runs)
        for f in sosie_runs[0]["families"]
    }
    peer = statistics.median(r["total"] for r in peer_runs) if peer_runs else None
    report = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "repeats": args.repeats,
        "sosie": {"median_total_s": med, "median_family_s": fams, "runs": sosie_runs},
        "sdmetrics_quality_report": {"median_total_s": peer, "runs": peer_runs},
    }
    s = sosie_runs[0]["summary"]
    lines = [
        "# Full evaluation on UCI Adult",
        "",
        f"Measured {report['date']} on {report['machine']['cpus']} CPU cores, Python {report['machine']['python']}; "
        f"median of {args.repeats} fresh-process runs. Reproduce: `.venv/bin/python benchmarks/run_evaluation.py`.",
        "",
        "Tables: real train = Adult train (32,561 rows), holdout = Adult test (16,281 rows), synthetic = 32,561 rows "
        "from `gaussian_copula`. Target `income`, sensitive `sex`, `race`.",
        "",
        "| what | median seconds |",
        "|---|---:|",
    ]
    for f, v in fams.items():
        if f != "total":
            lines.append(f"| sosie: {f} | {v:.1f} |")
    lines.append(f"| **sosie: full evaluation** (4 families, 30+ metrics) | **{med:.1f}** |")
    if peer is not None:
        lines.append(f"| SDMetrics QualityReport (shapes + pair trends only) | {peer:.1f} |")
        lines.append(f"| ratio sosie full / SDMetrics quality | {med / peer:.2f} |")
    else:
        lines.append(
            "| SDMetrics QualityReport | not run (no benchmarks/.venv-sdv; run run_copula_vs_sdv.py first) |"
        )
    lines += [
        "",
        f"Target: full evaluation under 60 s on 2 cores: **{'met' if med < 60 else 'NOT met'}**.",
        "",
    ]
    if peer_runs:
        p = peer_runs[0]
        lines += [
            "Scores on the same data (first run):",
            "",
            "| score | sosie | SDMetrics |",
            "|---|---:|---:|",
            f"| column shapes | {s.get('column_shapes', float('nan')):.4f} | {p['properties'].get('Column Shapes', float('nan')):.4f} |",
            f"| pair trends | {s.get('pair_trends', float('nan')):.4f} | {p['properties'].get('Column Pair Trends', float('nan')):.4f} |",
            f"| quality score | {s.get('quality_score', float('nan')):.4f} | {p['score']:.4f} |",
            "",
            "Column shapes agree. SDMetrics' headline pair-trends score averages only the pairs that are "
            "associated in the real data and bins each table separately into equal-width bins; sosie "
            "averages every pair and bins both tables on the real data's quantiles (see "
            "tests/unit/evaluate/test_fidelity_sdmetrics.py, where same-kind pairs agree to 5e-7). "
            "sosie's associated-pairs figure is in the metric's details (`associated_pairs`).",
            "",
        ]
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"{NAME}.json", json.dumps(report, indent=1, default=str) + "\n")
    atomic_write_text(RESULTS / f"{NAME}.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
