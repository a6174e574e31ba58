"""The general compiled engine (numba). Pure array code: no Python objects, no I/O.

It has the semantics of `autoslo.sim` (the fast path for independent queues, `_fifo.fifo_queues`,
gives the same results where it applies):

- `event_loop`: the general engine, a discrete-event loop over the named event kinds of
  `autoslo.policies`, with contention per cluster (`autoslo.perf.contention`), state-dependent
  routing and a pool that changes.

Ties are broken by (time, event kind, sequence): the event kinds in the order of their numbers,
lower cluster index first, then the earlier-started query.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoslo.perf.contention._law import share_rate, slowdown_of
from autoslo.policies import (
    ACTIVE,
    ARRIVAL,
    AUTOSCALER,
    COMPLETION,
    DRAIN,
    DRAINING,
    NO_EVENT,
    ORIGIN_AUTOSCALER,
    ORIGIN_BURST,
    ORIGIN_INITIAL,
    ORIGIN_SCHEDULED,
    PENDING,
    PREDICTED_LATENCY,
    READY,
    REMOVED,
    SCHEDULED,
    STATUS_TIMEOUT,
    TEARDOWN,
    WARMED,
    may_add_cluster,
    predicted_finish_s,
    queue_depth_trigger_at,
    route,
    teardown_at,
)
from autoslo.sim._pool import next_pool_event, open_cluster

INF = np.inf
# the contention law's parameters, as the engine's `law` array holds them
LAW_CAPACITY = 0
LAW_SLOWDOWN_EXPONENT = 1
LAW_COLD_FRACTION = 2
LAW_WARMUP_S = 3
LAW_MEMORY_BUDGET = 4
LAW_ADMISSION = 5
LAW_SPILL_EXPONENT = 6
LAW_SIZE = 7


def _compile_event_loop(general: bool):
    """The engine compiled for one feature set. `general` is frozen into the code as a constant, so
    the plain variant (processor sharing: no weights, memory, warm-up or slowdown exponent) carries
    none of that bookkeeping, which costs the engine 5-15 % where it is off (measured)."""

    def event_loop(arrival, runtime, spec_shape, spec_qoff, q_slots, q_timeout, q_burst, spec_burst,
                   qmap, law, weight, memory, initial_specs, router, max_clusters, spin_up_delay,
                   sched_t, sched_spec, sched_life, as_on, as_spec, as_threshold, as_window,
                   as_min_life, as_idle):  # pragma: no cover - compiled
        """The general engine: contention, state-dependent routing and a pool that changes.

        Contention (`autoslo.perf.contention`), from the `law` array (indices `LAW_*`): the capacity
        (inf = none), per-query share weights `weight[n, shapes]` (empty = all 1), the slowdown
        exponent, a warm-up (the cold fraction of the capacity for the warm-up seconds after a cluster
        is ready) and memory (`memory[n, shapes]` against the budget per cluster; empty = off): with
        admission a query waits until its memory fits, and with a spill exponent > 0 a cluster whose
        running queries take more than the budget runs slower by (budget / taken) ** exponent.
        Returns per-query (start, end, status, cluster, queue) and per-cluster (spec, origin,
        requested, ready, removed, parent).

        Each cluster keeps a virtual time `vtime` that advances at the common share rate phi; a query
        of weight w started at virtual time v with isolated runtime r finishes when vtime reaches its
        tag v + r / w. Running queries form a linked list per cluster. Helpers are inlined; the hot
        paths stay in this function.
        """
        n = arrival.shape[0]
        n_specs = spec_shape.shape[0]
        capacity = law[LAW_CAPACITY]
        slowdown_exponent = law[LAW_SLOWDOWN_EXPONENT] if general else 1.0
        cold_fraction = law[LAW_COLD_FRACTION]
        warmup_s = law[LAW_WARMUP_S]
        memory_budget = law[LAW_MEMORY_BUDGET]
        admission = law[LAW_ADMISSION] != 0.0
        spill_exponent = law[LAW_SPILL_EXPONENT]
        contended = capacity < INF
        weighted = general and weight.shape[0] > 0
        memory_on = general and memory.shape[0] > 0
        admitting = memory_on and admission
        spilling = memory_on and spill_exponent > 0.0
        qmax = 1
        spec_slots = np.zeros(n_specs)
        for s in range(n_specs):
            qmax = max(qmax, spec_qoff[s + 1] - spec_qoff[s])
            total = 0
            for gq in range(spec_qoff[s], spec_qoff[s + 1]):
                total += min(q_slots[gq], n)
            spec_slots[s] = total
        # every cluster life gets its own index; the autoscaler adds at most one per window and
        # spin-up, and everything is over once all work is done, at no less than the slowest
        # throughput the contention law allows
        n_alloc = initial_specs.shape[0] + sched_t.shape[0] + 1
        if as_on:
            work = 0.0
            for j in range(n):
                longest = 0.0
                for k in range(runtime.shape[1]):
                    longest = max(longest, runtime[j, k])
                work += longest
            slowest = min(1.0, capacity * cold_fraction)
            if contended and slowdown_exponent > 1.0:
                most = 1.0
                for s in range(n_specs):
                    most = max(most, spec_slots[s])
                slowest = min(slowest, capacity * (capacity / most) ** (slowdown_exponent - 1.0))
            span = (arrival[n - 1] if n > 0 else 0.0) + work / slowest
            n_alloc += int(span / max(as_window, spin_up_delay, 1e-3)) + 2
        most_burst = 0
        for s in range(n_specs):
            most_burst = max(most_burst, spec_burst[s])
        n_alloc *= 1 + most_burst  # each cluster may bring its concurrency-scaling clusters
        c_spec = np.full(n_alloc, -1, np.int64)
        c_state = np.zeros(n_alloc, np.int8)
        c_origin = np.zeros(n_alloc, np.int8)
        c_requested = np.full(n_alloc, INF)
        c_ready = np.full(n_alloc, INF)
        c_removed = np.full(n_alloc, INF)
        c_drain = np.full(n_alloc, INF)
        c_life = np.full(n_alloc, INF)
        c_removable = np.zeros(n_alloc, np.bool_)
        c_parent = np.full(n_alloc, -1, np.int64)
        c_bfirst = np.zeros(n_alloc, np.int64)
        c_bcount = np.zeros(n_alloc, np.int64)
        c_teardown = np.full(n_alloc, INF)
        c_warm = np.full(n_alloc, INF)           # when the cluster's warm-up ends
        c_capacity = np.full(n_alloc, capacity)  # its capacity now
        c_rate = np.ones(n_alloc)                # its share rate phi now
        c_wsum = np.zeros(n_alloc)               # total weight running
        c_wmax = np.ones(n_alloc)                # largest weight running
        c_mem = np.zeros(n_alloc)                # memory taken by running queries
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
        run_head = np.full(n_alloc, -1, np.int64)
        vtime = np.zeros(n_alloc)
        last_t = np.zeros(n_alloc)
        next_t = np.full(n_alloc, INF)
        next_j = np.full(n_alloc, -1, np.int64)
        next_timeout = np.zeros(n_alloc, np.bool_)
        nxt = np.full(n, -1, np.int64)
        run_next = np.full(n, -1, np.int64)
        run_prev = np.full(n, -1, np.int64)
        tag = np.zeros(n)
        deadline = np.full(n, INF)
        seq = np.zeros(n, np.int64)
        start = np.full(n, np.nan)
        end = np.full(n, np.nan)
        status = np.zeros(n, np.int8)
        cluster = np.full(n, -1, np.int64)
        queue = np.full(n, -1, np.int16)
        warming = general and contended and warmup_s > 0.0 and cold_fraction != 1.0
        for s in initial_specs:
            c = n_clusters
            n_clusters += 1
            open_cluster(c, s, ACTIVE, ORIGIN_INITIAL, -1, 0.0, 0.0, qmax, n, c_spec, c_state,
                          c_origin, c_parent, c_requested, c_ready, q_free, q_slots, q_burst,
                          spec_qoff)
            eligible[c] = True
            slots_of[c] = spec_slots[s]
            live[n_live] = c
            n_live += 1
            c_bfirst[c] = n_clusters
            c_bcount[c] = spec_burst[s]
            for _ in range(spec_burst[s]):
                open_cluster(n_clusters, s, ACTIVE, ORIGIN_BURST, c, 0.0, 0.0, qmax, n, c_spec,
                              c_state, c_origin, c_parent, c_requested, c_ready, q_free, q_slots,
                              q_burst, spec_qoff)
                live[n_live] = n_clusters
                n_live += 1
                n_clusters += 1
        if warming:
            for c in range(n_clusters):
                c_capacity[c] = capacity * cold_fraction
                c_warm[c] = warmup_s
        pool_t, pool_c, pool_kind = next_pool_event(live, n_live, c_state, c_ready, c_drain,
                                                     c_teardown, c_warm, warming)
        queued_total = 0
        above_since = INF
        as_fire = INF
        started = 0
        rr = 0
        i = 0
        si = 0
        while True:
            # the earliest event; earlier kinds win ties (strict comparisons, lowest index first)
            kind = NO_EVENT
            best_t = INF
            best_c = -1
            for m in range(n_live):
                c = live[m]
                if next_t[c] < best_t:
                    best_t = next_t[c]
                    best_c = c
                    kind = COMPLETION
            if pool_t < best_t:
                best_t = pool_t
                best_c = pool_c
                kind = pool_kind
            if si < sched_t.shape[0] and sched_t[si] < best_t:
                best_t = sched_t[si]
                kind = SCHEDULED
            if as_on and as_fire < best_t:
                best_t = as_fire
                kind = AUTOSCALER
            if i < n and arrival[i] < best_t:
                best_t = arrival[i]
                kind = ARRIVAL
            if kind == NO_EVENT:
                break
            t = best_t
            c = best_c
            pool_changed = False
            remove_now = False
            if kind == COMPLETION or kind == ARRIVAL or (general and kind == WARMED):  # noqa: SIM109
                arrived = -1
                if kind == ARRIVAL:  # route it, then start it (below) or queue it
                    j = i
                    i += 1
                    if router == PREDICTED_LATENCY:
                        for m in range(n_live):
                            k = live[m]
                            if eligible[k]:
                                s = c_spec[k]
                                q = qmap[s, j]
                                row = k * qmax + q
                                ahead = q_work[row]
                                slot_free = q_free[row] > 0 and q_head[row] < 0
                                if q_burst[spec_qoff[s] + q]:
                                    for b in range(c_bfirst[k], c_bfirst[k] + c_bcount[k]):
                                        slot_free = slot_free or q_free[b * qmax + q] > 0
                                if not slot_free:
                                    v_now = t if not contended else (
                                        vtime[k] + (t - last_t[k]) * c_rate[k])
                                    jj = run_head[k]
                                    while jj >= 0:
                                        if queue[jj] == q:
                                            w = weight[jj, spec_shape[s]] if weighted else 1.0
                                            ahead += (tag[jj] - v_now) * w
                                        jj = run_next[jj]
                                slowdown = 1.0
                                if contended and not general:  # processor sharing
                                    slowdown = max(1.0, (nrun[k] + 1) / capacity)
                                elif contended:
                                    w = weight[j, spec_shape[s]] if weighted else 1.0
                                    slowdown = slowdown_of(w, nrun[k] + 1, c_wsum[k] + w,
                                                           max(c_wmax[k], w), c_capacity[k],
                                                           slowdown_exponent)
                                    if spilling:
                                        taken = c_mem[k] + memory[j, spec_shape[s]]
                                        if taken > memory_budget:
                                            slowdown *= (taken / memory_budget) ** spill_exponent
                                predicted[k] = predicted_finish_s(
                                    slot_free, ahead, min(q_slots[spec_qoff[s] + q], n),
                                    runtime[j, spec_shape[s]], slowdown)
                    c, rr = route(router, eligible, n_clusters, rr, nrun, nq, slots_of, predicted)
                    s = c_spec[c]
                    q = qmap[s, j]
                    queue[j] = q
                    row = c * qmax + q
                    if c_teardown[c] < INF:  # busy again: no teardown
                        c_teardown[c] = INF
                        pool_changed = True
                    if q_free[row] == 0 and q_burst[spec_qoff[s] + q]:
                        # the queue is full: a concurrency-scaling cluster with a free slot takes it
                        for b in range(c_bfirst[c], c_bfirst[c] + c_bcount[c]):
                            if q_free[b * qmax + q] > 0:
                                c = b
                                row = b * qmax + q
                                break
                    cluster[j] = c
                    fits = not admitting or nrun[c] == 0 or (
                        c_mem[c] + memory[j, spec_shape[s]] <= memory_budget)
                    if q_free[row] > 0 and q_head[row] < 0 and fits:
                        q_free[row] -= 1
                        arrived = j
                    else:
                        if c_parent[c] >= 0:  # waits in its main cluster's queue
                            c = c_parent[c]
                            row = c * qmax + q
                            cluster[j] = c
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
                            as_fire = queue_depth_trigger_at(queued_total, as_threshold,
                                                             above_since, as_window)
                # bring the cluster's virtual time to t before its running set or capacity changes
                if not contended:
                    vtime[c] = t
                elif nrun[c] > 0:
                    vtime[c] += (t - last_t[c]) * c_rate[c]
                last_t[c] = t
                sh = spec_shape[c_spec[c]]
                if kind == WARMED:
                    c_capacity[c] = capacity
                    c_warm[c] = INF
                    pool_changed = True
                if kind == COMPLETION:  # a completion or timeout frees a slot and its memory
                    j = next_j[c]
                    end[j] = t
                    if next_timeout[c]:
                        status[j] = STATUS_TIMEOUT
                    if run_prev[j] >= 0:
                        run_next[run_prev[j]] = run_next[j]
                    else:
                        run_head[c] = run_next[j]
                    if run_next[j] >= 0:
                        run_prev[run_next[j]] = run_prev[j]
                    nrun[c] -= 1
                    if weighted:
                        w = weight[j, sh]
                        c_wsum[c] = c_wsum[c] - w if nrun[c] > 0 else 0.0
                        if w >= c_wmax[c]:
                            c_wmax[c] = 1.0 if nrun[c] == 0 else 0.0
                            jj = run_head[c]
                            while jj >= 0:
                                c_wmax[c] = max(c_wmax[c], weight[jj, sh])
                                jj = run_next[jj]
                    elif general:
                        c_wsum[c] -= 1.0
                    if memory_on:
                        c_mem[c] = c_mem[c] - memory[j, sh] if nrun[c] > 0 else 0.0
                    q_free[c * qmax + queue[j]] += 1
                # start what may start now: the arrival, or the head of the freed slot's queue (a
                # burst cluster serves its parent's queue). Straight-line code on purpose: a loop
                # here costs the engine 5-10 % (measured); memory admission has its own block below.
                owner = c if c_parent[c] < 0 else c_parent[c]
                changed = kind != ARRIVAL or arrived >= 0
                h = arrived
                if kind == COMPLETION and not admitting:
                    q = queue[j]
                    row = owner * qmax + q
                    h = q_head[row]
                    if h >= 0:
                        q_head[row] = nxt[h]
                        if q_head[row] < 0:
                            q_tail[row] = -1
                        nq[owner] -= 1
                        queued_total -= 1
                        q_work[row] -= runtime[h, sh]
                        q_free[c * qmax + q] -= 1
                        cluster[h] = c
                        if queued_total < as_threshold:  # the trigger's clock stops
                            above_since = INF
                            as_fire = INF
                if h >= 0:
                    w = weight[h, sh] if weighted else 1.0
                    tag[h] = (t if not contended else vtime[c]) + runtime[h, sh] / w
                    deadline[h] = t + q_timeout[spec_qoff[c_spec[c]] + queue[h]]
                    seq[h] = started
                    started += 1
                    start[h] = t
                    run_next[h] = run_head[c]
                    run_prev[h] = -1
                    if run_head[c] >= 0:
                        run_prev[run_head[c]] = h
                    run_head[c] = h
                    nrun[c] += 1
                    if general:
                        c_wsum[c] += w
                    if weighted:
                        c_wmax[c] = w if nrun[c] == 1 else max(c_wmax[c], w)
                    if memory_on:
                        c_mem[c] += memory[h, sh]
                if admitting and kind == COMPLETION:  # every head whose memory fits now
                    for q in range(spec_qoff[c_spec[c] + 1] - spec_qoff[c_spec[c]]):
                        row = owner * qmax + q
                        while True:
                            h = q_head[row]
                            if h < 0 or q_free[c * qmax + q] == 0 or (
                                    nrun[c] > 0 and c_mem[c] + memory[h, sh] > memory_budget):
                                break
                            q_head[row] = nxt[h]
                            if q_head[row] < 0:
                                q_tail[row] = -1
                            nq[owner] -= 1
                            queued_total -= 1
                            q_work[row] -= runtime[h, sh]
                            q_free[c * qmax + q] -= 1
                            cluster[h] = c
                            if queued_total < as_threshold:  # the trigger's clock stops
                                above_since = INF
                                as_fire = INF
                            w = weight[h, sh] if weighted else 1.0
                            tag[h] = (t if not contended else vtime[c]) + runtime[h, sh] / w
                            deadline[h] = t + q_timeout[spec_qoff[c_spec[c]] + queue[h]]
                            seq[h] = started
                            started += 1
                            start[h] = t
                            run_next[h] = run_head[c]
                            run_prev[h] = -1
                            if run_head[c] >= 0:
                                run_prev[run_head[c]] = h
                            run_head[c] = h
                            nrun[c] += 1
                            if general:
                                c_wsum[c] += w
                            if weighted:
                                c_wmax[c] = w if nrun[c] == 1 else max(c_wmax[c], w)
                            if memory_on:
                                c_mem[c] += memory[h, sh]
                if changed:
                    # the cluster's share rate and next completion or timeout (ties: completion,
                    # then seq)
                    nt = INF
                    nj = -1
                    nto = False
                    if nrun[c] > 0:
                        rate = 1.0
                        if contended:
                            rate = share_rate(nrun[c], c_wsum[c], c_wmax[c], c_capacity[c],
                                              slowdown_exponent) if general else min(
                                1.0, capacity / nrun[c])  # processor sharing
                            if spilling and c_mem[c] > memory_budget:
                                rate *= (memory_budget / c_mem[c]) ** spill_exponent
                        c_rate[c] = rate
                        jj = run_head[c]
                        while jj >= 0:
                            tc = tag[jj] if not contended else t + (tag[jj] - vtime[c]) / rate
                            to = False
                            if deadline[jj] < tc:
                                tc = deadline[jj]
                                to = True
                            if nj < 0 or tc < nt or (tc == nt and ((nto and not to) or (
                                    to == nto and seq[jj] < seq[nj]))):
                                nt = tc
                                nj = jj
                                nto = to
                            jj = run_next[jj]
                    next_t[c] = nt
                    next_j[c] = nj
                    next_timeout[c] = nto
                if kind == COMPLETION:
                    busy = nrun[owner] + nq[owner]
                    for b in range(c_bfirst[owner], c_bfirst[owner] + c_bcount[owner]):
                        busy += nrun[b]
                    if busy == 0:
                        c = owner
                        if c_state[c] == DRAINING:
                            remove_now = True
                        elif c_removable[c]:
                            c_teardown[c] = teardown_at(t, c_ready[c], as_idle, as_min_life)
                            pool_changed = True
            elif kind == READY:  # a requested cluster is ready
                c_state[c] = ACTIVE
                eligible[c] = True
                n_pending -= 1
                if c_life[c] < INF:
                    c_drain[c] = t + c_life[c]
                if c_removable[c]:
                    c_teardown[c] = teardown_at(t, t, as_idle, as_min_life)
                pool_changed = True
            elif kind == DRAIN:  # a scheduled cluster's lifetime is over: stop routing to it
                c_state[c] = DRAINING
                eligible[c] = False
                c_drain[c] = INF
                c_teardown[c] = INF
                pool_changed = True
                busy = nrun[c] + nq[c]
                for b in range(c_bfirst[c], c_bfirst[c] + c_bcount[c]):
                    busy += nrun[b]
                remove_now = busy == 0
            elif kind == TEARDOWN:
                remove_now = True
            elif kind == SCHEDULED or kind == AUTOSCALER:  # noqa: SIM109 request a cluster
                if kind == SCHEDULED:
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
                    open_cluster(c, s, PENDING,
                                  ORIGIN_SCHEDULED if kind == SCHEDULED else ORIGIN_AUTOSCALER, -1, t,
                                  t + spin_up_delay, qmax, n, c_spec, c_state, c_origin, c_parent,
                                  c_requested, c_ready, q_free, q_slots, q_burst, spec_qoff)
                    c_life[c] = life
                    c_removable[c] = as_on and life == INF
                    slots_of[c] = spec_slots[s]
                    live[n_live] = c
                    n_live += 1
                    n_pending += 1
                    pool_changed = True
                    c_bfirst[c] = n_clusters
                    c_bcount[c] = spec_burst[s]
                    for _ in range(spec_burst[s]):
                        open_cluster(n_clusters, s, ACTIVE, ORIGIN_BURST, c, t, t + spin_up_delay,
                                      qmax, n, c_spec, c_state, c_origin, c_parent, c_requested,
                                      c_ready, q_free, q_slots, q_burst, spec_qoff)
                        live[n_live] = n_clusters
                        n_live += 1
                        n_clusters += 1
                    if warming:
                        for x in range(c, n_clusters):
                            c_capacity[x] = capacity * cold_fraction
                            c_warm[x] = t + spin_up_delay + warmup_s
            if remove_now:  # a drained or idle cluster goes, with its burst clusters
                for x in range(c, c + 1 + c_bcount[c]):
                    c_state[x] = REMOVED
                    eligible[x] = False
                    c_removed[x] = t
                    c_teardown[x] = INF
                    c_warm[x] = INF
                    next_t[x] = INF
                w_live = 0
                for m in range(n_live):
                    if live[m] < c or live[m] > c + c_bcount[c]:
                        live[w_live] = live[m]
                        w_live += 1
                n_live = w_live
                pool_changed = True
            if pool_changed:
                pool_t, pool_c, pool_kind = next_pool_event(live, n_live, c_state, c_ready,
                                                             c_drain, c_teardown, c_warm, warming)
        return (start, end, status, cluster, queue, c_spec[:n_clusters], c_origin[:n_clusters],
                c_requested[:n_clusters], c_ready[:n_clusters], c_removed[:n_clusters],
                c_parent[:n_clusters])

    # each variant its own name: two cached variants of one name share their compiled symbols,
    # and a process that loads both from the cache crashes ("NRT_adapt_ndarray_to_python")
    name = "event_loop_general" if general else "event_loop_plain"
    event_loop.__name__ = event_loop.__qualname__ = name
    return njit(cache=True, nogil=True)(event_loop)


_general_loop = _compile_event_loop(True)
_plain_loop = _compile_event_loop(False)


def plain_applies(law: np.ndarray, weight: np.ndarray, memory: np.ndarray) -> bool:
    """Whether the law is processor sharing (no weights, memory, slowdown exponent or warm-up),
    which the plain compiled variant runs."""
    return (weight.shape[0] == 0 and memory.shape[0] == 0 and law[LAW_SLOWDOWN_EXPONENT] == 1.0
            and (law[LAW_WARMUP_S] <= 0.0 or law[LAW_COLD_FRACTION] == 1.0))


def event_loop(arrival, runtime, spec_shape, spec_qoff, q_slots, q_timeout, q_burst, spec_burst,
               qmap, law, weight, memory, initial_specs, router, max_clusters, spin_up_delay,
               sched_t, sched_spec, sched_life, as_on, as_spec, as_threshold, as_window,
               as_min_life, as_idle):
    """Run the engine (arguments as `PreparedRun.engine_args`): the plain compiled variant when the
    contention law is processor sharing, the general one otherwise. Both give the same results
    where the plain one applies (tested)."""
    loop = _plain_loop if plain_applies(law, weight, memory) else _general_loop
    return loop(arrival, runtime, spec_shape, spec_qoff, q_slots, q_timeout, q_burst, spec_burst,
                qmap, law, weight, memory, initial_specs, router, max_clusters, spin_up_delay,
                sched_t, sched_spec, sched_life, as_on, as_spec, as_threshold, as_window,
                as_min_life, as_idle)
