"""Workloads: the queries table plus its metadata, loaded and checked at the edge.

A workload is a folder ``data/workloads/<workload_id>/`` (queries.parquet + workload.yml), or
any parquet file with the workload columns (its id is then the file's stem).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from autoslo.atomic import replace_dir
from autoslo.config import WorkloadMeta, check_queries_frame, load_model
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.ids import check_name, workload_id


@dataclass(frozen=True)
class Workload:
    """A checked queries table sorted by (arrival_s, query_id), with its id and metadata."""

    id: str
    queries: pl.DataFrame
    meta: WorkloadMeta | None = None
    source: str | None = None  # the queries table as the user named it, for messages

    @property
    def reference_size(self) -> tuple[str, int] | None:
        """(shape key, size) that runtime_s was measured at, from workload.yml, if known."""
        if self.meta is None or self.meta.reference is None:
            return None
        return self.meta.reference.shape_key, self.meta.reference.size


def load_workload(path: Path) -> Workload:
    """Load a workload folder or a bare parquet file; sort arrivals (never reject unsorted)."""
    source = display_path(path)
    if path.is_dir():
        meta_path = path / "workload.yml"
        if not meta_path.is_file():
            raise InputError("is not a workload folder (it has no workload.yml)", source=source)
        meta = load_model(meta_path, WorkloadMeta)
        ident = workload_id(meta.name, meta.parameters)
        table = path / "queries.parquet"
        expected: int | None = meta.queries
    elif path.suffix == ".parquet":
        meta, table, expected = None, path, None
        ident = check_name(path.stem, "workload file name", source=source)
    elif not path.exists():
        raise InputError("does not exist (expected a workload folder or a .parquet file)",
                         source=source)
    else:
        raise InputError("expected a workload folder or a .parquet file", source=source)
    if not table.is_file():
        raise InputError("file does not exist", source=display_path(table))
    try:
        frame = pl.read_parquet(table)
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(f"is not a readable parquet file ({type(exc).__name__})",
                         source=display_path(table)) from None
    check_queries_frame(frame, display_path(table), expected)
    if frame.height == 0:
        raise InputError("has 0 rows; a workload needs at least one query",
                         source=display_path(table))
    casts = [pl.col(name).cast(dtype) for name, dtype in
             (("arrival_s", pl.Float64), ("query_id", pl.Int64), ("runtime_s", pl.Float64))
             if name in frame.columns and frame.schema[name] != dtype]
    if casts:
        frame = frame.with_columns(casts)
    if not _sorted_by_arrival(frame):
        frame = frame.sort(["arrival_s", "query_id"])
    return Workload(id=ident, queries=frame, meta=meta, source=display_path(table))


def _sorted_by_arrival(frame: pl.DataFrame) -> bool:
    """Whether rows are already in (arrival_s, query_id) order (the usual case: skip the sort)."""
    import numpy as np

    arrival = frame["arrival_s"].to_numpy()
    if arrival.size < 2:
        return True
    step = np.diff(arrival)
    if (step < 0).any():
        return False
    ties = step == 0
    if not ties.any():
        return True
    query_id = frame["query_id"].to_numpy()
    return bool((np.diff(query_id)[ties] > 0).all())


def save_workload(tree: DataTree, queries: pl.DataFrame, meta: WorkloadMeta) -> Path:
    """Write a workload folder (queries.parquet + workload.yml) atomically; returns the folder."""
    folder = tree.workload_dir(workload_id(meta.name, meta.parameters))
    if meta.queries != queries.height:
        raise InputError(f"workload.yml would say {meta.queries} queries for {queries.height} rows")
    check_queries_frame(queries, f"{display_path(folder / 'queries.parquet')} (not written)",
                        meta.queries)
    with replace_dir(folder) as tmp:
        queries.write_parquet(tmp / "queries.parquet")
        write_meta(tmp, meta)
    return folder


def write_meta(folder: Path, meta: WorkloadMeta) -> None:
    """Write `folder/workload.yml` (timestamps stay YAML timestamps, so it loads back strictly)."""
    text = yaml.safe_dump(meta.model_dump(mode="python", exclude_defaults=True),
                          sort_keys=False, allow_unicode=True)
    (folder / "workload.yml").write_text(text, encoding="utf-8")
