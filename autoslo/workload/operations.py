"""Operations on workloads: slice a time window, rescale time, scale the rate, merge.

Each returns a new queries table and the metadata of the derived workload, whose id records
the operation's parameters (e.g. ``shop_rate=1.3``), so derived workloads never overwrite
their source.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from autoslo.config import WorkloadMeta
from autoslo.config.workload import WorkloadSource
from autoslo.errors import InputError
from autoslo.ids import check_name
from autoslo.workload import Workload

JITTER_S = 30.0


def _derived(source: Workload, name: str | None, parameters: dict[str, Any], queries: pl.DataFrame,
             start: dt.datetime, operation: str) -> tuple[pl.DataFrame, WorkloadMeta]:
    base = source.meta
    if name is not None:
        check_name(name, "--name")
    meta = WorkloadMeta(
        name=name or (base.name if base else source.id),
        parameters={**(base.parameters if base and not name else {}), **parameters},
        description=f"{operation} of {source.id}",
        start=start,
        source=WorkloadSource(kind="generated", details={"operation": operation,
                                                         "from": source.id}),
        queries=queries.height,
        reference=base.reference if base else None,
    )
    return queries, meta


def _start(workload: Workload) -> dt.datetime:
    if workload.meta is None:
        raise InputError(f"workload {workload.id!r} has no workload.yml (its start time is "
                         "unknown); use a workload folder")
    return workload.meta.start


def _renumber(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.sort(["arrival_s", "query_id"])
    return frame.with_columns(pl.arange(0, frame.height, dtype=pl.Int64).alias("query_id"))


def slice_window(workload: Workload, begin: dt.datetime, end: dt.datetime,
                 name: str | None = None) -> tuple[pl.DataFrame, WorkloadMeta]:
    """Queries arriving in [begin, end), re-based so that the new workload starts at `begin`."""
    start = _start(workload)
    for label, moment in (("--from", begin), ("--to", end)):
        if moment.tzinfo is None:
            raise InputError(f"{label} needs a time zone (e.g. 2026-11-02T00:00:00Z), got "
                             f"{moment.isoformat()}")
    if end <= begin:
        raise InputError(f"`--from < --to` must hold, but got (from={begin.isoformat()}, "
                         f"to={end.isoformat()})")
    lo = (begin - start).total_seconds()
    hi = (end - start).total_seconds()
    part = workload.queries.filter((pl.col("arrival_s") >= lo) & (pl.col("arrival_s") < hi))
    if part.height == 0:
        raise InputError(f"no queries of {workload.id!r} arrive between {begin.isoformat()} and "
                         f"{end.isoformat()}")
    part = _renumber(part.with_columns(pl.col("arrival_s") - lo))
    stamp = f"{begin.strftime('%Y%m%dT%H%M')}-{end.strftime('%Y%m%dT%H%M')}"
    return _derived(workload, name, {"window": stamp}, part, begin, "slice")


def rescale_time(workload: Workload, factor: float,
                 name: str | None = None) -> tuple[pl.DataFrame, WorkloadMeta]:
    """Arrival offsets times `factor` (0.125 compresses a day into three hours)."""
    if not factor > 0:
        raise InputError(f"--factor must be > 0, got {factor}")
    frame = workload.queries.with_columns(pl.col("arrival_s") * factor)
    return _derived(workload, name, {"time": factor}, frame, _start(workload), "rescale")


def scale_rate(workload: Workload, factor: float, seed: int = 0,
               name: str | None = None) -> tuple[pl.DataFrame, WorkloadMeta]:
    """Thin (factor < 1) or add queries (factor > 1) so that the rate changes by `factor`.

    Added queries copy a random existing query (template, group, user, runtime) and arrive
    near it (uniform jitter of +-30 s), so the rate's shape over time is kept.
    """
    if not factor > 0:
        raise InputError(f"--factor must be > 0, got {factor}")
    rng = np.random.default_rng(seed)
    frame = workload.queries
    if factor <= 1:
        scaled = frame.filter(pl.Series(rng.random(frame.height) < factor))
    else:
        extra = rng.binomial(frame.height, min(1.0, factor - np.floor(factor)))
        extra += frame.height * (int(np.floor(factor)) - 1)
        picks = rng.integers(0, frame.height, size=extra)
        copies = frame[picks]
        jitter = rng.uniform(-JITTER_S, JITTER_S, size=extra)
        arrival = np.clip(copies["arrival_s"].to_numpy() + jitter, 0.0, None)
        copies = copies.with_columns(pl.Series("arrival_s", arrival),
                                     pl.col("query_id") + frame.height)
        scaled = pl.concat([frame, copies])
    return _derived(workload, name, {"rate": factor, "rate_seed": seed}, _renumber(scaled),
                    _start(workload), "scale")


def merge(workloads: list[Workload], name: str) -> tuple[pl.DataFrame, WorkloadMeta]:
    """All queries of several workloads on one clock (the earliest start)."""
    check_name(name, "--name")
    if len(workloads) < 2:
        raise InputError(f"merge needs at least two workloads, got {len(workloads)}")
    start = min(_start(w) for w in workloads)
    columns = sorted(set.intersection(*(set(w.queries.columns) for w in workloads)),
                     key=list(workloads[0].queries.columns).index)
    parts = [w.queries.select(columns).with_columns(
        pl.col("arrival_s") + (_start(w) - start).total_seconds()) for w in workloads]
    merged = _renumber(pl.concat(parts, how="vertical_relaxed"))
    meta = WorkloadMeta(
        name=name, description="merge of " + ", ".join(w.id for w in workloads), start=start,
        source=WorkloadSource(kind="generated", details={
            "operation": "merge", "from": ",".join(w.id for w in workloads)}),
        queries=merged.height,
    )
    return merged, meta
