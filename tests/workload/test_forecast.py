"""Forecasting: binning, each method on histories with a known answer, auto, scenarios, CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from autoslo.config import WorkloadMeta
from autoslo.config.workload import WorkloadSource
from autoslo.datatree import DataTree
from autoslo.errors import InputError
from autoslo.workload import Workload, load_workload, save_workload
from autoslo.workload.forecast import (
    backtest,
    best_method,
    forecast,
    forecast_counts,
    hourly_history,
    hourly_mape,
    sample_scenario,
)

MONDAY = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)


def history_from_counts(counts: np.ndarray, start: dt.datetime = MONDAY,
                        templates: tuple[str, ...] = ("a", "b")) -> Workload:
    """A history whose hour h of day d holds counts[d, h] queries, alternating templates."""
    arrivals, names = [], []
    for (day, hour), n in np.ndenumerate(counts):
        if n:
            offset = (start.hour * 3600) if day == 0 and hour == 0 else 0
            arrivals.extend(day * 86400 + hour * 3600 + (np.arange(n) + 0.5) * 3600 / n - offset)
            names.extend(templates[i % len(templates)] for i in range(n))
    frame = pl.DataFrame({"query_id": np.arange(len(arrivals), dtype=np.int64),
                          "arrival_s": np.array(arrivals, dtype=float), "template_id": names,
                          "runtime_s": np.ones(len(arrivals))})
    meta = WorkloadMeta(name="h", start=start, queries=frame.height,
                        source=WorkloadSource(kind="generated"))
    return Workload(id="h", queries=frame, meta=meta)


def weekly_counts(weeks: int, trend: float = 0.0) -> np.ndarray:
    hours = np.arange(24)
    day_shape = 10 + 8 * np.sin(np.pi * hours / 24) ** 2
    rows = []
    for day in range(weeks * 7):
        factor = (0.4 if day % 7 >= 5 else 1.0) * (1 + trend * day)
        rows.append(np.round(day_shape * factor).astype(int))
    return np.array(rows)


def test_hourly_binning_and_complete_days() -> None:
    counts = weekly_counts(1)
    hist = hourly_history(history_from_counts(counts))
    assert hist.counts.sum(axis=2).tolist() == counts.tolist()
    assert hist.complete.all()
    late = hourly_history(history_from_counts(counts, start=MONDAY.replace(hour=6)))
    assert not late.complete[0], "a history starting at 06:00 has no complete first day"


def test_methods_on_an_exact_weekly_pattern() -> None:
    hist = hourly_history(history_from_counts(weekly_counts(4)))
    monday = 28  # the day after the history, a Monday
    expected = weekly_counts(5)[monday]
    for method in ("same_weekday", "ewma"):
        total = forecast_counts(hist, monday, method).sum(axis=1)
        np.testing.assert_allclose(total, expected, err_msg=method)
    yesterday = forecast_counts(hist, monday, "yesterday").sum(axis=1)
    np.testing.assert_allclose(yesterday, weekly_counts(4)[-1])  # a Sunday: wrong for Monday
    assert hourly_mape(forecast_counts(hist, monday, "seasonal").sum(axis=1), expected) < 0.02


def test_seasonal_learns_a_trend_and_auto_picks_it() -> None:
    counts = weekly_counts(8, trend=0.01)
    hist = hourly_history(history_from_counts(counts))
    target = 56
    expected = weekly_counts(9, trend=0.01)[target]
    seasonal = hourly_mape(forecast_counts(hist, target, "seasonal").sum(axis=1), expected)
    ewma = hourly_mape(forecast_counts(hist, target, "ewma").sum(axis=1), expected)
    assert seasonal < ewma and seasonal < 0.03
    scores = backtest(hist, 7)
    assert scores.height == 7 * 4
    assert best_method(scores) == "seasonal"


def test_bad_targets_and_methods() -> None:
    history = history_from_counts(weekly_counts(2))
    with pytest.raises(InputError, match="lies inside the history"):
        forecast(history, dt.date(2026, 9, 10))
    with pytest.raises(InputError, match="at most 7 days ahead"):
        forecast(history, dt.date(2026, 10, 30))
    with pytest.raises(InputError, match="--method must be one of auto"):
        forecast(history, dt.date(2026, 9, 21), "prophet")
    short = history_from_counts(weekly_counts(1)[:3])
    with pytest.raises(InputError, match="no complete Thursday before the target"):
        forecast(short, dt.date(2026, 9, 10), "same_weekday")


def test_scenarios_follow_the_forecast() -> None:
    history = history_from_counts(weekly_counts(4))
    fc = forecast(history, dt.date(2026, 10, 5), "same_weekday")
    scenarios = [sample_scenario(history, fc, seed=1, index=i) for i in range(1, 31)]
    assert scenarios[0].equals(sample_scenario(history, fc, seed=1, index=1))
    assert not scenarios[0].equals(scenarios[1])
    hourly = np.array([np.bincount((s["arrival_s"].to_numpy() // 3600).astype(int),
                                   minlength=24) for s in scenarios])
    assert hourly_mape(hourly.mean(axis=0), fc.counts.sum(axis=1)) < 0.1
    for s in scenarios[:3]:
        assert s["arrival_s"].min() >= 0 and s["arrival_s"].max() < 86400
        assert s["arrival_s"].is_sorted()
        assert set(s["template_id"]) <= {"a", "b"}


def test_forecast_cli_writes_scenarios_and_table(data_dir: Path, cli) -> None:
    tree = DataTree(data_dir)
    history = history_from_counts(weekly_counts(3))
    counts = weekly_counts(3)
    counts[9] = 0  # an empty Wednesday
    history = history_from_counts(counts)
    save_workload(tree, history.queries, history.meta)
    result = cli("workload", "forecast", "--history", "data/workloads/h", "--date", "2026-09-28",
                 "--name", "fc", "--scenarios", "2")
    assert result.code == 0, result.err
    assert result.err.strip() == "warning: the history has days without queries: 2026-09-16"
    assert "forecast 2026-09-28 by " in result.out
    table = pl.read_parquet(data_dir / "workloads/fc/forecast.parquet")
    assert table.columns == ["date", "hour", "template_id", "expected_count"]
    scenario = load_workload(data_dir / "workloads/fc-s1")
    assert scenario.meta.start == dt.datetime(2026, 9, 28, tzinfo=dt.UTC)
    assert cli("validate", "data/workloads").code == 0
    result = cli("workload", "forecast", "--history", "data/workloads/h", "--date", "2026-09-15",
                 "--name", "x")
    assert result.code == 2 and "lies inside the history" in result.err
    assert not (data_dir / "workloads/x").exists()
    result = cli("workload", "backtest", "--history", "data/workloads/h", "--days", "3")
    assert result.code == 0 and result.out.strip().splitlines()[-1].startswith("best: ")
