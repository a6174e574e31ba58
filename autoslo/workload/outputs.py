"""New workload folders made by the workload commands: generated, derived, imported.

Each function writes one folder under data/workloads/ atomically and returns a `SavedWorkload`
that says where it went and what it holds, for the command's one-line report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoslo.datatree import display_path
from autoslo.errors import InputError

if TYPE_CHECKING:
    import polars as pl

    from autoslo.config import WorkloadMeta
    from autoslo.datatree import DataTree

MAX_SEED = 2**32 - 1  # as the generator spec's seed (numpy takes any non-negative integer)
# streams an import into the given queries.parquet; returns (rows, start)
ImportRun = Callable[[Path], tuple[int, dt.datetime]]


@dataclass(frozen=True)
class SavedWorkload:
    """A workload folder just written: where, how many queries, from when, over how long."""

    folder: Path
    queries: int
    start: dt.datetime
    duration_h: float | None = None

    def line(self, what: str) -> str:
        """One line for the terminal, e.g. ``sliced: 120 queries over 1.00 h -> data/...``."""
        if self.duration_h is None:
            return (f"{what} {self.queries} queries starting {self.start.isoformat()} "
                    f"-> {display_path(self.folder)}")
        return f"{what}: {self.queries} queries over {self.duration_h:.2f} h -> {display_path(self.folder)}"


def write_workload(tree: DataTree, queries: pl.DataFrame, meta: WorkloadMeta) -> SavedWorkload:
    """Save a generated or derived workload (queries + workload.yml) and describe it."""
    from autoslo.workload import save_workload

    folder = save_workload(tree, queries, meta)
    duration_h = float(queries["arrival_s"].max() or 0) / 3600
    return SavedWorkload(folder, meta.queries, meta.start, duration_h)


def generate_workload(spec: Path, tree: DataTree, seed: int | None = None) -> SavedWorkload:
    """Generate the synthetic workload a generator spec describes (`seed` overrides the spec's)."""
    from autoslo.config import WorkloadMeta, load_model
    from autoslo.config.generator import GeneratorSpec
    from autoslo.config.workload import WorkloadSource
    from autoslo.workload.generate import generate
    from autoslo.workload.templates import load_suite

    loaded = load_model(spec, GeneratorSpec)
    if seed is not None:
        if not 0 <= seed <= MAX_SEED:  # model_copy skips the spec's own check
            raise InputError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
        loaded = loaded.model_copy(update={"seed": seed})
    queries = generate(loaded, load_suite(loaded.suite, tree))
    meta = WorkloadMeta(
        name=loaded.name, parameters={"seed": loaded.seed}, description=loaded.description,
        start=loaded.start, queries=queries.height,
        source=WorkloadSource(kind="generated", details={
            "spec": display_path(spec), "suite": loaded.suite, "seed": loaded.seed}),
        reference=loaded.runtimes.reference if loaded.runtimes else None)
    return write_workload(tree, queries, meta)


def import_into(tree: DataTree, name: str, run: ImportRun, details: dict[str, Any]) -> SavedWorkload:
    """Stream an import into a new workload folder `name` (atomically) and record its source."""
    from autoslo.atomic import replace_dir
    from autoslo.config import WorkloadMeta
    from autoslo.config.workload import WorkloadSource
    from autoslo.ids import check_name
    from autoslo.workload import write_meta

    check_name(name, "--name")
    folder = tree.workload_dir(name)
    with replace_dir(folder) as tmp:
        rows, start = run(tmp / "queries.parquet")
        meta = WorkloadMeta(name=name, start=start, queries=rows,
                            source=WorkloadSource(kind="imported", details=details))
        write_meta(tmp, meta)
    return SavedWorkload(folder, rows, start)


def import_redset_workload(tree: DataTree, file: Path, instance: int, name: str) -> SavedWorkload:
    """Import one instance of a Redset log (provisioned or Serverless) as workload `name`."""
    from autoslo.workload.importers import import_redset

    def run(out: Path) -> tuple[int, dt.datetime]:
        rows, start, _ = import_redset(file, instance, out)
        return rows, start

    return import_into(tree, name, run, {"format": "redset", "file": display_path(file),
                                         "instance_id": instance})


def import_history_workload(tree: DataTree, file: Path, name: str, size: int | None) -> SavedWorkload:
    """Import a Redshift SYS_QUERY_HISTORY export as workload `name`."""
    from autoslo.workload.importers import import_query_history

    return import_into(tree, name, lambda out: import_query_history(file, out, size),
                       {"format": "sys_query_history", "file": display_path(file)})
