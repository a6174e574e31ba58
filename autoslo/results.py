"""Aggregation of run folders (simulator and live alike) into tidy tables, scored against an SLO spec.

A run folder holds `queries.parquet`, `clusters.parquet` and `summary.yml` (DESIGN.md). Every
table here is built from lazy scans of those files, so many large runs aggregate in one pass and
in bounded memory. The SLO spec is applied here, never stored with the runs, so one run can be
scored against several specs. Unfinished queries (status other than ok) count as violations and
as infinitely slow in latency percentiles, as in `autoslo.slo`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from autoslo.config.slo import SloSpec
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.slo import INF, latency_percentile, reference_latencies, uses_kappa, with_targets
from autoslo.workload import Workload

RunKind = Literal["simulator", "live"]
QUERY_COLUMNS = ("query_id", "template_id", "arrival_s", "start_s", "end_s", "queue_s", "latency_s",
                 "cluster_id", "status")
CLUSTER_COLUMNS = ("cluster_id", "kind", "size", "ready_s", "removed_s", "cost_usd")
PERCENTILES = (50, 95, 99)
BATCH_ROWS = 1_000_000  # measured: 4x the rows, 2.3x the memory, no faster
GROUP_KEYS = ("template_id", "query_group")


@dataclass(frozen=True)
class RunSource:
    """One run folder to aggregate, its label, and what kappa targets need (workload, model)."""

    label: str
    folder: Path
    kind: RunKind = "simulator"
    workload_path: Path | None = None
    model_ref: str | None = None
    colour: str | None = None
    ref: str | None = None  # the folder relative to the data root, for tables (cwd-independent)

    @property
    def queries_path(self) -> Path:
        """The run's query table."""
        return self.folder / "queries.parquet"

    @property
    def clusters_path(self) -> Path:
        """The run's cluster table."""
        return self.folder / "clusters.parquet"


def _check_columns(path: Path, names: Sequence[str], required: Sequence[str]) -> None:
    """Refuse a table that lacks a contract column, naming the file and the columns."""
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"lacks column(s) {', '.join(missing)} (a result table needs "
                         f"{', '.join(required)})", source=display_path(path))


def _scan(path: Path, required: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """A result table of a run folder, lazily, after checking it exists and has its columns."""
    if not path.is_file():
        raise InputError(f"file does not exist (a run folder needs {path.name})",
                         source=display_path(path))
    frame = pl.scan_parquet(path)
    try:
        names = frame.collect_schema().names()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"is not a readable parquet file ({type(exc).__name__})",
                         source=display_path(path)) from None
    _check_columns(path, names, required)
    return frame, names


def scan_queries(source: RunSource) -> pl.LazyFrame:
    """The run's query table, lazily, with the columns every table here uses in one schema."""
    frame, names = _scan(source.queries_path, QUERY_COLUMNS)
    group = (pl.col("query_group").cast(pl.String) if "query_group" in names
             else pl.lit(None, dtype=pl.String)).alias("query_group")
    return frame.select(
        pl.col("query_id").cast(pl.Int64), pl.col("template_id").cast(pl.String), group,
        *(pl.col(c).cast(pl.Float64) for c in ("arrival_s", "start_s", "end_s", "queue_s",
                                               "latency_s")),
        pl.col("cluster_id").cast(pl.Int64), pl.col("status").cast(pl.String))


def scan_clusters(source: RunSource) -> pl.LazyFrame:
    """The run's cluster table, lazily (each cluster's life, size and cost)."""
    frame, names = _scan(source.clusters_path, CLUSTER_COLUMNS)
    used = (pl.col("queries") > 0) if "queries" in names else pl.lit(True)
    return frame.select(
        pl.col("cluster_id").cast(pl.Int64), pl.col("kind").cast(pl.String),
        (pl.col("node_type").cast(pl.String) if "node_type" in names
         else pl.lit(None, dtype=pl.String)).alias("node_type"),
        pl.col("size").cast(pl.Int64), pl.col("ready_s").cast(pl.Float64),
        pl.col("removed_s").cast(pl.Float64), pl.col("cost_usd").cast(pl.Float64),
        used.alias("used"))


