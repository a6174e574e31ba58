"""The live replay's pool controller: the simulator's state machine over explicit events (pure).

It holds the pool (clusters pending, active, draining or removed; their client-side queues and
slots) and each query's record, and decides with `autoslo.policies` what happens at each event:
where an arrival goes, when a query starts, when a cluster is requested, drained or torn down.
It does no I/O and reads no clock: the caller (`autoslo.live.replay`, or a test) passes the time
of every event and carries out the decisions it gets back (`Start`, `Request`, `Remove`).

The caller reports what the outside world did (`complete`, `ready`, `lost`); `advance(t)` handles
everything else due by `t`, earliest first, acting at `t`. Events at equal times go in the
engine's order: completions, clusters ready, drains, teardowns, scheduled spin-ups, the
autoscaler, arrivals; lower cluster index first. State is named like the engine's (`state`,
`ready`, `drain`, `teardown`, `queued_total`, `above_since`, `as_fire`, `n_pending`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from autoslo.policies import (
    ACTIVE,
    ARRIVAL,
    AUTOSCALER,
    DRAIN,
    DRAINING,
    ORIGIN_AUTOSCALER,
    ORIGIN_INITIAL,
    ORIGIN_SCHEDULED,
    PENDING,
    PREDICTED_LATENCY,
    REMOVED,
    SCHEDULED,
    STATUS_ABORTED,
    STATUS_FAILED,
    STATUS_OK,
    STATUS_TIMEOUT,
    TEARDOWN,
    may_add_cluster,
    predicted_finish_s,
    queue_depth_trigger_at,
    route,
    teardown_at,
)
from autoslo.sim import Prepared

INF = float("inf")
MAX_CLIENT_SLOTS = 64  # in-flight queries per queue when the config sets no limit
STATUS_CODE = {"ok": STATUS_OK, "timeout": STATUS_TIMEOUT, "failed": STATUS_FAILED,
               "aborted": STATUS_ABORTED}


@dataclass(frozen=True)
class Start:
    """Run query `query` on cluster `cluster` at `t`; `timeout_s` is the client's limit (None: none)."""

    t: float
    cluster: int
    query: int
    timeout_s: float | None = None


@dataclass(frozen=True)
class Request:
    """Create cluster `cluster` at `t` (its spec is `clusters[cluster].spec`); report `ready` or `lost`."""

    t: float
    cluster: int


@dataclass(frozen=True)
class Remove:
    """Remove cluster `cluster` at `t`: close its connections and stop it."""

    t: float
    cluster: int


Decision = Start | Request | Remove


@dataclass
class Cluster:
    """One cluster of the pool: its life (as the engine's `c_*` arrays) and its client-side queues."""

    index: int
    spec: int
    origin: int
    requested: float
    free: list[float]                     # free slots per local queue (inf: the warehouse limits)
    waiting: list[deque[int]]             # queued query indices per local queue
    slots: float = 0.0                    # all slots (free + running): least_loaded's denominator
    removable: bool = False               # removed after idle_teardown_s idle
    life: float = INF                     # a scheduled cluster's lifetime
    state: int = PENDING
    ready: float = INF
    removed: float = INF
    drain: float = INF                    # when its lifetime ends
    teardown: float = INF                 # when it goes if it stays idle
    running: set[int] = field(default_factory=set)

    @property
    def queued(self) -> int:
        return sum(len(w) for w in self.waiting)

    @property
    def idle(self) -> bool:
        return not self.running and not self.queued


