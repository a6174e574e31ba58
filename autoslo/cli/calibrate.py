"""`autoslo calibrate`: measure each template alone per size on a live cluster, write a latency table.

(Formerly `autoslo execute --calibrate`, which still works and says so on stderr.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoslo.cli.app import app

if TYPE_CHECKING:
    from autoslo.datatree import DataTree


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
                         templates: str | None, scale_factor: float, out: str | None) -> None:
    """Run the calibration (`autoslo.live.calibrate.run_calibration`) and print where the table is."""
    from autoslo.config.manifests import LiveSettings
    from autoslo.datatree import display_path
    from autoslo.live.calibrate import run_calibration

    folder = run_calibration(
        config, suite, tree, sizes=int_list(sizes, "--sizes"), repeats=repeats,
        templates=templates.split(",") if templates else None,
        settings=LiveSettings(scale_factor=scale_factor), name=out or f"calibrated-{suite}",
        progress=typer.echo)
    typer.echo(f"latency table -> {display_path(folder)} (use it with "
               f"--set latency_model.model={tree.relative(folder)})")


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
    scale_factor: Annotated[float, typer.Option(
        help="TPC-H scale factor of the local PostgreSQL clusters.")] = 0.01,
    out: Annotated[str | None, typer.Option(
        help="Model name, written to data/models/<name> (default calibrated-<suite>).")] = None,
) -> None:
    """Measure each template alone per cluster size live and write a latency table model."""
    calibrate_and_report(ctx.obj, config, suite, sizes=sizes, repeats=repeats, templates=templates,
                         scale_factor=scale_factor, out=out)
