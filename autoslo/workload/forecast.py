"""Forecast tomorrow's workload from history, and sample scenario workloads from the forecast.

The history becomes a table of hourly counts per template over its complete local days (days
and hours in the time zone of the history's `start`). Methods forecast a target day's 24 hourly
counts per template:

- `yesterday`: the most recent complete day;
- `same_weekday`: the most recent complete day on the target's weekday;
- `ewma`: an exponentially weighted average (alpha 0.5) of the past weeks' same weekday;
- `seasonal`: a log-linear model of the hourly total with one effect per hour of the week and a
  linear trend (least squares), corrected for the log bias, split over templates by their
  recent share of each hour of the day.

`auto` backtests every method on the history's last days (each day forecast from the days
before it) and uses the one with the lowest hourly-count MAPE. Scenarios draw each hour's count
from a Poisson around the forecast, arrival times inside the hour from the history's
inter-arrival shape (gaps relative to their hour's mean gap, bootstrapped), and each query's
template from the forecast's mix for that hour, copying group, user and runtime from a random
history query of that template.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from autoslo.errors import InputError
from autoslo.workload import Workload

DAY_S = 86_400
METHODS = ("yesterday", "same_weekday", "ewma", "seasonal")
EWMA_ALPHA = 0.5
MAX_DAYS_AHEAD = 7
SHARE_DAYS = 14
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class HourlyHistory:
    """Hourly counts per template over the history's complete local days."""

    first_day: dt.date           # local calendar date of day index 0
    tz: dt.tzinfo
    counts: np.ndarray           # int64[days, 24, templates]
    complete: np.ndarray         # bool[days]: the whole day lies inside the history
    templates: list[str]

    def weekday(self, day: int) -> int:
        return (self.first_day.weekday() + day) % 7

    def day_index(self, date: dt.date) -> int:
        return (date - self.first_day).days

    @property
    def complete_days(self) -> np.ndarray:
        return np.flatnonzero(self.complete)

    def empty_days(self) -> list[dt.date]:
        """Complete days without a single query (worth a warning)."""
        totals = self.counts.sum(axis=(1, 2))
        return [self.first_day + dt.timedelta(days=int(d)) for d in self.complete_days
                if totals[d] == 0]


