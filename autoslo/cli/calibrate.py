"""`autoslo calibrate`: measure each template alone per size on a live cluster (a latency table),
replay them together at high load and fit the contention model (a second model folder).

(Formerly `autoslo execute --calibrate`, which still works and says so on stderr.)
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoslo.cli.app import app

if TYPE_CHECKING:
    from autoslo.datatree import DataTree


class LocalTarget(StrEnum):
    """The live targets calibration runs on (local clusters, no cost)."""

    postgres = "postgres"
    duckdb = "duckdb"


def int_list(text: str | None, option: str) -> list[int] | None:
    """Comma-separated positive integers (`--sizes 8,16`), or None when the option is not given."""
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{option} takes positive integers, got {text!r}")
    return values


def calibrate_and_report(tree: DataTree, config: Path, suite: str, *, sizes: str | None, repeats: int,
                         templates: str | None, scale_factor: float, out: str | None,
                         target: str = "postgres", timeout_s: float = 120.0,
                         replay_queries: int = 200, load: float = 0.9, trials: int = 300,
                         bootstrap: int = 20, seed: int = 0) -> None:
    """Run the calibration (`autoslo.live.calibrate`) and print what it found and how to use it."""
    from autoslo.config.manifests import LiveSettings
    from autoslo.datatree import display_path
    from autoslo.live.calibrate import calibrate_to_folders
    from autoslo.sim.fit import law_summary

    outcome = calibrate_to_folders(
        config, suite, tree, sizes=int_list(sizes, "--sizes"), repeats=repeats,
        templates=templates.split(",") if templates else None,
        settings=LiveSettings(target=target, scale_factor=scale_factor),  # type: ignore[arg-type]
        name=out or f"calibrated-{suite}", progress=typer.echo, timeout_s=timeout_s,
        replay_queries=replay_queries, load=load, trials=trials, bootstrap=bootstrap, seed=seed)
    failed = outcome.calibration.failures
    if failed:
        typer.echo("left out: " + "; ".join(f"{t} ({why})" for t, why in failed.items()))
    typer.echo(f"latency table -> {display_path(outcome.table)} (use it with "
               f"--set latency_model.model={tree.relative(outcome.table)})")
    if outcome.model is None or outcome.contention is None:
        return
    fit = outcome.model.fit
    spread = fit.get("parameter_spread", {})
    typer.echo(f"contention: {law_summary(outcome.model.law)}; median |log error| "
               f"{fit['fitted']['median_abs_log_error']:.3f} (processor sharing at its best "
               f"capacity {fit['processor_sharing']['capacity']:.3g}: "
               f"{fit['processor_sharing_best']['median_abs_log_error']:.3f}; capacity bound "
               f"{fit['max_capacity']:g})")
    searched = {name: v for name, v in spread.items()
                if outcome.model.law.memory_budget is not None or not name.startswith("memory")}
    if searched:
        typer.echo(f"bootstrap spread over {len(outcome.model.samples)} refits (p5..p95): " + ", ".join(
            f"{name} {v['p5']:.3g}..{v['p95']:.3g}" for name, v in searched.items()))
    path = tree.relative(outcome.contention)
    typer.echo(f"contention model -> {display_path(outcome.contention)} (use it with "
               f"--set 'contention={{model: fitted, path: {path}}}', or in the config: "
               f"`contention: {{model: fitted, path: {path}}}`)")


@app.command()
def calibrate(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option(
        help="Execution config whose first cluster's shape is measured.")],
    suite: Annotated[str, typer.Option(help="Template suite to measure (e.g. tpch).")],
    sizes: Annotated[str | None, typer.Option(
        help="Comma-separated sizes (RPU or nodes); default the config's.")] = None,
    repeats: Annotated[int, typer.Option(help="Measured runs per template and size.")] = 3,
    templates: Annotated[str | None, typer.Option(
        help="Comma-separated subset of the suite's templates.")] = None,
    target: Annotated[LocalTarget, typer.Option(
        help="Local live target the clusters run on.")] = LocalTarget.postgres,
    scale_factor: Annotated[float, typer.Option(
        help="TPC-H scale factor of the local clusters.")] = 0.01,
    timeout_s: Annotated[float, typer.Option(
        help="Statement timeout: a template not done alone within it is left out.")] = 120.0,
    replay_queries: Annotated[int, typer.Option(
        help="Queries of the concurrent replay the contention model is fitted on.")] = 200,
    load: Annotated[float, typer.Option(
        help="The replay's offered load as a share of the capacity guess.")] = 0.9,
    trials: Annotated[int, typer.Option(min=1, help="Search trials of the contention fit.")] = 300,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap refits for the parameters' spread.")] = 20,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the replay's workload and of the fit.")] = 0,
    out: Annotated[str | None, typer.Option(
        help="Model name: data/models/<name> and <name>-contention (default calibrated-<suite>).")]
    = None,
) -> None:
    """Measure each template alone per size live, replay them together, fit the contention model."""
    calibrate_and_report(ctx.obj, config, suite, sizes=sizes, repeats=repeats, templates=templates,
                         scale_factor=scale_factor, out=out, target=target.value, timeout_s=timeout_s,
                         replay_queries=replay_queries, load=load, trials=trials,
                         bootstrap=bootstrap, seed=seed)
