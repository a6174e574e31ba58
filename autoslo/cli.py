"""The `autoslo` command. Heavy libraries (torch, ray, prefect, polars) load only inside the
commands that need them, so ``autoslo --help`` answers at once.

User mistakes (`AutosloError`) print one line per problem on stderr and exit with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from autoslo.errors import AutosloError, NotBuiltError

if TYPE_CHECKING:
    from autoslo.config import FileReport
    from autoslo.datatree import DataTree

app = typer.Typer(
    name="autoslo",
    help="Find the cheapest Amazon Redshift execution config that meets your latency SLOs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True,
                "help_option_names": ["-h", "--help"]}


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Data root (default: $AUTOSLO_DATA_DIR or ./data).")] = None,
) -> None:
    from autoslo.datatree import DataTree

    ctx.obj = DataTree(data_dir)


def _not_built(command: str, capability: str, issue: int) -> NoReturn:
    raise NotBuiltError(f"autoslo {command}: not built yet: {capability} (issue {issue}); "
                        "nothing was run")


# ---- validate ----------------------------------------------------------------------------------

@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to check (default: every input under the data root).")] = None,
    kind: Annotated[str | None, typer.Option(
        help="Kind of the given files, when their folder does not tell it.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for ${NAME} placeholders (then every file must resolve).")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Dotted override, e.g. pool.clusters.0.rpu=16 (value parsed as YAML).")
    ] = None,
) -> None:
    """Check input files against their schema and references; one line per file."""
    from autoslo.config import (
        FILE_KINDS,
        discover_inputs,
        inspect_file,
        parse_overrides,
        parse_params,
    )
    from autoslo.datatree import display_path

    tree: DataTree = ctx.obj
    if kind is not None and kind not in FILE_KINDS:
        raise AutosloError(f"--kind must be one of {', '.join(FILE_KINDS)}, got {kind!r}")
    params = parse_params(param or [])
    overrides = parse_overrides(set_ or [])
    resolve = bool(params)
    targets = discover_inputs(tree) if not paths else _expand(paths, kind)
    if not targets:
        where = display_path(paths[0]) if paths else display_path(tree.root)
        raise AutosloError(f"{where}: no input files found to validate")
    reports = [inspect_file(path, file_kind, tree, params=params, overrides=overrides,
                            resolve=resolve)  # type: ignore[arg-type]
               for path, file_kind in targets]
    _print_reports(reports)
    if any(r.status == "error" for r in reports):
        raise typer.Exit(2)
    if params:
        used = set().union(*(r.used_params for r in reports))
        unused = sorted(set(params) - used)
        if unused:
            raise AutosloError(f"--param {unused[0]} is not used by any file given "
                               f"(placeholders used: {', '.join(sorted(used)) or 'none'})")
    if any(r.status == "error" for r in reports):
        raise typer.Exit(2)


def _expand(paths: list[Path], kind: str | None) -> list[tuple[Path, str | None]]:
    from autoslo.config import infer_kind
    from autoslo.datatree import display_path

    targets: list[tuple[Path, str | None]] = []
    for path in paths:
        if not path.exists():
            raise AutosloError(f"{display_path(path)}: does not exist")
        if path.is_dir() and not (path / "workload.yml").is_file():
            found = [p for p in sorted(path.rglob("*")) if
                     (p.suffix == ".yml" and p.name != "workload.yml") or
                     (p.is_dir() and (p / "workload.yml").is_file())]
            targets.extend((p, kind or infer_kind(p)) for p in found)
        else:
            targets.append((path, kind))
    return targets


def _print_reports(reports: list[FileReport]) -> None:
    from autoslo.datatree import display_path

    counts = {"ok": 0, "template": 0, "pending": 0, "error": 0}
    rows = []
    for report in reports:
        counts[report.status] += 1
        if report.status == "error":
            for line in report.problems:
                typer.echo(line, err=True)
            continue
        detail = report.summary
        if report.status == "template":
            detail = f"template, needs {', '.join('${' + n + '}' for n in report.needs)}"
        elif report.status == "pending":
            detail = f"{detail}; pending: {'; '.join(report.problems)}"
        rows.append((report.status, report.kind or "?", display_path(report.path), detail))
    if rows:
        width_kind = max(len(r[1]) for r in rows)
        width_path = max(len(r[2]) for r in rows)
        for status, kind, path, detail in rows:
            typer.echo(f"{status:<8}  {kind:<{width_kind}}  {path:<{width_path}}  {detail}")
    typer.echo(f"{len(reports)} file(s): {counts['ok']} ok, {counts['template']} template(s), "
               f"{counts['pending']} pending, {counts['error']} error(s)")


# ---- entry points still to come (each says what is missing, runs nothing) -----------------------

@app.command(context_settings=_PASSTHROUGH)
def tune() -> None:
    """Search for the cheapest execution config that meets the SLOs (not built yet)."""
    _not_built("tune", "the tuner (Optuna search over simulated scenarios)", 7)


@app.command(context_settings=_PASSTHROUGH)
def execute() -> None:
    """Run (workload, execution config) combinations on the simulator or live (not built yet)."""
    _not_built("execute", "manifest execution on the simulator and on live clusters", 6)


@app.command(context_settings=_PASSTHROUGH)
def plot() -> None:
    """Draw the SLO performance of execution outputs into a PNG (not built yet)."""
    _not_built("plot", "result aggregation and Plotly/Kaleido panels", 8)


@app.command()
def simulate(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Option(
        help="Workload folder (data/workloads/<id>) or any parquet file with the workload columns.")],
    config: Annotated[Path, typer.Option(help="Execution config YAML.")],
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for ${NAME} placeholders.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Dotted override, e.g. pool.clusters.0.rpu=16.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: data/simulator_runs/<workload_id>/<execution_config_id>).")
    ] = None,
    slo: Annotated[Path | None, typer.Option(
        help="Also score the run against this SLO spec (printed, not stored).")] = None,
) -> None:
    """Simulate one (workload, execution config) combination and write its result tables."""
    from autoslo.config import parse_overrides, parse_params, resolve_execution_config
    from autoslo.datatree import display_path
    from autoslo.perf import load_latency_model
    from autoslo.sim import simulate as run_simulation
    from autoslo.workload import load_workload

    tree: DataTree = ctx.obj
    resolved = resolve_execution_config(config, params=parse_params(param or []),
                                        overrides=parse_overrides(set_ or []), tree=tree)
    loaded = load_workload(workload)
    model = load_latency_model(resolved.config.latency_model.model, tree)
    spec = None
    if slo is not None:
        from autoslo.config import SloSpec, load_model

        spec = load_model(slo, SloSpec)
    result = run_simulation(loaded, resolved.config, model, execution_config_id=resolved.id)
    folder = out or tree.simulator_run_dir(loaded.id, resolved.id)
    result.write(folder)
    typer.echo(f"{result.one_line()} -> {display_path(folder)}")
    if spec is not None:
        from autoslo.slo import reference_latencies, score

        reference = reference_latencies(loaded, spec, model) if spec.reference else None
        scored = score(result.queries, spec, reference)
        bounds = "".join(f"; p{p.percentile:g} {p.observed_s:.2f} s (target {p.target_s:g} s)"
                         for p in scored.percentiles)
        typer.echo(f"SLO {display_path(slo)}: violation rate {scored.violation_rate:.2%} "
                   f"(tau {scored.tau:.0%}){bounds}: {'met' if scored.met else 'NOT met'}")


workload_app = typer.Typer(
    help="Generate, import, forecast and transform workloads.", no_args_is_help=True,
    rich_markup_mode=None)
app.add_typer(workload_app, name="workload")


def _write_workload(tree: DataTree, queries: object, meta: object, what: str) -> None:
    from autoslo.datatree import display_path
    from autoslo.workload import save_workload

    folder = save_workload(tree, queries, meta)  # type: ignore[arg-type]
    duration_h = float(queries["arrival_s"].max() or 0) / 3600  # type: ignore[index]
    typer.echo(f"{what}: {meta.queries} queries over {duration_h:.2f} h "  # type: ignore[attr-defined]
               f"-> {display_path(folder)}")


@workload_app.command("generate")
def workload_generate(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Generator spec YAML (data/generators/<name>.yml).")],
    seed: Annotated[int | None, typer.Option(help="Override the spec's seed.")] = None,
) -> None:
    """Generate a synthetic workload from a spec (Poisson arrivals with a rate profile)."""
    from autoslo.config import WorkloadMeta, load_model
    from autoslo.config.generator import GeneratorSpec
    from autoslo.config.workload import WorkloadSource
    from autoslo.datatree import display_path
    from autoslo.workload.generate import generate
    from autoslo.workload.templates import load_suite

    tree: DataTree = ctx.obj
    loaded = load_model(spec, GeneratorSpec)
    if seed is not None:
        loaded = loaded.model_copy(update={"seed": seed})
    queries = generate(loaded, load_suite(loaded.suite, tree))
    meta = WorkloadMeta(
        name=loaded.name, parameters={"seed": loaded.seed}, description=loaded.description,
        start=loaded.start, queries=queries.height,
        source=WorkloadSource(kind="generated", details={
            "spec": display_path(spec), "suite": loaded.suite, "seed": loaded.seed}),
        reference=loaded.runtimes.reference if loaded.runtimes else None)
    _write_workload(tree, queries, meta, "generated")


def _load(path: Path) -> object:
    from autoslo.workload import load_workload

    return load_workload(path)


def _parse_time(text: str, option: str) -> object:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AutosloError(f"{option} must be an ISO timestamp with a time zone "
                           f"(e.g. 2026-11-02T09:00:00Z), got {text!r}") from None


@workload_app.command("slice")
def workload_slice(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    from_: Annotated[str, typer.Option("--from", help="Start (ISO timestamp with zone).")],
    to: Annotated[str, typer.Option(help="End, exclusive (ISO timestamp with zone).")],
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Keep the queries arriving in a time window; the window's start becomes the start."""
    from autoslo.workload.ops import slice_window

    queries, meta = slice_window(_load(workload), _parse_time(from_, "--from"),  # type: ignore[arg-type]
                                 _parse_time(to, "--to"), name)  # type: ignore[arg-type]
    _write_workload(ctx.obj, queries, meta, "sliced")


