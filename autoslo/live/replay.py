"""Open-loop replay of a workload on live clusters, with the simulator's policies.

A controller thread owns the pool state and mirrors the simulator's event loop in real time:
queries are routed at their arrival offsets (however slow the clusters are) by
`autoslo.policies.route`; a query waits in its cluster's client-side WLM queue when the target
cannot enforce WLM itself (PostgreSQL), and runs on a connection from that cluster's pool in a
worker thread. The reactive autoscaler, scheduled spin-ups, drains and idle teardowns use the same
policy functions and the same order of checks as `autoslo.sim`'s engine. The queue of each query
(user/query groups, short query acceleration) comes from `autoslo.sim.prepare`, so routing inputs
are identical in both.

On the postgres target a requested cluster becomes ready no earlier than the config's
`spin_up_delay_s` (local servers start in a second; Redshift's take minutes, which the config
states). Stopping (SIGINT/SIGTERM via `stop`) aborts what has not finished; the caller tears down.
"""

from __future__ import annotations

import queue as queues
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoslo.live.target import Driver, Endpoint, Provisioner, QueryOutcome
from autoslo.policies import (
    PREDICTED_LATENCY,
    may_add_cluster,
    predicted_finish_s,
    queue_depth_trigger_at,
    route,
    teardown_at,
)
from autoslo.sim import Prepared

INF = float("inf")
MAX_CLIENT_SLOTS = 64  # in-flight queries per queue when the config sets no limit
PENDING, ACTIVE, DRAINING, REMOVED = range(4)
ORIGIN_INITIAL, ORIGIN_AUTOSCALER, ORIGIN_SCHEDULED = 0, 1, 2
STATUS_CODE = {"ok": 0, "timeout": 1, "failed": 2, "aborted": 3}


@dataclass
class LiveCluster:
    """One cluster of the pool as the controller sees it."""

    index: int
    spec: int
    origin: int
    requested: float
    slots: list[int]                      # free slots per local queue
    waiting: list[deque[int]]             # queued query indices per local queue
    removable: bool = False
    life: float = INF
    state: int = PENDING
    ready: float = INF
    removed: float = INF
    drain_at: float = INF
    teardown: float = INF
    endpoint: Endpoint | None = None
    running: set[int] = field(default_factory=set)
    idle_connections: list[Any] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return sum(len(w) for w in self.waiting)


@dataclass
class ReplayResult:
    """Per-query arrays (workload row order) and cluster lives, ready for `autoslo.sim.tabulate`."""

    start: np.ndarray
    end: np.ndarray
    status: np.ndarray
    cluster: np.ndarray
    queue: np.ndarray
    lives: dict[str, np.ndarray]
    errors: list[tuple[int, str, str]]    # (row, status, error text)
    complete: bool
    dispatch_lag_s: np.ndarray            # how late each query was sent after its arrival offset
    wall_s: float


