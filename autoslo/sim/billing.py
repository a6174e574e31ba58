"""Billing of simulated (and live) runs, from per-query busy intervals and cluster lifetimes.

- Serverless: a workgroup bills busy time only. Busy intervals are merged into busy periods; each
  period is charged at least `serverless_min_billed_s` (60 s), rounded up to whole seconds; a
  query starting inside the running minimum of a period merges into that period.
- Provisioned: node-hours for every second the cluster is available (ready until removed).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from autoslo.config.prices import PriceTable
from autoslo.errors import InputError


@njit(cache=True)
def _billed_periods(starts, ends, minimum):  # pragma: no cover - compiled
    order = np.argsort(starts, kind="mergesort")
    total = 0.0
    periods = 0
    if order.shape[0] == 0:
        return total, periods
    p_start = starts[order[0]]
    p_end = ends[order[0]]
    for k in range(1, order.shape[0]):
        s = starts[order[k]]
        e = ends[order[k]]
        if s <= max(p_end, p_start + minimum):
            if e > p_end:
                p_end = e
        else:
            total += math.ceil(max(p_end - p_start, minimum))
            periods += 1
            p_start = s
            p_end = e
    total += math.ceil(max(p_end - p_start, minimum))
    periods += 1
    return total, periods


def billed_busy_seconds(starts: np.ndarray, ends: np.ndarray, minimum_s: float) -> float:
    """Billed seconds from query (start, end) intervals: busy periods, each at least `minimum_s`."""
    total, _ = _billed_periods(np.asarray(starts, np.float64), np.asarray(ends, np.float64),
                               float(minimum_s))
    return float(total)


def serverless_cost_usd(billed_s: float, rpu: int, prices: PriceTable) -> float:
    return billed_s / 3600.0 * rpu * prices.serverless_usd_per_rpu_hour


def provisioned_cost_usd(alive_s: float, node_type: str, nodes: int, prices: PriceTable) -> float:
    try:
        rate = prices.provisioned_usd_per_node_hour[node_type]
    except KeyError:
        raise InputError(f"prices: provisioned_usd_per_node_hour has no price for node_type "
                         f"{node_type!r} (prices of {prices.region}, {prices.as_of})") from None
    return alive_s / 3600.0 * nodes * rate
