"""`simulate`: prepare arrays, pick the engine, run it, bill, and tabulate."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from autoslo.config.execution import ExecutionConfig, NoopAutoscaler, ServerlessCluster
from autoslo.config.prices import PriceTable
from autoslo.errors import InputError
from autoslo.perf import LatencyModel
from autoslo.sim import _engine, _fifo
from autoslo.sim._prepare import Prepared, prepare
from autoslo.sim._result import SimResult, status_names
from autoslo.sim.billing import (
    billed_busy_seconds,
    provisioned_cost_usd,
    serverless_cost_usd,
)
from autoslo.workload import Workload

Engine = Literal["auto", "fifo", "event"]


ORIGINS = ("initial", "autoscaler", "scheduled", "concurrency_scaling")


def fast_path_applies(prepared: Prepared, config: ExecutionConfig) -> bool:
    """Queues are independent: no contention, a fixed pool, state-blind routing."""
    return (prepared.capacity == float("inf") and isinstance(config.autoscaler, NoopAutoscaler)
            and not config.scheduled_spin_ups and not prepared.spec_burst.any()
            and (len(config.pool.clusters) == 1 or config.router.policy == "round_robin"))


def simulate(
    workload: Workload,
    config: ExecutionConfig,
    model: LatencyModel | None = None,
    *,
    engine: Engine = "auto",
    execution_config_id: str | None = None,
    cache: dict[object, np.ndarray] | None = None,
) -> SimResult:
    """Simulate `workload` on the pool `config` describes; `config.prices` must be inlined."""
    began = time.perf_counter()
    prepared, run = _run(workload, config, model, engine, cache)
    elapsed = time.perf_counter() - began
    return tabulate(workload, config, prepared, run.start, run.end, run.status, run.cluster,
                    run.queue, run.lives, run.engine, seconds=elapsed,
                    execution_config_id=execution_config_id)


@dataclass(frozen=True)
class Outcome:
    """What a tuner needs from one simulation: per-query latency and status, and the cost."""

    latency_s: np.ndarray        # float64[n], in the workload's row order
    status: np.ndarray           # int8[n]: 0 ok, 1 timeout, 2 failed, 3 aborted
    cost_usd: float
    clusters: int


def simulate_outcome(workload: Workload, config: ExecutionConfig,
                     model: LatencyModel | None = None,
                     cache: dict[object, np.ndarray] | None = None) -> Outcome:
    """`simulate` without result tables: the fast path for many trials on one workload."""
    prepared, run = _run(workload, config, model, "auto", cache)
    horizon = float(max(run.end.max(initial=0.0), prepared.arrival.max(initial=0.0)))
    rows = _cluster_rows(prepared, config, run.lives, run.start, run.end, run.cluster, horizon)
    return Outcome(latency_s=run.end - prepared.arrival, status=run.status,
                   cost_usd=float(sum(r["cost_usd"] for r in rows)), clusters=len(rows))


def _run(workload: Workload, config: ExecutionConfig, model: LatencyModel | None,
         engine: Engine, cache: dict[object, np.ndarray] | None) -> tuple[Prepared, EngineRun]:
    if not isinstance(config.prices, PriceTable):
        raise InputError("prices must be resolved before simulating (use "
                         "resolve_execution_config, which inlines the price table)")
    prepared = prepare(workload, config, model, cache)
    use_fifo = engine == "fifo" or (engine == "auto" and fast_path_applies(prepared, config))
    if engine == "fifo" and not fast_path_applies(prepared, config):
        raise InputError("the fifo engine needs independent queues (no contention, no "
                         "autoscaling, round-robin routing or one cluster)")
    n = prepared.arrival.shape[0]
    k = len(config.pool.clusters)
    if use_fifo:
        cluster = (np.arange(n, dtype=np.int64) % k) if k > 1 else np.zeros(n, np.int64)
        start, end, status, queue = _fifo.fifo_queues(
            prepared.arrival, prepared.runtime, cluster, prepared.initial_specs,
            prepared.spec_shape, prepared.spec_qoff, prepared.q_slots, prepared.q_timeout,
            prepared.qmap)
        lives = ClusterLives(prepared.initial_specs, np.zeros(k, np.int8), np.zeros(k),
                             np.zeros(k), np.full(k, np.inf), np.full(k, -1))
    else:
        start, end, status, cluster, queue, *life = _engine.event_loop(*prepared.engine_args())
        lives = ClusterLives(*life)
    return prepared, EngineRun(start, end, status, cluster, queue, lives,
                               "fifo" if use_fifo else "event")


@dataclass(frozen=True)
class EngineRun:
    """What an engine returns: per query (arrival order) and each cluster's life."""

    start: np.ndarray            # float64[n]
    end: np.ndarray              # float64[n]
    status: np.ndarray           # int8[n]: 0 ok, 1 timeout
    cluster: np.ndarray          # int64[n]: the cluster that ran it
    queue: np.ndarray            # int16[n]: its local queue on that cluster
    lives: ClusterLives
    engine: str                  # "fifo" or "event"


@dataclass(frozen=True)
class ClusterLives:
    """Each cluster's spec, origin and life times, as the engine reports them."""

    spec: np.ndarray
    origin: np.ndarray
    requested: np.ndarray
    ready: np.ndarray
    removed: np.ndarray
    parent: np.ndarray


