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
        console.print(msg)


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
) -> None:
    """Infer the schema of DATA and show the evidence for every decision."""
    from ..schema import infer_schema

    with _step(f"reading {data}"):
        df = _read(data, table)
    overrides = {k: {"type": v} for k, v in _parse_kv(override, "type").items()}
    with _step("inferring the schema"):
        schema = infer_schema(df, overrides=overrides)
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
        str, typer.Option("--generator", "-g", help="Generator name (see `sosie list`).")
    ] = "gaussian_copula",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Generator parameter k=v (YAML value)."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option(help="Schema JSON (from `sosie inspect --schema-out`).")
    ] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (recorded in the model).")] = None,
) -> None:
    """Fit a generator on DATA and save it as one .sosie file."""
    from ..generators import get_generator

    cls = get_generator(generator)
    params = {k: _yaml_value(v) for k, v in _parse_kv(param, "param").items()}
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
    if seed is not None:
        params["rng"] = seed
    with _step(f"reading {data}"):
        df = _read(data, table)
    gen = cls(**params)
    with _step(f"fitting {generator} on {len(df):,} rows x {df.shape[1]} columns"):
        gen.fit(df, schema=schema)
    with _step(f"saving {output}"):
        gen.save(output)
    _say(f"model written to [bold]{output}[/bold] ({Path(output).stat().st_size / 1e3:.0f} kB)")


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


@app.command()
def sample(
    model: Annotated[Path, typer.Argument(help="A .sosie model file.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output path (.parquet, .csv, .jsonl) or SQL URL.")
    ],
    n_rows: Annotated[int, typer.Option("--n-rows", "-n", help="Number of rows.")] = 1000,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            "--condition", "-c", help="col=value on every row; col=<null> asks for missing values."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for this sample.")] = None,
    table: Annotated[str | None, typer.Option(help="SQL table name.")] = None,
) -> None:
    """Sample N rows from a saved MODEL and write them to OUTPUT."""
    from ..generators.base import Generator
    from ..io import write_table

    with _step(f"loading {model}"):
        gen = Generator.load(model)
    conds = _parse_conditions(condition, gen.schema_) or None
    with _step(f"sampling {n_rows:,} rows"):
        df = gen.sample(n_rows, conditions=conds, rng=seed)
    with _step(f"writing {output}"):
        where = write_table(df, output, table=table)
    _say(f"{len(df):,} rows written to [bold]{where}[/bold]")


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


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("sosie-demo"),
    generator: Annotated[
        str, typer.Option("--generator", "-g", help="Generator to demo.")
    ] = "gaussian_copula",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Fit a generator on the bundled UCI Adult data and write synthetic data, schema and model."""
    from ..demo import run_demo

    result = run_demo(out, generator=generator, seed=seed, step=_step)
    _say("")
    _say(
        f"[bold]sosie demo[/bold]: {generator} on UCI Adult (train, {result['n_real']:,} real rows)"
    )
    for k, v in result["files"].items():
        console.print(f"  {k + ':':<16}{v}", soft_wrap=True, markup=False)
    _say(result["summary"])


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