def hourly_history(workload: Workload) -> HourlyHistory:
    """Bin a history workload into local hours and days."""
    if workload.meta is None:
        raise InputError(f"history {workload.id!r} needs a workload.yml (its start time)")
    start = workload.meta.start
    offset_s = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
    frame = workload.queries
    if frame.height == 0:
        raise InputError(f"history {workload.id!r} has no queries")
    local_s = frame["arrival_s"].to_numpy() + offset_s
    hour_index = np.floor(local_s / 3600).astype(np.int64)
    templates = sorted(frame["template_id"].unique().to_list())
    template_index = frame["template_id"].replace_strict(
        {t: i for i, t in enumerate(templates)}, return_dtype=pl.Int64).to_numpy()
    n_days = int(hour_index.max() // 24) + 1
    counts = np.zeros((n_days * 24, len(templates)), np.int64)
    np.add.at(counts, (hour_index, template_index), 1)
    last_hour = int(hour_index.max())
    complete = np.ones(n_days, bool)
    if offset_s > 0:
        complete[0] = False
    if last_hour % 24 != 23:
        complete[-1] = False
    return HourlyHistory(first_day=start.date(), tz=start.tzinfo or dt.UTC,
                         counts=counts.reshape(n_days, 24, len(templates)), complete=complete,
                         templates=templates)


def _check_target(hist: HourlyHistory, day: int, date: dt.date) -> None:
    days = hist.complete_days
    if days.size == 0:
        raise InputError("the history has no complete day to learn from")
    last = int(days.max())
    last_date = hist.first_day + dt.timedelta(days=last)
    if day <= last:
        raise InputError(f"--date {date.isoformat()} lies inside the history (its last complete "
                         f"day is {last_date.isoformat()}); forecast a later day")
    if day - last > MAX_DAYS_AHEAD:
        raise InputError(f"--date {date.isoformat()} is {day - last} days after the history's "
                         f"last complete day {last_date.isoformat()}; at most {MAX_DAYS_AHEAD} "
                         "days ahead are supported")


def _days_before(hist: HourlyHistory, day: int) -> np.ndarray:
    days = hist.complete_days
    return days[days < day]


def forecast_counts(hist: HourlyHistory, day: int, method: str) -> np.ndarray:
    """Expected hourly counts per template (float[24, templates]) for day index `day`."""
    days = _days_before(hist, day)
    if days.size == 0:
        raise InputError("no complete day before the target to learn from")
    if method == "yesterday":
        return hist.counts[days[-1]].astype(float)
    same = days[[hist.weekday(d) == hist.weekday(day) for d in days]]
    if method in ("same_weekday", "ewma") and same.size == 0:
        raise InputError(f"method {method}: the history has no complete "
                         f"{WEEKDAYS[hist.weekday(day)]} before the target")
    if method == "same_weekday":
        return hist.counts[same[-1]].astype(float)
    if method == "ewma":
        recent_first = same[::-1]
        weights = EWMA_ALPHA * (1 - EWMA_ALPHA) ** np.arange(recent_first.size)
        weights /= weights.sum()
        return np.tensordot(weights, hist.counts[recent_first].astype(float), axes=1)
    if method == "seasonal":
        return _seasonal(hist, days, day)
    raise InputError(f"--method must be one of auto, {', '.join(METHODS)}, got {method!r}")


def _seasonal(hist: HourlyHistory, days: np.ndarray, day: int) -> np.ndarray:
    totals = hist.counts[days].sum(axis=2).astype(float)          # [d, 24]
    hour_of_week = (np.array([hist.weekday(d) for d in days])[:, None] * 24
                    + np.arange(24)[None, :])
    trend = (days[:, None] + np.arange(24)[None, :] / 24).astype(float)
    y = np.log1p(totals).ravel()
    design = np.zeros((y.size, 169))
    design[np.arange(y.size), hour_of_week.ravel()] = 1.0
    design[:, 168] = trend.ravel() - trend.mean()
    seen = design[:, :168].any(axis=0)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    bias = np.exp(residual.var() / 2)
    target_how = hist.weekday(day) * 24 + np.arange(24)
    level = np.where(np.isin(target_how, hour_of_week.ravel()), coef[target_how],
                     coef[:168][seen].mean())
    predicted = np.expm1(level + coef[168] * (day + np.arange(24) / 24 - trend.mean())) * bias
    predicted = np.clip(predicted, 0.0, None)
    recent = hist.counts[days[-SHARE_DAYS:]].sum(axis=0).astype(float)  # [24, T]
    overall = recent.sum(axis=0) / max(recent.sum(), 1.0)
    hour_totals = recent.sum(axis=1, keepdims=True)
    shares = np.where(hour_totals > 0, recent / np.where(hour_totals > 0, hour_totals, 1.0),
                      overall[None, :])
    return predicted[:, None] * shares


def hourly_mape(forecast_total: np.ndarray, actual_total: np.ndarray) -> float:
    """Mean absolute percentage error over the hours with at least one actual query."""
    mask = actual_total > 0
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs(forecast_total[mask] - actual_total[mask]) / actual_total[mask]))


def backtest(hist: HourlyHistory, days: int = 7,
             methods: tuple[str, ...] = METHODS) -> pl.DataFrame:
    """Each method's hourly-count MAPE on each of the last `days` complete days."""
    targets = hist.complete_days[-days:]
    rows = []
    for target in targets:
        actual = hist.counts[target].sum(axis=1).astype(float)
        for method in methods:
            try:
                predicted = forecast_counts(hist, int(target), method).sum(axis=1)
                error = hourly_mape(predicted, actual)
            except InputError:
                error = float("nan")
            rows.append({"date": hist.first_day + dt.timedelta(days=int(target)),
                         "weekday": WEEKDAYS[hist.weekday(int(target))], "method": method,
                         "mape": error})
    return pl.DataFrame(rows, schema={"date": pl.Date, "weekday": pl.String,
                                      "method": pl.String, "mape": pl.Float64})


def mean_mape(scores: pl.DataFrame) -> dict[str, float]:
    """Each method's mean MAPE over the backtest days it could forecast."""
    means = (scores.filter(pl.col("mape").is_not_nan())
             .group_by("method").agg(pl.col("mape").mean()))
    return {str(method): float(mape) for method, mape in means.iter_rows()}


