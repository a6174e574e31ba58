"""The live replay's pool controller, driven by explicit events: hand-worked decision logs, and the
same decisions as the simulator when queries end when the simulator says they do."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from autoslo.config import ExecutionConfig, PriceTable, load_model
from autoslo.live.controller import Decision, PoolController, Remove, Request, Start
from autoslo.policies import (
    ACTIVE,
    DRAINING,
    ORIGIN_AUTOSCALER,
    ORIGIN_INITIAL,
    ORIGIN_SCHEDULED,
    PENDING,
    REMOVED,
    STATUS_OK,
    STATUS_TIMEOUT,
)
from autoslo.sim import ClusterLives, prepare, simulate, tabulate
from autoslo.workload import Workload

REPO = Path(__file__).resolve().parents[2]
PRICES = load_model(REPO / "data" / "prices" / "aws-us-east-1.yml", PriceTable)
INF = float("inf")


def workload(arrival: list[float], runtime: list[float]) -> Workload:
    frame = pl.DataFrame({"query_id": np.arange(len(arrival), dtype=np.int64),
                          "arrival_s": np.asarray(arrival, float), "template_id": ["t"] * len(arrival),
                          "runtime_s": np.asarray(runtime, float)})
    return Workload(id="controller-test", queries=frame)


def serverless(slots: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "serverless", "rpu": 8, "max_concurrency": slots, **extra}


def config(router: str, *, spin_up_delay_s: float, max_clusters: int, autoscaler: dict[str, Any],
           scheduled: list[dict[str, Any]], initial: dict[str, Any] | None = None) -> ExecutionConfig:
    return ExecutionConfig.model_validate({
        "pool": {"clusters": [initial or serverless(1)], "spin_up_delay_s": spin_up_delay_s,
                 "max_clusters": max_clusters},
        "router": {"policy": router}, "contention": {"model": "none"},
        "autoscaler": {"policy": "reactive", **autoscaler}, "scheduled_spin_ups": scheduled,
        "prices": PRICES.model_dump()})


def test_a_pool_with_a_spin_up_an_autoscaler_and_idle_teardown_decides_by_hand() -> None:
    # c0: the initial one-slot cluster. c1: scheduled at 0.5 with a 3 s lifetime. c2: the
    # autoscaler's (queue depth >= 2 for 1 s), torn down after 1 s idle. Clusters take 2 s.
    cfg = config("least_loaded", spin_up_delay_s=2.0, max_clusters=3,
                 autoscaler={"threshold": 2, "window_s": 1.0, "cluster": serverless(1),
                             "min_lifetime_s": 0, "idle_teardown_s": 1.0},
                 scheduled=[{"at_s": 0.5, "cluster": serverless(1), "lifetime_s": 3.0}])
    ctl = PoolController(prepare(workload([0, 0, 0.5, 3.0, 3.1, 6.9], [1.0] * 6), cfg, None))
    assert ctl.advance(0.0) == [Start(0.0, 0, 0)]  # q1 waits on c0
    assert ctl.queued_total == 1 and ctl.next_due() == 0.5
    # the spin-up goes before the arrival at the same time; q2 is the second waiting query
    assert ctl.advance(0.5) == [Request(0.5, 1)]
    assert ctl.clusters[1].state == PENDING and ctl.cluster[2] == 0
    assert (ctl.above_since, ctl.as_fire) == (0.5, 1.5)
    assert ctl.advance(1.5) == []  # fires, but c1 is still starting: no second request
    assert (ctl.above_since, ctl.as_fire) == (1.5, 2.5)  # the window starts again
    assert ctl.complete(0, 0, 2.0, "ok") == [Start(2.0, 0, 1)]
    assert (ctl.queued_total, ctl.as_fire) == (1, INF)  # below the threshold: the trigger resets
    assert ctl.ready(1, 2.5) == [] and ctl.clusters[1].drain == 5.5
    assert ctl.next_due() == 3.0
    assert ctl.advance(3.0) == [Start(3.0, 1, 3)]  # c0 holds two queries on one slot, c1 none
    assert ctl.advance(3.1) == []  # c1 (1 running) is less loaded than c0 (2): q4 waits on c1
    assert ctl.cluster[4] == 1 and ctl.as_fire == pytest.approx(4.1)
    fire = ctl.as_fire  # 3.1 + 1.0: the depth held for a whole window, and c1 is ready
    assert ctl.advance(fire) == [Request(fire, 2)] and ctl.clusters[2].origin == ORIGIN_AUTOSCALER
    assert ctl.complete(0, 1, 4.5, "ok") == [Start(4.5, 0, 2)]
    assert ctl.complete(1, 3, 5.0, "ok") == [Start(5.0, 1, 4)]
    assert ctl.advance(5.5) == [] and ctl.clusters[1].state == DRAINING  # busy: drains first
    ready_2 = fire + 2.0
    assert ctl.ready(2, ready_2) == [] and ctl.clusters[2].teardown == ready_2 + 1.0
    assert ctl.complete(1, 4, 6.5, "ok") == [Remove(6.5, 1)]  # drained: removed once empty
    assert ctl.advance(6.9) == [Start(6.9, 2, 5)]  # c0 is busy, c1 gone: c2 takes it
    assert ctl.clusters[2].teardown == INF  # busy again: no teardown
    assert ctl.complete(2, 5, 7.2, "ok") == [] and ctl.clusters[2].teardown == pytest.approx(8.2)
    assert ctl.complete(0, 2, 7.5, "ok") == []  # initial clusters stay
    assert ctl.finished and ctl.next_due() == pytest.approx(8.2)
    assert ctl.advance(8.2) == [Remove(8.2, 2)] and ctl.next_due() == INF
    assert [c.state for c in ctl.clusters] == [ACTIVE, REMOVED, REMOVED]
    assert ctl.start.tolist() == [0.0, 2.0, 4.5, 3.0, 5.0, 6.9]
    assert ctl.end.tolist() == [2.0, 4.5, 7.5, 5.0, 6.5, 7.2]
    assert ctl.cluster.tolist() == [0, 0, 0, 1, 1, 2]
    assert (ctl.status == STATUS_OK).all() and ctl.errors == []
    lives = ctl.lives(10.0)
    assert lives["origin"].tolist() == [ORIGIN_INITIAL, ORIGIN_SCHEDULED, ORIGIN_AUTOSCALER]
    assert lives["requested"].tolist() == [0.0, 0.5, fire]
    assert lives["ready"].tolist() == [0.0, 2.5, ready_2]
    assert lives["removed"].tolist() == [10.0, 6.5, 8.2]


def test_equal_times_follow_the_engine_order_and_queries_time_out_on_the_client() -> None:
    # c1 is scheduled at 0 (ready at 1) for 2 s: at t=3 its drain goes before the arrival, so
    # q1 waits on the busy c0 instead of starting on c1; the 5 s WLM timeout goes with each start
    cfg = config("least_loaded", spin_up_delay_s=1.0, max_clusters=2,
                 initial=serverless(1, max_query_execution_time=5),
                 autoscaler={"threshold": 5, "window_s": 1.0, "cluster": serverless(1)},
                 scheduled=[{"at_s": 0.0, "cluster": serverless(1), "lifetime_s": 2.0}])
    ctl = PoolController(prepare(workload([0.0, 3.0], [9.0, 1.0]), cfg, None))
    assert ctl.advance(0.0) == [Request(0.0, 1), Start(0.0, 0, 0, timeout_s=5.0)]
    assert ctl.ready(1, 1.0) == []
    assert ctl.advance(3.0) == [Remove(3.0, 1)]
    assert ctl.cluster[1] == 0 and ctl.queued_total == 1
    assert ctl.complete(0, 0, 5.0, "timeout") == [Start(5.0, 0, 1, timeout_s=5.0)]
    assert ctl.complete(0, 1, 6.0, "ok") == [] and ctl.finished
    assert ctl.status.tolist() == [STATUS_TIMEOUT, STATUS_OK]
    one = prepare(workload([0.0], [1.0]), cfg, None)
    enforced = PoolController(one, [True] * len(one.specs))
    assert enforced.advance(0.0)[-1] == Start(0.0, 0, 0)  # the warehouse keeps its own timeout


def drive_like_the_simulator(ctl: PoolController, end: np.ndarray, status: list[str],
                             spin_up_delay_s: float) -> list[Decision]:
    """Feed the controller every event in the engine's order: queries end at `end`, requested
    clusters are ready `spin_up_delay_s` later; the rest is the controller's own (`advance`)."""
    log: list[Decision] = []
    started = itertools.count()
    running: dict[int, tuple[float, int, bool, int]] = {}  # query -> (end, cluster, timeout, seq)
    for _ in range(50 * (ctl.n + 10)):  # a pool that never settles fails, not hangs
        ends = sorted((v, j) for j, v in running.items())
        readies = sorted((c.requested + spin_up_delay_s, c.index) for c in ctl.clusters
                         if c.state == PENDING)
        t = min(ends[0][0][0] if ends else INF, readies[0][0] if readies else INF, ctl.next_due())
        if t == INF:
            return log
        if ends and ends[0][0][0] == t:
            (_, c, _, _), j = ends[0]
            del running[j]
            decisions = ctl.complete(c, j, t, status[j])
        elif readies and readies[0][0] == t:
            decisions = ctl.ready(readies[0][1], t)
        else:
            decisions = ctl.advance(t)
        for d in decisions:
            if isinstance(d, Start):
                running[d.query] = (float(end[d.query]), d.cluster, status[d.query] == "timeout",
                                    next(started))
        log += decisions
    raise AssertionError(f"the controller still has events due after {len(log)} decisions")


