"""The compiled engines (numba). Pure array code: no Python objects, no I/O.

Two engines with identical semantics (see `autoslo.sim` for the model):

- `fifo_queues`: the fast path for pools whose queues are independent (no contention, a fixed
  pool, routing that does not look at the state): each (cluster, queue) is a FIFO multi-server
  queue, so a query starts at max(arrival, earliest free slot).
- `event_loop`: the general engine, a discrete-event loop over arrivals, completions and
  timeouts, with processor-sharing contention per cluster and state-dependent routing.

Ties are broken by (time, event kind, sequence): completions and timeouts before arrivals, lower
cluster index first, then the earlier-started query.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf
STATUS_OK = 0
STATUS_TIMEOUT = 1
ROUTER_ROUND_ROBIN = 0
ROUTER_LEAST_LOADED = 1


@njit(cache=True, nogil=True)
def fifo_queues(arrival, runtime, cluster_of, cluster_spec, spec_shape, spec_qoff, q_slots,
                q_timeout, qmap):  # pragma: no cover - compiled
    """Independent FIFO queues: each query's cluster is given (`cluster_of`)."""
    n = arrival.shape[0]
    n_clusters = cluster_spec.shape[0]
    qmax = 1
    for s in range(spec_shape.shape[0]):
        qmax = max(qmax, spec_qoff[s + 1] - spec_qoff[s])
    smax = 1
    for q in range(q_slots.shape[0]):
        smax = max(smax, min(q_slots[q], n))
    free_at = np.zeros((n_clusters * qmax, smax))
    start = np.empty(n)
    end = np.empty(n)
    status = np.zeros(n, np.int8)
    queue = np.empty(n, np.int16)
    for i in range(n):
        c = cluster_of[i]
        s = cluster_spec[c]
        q = qmap[s, i]
        gq = spec_qoff[s] + q
        row = c * qmax + q
        slots = min(q_slots[gq], n)
        best = 0
        best_t = free_at[row, 0]
        for k in range(1, slots):
            if free_at[row, k] < best_t:
                best_t = free_at[row, k]
                best = k
        t0 = arrival[i] if arrival[i] > best_t else best_t
        r = runtime[i, spec_shape[s]]
        limit = q_timeout[gq]
        if r > limit:
            end[i] = t0 + limit
            status[i] = STATUS_TIMEOUT
        else:
            end[i] = t0 + r
        start[i] = t0
        queue[i] = q
        free_at[row, best] = end[i]
    return start, end, status, queue


@njit(cache=True, nogil=True, inline="always")
def _advance(c, t, vtime, last_t, nrun, capacity):  # pragma: no cover - compiled
    """Bring cluster c's virtual time (work served per running query) up to wall time t."""
    if capacity == INF:
        vtime[c] = t
    elif nrun[c] > 0:
        rate = min(1.0, capacity / nrun[c])
        vtime[c] += (t - last_t[c]) * rate
    last_t[c] = t


@njit(cache=True, nogil=True, inline="always")
def _next_event(c, run, nrun, tag, deadline, seq, vtime, last_t, capacity, next_t, next_j,
                next_timeout):  # pragma: no cover - compiled
    """Cache cluster c's next completion or timeout (earliest; ties: completion, then seq)."""
    best_t = INF
    best_j = -1
    best_to = False
    k = nrun[c]
    if k > 0:
        rate = 1.0 if capacity == INF else min(1.0, capacity / k)
        for m in range(k):
            j = run[c, m]
            tc = tag[j] if capacity == INF else last_t[c] + (tag[j] - vtime[c]) / rate
            to = False
            if deadline[j] < tc:
                tc = deadline[j]
                to = True
            if tc < best_t or (tc == best_t and ((best_to and not to) or (
                    to == best_to and seq[j] < seq[best_j]))):
                best_t = tc
                best_j = j
                best_to = to
    next_t[c] = best_t
    next_j[c] = best_j
    next_timeout[c] = best_to


