"""A slow, readable reference simulator with the same semantics as the compiled engines.

It advances every running query's *remaining work* at each event (the textbook way), where the
engine uses per-cluster virtual time, so the two agree only if both are right.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from autoslo.sim._prepare import Prepared

INF = float("inf")


@dataclass
class _Cluster:
    spec: int
    queues: list[deque[int]]
    free: list[int]
    running: dict[int, float] = field(default_factory=dict)  # query -> remaining work


def reference_simulate(p: Prepared) -> tuple[np.ndarray, ...]:
    """Returns start, end, status (0 ok, 1 timeout), cluster, queue, like the engines."""
    n = p.arrival.shape[0]
    clusters = []
    for spec in p.initial_specs:
        lo, hi = p.spec_qoff[spec], p.spec_qoff[spec + 1]
        clusters.append(_Cluster(int(spec), [deque() for _ in range(hi - lo)],
                                 [int(min(s, n)) for s in p.q_slots[lo:hi]]))
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    status = np.zeros(n, np.int8)
    cluster_of = np.full(n, -1)
    queue_of = np.full(n, -1)
    deadline = np.full(n, INF)
    seq = np.zeros(n, np.int64)
    started = 0
    now = 0.0
    next_arrival = 0
    round_robin = 0

    def rate(c: _Cluster) -> float:
        k = len(c.running)
        return 1.0 if p.capacity == INF or k == 0 else min(1.0, p.capacity / k)

    def begin(c: _Cluster, j: int, t: float) -> None:
        nonlocal started
        c.running[j] = p.runtime[j, p.spec_shape[c.spec]]
        deadline[j] = t + p.q_timeout[p.spec_qoff[c.spec] + queue_of[j]]
        start[j] = t
        seq[j] = started
        started += 1

    while True:
        # candidates: (time, kind, cluster index, seq, query, timed_out); kind 0 = completion
        candidates = []
        for index, c in enumerate(clusters):
            r = rate(c)
            for j, remaining in c.running.items():
                finish = now + remaining / r
                if deadline[j] < finish:
                    candidates.append((deadline[j], 0, index, seq[j], j, True))
                else:
                    candidates.append((finish, 0, index, seq[j], j, False))
        if next_arrival < n:
            candidates.append((p.arrival[next_arrival], 1, 0, 0, next_arrival, False))
        if not candidates:
            break
        t, kind, index, _, j, timed_out = min(candidates)
        for c in clusters:
            r = rate(c)
            for q in c.running:
                c.running[q] -= (t - now) * r
        now = t
        if kind == 0:
            c = clusters[index]
            del c.running[j]
            end[j] = t
            status[j] = 1 if timed_out else 0
            q = queue_of[j]
            if c.queues[q]:
                begin(c, c.queues[q].popleft(), t)
            else:
                c.free[q] += 1
            continue
        next_arrival += 1
        if p.router == 1:  # least loaded: fewest running + queued per slot, lowest index
            loads = [(len(c.running) + sum(map(len, c.queues)))
                     / sum(min(int(s), n) for s in p.q_slots[p.spec_qoff[c.spec]:
                                                            p.spec_qoff[c.spec + 1]])
                     for c in clusters]
            index = int(np.argmin(loads))
        else:
            index = round_robin % len(clusters)
            round_robin += 1
        c = clusters[index]
        q = int(p.qmap[c.spec, j])
        cluster_of[j] = index
        queue_of[j] = q
        if c.free[q] > 0:
            c.free[q] -= 1
            begin(c, j, t)
        else:
            c.queues[q].append(j)
    return start, end, status, cluster_of, queue_of