def tabulate(workload: Workload, config: ExecutionConfig, prepared: Prepared,
              start: np.ndarray, end: np.ndarray, status: np.ndarray, cluster: np.ndarray,
              queue: np.ndarray, lives: ClusterLives, engine: str, *, seconds: float,
              execution_config_id: str | None) -> SimResult:
    """The result tables of one run from per-query arrays and cluster lives (simulated or live)."""
    frame = workload.queries
    arrival = prepared.arrival
    cluster_spec = lives.spec[cluster]
    if prepared.runtime.shape[1] == 1:
        isolated = prepared.runtime[:, 0]
    else:
        isolated = prepared.runtime[np.arange(arrival.shape[0]),
                                    prepared.spec_shape[cluster_spec]]
    qoff = prepared.spec_qoff[cluster_spec]
    names = list(dict.fromkeys(prepared.q_names))
    name_index = np.array([names.index(q) for q in prepared.q_names], np.int64)
    queue_name = pl.Series(names, dtype=pl.Enum(names)).gather(name_index[qoff + queue])
    columns = {
        "query_id": frame["query_id"],
        "template_id": frame["template_id"],
        "arrival_s": arrival,
        "start_s": start,
        "end_s": end,
        "queue_s": start - arrival,
        "latency_s": end - arrival,
        "isolated_s": isolated,
        "cluster_id": cluster.astype(np.int32),
        "queue": queue_name,
        "status": status_names(status),
    }
    if "query_group" in frame.columns:
        columns["query_group"] = frame["query_group"]
    queries = pl.DataFrame(columns)
    horizon = float(max(end.max(initial=0.0), arrival.max(initial=0.0)))
    rows = _cluster_rows(prepared, config, lives, start, end, cluster, horizon)
    clusters = pl.DataFrame(rows, schema={
        "cluster_id": pl.Int32, "parent_cluster_id": pl.Int32, "kind": pl.String,
        "node_type": pl.String, "size": pl.Int64,
        "origin": pl.String, "requested_s": pl.Float64, "ready_s": pl.Float64,
        "removed_s": pl.Float64, "queries": pl.Int64, "busy_s": pl.Float64,
        "billed_s": pl.Float64, "cost_usd": pl.Float64})
    return SimResult.build(queries, clusters, workload_id=workload.id,
                           execution_config_id=execution_config_id, engine=engine,
                           seconds=seconds, horizon_s=horizon,
                           latency_model=config.latency_model.model)


def _cluster_rows(prepared: Prepared, config: ExecutionConfig, lives: ClusterLives,
                  start: np.ndarray, end: np.ndarray, cluster: np.ndarray,
                  horizon: float) -> list[dict[str, object]]:
    """Each cluster's life, busy and billed seconds and cost."""
    prices = config.prices
    assert isinstance(prices, PriceTable)
    if len(lives.spec) == 1:
        order = np.arange(cluster.shape[0])
        bounds = np.array([0, cluster.shape[0]])
    else:
        keys = cluster.astype(np.int16 if len(lives.spec) < 2**15 else np.int64)
        order = np.argsort(keys, kind="stable")  # a radix sort for int16 keys
        bounds = np.searchsorted(keys[order], np.arange(len(lives.spec) + 1))
    rows = []
    free_credit_s: dict[int, float] = {}
    for c, spec_index in enumerate(lives.spec):
        spec = prepared.specs[spec_index]
        mine = order[bounds[c]:bounds[c + 1]]
        ready = float(lives.ready[c])
        removed = float(min(lives.removed[c], horizon)) if ready <= horizon else ready
        busy = float((end[mine] - start[mine]).sum())
        parent = int(lives.parent[c])
        if parent >= 0:
            # concurrency scaling: per second while its queries run, beyond the free credit
            # its main cluster earned (one hour per 24 h up, to a cap)
            assert not isinstance(spec, ServerlessCluster)
            billed = billed_busy_seconds(start[mine], end[mine], 1.0)
            if parent not in free_credit_s:
                alive = rows[parent]["removed_s"] - rows[parent]["ready_s"]
                free_credit_s[parent] = min(prices.concurrency_scaling_max_free_s,
                                            alive * prices.concurrency_scaling_free_s_per_day
                                            / 86_400)
            covered = min(billed, free_credit_s[parent])
            free_credit_s[parent] -= covered
            cost = provisioned_cost_usd(billed - covered, spec.node_type, spec.nodes, prices)
            node_type = spec.node_type
        elif isinstance(spec, ServerlessCluster):
            billed = billed_busy_seconds(start[mine], end[mine], prices.serverless_min_billed_s)
            cost = serverless_cost_usd(billed, spec.rpu, prices)
            node_type = None
        else:
            billed = max(0.0, removed - ready)
            cost = provisioned_cost_usd(billed, spec.node_type, spec.nodes, prices)
            node_type = spec.node_type
        rows.append({
            "cluster_id": c, "parent_cluster_id": parent if parent >= 0 else None,
            "kind": spec.kind, "node_type": node_type, "size": spec.size,
            "origin": ORIGINS[int(lives.origin[c])], "requested_s": float(lives.requested[c]),
            "ready_s": ready, "removed_s": removed, "queries": int(mine.size), "busy_s": busy,
            "billed_s": billed, "cost_usd": cost,
        })
    return rows
