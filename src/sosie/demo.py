"""The ``sosie demo`` job: fit a generator on the bundled UCI Adult data and write the results."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["run_demo"]


def _no_step(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def run_demo(
    out: str | Path = "sosie-demo",
    *,
    generator: str = "gaussian_copula",
    seed: int = 0,
    evaluate: bool = True,
    step: Callable[[str], AbstractContextManager[Any]] = _no_step,
) -> dict[str, Any]:
    """Fit ``generator`` on Adult train, sample as many rows, evaluate on Adult test, write it all.

    Writes ``synthetic.parquet``, ``schema.json``, ``model.sosie`` and, with ``evaluate``,
    ``evaluation.json``, ``report.html``, ``card.json`` and ``card.md`` into ``out``
    (each atomically). The held-out real data is Adult's own test split, which the
    generator never sees; the target is ``income`` and the bias audit looks at ``sex``
    and ``race``. Returns what was done: file paths, timings and a summary.

    Example:
        >>> import tempfile
        >>> result = run_demo(tempfile.mkdtemp(), evaluate=False)
        >>> sorted(result["files"])
        ['model', 'schema', 'synthetic data']
    """
    from .card import build_card, write_card
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
    result: dict[str, Any] = {
        "n_real": len(real),
        "n_synthetic": len(synth),
        "fit_seconds": fit_s,
        "sample_seconds": sample_s,
        "files": files,
    }
    ev = None
    if evaluate:
        from .evaluate import evaluate as run_evaluation
        from .report import write_html

        holdout = load_adult("test")
        params = {k: v for k, v in gen.get_params().items() if k != "rng"}
        t0 = time.perf_counter()
        with step(f"evaluating against {len(holdout):,} held-out real rows (Adult test split)"):
            ev = run_evaluation(
                real,
                holdout,
                synth,
                schema=gen.schema_,
                target="income",
                sensitive=["sex", "race"],
                rng=seed,
                generator_factory=lambda seed: type(gen)(**params, rng=seed),
            )
        result["evaluate_seconds"] = time.perf_counter() - t0
        card = build_card(
            gen,
            evaluation=ev,
            output=files["synthetic data"],
            n_rows=len(synth),
            intended_use="Demonstration of sosie on UCI Adult: not for decisions about people.",
        )
        files["evaluation"] = out / "evaluation.json"
        files["report"] = out / "report.html"
        files["data card"] = out / "card.json"
        with step("writing the report and the data card"):
            ev.to_json(files["evaluation"])
            write_html(
                ev, files["report"], card=card, title=f"sosie demo: {generator} on UCI Adult"
            )
            write_card(card, out / "card")
        result["evaluation"] = ev
    result["summary"] = _summary(real, synth, fit_s, sample_s, ev)
    return result


def _summary(
    real: pd.DataFrame, synth: pd.DataFrame, fit_s: float, sample_s: float, ev=None
) -> str:
    lines = [f"fit {fit_s:.2f} s, sampled {len(synth):,} rows in {sample_s:.2f} s"]
    if ev is not None:
        s = ev.summary

        def f(key: str, fmt: str = "{:.3f}") -> str:
            v = s.get(key)
            return "n/a" if v is None else fmt.format(v)

        lines += [
            "evidence (real holdout: Adult test split, never seen by the generator):",
            f"  fidelity: column shapes {f('column_shapes')}, pair trends {f('pair_trends')}, "
            f"detection AUC {f('detection_auc')} (0.5 is best)",
            f"  utility:  TSTR ROC-AUC {f('tstr_roc_auc')} vs TRTR {f('trtr_roc_auc')} "
            f"(ratio {f('tstr_ratio')})",
            f"  privacy:  exact copies {f('exact_copies', '{:.2%}')}, DCR share {f('dcr_share')} "
            f"(0.5 is best), worst membership-inference AUC {f('mia_auc')}",
            f"  fairness: demographic-parity gap by sex, trained on synthetic {f('dp_gap[sex]')}",
            f"evaluated in {ev.meta['seconds']['total']:.1f} s; open report.html for the plots",
        ]
        return "\n".join(lines)
    lines.append("a first look at fidelity (quick checks, not the full evaluation):")
    share = lambda s: float((s == ">50K").mean())  # noqa: E731
    lines.append(
        f"  income >50K: real {share(real['income']):.1%}  synthetic {share(synth['income']):.1%}"
    )
    for col in ("age", "hours_per_week"):
        lines.append(
            f"  {col}: real mean {real[col].mean():.1f} (sd {real[col].std():.1f})  "
            f"synthetic mean {synth[col].mean():.1f} (sd {synth[col].std():.1f})"
        )
    exact = len(pd.merge(real.drop_duplicates(), synth.drop_duplicates(), how="inner"))
    lines.append(f"  synthetic rows identical to a real row: {exact:,} of {len(synth):,}")
    return "\n".join(lines)