class References:
    """Reference latencies for kappa targets, computed once per (workload, latency model, spec)."""

    def __init__(self, tree: DataTree) -> None:
        self.tree = tree
        self._cache: dict[tuple[str, str | None, int], pl.LazyFrame] = {}

    def get(self, source: RunSource, spec: SloSpec) -> pl.LazyFrame | None:
        """[query_id, reference_s] for the run's workload, or None when the spec needs none."""
        if not uses_kappa(spec):
            return None
        if source.workload_path is None:
            raise InputError(f"run {source.label!r} ({display_path(source.folder)}): the SLO spec "
                             "uses kappa targets, which need the run's workload; it is not known")
        key = (str(source.workload_path), source.model_ref, id(spec))
        if key not in self._cache:
            from autoslo.perf import load_latency_model
            from autoslo.workload import load_workload

            workload = load_workload(source.workload_path)
            if source.model_ref is None:
                _need_runtimes(source, workload)
            model = load_latency_model(source.model_ref, self.tree)
            self._cache[key] = reference_latencies(workload, spec, model).lazy()
        return self._cache[key]


def _need_runtimes(source: RunSource, workload: Workload) -> None:
    """Without a latency model, kappa targets need every query's measured runtime_s."""
    frame = workload.queries
    missing = (frame.height if "runtime_s" not in frame.columns
               else int(frame["runtime_s"].is_null().sum() + frame["runtime_s"].is_nan().sum()))
    if missing:
        raise InputError(f"run {source.label!r} ({display_path(source.folder)}): the SLO spec's "
                         f"kappa targets need each query's isolated latency, but {missing} "
                         f"queries of workload {workload.id!r} have no runtime_s and no latency "
                         "model is known for the run (its summary.yml records none): pass "
                         "--model models/<name>")


def scored_queries(sources: Sequence[RunSource], spec: SloSpec, references: References,
                   runs: Sequence[int] | None = None) -> pl.LazyFrame:
    """Every run's queries (or those of `runs`, by index) with `run` (the index in `sources`),
    `target_s` and `violated`."""
    frames = []
    for index in range(len(sources)) if runs is None else runs:
        source = sources[index]
        frame = with_targets(scan_queries(source), spec, references.get(source, spec))
        frames.append(frame.select(pl.lit(index, dtype=pl.Int32).alias("run"), *QUERY_COLUMNS,
                                   "query_group", "target_s", "violated"))
    return pl.concat(frames, how="vertical")


def batches(sources: Sequence[RunSource], max_rows: int | None = None) -> list[list[int]]:
    """Run indices grouped so that a batch holds at most about `max_rows` queries (at least one
    run): percentiles need a group's rows in memory, so memory is bounded by the batch, not by
    the number of runs."""
    max_rows = BATCH_ROWS if max_rows is None else max_rows
    out: list[list[int]] = []
    rows = max_rows
    for index, source in enumerate(sources):
        count = _collect(scan_queries(source).select(pl.len())).item()  # from parquet metadata
        if rows + count > max_rows:
            out.append([])
            rows = 0
        out[-1].append(index)
        rows += count
    return out


def _aggregate(sources: Sequence[RunSource], spec: SloSpec, references: References,
               keys: Sequence[str], derive: Sequence[pl.Expr] = ()) -> pl.DataFrame:
    """The query metrics grouped by `keys` (after adding `derive` columns), batch by batch."""
    parts = [_collect(scored_queries(sources, spec, references, runs).with_columns(*derive)
                      .group_by(*keys).agg(_metrics())) for runs in batches(sources)]
    return pl.concat(parts) if parts else pl.DataFrame()


def _finished_latency() -> pl.Expr:
    """Latency of finished queries; unfinished ones count as infinitely slow (as in slo)."""
    return pl.when(pl.col("status") == "ok").then(pl.col("latency_s")).otherwise(INF)


