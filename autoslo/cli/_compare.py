"""`autoslo compare`: the per-run metrics of `results.per_run` as a terminal table, for reading.

Runs are named by folder (simulator or live) or by live run timestamp; each is scored against
one SLO spec, exactly as the plots score them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from autoslo.config import SloSpec
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.ids import parse_run_timestamp
from autoslo.live.records import RUN_RECORD, read_run_record
from autoslo.results import References, RunSource, per_run, target_coverage


def _is_timestamp(text: str) -> bool:
    """Whether `text` is a live run timestamp (e.g. 20261122T101112345Z); one of that shape whose
    date or time does not exist is an InputError saying so."""
    if not re.fullmatch(r"\d{8}T\d{9}Z", text):
        return False
    parse_run_timestamp(text)
    return True


def resolve_runs(names: Sequence[str], tree: DataTree, model_ref: str | None) -> list[RunSource]:
    """Run folders or live run timestamps to RunSources (workload found from the run's records)."""
    sources = []
    for name in names:
        folder = Path(name) if Path(name).exists() or not _is_timestamp(name) else tree.run_dir(name)
        if not (folder / "queries.parquet").is_file():
            raise InputError(f"run {name!r}: {display_path(folder)} is not a run folder (it has no "
                             "queries.parquet); give a folder under data/simulator_runs or data/runs, "
                             "or a live run timestamp")
        live = (folder / RUN_RECORD).is_file()
        summary = _summary(folder)
        workload_id = (read_run_record(folder / RUN_RECORD).workload_id if live
                       else summary.get("workload_id"))
        # kappa targets: --model, else the latency model the run's config named
        run_model = model_ref or summary.get("latency_model")
        try:
            workload = tree.workload_dir(workload_id) if workload_id else None
        except InputError as exc:  # summary.yml / run.yml names an unsafe workload id
            record = folder / (RUN_RECORD if live else "summary.yml")
            raise InputError(exc.rule, source=display_path(record), field="workload_id") from None
        label = folder.name if live else f"{folder.parent.name}/{folder.name}"
        sources.append(RunSource(label, folder, "live" if live else "simulator",
                                 workload if workload is not None and workload.is_dir() else None,
                                 run_model if isinstance(run_model, str) else None,
                                 ref=tree.relative(folder) if tree.contains(folder) else None))
    return sources


def _summary(folder: Path) -> dict[str, Any]:
    """The run's summary.yml as a mapping (empty when absent); a broken one names its file."""
    path = folder / "summary.yml"
    if not path.is_file():
        return {}
    try:
        summary = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"is not valid YAML ({str(exc).splitlines()[0]})",
                         source=display_path(path)) from None
    if not isinstance(summary, dict):
        raise InputError("must hold a YAML mapping of keys to values", source=display_path(path))
    return summary


def compare_rows(table: pl.DataFrame) -> list[list[str]]:
    """The per-run table as formatted text cells, one list per run."""
    rows = []
    for row in table.iter_rows(named=True):
        rows.append([
            row["label"], row["kind"], f"{row['queries']}", f"{row['cost_usd']:.4f}",
            f"{100 * row['violation_rate']:.2f} %", "yes" if row["within_tau"] else "NO",
            *(f"{row[f'p{p}_s']:.2f}" for p in (50, 95, 99)),
            f"{100 * row['queue_share']:.1f} %", f"{row['clusters_used']}"])
    return rows


HEADERS = ("run", "kind", "queries", "cost (USD)", "violation rate", "within tau", "p50 (s)",
           "p95 (s)", "p99 (s)", "queue share", "clusters used")


def compare_table(sources: Sequence[RunSource], spec: SloSpec, tree: DataTree, spec_path: Path,
                  warn: Callable[[str], None]) -> pl.DataFrame:
    """Score the runs, print the table (rich), and return the numbers behind it."""
    from rich.console import Console
    from rich.table import Table

    for line in target_coverage(sources, spec):
        warn(f"warning: {display_path(spec_path)}: {line}")
    table = per_run(sources, spec, References(tree))
    view = Table()
    for index, header in enumerate(HEADERS):
        view.add_column(header, justify="left" if index < 2 else "right", no_wrap=True)
    for cells in compare_rows(table):
        view.add_row(*cells, style=None if cells[5] == "yes" else "red")
    console = Console(width=None if Console().is_terminal else 200, highlight=False)
    console.print(f"SLO {display_path(spec_path)}: tau {100 * spec.tau:g} % of queries may miss "
                  "their target")
    console.print(view)
    return table