class PoolController:
    """The pool of one replay and every query's record; each event call returns its decisions.

    `enforced[s]` says whether the warehouse keeps spec s's WLM limits itself (then the client
    neither queues nor times out its queries); by default the client keeps them all.
    """

    def __init__(self, prepared: Prepared, enforced: Sequence[bool] | None = None, *,
                 max_client_slots: int = MAX_CLIENT_SLOTS) -> None:
        self.p = prepared
        self.enforced = list(enforced) if enforced is not None else [False] * len(prepared.specs)
        self.max_client_slots = max_client_slots
        n = prepared.arrival.shape[0]
        self.n = n
        self.start = np.full(n, np.nan)
        self.end = np.full(n, np.nan)
        self.status = np.full(n, -1, np.int8)
        self.cluster = np.full(n, -1, np.int64)
        self.queue = np.zeros(n, np.int64)
        self.lag = np.full(n, np.nan)        # how late each arrival was handled
        self.errors: list[tuple[int, str, str]] = []  # (query, status, error text); -1: no query
        self.clusters: list[Cluster] = []
        self.rr = 0
        self.queued_total = 0
        self.above_since = INF
        self.as_fire = INF
        self.n_pending = 0
        self.done = 0
        self.i = 0                           # the next arrival
        self.si = 0                          # the next scheduled spin-up
        for s in prepared.initial_specs:
            cluster = self._new_cluster(int(s), ORIGIN_INITIAL, 0.0)
            cluster.state, cluster.ready = ACTIVE, 0.0

    # ---- what the caller asks --------------------------------------------------------------
    def live(self) -> list[Cluster]:
        """The clusters not removed, in index order."""
        return [c for c in self.clusters if c.state != REMOVED]

    @property
    def finished(self) -> bool:
        """Every query arrived and ended."""
        return self.i >= self.n and self.done >= self.n

    def next_due(self) -> float:
        """When `advance` next has something to do (inf: only outside events remain)."""
        return self._earliest()[0]

    # ---- events ------------------------------------------------------------------------------
    def advance(self, t: float) -> list[Decision]:
        """Handle every drain, teardown, scheduled spin-up, autoscaler firing and arrival due by `t`."""
        out: list[Decision] = []
        p = self.p
        while True:
            due, kind, c = self._earliest()
            if due > t or due == INF:
                return out
            if kind == DRAIN:  # a scheduled cluster's lifetime is over: stop routing to it
                cluster = self.clusters[c]
                cluster.state = DRAINING
                cluster.drain = cluster.teardown = INF
                if cluster.idle:
                    out.append(self._remove(cluster, t))
            elif kind == TEARDOWN:
                out.append(self._remove(self.clusters[c], t))
            elif kind == SCHEDULED:
                si = self.si
                self.si += 1
                if len(self.live()) < p.max_clusters:
                    out.append(self._request(int(p.sched_spec[si]), ORIGIN_SCHEDULED, t,
                                             float(p.sched_life[si])))
            elif kind == AUTOSCALER:
                allowed = may_add_cluster(len(self.live()), self.n_pending, p.max_clusters)
                self.as_fire = INF
                if self.queued_total >= p.autoscaler_threshold:
                    self.above_since = t
                    self.as_fire = queue_depth_trigger_at(self.queued_total, p.autoscaler_threshold,
                                                          self.above_since, p.autoscaler_window_s)
                if allowed:
                    out.append(self._request(int(p.autoscaler_spec), ORIGIN_AUTOSCALER, t))
            else:
                j = self.i
                self.i += 1
                self._arrive(j, t, out)

    def complete(self, c: int, j: int, t: float, status: str,
                 error: str | None = None) -> list[Decision]:
        """Query j ended on cluster c at t (status ok, timeout or failed): its slot is free."""
        out: list[Decision] = []
        cluster = self.clusters[c]
        cluster.running.discard(j)
        if self.status[j] < 0:  # an aborted query keeps its status
            self.end[j] = t
            self.status[j] = STATUS_CODE[status]
            if error:
                self.errors.append((j, status, error))
            self.done += 1
        q = int(self.queue[j])
        if cluster.waiting[q] and cluster.state != REMOVED:
            h = cluster.waiting[q].popleft()
            self.queued_total -= 1
            cluster.free[q] += 1
            self._dispatch(cluster, q, h, t, out)
            if self.queued_total < self.p.autoscaler_threshold:
                self.above_since = INF
                self.as_fire = INF
        else:
            cluster.free[q] += 1
        if cluster.idle:
            if cluster.state == DRAINING:
                out.append(self._remove(cluster, t))
            elif cluster.removable:
                cluster.teardown = teardown_at(t, cluster.ready, self.p.autoscaler_idle_teardown_s,
                                               self.p.autoscaler_min_lifetime_s)
        return out

    def ready(self, c: int, t: float) -> list[Decision]:
        """Requested cluster c is ready at t: it takes queries (first those routed to it meanwhile)."""
        out: list[Decision] = []
        cluster = self.clusters[c]
        self.n_pending -= 1
        cluster.state = ACTIVE
        cluster.ready = t
        if cluster.life < INF:
            cluster.drain = t + cluster.life
        if cluster.removable:
            cluster.teardown = teardown_at(t, t, self.p.autoscaler_idle_teardown_s,
                                           self.p.autoscaler_min_lifetime_s)
        for q, waiting in enumerate(cluster.waiting):
            while waiting and cluster.free[q] > 0:
                self.queued_total -= 1
                self._dispatch(cluster, q, waiting.popleft(), t, out)
        return out

    def discard(self, c: int, t: float) -> list[Decision]:
        """Requested cluster c came up at t while the replay stops: removed at once, never used."""
        cluster = self.clusters[c]
        self.n_pending -= 1
        cluster.ready = t
        return [self._remove(cluster, t)]

    def lost(self, c: int, t: float, reason: str) -> list[Decision]:
        """Requested cluster c could not be created: it never serves; the queries it held fail."""
        cluster = self.clusters[c]
        self.n_pending -= 1
        cluster.state, cluster.removed = REMOVED, t
        self.errors.append((-1, "failed", f"cluster c{c}: {reason}"))
        for waiting in cluster.waiting:
            while waiting:
                j = waiting.popleft()
                self.queued_total -= 1
                self._fail(j, t, f"its cluster c{c} could not be created")
        return []

    def abort_unfinished(self, t: float) -> None:
        """End the replay at t: queries that did not end are aborted (never routed: cluster 0)."""
        self.start, self.end, self.status, self.cluster = self.ended_at(t)

    def ended_at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (start, end, status, cluster) as if the replay ended at t, the controller
        unchanged: a query that did not end is aborted at t (or at its arrival, if later), one
        never started starts then too, one never routed is on cluster 0 (billing needs finite
        times and a cluster; the result table nulls an aborted query's times)."""
        start, end = self.start.copy(), self.end.copy()
        status, cluster = self.status.copy(), self.cluster.copy()
        open_ = status < 0
        moment = np.maximum(t, self.p.arrival)
        start = np.where(open_ & np.isnan(start), moment, start)
        end = np.where(open_, moment, end)
        cluster[open_ & (cluster < 0)] = 0
        status[open_] = STATUS_ABORTED
        return start, end, status, cluster

    def lives(self, t: float) -> dict[str, np.ndarray]:
        """Each cluster's spec, origin and life times (removed at `t` at the latest), as the engine's."""
        return {
            "spec": np.array([c.spec for c in self.clusters], np.int64),
            "origin": np.array([c.origin for c in self.clusters], np.int8),
            "requested": np.array([c.requested for c in self.clusters]),
            "ready": np.array([c.ready for c in self.clusters]),
            "removed": np.array([min(c.removed, t) for c in self.clusters]),
            "parent": np.full(len(self.clusters), -1, np.int64),
        }

    def warm_up(self) -> None:
        """Compile the policy functions for these argument types now, not at the first arrival."""
        p = self.p
        one = np.ones(1, np.bool_)
        count = np.zeros(1, np.int64)
        route(p.router, one, 1, 0, count, count, np.ones(1), np.zeros(1))
        predicted_finish_s(True, 0.0, 1, float(p.runtime[0, 0]) if self.n else 0.0, 1.0)
        queue_depth_trigger_at(0, float(p.autoscaler_threshold), INF, float(p.autoscaler_window_s))
        may_add_cluster(1, 0, p.max_clusters)
        teardown_at(0.0, 0.0, float(p.autoscaler_idle_teardown_s), float(p.autoscaler_min_lifetime_s))

    # ---- the pool ------------------------------------------------------------------------------
    def _earliest(self) -> tuple[float, int, int]:
        """The next event `advance` handles: (time, kind, cluster), ties in the engine's order."""
        p = self.p
        best = (INF, -1, -1)
        for c in self.clusters:
            if c.state == ACTIVE:
                best = min(best, (c.drain, DRAIN, c.index), (c.teardown, TEARDOWN, c.index))
        if self.si < p.sched_t.shape[0]:
            best = min(best, (float(p.sched_t[self.si]), SCHEDULED, -1))
        if p.autoscaler_on:
            best = min(best, (self.as_fire, AUTOSCALER, -1))
        if self.i < self.n:
            best = min(best, (float(p.arrival[self.i]), ARRIVAL, -1))
        return best

    def _new_cluster(self, spec: int, origin: int, t: float, life: float = INF) -> Cluster:
        p = self.p
        lo, hi = int(p.spec_qoff[spec]), int(p.spec_qoff[spec + 1])
        free = [INF if self.enforced[spec] else float(min(int(s), self.max_client_slots))
                for s in p.q_slots[lo:hi]]
        cluster = Cluster(index=len(self.clusters), spec=spec, origin=origin, requested=t, free=free,
                          waiting=[deque() for _ in free], slots=float(sum(free)),
                          removable=p.autoscaler_on and life == INF and origin != ORIGIN_INITIAL,
                          life=life)
        self.clusters.append(cluster)
        return cluster

    def _request(self, spec: int, origin: int, t: float, life: float = INF) -> Request:
        cluster = self._new_cluster(spec, origin, t, life)
        self.n_pending += 1
        return Request(t, cluster.index)

    def _remove(self, cluster: Cluster, t: float) -> Remove:
        cluster.state = REMOVED
        cluster.removed = t
        cluster.teardown = INF
        return Remove(t, cluster.index)

    # ---- queries -------------------------------------------------------------------------------
    def _arrive(self, j: int, t: float, out: list[Decision]) -> None:
        """Route query j: it starts on its cluster if a slot is free, else waits in its queue."""
        p = self.p
        self.lag[j] = t - p.arrival[j]
        k = len(self.clusters)
        eligible = np.array([c.state == ACTIVE for c in self.clusters], np.bool_)
        if not eligible.any():  # every cluster is gone or starting: the first live one takes it
            eligible = np.array([c.state in (ACTIVE, PENDING) for c in self.clusters], np.bool_)
        if not eligible.any():
            self._fail(j, t, "no cluster is left to run it")
            return
        running = np.array([len(c.running) for c in self.clusters], np.int64)
        waiting = np.array([c.queued for c in self.clusters], np.int64)
        slots = np.array([c.slots for c in self.clusters])
        predicted = np.full(k, INF)
        if p.router == PREDICTED_LATENCY:
            for c in self.clusters:
                if eligible[c.index]:
                    predicted[c.index] = self._predicted_finish(c, j, t)
        chosen, self.rr = route(p.router, eligible, k, self.rr, running, waiting, slots, predicted)
        cluster = self.clusters[int(chosen)]
        q = int(p.qmap[cluster.spec, j])
        self.cluster[j] = cluster.index
        self.queue[j] = q
        cluster.teardown = INF  # busy again: no teardown
        if cluster.state == ACTIVE and cluster.free[q] > 0:
            self._dispatch(cluster, q, j, t, out)
            return
        cluster.waiting[q].append(j)
        self.queued_total += 1
        if p.autoscaler_on and self.queued_total >= p.autoscaler_threshold and self.above_since == INF:
            self.above_since = t
            self.as_fire = queue_depth_trigger_at(self.queued_total, p.autoscaler_threshold,
                                                  self.above_since, p.autoscaler_window_s)

    def _predicted_finish(self, cluster: Cluster, j: int, t: float) -> float:
        """Query j's predicted finish on `cluster`: the work queued and still running ahead of it."""
        p = self.p
        q = int(p.qmap[cluster.spec, j])
        shape = int(p.spec_shape[cluster.spec])
        ahead = float(sum(p.runtime[x, shape] for x in cluster.waiting[q]))
        slot_free = cluster.free[q] > 0
        if not slot_free:
            ahead += sum(max(0.0, p.runtime[x, shape] - (t - self.start[x]))
                         for x in cluster.running if self.queue[x] == q)
        n_slots = min(int(p.q_slots[int(p.spec_qoff[cluster.spec]) + q]), self.n)
        return float(predicted_finish_s(slot_free, ahead, n_slots, p.runtime[j, shape],
                                        p.joining_slowdown(j, cluster.spec, cluster.running)))

    def _dispatch(self, cluster: Cluster, q: int, j: int, t: float, out: list[Decision]) -> None:
        cluster.free[q] -= 1
        cluster.running.add(j)
        self.start[j] = t
        timeout = self.p.q_timeout[int(self.p.spec_qoff[cluster.spec]) + q]
        timeout_s = None if (timeout == INF or self.enforced[cluster.spec]) else float(timeout)
        out.append(Start(t, cluster.index, j, timeout_s))

    def _fail(self, j: int, t: float, reason: str) -> None:
        self.start[j] = self.end[j] = t
        self.status[j] = STATUS_FAILED
        self.errors.append((j, "failed", reason))
        self.done += 1
