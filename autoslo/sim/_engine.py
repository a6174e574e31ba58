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

from autoslo.policies import (
    PREDICTED_LATENCY,
    may_add_cluster,
    predicted_finish_s,
    queue_depth_trigger_at,
    route,
    teardown_at,
)

INF = np.inf
STATUS_OK = 0
STATUS_TIMEOUT = 1


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


PENDING = 1
ACTIVE = 2
DRAINING = 3
REMOVED = 4
ORIGIN_INITIAL = 0
ORIGIN_AUTOSCALER = 1
ORIGIN_SCHEDULED = 2


@njit(cache=True, nogil=True, inline="always")
def _start(c, j, t, s, runtime, spec_shape, spec_qoff, q_timeout, queue, capacity, vtime, tag,
           deadline, seq, started, start, store, store_used, run_off, run_cap, nrun, pos):
    """Start query j on cluster c (spec s) at t; returns (store, store_used, next sequence).

    Each cluster keeps the ids of its running queries contiguously in `store` (from
    run_off[c], room for run_cap[c]); a full region moves to a new one twice the size.
    """
    tag[j] = (t if capacity == INF else vtime[c]) + runtime[j, spec_shape[s]]
    deadline[j] = t + q_timeout[spec_qoff[s] + queue[j]]
    seq[j] = started
    start[j] = t
    k = nrun[c]
    if k == run_cap[c]:
        cap = max(2 * run_cap[c], 4)
        if store_used + cap > store.shape[0]:
            bigger = np.empty(max(2 * store.shape[0], store_used + cap), np.int64)
            bigger[:store_used] = store[:store_used]
            store = bigger
        store[store_used:store_used + k] = store[run_off[c]:run_off[c] + k]
        run_off[c] = store_used
        run_cap[c] = cap
        store_used += cap
    store[run_off[c] + k] = j
    pos[j] = k
    nrun[c] = k + 1
    return store, store_used, started + 1


@njit(cache=True, nogil=True, inline="always")
def _next_event(c, store, run_off, nrun, tag, deadline, seq, vtime, last_t, capacity,
                next_t, next_j, next_timeout):  # pragma: no cover - compiled
    """Cache cluster c's next completion or timeout (earliest; ties: completion, then seq)."""
    best_t = INF
    best_j = -1
    best_to = False
    k = nrun[c]
    if k > 0:
        rate = 1.0 if capacity == INF else min(1.0, capacity / k)
        base = run_off[c]
        for m in range(k):
            j = store[base + m]
            tc = tag[j] if capacity == INF else last_t[c] + (tag[j] - vtime[c]) / rate
            to = False
            if deadline[j] < tc:
                tc = deadline[j]
                to = True
            if best_j < 0 or tc < best_t or (tc == best_t and ((best_to and not to) or (
                    to == best_to and seq[j] < seq[best_j]))):
                best_t = tc
                best_j = j
                best_to = to
    next_t[c] = best_t
    next_j[c] = best_j
    next_timeout[c] = best_to


@njit(cache=True, nogil=True, inline="always")
def _next_pool_event(live, n_live, c_state, c_ready, c_drain, c_teardown):
    """The earliest cluster-ready, drain or teardown event: (time, cluster, kind)."""
    best_t = INF
    best_c = -1
    kind = -1
    for m in range(n_live):
        c = live[m]
        if c_state[c] == PENDING:
            if c_ready[c] < best_t or (c_ready[c] == best_t and kind > 1):
                best_t, best_c, kind = c_ready[c], c, 1
        elif c_state[c] == ACTIVE:
            if c_drain[c] < best_t or (c_drain[c] == best_t and kind > 2):
                best_t, best_c, kind = c_drain[c], c, 2
            if c_teardown[c] < best_t:
                best_t, best_c, kind = c_teardown[c], c, 3
    return best_t, best_c, kind