@pytest.mark.parametrize("router", ["least_loaded", "round_robin", "predicted_latency"])
def test_the_controller_decides_what_the_simulator_decides(router: str) -> None:
    rng = np.random.default_rng(7)
    arrival = np.sort(np.concatenate([rng.uniform(0, 4, 30), rng.uniform(10, 12, 25),
                                      rng.uniform(20, 30, 15)])).round(3)
    runtime = rng.uniform(0.3, 2.5, arrival.size).round(3)
    cfg = config(router, spin_up_delay_s=1.5, max_clusters=4,
                 initial=serverless(2, max_query_execution_time=2),
                 autoscaler={"threshold": 3, "window_s": 0.5, "cluster": serverless(2),
                             "min_lifetime_s": 3.0, "idle_teardown_s": 1.0},
                 scheduled=[{"at_s": 9.0, "cluster": serverless(3), "lifetime_s": 4.0},
                            {"at_s": 21.0, "cluster": serverless(1)}])
    work = workload(arrival.tolist(), runtime.tolist())
    simulated = simulate(work, cfg, engine="event")
    queries = simulated.queries
    prepared = prepare(work, cfg, None)
    ctl = PoolController(prepared)
    log = drive_like_the_simulator(ctl, queries["end_s"].to_numpy(),
                                   queries["status"].cast(pl.String).to_list(), 1.5)
    assert ctl.finished and not ctl.errors
    assert ctl.start.tolist() == queries["start_s"].to_list()
    assert ctl.cluster.tolist() == queries["cluster_id"].to_list()
    replayed = tabulate(work, cfg, prepared, ctl.start, ctl.end, ctl.status, ctl.cluster, ctl.queue,
                        ClusterLives(**ctl.lives(INF)), "event", seconds=0.0,
                        execution_config_id=None)
    assert replayed.queries.equals(queries)
    assert replayed.clusters.equals(simulated.clusters)
    # the workload exercised every part: waiting, timeouts, both origins of added clusters,
    # a refused autoscaler request (cap or pending), drains and idle teardowns before the end
    clusters = simulated.clusters
    assert (queries["queue_s"] > 0).sum() > 10 and (queries["status"] == "timeout").any()
    assert set(clusters["origin"]) == {"initial", "autoscaler", "scheduled"}
    assert clusters.filter(pl.col("origin") == "autoscaler").height >= 2
    assert (clusters["removed_s"] < queries["end_s"].max()).sum() >= 2
    assert sum(isinstance(d, Remove) for d in log) == sum(c.state == REMOVED for c in ctl.clusters)
