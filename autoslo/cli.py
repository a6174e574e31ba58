"""The `autoslo` command. Heavy libraries (torch, ray, prefect, polars) load only inside the
commands that need them, so ``autoslo --help`` answers at once.

User mistakes (`AutosloError`) print one line per problem on stderr and exit with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoslo.errors import AutosloError

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
        summary = run_tuning(inputs, tree, force=force,
                             progress=lambda line: typer.echo(line, err=True))
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
        "--calibrate", help="Measure each template alone per size on a live cluster and write a "
                            "latency table (needs --config and --suite, not --manifest).")] = False,
    config: Annotated[Path | None, typer.Option(
        help="--calibrate: execution config whose first cluster's shape is measured.")] = None,
    suite: Annotated[str | None, typer.Option(help="--calibrate: template suite to measure.")] = None,
    sizes: Annotated[str | None, typer.Option(
        help="--calibrate: comma-separated sizes (RPU or nodes); default the config's.")] = None,
    repeats: Annotated[int, typer.Option(help="--calibrate: measured runs per template.")] = 3,
    templates: Annotated[str | None, typer.Option(
        help="--calibrate: comma-separated subset of the suite's templates.")] = None,
    scale_factor: Annotated[float, typer.Option(
        help="--calibrate on postgres: TPC-H scale factor of the local clusters.")] = 0.01,
    out: Annotated[str | None, typer.Option(
        help="--calibrate: model name, written to data/models/<name> (default calibrated-<suite>).")
    ] = None,
) -> None:
    """Run every (workload, execution config) combination of a manifest on the simulator or live."""
    from autoslo.datatree import display_path

    tree: DataTree = ctx.obj
    if calibrate:
        if manifest is not None or config is None or suite is None:
            raise typer.BadParameter("--calibrate takes --config and --suite (and no --manifest)")
        from autoslo.config.manifests import LiveSettings
        from autoslo.live.calibrate import run_calibration

        folder = run_calibration(
            config, suite, tree, sizes=_int_list(sizes, "--sizes"), repeats=repeats,
            templates=templates.split(",") if templates else None,
            settings=LiveSettings(scale_factor=scale_factor), name=out or f"calibrated-{suite}",
            progress=typer.echo)
        typer.echo(f"latency table -> {display_path(folder)} (use it with "
                   f"--set latency_model.model={tree.relative(folder)})")
        return
    if manifest is None:
        raise typer.BadParameter("--manifest is required (or --calibrate with --config and --suite)")
    from autoslo.combinations import manifest_combinations
    from autoslo.config import ExecutionManifest, load_model
    from autoslo.execute import SimulatorOutcome, simulate_all

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

    simulate_all(combinations, tree, force=force, progress=report)


def _int_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{option} takes positive integers, got {text!r}")
    return values


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

    tree: DataTree = ctx.obj
    outcomes = plot_manifests(manifest, tree, live=live, png=png,
                              warn=lambda line: typer.echo(line, err=True))
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
    from autoslo.compare import compare_table, resolve_runs
    from autoslo.config import SloSpec, load_model

    tree: DataTree = ctx.obj
    if len(runs) < 1:
        raise AutosloError("give at least one run")
    spec = load_model(slo, SloSpec)
    sources = resolve_runs(runs, tree, model)
    compare_table(sources, spec, tree, slo, warn=lambda line: typer.echo(line, err=True))


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


def _execute_live(tree: DataTree, combinations: list, settings: object, *, yes: bool) -> None:
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
                       f"{settings.target} ...")  # type: ignore[attr-defined]
            outcome = execute_live(combination, settings, tree, stop=stop,  # type: ignore[arg-type]
                                   yes=yes, say=typer.echo)
            typer.echo(f"{combination.label}: {describe(outcome)}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        raise typer.Exit(130)


@app.command("export")
def export_config(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Execution config YAML (e.g. a tuned one).")],
    format_: Annotated[str, typer.Option(
        "--format", help="wlm-json (the parameter group's wlm_json_configuration) or aws-cli.")
    ] = "aws-cli",
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for ${NAME} placeholders.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Dotted override.")] = None,
) -> None:
    """Print what to apply to a real cluster or workgroup for an execution config."""
    import json

    from autoslo.config import parse_overrides, parse_params, resolve_execution_config
    from autoslo.config.execution import ProvisionedCluster
    from autoslo.errors import InputError
    from autoslo.live.redshift import aws_cli, wlm_json

    if format_ not in ("wlm-json", "aws-cli"):
        raise InputError(f"--format must be wlm-json or aws-cli, got {format_!r}")
    resolved = resolve_execution_config(config, params=parse_params(param or []),
                                        overrides=parse_overrides(set_ or []), tree=ctx.obj)
    if format_ == "aws-cli":
        typer.echo(aws_cli(resolved.config, resolved.name), nl=False)
        return
    documents = {f"c{i}": wlm_json(c) for i, c in enumerate(resolved.config.pool.clusters)
                 if isinstance(c, ProvisionedCluster)}
    if not documents:
        raise InputError("has no provisioned cluster, so no WLM JSON: use --format aws-cli",
                         source=str(config))
    distinct = {json.dumps(d, sort_keys=True) for d in documents.values()}
    typer.echo(json.dumps(next(iter(documents.values())) if len(distinct) == 1 else documents,
                          indent=2))


storage_app = typer.Typer(help="Mirror the data tree to and from S3 (a prefect-aws S3Bucket block).",
                          no_args_is_help=True, rich_markup_mode=None)
app.add_typer(storage_app, name="storage")


def _sync(ctx: typer.Context, direction: str, path: str | None, block: str | None,
          delete: bool) -> None:
    from autoslo.storage import load_bucket, pull, push

    tree: DataTree = ctx.obj
    if path is not None:
        tree.ref(path, field="PATH")  # data-relative and inside the tree
    bucket = load_bucket(block)
    action = push if direction == "push" else pull
    report = action(tree.root, bucket, path, delete=delete)
    typer.echo(report.line("uploaded" if direction == "push" else "downloaded"))


@storage_app.command("push")
def storage_push(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Data-relative folder or file (default: all).")
                    ] = None,
    block: Annotated[str | None, typer.Option(
        help="S3Bucket block name (default: $AUTOSLO_STORAGE=s3-bucket/<name>).")] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Also delete objects that no longer exist locally.")] = False,
) -> None:
    """Upload new and changed files of the data tree (checked by size and hash)."""
    _sync(ctx, "push", path, block, delete)


@storage_app.command("pull")
def storage_pull(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Data-relative folder or file (default: all).")
                    ] = None,
    block: Annotated[str | None, typer.Option(
        help="S3Bucket block name (default: $AUTOSLO_STORAGE=s3-bucket/<name>).")] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Also delete local files that no longer exist in the bucket.")] = False,
) -> None:
    """Download new and changed objects into the data tree (checked by size and hash)."""
    _sync(ctx, "pull", path, block, delete)


live_app = typer.Typer(help="Look after live clusters.", no_args_is_help=True,
                       rich_markup_mode=None)
app.add_typer(live_app, name="live")


@live_app.command("cleanup")
def live_cleanup(
    ctx: typer.Context,
    target: Annotated[str, typer.Option(help="postgres (local servers) or redshift.")] = "postgres",
    region: Annotated[str | None, typer.Option(help="redshift: AWS region.")] = None,
    everything: Annotated[bool, typer.Option(
        "--all", help="redshift: also remove tagged resources of runs not in this data tree.")
    ] = False,
) -> None:
    """Remove clusters left behind by live runs that died (found by their run tag)."""
    if target == "redshift":
        from autoslo.config.manifests import LiveSettings
        from autoslo.live.run import cleanup_redshift

        gone = cleanup_redshift(ctx.obj, LiveSettings(target="redshift", region=region),
                                everything=everything)
        typer.echo(f"removed {len(gone)} orphaned Redshift resource(s)"
                   + "".join(f"\n  {name}" for name in gone))
        return
    if target != "postgres":
        raise typer.BadParameter(f"--target must be postgres or redshift, got {target!r}")
    from autoslo.live.postgres import cleanup_orphans

    removed = cleanup_orphans()
    typer.echo(f"removed {len(removed)} orphaned local cluster(s)"
               + "".join(f"\n  {path}" for path in removed))


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


import_app = typer.Typer(help="Import real query logs as workloads.", no_args_is_help=True,
                         rich_markup_mode=None)
workload_app.add_typer(import_app, name="import")


def _import_into(tree: DataTree, name: str, run: object, details: dict[str, object]) -> None:
    """Stream an import into a new workload folder (atomically), then describe it."""
    from autoslo.atomic import replace_dir
    from autoslo.config import WorkloadMeta
    from autoslo.config.workload import WorkloadSource
    from autoslo.datatree import display_path
    from autoslo.ids import check_name
    from autoslo.workload import write_meta

    check_name(name, "--name")
    folder = tree.workload_dir(name)
    with replace_dir(folder) as tmp:
        rows, start = run(tmp / "queries.parquet")  # type: ignore[operator]
        meta = WorkloadMeta(name=name, start=start, queries=rows,
                            source=WorkloadSource(kind="imported", details=details))
        write_meta(tmp, meta)
    typer.echo(f"imported {rows} queries starting {start.isoformat()} -> {display_path(folder)}")


@import_app.command("redset")
def import_redset_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Redset parquet or CSV (one cluster or the fleet).")],
    instance: Annotated[int, typer.Option(help="The instance_id to import.")],
    name: Annotated[str, typer.Option(help="Name of the new workload.")],
) -> None:
    """Import one instance of a Redset log (provisioned or Serverless)."""
    from autoslo.datatree import display_path
    from autoslo.workload.importers import import_redset

    def run(out: Path) -> tuple[int, object]:
        rows, start, _ = import_redset(file, instance, out)
        return rows, start

    _import_into(ctx.obj, name, run, {"format": "redset", "file": display_path(file),
                                      "instance_id": instance})


@import_app.command("query-history")
def import_history_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="SYS_QUERY_HISTORY export (parquet or CSV).")],
    name: Annotated[str, typer.Option(help="Name of the new workload.")],
    size: Annotated[int | None, typer.Option(
        help="The cluster size (RPU or nodes) the queries ran at, if known.")] = None,
) -> None:
    """Import a Redshift SYS_QUERY_HISTORY export; templates by normalized query text."""
    from autoslo.datatree import display_path
    from autoslo.workload.importers import import_query_history

    _import_into(ctx.obj, name, lambda out: import_query_history(file, out, size),
                 {"format": "sys_query_history", "file": display_path(file)})


@workload_app.command("tpch-data")
def workload_tpch_data(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(help="TPC-H scale factor (0.01 is about 10 MB).")] = 0.01,
) -> None:
    """Generate TPC-H data (CSV) for the tpch suite with tpchgen-cli."""
    from autoslo.datatree import display_path
    from autoslo.workload.tpch import generate_data

    tree: DataTree = ctx.obj
    folder = generate_data(scale, tree.template_suite_dir("tpch") / "data" / f"sf={scale:g}")
    typer.echo(f"TPC-H scale factor {scale:g} -> {display_path(folder)}")


@workload_app.command("forecast")
def workload_forecast(
    ctx: typer.Context,
    history: Annotated[Path, typer.Option(help="History workload folder.")],
    date: Annotated[str, typer.Option(help="Target day, YYYY-MM-DD (in the history's zone).")],
    name: Annotated[str, typer.Option(help="Name of the forecast; scenarios are <name>-s<i>.")],
    scenarios: Annotated[int, typer.Option(help="How many scenario workloads to sample.")] = 10,
    method: Annotated[str, typer.Option(
        help="auto (backtest and pick), yesterday, same_weekday, ewma or seasonal.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the scenario sampling.")] = 0,
) -> None:
    """Forecast a target day's hourly counts per template and sample scenario workloads."""
    import datetime as dt

    import yaml

    from autoslo.atomic import replace_dir
    from autoslo.config import WorkloadMeta
    from autoslo.config.workload import WorkloadSource
    from autoslo.datatree import display_path
    from autoslo.ids import check_name
    from autoslo.workload import load_workload, save_workload
    from autoslo.workload.forecast import forecast, hourly_history, mean_mape, sample_scenario

    tree: DataTree = ctx.obj
    check_name(name, "--name")
    if not 1 <= scenarios <= 1000:
        raise AutosloError(f"--scenarios must be between 1 and 1000, got {scenarios}")
    try:
        target = dt.date.fromisoformat(date)
    except ValueError:
        raise AutosloError(f"--date must be YYYY-MM-DD, got {date!r}") from None
    source = load_workload(history)
    empty = hourly_history(source).empty_days()
    if empty:
        typer.echo("warning: the history has days without queries: "
                   + ", ".join(d.isoformat() for d in empty), err=True)
    fc = forecast(source, target, method)
    assert source.meta is not None
    start = dt.datetime.combine(target, dt.time(0), tzinfo=source.meta.start.tzinfo)
    names = [f"{name}-s{i}" for i in range(1, scenarios + 1)]
    tables = [sample_scenario(source, fc, seed, i) for i in range(1, scenarios + 1)]
    for scenario, queries in zip(names, tables, strict=True):
        save_workload(tree, queries, WorkloadMeta(
            name=scenario, description=f"forecast scenario for {target} from {source.id}",
            start=start, queries=queries.height, reference=source.meta.reference,
            source=WorkloadSource(kind="forecast", details={
                "history": source.id, "date": target, "method": fc.method, "seed": seed})))
    means = {} if fc.backtest is None else mean_mape(fc.backtest)
    with replace_dir(tree.workload_dir(name)) as tmp:
        fc.table().write_parquet(tmp / "forecast.parquet")
        meta = {"name": name, "history": source.id, "date": target, "method": fc.method,
                "seed": seed, "scenarios": names,
                "backtest_mape": {k: round(float(v), 6) for k, v in sorted(means.items())}}
        (tmp / "forecast.yml").write_text(yaml.safe_dump(meta, sort_keys=False),
                                          encoding="utf-8")
    chosen = f"{fc.method}" + (" (auto: lowest backtest MAPE; "
                               + ", ".join(f"{k} {v:.1%}" for k, v in sorted(means.items()))
                               + ")" if means else "")
    typer.echo(f"forecast {target} by {chosen}: {fc.counts.sum():.0f} queries expected "
               f"-> {display_path(tree.workload_dir(name))}")
    typer.echo(f"{scenarios} scenario(s): " + ", ".join(
        f"{n} ({t.height})" for n, t in zip(names, tables, strict=True)))


