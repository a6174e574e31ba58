"""The engine's cluster records: opening a cluster and finding the pool's next event (numba).

Kept beside `_engine` so that the event loop reads as the loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoslo.policies import ACTIVE, DRAIN, NO_EVENT, PENDING, READY, TEARDOWN, WARMED

INF = np.inf


@njit(cache=True, nogil=True)
def open_cluster(c, s, state, origin, parent, t_requested, t_ready, qmax, n, c_spec, c_state,
                 c_origin, c_parent, c_requested, c_ready, q_free, q_slots, q_burst,
                 spec_qoff):  # pragma: no cover - compiled
    """Set up cluster c of spec s. A burst (concurrency-scaling) cluster gets slots only in
    the queues with concurrency scaling on; it serves its parent's queue."""
    c_spec[c] = s
    c_state[c] = state
    c_origin[c] = origin
    c_parent[c] = parent
    c_requested[c] = t_requested
    c_ready[c] = t_ready
    for q in range(spec_qoff[s + 1] - spec_qoff[s]):
        gq = spec_qoff[s] + q
        if parent < 0 or q_burst[gq]:
            q_free[c * qmax + q] = min(q_slots[gq], n)


@njit(cache=True, nogil=True, inline="always")
def next_pool_event(live, n_live, c_state, c_ready, c_drain, c_teardown, c_warm, warming):
    """The earliest cluster-ready, drain, teardown or warm-up event (`warming`: clusters warm up):
    (time, cluster, kind)."""
    best_t = INF
    best_c = -1
    kind = NO_EVENT
    for m in range(n_live):
        c = live[m]
        if c_state[c] == PENDING:
            if c_ready[c] < best_t or (c_ready[c] == best_t and kind > READY):
                best_t, best_c, kind = c_ready[c], c, READY
        else:
            if c_state[c] == ACTIVE:
                if c_drain[c] < best_t or (c_drain[c] == best_t and kind > DRAIN):
                    best_t, best_c, kind = c_drain[c], c, DRAIN
                if c_teardown[c] < best_t or (c_teardown[c] == best_t and kind > TEARDOWN):
                    best_t, best_c, kind = c_teardown[c], c, TEARDOWN
            if warming and c_warm[c] < best_t:
                best_t, best_c, kind = c_warm[c], c, WARMED
    return best_t, best_c, kind