class Replay:
    """One replay; `run()` blocks until every query ended or `stop` was set."""

    def __init__(self, prepared: Prepared, sql_of: Callable[[int], str], query_ids: np.ndarray,
                 provisioner: Provisioner, driver: Driver, *, run_tag: str,
                 emulate_spin_up_delay: bool, stop: threading.Event | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.p = prepared
        self.sql_of = sql_of
        self.query_ids = query_ids
        self.provisioner = provisioner
        self.driver = driver
        self.run_tag = run_tag
        self.emulate_delay = emulate_spin_up_delay
        self.stop = stop or threading.Event()
        self.progress = progress
        n = prepared.arrival.shape[0]
        self.n = n
        self.start = np.full(n, np.nan)
        self.end = np.full(n, np.nan)
        self.status = np.full(n, -1, np.int8)
        self.cluster = np.full(n, -1, np.int64)
        self.queue = np.zeros(n, np.int64)
        self.lag = np.full(n, np.nan)
        self.errors: list[tuple[int, str, str]] = []
        self.clusters: list[LiveCluster] = []
        self.events: queues.Queue[tuple[Any, ...]] = queues.Queue()
        self.rr = 0
        self.queued_total = 0
        self.above_since = INF
        self.as_fire = INF
        self.pending = 0
        self.done = 0
        self.inflight = 0
        slots_total = int(sum(min(int(s), MAX_CLIENT_SLOTS) for s in prepared.q_slots))
        self.pool = ThreadPoolExecutor(max_workers=max(4, min(256, slots_total * 4)),
                                       thread_name_prefix="autoslo-query")
        self.t0 = 0.0
        self.removals: list[threading.Thread] = []

    # ---- clock ------------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    # ---- the pool ---------------------------------------------------------------------------
    def _new_cluster(self, spec: int, origin: int, t: float, life: float = INF) -> LiveCluster:
        p = self.p
        lo, hi = int(p.spec_qoff[spec]), int(p.spec_qoff[spec + 1])
        warehouse = self._warehouse_enforces(spec)
        slots = [INF if warehouse else min(int(s), MAX_CLIENT_SLOTS) for s in p.q_slots[lo:hi]]
        cluster = LiveCluster(index=len(self.clusters), spec=spec, origin=origin, requested=t,
                              slots=slots, waiting=[deque() for _ in slots],  # type: ignore[arg-type]
                              removable=p.autoscaler_on and life == INF and origin != ORIGIN_INITIAL,
                              life=life)
        self.clusters.append(cluster)
        return cluster

    def _warehouse_enforces(self, spec: int) -> bool:
        """Redshift enforces WLM queues; a Serverless concurrency cap is the client's to keep."""
        cluster = self.p.specs[spec]
        return self.driver.enforces_wlm and not (
            cluster.kind == "serverless" and getattr(cluster, "max_concurrency", None) is not None)

    def _provision(self, cluster: LiveCluster) -> None:
        """Start a cluster in a thread; the controller hears 'ready' (or 'lost') when it is up."""
        def work() -> None:
            try:
                endpoint = self.provisioner.start(self.p.specs[cluster.spec],
                                                  f"c{cluster.index}")
            except Exception as exc:  # reported to the controller, not lost
                self.events.put(("lost", cluster.index, f"{type(exc).__name__}: {exc}"))
                return
            not_before = cluster.requested + self.p.spin_up_delay_s if self.emulate_delay else 0.0
            wait = not_before - self.now()
            if wait > 0:
                self.stop.wait(wait)
            self.events.put(("ready", cluster.index, endpoint))
        threading.Thread(target=work, name=f"autoslo-provision-{cluster.index}", daemon=True).start()

    def _live(self) -> list[LiveCluster]:
        return [c for c in self.clusters if c.state != REMOVED]

    def _request(self, spec: int, origin: int, t: float, life: float = INF) -> None:
        cluster = self._new_cluster(spec, origin, t, life)
        self.pending += 1
        self._provision(cluster)

    def _remove(self, cluster: LiveCluster, t: float) -> None:
        cluster.state = REMOVED
        cluster.removed = t
        cluster.teardown = INF
        connections, cluster.idle_connections = cluster.idle_connections, []
        endpoint = cluster.endpoint

        def work() -> None:
            for connection in connections:
                self.driver.close(connection)
            if endpoint is not None:
                self.provisioner.stop(endpoint)
        thread = threading.Thread(target=work, name=f"autoslo-remove-{cluster.index}", daemon=True)
        thread.start()
        self.removals.append(thread)

    # ---- queries ----------------------------------------------------------------------------
    def _arrive(self, j: int, t: float) -> None:
        p = self.p
        self.lag[j] = t - p.arrival[j]
        k = len(self.clusters)
        eligible = np.array([c.state == ACTIVE for c in self.clusters], np.bool_)
        if not eligible.any():  # every cluster is gone or starting: the first live one takes it
            eligible = np.array([c.state in (ACTIVE, PENDING) for c in self.clusters], np.bool_)
        running = np.array([len(c.running) for c in self.clusters], np.int64)
        waiting = np.array([c.queued for c in self.clusters], np.int64)
        slots = np.array([float(sum(c.slots) + len(c.running)) for c in self.clusters])
        predicted = np.full(k, INF)
        if p.router == PREDICTED_LATENCY:
            for c in self.clusters:
                if eligible[c.index]:
                    predicted[c.index] = self._predicted_finish(c, j, t)
        if not eligible.any():
            self.start[j] = self.end[j] = t
            self.status[j] = STATUS_CODE["failed"]
            self.errors.append((j, "failed", "no cluster is left to run it"))
            self.done += 1
            return
        chosen, self.rr = route(p.router, eligible, k, self.rr, running, waiting, slots, predicted)
        cluster = self.clusters[int(chosen)]
        q = int(p.qmap[cluster.spec, j])
        self.cluster[j] = cluster.index
        self.queue[j] = q
        if cluster.teardown < INF:
            cluster.teardown = INF
        if cluster.state == ACTIVE and cluster.slots[q] > 0:
            self._dispatch(cluster, q, j, t)
        else:
            cluster.waiting[q].append(j)
            self.queued_total += 1
            if p.autoscaler_on and self.queued_total >= p.autoscaler_threshold and \
                    self.above_since == INF:
                self.above_since = t
                self.as_fire = queue_depth_trigger_at(self.queued_total, p.autoscaler_threshold,
                                                      self.above_since, p.autoscaler_window_s)

    def _predicted_finish(self, cluster: LiveCluster, j: int, t: float) -> float:
        p = self.p
        q = int(p.qmap[cluster.spec, j])
        shape = int(p.spec_shape[cluster.spec])
        ahead = float(sum(p.runtime[x, shape] for x in cluster.waiting[q]))
        slot_free = cluster.slots[q] > 0
        if not slot_free:
            ahead += sum(max(0.0, p.runtime[x, shape] - (t - self.start[x]))
                         for x in cluster.running if self.queue[x] == q)
        n_slots = min(int(p.q_slots[int(p.spec_qoff[cluster.spec]) + q]), self.n)
        return float(predicted_finish_s(slot_free, ahead, n_slots, p.runtime[j, shape],
                                        p.joining_slowdown(j, cluster.spec, cluster.running)))

    def _dispatch(self, cluster: LiveCluster, q: int, j: int, t: float) -> None:
        cluster.slots[q] -= 1
        cluster.running.add(j)
        self.start[j] = t
        self.inflight += 1
        timeout = self.p.q_timeout[int(self.p.spec_qoff[cluster.spec]) + q]
        timeout_s = None if (timeout == INF or self._warehouse_enforces(cluster.spec)) else float(timeout)
        connection = cluster.idle_connections.pop() if cluster.idle_connections else None
        assert cluster.endpoint is not None
        self.pool.submit(self._execute, cluster.index, cluster.endpoint, connection, j, timeout_s)

    def _execute(self, c: int, endpoint: Endpoint, connection: Any, j: int,
                 timeout_s: float | None) -> None:
        """Worker thread: run one query (retry once on a dropped connection), report to the loop."""
        tag = f"autoslo run={self.run_tag} query_id={int(self.query_ids[j])}"
        outcome: QueryOutcome | None = None
        for attempt in range(2):
            try:
                if connection is None:
                    connection = self.driver.connect(endpoint)
                outcome = self.driver.run(connection, self.sql_of(j), tag=tag, timeout_s=timeout_s)
                if attempt:
                    outcome = QueryOutcome(outcome.status, outcome.error, retried=True)
                break
            except Exception as exc:  # dropped connection: retry once, then record
                if connection is not None:
                    self.driver.close(connection)
                connection = None
                outcome = QueryOutcome("failed", f"{type(exc).__name__}: {exc}"[:300],
                                       retried=attempt == 1)
                if self.stop.is_set():
                    break
        self.events.put(("done", c, j, self.now(), outcome, connection))

    def _finish(self, c: int, j: int, t: float, outcome: QueryOutcome, connection: Any) -> None:
        cluster = self.clusters[c]
        self.inflight -= 1
        cluster.running.discard(j)
        if connection is not None:
            if cluster.state == REMOVED:
                self.driver.close(connection)
            else:
                cluster.idle_connections.append(connection)
        if self.status[j] < 0:  # an aborted query keeps its status
            self.end[j] = t
            self.status[j] = STATUS_CODE[outcome.status]
            if outcome.error:
                self.errors.append((j, outcome.status, outcome.error + (
                    " (after one retry on a new connection)" if outcome.retried else "")))
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.n)
        q = int(self.queue[j])
        if cluster.waiting[q] and cluster.state != REMOVED:
            h = cluster.waiting[q].popleft()
            self.queued_total -= 1
            cluster.slots[q] += 1
            self._dispatch(cluster, q, h, t)
            if self.queued_total < self.p.autoscaler_threshold:
                self.above_since = INF
                self.as_fire = INF
        else:
            cluster.slots[q] += 1
        if not cluster.running and not cluster.queued:
            if cluster.state == DRAINING:
                self._remove(cluster, t)
            elif cluster.removable:
                cluster.teardown = teardown_at(t, cluster.ready, self.p.autoscaler_idle_teardown_s,
                                               self.p.autoscaler_min_lifetime_s)

    def _ready(self, c: int, t: float, endpoint: Endpoint) -> None:
        cluster = self.clusters[c]
        cluster.endpoint = endpoint
        self.pending -= 1
        if self.stop.is_set():
            cluster.ready = t
            self._remove(cluster, t)
            return
        cluster.state = ACTIVE
        cluster.ready = t
        if cluster.life < INF:
            cluster.drain_at = t + cluster.life
        if cluster.removable:
            cluster.teardown = teardown_at(t, t, self.p.autoscaler_idle_teardown_s,
                                           self.p.autoscaler_min_lifetime_s)
        for q, waiting in enumerate(cluster.waiting):  # queries routed while it was starting
            while waiting and cluster.slots[q] > 0:
                self.queued_total -= 1
                self._dispatch(cluster, q, waiting.popleft(), t)

    def _lost(self, c: int, t: float, reason: str) -> None:
        """A requested cluster could not be created: it never serves; its queue fails."""
        cluster = self.clusters[c]
        self.pending -= 1
        cluster.state, cluster.removed = REMOVED, t
        self.errors.append((-1, "failed", f"cluster c{c}: {reason}"))
        for waiting in cluster.waiting:
            while waiting:
                j = waiting.popleft()
                self.queued_total -= 1
                self.start[j] = self.end[j] = t
                self.status[j] = STATUS_CODE["failed"]
                self.errors.append((j, "failed", f"its cluster c{c} could not be created"))
                self.done += 1

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> ReplayResult:
        p = self.p
        initial = [self._new_cluster(int(s), ORIGIN_INITIAL, 0.0) for s in p.initial_specs]
        try:
            endpoints = list(self.pool.map(
                lambda c: self.provisioner.start(p.specs[c.spec], f"c{c.index}"), initial))
        except BaseException:
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        for cluster, endpoint in zip(initial, endpoints, strict=True):
            cluster.endpoint, cluster.state, cluster.ready = endpoint, ACTIVE, 0.0
        self._warm_up()
        began = time.monotonic()
        self.t0 = began
        i = si = 0
        held: tuple[Any, ...] | None = None
        while True:
            t = self.now()
            while True:  # notifications from workers and provisioners, in arrival order
                if held is not None:
                    event, held = held, None
                else:
                    try:
                        event = self.events.get_nowait()
                    except queues.Empty:
                        break
                if event[0] == "done":
                    self._finish(event[1], event[2], event[3], event[4], event[5])
                elif event[0] == "ready":
                    self._ready(event[1], self.now(), event[2])
                else:
                    self._lost(event[1], self.now(), event[2])
            if self.stop.is_set():
                break
            t = self.now()
            for cluster in self._live():  # drains and idle teardowns that are due
                if cluster.state == ACTIVE and cluster.drain_at <= t:
                    cluster.state = DRAINING
                    cluster.drain_at = cluster.teardown = INF
                    if not cluster.running and not cluster.queued:
                        self._remove(cluster, t)
                elif cluster.state == ACTIVE and cluster.teardown <= t:
                    self._remove(cluster, t)
            while si < p.sched_t.shape[0] and p.sched_t[si] <= t:
                if len(self._live()) < p.max_clusters:
                    self._request(int(p.sched_spec[si]), ORIGIN_SCHEDULED, t,
                                  float(p.sched_life[si]))
                si += 1
            if p.autoscaler_on and self.as_fire <= t:
                allowed = may_add_cluster(len(self._live()), self.pending, p.max_clusters)
                self.as_fire = INF
                if self.queued_total >= p.autoscaler_threshold:
                    self.above_since = t
                    self.as_fire = queue_depth_trigger_at(self.queued_total, p.autoscaler_threshold,
                                                          self.above_since, p.autoscaler_window_s)
                if allowed:
                    self._request(int(p.autoscaler_spec), ORIGIN_AUTOSCALER, t)
            while i < self.n and p.arrival[i] <= t:
                self._arrive(i, t)
                i += 1
            if i >= self.n and self.done >= self.n:
                break
            upcoming = [p.arrival[i] if i < self.n else INF, self.as_fire,
                        p.sched_t[si] if si < p.sched_t.shape[0] else INF]
            upcoming += [min(c.drain_at, c.teardown) for c in self._live()]
            wait = max(0.0, min(min(upcoming) - self.now(), 0.25))
            if wait > 0:
                try:
                    held = self.events.get(timeout=wait)  # handled at the top of the loop
                except queues.Empty:
                    held = None
        return self._wrap_up(i, time.monotonic() - began)

    def _warm_up(self) -> None:
        """Compile the policy functions for these argument types now, not at the first arrival."""
        p = self.p
        one = np.ones(1, np.bool_)
        count = np.zeros(1, np.int64)
        route(p.router, one, 1, 0, count, count, np.ones(1), np.zeros(1))
        predicted_finish_s(True, 0.0, 1, float(p.runtime[0, 0]) if self.n else 0.0, 1.0)
        queue_depth_trigger_at(0, float(p.autoscaler_threshold), INF, float(p.autoscaler_window_s))
        may_add_cluster(1, 0, p.max_clusters)
        teardown_at(0.0, 0.0, float(p.autoscaler_idle_teardown_s), float(p.autoscaler_min_lifetime_s))

    def _wrap_up(self, arrived: int, wall_s: float) -> ReplayResult:
        """Abort what did not finish, close connections and lay out the result arrays."""
        t = self.now()
        complete = not self.stop.is_set()
        for j in range(self.n):
            if self.status[j] < 0:
                self.status[j] = STATUS_CODE["aborted"]
                moment = max(t, float(self.p.arrival[j]))
                if np.isnan(self.start[j]):
                    self.start[j] = moment
                self.end[j] = moment
                if self.cluster[j] < 0:
                    self.cluster[j] = 0  # never routed: counted on the first cluster
        self.pool.shutdown(wait=complete, cancel_futures=True)
        for thread in self.removals:
            thread.join(timeout=60)
        for cluster in self.clusters:
            for connection in cluster.idle_connections:
                self.driver.close(connection)
            cluster.idle_connections = []
        lives = {
            "spec": np.array([c.spec for c in self.clusters], np.int64),
            "origin": np.array([c.origin for c in self.clusters], np.int8),
            "requested": np.array([c.requested for c in self.clusters]),
            "ready": np.array([c.ready for c in self.clusters]),
            "removed": np.array([min(c.removed, t) for c in self.clusters]),
            "parent": np.full(len(self.clusters), -1, np.int64),
        }
        return ReplayResult(self.start, self.end, self.status, self.cluster, self.queue, lives,
                            self.errors, complete, self.lag, wall_s)

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint this replay started that has not been handed to a removal yet."""
        return [c.endpoint for c in self.clusters if c.endpoint is not None and c.state != REMOVED]