def _metrics() -> list[pl.Expr]:
    """The query metrics every table here reports, as aggregation expressions."""
    latency = _finished_latency()
    return [
        pl.len().alias("queries"),
        pl.col("violated").sum().cast(pl.Int64).alias("violations"),
        pl.col("violated").mean().alias("violation_rate"),
        (pl.col("status") != "ok").sum().cast(pl.Int64).alias("unfinished"),
        *(latency_percentile(latency, p).alias(f"p{p}_s")  # type: ignore[union-attr]
          for p in PERCENTILES),
        (pl.col("queue_s").sum() / pl.col("latency_s").sum()).alias("queue_share"),
    ]


def _labels(sources: Sequence[RunSource]) -> pl.DataFrame:
    """One row per run: its index, label, kind and folder (joined onto every table)."""
    return pl.DataFrame({
        "run": pl.Series(range(len(sources)), dtype=pl.Int32),
        "label": [s.label for s in sources], "kind": [s.kind for s in sources],
        "folder": [s.ref or display_path(s.folder) for s in sources]})


def _collect(frame: pl.LazyFrame) -> pl.DataFrame:
    """Collect with the streaming engine, so memory stays bounded however many runs."""
    return frame.collect(engine="streaming")


def per_run(sources: Sequence[RunSource], spec: SloSpec, references: References) -> pl.DataFrame:
    """One row per run: cost, queries, violation rate and whether it is within tau, latency
    percentiles (s), the share of latency spent queueing, and clusters used."""
    if not sources:
        return _labels(sources)
    queries = _aggregate(sources, spec, references, ["run"]).lazy()
    clusters = pl.concat([scan_clusters(s).select(pl.lit(i, dtype=pl.Int32).alias("run"), "cost_usd",
                                                  "used")
                          for i, s in enumerate(sources)]).group_by("run").agg(
        pl.col("cost_usd").sum().alias("cost_usd"),
        pl.col("used").sum().cast(pl.Int64).alias("clusters_used"))
    table = _labels(sources).lazy().join(queries, on="run", how="left").join(
        clusters, on="run", how="left")
    return _collect(table.with_columns(
        pl.lit(spec.tau).alias("tau"),
        (pl.col("violation_rate") <= spec.tau).alias("within_tau")).sort("run"))


def per_group(sources: Sequence[RunSource], spec: SloSpec, references: References,
              by: str = "template_id") -> pl.DataFrame:
    """One row per run and template (or query group): the same query metrics as `per_run`."""
    if by not in GROUP_KEYS:
        raise InputError(f"must be one of {', '.join(GROUP_KEYS)}, got {by!r}", field="by")
    if not sources:
        return _labels(sources)
    queries = _aggregate(sources, spec, references, ["run", by])
    return _labels(sources).join(queries, on="run", how="inner").sort("run", by)