def best_method(scores: pl.DataFrame) -> str:
    """The method with the lowest mean MAPE (ties: the order of METHODS)."""
    means = mean_mape(scores)
    if not means:
        raise InputError("no method could be backtested: the history is too short")
    return min(means, key=lambda m: (means[m], METHODS.index(m)))


@dataclass(frozen=True)
class Forecast:
    """A target day's expected hourly counts per template, and how they were made."""

    date: dt.date
    method: str
    counts: np.ndarray           # float[24, templates]
    templates: list[str]
    backtest: pl.DataFrame | None

    def table(self) -> pl.DataFrame:
        """The hourly forecast as a tidy table: hour, template_id, expected_count."""
        hours, templates = np.meshgrid(np.arange(24), np.arange(len(self.templates)),
                                       indexing="ij")
        return pl.DataFrame({
            "date": [self.date] * hours.size,
            "hour": hours.ravel().astype(np.int32),
            "template_id": [self.templates[i] for i in templates.ravel()],
            "expected_count": self.counts.ravel(),
        })


def forecast(workload: Workload, date: dt.date, method: str = "auto",
             backtest_days: int = 7) -> Forecast:
    """Forecast `date` from the history `workload` with `method` (or the backtested best)."""
    if method != "auto" and method not in METHODS:
        raise InputError(f"--method must be one of auto, {', '.join(METHODS)}, got {method!r}")
    hist = hourly_history(workload)
    day = hist.day_index(date)
    try:
        _check_target(hist, day, date)
    except InputError as exc:
        raise InputError(f"history {workload.id!r}: {exc.rule}") from None
    scores = None
    if method == "auto":
        scores = backtest(hist, backtest_days)
        method = best_method(scores)
    return Forecast(date=date, method=method, counts=forecast_counts(hist, day, method),
                    templates=hist.templates, backtest=scores)


def relative_gaps(workload: Workload) -> np.ndarray:
    """Inter-arrival gaps divided by the mean gap of their hour: the history's burstiness."""
    arrival = workload.queries["arrival_s"].to_numpy()
    if arrival.size < 3:
        return np.ones(1)
    gaps = np.diff(arrival)
    hour = np.floor(arrival[1:] / 3600).astype(np.int64)
    sums = np.bincount(hour, weights=gaps)
    counts = np.bincount(hour)
    mean_gap = sums[hour] / counts[hour]
    relative = gaps[mean_gap > 0] / mean_gap[mean_gap > 0]
    return relative if relative.size else np.ones(1)


def sample_scenario(workload: Workload, fc: Forecast, seed: int, index: int) -> pl.DataFrame:
    """One scenario's queries table for the forecast day (arrival_s from its 00:00)."""
    rng = np.random.default_rng([seed, index])
    gaps = relative_gaps(workload)
    history = workload.queries
    by_template = {t: np.flatnonzero((history["template_id"] == t).to_numpy())
                   for t in fc.templates}
    arrivals: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for hour in range(24):
        expected = fc.counts[hour]
        total = float(expected.sum())
        n = int(rng.poisson(total)) if total > 0 else 0
        if n == 0:
            continue
        g = rng.choice(gaps, size=n + 1)
        times = hour * 3600 + np.cumsum(g)[:-1] / g.sum() * 3600
        picks = rng.choice(len(fc.templates), size=n, p=expected / total)
        source = np.array([rng.choice(by_template[fc.templates[p]]) for p in picks])
        arrivals.append(times)
        rows.append(source)
    if not arrivals:
        raise InputError(f"the forecast for {fc.date.isoformat()} expects no queries")
    arrival = np.concatenate(arrivals)
    copied = history[np.concatenate(rows)]
    keep = [c for c in ("template_id", "query_group", "user", "runtime_s", "runtime_size")
            if c in copied.columns]
    return (copied.select(keep)
            .with_columns(pl.Series("arrival_s", np.round(arrival, 6)),
                          pl.Series("query_id", np.arange(arrival.size, dtype=np.int64)))
            .select(["query_id", "arrival_s", *keep]))
