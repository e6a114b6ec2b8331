"""Differential privacy on UCI Adult: utility and attacks as epsilon varies.

For every DP generator (``mst``, ``aim``, ``dp_tabddpm``) and epsilon in {0.3, 1, 3, 10, inf}
(delta 1e-6): fit on Adult's training file (32,561 rows) with the *public* schema
(:func:`sosie.datasets.adult_public_schema`, nothing learned from the rows), sample as many
rows, and evaluate against the test file (16,281 rows never seen) with
:func:`sosie.evaluate.evaluate`: fidelity (column shapes, pair trends, detection AUC),
utility (TSTR ROC AUC on ``income`` vs TRTR) and privacy (DCR share and the three
membership-inference attacks with their 95% bootstrap intervals). ``inf`` is the same
pipeline with no noise: the non-private baseline of each generator.

For ``dp_tabddpm`` the cell also records what the PRV accountant would have reported for the
same DP-SGD steps (opacus' ``PRVAccountant``), next to the RDP epsilon the ledger uses.

Resumable: every finished cell is saved in ``results/dp_adult.json`` at once; ``--force``
recomputes. Writes ``results/dp_adult.md`` (the table) and ``results/dp_adult.html`` (the
privacy-utility plots, :func:`sosie.report.write_privacy_tradeoff`).

    python benchmarks/run_dp.py                      # everything (about an hour on 2 cores)
    python benchmarks/run_dp.py --generators mst --epsilons 1,inf
    python benchmarks/run_dp.py --render             # tables and plots from the JSON only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
JSON_PATH = RESULTS / "dp_adult.json"
MD_PATH = RESULTS / "dp_adult.md"
HTML_PATH = RESULTS / "dp_adult.html"
DELTA = 1e-6
SUMMARY_KEYS = ("column_shapes", "pair_trends", "detection_auc", "tstr_roc_auc", "trtr_roc_auc",
                "tstr_ratio", "dcr_share", "exact_copies", "mia_auc")  # fmt: skip
EPSILONS = ("0.3", "1", "3", "10", "inf")
GENERATORS = ("mst", "aim", "dp_tabddpm", "dp_ctgan")
#: per-generator parameters (the defaults otherwise); chosen for a one-hour run on 2 cores
PARAMS: dict[str, dict[str, Any]] = {
    "mst": {},
    "aim": {"max_rounds": 60, "iters": 300},
    "dp_tabddpm": {},
    "dp_ctgan": {"max_epochs": 20},
}
#: non-private references (epsilon "none"): does the attack see a generator that leaks?
REFERENCES = ("arf",)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def machine() -> str:
    """The CPU (and the GPU, when torch sees one) this cell ran on."""
    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text


def load() -> dict[str, Any]:
    if JSON_PATH.exists():
        return json.loads(JSON_PATH.read_text(encoding="utf-8"))
    return {"cells": {}}


def prv_epsilon(spent: dict[str, Any], delta: float) -> float | None:
    """What opacus' PRV accountant reports for the ledger's DP-SGD steps alone."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    runs = [s["details"] for s in spent["steps"] if s.get("rho") is None]
    if not runs or any(r["noise_multiplier"] == 0 for r in runs):
        return None
    out = {}
    for name, acc in (("prv", PRVAccountant()), ("rdp", RDPAccountant())):
        acc.history = [(r["noise_multiplier"], r["sample_rate"], r["steps"]) for r in runs]
        out[name] = float(acc.get_epsilon(delta))
    return out  # type: ignore[return-value]


