"""Train the torch families on a GPU, save them, and (later, elsewhere) load them on a CPU.

On a CUDA machine (``--train OUT_DIR``): fits ``ctgan`` and ``tabddpm`` on Adult's training
file with ``device="cuda"``, times the fit and GPU sampling (rows/s for 1M rows), and saves
each model to ``OUT_DIR/<family>_gpu.sosie`` with a JSON of the timings and the shares of
``income`` and ``sex`` in 100k GPU-sampled rows.

On any machine (``--check OUT_DIR``): loads each saved model on the CPU (the weights are
safetensors arrays, whatever device trained them), samples 100k rows and compares the same
shares with the GPU ones; writes ``results/gpu_roundtrip.md``.

    python benchmarks/run_gpu_roundtrip.py --train /tmp/gpu      # on the GPU machine
    python benchmarks/run_gpu_roundtrip.py --check /tmp/gpu      # here
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILIES = {
    "ctgan": {"max_epochs": 100, "batch_size": 4000, "device": "cuda", "verbose": False},
    "tabddpm": {"max_epochs": 100, "batch_size": 4096, "device": "cuda", "verbose": False},
}


def shares(df) -> dict[str, float]:
    return {
        "income>50K": float((df["income"] == ">50K").mean()),
        "sex=Female": float((df["sex"] == "Female").mean()),
        "workclass missing": float(df["workclass"].isna().mean()),
        "age mean": float(df["age"].mean()),
    }


def train(out: Path) -> None:
    import torch

    import sosie
    from sosie.datasets import load_adult

    out.mkdir(parents=True, exist_ok=True)
    real = load_adult(split="train")
    info = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "real": shares(real),
    }
    for name, params in FAMILIES.items():
        gen = sosie.make_generator(name, rng=0, **params)
        t0 = time.perf_counter()
        gen.fit(real)
        fit_s = time.perf_counter() - t0
        gen.sample(10_000, rng=1)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        gen.sample(1_000_000, rng=2)
        torch.cuda.synchronize()
        rate = 1_000_000 / (time.perf_counter() - t0)
        info[name] = {
            "fit_s": fit_s,
            "epochs": int(gen.epochs_),
            "sample_rows_per_s": rate,
            "shares": shares(gen.sample(100_000, rng=3)),
        }
        gen.save(out / f"{name}_gpu.sosie")
        print(name, json.dumps(info[name]), flush=True)
    (out / "gpu_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")


def check(out: Path) -> None:
    import sosie

    info = json.loads((out / "gpu_info.json").read_text(encoding="utf-8"))
    lines = [
        "# Trained on a GPU, loaded on a CPU",
        "",
        f"Trained on {info['device']} (torch {info['torch']}) with `python "
        "benchmarks/run_gpu_roundtrip.py --train DIR`; loaded and sampled on this machine's CPU "
        "with `--check DIR`. Shares in 100k sampled rows (real: Adult's training file).",
        "",
        "| family | GPU fit s | epochs | GPU sample rows/s | statistic | real | GPU sample | "
        "CPU sample (loaded) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in FAMILIES:
        gen = sosie.load(out / f"{name}_gpu.sosie")
        cpu = shares(gen.sample(100_000, rng=3))
        g = info[name]
        for k, v in cpu.items():
            lines.append(
                f"| {name} | {g['fit_s']:.1f} | {g['epochs']} | {g['sample_rows_per_s']:,.0f} | "
                f"{k} | {info['real'][k]:.3f} | {g['shares'][k]:.3f} | {v:.3f} |"
            )
    path = HERE / "results" / "gpu_roundtrip.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--train", type=Path, help="fit on CUDA and save the models here")
    group.add_argument("--check", type=Path, help="load the saved models on the CPU")
    args = ap.parse_args()
    if args.train:
        train(args.train)
    else:
        check(args.check)


if __name__ == "__main__":
    sys.exit(main())