@workload_app.command("rescale")
def workload_rescale(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    factor: Annotated[float, typer.Option(help="Multiply arrival offsets by this (0.125: a "
                                                 "day in three hours).")],
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Rescale time: arrival offsets times a factor (runtimes unchanged)."""
    from autoslo.workload.ops import rescale_time

    queries, meta = rescale_time(_load(workload), factor, name)  # type: ignore[arg-type]
    _write_workload(ctx.obj, queries, meta, "rescaled")


@workload_app.command("scale")
def workload_scale(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    factor: Annotated[float, typer.Option(help="Rate multiplier (1.3: 30 % more queries).")],
    seed: Annotated[int, typer.Option(help="Seed for which queries are added or dropped.")] = 0,
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Scale the arrival rate, keeping its shape over time."""
    from autoslo.workload.ops import scale_rate

    queries, meta = scale_rate(_load(workload), factor, seed, name)  # type: ignore[arg-type]
    _write_workload(ctx.obj, queries, meta, "scaled")


@workload_app.command("merge")
def workload_merge(
    ctx: typer.Context,
    workloads: Annotated[list[Path], typer.Argument(help="Two or more workload folders.")],
    name: Annotated[str, typer.Option(help="Name of the merged workload.")],
) -> None:
    """Merge workloads onto one clock (the earliest start)."""
    from autoslo.workload.ops import merge

    queries, meta = merge([_load(w) for w in workloads], name)  # type: ignore[misc]
    _write_workload(ctx.obj, queries, meta, "merged")


@workload_app.command("import", context_settings=_PASSTHROUGH)
def workload_import() -> None:
    """Import a Redset log or a SYS_QUERY_HISTORY export (not built yet)."""
    _not_built("workload import", "Redset and SYS_QUERY_HISTORY importers", 5)


@workload_app.command("forecast", context_settings=_PASSTHROUGH)
def workload_forecast() -> None:
    """Forecast a target day from history and sample scenarios (not built yet)."""
    _not_built("workload forecast", "forecasting and scenario sampling", 5)


@workload_app.command("backtest", context_settings=_PASSTHROUGH)
def workload_backtest() -> None:
    """Score forecasting methods on held-out days (not built yet)."""
    _not_built("workload backtest", "forecast backtesting", 5)


@app.command(context_settings=_PASSTHROUGH)
def model() -> None:
    """Pretrain, fine-tune and query runtime models (not built yet)."""
    _not_built("model", "the Bellamy-style runtime models", 4)


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and exit code 2."""
    try:
        result = app(standalone_mode=False)
    except AutosloError as exc:
        typer.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # usage errors of typer's bundled click: show the usage line and exit 2
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None),
                                                                 int):
            exc.show()
            sys.exit(2)
        raise
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
