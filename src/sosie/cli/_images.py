"""``sosie images ...``: simulate, fit, sample, evaluate and the inspection demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import SosieError

images_app = typer.Typer(
    name="images",
    help="Images: circuit-board simulation, the diffusion generator, evidence, inspect-demo.",
    no_args_is_help=True,
)


def _app():
    from . import _app as app_module

    return app_module


@images_app.command("simulate")
def simulate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image folder.")],
    n_images: Annotated[int, typer.Option("--n-images", "-n", help="Images to render.")] = 1000,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Simulator spec (YAML); default: the bundled one.")
    ] = None,
    randomization: Annotated[
        str | None,
        typer.Option(help="Override the look: none, moderate, wide or factory (a preset)."),
    ] = None,
    defect_rate: Annotated[float | None, typer.Option(help="Override the defect rate.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Render circuit boards with labelled defects: class folders + COCO annotations.json."""
    from importlib import resources

    from ..images import CircuitBoardSimulator

    path = spec or Path(
        str(resources.files("sosie") / "examples" / "images" / "circuit_board.yaml")
    )
    sim = CircuitBoardSimulator.from_yaml(path)
    cfg = sim.to_dict()
    if randomization is not None:
        cfg["randomization"] = randomization
    if defect_rate is not None:
        cfg["defect_rate"] = defect_rate
    cfg["rng"] = seed
    cfg["verbose"] = not _app()._state["quiet"]
    sim = CircuitBoardSimulator.from_dict(cfg, source=str(path))
    batch = sim.sample(n_images)
    with _app()._step(f"writing {n_images:,} images to {output}"):
        batch.save(output)
    _app()._say(f"{n_images:,} images ({batch.counts()}) -> {output} (annotations.json: COCO)")


@images_app.command("fit")
def fit(
    data: Annotated[Path, typer.Argument(help="Image folder: one sub-folder per class.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file (.sosie).")],
    size: Annotated[int | None, typer.Option(help="Resize images to size x size.")] = None,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Generator parameter name=value.")
    ] = None,
) -> None:
    """Train the class-conditional diffusion generator on an image folder."""
    from ..generators.image import ImageDiffusionGenerator
    from ..images import load_image_folder

    m = _app()
    batch = load_image_folder(data, size=size)
    params = {k: m._yaml_value(v) for k, v in m._parse_kv(param, "param").items()}
    params.setdefault("max_steps", steps)
    params.setdefault("verbose", not m._state["quiet"])
    try:
        gen = ImageDiffusionGenerator(**params, rng=seed)
    except TypeError as e:
        raise SosieError(f"--param: {e}; fix: see help(ImageDiffusionGenerator)") from None
    gen.fit(batch)
    gen.save(output)
    m._say(
        f"image_diffusion fitted on {len(batch):,} images {batch.shape} in "
        f"{gen.fit_seconds_:.0f} s ({gen.steps_} steps, loss {gen.final_loss_:.4f}) -> {output}"
    )


@images_app.command("sample")
def sample(
    model: Annotated[Path, typer.Argument(help="Model file (.sosie).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image folder.")],
    n_images: Annotated[int, typer.Option("--n-images", "-n", help="Images to generate.")] = 100,
    label: Annotated[
        str | None, typer.Option(help="Generate this class only (default: training shares).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for this call.")] = None,
) -> None:
    """Generate images from a fitted image model into a class folder + annotations.json."""
    from ..generators.base import Generator
    from ..generators.image import ImageGenerator

    gen = Generator.load(model)
    if not isinstance(gen, ImageGenerator):
        raise SosieError(
            f"{model}: expected an image model, found a {gen.name!r} model; fix: use "
            "'sosie sample' for tables and sequences"
        )
    with _app()._step(f"sampling {n_images:,} images"):
        batch = gen.sample(n_images, conditions={"label": label} if label else None, rng=seed)
    batch.save(output)
    _app()._say(f"{n_images:,} images ({batch.counts()}) -> {output}")


@images_app.command("evaluate")
def evaluate(
    real_train: Annotated[Path, typer.Argument(help="Real training images (folder).")],
    real_holdout: Annotated[Path, typer.Argument(help="Real held-out images (folder).")],
    synthetic: Annotated[Path, typer.Argument(help="Synthetic images (folder).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report (.html).")],
    size: Annotated[int | None, typer.Option(help="Resize all images to size x size.")] = None,
    domain_gap: Annotated[
        bool,
        typer.Option(
            "--domain-gap",
            help="Also train a CNN on 75% of the synthetic images and compare its accuracy on "
            "the other 25% with its accuracy on the real holdout (sim-to-real gap).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Fidelity (Fréchet distance, precision/recall), TSTR vs TRTR and memorisation, as HTML."""
    from ..evaluate import IMAGE_METRICS, evaluate_images
    from ..images import load_image_folder
    from ..io import atomic_write_text
    from ..report import write_html

    m = _app()
    sets = [load_image_folder(p, size=size) for p in (real_train, real_holdout, synthetic)]
    with m._step("evaluating"):
        metrics = (*IMAGE_METRICS, "domain_gap") if domain_gap else IMAGE_METRICS
        ev = evaluate_images(*sets, rng=seed, metrics=metrics)
    write_html(ev, output)
    atomic_write_text(output.with_suffix(".json"), ev.to_json())
    m._print_summary(ev)
    m._say(f"report -> {output}")


@images_app.command("inspect-demo")
def inspect_demo_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "sosie-inspect"
    ),
    quick: Annotated[
        bool, typer.Option(help="A small smoke run (about 35 s on 2 cores; its numbers are noise).")
    ] = False,
    no_diffusion: Annotated[
        bool, typer.Option("--no-diffusion", help="Skip the diffusion model (the slowest step).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[
        int | None, typer.Option(help="Torch threads (default: torch's setting).")
    ] = None,
) -> None:
    """The circuit-board inspection example end to end (2% defects -> synthetic defects)."""
    import dataclasses

    from ..images.inspect import InspectConfig, inspect_demo

    m = _app()
    cfg = InspectConfig.quick() if quick else InspectConfig()
    if no_diffusion:
        cfg = dataclasses.replace(cfg, diffusion=False)
    res = inspect_demo(out, config=cfg, rng=seed, verbose=not m._state["quiet"], log_step=m._say)
    rows = res["models"]
    m._say("")
    m._say("defect detection on the held-out line images:")
    for name, r in rows.items():
        prec = "n/a" if r["precision"] != r["precision"] else f"{r['precision']:.2f}"
        m._say(
            f"  {name:<26} recall {r['recall']:.2f}  precision {prec}  "
            f"recall@1%FA {r['recall_at_1pct_fpr']:.2f}  AP {r['average_precision']:.2f}  "
            f"AUC {r['roc_auc']:.2f}"
        )
    m._say(f"report -> {out / 'report.html'}")