@njit(cache=True, nogil=True)
def event_loop(arrival, runtime, spec_shape, spec_qoff, q_slots, q_timeout, qmap, capacity,
               initial_specs, router, max_clusters, spin_up_delay, sched_t, sched_spec,
               sched_life, as_on, as_spec, as_threshold, as_window, as_min_life,
               as_idle):  # pragma: no cover - compiled
    """The general engine: contention, state-dependent routing and a pool that changes.

    Event kinds at equal times, in order: completion/timeout, cluster ready, drain (a
    scheduled cluster's lifetime is over), idle teardown, scheduled spin-up, autoscaler,
    arrival. Returns per-query (start, end, status, cluster, queue) and per-cluster
    (spec, origin, requested, ready, removed).
    """
    n = arrival.shape[0]
    n_specs = spec_shape.shape[0]
    qmax = 1
    spec_slots = np.zeros(n_specs)
    for s in range(n_specs):
        qmax = max(qmax, spec_qoff[s + 1] - spec_qoff[s])
        total = 0
        for gq in range(spec_qoff[s], spec_qoff[s + 1]):
            total += min(q_slots[gq], n)
        spec_slots[s] = total
    # every cluster life gets its own index; the autoscaler adds at most one per spin-up
    work = 0.0
    for j in range(n):
        longest = 0.0
        for k in range(runtime.shape[1]):
            longest = max(longest, runtime[j, k])
        work += longest
    span = (arrival[n - 1] if n > 0 else 0.0) + work / min(1.0, capacity)
    n_alloc = initial_specs.shape[0] + sched_t.shape[0] + 1
    if as_on:
        n_alloc += int(span / max(as_window, spin_up_delay, 1e-3)) + 2
    c_spec = np.full(n_alloc, -1, np.int64)
    c_state = np.zeros(n_alloc, np.int8)
    c_origin = np.zeros(n_alloc, np.int8)
    c_requested = np.full(n_alloc, INF)
    c_ready = np.full(n_alloc, INF)
    c_removed = np.full(n_alloc, INF)
    c_drain = np.full(n_alloc, INF)
    c_life = np.full(n_alloc, INF)
    c_removable = np.zeros(n_alloc, np.bool_)
    c_idle_since = np.full(n_alloc, INF)
    c_teardown = np.full(n_alloc, INF)
    eligible = np.zeros(n_alloc, np.bool_)
    slots_of = np.ones(n_alloc)
    predicted = np.full(n_alloc, INF)
    live = np.empty(n_alloc, np.int64)  # clusters not removed, in index order
    n_live = 0
    n_pending = 0
    n_clusters = 0
    q_head = np.full(n_alloc * qmax, -1, np.int64)
    q_tail = np.full(n_alloc * qmax, -1, np.int64)
    q_free = np.zeros(n_alloc * qmax, np.int64)
    q_work = np.zeros(n_alloc * qmax)
    nq = np.zeros(n_alloc, np.int64)
    nrun = np.zeros(n_alloc, np.int64)
    run_off = np.zeros(n_alloc, np.int64)
    run_cap = np.zeros(n_alloc, np.int64)
    store = np.empty(1024, np.int64)
    store_used = 0
    pos = np.zeros(n, np.int64)
    vtime = np.zeros(n_alloc)
    last_t = np.zeros(n_alloc)
    next_t = np.full(n_alloc, INF)
    next_j = np.full(n_alloc, -1, np.int64)
    next_timeout = np.zeros(n_alloc, np.bool_)
    nxt = np.full(n, -1, np.int64)
    tag = np.zeros(n)
    deadline = np.full(n, INF)
    seq = np.zeros(n, np.int64)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    status = np.zeros(n, np.int8)
    cluster = np.full(n, -1, np.int64)
    queue = np.full(n, -1, np.int16)
    for s in initial_specs:
        c = n_clusters
        n_clusters += 1
        c_spec[c] = s
        c_state[c] = ACTIVE
        c_requested[c] = 0.0
        c_ready[c] = 0.0
        slots_of[c] = spec_slots[s]
        for q in range(spec_qoff[s + 1] - spec_qoff[s]):
            q_free[c * qmax + q] = min(q_slots[spec_qoff[s] + q], n)
        live[n_live] = c
        n_live += 1
    pool_t, pool_c, pool_kind = INF, -1, -1
    queued_total = 0
    above_since = INF
    as_fire = INF
    started = 0
    rr = 0
    i = 0
    si = 0
    while True:
        # the earliest event; earlier kinds win ties (strict comparisons, lowest index first)
        kind = -1
        best_t = INF
        best_c = -1
        for m in range(n_live):
            c = live[m]
            if next_t[c] < best_t:
                best_t = next_t[c]
                best_c = c
                kind = 0
        if pool_t < best_t:
            best_t = pool_t
            best_c = pool_c
            kind = pool_kind
        if si < sched_t.shape[0] and sched_t[si] < best_t:
            best_t = sched_t[si]
            kind = 4
        if as_on and as_fire < best_t:
            best_t = as_fire
            kind = 5
        if i < n and arrival[i] < best_t:
            best_t = arrival[i]
            kind = 6
        if kind < 0:
            break
        t = best_t
        c = best_c
        if kind == 0:  # a completion or timeout
            _advance(c, t, vtime, last_t, nrun, capacity)
            j = next_j[c]
            end[j] = t
            if next_timeout[c]:
                status[j] = STATUS_TIMEOUT
            last = nrun[c] - 1
            moved = store[run_off[c] + last]
            store[run_off[c] + pos[j]] = moved
            pos[moved] = pos[j]
            nrun[c] = last
            row = c * qmax + queue[j]
            h = q_head[row]
            if h >= 0:
                q_head[row] = nxt[h]
                if q_head[row] < 0:
                    q_tail[row] = -1
                nq[c] -= 1
                queued_total -= 1
                q_work[row] -= runtime[h, spec_shape[c_spec[c]]]
                store, store_used, started = _start(
                    c, h, t, c_spec[c], runtime, spec_shape, spec_qoff, q_timeout, queue,
                    capacity, vtime, tag, deadline, seq, started, start, store, store_used,
                    run_off, run_cap, nrun, pos)
                if queued_total < as_threshold:
                    above_since = INF
                    as_fire = INF
            else:
                q_free[row] += 1
            _next_event(c, store, run_off, nrun, tag, deadline, seq, vtime, last_t, capacity,
                        next_t, next_j, next_timeout)
            if nrun[c] + nq[c] == 0:
                if c_state[c] == DRAINING:
                    kind = 3  # drained: remove it now (below)
                elif c_removable[c]:
                    c_idle_since[c] = t
                    c_teardown[c] = teardown_at(t, c_ready[c], as_idle, as_min_life)
                    pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready,
                                                                 c_drain, c_teardown)
            if kind == 0:
                continue
        if kind == 1:  # a requested cluster is ready
            c_state[c] = ACTIVE
            n_pending -= 1
            if c_life[c] < INF:
                c_drain[c] = t + c_life[c]
            if c_removable[c]:
                c_idle_since[c] = t
                c_teardown[c] = teardown_at(t, t, as_idle, as_min_life)
            pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready, c_drain,
                                                         c_teardown)
            continue
        if kind == 2:  # a scheduled cluster's lifetime is over: stop routing to it
            c_state[c] = DRAINING
            c_drain[c] = INF
            c_teardown[c] = INF
            if nrun[c] + nq[c] > 0:
                pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready,
                                                             c_drain, c_teardown)
                continue
            kind = 3
        if kind == 3:  # remove a drained or idle cluster
            c_state[c] = REMOVED
            c_removed[c] = t
            c_teardown[c] = INF
            next_t[c] = INF
            w = 0
            for m in range(n_live):
                if live[m] != c:
                    live[w] = live[m]
                    w += 1
            n_live = w
            eligible[c] = False
            pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready, c_drain,
                                                         c_teardown)
            continue
        if kind == 4 or kind == 5:  # request a cluster (scheduled spin-up or autoscaler)
            if kind == 4:
                s = sched_spec[si]
                life = sched_life[si]
                si += 1
                allowed = n_live < max_clusters
            else:
                s = as_spec
                life = INF
                allowed = may_add_cluster(n_live, n_pending, max_clusters)
                as_fire = INF
                if queued_total >= as_threshold:
                    above_since = t
                    as_fire = queue_depth_trigger_at(queued_total, as_threshold, above_since,
                                                     as_window)
            if allowed:
                c = n_clusters
                n_clusters += 1
                c_spec[c] = s
                c_state[c] = PENDING
                c_origin[c] = ORIGIN_SCHEDULED if kind == 4 else ORIGIN_AUTOSCALER
                c_requested[c] = t
                c_ready[c] = t + spin_up_delay
                c_life[c] = life
                c_removable[c] = as_on and life == INF
                slots_of[c] = spec_slots[s]
                for q in range(spec_qoff[s + 1] - spec_qoff[s]):
                    q_free[c * qmax + q] = min(q_slots[spec_qoff[s] + q], n)
                live[n_live] = c
                n_live += 1
                n_pending += 1
                pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready,
                                                             c_drain, c_teardown)
            continue
        # kind == 6: an arrival; route it, then start it or queue it
        j = i
        i += 1
        for m in range(n_live):
            k = live[m]
            eligible[k] = c_state[k] == ACTIVE
            if router == PREDICTED_LATENCY and eligible[k]:
                s = c_spec[k]
                q = qmap[s, j]
                row = k * qmax + q
                ahead = q_work[row]
                if q_free[row] == 0:
                    rate = 1.0 if capacity == INF else min(1.0, capacity / nrun[k])
                    v_now = t if capacity == INF else vtime[k] + (t - last_t[k]) * rate
                    for m in range(nrun[k]):
                        jj = store[run_off[k] + m]
                        if queue[jj] == q:
                            ahead += tag[jj] - v_now
                predicted[k] = predicted_finish_s(
                    q_free[row] > 0, ahead, min(q_slots[spec_qoff[s] + q], n),
                    runtime[j, spec_shape[s]], nrun[k], capacity)
        c, rr = route(router, eligible, n_clusters, rr, nrun, nq, slots_of, predicted)
        s = c_spec[c]
        q = qmap[s, j]
        cluster[j] = c
        queue[j] = q
        row = c * qmax + q
        if c_teardown[c] < INF:
            c_idle_since[c] = INF
            c_teardown[c] = INF
            pool_t, pool_c, pool_kind = _next_pool_event(live, n_live, c_state, c_ready, c_drain,
                                                         c_teardown)
        if q_free[row] > 0:
            q_free[row] -= 1
            _advance(c, t, vtime, last_t, nrun, capacity)
            store, store_used, started = _start(
                c, j, t, s, runtime, spec_shape, spec_qoff, q_timeout, queue, capacity, vtime,
                tag, deadline, seq, started, start, store, store_used, run_off, run_cap, nrun,
                pos)
            _next_event(c, store, run_off, nrun, tag, deadline, seq, vtime, last_t, capacity,
                        next_t, next_j, next_timeout)
        else:
            if q_tail[row] >= 0:
                nxt[q_tail[row]] = j
            else:
                q_head[row] = j
            q_tail[row] = j
            nq[c] += 1
            q_work[row] += runtime[j, spec_shape[s]]
            queued_total += 1
            if as_on and queued_total >= as_threshold and above_since == INF:
                above_since = t
                as_fire = queue_depth_trigger_at(queued_total, as_threshold, above_since,
                                                 as_window)
    return (start, end, status, cluster, queue, c_spec[:n_clusters], c_origin[:n_clusters],
            c_requested[:n_clusters], c_ready[:n_clusters], c_removed[:n_clusters])
