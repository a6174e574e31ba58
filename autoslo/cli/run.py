"""The run commands: validate inputs, simulate one combination, execute a manifest, tune, plot,
compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from autoslo.cli.app import app, resume_hint, warn
from autoslo.errors import AutosloError

if TYPE_CHECKING:
    from autoslo.combinations import Combination
    from autoslo.config import FileKind
    from autoslo.config.manifests import LiveSettings
    from autoslo.datatree import DataTree


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
    from autoslo.cli._reports import expand, print_reports
    from autoslo.config import FILE_KINDS, discover_inputs, inspect_file, parse_overrides, parse_params
    from autoslo.datatree import display_path

    tree: DataTree = ctx.obj
    if kind is not None and kind not in FILE_KINDS:
        raise AutosloError(f"--kind must be one of {', '.join(FILE_KINDS)}, got {kind!r}")
    params = parse_params(param or [])
    overrides = parse_overrides(set_ or [])
    targets = (discover_inputs(tree) if not paths
               else expand(paths, cast("FileKind | None", kind)))
    if not targets:
        where = display_path(paths[0]) if paths else display_path(tree.root)
        raise AutosloError(f"{where}: no input files found to validate")
    reports = [inspect_file(path, file_kind, tree, params=params, overrides=overrides,
                            resolve=bool(params)) for path, file_kind in targets]
    print_reports(reports)
    if any(r.status == "error" for r in reports):
        raise typer.Exit(2)
    if params:
        used = set().union(*(r.used_params for r in reports))
        unused = sorted(set(params) - used)
        if unused:
            raise AutosloError(f"--param {unused[0]} is not used by any file given "
                               f"(placeholders used: {', '.join(sorted(used)) or 'none'})")


@app.command()
def tune(
    ctx: typer.Context,
    execution_config: Annotated[Path | None, typer.Option(
        help="Initial execution config YAML.")] = None,
    tuner_config: Annotated[Path | None, typer.Option(help="Tuner config YAML.")] = None,
    manifest: Annotated[Path | None, typer.Option(
        help="A tuning manifest with several named runs (instead of the two configs).")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for ${NAME} placeholders in either config.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Dotted override of the execution config.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print TUNER_RUN_NAME and the resolved inputs; run nothing.")] = False,
    force: Annotated[bool, typer.Option(help="Run again even if this run has finished.")] = False,
) -> None:
    """Search for the cheapest execution config that meets the SLOs (on the simulator)."""
    from autoslo.config import parse_overrides, parse_params
    from autoslo.tune import resolve_runs, run_tuning

    tree: DataTree = ctx.obj
    runs = resolve_runs(tree, manifest=manifest, execution_config=execution_config,
                        tuner_config=tuner_config, params=parse_params(param or []) or None,
                        overrides=parse_overrides(set_ or []) or None)
    if dry_run:
        for inputs in runs:
            typer.echo(inputs.name)
            typer.echo(inputs.describe(), nl=False)
        return
    from autoslo.datatree import display_path

    for inputs in runs:
        resume_hint(f"run the same command again (without --force) to resume tuner run "
                    f"{inputs.name} where it stopped")
        summary = run_tuning(inputs, tree, force=force, progress=warn)
        val, init = summary.validation, summary.initial_validation
        typer.echo(f"{inputs.name}: cost {val.cost_usd:.4f} USD, violation "
                   f"{val.violation:.2%} (initial {init.cost_usd:.4f} USD, "
                   f"{init.violation:.2%}; saving {summary.saving_vs_initial:.1%}) -> "
                   f"{display_path(tree.root / summary.tuned_config)}")


@app.command()
def execute(
    ctx: typer.Context,
    manifest: Annotated[Path | None, typer.Option(
        help="Execution manifest (data/manifests/execution/<name>.yml).")] = None,
    live: Annotated[bool, typer.Option(
        "--live", help="Run on live clusters instead of the simulator.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Simulate again even when a complete result folder exists.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Live on Redshift: agree to create the resources and pay for them.")] = False,
    calibrate: Annotated[bool, typer.Option(
        "--calibrate", help="Now `autoslo calibrate` (same options); still accepted here.")] = False,
    config: Annotated[Path | None, typer.Option(hidden=True)] = None,
    suite: Annotated[str | None, typer.Option(hidden=True)] = None,
    sizes: Annotated[str | None, typer.Option(hidden=True)] = None,
    repeats: Annotated[int, typer.Option(hidden=True)] = 3,
    templates: Annotated[str | None, typer.Option(hidden=True)] = None,
    scale_factor: Annotated[float, typer.Option(hidden=True)] = 0.01,
    out: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run every (workload, execution config) combination of a manifest on the simulator or live."""
    from autoslo.datatree import display_path

    tree: DataTree = ctx.obj
    if calibrate:
        from autoslo.cli.calibrate import calibrate_and_report

        if manifest is not None or config is None or suite is None:
            raise typer.BadParameter("--calibrate takes --config and --suite (and no --manifest); "
                                     "it is now `autoslo calibrate`")
        warn("note: `autoslo execute --calibrate` is now `autoslo calibrate` (same options)")
        calibrate_and_report(tree, config, suite, sizes=sizes, repeats=repeats, templates=templates,
                             scale_factor=scale_factor, out=out)
        return
    if manifest is None:
        raise typer.BadParameter("--manifest is required (or `autoslo calibrate` to calibrate)")
    from autoslo.combinations import manifest_combinations
    from autoslo.config import ExecutionManifest, load_model
    from autoslo.sim.folders import SimulatorOutcome, simulate_all

    parsed = load_model(manifest, ExecutionManifest)
    combinations = manifest_combinations(parsed, tree, source=display_path(manifest))
    if live:
        _execute_live(tree, combinations, parsed.live, yes=yes)
        return

    def report(outcome: SimulatorOutcome) -> None:
        s = outcome.summary
        how = "reused" if outcome.reused else f"simulated in {s['simulation_s']:.2f} s"
        typer.echo(f"{outcome.combination.label}: {s['queries']} queries, cost {s['cost_usd']:.4f} "
                   f"USD, p95 {s['latency_s']['p95']:.2f} s ({how}) -> {display_path(outcome.folder)}")

    resume_hint("run the same command again (without --force) to go on: finished combinations "
                "are reused")
    simulate_all(combinations, tree, force=force, progress=report)


