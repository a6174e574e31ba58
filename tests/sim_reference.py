"""A slow, readable reference simulator with the same semantics as the compiled engines.

It advances every running query's *remaining work* at each event (the textbook way), where the
engine keeps a per-cluster virtual time, and it collects every possible next event and takes the
smallest (time, kind, cluster, start order), where the engine caches per-cluster minima. The two
agree only if both are right.

Event kinds at equal times: completion/timeout (0), cluster ready (1), drain (2), idle teardown
(3), scheduled spin-up (4), autoscaler (5), arrival (6).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from autoslo.sim._prepare import Prepared

INF = float("inf")
PENDING, ACTIVE, DRAINING, REMOVED = "pending", "active", "draining", "removed"


@dataclass
class Cluster:
    spec: int
    origin: int
    requested: float
    ready: float
    life: float = INF
    removable: bool = False
    state: str = ACTIVE
    removed: float = INF
    drain_at: float = INF
    teardown_at: float = INF
    parent: int = -1  # a concurrency-scaling (burst) cluster serves its parent's queue
    bursts: list[int] = field(default_factory=list)
    queues: list[deque[int]] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    running: dict[int, float] = field(default_factory=dict)  # query -> remaining work


def reference_simulate(p: Prepared) -> tuple[np.ndarray, ...]:
    """Returns start, end, status (0 ok, 1 timeout), cluster, queue, and the cluster lives."""
    n = p.arrival.shape[0]
    clusters: list[Cluster] = []
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    status = np.zeros(n, np.int8)
    cluster_of = np.full(n, -1)
    queue_of = np.full(n, -1)
    deadline = np.full(n, INF)
    seq = np.zeros(n, np.int64)
    state = {"started": 0, "now": 0.0, "rr": 0, "queued": 0, "above_since": INF, "fire": INF}

    def slots(spec: int) -> list[int]:
        return [int(min(s, n)) for s in p.q_slots[p.spec_qoff[spec]:p.spec_qoff[spec + 1]]]

    def open_cluster(spec: int, origin: int, requested: float, ready: float, **kw) -> None:
        c = Cluster(spec, origin, requested, ready, **kw)
        c.queues = [deque() for _ in slots(spec)]
        c.free = slots(spec)
        clusters.append(c)
        main = len(clusters) - 1
        burst_queues = p.q_burst[p.spec_qoff[spec]:p.spec_qoff[spec + 1]]
        for _ in range(int(p.spec_burst[spec])):
            b = Cluster(spec, 3, requested, ready, parent=main)
            b.queues = [deque() for _ in slots(spec)]
            b.free = [s if on else 0 for s, on in zip(slots(spec), burst_queues, strict=True)]
            c.bursts.append(len(clusters))
            clusters.append(b)

    for spec in p.initial_specs:
        open_cluster(int(spec), 0, 0.0, 0.0)

    def live() -> list[Cluster]:
        return [c for c in clusters if c.state != REMOVED]

    def rate(c: Cluster) -> float:
        k = len(c.running)
        return 1.0 if p.capacity == INF or k == 0 else min(1.0, p.capacity / k)

    def runtime(c: Cluster, j: int) -> float:
        return p.runtime[j, p.spec_shape[c.spec]]

    def begin(c: Cluster, j: int, t: float) -> None:
        c.running[j] = runtime(c, j)
        deadline[j] = t + p.q_timeout[p.spec_qoff[c.spec] + queue_of[j]]
        start[j] = t
        seq[j] = state["started"]
        state["started"] += 1

    def empty(c: Cluster) -> bool:
        return (not c.running and not any(c.queues)
                and not any(clusters[b].running for b in c.bursts))

    def idle_from(c: Cluster, t: float) -> None:
        c.teardown_at = max(t + p.autoscaler_idle_teardown_s,
                            c.ready + p.autoscaler_min_lifetime_s)

    def remove(c: Cluster, t: float) -> None:
        for x in [c, *(clusters[b] for b in c.bursts)]:
            x.state, x.removed, x.teardown_at = REMOVED, t, INF

    next_arrival = 0
    next_spin_up = 0
    while True:
        now = state["now"]
        candidates = []  # (time, kind, cluster index, start order, query or -1, timed out)
        for index, c in enumerate(clusters):
            if c.state in (ACTIVE, DRAINING):
                for j, remaining in c.running.items():
                    finish = now + remaining / rate(c)
                    timed_out = deadline[j] < finish
                    candidates.append((min(finish, deadline[j]), 0, index, seq[j], j, timed_out))
            if c.state == PENDING:
                candidates.append((c.ready, 1, index, 0, -1, False))
            if c.state == ACTIVE:
                candidates.append((c.drain_at, 2, index, 0, -1, False))
                candidates.append((c.teardown_at, 3, index, 0, -1, False))
        if next_spin_up < p.sched_t.shape[0]:
            candidates.append((p.sched_t[next_spin_up], 4, 0, 0, -1, False))
        if p.autoscaler_on:
            candidates.append((state["fire"], 5, 0, 0, -1, False))
        if next_arrival < n:
            candidates.append((p.arrival[next_arrival], 6, 0, 0, next_arrival, False))
        candidates = [c for c in candidates if c[0] < INF]
        if not candidates:
            break
        t, kind, index, _, j, timed_out = min(candidates)
        for c in clusters:
            r = rate(c)
            for q in c.running:
                c.running[q] -= (t - now) * r
        state["now"] = t
        if kind == 0:
            c = clusters[index]
            del c.running[j]
            end[j] = t
            status[j] = 1 if timed_out else 0
            q = queue_of[j]
            owner = c if c.parent < 0 else clusters[c.parent]
            if owner.queues[q]:
                state["queued"] -= 1
                h = owner.queues[q].popleft()
                cluster_of[h] = index
                begin(c, h, t)
                if state["queued"] < p.autoscaler_threshold:
                    state["above_since"] = state["fire"] = INF
            else:
                c.free[q] += 1
            c = owner
            if empty(c):
                if c.state == DRAINING:
                    remove(c, t)
                elif c.removable:
                    idle_from(c, t)
        elif kind == 1:
            c = clusters[index]
            c.state = ACTIVE
            if c.life < INF:
                c.drain_at = t + c.life
            if c.removable:
                idle_from(c, t)
        elif kind == 2:
            c = clusters[index]
            c.state, c.drain_at, c.teardown_at = DRAINING, INF, INF
            if empty(c):
                remove(c, t)
        elif kind == 3:
            remove(clusters[index], t)
        elif kind in (4, 5):
            n_live = len(live())
            if kind == 4:
                spec = int(p.sched_spec[next_spin_up])
                life = float(p.sched_life[next_spin_up])
                next_spin_up += 1
                allowed = n_live < p.max_clusters
            else:
                spec, life = p.autoscaler_spec, INF
                pending = sum(c.state == PENDING for c in clusters)
                allowed = pending == 0 and n_live < p.max_clusters
                state["fire"] = INF
                if state["queued"] >= p.autoscaler_threshold:
                    state["above_since"] = t
                    state["fire"] = t + p.autoscaler_window_s
            if allowed:
                open_cluster(spec, 2 if kind == 4 else 1, t, t + p.spin_up_delay_s, life=life,
                             removable=p.autoscaler_on and life == INF, state=PENDING)
        else:
            next_arrival += 1
            eligible = [i for i, c in enumerate(clusters) if c.state == ACTIVE and c.parent < 0]
            if p.router == 0:
                index = eligible[state["rr"] % len(eligible)]
                state["rr"] += 1
            else:
                scores = []
                for i in eligible:
                    c = clusters[i]
                    q = int(p.qmap[c.spec, j])
                    if p.router == 1:
                        scores.append((len(c.running) + sum(map(len, c.queues)))
                                      / sum(slots(c.spec)))
                        continue
                    queue_slots = slots(c.spec)[q]
                    ahead = sum(runtime(c, w) for w in c.queues[q]) + sum(
                        rem for r, rem in c.running.items() if queue_of[r] == q)
                    slot_free = c.free[q] > 0 or any(clusters[b].free[q] > 0 for b in c.bursts)
                    wait = 0.0 if slot_free else ahead / queue_slots
                    slow = 1.0 if p.capacity == INF else max(1.0, (len(c.running) + 1)
                                                            / p.capacity)
                    scores.append(wait + runtime(c, j) * slow)
                index = eligible[int(np.argmin(scores))]
            c = clusters[index]
            q = int(p.qmap[c.spec, j])
            queue_of[j] = q
            c.teardown_at = INF
            if c.free[q] == 0:  # a full queue spills to a burst cluster with a free slot
                for b in c.bursts:
                    if clusters[b].free[q] > 0:
                        index, c = b, clusters[b]
                        break
            cluster_of[j] = index
            if c.free[q] > 0:
                c.free[q] -= 1
                begin(c, j, t)
            else:
                c.queues[q].append(j)
                state["queued"] += 1
                if (p.autoscaler_on and state["queued"] >= p.autoscaler_threshold
                        and state["above_since"] == INF):
                    state["above_since"] = t
                    state["fire"] = t + p.autoscaler_window_s
    lives = (np.array([c.spec for c in clusters]), np.array([c.origin for c in clusters]),
             np.array([c.requested for c in clusters]), np.array([c.ready for c in clusters]),
             np.array([c.removed for c in clusters]), np.array([c.parent for c in clusters]))
    return start, end, status, cluster_of, queue_of, lives