@workload_app.command("backtest")
def workload_backtest(
    history: Annotated[Path, typer.Option(help="History workload folder.")],
    days: Annotated[int, typer.Option(help="How many of the last complete days to forecast.")]
    = 7,
) -> None:
    """Score every forecasting method on the history's last days (hourly-count MAPE)."""

    from autoslo.workload import load_workload
    from autoslo.workload.forecast import (
        METHODS,
        backtest,
        best_method,
        hourly_history,
        mean_mape,
    )

    if days < 1:
        raise AutosloError(f"--days must be >= 1, got {days}")
    scores = backtest(hourly_history(load_workload(history)), days)
    table = scores.pivot(on="method", index=["date", "weekday"], values="mape")
    typer.echo(f"{'date':<12}{'weekday':<11}" + "".join(f"{m:>14}" for m in METHODS))
    for row in table.iter_rows(named=True):
        typer.echo(f"{row['date']!s:<12}{row['weekday']:<11}" + "".join(
            f"{row[m]:>14.1%}" if row[m] == row[m] else f"{'-':>14}" for m in METHODS))
    mean_of = mean_mape(scores)
    typer.echo(f"{'mean':<23}" + "".join(
        f"{mean_of[m]:>14.1%}" if m in mean_of else f"{'-':>14}" for m in METHODS))
    typer.echo(f"best: {best_method(scores)}")


