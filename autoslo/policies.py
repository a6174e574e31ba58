"""Pool policies as plain functions over an observable pool state.

The simulator's compiled engine calls them (they are numba-compiled and inlined), and the live
replay calls the very same functions from Python with its own observations, so a config behaves
the same way in both. State is passed as small arrays indexed by cluster.

- Router: `route` picks a cluster among the eligible ones (active, not draining):
  round_robin (a counter over eligible clusters in index order), least_loaded (fewest queries
  running or queued per slot), predicted_latency (earliest predicted finish, from
  `predicted_finish_s`). Ties go to the lowest index.
- Autoscaler (reactive, queue_depth trigger): `queue_depth_trigger_at` says when the trigger
  fires: once the pool's waiting queries have stayed at or above the threshold for a whole
  window. `may_add_cluster` applies the cap and waits for a requested cluster to be ready
  before asking for another.
- Teardown: `teardown_at` says when an idle removable cluster goes: idle for `idle_teardown_s`
  and alive for at least `min_lifetime_s`.

The names of the pool's state machine live here too, so the engine and the live controller
(`autoslo.live.controller`) speak the same language: a cluster's state and origin, a query's
status code, and the event kinds in the order they are handled at equal times.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf
ROUND_ROBIN = 0
LEAST_LOADED = 1
PREDICTED_LATENCY = 2
ROUTERS = {"round_robin": ROUND_ROBIN, "least_loaded": LEAST_LOADED,
           "predicted_latency": PREDICTED_LATENCY}

# A cluster's state (0 = a slot not in use yet).
PENDING = 1     # requested, not ready: takes no queries
ACTIVE = 2      # ready: the router may send it queries
DRAINING = 3    # a scheduled cluster past its lifetime: finishes its queue, takes no new queries
REMOVED = 4
# Where a cluster came from (the order of the cluster table's origin names).
ORIGIN_INITIAL = 0
ORIGIN_AUTOSCALER = 1
ORIGIN_SCHEDULED = 2
ORIGIN_BURST = 3  # a concurrency-scaling cluster of a provisioned one
# A query's status code (the order of the result table's status names: ok, timeout, failed, aborted).
STATUS_OK = 0
STATUS_TIMEOUT = 1
STATUS_FAILED = 2
STATUS_ABORTED = 3
# Event kinds, in the order they are handled at equal times (then lower cluster index first).
COMPLETION = 0  # a query ends (or times out) and frees its slot
READY = 1       # a requested cluster is ready
DRAIN = 2       # a scheduled cluster's lifetime is over
TEARDOWN = 3    # an idle removable cluster goes
WARMED = 4      # a cluster's warm-up is over (simulated contention only; a real one warms itself)
SCHEDULED = 5   # a scheduled spin-up requests its cluster
AUTOSCALER = 6  # the reactive autoscaler's trigger fires
ARRIVAL = 7     # a query arrives and is routed
NO_EVENT = -1


@njit(cache=True, inline="always")
def route(router, eligible, n_clusters, rr_counter, running, queued, slots, predicted):
    """The cluster for an arriving query, and the updated round-robin counter."""
    chosen = -1
    if router == ROUND_ROBIN:
        alive = 0
        for k in range(n_clusters):
            if eligible[k]:
                alive += 1
        pick = rr_counter % alive
        for k in range(n_clusters):
            if eligible[k]:
                if pick == 0:
                    chosen = k
                    break
                pick -= 1
        return chosen, rr_counter + 1
    best = INF
    for k in range(n_clusters):
        if eligible[k]:
            score = (running[k] + queued[k]) / slots[k] if router == LEAST_LOADED else predicted[k]
            if score < best:
                best = score
                chosen = k
    return chosen, rr_counter


@njit(cache=True, inline="always")
def predicted_finish_s(slot_free, work_ahead_s, queue_slots, runtime_s, slowdown):
    """Predicted time to finish a query on a cluster: wait for a slot, then run.

    The wait is the isolated work queued ahead and still running in its queue, spread over the
    queue's slots (zero with a free slot); the run is its isolated runtime times the slowdown the
    contention law gives it in the running set it would join (`perf.contention.slowdown_of`).
    """
    wait = 0.0 if slot_free else work_ahead_s / queue_slots
    return wait + runtime_s * slowdown


@njit(cache=True, inline="always")
def queue_depth_trigger_at(queued, threshold, above_since, window_s):
    """When the queue-depth trigger fires: `window_s` after the depth reached the threshold."""
    if queued >= threshold and above_since < INF:
        return above_since + window_s
    return INF


@njit(cache=True, inline="always")
def may_add_cluster(live_clusters, pending_clusters, max_clusters):
    """Add a cluster only under the cap and when no requested cluster is still starting."""
    return pending_clusters == 0 and live_clusters < max_clusters


@njit(cache=True, inline="always")
def teardown_at(idle_since, ready_at, idle_teardown_s, min_lifetime_s):
    """When an idle removable cluster is removed (INF if it is not idle)."""
    if idle_since == INF:
        return INF
    return max(idle_since + idle_teardown_s, ready_at + min_lifetime_s)
