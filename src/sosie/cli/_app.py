"""Typer application. ``SosieError`` -> one clear message and exit code 2 (``--debug`` for tracebacks)."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import Problem, SosieError

app = typer.Typer(
    name="sosie",
    help="Synthetic training data, and the evidence that it is worth using.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, Any] = {"debug": False, "quiet": False}
console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    _state["debug"] = debug
    _state["quiet"] = quiet
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@contextmanager
def _step(text: str):
    """A spinner with elapsed time for a step that may take a while."""
    if _state["quiet"]:
        yield
        return
    if not err_console.is_terminal:
        yield
        err_console.print(f"done: {text}")
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        progress.add_task(text, total=None)
        yield
    err_console.print(f"[green]✓[/green] {text}")


def _say(msg: str) -> None:
    if not _state["quiet"]:
        console.print(msg, soft_wrap=True)


def _parse_kv(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise SosieError(
                str(
                    Problem(
                        f"{what} {item!r}",
                        "the form name=value",
                        "no '='",
                        f"write e.g. --{what} max_atoms=64",
                    )
                )
            )
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _yaml_value(v: str) -> Any:
    try:
        return yaml.safe_load(v)
    except yaml.YAMLError:
        return v


def _read(data: str, table: str | None):
    from ..io import read_table

    return read_table(data, table=table)


# -- commands ------------------------------------------------------------------------------
@app.command("list")
def list_cmd() -> None:
    """List the registered generators."""
    from ..generators import list_generators

    t = Table("name", "class", "description", title="sosie generators")
    for name, cls in list_generators().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        if cls.experimental:
            doc += f" [experimental: {cls.experimental}]"
        t.add_row(name, cls.__name__, doc)
    console.print(t)


@app.command()
def inspect(
    data: Annotated[
        str, typer.Argument(help="CSV/Parquet/JSONL path or SQLAlchemy URL (sqlite:///x.db#table).")
    ],
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    schema_out: Annotated[
        Path | None, typer.Option("--schema-out", help="Write the schema JSON here.")
    ] = None,
    override: Annotated[
        list[str] | None, typer.Option("--type", help="Override a column type: col=categorical.")
    ] = None,
    constraints: Annotated[
        bool,
        typer.Option(
            "--constraints/--no-constraints",
            help="Discover the table's exact rules (formulas, dependencies, inequalities, "
            "grids, conditional nulls) and list them with their evidence.",
        ),
    ] = True,
    min_confidence: Annotated[
        float,
        typer.Option(
            help="Share of rows a discovered rule must hold on (1: every row; 0.999 lets one "
            "row in a thousand break it)."
        ),
    ] = 1.0,
) -> None:
    """Infer the schema of DATA and show the evidence for every decision.

    The exact rules found in the data are listed after the columns; `--schema-out` writes
    them into the schema JSON (its "constraints" list), where you can accept, edit or delete
    each one, or add your own, before `sosie fit --schema`.
    """
    from ..schema import infer_schema

    with _step(f"reading {data}"):
        df = _read(data, table)
    overrides = {k: {"type": v} for k, v in _parse_kv(override, "type").items()}
    with _step("inferring the schema"):
        schema = infer_schema(df, overrides=overrides)
    if constraints:
        from ..constraints import discover

        with _step("discovering constraints"):
            schema.constraints = discover(df, schema, min_confidence=min_confidence)
    t = Table("column", "type", "nulls", "facts", "evidence", title=f"{data}: {len(df)} rows")
    for spec in schema:
        d = spec.to_dict()
        facts = []
        for k in spec.facts():
            if k in d:
                v = d[k]
                if isinstance(v, list) and len(v) > 5:
                    v = [*v[:5], f"... ({len(d[k])})"]
                facts.append(f"{k}={v}")
        n_null = int(df[spec.name].isna().sum())
        t.add_row(
            spec.name,
            spec.type.value,
            f"{n_null / max(len(df), 1):.1%}" if n_null else "-",
            "\n".join(facts),
            "\n".join(spec.evidence),
        )
    console.print(t)
    if constraints:
        ct = Table("#", "constraint", "kind", "evidence", title="exact rules found in the data")
        for i, c in enumerate(schema.constraints):
            ct.add_row(str(i), c.describe(), c.kind, "\n".join(c.evidence))
        if schema.constraints:
            console.print(ct)
        else:
            _say("no exact rules found in the data (formulas, dependencies, inequalities, ...)")
    if schema_out is not None:
        schema.to_json(schema_out)
        _say(
            f"schema written to [bold]{schema_out}[/bold] (edit it and pass it to `sosie fit --schema`)"
        )


@app.command()
def fit(
    data: Annotated[str, typer.Argument(help="Training data: path or SQLAlchemy URL.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the .sosie model.")
    ],
    generator: Annotated[
        str | None,
        typer.Option(
            "--generator",
            "-g",
            help="Generator name (see `sosie list`); default gaussian_copula, or "
            "sequence_gru with --entity.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Generator parameter k=v (YAML value)."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option(help="Schema JSON (from `sosie inspect --schema-out`).")
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(help="Event data: the column naming each row's sequence (customer, host)."),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(help="Event data: the column ordering events (dates or numbers)."),
    ] = None,
    static: Annotated[
        str | None,
        typer.Option(help="Event data: comma-separated per-entity columns (default: detected)."),
    ] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    sample_rows: Annotated[
        int | None,
        typer.Option(
            help="Fit on a uniform random sample of this many rows, read in one pass from a "
            "Parquet/CSV file or folder of any size (recorded in the model and its card)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (recorded in the model).")] = None,
    epsilon: Annotated[
        float | None,
        typer.Option(
            help="Privacy budget epsilon of a differentially private generator (aim, mst, dp_tabddpm)."
        ),
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option(
            help="Privacy budget delta of a differentially private generator (aim, mst, dp_tabddpm)."
        ),
    ] = None,
) -> None:
    """Fit a generator on DATA and save it as one .sosie file.

    Differentially private generators need --epsilon, --delta and a public --schema, e.g.
    `sosie fit data.csv -g aim --epsilon 1 --delta 1e-6 --schema public_schema.json -o m.sosie`.
    Event data (one row per event) needs --entity (and usually --time), e.g.
    `sosie fit events.csv --entity customer_id --time timestamp -o m.sosie`.
    """
    from ..generators import get_generator

    is_events = entity is not None
    generator = generator or ("sequence_gru" if is_events else "gaussian_copula")
    cls = get_generator(generator)
    is_sequence_model = getattr(cls, "modality", "table") == "sequence"
    if is_events != is_sequence_model:
        raise SosieError(
            str(
                Problem(
                    "--entity" if is_events else f"generator {generator!r}",
                    "a sequence generator (sequence_gru) for event data"
                    if is_events
                    else "--entity (and --time): it learns event sequences",
                    f"generator {generator!r}" if is_events else "no --entity",
                    "drop --generator to use sequence_gru"
                    if is_events
                    else "pass --entity <column> --time <column>, or pick a table generator",
                )
            )
        )
    if not is_events and (time or static):
        raise SosieError(
            str(
                Problem(
                    "--time/--static",
                    "--entity as well (they describe event data)",
                    "no --entity",
                    "add --entity <column>, or drop --time/--static",
                )
            )
        )
    params = {k: _yaml_value(v) for k, v in _parse_kv(param, "param").items()}
    for name, value in (("epsilon", epsilon), ("delta", delta)):
        if value is None:
            continue
        if name not in cls._param_names():
            raise SosieError(
                str(
                    Problem(
                        f"--{name}",
                        "a differentially private generator (aim, mst, dp_tabddpm)",
                        f"{generator!r}, which has no privacy budget",
                        f"drop --{name}, or pick a DP generator with --generator aim",
                    )
                )
            )
        params[name] = value
    _check_required_params(cls, generator, params, budget_flags=True)
    _check_param_names(cls, generator, params)
    if seed is not None:
        params["rng"] = seed
    if sample_rows is not None:
        from ..scale import read_sample

        with _step(f"reading a sample of {sample_rows:,} rows from {data}"):
            df = read_sample(data, sample_rows, rng=seed)
        info = df.attrs["sosie_sample"]
        _say(f"fitting on {info['rows']:,} of {info['of']:,} rows (uniform sample)")
    else:
        with _step(f"reading {data}"):
            df = _read(data, table)
    gen = cls(**params)
    with _step(f"fitting {generator} on {len(df):,} rows x {df.shape[1]} columns"):
        if is_events:
            gen.fit(df, entity=entity, time=time, static=_split_list(static) or None, schema=schema)
        else:
            gen.fit(df, schema=schema)
    with _step(f"saving {output}"):
        gen.save(output)
    _say(f"model written to [bold]{output}[/bold] ({Path(output).stat().st_size / 1e3:.0f} kB)")
    layer = getattr(gen, "constraints_", None)
    if layer is not None:
        roles = layer.describe_roles()
        built = sum(r["kept"] == "by construction" for r in roles)
        _say(
            f"{len(roles)} exact rule(s) kept ({built} by construction, {len(roles) - built} by "
            "redrawing rows); `sosie inspect` lists them, the data card says how each is kept"
        )


def _check_param_names(cls, generator: str, params: dict[str, Any]) -> None:
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise SosieError(
            str(
                Problem(
                    f"--param {', '.join(unknown)}",
                    f"parameters of {generator!r}: " + ", ".join(cls._param_names()),
                    "unknown name(s)",
                    "check `sosie list` and the generator's documentation",
                )
            )
        )


def _check_required_params(cls, generator: str, params: dict[str, Any], *, budget_flags: bool):
    """Every constructor parameter without a default is given (a DP generator's budget)."""
    missing = [p for p in _required_params(cls) if p not in params]
    if not missing:
        return

    def flag(p: str) -> str:
        budget = budget_flags and p in ("epsilon", "delta")
        return f"--{p} <value>" if budget else f"--param {p}=<value>"

    raise SosieError(
        str(
            Problem(
                f"generator {generator!r}",
                "its required parameter(s) " + ", ".join(missing),
                "none given",
                " ".join(flag(p) for p in missing)
                + (
                    " (the privacy budget: smaller epsilon is more private; delta far below "
                    "1/rows, e.g. --epsilon 1 --delta 1e-6)"
                    if budget_flags and {"epsilon", "delta"} & set(missing)
                    else ""
                ),
            )
        )
    )


def _required_params(cls) -> list[str]:
    """Constructor parameters without a default (e.g. a DP generator's epsilon and delta)."""
    import inspect

    sig = inspect.signature(cls.__init__)
    return [
        p.name
        for p in sig.parameters.values()
        if p.name != "self"
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def _parse_conditions(items: list[str] | None, schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in _parse_kv(items, "condition").items():
        if v == "<null>":
            out[k] = None
        elif k in schema and schema[k].type.value in ("numerical",):
            try:
                out[k] = float(v) if schema[k].dtype == "float" else int(float(v))
            except ValueError:
                out[k] = v  # the generator reports the problem with context
        elif k in schema and schema[k].type.value == "boolean":
            tv = schema[k].true_value
            lowered = v.lower()
            out[k] = (
                schema[k].true_value
                if lowered in ("true", str(tv).lower())
                else schema[k].false_value
                if lowered in ("false", str(schema[k].false_value).lower())
                else v
            )
        elif k in schema and schema[k].categories and not isinstance(schema[k].categories[0], str):
            out[k] = _yaml_value(v)
        else:
            out[k] = v
    return out


def _parse_shares(items: list[str], schema) -> dict[str, dict[Any, float]]:
    out: dict[str, dict[Any, float]] = {}
    for item in items:
        col, sep, rest = item.partition("=")
        pairs = [p.rpartition(":") for p in rest.split(",")] if sep else []
        if not pairs or any(not v or not c for v, c, _ in pairs):
            raise SosieError(
                str(
                    Problem(
                        f"--shares {item!r}",
                        "column=value:share,value:share",
                        "another form",
                        "write e.g. --shares sex=Female:0.5,Male:0.5",
                    )
                )
            )
        try:
            out[col] = {
                _parse_conditions([f"{col}={v}"], schema)[col]: float(x) for v, _, x in pairs
            }
        except ValueError:
            raise SosieError(
                str(Problem(f"--shares {item!r}", "numbers as shares", rest, "fix the shares"))
            ) from None
    return out


@app.command()
def sample(
    model: Annotated[Path, typer.Argument(help="A .sosie model file.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output path (.parquet, .csv, .jsonl) or SQL URL.")
    ],
    n_rows: Annotated[
        int, typer.Option("--n-rows", "-n", help="Number of rows (entities for event models).")
    ] = 1000,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            "--condition", "-c", help="col=value on every row; col=<null> asks for missing values."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for this sample.")] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    card: Annotated[
        bool, typer.Option("--card/--no-card", help="Write a data card next to the output.")
    ] = True,
    length: Annotated[
        int | None, typer.Option(help="Event models: events per entity instead of drawn lengths.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Event models: move the time window to start here.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Event models: generate events up to this time.")
    ] = None,
    shares: Annotated[
        list[str] | None,
        typer.Option(
            "--shares",
            help="Target group shares of a sensitive column, e.g. sex=Female:0.5,Male:0.5 "
            "(repeat for several columns); met exactly by conditioning.",
        ),
    ] = None,
    independent_label: Annotated[
        str | None,
        typer.Option(
            help="With --shares: this label column gets the same distribution in every group."
        ),
    ] = None,
    chunk_rows: Annotated[
        int | None,
        typer.Option(
            help="Stream to a dataset folder (OUTPUT/part-*.parquet or .csv) this many rows at a "
            "time: flat memory, atomic, resumable after a crash."
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Sample on a Dask cluster into a dataset folder: a scheduler address "
            "(tcp://host:8786) or 'local' for a LocalCluster (extra 'scale').",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="With --dask local: worker processes (default: CPUs).")
    ] = None,
) -> None:
    """Sample N rows (or N entities' events) from a saved MODEL and write them to OUTPUT.

    Controlled demographics: `--shares sex=Female:0.5,Male:0.5 --independent-label income`
    gives 50/50 sex with the same income distribution for both (see sosie.demographics)."""
    from ..generators.base import Generator
    from ..io import write_table

    with _step(f"loading {model}"):
        gen = Generator.load(model)
    conds = _parse_conditions(condition, gen.schema_) or None
    if chunk_rows is not None or dask is not None:
        if shares or independent_label or getattr(gen, "modality", "table") != "table":
            raise SosieError(
                str(
                    Problem(
                        "--chunk-rows/--dask",
                        "a table model, with --condition at most",
                        "--shares or an event model",
                        "stream plain or conditioned samples; run --shares without them",
                    )
                )
            )
        part = chunk_rows or 1_000_000
        if dask is None:
            out = gen.sample_to(output, n_rows, chunk_rows=part, conditions=conds, rng=seed,
                                progress=not _state["quiet"] and err_console.is_terminal)  # fmt: skip
            _say(f"{n_rows:,} rows written to [bold]{out}[/bold]")
        else:
            from ..scale import sample_distributed

            res = sample_distributed(
                gen, output, n_rows, partition_rows=part, conditions=conds, rng=seed,
                address=None if dask == "local" else dask, n_workers=workers,
                progress=not _state["quiet"] and err_console.is_terminal,
            )  # fmt: skip
            _say(
                f"{n_rows:,} rows written to [bold]{res['path']}[/bold] by {res['workers']} "
                f"worker(s) in {res['seconds']:.1f} s ({res['rows_per_second']:,.0f} rows/s)"
            )
            out = res["path"]
        if card and not isinstance(out, Path):
            _say("no data card written next to an object-store dataset (its "
                 "_sosie_dataset.json records the request)")  # fmt: skip
        elif card:  # next to the folder: out/ -> out.card.json
            from ..card import build_card, write_card

            c = build_card(gen, output=str(out), n_rows=n_rows, conditions=conds, sample_seed=seed)
            json_path, _ = write_card(c, out.with_name(out.name.split(".")[0] + ".card"))
            _say(f"data card written to [bold]{json_path}[/bold]")
        return
    if shares or independent_label:
        if not shares or conds or getattr(gen, "modality", "table") != "table":
            raise SosieError(
                str(
                    Problem(
                        "--shares/--independent-label",
                        "--shares on a table model, without --condition",
                        "--independent-label alone" if not shares else "another combination",
                        "pass --shares col=value:share,... (and drop --condition)",
                    )
                )
            )
        from ..demographics import sample_demographics

        targets = _parse_shares(shares, gen.schema_)
        with _step(f"sampling {n_rows:,} rows with controlled group shares"):
            df = sample_demographics(
                gen,
                n_rows,
                targets=targets,
                label=independent_label,
                independent_label=independent_label is not None,
                rng=seed,
            )
        with _step(f"writing {output}"):
            where = write_table(df, output, table=table)
        _say(f"{len(df):,} rows written to [bold]{where}[/bold]")
        if card:
            demo = {"target_shares": targets, "independent_label": independent_label}
            _write_sample_card(gen, output, len(df), {"demographics": demo}, seed)
        return
    if getattr(gen, "modality", "table") == "sequence":
        numeric = gen.sequence_schema_.time_kind == "numeric"
        window = {
            k: (_yaml_value(v) if numeric else v)
            for k, v in (("start", start), ("end", end))
            if v is not None
        }
        with _step(f"sampling the events of {n_rows:,} entities"):
            df = gen.sample(n_rows, conditions=conds, rng=seed, length=length, **window)
    else:
        if length is not None or start is not None or end is not None:
            raise SosieError(
                str(
                    Problem(
                        "--length/--start/--end",
                        "an event model (fitted with --entity)",
                        f"a {gen.name!r} table model",
                        "drop these options",
                    )
                )
            )
        with _step(f"sampling {n_rows:,} rows"):
            df = gen.sample(n_rows, conditions=conds, rng=seed)
    with _step(f"writing {output}"):
        where = write_table(df, output, table=table)
    _say(f"{len(df):,} rows written to [bold]{where}[/bold]")
    if card:
        _write_sample_card(gen, output, len(df), conds, seed)


def _card_base(output: str) -> Path | None:
    """``data.parquet`` -> ``data.card`` (next to the file); None for SQL outputs."""
    from ..io import detect_format

    if detect_format(output) == "sql":
        return None
    p = Path(output)
    name = p.name
    for ext in (".gz", ".bz2", ".xz"):
        name = name.removesuffix(ext)
    return p.with_name(name.rsplit(".", 1)[0] + ".card")


def _write_sample_card(gen, output: str, n_rows: int, conds, seed) -> None:
    from ..card import build_card, write_card

    base = _card_base(output)
    if base is None:
        _say("no data card written for an SQL output; use `sosie evaluate --model` to make one")
        return
    card = build_card(gen, output=output, n_rows=n_rows, conditions=conds, sample_seed=seed)
    json_path, md_path = write_card(card, base)
    _say(f"data card written to [bold]{json_path}[/bold] and {md_path.name}")


@app.command()
def generate(
    spec: Annotated[Path, typer.Argument(help="Rule-based spec (YAML or JSON).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output path or SQL URL.")],
    n_rows: Annotated[int, typer.Option("--n-rows", "-n", help="Number of rows.")] = 1000,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
) -> None:
    """Generate N rows from a rule-based SPEC, no training data needed."""
    from ..generators.rules import RulesGenerator
    from ..io import write_table

    with _step(f"reading the spec {spec}"):
        gen = RulesGenerator(spec=str(spec), rng=seed).fit()
    with _step(f"generating {n_rows:,} rows"):
        df = gen.sample(n_rows)
    with _step(f"writing {output}"):
        where = write_table(df, output, table=table)
    _say(f"{len(df):,} rows written to [bold]{where}[/bold]")


def _split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@app.command()
def evaluate(
    real: Annotated[str, typer.Option("--real", help="Real data the generator was fitted on.")],
    holdout: Annotated[str, typer.Option("--holdout", help="Real data the generator never saw.")],
    synthetic: Annotated[str, typer.Option("--synthetic", help="The synthetic data.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")] = Path(
        "evaluation"
    ),
    target: Annotated[
        str | None, typer.Option(help="Column to predict (utility, fairness gaps).")
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="Comma-separated sensitive columns (bias audit).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="The .sosie model (schema, card, shadow attack).")
    ] = None,
    schema: Annotated[
        Path | None, typer.Option(help="Schema JSON (default: the model's, else inferred).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for subsampling, models and attacks.")] = 0,
    max_rows: Annotated[
        int, typer.Option(help="Subsample each table to at most this many rows.")
    ] = 50_000,
    entity: Annotated[
        str | None, typer.Option(help="Event data: the entity column (default: the model's).")
    ] = None,
    time: Annotated[
        str | None, typer.Option(help="Event data: the time column (default: the model's).")
    ] = None,
    large: Annotated[
        bool,
        typer.Option(
            "--large",
            help="Tables larger than memory (Parquet files or folders, read with Dask): column "
            "shapes on every row; pair trends, detection and DCR on uniform samples.",
        ),
    ] = False,
    sample_rows: Annotated[
        int, typer.Option(help="With --large: rows sampled per table.")
    ] = 50_000,
) -> None:
    """Evaluate synthetic data: writes evaluation.json, report.html and card.json/card.md.

    Event data (from an event model, or with --entity/--time) gets the sequence metrics:
    lengths, gaps, autocorrelation, transitions, per-entity aggregates, detection and TSTR
    on per-sequence features (--target: a static column).
    """
    from ..generators.base import Generator

    generator = None
    if model is not None:
        with _step(f"loading {model}"):
            generator = Generator.load(model)
    if large:
        from ..scale import evaluate_large
        from ..schema import TableSchema

        sc = TableSchema.from_json(schema) if schema is not None else None
        if sc is None and generator is not None:
            sc = generator.schema_
        with _step("evaluating on Dask (column shapes on every row, the rest on samples)"):
            ev = evaluate_large(real, synthetic, holdout=holdout, schema=sc,
                                sample_rows=sample_rows, rng=seed)  # fmt: skip
        _write_evaluation(ev, out, generator, n_rows=ev.meta["large"]["rows"]["synthetic"],
                          synthetic_path=synthetic)  # fmt: skip
        return
    if entity is not None or getattr(generator, "modality", "table") == "sequence":
        _evaluate_sequences_and_write(
            real_train=_read(real, None),
            real_holdout=_read(holdout, None),
            synthetic=_read(synthetic, None),
            out=out,
            target=target,
            generator=generator,
            entity=entity,
            time=time,
            seed=seed,
            synthetic_path=synthetic,
        )
        return
    _evaluate_and_write(
        real_train=_read(real, None),
        real_holdout=_read(holdout, None),
        synthetic=_read(synthetic, None),
        out=out,
        target=target,
        sensitive=_split_list(sensitive),
        generator=generator,
        schema_path=schema,
        seed=seed,
        max_rows=max_rows,
        synthetic_path=synthetic,
    )


def _evaluate_and_write(
    *,
    real_train,
    real_holdout,
    synthetic,
    out,
    target,
    sensitive,
    model_path=None,
    generator=None,
    schema_path=None,
    seed=0,
    max_rows=50_000,
    synthetic_path=None,
):
    from ..evaluate import evaluate as run_evaluation
    from ..generators.base import Generator
    from ..schema import TableSchema

    if generator is None and model_path is not None:
        with _step(f"loading {model_path}"):
            generator = Generator.load(model_path)
    schema = None
    if schema_path is not None:
        schema = TableSchema.from_json(schema_path)
    elif generator is not None:
        schema = generator.schema_
    factory = None
    if generator is not None and generator.name != "rules":
        params = {k: v for k, v in generator.get_params().items() if k != "rng"}
        factory = lambda seed: type(generator)(**params, rng=seed)  # noqa: E731
    with _step("evaluating fidelity, utility, privacy and fairness"):
        ev = run_evaluation(
            real_train,
            real_holdout,
            synthetic,
            schema=schema,
            target=target,
            sensitive=sensitive,
            rng=seed,
            max_rows=max_rows,
            generator_factory=factory,
        )
    _write_evaluation(ev, out, generator, n_rows=len(synthetic), synthetic_path=synthetic_path)
    return ev


def _write_evaluation(ev, out: Path, generator, *, n_rows: int, synthetic_path) -> None:
    """evaluation.json, report.html and the data card in ``out``; the summary on the console."""
    from ..card import build_card, write_card
    from ..report import write_html

    out.mkdir(parents=True, exist_ok=True)
    card = build_card(generator, evaluation=ev, output=synthetic_path, n_rows=n_rows)
    with _step(f"writing the report to {out}"):
        ev.to_json(out / "evaluation.json")
        write_html(ev, out / "report.html", card=card)
        write_card(card, out / "card")
    _print_summary(ev)
    for name in ("report.html", "evaluation.json", "card.json", "card.md"):
        console.print(f"  {name + ':':<17}{out / name}", soft_wrap=True, markup=False)


def _evaluate_sequences_and_write(
    *,
    real_train,
    real_holdout,
    synthetic,
    out,
    target,
    generator,
    entity,
    time,
    seed,
    synthetic_path,
):
    from ..evaluate import evaluate_sequences
    from ..schema import infer_sequence_schema

    if generator is not None and getattr(generator, "modality", "table") == "sequence":
        schema = generator.sequence_schema_
    else:  # the caller passes --entity when there is no event model
        schema = infer_sequence_schema(real_train, entity=entity, time=time)
    with _step("evaluating sequences: lengths, gaps, dynamics, detection, utility"):
        ev = evaluate_sequences(
            real_train, real_holdout, synthetic, schema=schema, target=target, rng=seed
        )
    _write_evaluation(ev, out, generator, n_rows=len(synthetic), synthetic_path=synthetic_path)
    return ev


def _print_summary(ev) -> None:
    if _state["quiet"]:
        return
    t = Table("measure", "value", "what it means", title="evaluation summary")
    explain = {
        "column_shapes": "1 = every column's distribution matches",
        "pair_trends": "1 = every pairwise relation matches",
        "detection_auc": "0.5 = a classifier cannot tell synthetic from real",
        "tstr_ratio": "1 = models trained on synthetic do as well as on real",
        "dcr_share": "0.5 = synthetic rows are no closer to training rows than to unseen ones",
        "exact_copies": "share of synthetic rows that copy a training row",
        "mia_auc": "0.5 = membership-inference attacks do no better than guessing",
        "sequence_length": "1 = events per entity are distributed as in the real data",
        "inter_arrival": "1 = gaps between events are distributed as in the real data",
        "autocorrelation": "1 = each series is as persistent as the real ones",
        "transitions": "1 = category-to-category transitions match",
        "entity_aggregates": "1 = per-entity summaries (means, shares, spans) match",
        "static_shapes": "1 = per-entity attributes are distributed as in the real data",
        "distinct_n": "distinct bigrams per bigram; compare with the real texts' value",
        "self_similarity": "mean cosine of two texts; higher = less diverse",
        "near_copies": "share of synthetic texts that nearly copy a training text",
        "frechet_distance": "distance of the embedding distributions; 0 = identical",
    }
    for k, v in ev.summary.items():
        if k in explain:
            t.add_row(k, "n/a" if v is None else f"{v:.3f}", explain[k])
    console.print(t)


@app.command()
def check(
    report: Annotated[Path, typer.Argument(help="evaluation.json written by `sosie evaluate`.")],
    policy: Annotated[Path, typer.Option("--policy", help="Policy YAML/JSON with 'rules'.")],
) -> None:
    """Check an evaluation against a policy; exits 1 if a rule fails (for CI pipelines)."""
    from ..evaluate import Evaluation
    from ..policy import check_policy, load_policy

    rules = load_policy(policy)
    try:
        ev = Evaluation.from_json(report)
    except (OSError, ValueError) as e:
        raise SosieError(
            str(
                Problem(
                    f"report {str(report)!r}",
                    "an evaluation.json written by sosie evaluate",
                    str(e),
                    "check the path",
                )
            )
        ) from None
    results = check_policy(ev, rules)
    t = Table("rule", "value", "result")
    for r in results:
        t.add_row(
            str(r.rule),
            "n/a" if r.value is None else f"{r.value:.4g}",
            "[green]pass[/green]" if r.passed else f"[red]FAIL[/red] {r.reason}",
        )
    console.print(t)
    failed = [r for r in results if not r.passed]
    if failed:
        err_console.print(
            f"policy failed: {len(failed)} of {len(results)} rule(s): "
            + "; ".join(r.reason for r in failed)
        )
        raise typer.Exit(1)
    console.print(f"policy passed: {len(results)} rule(s)")


@app.command("drift")
def drift_cmd(
    current: Annotated[str, typer.Option("--current", help="The new real data (file or URL).")],
    reference: Annotated[
        str | None,
        typer.Option(help="What the generator learned: its training data (file or URL)."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="The fitted generator (.sosie): its schema, and its samples as the reference "
            "when --reference is not given."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Report (.html; + .json beside it).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="False discovery rate of the column tests.")] = 0.05,
    psi_watch: Annotated[float, typer.Option(help="PSI from which to watch.")] = 0.10,
    psi_refit: Annotated[float, typer.Option(help="PSI from which to refit.")] = 0.25,
    auc_watch: Annotated[float, typer.Option(help="Detection AUC from which to watch.")] = 0.60,
    auc_refit: Annotated[float, typer.Option(help="Detection AUC from which to refit.")] = 0.70,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 at this verdict or worse: refit, watch or never.")
    ] = "refit",
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Has the real data drifted from what the generator learned? Per-column PSI and tests
    (FDR-controlled), joint detection AUC, and a verdict; exits 1 at --fail-on (pipelines)."""
    from ..evaluate.drift import DriftThresholds, drift
    from ..io import atomic_write_text

    if fail_on not in ("refit", "watch", "never"):
        raise SosieError(
            str(Problem("--fail-on", "refit, watch or never", repr(fail_on), "pick one of them"))
        )
    if reference is None and model is None:
        raise SosieError(
            str(
                Problem(
                    "the reference",
                    "--reference (the training data) or --model (a fitted generator)",
                    "neither",
                    "pass one of them",
                )
            )
        )
    try:
        th = DriftThresholds(alpha, psi_watch, psi_refit, auc_watch, auc_refit)
    except ValueError as e:
        raise SosieError(f"thresholds: {e}") from None
    cur = _read(current, table)
    schema = None
    source = reference
    if model is not None:
        from ..generators.base import Generator

        gen = Generator.load(model)
        schema = gen.schema_
        if reference is None:
            n = min(max(len(cur), 5000), 50_000)
            with _step(f"sampling {n:,} reference rows from {model}"):
                ref = gen.sample(n, rng=seed)
            source = f"{n:,} rows sampled from {model}"
    if reference is not None:
        ref = _read(reference, table)
    with _step("measuring drift"):
        ev = drift(ref, cur, schema=schema, thresholds=th, rng=seed)
    ev.meta["reference"] = source
    d = ev.meta["drift"]
    t = Table("column", "PSI", "test", "q-value", "level", title="drift by column")
    for r in d["columns"][:20]:
        colour = {"major": "red", "moderate": "yellow"}.get(r["level"], "")
        level = f"[{colour}]{r['level']}[/{colour}]" if colour and r["drifted"] else r["level"]
        t.add_row(r["column"], f"{r['psi']:.3f}", r["test"], f"{r['q_value']:.2g}", level)
    if not _state["quiet"]:
        console.print(t)
    if output is not None:
        from ..report import write_html

        write_html(ev, output, title="Drift report")
        atomic_write_text(output.with_suffix(".json"), ev.to_json())
    verdict = d["verdict"]
    colour = {"refit": "red", "watch": "yellow"}.get(verdict, "green")
    console.print(
        f"drift verdict: [{colour}]{verdict}[/{colour}] (detection AUC "
        f"{ev.summary['detection_auc']:.3f}); " + "; ".join(d["reasons"]),
        soft_wrap=True,
    )
    rank = {"ok": 0, "watch": 1, "refit": 2}
    if fail_on != "never" and rank[verdict] >= rank[fail_on]:
        raise typer.Exit(1)


@app.command("audit")
def audit_cmd(
    real: Annotated[str, typer.Option("--real", help="Real data the generator learned.")],
    holdout: Annotated[str, typer.Option("--holdout", help="Real rows no model saw.")],
    before: Annotated[str, typer.Option("--before", help="Synthetic data sampled plainly.")],
    after: Annotated[
        str, typer.Option("--after", help="Synthetic data sampled with --shares (controlled).")
    ],
    sensitive: Annotated[str, typer.Option(help="Comma-separated sensitive columns.")],
    target: Annotated[str, typer.Option(help="The label column.")],
    shares: Annotated[
        list[str] | None,
        typer.Option("--shares", help="The target shares, as for `sosie sample --shares`."),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Report (.html; + .json beside it).")
    ] = Path("audit.html"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Bias audit before/after controlled demographics: group shares, label rate per group,
    and the downstream fairness gaps and ROC-AUC of models trained on each, on real data."""
    from ..demographics import bias_audit
    from ..io import atomic_write_text
    from ..report import write_html
    from ..schema import infer_schema

    tables = {k: _read(v, None) for k, v in
              (("real", real), ("holdout", holdout), ("before", before), ("after", after))}  # fmt: skip
    targets = _parse_shares(shares, infer_schema(tables["real"])) if shares else None
    with _step("auditing"):
        ev = bias_audit(tables["real"], tables["holdout"], tables["before"], tables["after"],
                        sensitive=_split_list(sensitive), target=target, targets=targets,
                        rng=seed)  # fmt: skip
    write_html(ev, output, title="Bias audit: before and after controlled demographics")
    atomic_write_text(output.with_suffix(".json"), ev.to_json())
    t = Table("metric", "after", "before", "real data", title="bias audit")
    for m in ev:
        b = m.breakdown
        if isinstance(b.get("after"), float):
            t.add_row(m.name, *(f"{b[k]:.3f}" for k in ("after", "before", "real data")))
        else:
            t.add_row(
                m.name, f"{m.value:.3f}", f"{m.baseline:.3f}" if m.baseline is not None else "", ""
            )
    if not _state["quiet"]:
        console.print(t)
    _say(f"report written to [bold]{output}[/bold]")


@app.command("collapse")
def collapse_cmd(
    data: Annotated[str, typer.Argument(help="The real training data (file or URL).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Report (.html; + .json beside it).")
    ] = Path("collapse.html"),
    holdout: Annotated[
        str | None,
        typer.Option(help="Real rows no generation sees (default: a share of DATA held out)."),
    ] = None,
    holdout_share: Annotated[
        float, typer.Option(help="Share of DATA held out when --holdout is not given.")
    ] = 0.3,
    target: Annotated[str | None, typer.Option(help="Column to predict (TSTR).")] = None,
    generator: Annotated[
        str, typer.Option("--generator", "-g", help="Table generator (see `sosie list`).")
    ] = "gaussian_copula",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Generator parameter k=v (YAML value)."),
    ] = None,
    generations: Annotated[int, typer.Option(help="Generations after generation 0.")] = 5,
    regimes: Annotated[
        str, typer.Option(help="Comma-separated: replace, accumulate, mix.")
    ] = "replace,accumulate,mix",
    mix_share: Annotated[
        float, typer.Option(help="Share of fresh real rows per generation in the mix regime.")
    ] = 0.25,
    n_rows: Annotated[
        int | None, typer.Option(help="Rows sampled per generation (default: the train rows).")
    ] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Model-collapse study: fit, sample and refit for several generations under the replace,
    accumulate and mix regimes; report tail coverage, variance, distinct values, fidelity and
    TSTR per generation."""
    from ..evaluate import split_holdout
    from ..evaluate.collapse import collapse
    from ..generators import get_generator
    from ..io import atomic_write_text
    from ..report import write_html

    cls = get_generator(generator)
    params = {k: _yaml_value(v) for k, v in _parse_kv(param, "param").items()}
    _check_param_names(cls, generator, params)
    _check_required_params(cls, generator, params, budget_flags=False)
    df = _read(data, table)
    if holdout is None:
        try:
            train, hold = split_holdout(df, target=target, holdout=holdout_share, rng=seed)
        except ValueError as e:
            raise SosieError(f"--holdout-share: {e}") from None
    else:
        train, hold = df, _read(holdout, table)
    ev = collapse(
        train,
        hold,
        generator=(lambda s: cls(**{**params, "rng": s})) if params else generator,
        generations=generations,
        regimes=_split_list(regimes),
        mix_share=mix_share,
        n_rows=n_rows,
        target=target,
        rng=seed,
        progress=not _state["quiet"] and err_console.is_terminal,
    )
    ev.meta["generator"] = generator + (
        " (" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")" if params else ""
    )
    study = ev.meta["collapse"]
    t = Table("regime", "gen", "tail cov.", "variance", "distinct", "detection", "TSTR",
              title="model collapse")  # fmt: skip
    for r in study["rows"]:
        t.add_row(
            r["regime"],
            str(r["generation"]),
            *(f"{r[k]:.3f}" for k in ("tail_coverage", "variance_ratio", "distinct_ratio")),
            f"{r['detection_auc']:.3f}",
            f"{r['tstr']:.3f}" if r["tstr"] == r["tstr"] else "n/a",
        )
    if not _state["quiet"]:
        console.print(t)
    write_html(ev, output, title=f"Model collapse: {generator}")
    atomic_write_text(output.with_suffix(".json"), ev.to_json())
    for line in study["findings"]:
        _say(line)
    _say(f"report written to [bold]{output}[/bold]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("sosie-demo"),
    generator: Annotated[
        str, typer.Option("--generator", "-g", help="Generator to demo.")
    ] = "gaussian_copula",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    evaluate: Annotated[
        bool, typer.Option("--evaluate/--no-evaluate", help="Evaluate and write the report.")
    ] = True,
) -> None:
    """Fit a generator on UCI Adult (bundled), sample, evaluate on held-out real rows, write it all."""
    from ..demo import run_demo

    result = run_demo(out, generator=generator, seed=seed, evaluate=evaluate, step=_step)
    _say("")
    _say(
        f"[bold]sosie demo[/bold]: {generator} on UCI Adult (train, {result['n_real']:,} real rows)"
    )
    for k, v in result["files"].items():
        console.print(f"  {k + ':':<16}{v}", soft_wrap=True, markup=False)
    _say(result["summary"])


def _register_groups() -> None:
    from ._images import images_app
    from ._text import text_app

    app.add_typer(images_app, name="images")
    app.add_typer(text_app, name="text")


_register_groups()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sosie`` console script; returns the exit code.

    ``SosieError`` -> ``error: <message>`` on stderr and exit code 2
    (``--debug`` shows the traceback instead).
    """
    from rich.markup import escape

    try:
        app(args=argv, prog_name="sosie")
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except SosieError as e:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(e))}", soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