def run_cell(gen_name: str, eps_text: str, train, test, schema, device: str) -> dict[str, Any]:
    import resource

    import sosie
    from sosie.evaluate import evaluate

    private = eps_text != "none"
    params = {**PARAMS.get(gen_name, {}), "rng": 0}
    if private:
        params.update(epsilon=float(eps_text), delta=DELTA)
    if gen_name in ("dp_tabddpm", "dp_ctgan"):
        params["verbose"] = False
        params["device"] = device
    gen = sosie.make_generator(gen_name, **params)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the seeded-noise warning: this is an experiment
        gen.fit(train, schema=schema)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = gen.sample(len(train), rng=1)
    sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate(
        train,
        test,
        syn,
        schema=schema,
        target="income",
        families=("fidelity", "utility", "privacy"),
        rng=0,
        max_rows=20_000,
    )
    eval_s = time.perf_counter() - t0
    s = ev.summary
    mia = {}
    for m in ev.metrics:
        if m.name.startswith("mia_"):
            mia[m.name] = {"auc": m.value, "ci": list(m.ci) if m.ci is not None else None}
    spent = getattr(gen, "privacy_spent_", None) or {"spent": {"epsilon": None}, "accountant": None}
    cell = {
        "generator": gen_name,
        "epsilon": eps_text,
        "params": {k: v for k, v in params.items() if k not in ("epsilon", "delta")},
        "machine": machine(),
        "epsilon_spent": spent["spent"]["epsilon"],
        "accountant": spent["accountant"],
        "fit_s": fit_s,
        "sample_s": sample_s,
        "eval_s": eval_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "summary": {k: s.get(k) for k in SUMMARY_KEYS},
        "mia": mia,
    }
    if gen_name in ("dp_tabddpm", "dp_ctgan"):
        cell["sgd"] = {
            "noise_multiplier": gen.noise_multiplier_,
            "sample_rate": gen.sample_rate_,
            "epochs": gen.epochs_,
            "stop_reason": gen.stop_reason_,
            "sgd_only_epsilon": prv_epsilon(spent, DELTA),
        }
    return cell


