"""Text generation with a small local LLM: throughput, filters, judge and TSTR on real reviews.

The low-resource question: with only ``--seeds`` real labelled fine-food reviews (modeldata's
``training_data``, scores great/other), does adding LLM-written reviews help a classifier on
real held-out reviews (modeldata's ``testing_data``, 1,000 reviews)? Steps:

1. throughput of SmolLM2-135M-Instruct (the offline default): in-process (llama-cpp-python)
   against llama.cpp's HTTP server on 127.0.0.1 at concurrency 1 and 2, same requests;
2. generate ``--n`` reviews from the bundled spec (``examples/text/food_reviews.yaml``) with
   two real seeds of the same label per prompt, then :func:`filter_texts` (copies of seeds,
   duplicates, label consistency);
3. the LLM as judge: SmolLM2's label for ``--judge`` real reviews against their true labels;
4. :func:`evaluate_text` of the filtered reviews: seeds as the real training set (TRTR is the
   seeds-only classifier), testing_data as the holdout; plus the classifier trained on all
   4,000 real training reviews as the ceiling.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_text.py            # ~15 min on 2 cores
    .venv/bin/python benchmarks/run_text.py --quick    # smoke run: ~2 min

Results: ``benchmarks/results/text.md`` and ``.json`` (``--quick`` writes under
``benchmarks/_work/results/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / "_work"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _throughput(client, jobs: list[list[dict]], workers: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()

    def one(i: int):
        return client.complete(jobs[i], max_tokens=96, seed=i, temperature=0.8)

    with ThreadPoolExecutor(workers) as pool:
        outs = list(pool.map(one, range(len(jobs))))
    dt = time.perf_counter() - t0
    tokens = sum(o.completion_tokens or 0 for o in outs)
    return {"requests": len(jobs), "seconds": round(dt, 2), "requests_per_s": round(len(jobs) / dt, 3),
            "tokens_per_s": round(tokens / dt, 1)}  # fmt: skip


def _server(model: Path, port: int, log: Path, parallel: int):
    import httpx

    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
           "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", "2"]  # fmt: skip
    fh = log.open("w")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama.cpp server did not start in 120 s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=160, help="reviews to generate")
    ap.add_argument("--seeds", type=int, default=40, help="real labelled seed reviews")
    ap.add_argument("--judge", type=int, default=60, help="real reviews for the judge check")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.judge = 24, 8
    out_dir = (WORK / "results") if args.quick else RESULTS
    work = WORK / "text"
    work.mkdir(parents=True, exist_ok=True)

    from importlib import resources

    from sosie.datasets import load_rdataset
    from sosie.evaluate import evaluate_text
    from sosie.evaluate.text import _fit_predict, _macro_f1
    from sosie.io import atomic_write_text
    from sosie.text import (
        LlamaCppClient,
        OpenAICompatibleClient,
        default_model_path,
        filter_texts,
        generate_text,
        judge_labels,
        load_text_spec,
    )

    train = load_rdataset("modeldata", "training_data")
    test = load_rdataset("modeldata", "testing_data")
    for d in (train, test):
        d["review"] = d["review"].str.replace("<br />", " ", regex=False)
    g = np.random.default_rng(args.seed)
    half = args.seeds // 2
    seed_idx = np.r_[
        g.choice(np.flatnonzero(train["score"] == "great"), half, replace=False),
        g.choice(np.flatnonzero(train["score"] == "other"), args.seeds - half, replace=False),
    ]
    seeds = train.iloc[seed_idx].reset_index(drop=True)
    results: dict[str, Any] = {"config": vars(args)}
    local = LlamaCppClient(n_ctx=2048, n_threads=2)

    # 1. throughput: the same prompts in-process and over HTTP
    prompts = [
        [{"role": "user", "content": f"Write a two-sentence review of {p}."}]
        for p in ["coffee", "tea", "honey", "chips", "pasta", "oatmeal", "cocoa", "jam"]
    ][: 4 if args.quick else 8]
    thr = {"in_process": _throughput(local, prompts, 1)}
    proc, base = _server(default_model_path(), _free_port(), work / "server.log", 1)
    try:
        for c in (1, 2):
            client = OpenAICompatibleClient(
                base, model="smollm2", concurrency=c, json_mode="json_object"
            )
            thr[f"http_concurrency_{c}"] = _throughput(client, prompts, c)
            client.close()
    finally:
        proc.terminate()
        proc.wait(30)
    results["throughput"] = thr
    print("throughput", json.dumps(thr), flush=True)

    # 2. generate and filter
    spec = load_text_spec(
        resources.files("sosie") / "examples" / "text" / "food_reviews.yaml"
    ).to_dict()
    n_great = round(args.n * 0.6)
    spec["labels"]["great"]["count"], spec["labels"]["other"]["count"] = n_great, args.n - n_great
    t0 = time.perf_counter()
    res = generate_text(spec, local, out=work / "reviews.jsonl", seeds=seeds, text_field="review",
                        label_field="score", rng=args.seed, verbose=False)  # fmt: skip
    gen_s = time.perf_counter() - t0
    filt = filter_texts(res.data, reference=seeds["review"].tolist(), label_seeds=seeds,
                        label_seeds_text="review", label_seeds_label="score", seed=args.seed)  # fmt: skip
    results["generation"] = {**res.stats, "wall_seconds": round(gen_s, 1),
                             "seconds_per_record": round(gen_s / max(1, args.n), 2)}  # fmt: skip
    results["filters"] = {"kept": len(filt.kept), "of": len(res.data), "removed": filt.counts}
    print(
        "generation",
        json.dumps(results["generation"]),
        "filters",
        json.dumps(results["filters"]),
        flush=True,
    )

    # 3. the local model as judge, on real reviews with known labels
    jr = test.sample(args.judge, random_state=args.seed)
    t0 = time.perf_counter()
    judged = judge_labels(jr["review"].str[:1000].tolist(), ["great", "other"], local,
                          descriptions=spec_descriptions(spec))  # fmt: skip
    agree = float(np.mean([a == b for a, b in zip(judged, jr["score"], strict=True)]))
    majority = float(jr["score"].value_counts(normalize=True).max())
    results["judge"] = {"n": len(jr), "agreement": round(agree, 3), "majority_share": round(majority, 3),
                        "said_great": round(float(np.mean([x == "great" for x in judged])), 3),
                        "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    print("judge", json.dumps(results["judge"]), flush=True)

    # 4. evidence: seeds as the real training set, testing_data as the holdout
    rn = {"review": "text", "score": "label"}
    syn = filt.kept if len(filt.kept) >= 20 else res.data
    ev = evaluate_text(seeds.rename(columns=rn), test.rename(columns=rn), syn, rng=args.seed)
    full_pred = _fit_predict("tfidf", train["review"].to_numpy(object), train["score"].to_numpy(object),
                             test["review"].to_numpy(object), 0)  # fmt: skip
    results["evaluation"] = {"summary": ev.summary, "metrics": {m.name: {"value": m.value, "baseline": m.baseline,
                             "normalized": m.normalized, "details_models": m.details.get("models")}
                             for m in ev.metrics}}  # fmt: skip
    results["full_real_tfidf_f1"] = round(_macro_f1(test["score"].to_numpy(object), full_pred), 4)
    results["synthetic_set"] = "filtered" if syn is filt.kept else "unfiltered (fewer than 20 kept)"
    from sosie.report import write_html

    write_html(ev, work / "text_report.html", title="SmolLM2 reviews vs real fine-food reviews")
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    results["machine"] = machine
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "text.json", json.dumps(results, indent=1, default=str) + "\n")
    atomic_write_text(out_dir / "text.md", render(results))
    print((out_dir / "text.md").read_text())
    return 0


def spec_descriptions(spec: dict) -> dict[str, str]:
    return {k: v.get("description", "") for k, v in spec["labels"].items()}


def _f(v: Any, d: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{d}f}" if isinstance(v, float) else str(v)


def render(r: dict[str, Any]) -> str:
    cfg, thr, gen, ev = r["config"], r["throughput"], r["generation"], r["evaluation"]
    m = ev["metrics"]
    lines = [
        "# Text generation with SmolLM2-135M-Instruct (`benchmarks/run_text.py`)",
        "",
        f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}. Real data: "
        "modeldata `training_data` (4,000 fine-food reviews, great/other) and `testing_data` "
        f"(1,000, the holdout). {cfg['seeds']} real seed reviews; {cfg['n']} generated.",
        "",
        "## Throughput (same 8 prompts, up to 96 tokens each)",
        "",
        "| backend | requests/s | tokens/s | ratio to in-process |",
        "|---|---|---|---|",
    ]
    base = thr["in_process"]["tokens_per_s"]
    for k, v in thr.items():
        lines.append(f"| {k} | {_f(v['requests_per_s'])} | {_f(v['tokens_per_s'], 1)} | "
                     f"{_f(v['tokens_per_s'] / base if base else None, 2)} |")  # fmt: skip
    fl = r["filters"]
    removed = ", ".join(f"{k} {v}" for k, v in fl["removed"].items() if v) or "none"
    lines += [
        "",
        "## Generation and filters",
        "",
        f"{gen['made']} of {gen['asked']} records made ({gen['failed']} failed after retries, "
        f"{gen['retried']} retried), {_f(gen['seconds_per_record'], 2)} s per record. Filters kept "
        f"{fl['kept']} of {fl['of']}; removed: {removed}.",
        "",
        "## The local model as label judge",
        "",
        f"On {r['judge']['n']} real held-out reviews, SmolLM2's label agrees with the true one "
        f"{_f(r['judge']['agreement'])} of the time (majority-label share {_f(r['judge']['majority_share'])}; "
        f"it said 'great' {_f(r['judge']['said_great'])} of the time).",
        "",
        f"## Evidence ({r['synthetic_set']} synthetic reviews vs the real seeds and holdout)",
        "",
        "| metric | synthetic | baseline (real) | score |",
        "|---|---|---|---|",
    ]
    for name, v in m.items():
        lines.append(
            f"| {name} | {_f(v['value'])} | {_f(v['baseline'])} | {_f(v['normalized'], 2)} |"
        )
    lines += ["", "## TSTR: macro-F1 on the 1,000 real held-out reviews", "",
              "| model | seeds only (TRTR) | synthetic only (TSTR) | seeds + synthetic |", "|---|---|---|---|"]  # fmt: skip
    for name in ("tstr_tfidf", "tstr_embedding"):
        for model, s in (m.get(name, {}).get("details_models") or {}).items():
            lines.append(
                f"| {model} | {_f(s.get('trtr'))} | {_f(s.get('tstr'))} | {_f(s.get('augmented'))} |"
            )
    lines += ["", f"Ceiling: TF-IDF + logistic regression on all 4,000 real training reviews: "
              f"{_f(r['full_real_tfidf_f1'])}.", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