def _execute_live(tree: DataTree, combinations: list[Combination], settings: LiveSettings, *,
                  yes: bool) -> None:
    """Run each combination live, one after another; SIGINT/SIGTERM stop the current run cleanly."""
    import signal
    import threading

    from autoslo.live.run import describe, execute_live

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for combination in combinations:
            if stop.is_set():
                break
            typer.echo(f"{combination.label}: replaying {combination.workload_id} live on "
                       f"{settings.target} ...")
            outcome = execute_live(combination, settings, tree, stop=stop, yes=yes, say=typer.echo)
            typer.echo(f"{combination.label}: {describe(outcome)}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        raise typer.Exit(130)


@app.command()
def plot(
    ctx: typer.Context,
    manifest: Annotated[list[Path], typer.Option(
        help="Plotting manifest (data/manifests/plotting/<plot_name>.yml); repeat for several "
             "(one browser renders them all).")],
    live: Annotated[bool, typer.Option(
        "--live", help="Plot live runs (the newest complete run of each combination in "
                       "data/runs/map.yml, or the point's run_timestamp) instead of the simulator.")
    ] = False,
    png: Annotated[bool, typer.Option(
        "--png/--no-png", help="Write the PNG (needs Chromium; --no-png removes an older one); "
                               "the HTML and CSVs always.")] = True,
) -> None:
    """Draw the SLO performance of execution outputs: data/plots/<plot_name>.png, .html and CSVs."""
    from autoslo.datatree import display_path
    from autoslo.plots import plot_manifests

    outcomes = plot_manifests(manifest, ctx.obj, live=live, png=png, warn=warn)
    for outcome in outcomes:
        written = [p for p in (outcome.png, outcome.html) if p is not None]
        typer.echo(f"{outcome.name}: {', '.join(display_path(p) for p in written)} "
                   f"(+ {len(outcome.tables)} CSV table(s) beside them)")


@app.command()
def compare(
    ctx: typer.Context,
    runs: Annotated[list[str], typer.Argument(
        help="Run folders (data/simulator_runs/<workload_id>/<config_id>, data/runs/<stamp>) or "
             "live run timestamps.")],
    slo: Annotated[Path, typer.Option(help="Score every run against this SLO spec.")],
    model: Annotated[str | None, typer.Option(
        help="Latency model (data-relative, e.g. models/x) for kappa targets; default: the "
             "workload's runtime_s as measured.")] = None,
) -> None:
    """Print a table of per-run metrics (cost, violation rate, latency percentiles) to compare runs."""
    from autoslo.cli._compare import compare_table, resolve_runs
    from autoslo.config import SloSpec, load_model

    tree: DataTree = ctx.obj
    if len(runs) < 1:
        raise AutosloError("give at least one run")
    spec = load_model(slo, SloSpec)
    compare_table(resolve_runs(runs, tree, model), spec, tree, slo, warn=warn)


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
    if out is not None:
        from autoslo.cli._outputs import check_out_folder

        check_out_folder(out, "summary.yml", "simulator result")
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
    if slo is not None and spec is not None:
        from autoslo.slo import reference_latencies, score

        reference = reference_latencies(loaded, spec, model) if spec.reference else None
        scored = score(result.queries, spec, reference)
        bounds = "".join(f"; p{p.percentile:g} {p.observed_s:.2f} s (target {p.target_s:g} s)"
                         for p in scored.percentiles)
        typer.echo(f"SLO {display_path(slo)}: violation rate {scored.violation_rate:.2%} "
                   f"(tau {scored.tau:.0%}){bounds}: {'met' if scored.met else 'NOT met'}")

