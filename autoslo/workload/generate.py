"""Synthetic workloads: Poisson arrivals with a rate profile, a template mix, query groups.

Arrivals are an inhomogeneous Poisson process sampled by thinning (candidates at the peak rate,
each kept with probability rate(t) / peak). Hours of the day and weekdays are those of the
spec's `start` in its own time zone (daylight-saving shifts are ignored). Same spec and seed,
same rows, in any process.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from autoslo.config.generator import GeneratorSpec, RateProfile
from autoslo.errors import InputError
from autoslo.workload.templates import Suite

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


def _local_offset_s(spec: GeneratorSpec) -> tuple[float, int]:
    """Seconds since local midnight at the start, and the start's weekday (Monday = 0)."""
    local = spec.start
    return (local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6,
            local.weekday())


def rate_per_s(t: np.ndarray, profile: RateProfile, start_sod_s: float = 0.0,
               start_weekday: int = 0) -> np.ndarray:
    """The arrival rate at `t` seconds from the start; its long-run mean is `mean_per_s`."""
    mean = profile.mean_per_s
    if profile.profile == "constant":
        return np.full(t.shape, mean)
    if profile.profile == "bursty":
        assert profile.bursts is not None
        b = profile.bursts
        share = b.duration_s / b.every_s
        base = mean / (1 + (b.factor - 1) * share)
        in_burst = np.mod(t, b.every_s) < b.duration_s
        return np.where(in_burst, base * b.factor, base)
    amplitude = (profile.peak_to_trough - 1) / (profile.peak_to_trough + 1)
    local_s = start_sod_s + t
    hour = np.mod(local_s, DAY_S) / 3600.0
    shape = 1 + amplitude * np.cos(2 * np.pi * (hour - profile.peak_hour) / 24)
    if profile.profile == "diurnal":
        return mean * shape
    weekday = (start_weekday + np.floor(local_s / DAY_S).astype(np.int64)) % 7
    weekend = weekday >= 5
    norm = 7 / (5 + 2 * profile.weekend_factor)
    return mean * shape * norm * np.where(weekend, profile.weekend_factor, 1.0)


def peak_rate_per_s(profile: RateProfile) -> float:
    """An upper bound of `rate_per_s` over all times (for thinning)."""
    mean = profile.mean_per_s
    if profile.profile == "constant":
        return mean
    if profile.profile == "bursty":
        assert profile.bursts is not None
        b = profile.bursts
        return mean * b.factor / (1 + (b.factor - 1) * b.duration_s / b.every_s)
    amplitude = (profile.peak_to_trough - 1) / (profile.peak_to_trough + 1)
    peak = mean * (1 + amplitude)
    if profile.profile == "weekly":
        peak *= 7 / (5 + 2 * profile.weekend_factor)
    return peak


def generate(spec: GeneratorSpec, suite: Suite) -> pl.DataFrame:
    """The queries table for `spec` (sorted by arrival; query ids 0..n-1)."""
    templates = list(spec.mix) or suite.template_ids
    missing = [t for t in templates if t not in suite.meta.templates]
    if missing:
        raise InputError(f"mix: template {missing[0]!r} is not in suite {suite.meta.name!r} "
                         f"(it has {', '.join(suite.template_ids)})")
    unknown_groups = [t for t in spec.query_groups if t not in templates]
    if unknown_groups:
        raise InputError(f"query_groups: template {unknown_groups[0]!r} is not in the mix")
    rng = np.random.default_rng(spec.seed)
    peak = peak_rate_per_s(spec.rate)
    expected = peak * spec.duration_s
    sod, weekday = _local_offset_s(spec)
    chunks = []
    t = 0.0
    while t < spec.duration_s:  # draw candidate gaps in blocks until the window is covered
        gaps = rng.exponential(1.0 / peak, size=int(expected * 1.1) + 16)
        times = t + np.cumsum(gaps)
        chunks.append(times)
        t = float(times[-1])
    candidates = np.concatenate(chunks)
    candidates = candidates[candidates < spec.duration_s]
    keep = rng.random(candidates.size) * peak < rate_per_s(candidates, spec.rate, sod, weekday)
    arrival = candidates[keep]
    weights = np.array([spec.mix.get(t, 1.0) for t in templates])
    picks = rng.choice(len(templates), size=arrival.size, p=weights / weights.sum())
    chosen = np.array(templates, dtype=object)[picks]
    groups = [spec.query_groups.get(t) or suite.meta.templates[t].query_group for t in templates]
    users = rng.integers(1, spec.users + 1, size=arrival.size)
    columns = {
        "query_id": np.arange(arrival.size, dtype=np.int64),
        "arrival_s": np.round(arrival, 6),
        "template_id": pl.Series(list(chosen), dtype=pl.String),
        "query_group": pl.Series([groups[i] for i in picks], dtype=pl.String),
        "user": pl.Series([f"user_{u}" for u in users], dtype=pl.String),
    }
    if spec.runtimes is not None:
        medians = spec.runtimes.medians_s
        lacking = [t for t in templates if t not in medians]
        if lacking:
            raise InputError(f"runtimes.medians_s: no median for template {lacking[0]!r}")
        median = np.array([medians[t] for t in templates])[picks]
        noise = np.exp(spec.runtimes.sigma * rng.standard_normal(arrival.size))
        columns["runtime_s"] = np.round(median * noise, 6)
    return pl.DataFrame(columns)