model_app = typer.Typer(
    help="Pretrain, fine-tune, evaluate and query runtime models (Bellamy-style, Ernest).",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(model_app, name="model")


def _command_line() -> str:
    """The command as typed (for model.yml), with the program name shortened to autoslo."""
    import shlex

    return " ".join(["autoslo", *(shlex.quote(a) for a in sys.argv[1:])])


def _load_neural(folder: Path) -> object:
    from autoslo.datatree import display_path
    from autoslo.perf._loading import read_model_meta
    from autoslo.perf.bellamy import load_bellamy

    if not folder.is_dir():
        raise AutosloError(f"{display_path(folder)}: model folder does not exist")
    meta = read_model_meta(folder)
    if meta["kind"] != "bellamy":
        raise AutosloError(f"{display_path(folder / 'model.yml')}: kind: this command needs a "
                           f"bellamy model, got {meta['kind']!r}")
    return load_bellamy(folder, meta)


def _rows_of(tree: DataTree, files: list[Path], suite: str, *, need_runtime: bool) -> object:
    """Runtime rows from C3O TSV files/folders, or from one calibration table (CSV/parquet)."""
    from autoslo.datatree import display_path
    from autoslo.perf.c3o import load_c3o

    tables = [f for f in files if f.suffix in (".csv", ".parquet")]
    if not tables:
        return load_c3o(files, need_runtime=need_runtime)
    if len(files) != 1:
        raise AutosloError("give either C3O .tsv files/folders or one calibration table, not both")
    from autoslo.perf.calibration import read_calibration, template_rows
    from autoslo.workload.templates import load_suite

    table = read_calibration(files[0], need_runtime=need_runtime)
    return template_rows(table, load_suite(suite, tree).meta, display_path(files[0]),
                         need_runtime=need_runtime)


@model_app.command("pretrain")
def model_pretrain(
    ctx: typer.Context,
    data: Annotated[list[Path], typer.Option(
        help="C3O .tsv files or folders of them (repeat the option for several).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (data/models/<name>).")],
    trials: Annotated[int | None, typer.Option(help="Search trials (default: the search file's).")]
    = None,
    search: Annotated[Path | None, typer.Option(
        help="Search space YAML (default: data/model_searches/bellamy.yml).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the search file's).")] = None,
) -> None:
    """Pretrain the neural model on many contexts (Ray Tune + Optuna TPE + ASHA, 2 CPUs)."""
    from autoslo.datatree import display_path
    from autoslo.perf.bellamy import DEFAULT_SEARCH, pretrain_to_folder

    tree: DataTree = ctx.obj
    model = pretrain_to_folder(data, out, search or tree.ref(DEFAULT_SEARCH), trials=trials,
                               seed=seed, command=_command_line())
    scores = model.meta["scores"]["validation"]
    typer.echo(f"pretrained on {model.meta['data']['rows']} rows, "
               f"{model.meta['data']['contexts']} contexts: validation MAPE "
               f"{scores['mape']:.2%}, MAE {scores['mae_s']:.1f} s, best "
               f"{model.meta['search']['best']} -> {display_path(out)}")


@model_app.command("finetune")
def model_finetune(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Pretrained model folder.")],
    data: Annotated[list[Path], typer.Option(
        help="C3O .tsv rows of the target context, or one calibration table (.csv/.parquet: "
             "template_id, shape, size, runtime_s).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (data/models/<name>).")],
    suite: Annotated[str, typer.Option(help="Template suite of a calibration table.")] = "tpch",
    seed: Annotated[int, typer.Option(help="Seed of the fine-tuning.")] = 0,
) -> None:
    """Fine-tune on a few runs of a target context (encoder frozen, head retrained)."""
    import polars as pl

    from autoslo.datatree import display_path
    from autoslo.perf.bellamy import finetune_model

    tree: DataTree = ctx.obj
    pretrained = _load_neural(model)
    rows = _rows_of(tree, data, suite, need_runtime=True)
    templates = None
    if data[0].suffix in (".csv", ".parquet"):
        from autoslo.perf.calibration import read_calibration, template_features
        from autoslo.workload.templates import load_suite

        used = set(read_calibration(data[0])["template_id"].to_list())
        templates = template_features(load_suite(suite, tree).meta).filter(
            pl.col("template_id").is_in(sorted(used)))
    tuned = finetune_model(pretrained, rows, seed, templates=templates,  # type: ignore[arg-type]
                           sources=[display_path(d) for d in data], command=_command_line())
    tuned.save(out)
    info = tuned.meta["fine_tune"]
    typer.echo(f"fine-tuned on {info['rows']} rows ({info['configurations']} configurations; "
               f"retrained {', '.join(info['retrained'])}, head pull {info['head_pull']:g}; fit MAPE "
               f"{info['scores']['fine_tune_rows']['mape']:.2%}) -> {display_path(out)}")


@model_app.command("predict")
def model_predict(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model folder.")],
    data: Annotated[Path, typer.Option(
        help="Rows to predict: C3O .tsv (gross_runtime optional) or a calibration-format table "
             "(template_id, shape, size).")],
    out: Annotated[Path, typer.Option(help="CSV to write: the input rows plus predicted_runtime, "
                                           "lower, upper and extrapolated.")],
    suite: Annotated[str, typer.Option(help="Template suite of a calibration table.")] = "tpch",
) -> None:
    """Predict runtimes with an uncertainty band; sizes outside the training range are flagged."""
    from autoslo.atomic import write_text
    from autoslo.datatree import display_path
    from autoslo.perf.c3o import read_c3o

    tree: DataTree = ctx.obj
    loaded = _load_neural(model)
    rows = _rows_of(tree, [data], suite, need_runtime=False)
    if data.suffix == ".tsv":
        original = read_c3o(data, need_runtime=False).drop("job")
    else:
        from autoslo.perf.calibration import read_calibration

        original = read_calibration(data, need_runtime=False)
    result = original.hstack(loaded.predict(rows))  # type: ignore[attr-defined]
    write_text(out, result.write_csv())
    outside = int(result["extrapolated"].sum())
    typer.echo(f"predicted {result.height} rows ({outside} outside the trained scale-out range) "
               f"-> {display_path(out)}")


@model_app.command("evaluate")
def model_evaluate(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Pretrained model folder (its hyperparameters are "
                                             "retrained on the split's training rows).")],
    data: Annotated[list[Path], typer.Option(help="C3O .tsv files or folders.")],
    split: Annotated[str, typer.Option(help="random, context or few-shot.")] = "random",
    shots: Annotated[int, typer.Option(help="Configurations of each held-out context to "
                                            "fine-tune on (few-shot).")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the split and the training.")] = 0,
) -> None:
    """Print MAPE and MAE of the model, Ernest and gradient boosting on one split."""
    from autoslo.perf.bellamy import TrainConfig
    from autoslo.perf.c3o import load_c3o
    from autoslo.perf.evaluation import SPLITS, evaluate, format_scores

    if split not in SPLITS:
        raise AutosloError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    loaded = _load_neural(model)
    best = loaded.meta.get("search", {}).get("best")  # type: ignore[attr-defined]
    if not best:
        raise AutosloError(f"{model}/model.yml: search.best: is required (a pretrained model)")
    config = TrainConfig.from_best(best)
    rows = load_c3o(data)
    typer.echo(f"split {split}" + (f", K = {shots}" if split == "few-shot" else "")
               + f", seed {seed}")
    typer.echo(format_scores(evaluate(rows, split, config=config,  # type: ignore[arg-type]
                                      seed=seed, shots=shots)))


@model_app.command("recommend")
def model_recommend(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model folder (fine-tuned for the context).")],
    data: Annotated[Path, typer.Option(help="C3O .tsv naming the context (one or more rows).")],
    sizes: Annotated[str, typer.Option(help="MIN..MAX or a list, e.g. 2..12 or 2,4,8.")],
    price: Annotated[float, typer.Option(help="Price per size unit and hour (e.g. USD per "
                                              "instance-hour).")],
    deadline: Annotated[float, typer.Option(help="Deadline in seconds.")],
    suite: Annotated[str, typer.Option(help="Template suite of a calibration table.")] = "tpch",
) -> None:
    """Cheapest size whose upper runtime bound meets the deadline (else the fastest)."""
    from autoslo.perf.recommend import parse_sizes, recommend

    tree: DataTree = ctx.obj
    candidates = parse_sizes(sizes)
    loaded = _load_neural(model)
    rows = _rows_of(tree, [data], suite, need_runtime=False)
    choice = recommend(loaded, rows, candidates, price, deadline)  # type: ignore[arg-type]
    typer.echo(f"{'size':>6}{'predicted_s':>13}{'upper_s':>10}{'cost':>10}  meets")
    for row in choice.candidates.iter_rows(named=True):
        typer.echo(f"{row['size']:>6g}{row['predicted_runtime']:>13.1f}{row['upper']:>10.1f}"
                   f"{row['cost']:>10.4f}  {'yes' if row['meets_deadline'] else 'no'}"
                   + ("  (outside trained range)" if row["extrapolated"] else ""))
    verdict = ("cheapest meeting the deadline" if choice.meets_deadline
               else "no size meets the deadline: the fastest")
    typer.echo(f"recommended size {choice.size:g} ({verdict})")


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
