"""The contention law shared by the simulator's engine and the live replay's predictions.

Weighted processor sharing: the queries running on a cluster share its capacity in proportion
to their weights (a heavy query takes a bigger share, so it slows light ones more than they slow
it), no query runs faster than alone, and once more queries run than the capacity the total
throughput bends by the slowdown exponent (above 1: thrashing, spilling; below 1: a warehouse
that gets more out of concurrency). With unit weights and exponent 1 it is processor sharing
with capacity c: each of k queries progresses at min(1, c / k).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def throughput(running, capacity, slowdown_exponent):  # pragma: no cover - compiled
    """Work served per second on a cluster with `running` queries (isolated seconds per second)."""
    if running <= capacity:
        return float(running)
    if slowdown_exponent == 1.0:
        return capacity
    return capacity * (capacity / running) ** (slowdown_exponent - 1.0)


@njit(cache=True, inline="always")
def share_rate(running, weight_sum, weight_max, capacity, slowdown_exponent):  # pragma: no cover
    """The common progress rate phi: a running query of weight w advances at w * phi."""
    if running == 0:
        return 1.0
    return min(1.0 / weight_max,
               throughput(running, capacity, slowdown_exponent) / weight_sum)


@njit(cache=True, inline="always")
def slowdown_of(weight, running, weight_sum, weight_max, capacity,
                slowdown_exponent):  # pragma: no cover - compiled
    """How many times slower than alone a query of `weight` runs in that running set (>= 1)."""
    if running <= capacity and weight_max == weight:
        return 1.0
    return max(weight_max / weight,
               weight_sum / (throughput(running, capacity, slowdown_exponent) * weight))