@njit(cache=True, nogil=True)
def event_loop(arrival, runtime, spec_shape, spec_qoff, q_slots, q_timeout, qmap, capacity,
               initial_specs, router, max_clusters):  # pragma: no cover - compiled
    """The general engine: a fixed pool with shared contention and state-dependent routing."""
    n = arrival.shape[0]
    n_specs = spec_shape.shape[0]
    qmax = 1
    rcap = 1
    spec_slots = np.zeros(n_specs)
    for s in range(n_specs):
        qmax = max(qmax, spec_qoff[s + 1] - spec_qoff[s])
        total = 0
        for gq in range(spec_qoff[s], spec_qoff[s + 1]):
            total += min(q_slots[gq], n)
        spec_slots[s] = total
        rcap = max(rcap, min(total, n))
    n_max = max_clusters
    c_spec = np.full(n_max, -1, np.int64)
    c_alive = np.zeros(n_max, np.bool_)
    n_clusters = 0
    for s in initial_specs:
        c_spec[n_clusters] = s
        c_alive[n_clusters] = True
        n_clusters += 1
    q_head = np.full(n_max * qmax, -1, np.int64)
    q_tail = np.full(n_max * qmax, -1, np.int64)
    q_free = np.zeros(n_max * qmax, np.int64)
    for c in range(n_clusters):
        s = c_spec[c]
        for q in range(spec_qoff[s + 1] - spec_qoff[s]):
            q_free[c * qmax + q] = min(q_slots[spec_qoff[s] + q], n)
    nq = np.zeros(n_max, np.int64)
    nxt = np.full(n, -1, np.int64)
    run = np.full((n_max, rcap), -1, np.int64)
    nrun = np.zeros(n_max, np.int64)
    vtime = np.zeros(n_max)
    last_t = np.zeros(n_max)
    next_t = np.full(n_max, INF)
    next_j = np.full(n_max, -1, np.int64)
    next_timeout = np.zeros(n_max, np.bool_)
    tag = np.zeros(n)
    deadline = np.full(n, INF)
    seq = np.zeros(n, np.int64)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    status = np.zeros(n, np.int8)
    cluster = np.full(n, -1, np.int64)
    queue = np.full(n, -1, np.int16)
    started = 0
    rr = 0
    i = 0
    while True:
        t_arrival = arrival[i] if i < n else INF
        best_c = -1
        best_t = INF
        for c in range(n_clusters):
            if c_alive[c] and next_t[c] < best_t:
                best_t = next_t[c]
                best_c = c
        if best_c < 0 and i >= n:
            break
        if best_c >= 0 and best_t <= t_arrival:
            # a completion or timeout on cluster best_c
            c = best_c
            t = best_t
            _advance(c, t, vtime, last_t, nrun, capacity)
            j = next_j[c]
            end[j] = t
            if next_timeout[c]:
                status[j] = STATUS_TIMEOUT
            for m in range(nrun[c]):
                if run[c, m] == j:
                    run[c, m] = run[c, nrun[c] - 1]
                    break
            nrun[c] -= 1
            row = c * qmax + queue[j]
            h = q_head[row]
            if h >= 0:
                q_head[row] = nxt[h]
                if q_head[row] < 0:
                    q_tail[row] = -1
                nq[c] -= 1
                j = h
                s = c_spec[c]
                gq = spec_qoff[s] + queue[j]
                tag[j] = (t if capacity == INF else vtime[c]) + runtime[j, spec_shape[s]]
                deadline[j] = t + q_timeout[gq]
                seq[j] = started
                started += 1
                start[j] = t
                run[c, nrun[c]] = j
                nrun[c] += 1
            else:
                q_free[row] += 1
            _next_event(c, run, nrun, tag, deadline, seq, vtime, last_t, capacity, next_t, next_j,
                        next_timeout)
            continue
        # an arrival: route it, then start it or queue it
        t = t_arrival
        j = i
        i += 1
        c = -1
        if router == ROUTER_LEAST_LOADED:
            best_load = INF
            for k in range(n_clusters):
                if c_alive[k]:
                    load = (nrun[k] + nq[k]) / spec_slots[c_spec[k]]
                    if load < best_load:
                        best_load = load
                        c = k
        else:
            alive = 0
            for k in range(n_clusters):
                if c_alive[k]:
                    alive += 1
            pick = rr % alive
            rr += 1
            for k in range(n_clusters):
                if c_alive[k]:
                    if pick == 0:
                        c = k
                        break
                    pick -= 1
        s = c_spec[c]
        q = qmap[s, j]
        cluster[j] = c
        queue[j] = q
        row = c * qmax + q
        if q_free[row] > 0:
            q_free[row] -= 1
            _advance(c, t, vtime, last_t, nrun, capacity)
            gq = spec_qoff[s] + q
            tag[j] = (t if capacity == INF else vtime[c]) + runtime[j, spec_shape[s]]
            deadline[j] = t + q_timeout[gq]
            seq[j] = started
            started += 1
            start[j] = t
            run[c, nrun[c]] = j
            nrun[c] += 1
            _next_event(c, run, nrun, tag, deadline, seq, vtime, last_t, capacity, next_t, next_j,
                        next_timeout)
        else:
            if q_tail[row] >= 0:
                nxt[q_tail[row]] = j
            else:
                q_head[row] = j
            q_tail[row] = j
            nq[c] += 1
    return start, end, status, cluster, queue
