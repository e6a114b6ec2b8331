"""The ``sosie demo`` job: fit a generator on the bundled UCI Adult data and write the results."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["run_demo"]


def _no_step(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def run_demo(
    out: str | Path = "sosie-demo",
    *,
    generator: str = "gaussian_copula",
    seed: int = 0,
    step: Callable[[str], AbstractContextManager[Any]] = _no_step,
) -> dict[str, Any]:
    """Fit ``generator`` on Adult train, sample as many rows, write data, schema and model.

    Writes ``synthetic.parquet``, ``schema.json`` and ``model.sosie`` into ``out``
    (each atomically). Returns what was done: file paths, timings and a summary.

    Example:
        >>> import tempfile
        >>> result = run_demo(tempfile.mkdtemp())  # doctest: +SKIP
        >>> sorted(result["files"])  # doctest: +SKIP
        ['model', 'schema', 'synthetic data']
    """
    from .datasets import load_adult
    from .generators import get_generator
    from .io import write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with step("loading UCI Adult (bundled)"):
        real = load_adult("train")
    gen = get_generator(generator)(rng=seed)
    t0 = time.perf_counter()
    with step(f"fitting {generator} on {len(real):,} rows x {real.shape[1]} columns"):
        gen.fit(real)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with step(f"sampling {len(real):,} synthetic rows"):
        synth = gen.sample(len(real))
    sample_s = time.perf_counter() - t0
    files = {
        "synthetic data": out / "synthetic.parquet",
        "schema": out / "schema.json",
        "model": out / "model.sosie",
    }
    with step(f"writing results to {out}"):
        write_table(synth, files["synthetic data"])
        gen.schema_.to_json(files["schema"])
        gen.save(files["model"])
    summary = _summary(real, synth, fit_s, sample_s)
    return {
        "n_real": len(real),
        "n_synthetic": len(synth),
        "fit_seconds": fit_s,
        "sample_seconds": sample_s,
        "files": files,
        "summary": summary,
    }


def _summary(real: pd.DataFrame, synth: pd.DataFrame, fit_s: float, sample_s: float) -> str:
    lines = [
        f"fit {fit_s:.2f} s, sampled {len(synth):,} rows in {sample_s:.2f} s",
        "a first look at fidelity (quick checks, not the full evaluation):",
    ]
    share = lambda s: float((s == ">50K").mean())  # noqa: E731
    lines.append(
        f"  income >50K: real {share(real['income']):.1%}  synthetic {share(synth['income']):.1%}"
    )
    for col in ("age", "hours_per_week"):
        lines.append(
            f"  {col}: real mean {real[col].mean():.1f} (sd {real[col].std():.1f})  "
            f"synthetic mean {synth[col].mean():.1f} (sd {synth[col].std():.1f})"
        )
    r = real[["age", "education_num", "hours_per_week"]].corr().to_numpy()
    s = synth[["age", "education_num", "hours_per_week"]].corr().to_numpy()
    lines.append(
        f"  max |correlation difference| (age, education_num, hours): {np.abs(r - s).max():.3f}"
    )
    miss_r = real["occupation"].isna().mean()
    miss_s = synth["occupation"].isna().mean()
    lines.append(f"  occupation missing: real {miss_r:.1%}  synthetic {miss_s:.1%}")
    exact = len(pd.merge(real.drop_duplicates(), synth.drop_duplicates(), how="inner"))
    lines.append(f"  synthetic rows identical to a real row: {exact:,} of {len(synth):,}")
    return "\n".join(lines)
