"""``sosie text ...``: generate a labelled text dataset with an LLM, and evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import Problem, SosieError

text_app = typer.Typer(
    name="text",
    help="Text: generate labelled datasets by prompting an LLM (local GGUF or an "
    "OpenAI-compatible server), filter them, and evaluate them against real text.",
    no_args_is_help=True,
)

RDATASET_PREFIX = "rdataset:"


def _app():
    from . import _app as app_module

    return app_module


def read_texts(source: str, what: str):
    """A table of texts: a file (CSV, Parquet, JSON Lines...) or ``rdataset:PACKAGE/NAME``."""
    if source.startswith(RDATASET_PREFIX):
        from ..datasets import load_rdataset

        name = source[len(RDATASET_PREFIX) :]
        if "/" not in name:
            raise SosieError(
                str(
                    Problem(
                        what,
                        "rdataset:PACKAGE/NAME",
                        repr(source),
                        "write e.g. rdataset:modeldata/training_data",
                    )
                )
            )
        package, dataset = name.split("/", 1)
        return load_rdataset(package, dataset)
    if not Path(source).exists():
        raise SosieError(
            str(
                Problem(
                    what,
                    "an existing file (CSV, Parquet, JSON Lines) or rdataset:PACKAGE/NAME",
                    f"no file {source!r}",
                    "check the path",
                )
            )
        )
    return _app()._read(source, None)


def _client(
    model: Path | None, server: str | None, server_model: str, concurrency: int, n_ctx: int
):
    from ..text import LlamaCppClient, OpenAICompatibleClient

    if model is not None and server is not None:
        raise SosieError("--model and --server: choose one backend (a GGUF file or a server URL)")
    if server is not None:
        return OpenAICompatibleClient(server, model=server_model, concurrency=concurrency)
    return LlamaCppClient(model, n_ctx=n_ctx)


def _model_name(client: Any) -> str:
    path = getattr(client, "model_path", None)
    if path is not None:
        return f"{client.name}: {Path(path).name}"
    return f"{client.name}: {getattr(client, 'model', '?')} at {getattr(client, 'base_url', '?')}"


@text_app.command("generate")
def generate(
    spec: Annotated[Path, typer.Argument(help="Generation spec (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (.jsonl).")],
    seeds: Annotated[
        str | None,
        typer.Option(
            help="Real examples for few-shot prompts and the filters: a file or "
            "rdataset:PACKAGE/NAME."
        ),
    ] = None,
    text_field: Annotated[str, typer.Option(help="The seeds' text column.")] = "text",
    label_field: Annotated[str, typer.Option(help="The seeds' label column.")] = "label",
    model: Annotated[
        Path | None,
        typer.Option(help="A GGUF model file (default: SmolLM2-135M-Instruct, offline)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="An OpenAI-compatible server instead (vLLM, llama.cpp, Ollama): URL."),
    ] = None,
    server_model: Annotated[str, typer.Option(help="The model name on the server.")] = "default",
    concurrency: Annotated[int, typer.Option(help="Requests at once (server only).")] = 4,
    n_ctx: Annotated[int, typer.Option(help="Context length of a local model.")] = 2048,
    filter_: Annotated[
        bool,
        typer.Option(
            "--filter/--no-filter",
            help="Filter the records (format, length, language, copies of the seeds, "
            "duplicates, label consistency); raw records go to <output>.raw.jsonl.",
        ),
    ] = True,
    judge: Annotated[
        bool, typer.Option(help="Also ask the model which label fits each kept text.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generation plan.")] = 0,
) -> None:
    """Generate the records a spec asks for, filter them, write JSON Lines and a data card.

    Re-running the same command resumes an interrupted run.
    """
    from ..card import write_card
    from ..io import atomic_write_text
    from ..text import filter_texts, generate_text, load_text_spec, text_card

    m = _app()
    sp = load_text_spec(spec)
    seed_df = read_texts(seeds, "--seeds") if seeds is not None else None
    fields: Any = text_field if sp.task == "classification" else list(sp.fields)
    client = _client(model, server, server_model, concurrency, n_ctx)
    name = _model_name(client)
    raw_path = output.with_name(output.stem + ".raw.jsonl") if filter_ else output
    res = generate_text(
        sp,
        client,
        out=raw_path,
        seeds=seed_df,
        text_field=fields,
        label_field=label_field,
        rng=seed,
        verbose=not m._state["quiet"],
    )
    filtered = None
    if filter_ and len(res.data):
        classification = sp.task == "classification"
        reference = None
        if seed_df is not None:
            cols = [fields] if isinstance(fields, str) else fields
            reference = [str(t) for c in cols for t in seed_df[c].tolist()]
        with m._step("filtering"):
            filtered = filter_texts(
                res.data,
                text_field="text" if classification else "response",
                reference=reference,
                label_seeds=seed_df if classification and seed_df is not None else None,
                label_seeds_text=text_field,
                label_seeds_label=label_field,
                judge=client if judge and classification else None,
                judge_label_set=list(sp.counts) if classification else None,
                judge_descriptions=sp.descriptions,
                seed=seed,
            )
        kept = filtered.kept
        atomic_write_text(output, kept.to_json(orient="records", lines=True, force_ascii=False))
        removed = filtered.removed
        atomic_write_text(
            output.with_name(output.stem + ".removed.jsonl"),
            removed.to_json(orient="records", lines=True, force_ascii=False),
        )
    elif filter_:  # nothing was made: empty outputs, so that no stale file is mistaken for them
        atomic_write_text(output, "")
        atomic_write_text(output.with_name(output.stem + ".removed.jsonl"), "")
    card = text_card(
        sp,
        res,
        model=name,
        seeds=seed_df,
        seeds_source=seeds,
        text_field=text_field,
        filters=filtered,
        output=output,
        rng_seed=seed,
    )
    json_path, _ = write_card(card, output.with_name(output.stem + ".card"))
    made = res.stats["made"]
    m._say(
        f"{made:,} of {res.stats['asked']:,} records made by {name} in {res.stats['seconds']:.0f} s"
        + (f" ({res.stats['failed']} failed; re-run to retry)" if res.stats["failed"] else "")
    )
    if filtered is not None:
        m._say(f"filters: {filtered.summary()}")
    m._say(f"data -> {output}; card -> {json_path}")


@text_app.command("evaluate")
def evaluate(
    real_train: Annotated[
        str, typer.Argument(help="Real texts the generator drew on (its seeds): file or rdataset:.")
    ],
    real_holdout: Annotated[
        str, typer.Argument(help="Real texts it never saw: file or rdataset:PACKAGE/NAME.")
    ],
    synthetic: Annotated[str, typer.Argument(help="The generated texts (e.g. out.jsonl).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report (.html).")],
    text_field: Annotated[str, typer.Option(help="Text column of the real sets.")] = "text",
    label_field: Annotated[
        str | None, typer.Option(help="Label column of the real sets ('' for none).")
    ] = "label",
    synthetic_text_field: Annotated[
        str, typer.Option(help="Text column of the synthetic set.")
    ] = "text",
    synthetic_label_field: Annotated[
        str, typer.Option(help="Label column of the synthetic set.")
    ] = "label",
    max_texts: Annotated[
        int, typer.Option(help="Texts per set in the embedding comparisons.")
    ] = 2000,
    card: Annotated[
        Path | None,
        typer.Option(help="Data card to complete (default: <synthetic>.card.json if present)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Diversity, embedding distance, TSTR vs TRTR and copies, as an HTML report (+ JSON)."""
    import json

    from ..card import evaluation_section, write_card
    from ..evaluate import evaluate_text
    from ..io import atomic_write_text
    from ..report import write_html

    m = _app()
    label = label_field or None
    frames = []
    for src, what, tf, lf in (
        (real_train, "real_train", text_field, label),
        (real_holdout, "real_holdout", text_field, label),
        (synthetic, "synthetic", synthetic_text_field, synthetic_label_field if label else None),
    ):
        df = read_texts(src, what)
        rename = {tf: "text"} | ({lf: "label"} if lf and lf in df.columns else {})
        for col in rename:
            if col not in df.columns:
                raise SosieError(
                    str(
                        Problem(
                            f"{what} column {col!r}",
                            "a column of the file",
                            f"columns {list(df.columns)}",
                            "pass --text-field / --label-field (--synthetic-text-field for the "
                            "synthetic set)",
                        )
                    )
                )
        cols = list(rename)
        frames.append(df[cols].rename(columns=rename))
    ev = evaluate_text(
        *frames,
        label_field="label" if label else None,
        max_texts=max_texts,
        rng=seed,
        verbose=not m._state["quiet"],
    )
    card_path = card
    if card_path is None and not synthetic.startswith(RDATASET_PREFIX):
        guess = Path(synthetic).with_name(Path(synthetic).stem + ".card.json")
        card_path = guess if guess.exists() else None
    card_dict = None
    if card_path is not None:
        card_dict = json.loads(Path(card_path).read_text(encoding="utf-8"))
        card_dict["evaluation"] = evaluation_section(ev)
        write_card(card_dict, card_path)
    write_html(ev, output, card=card_dict, title="Synthetic text report")
    atomic_write_text(output.with_suffix(".json"), ev.to_json())
    m._print_summary(ev)
    m._say(f"report -> {output}" + (f"; card updated -> {card_path}" if card_path else ""))