def per_window(sources: Sequence[RunSource], spec: SloSpec, references: References,
               window_s: float = 60.0) -> pl.DataFrame:
    """One row per run and time window (by arrival): arrivals, violations, percentiles."""
    if not window_s > 0:
        raise InputError(f"must be > 0, got {window_s}", field="window_s")
    if not sources:
        return _labels(sources)
    table = _aggregate(sources, spec, references, ["run", "window_start_s"],
                       [((pl.col("arrival_s") // window_s) * window_s).alias("window_start_s")])
    return _labels(sources).join(table, on="run", how="inner").sort("run", "window_start_s")


def target_coverage(sources: Sequence[RunSource], spec: SloSpec) -> list[str]:
    """Warnings for spec targets that match no query of the runs, with the counts behind them."""
    counts = {key: _collect(pl.concat([scan_queries(s).select(key) for s in sources])
                            .group_by(key).len()) for key in GROUP_KEYS}
    total = int(counts["template_id"]["len"].sum())
    seen = {key: dict(zip(frame[key].to_list(), frame["len"].to_list(), strict=True))
            for key, frame in counts.items()}
    warnings = []
    for index, target in enumerate(spec.targets):
        key = "template_id" if target.template_id is not None else "query_group"
        value = target.template_id if key == "template_id" else target.query_group
        if not seen[key].get(value):
            present = sorted(v for v in seen[key] if v is not None)
            shown = ", ".join(present[:8]) + (" ..." if len(present) > 8 else "")
            warnings.append(f"targets[{index}]: {key} {value!r} matches 0 of {total} queries in "
                            f"{len(sources)} run(s) ({key} values present: {shown or 'none'})")
    if warnings and spec.default is None:
        matched = sum(n for key, values in seen.items() for v, n in values.items()
                      if any((t.template_id if key == "template_id" else t.query_group) == v
                             for t in spec.targets))
        warnings.append(f"{total - matched} of {total} queries have no latency target (no "
                        "default): they violate only by not finishing")
    return warnings


# ---- one run over time ---------------------------------------------------------------------------

def cluster_class(kind: str, node_type: str | None, size: int) -> str:
    """A readable size class: 'serverless 8 RPU' or 'ra3.xlplus x 2 nodes'."""
    if kind == "serverless":
        return f"serverless {size} RPU"
    return f"{node_type or kind} x {size} node{'s' if size != 1 else ''}"


def _integral(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Seconds of [start, end) intervals falling in each bin between consecutive edges."""
    if starts.size == 0:
        return np.zeros(edges.size - 1)
    order_s, order_e = np.sort(starts), np.sort(ends)
    # covered(t) = sum(clip(t - start, 0, end - start)) = sum(max(t-start,0)) - sum(max(t-end,0))
    cum_s, cum_e = np.concatenate([[0.0], np.cumsum(order_s)]), np.concatenate([[0.0],
                                                                               np.cumsum(order_e)])
    n_s, n_e = np.searchsorted(order_s, edges, "right"), np.searchsorted(order_e, edges, "right")
    covered = (n_s * edges - cum_s[n_s]) - (n_e * edges - cum_e[n_e])
    return np.diff(covered)


NICE_WINDOWS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def timeline_window(horizon_s: float) -> float:
    """A readable window for a run of this length: a minute for runs of half an hour or more
    (coarser only past 1500 windows), finer for short runs so they still get 60 or more."""
    if horizon_s >= 1800:
        return next(w for w in NICE_WINDOWS_S if w >= 60 and horizon_s / w <= 1500)
    fits = [w for w in NICE_WINDOWS_S if horizon_s / w >= 60]
    return float(fits[-1]) if fits else NICE_WINDOWS_S[0]


def timeline(source: RunSource, window_s: float | None = None) -> pl.DataFrame:
    """One run per time window (`timeline_window` unless given): arrivals, the deepest queue,
    clusters alive (per size class), cost accrued and cumulative cost.

    Cost is attributed to windows as it is billed: a provisioned cluster evenly over its life
    (ready to removed), a Serverless workgroup in proportion to the query-seconds it ran.
    """
    queries = _collect(scan_queries(source).select("arrival_s", "start_s", "end_s", "cluster_id",
                                                   "status"))
    clusters = _collect(scan_clusters(source))
    horizon = max(float(queries["end_s"].max() or 0.0), float(queries["arrival_s"].max() or 0.0),
                  float(clusters["removed_s"].max() or 0.0) if clusters.height else 0.0)
    window_s = timeline_window(horizon) if window_s is None else window_s
    if not window_s > 0:
        raise InputError(f"must be > 0, got {window_s}", field="window_s")
    edges = window_s * np.arange(max(1, math.ceil(horizon / window_s)) + 1)
    starts_of_window = edges[:-1]
    arrival = queries["arrival_s"].to_numpy()
    arrivals = np.histogram(arrival, bins=edges)[0]
    # queue depth steps: +1 at arrival, -1 at start (never started: stays queued to the end)
    started = queries["start_s"].fill_null(INF).fill_nan(INF).to_numpy()
    times = np.concatenate([arrival, started])
    steps = np.concatenate([np.ones(arrival.size), -np.ones(started.size)])
    order = np.lexsort((steps, times))  # at equal times starts before arrivals: no phantom peaks
    times, depth = times[order], np.cumsum(steps[order])
    window_of = np.minimum(np.searchsorted(edges, times, "right") - 1, starts_of_window.size - 1)
    depth_max = np.zeros(starts_of_window.size)
    finite = np.isfinite(times)
    np.maximum.at(depth_max, window_of[finite], depth[finite])
    carried = np.searchsorted(times, starts_of_window, "right") - 1  # depth entering each window
    depth_max = np.maximum(depth_max, np.where(carried >= 0, depth[np.maximum(carried, 0)], 0))
    columns: dict[str, np.ndarray] = {"window_start_s": starts_of_window,
                                      "window_s": np.full(starts_of_window.size, window_s),
                                      "arrivals": arrivals.astype(np.int64),
                                      "queue_depth_max": depth_max.astype(np.int64)}
    alive_total = np.zeros(starts_of_window.size, np.int64)
    size_total = np.zeros(starts_of_window.size, np.int64)
    cost = np.zeros(starts_of_window.size)
    classes: dict[str, np.ndarray] = {}
    order: dict[str, tuple[str, str, int]] = {}  # classes listed by kind, node type, then size
    run_start = queries["start_s"].fill_null(INF).to_numpy()
    run_end = queries["end_s"].fill_null(INF).to_numpy()
    ids = queries["cluster_id"].fill_null(-1).to_numpy()
    # a cluster that ran nothing and cost nothing (e.g. an idle concurrency-scaling slot) is
    # listed in the table but was never alive for the workload
    active = clusters.filter(pl.col("used") | (pl.col("cost_usd") > 0))
    for row in active.iter_rows(named=True):
        alive = (row["ready_s"] < edges[1:]) & (row["removed_s"] > edges[:-1])
        name = cluster_class(row["kind"], row["node_type"], row["size"])
        order[name] = (row["kind"], row["node_type"] or "", row["size"])
        classes.setdefault(name, np.zeros(starts_of_window.size, np.int64))
        classes[name] += alive
        alive_total += alive
        size_total += alive * row["size"]
        if row["kind"] == "serverless":
            mine = (ids == row["cluster_id"]) & np.isfinite(run_start) & np.isfinite(run_end)
            busy = _integral(run_start[mine], run_end[mine], edges)
        else:
            busy = _integral(np.array([row["ready_s"]]), np.array([row["removed_s"]]), edges)
        if busy.sum() > 0:
            cost += row["cost_usd"] * busy / busy.sum()
    columns |= {"clusters_alive": alive_total, "alive_size": size_total, "cost_usd": cost,
                "cumulative_cost_usd": np.cumsum(cost)}
    columns |= {f"alive: {name}": classes[name] for name in sorted(classes, key=order.__getitem__)}
    return pl.DataFrame(columns)


def latency_quantiles(sources: Sequence[RunSource],
                      quantiles: Sequence[float] = tuple(np.round(np.arange(0.01, 1.0, 0.01), 2))
                      ) -> pl.DataFrame:
    """Latency quantiles (s) of finished queries per run: [run, label, quantile, latency_s]."""
    frames = [scan_queries(s).filter(pl.col("status") == "ok").select(
        pl.lit(i, dtype=pl.Int32).alias("run"),
        *(latency_percentile(pl.col("latency_s"), 100 * q).alias(f"{q:.2f}")  # type: ignore[union-attr]
          for q in quantiles))
        for i, s in enumerate(sources)]
    wide = _collect(pl.concat(frames))
    long = wide.unpivot(index="run", variable_name="quantile", value_name="latency_s").with_columns(
        pl.col("quantile").cast(pl.Float64))
    return _labels(sources).join(long, on="run", how="inner").sort("run", "quantile")
