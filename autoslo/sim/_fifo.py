"""The fast compiled engine (numba) for pools whose queues are independent.

No contention, a fixed pool and routing that does not look at the state: each (cluster, queue) is
a FIFO multi-server queue, so a query starts at max(arrival, earliest free slot). It gives the
general engine's (`_engine.event_loop`) results where it applies, much faster.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from autoslo.policies import STATUS_TIMEOUT


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