def _f(v: Any, d: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return "inf"
    return f"{v:.{d}f}"


def _mia_text(m: dict[str, Any] | None) -> str:
    if not m or m.get("auc") is None:
        return "n/a"
    ci = m.get("ci")
    if ci:
        return f"{m['auc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{m['auc']:.3f}"


def render(report: dict[str, Any]) -> None:
    from sosie.report import write_privacy_tradeoff

    cells = report["cells"]
    lines = [
        "# Differential privacy on UCI Adult: utility and attacks vs epsilon",
        "",
        f"Measured {report.get('date', '?')} on {report.get('machine', '?')}; "
        f"delta = {DELTA:g}; train 32,561 rows, holdout (test file) 16,281 rows; public schema "
        "`sosie.datasets.adult_public_schema()`; seed 0. Command: `python benchmarks/run_dp.py`. "
        "Plots: `dp_adult.html`.",
        "",
        "TSTR: ROC AUC on `income` of a model trained on synthetic rows, tested on the holdout "
        "(TRTR, trained on the real training rows: "
        + _f(next((c["summary"]["trtr_roc_auc"] for c in cells.values()), None))
        + "). MIA: ROC AUC of each membership-inference attack with its 95% bootstrap interval "
        "(0.5 = the attacker guesses). `inf` = the same generator without noise; `not DP` rows are "
        "non-private references (`arf` reuses training values: can the attacks see that?). *Fit time on "
        "the machine in the cell's `machine` field of the JSON (`mst` and `aim` on the 2-core "
        "CPU except `aim` at epsilon 10, which ran on the GPU machine's 16 cores and H100 for "
        "want of time; `dp_tabddpm` and `dp_ctgan` on one H100 with `--device cuda`, except "
        "`dp_ctgan` at 0.3 on the CPU): compare fit times only "
        "within a machine.",
        "",
        "| generator | epsilon | spent | fit s* | shapes | trends | detection | TSTR AUC | "
        "DCR share | MIA distance | MIA density | MIA shadow |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in (*GENERATORS, *REFERENCES):
        for e in (*EPSILONS, "none"):
            c = cells.get(f"{g}/{e}")
            if c is None:
                continue
            if "error" in c:
                lines.append(f"| {g} | {e} | failed: {c['error'][:80]} |" + " |" * 9)
                continue
            s = c["summary"]
            lines.append(
                f"| {g} | {'not DP' if e == 'none' else e} | {_f(c['epsilon_spent'])} | {c['fit_s']:.0f} | "
                f"{_f(s['column_shapes'])} | {_f(s['pair_trends'])} | {_f(s['detection_auc'])} | "
                f"{_f(s['tstr_roc_auc'])} | {_f(s['dcr_share'])} | "
                f"{_mia_text(c['mia'].get('mia_distance'))} | "
                f"{_mia_text(c['mia'].get('mia_density'))} | "
                f"{_mia_text(c['mia'].get('mia_shadow'))} |"
            )
    sgd = [(k, c["sgd"]) for k, c in cells.items() if c.get("sgd")]
    if sgd:
        lines += [
            "",
            "## DP-SGD: the noise, and what the PRV accountant would report",
            "",
            "The ledger accounts with RDP (a proven bound, composed with the histograms). For "
            "the DP-SGD steps alone, opacus' PRV accountant reports the epsilon below for the "
            "same noise: the margin RDP leaves on the table.",
            "",
            "| generator | epsilon | noise multiplier | sample rate | epochs | "
            "SGD-only eps (RDP) | SGD-only eps (PRV) |",
            "|---|---|---|---|---|---|---|",
        ]
        for k, s in sgd:
            only = s.get("sgd_only_epsilon") or {}
            lines.append(
                f"| {k.split('/')[0]} | {k.split('/')[1]} | {_f(s['noise_multiplier'])} | {_f(s['sample_rate'], 4)} "
                f"| {s['epochs']} | {_f(only.get('rdp'))} | {_f(only.get('prv'))} |"
            )
    commentary = RESULTS / "dp_adult_commentary.md"
    if commentary.exists():
        lines += ["", commentary.read_text(encoding="utf-8").strip()]
    _atomic_write(MD_PATH, "\n".join(lines) + "\n")
    rows = [c for c in cells.values() if "error" not in c and c["epsilon"] != "none"]
    write_privacy_tradeoff(rows, HTML_PATH, title="Differential privacy on UCI Adult")
    log(f"wrote {MD_PATH.name} and {HTML_PATH.name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--generators", default=",".join(GENERATORS))
    ap.add_argument("--epsilons", default=",".join(EPSILONS))
    ap.add_argument("--force", action="store_true", help="recompute finished cells")
    ap.add_argument(
        "--references", default=",".join(REFERENCES), help="non-private generators to attack too"
    )
    ap.add_argument("--render", action="store_true", help="only rewrite the md and html")
    ap.add_argument("--device", default="auto", help="dp_tabddpm's torch device (auto, cpu, cuda)")
    ap.add_argument("--merge", type=Path, help="add the cells of another results JSON, then render")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    report = load()
    if args.merge:
        report["cells"].update(json.loads(args.merge.read_text(encoding="utf-8"))["cells"])
        _atomic_write(JSON_PATH, json.dumps(report, indent=1, default=float))
        args.render = True
    if not args.render:
        from sosie.datasets import adult_public_schema, load_adult

        train, test = load_adult(split="train"), load_adult(split="test")
        schema = adult_public_schema()
        report["date"] = time.strftime("%Y-%m-%d")
        report["machine"] = machine()
        todo = [(g, e) for g in args.generators.split(",") for e in args.epsilons.split(",")]
        todo += [(g, "none") for g in (args.references.split(",") if args.references else [])]
        for g, e in todo:
            key = f"{g}/{e}"
            if key in report["cells"] and "error" not in report["cells"][key] and not args.force:
                continue
            log(f"{key} ...")
            try:
                cell = run_cell(g, e, train, test, schema, args.device)
            except Exception as exc:  # one failed cell must not lose the others
                cell = {"generator": g, "epsilon": e, "error": f"{type(exc).__name__}: {exc}"}
            report["cells"][key] = cell
            _atomic_write(JSON_PATH, json.dumps(report, indent=1, default=float))
            s = cell.get("summary", {})
            log(f"{key}: {cell.get('error') or s}")
    render(report)


if __name__ == "__main__":
    sys.exit(main())
