"""`autoslo workload ...`: generate, derive (slice, rescale, scale, merge), import, forecast and
backtest workloads, and make the TPC-H data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoslo.cli.app import app, sub_app, warn
from autoslo.errors import AutosloError

if TYPE_CHECKING:
    from autoslo.datatree import DataTree
    from autoslo.workload import Workload

workload_app = sub_app("Generate, import, forecast and transform workloads.")
app.add_typer(workload_app, name="workload")
import_app = sub_app("Import real query logs as workloads.")
workload_app.add_typer(import_app, name="import")


def _load(path: Path) -> Workload:
    from autoslo.workload import load_workload

    return load_workload(path)


def _parse_time(text: str, option: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AutosloError(f"{option} must be an ISO timestamp with a time zone "
                           f"(e.g. 2026-11-02T09:00:00Z), got {text!r}") from None


@workload_app.command("generate")
def workload_generate(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Generator spec YAML (data/generators/<name>.yml).")],
    seed: Annotated[int | None, typer.Option(min=0, help="Override the spec's seed.")] = None,
) -> None:
    """Generate a synthetic workload from a spec (Poisson arrivals with a rate profile)."""
    from autoslo.workload.outputs import generate_workload

    typer.echo(generate_workload(spec, ctx.obj, seed).line("generated"))


@workload_app.command("slice")
def workload_slice(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    from_: Annotated[str, typer.Option("--from", help="Start (ISO timestamp with zone).")],
    to: Annotated[str, typer.Option(help="End, exclusive (ISO timestamp with zone).")],
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Keep the queries arriving in a time window; the window's start becomes the start."""
    from autoslo.workload.operations import slice_window
    from autoslo.workload.outputs import write_workload

    queries, meta = slice_window(_load(workload), _parse_time(from_, "--from"),
                                 _parse_time(to, "--to"), name)
    typer.echo(write_workload(ctx.obj, queries, meta).line("sliced"))


@workload_app.command("rescale")
def workload_rescale(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    factor: Annotated[float, typer.Option(help="Multiply arrival offsets by this (0.125: a "
                                                 "day in three hours).")],
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Rescale time: arrival offsets times a factor (runtimes unchanged)."""
    from autoslo.workload.operations import rescale_time
    from autoslo.workload.outputs import write_workload

    queries, meta = rescale_time(_load(workload), factor, name)
    typer.echo(write_workload(ctx.obj, queries, meta).line("rescaled"))


@workload_app.command("scale")
def workload_scale(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Argument(help="Workload folder.")],
    factor: Annotated[float, typer.Option(help="Rate multiplier (1.3: 30 % more queries).")],
    seed: Annotated[int, typer.Option(min=0, help="Seed for which queries are added or dropped.")] = 0,
    name: Annotated[str | None, typer.Option(help="Name of the new workload.")] = None,
) -> None:
    """Scale the arrival rate, keeping its shape over time."""
    from autoslo.workload.operations import scale_rate
    from autoslo.workload.outputs import write_workload

    queries, meta = scale_rate(_load(workload), factor, seed, name)
    typer.echo(write_workload(ctx.obj, queries, meta).line("scaled"))


@workload_app.command("merge")
def workload_merge(
    ctx: typer.Context,
    workloads: Annotated[list[Path], typer.Argument(help="Two or more workload folders.")],
    name: Annotated[str, typer.Option(help="Name of the merged workload.")],
) -> None:
    """Merge workloads onto one clock (the earliest start)."""
    from autoslo.workload.operations import merge
    from autoslo.workload.outputs import write_workload

    queries, meta = merge([_load(w) for w in workloads], name)
    typer.echo(write_workload(ctx.obj, queries, meta).line("merged"))


@import_app.command("redset")
def import_redset_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Redset parquet or CSV (one cluster or the fleet).")],
    instance: Annotated[int, typer.Option(help="The instance_id to import.")],
    name: Annotated[str, typer.Option(help="Name of the new workload.")],
) -> None:
    """Import one instance of a Redset log (provisioned or Serverless)."""
    from autoslo.workload.outputs import import_redset_workload

    typer.echo(import_redset_workload(ctx.obj, file, instance, name).line("imported"))


@import_app.command("query-history")
def import_history_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="SYS_QUERY_HISTORY export (parquet or CSV).")],
    name: Annotated[str, typer.Option(help="Name of the new workload.")],
    size: Annotated[int | None, typer.Option(
        min=1,
        help="The cluster size (RPU or nodes) the queries ran at, if known.")] = None,
) -> None:
    """Import a Redshift SYS_QUERY_HISTORY export; templates by normalized query text."""
    from autoslo.workload.outputs import import_history_workload

    typer.echo(import_history_workload(ctx.obj, file, name, size).line("imported"))


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
    seed: Annotated[int, typer.Option(min=0, help="Seed of the scenario sampling.")] = 0,
) -> None:
    """Forecast a target day's hourly counts per template and sample scenario workloads."""
    from autoslo.datatree import display_path
    from autoslo.workload.scenarios import forecast_scenarios

    try:
        target = dt.date.fromisoformat(date)
    except ValueError:
        raise AutosloError(f"--date must be YYYY-MM-DD, got {date!r}") from None
    outcome = forecast_scenarios(ctx.obj, history, target, name, scenarios=scenarios,
                                 method=method, seed=seed, warn=warn)
    means = outcome.backtest_mape
    chosen = outcome.method + (" (auto: lowest backtest MAPE; "
                               + ", ".join(f"{k} {v:.1%}" for k, v in means.items())
                               + ")" if means else "")
    typer.echo(f"forecast {target} by {chosen}: {outcome.expected_queries:.0f} queries expected "
               f"-> {display_path(outcome.folder)}")
    typer.echo(f"{len(outcome.scenarios)} scenario(s): "
               + ", ".join(f"{n} ({count})" for n, count in outcome.scenarios))


@workload_app.command("backtest")
def workload_backtest(
    history: Annotated[Path, typer.Option(help="History workload folder.")],
    days: Annotated[int, typer.Option(help="How many of the last complete days to forecast.")]
    = 7,
) -> None:
    """Score every forecasting method on the history's last days (hourly-count MAPE)."""
    from autoslo.workload.forecast import METHODS, backtest, best_method, hourly_history, mean_mape

    if days < 1:
        raise AutosloError(f"--days must be >= 1, got {days}")
    scores = backtest(hourly_history(_load(history)), days)
    table = scores.pivot(on="method", index=["date", "weekday"], values="mape")
    typer.echo(f"{'date':<12}{'weekday':<11}" + "".join(f"{m:>14}" for m in METHODS))
    for row in table.iter_rows(named=True):
        typer.echo(f"{row['date']!s:<12}{row['weekday']:<11}" + "".join(
            f"{row[m]:>14.1%}" if row[m] == row[m] else f"{'-':>14}" for m in METHODS))
    mean_of = mean_mape(scores)
    typer.echo(f"{'mean':<23}" + "".join(
        f"{mean_of[m]:>14.1%}" if m in mean_of else f"{'-':>14}" for m in METHODS))
    typer.echo(f"best: {best_method(scores)}")
