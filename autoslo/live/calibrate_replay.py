"""Calibration's concurrent replay: the measured templates overlapping at high load, and the fit.

After each template was measured alone, an open-loop Poisson workload (seeded) drawn uniformly
over the templates that ran, each query carrying its template's isolated median as `runtime_s`,
is replayed live on the same warm cluster at an arrival rate that offers `load` times the
capacity guess (the single-template probe's estimate, capped by the physical limit). The queries
then overlap at many concurrency levels, and `autoslo.sim.fit.fit_contention` fits the sharing
law to what they measured, with the simulator inside the fit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from autoslo.config.execution import ExecutionConfig
from autoslo.live.target import ClusterSpec, Driver, Endpoint, Provisioner
from autoslo.perf.contention import ContentionModel
from autoslo.slo import latency_percentile
from autoslo.workload import Workload

REPLAY_WORKLOAD_ID = "calibration-replay"


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay: how many queries, at what share of the guessed capacity, from which seed."""

    queries: int
    load: float
    seed: int
    base: ExecutionConfig     # the calibrated config (its prices are kept)


@dataclass(frozen=True)
class ReplayRun:
    """The replayed workload, the config it ran under and what the live cluster measured."""

    workload: Workload
    config: ExecutionConfig
    queries: pl.DataFrame     # the results table (query_id, cluster_id, start_s, end_s, status, ...)
    clusters: pl.DataFrame
    capacity_guess: float
    rate_per_s: float
    wall_s: float
    complete: bool


class SessionCluster:
    """A provisioner that hands the replay the cluster calibration already started (and warmed)
    instead of a cold new one; stopping it is left to the calibration's own provisioner."""

    def __init__(self, provisioner: Provisioner, endpoint: Endpoint) -> None:
        self.provisioner = provisioner
        self.endpoint = endpoint

    def check(self, specs: list[ClusterSpec]) -> None:
        self.provisioner.check(specs)

    def start(self, spec: ClusterSpec, name: str) -> Endpoint:
        return self.endpoint

    def stop(self, endpoint: Endpoint) -> None:
        """The calibration stops the cluster when it is done with it."""

    def close(self) -> None:
        """The calibration's provisioner is closed by the calibration."""


def replay_config(base: ExecutionConfig, spec: ClusterSpec) -> ExecutionConfig:
    """One cluster of `spec`, no autoscaler, no spin-ups, processor sharing (replaced in the fit)."""
    return ExecutionConfig.model_validate({
        "description": "autoslo calibrate: the concurrent replay's one cluster",
        "pool": {"clusters": [spec.model_dump(mode="json", exclude_none=True)], "max_clusters": 1},
        "contention": {"model": "processor_sharing", "capacity": 1.0},
        "prices": base.prices if isinstance(base.prices, str) else base.prices.model_dump()})


def replay_workload(medians: dict[str, float], queries: int, rate_per_s: float, seed: int) -> Workload:
    """Poisson arrivals at `rate_per_s` from 0, templates uniform over `medians` (sorted), seeded."""
    rng = np.random.default_rng(seed)
    templates = sorted(medians)
    chosen = [templates[i] for i in rng.integers(len(templates), size=queries)]
    gaps = rng.exponential(1.0 / rate_per_s, size=queries)
    arrival = np.concatenate([[0.0], np.cumsum(gaps[1:])])
    frame = pl.DataFrame({"query_id": np.arange(queries, dtype=np.int64), "arrival_s": arrival,
                          "template_id": chosen,
                          "runtime_s": [medians[t] for t in chosen]})
    return Workload(id=REPLAY_WORKLOAD_ID, queries=frame)


def run_replay(plan: ReplayPlan, spec: ClusterSpec, medians: dict[str, float], sql: dict[str, str],
               provisioner: Provisioner, endpoint: Endpoint, driver: Driver, *, capacity_guess: float,
               run_tag: str) -> ReplayRun:
    """Replay the plan's workload live on `endpoint` with the live replay's own machinery."""
    from autoslo.live.replay import Replay
    from autoslo.sim import ClusterLives, prepare, tabulate

    mean_runtime = float(np.mean(list(medians.values())))
    rate = plan.load * capacity_guess / mean_runtime
    workload = replay_workload(medians, plan.queries, rate, plan.seed)
    config = replay_config(plan.base, spec)
    prepared = prepare(workload, config, None)
    templates = workload.queries["template_id"].to_list()
    replay = Replay(prepared, lambda j: sql[templates[j]], workload.queries["query_id"].to_numpy(),
                    SessionCluster(provisioner, endpoint), driver, run_tag=f"{run_tag}-replay",
                    emulate_spin_up_delay=False)
    result = replay.run()
    tables = tabulate(workload, config, prepared, result.start, result.end, result.status,
                      result.cluster, result.queue, ClusterLives(**result.lives), "live-calibration",
                      seconds=result.wall_s, execution_config_id=None)
    return ReplayRun(workload, config, tables.queries, tables.clusters, capacity_guess, rate,
                     result.wall_s, result.complete)


def running_time_share(start: np.ndarray, end: np.ndarray) -> dict[int, float]:
    """Share of the replay's span with k queries running, for each k (time-weighted)."""
    ran = np.isfinite(start) & np.isfinite(end)
    start, end = start[ran], end[ran]
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(start.size, np.int64), -np.ones(end.size, np.int64)])
    order = np.lexsort((steps, times))  # an end before a start at the same instant
    times, level = times[order], np.cumsum(steps[order])
    durations = np.diff(times)
    total = float(durations.sum())
    share: dict[int, float] = {}
    for k, d in zip(level[:-1].tolist(), durations.tolist(), strict=True):
        share[int(k)] = share.get(int(k), 0.0) + d
    return {k: round(v / total, 4) for k, v in sorted(share.items()) if total > 0 and v > 0}


def coverage(run: ReplayRun) -> dict[str, Any]:
    """What the replay covered: templates, statuses and the concurrency levels it ran at."""
    ok = run.queries.filter(pl.col("status") == "ok")
    share = running_time_share(run.queries["start_s"].to_numpy(), run.queries["end_s"].to_numpy())
    span = float(run.workload.queries["arrival_s"].max() or 0.0)
    offered = float(run.workload.queries["runtime_s"].sum()) / span if span > 0 else math.inf
    return {
        "queries": run.workload.queries.height, "capacity_guess": round(run.capacity_guess, 4),
        "rate_per_s": round(run.rate_per_s, 4), "offered_load": round(offered, 4),
        "wall_s": round(run.wall_s, 3), "complete": run.complete,
        "statuses": dict(sorted(Counter(run.queries["status"].to_list()).items())),
        "templates": dict(sorted(Counter(run.workload.queries["template_id"].to_list()).items())),
        "running_time_share": share,
        "max_running": max(share) if share else 0,
        "latency_s": {f"p{q}": round(float(latency_percentile(ok["latency_s"].to_numpy(), q)), 6)
                      if ok.height else 0.0 for q in (50, 95)},
    }


def fit_replay(run: ReplayRun, *, trials: int, bootstrap: int, seed: int, max_capacity: float,
               say: Callable[[str], None] | None = None) -> ContentionModel:
    """Fit the contention law to the replay (the capacity bounded by `max_capacity`)."""
    from autoslo.sim.fit import build_fit_data, fit_contention

    data = build_fit_data(run.workload, [(run.queries, run.clusters, "the calibration replay")],
                          run.config, config_source="the calibration replay's config")
    return fit_contention(data, run.config, trials=trials, seed=seed, bootstrap=bootstrap,
                          max_capacity=max_capacity, say=say)
