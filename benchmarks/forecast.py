"""Forecast accuracy and import speed (issue 5's benchmark), measured in one run.

1. A generated 8-week history with weekly seasonality (weekday peaks, quieter weekends), a trend
   (+0.5 %/day) and noise (log-normal on each hour's rate, then Poisson counts): every method's
   hourly-count MAPE on the history's last week (each day forecast from the days before it),
   and the best method's ratio to the naive "same as yesterday".
2. The 7 held-out days after it (Monday after a weekend included), each forecast with
   `--method auto` from everything before it: MAPE of the mean of 10 scenarios' hourly counts,
   next to naive's MAPE on the same day.
3. With `--fleet WORKLOAD`, the same on an 8-week history resampled from that workload's
   hour-of-week shape (a real fleet's, if you have one).
4. Import speed of a 10^6-row Redset-format parquet (rows/s and peak memory of the process),
   next to an eager polars read-filter-sort of the same file; `--big` adds 10^7 rows.

    .venv/bin/python benchmarks/forecast.py [--fleet data/workloads/<id>] [--big]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.config import WorkloadMeta  # noqa: E402
from autoslo.config.workload import WorkloadSource  # noqa: E402
from autoslo.workload import Workload, load_workload  # noqa: E402
from autoslo.workload.forecast import (  # noqa: E402
    METHODS,
    backtest,
    forecast,
    forecast_counts,
    hourly_history,
    hourly_mape,
    mean_mape,
    sample_scenario,
)

MONDAY = dt.datetime(2026, 8, 31, tzinfo=dt.UTC)
TEMPLATES = ("q01", "q03", "q06", "q09")
MIX = np.array([0.3, 0.3, 0.3, 0.1])


def seasonal_rates(days: int, seed: int) -> np.ndarray:
    """Hourly expected counts [days, 24] with weekly seasonality, trend and noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(24)
    # a warehouse with 100-500 queries per hour on weekdays
    weekday_shape = 5 * (20 + 60 * np.exp(-((hours - 14) ** 2) / 18)
                         + 25 * np.exp(-((hours - 9) ** 2) / 4))
    rates = []
    for day in range(days):
        weekend = (MONDAY.weekday() + day) % 7 >= 5
        shape = weekday_shape * (0.35 if weekend else 1.0)
        rates.append(shape * (1 + 0.005 * day) * np.exp(0.1 * rng.standard_normal(24)))
    return np.array(rates)


def workload_from_rates(rates: np.ndarray, seed: int) -> Workload:
    rng = np.random.default_rng(seed + 1)
    counts = rng.poisson(rates)
    arrivals = np.concatenate([
        (d * 24 + h) * 3600 + np.sort(rng.uniform(0, 3600, n))
        for (d, h), n in np.ndenumerate(counts)])
    templates = rng.choice(len(TEMPLATES), size=arrivals.size, p=MIX)
    frame = pl.DataFrame({"query_id": np.arange(arrivals.size, dtype=np.int64),
                          "arrival_s": arrivals,
                          "template_id": [TEMPLATES[t] for t in templates],
                          "runtime_s": np.ones(arrivals.size)})
    meta = WorkloadMeta(name="bench", start=MONDAY, queries=frame.height,
                        source=WorkloadSource(kind="generated"))
    return Workload(id="bench", queries=frame, meta=meta)


def evaluate(name: str, full: Workload, history_days: int, holdout_days: int,
             rates: np.ndarray) -> None:
    hist_all = hourly_history(full)
    history = Workload(id=full.id, meta=full.meta, queries=full.queries.filter(
        pl.col("arrival_s") < history_days * 86400))
    hist = hourly_history(history)
    scores = backtest(hist, 7)
    means = mean_mape(scores)
    best = min(means, key=lambda m: means[m])
    print(f"[{name}] backtest on the history's last week (hourly-count MAPE):")
    print("  " + "  ".join(f"{m} {means[m]:.1%}" for m in METHODS)
          + f"  -> best {best}, {means[best] / means['yesterday']:.2f}x naive's error")
    print(f"[{name}] held-out days, forecast with --method auto (10 scenarios, mean counts):")
    auto_errors, naive_errors, oracle_errors = [], [], []
    for offset in range(holdout_days):
        day = history_days + offset
        known = Workload(id=full.id, meta=full.meta, queries=full.queries.filter(
            pl.col("arrival_s") < day * 86400))
        date = MONDAY.date() + dt.timedelta(days=day)
        fc = forecast(known, date, "auto")
        scenarios = [sample_scenario(known, fc, seed=0, index=i) for i in range(1, 11)]
        mean_counts = np.mean([np.bincount((s["arrival_s"].to_numpy() // 3600).astype(int),
                                           minlength=24)[:24] for s in scenarios], axis=0)
        actual = hist_all.counts[day].sum(axis=1)
        auto = hourly_mape(mean_counts, actual)
        naive = hourly_mape(forecast_counts(hourly_history(known), day, "yesterday").sum(axis=1),
                            actual)
        oracle = hourly_mape(rates[day], actual)
        auto_errors.append(auto)
        naive_errors.append(naive)
        oracle_errors.append(oracle)
        print(f"  {date} {date.strftime('%a')}: auto ({fc.method}) {auto:6.1%}   naive "
              f"{naive:6.1%}   true rate {oracle:6.1%}")
    a, n = float(np.mean(auto_errors)), float(np.mean(naive_errors))
    print(f"  mean: auto {a:.1%}, naive {n:.1%}, true rate {np.mean(oracle_errors):.1%} (the "
          f"noise floor) -> auto's error is {a / n:.2f}x naive's ({1 - a / n:.0%} lower)")


IMPORT_SCRIPT = """
import resource, sys, time
from pathlib import Path
from autoslo.workload.importers import import_redset
t = time.perf_counter()
rows, start, size = import_redset(Path(sys.argv[1]), 1, Path(sys.argv[2]))
print(rows, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
EAGER_SCRIPT = """
import resource, sys, time
import polars as pl
t = time.perf_counter()
frame = pl.read_parquet(sys.argv[1]).filter(pl.col("instance_id") == 1).sort("arrival_timestamp")
frame.write_parquet(sys.argv[2])
print(frame.height, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def redset_file(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    chunk = 1_000_000
    parts = []
    for begin in range(0, n, chunk):
        m = min(chunk, n - begin)
        stamps = (np.datetime64("2024-03-01T00:00:00") + rng.integers(
            0, 30 * 86400 * 1_000_000, m).astype("timedelta64[us]"))
        parts.append(pl.DataFrame({
            "instance_id": rng.integers(0, 2, m), "cluster_size": 4,
            "user_id": rng.integers(1, 50, m), "database_id": 1,
            "query_id": np.arange(begin, begin + m), "arrival_timestamp": stamps,
            "compile_duration_ms": rng.integers(0, 50, m), "queue_duration_ms": 0,
            "execution_duration_ms": rng.integers(0, 60_000, m),
            "feature_fingerprint": rng.integers(1, 5000, m), "was_aborted": False,
            "was_cached": False, "query_type": "select", "num_joins": rng.integers(0, 6, m),
            "num_scans": rng.integers(1, 8, m), "num_aggregations": rng.integers(0, 4, m),
            "mbytes_scanned": rng.uniform(0, 1e4, m)}))
    pl.concat(parts).write_parquet(path)


def import_speed(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            source = Path(tmp) / f"redset-{n}.parquet"
            redset_file(source, n)
            results = {}
            for label, script in (("autoslo import (streaming)", IMPORT_SCRIPT),
                                  ("eager polars read-filter-sort", EAGER_SCRIPT)):
                out = subprocess.run([sys.executable, "-c", script, str(source),
                                      str(Path(tmp) / "out.parquet")], cwd=REPO, check=True,
                                     capture_output=True, text=True).stdout.split()
                rows, seconds, peak_mb = int(out[0]), float(out[1]), float(out[2])
                results[label] = (n / seconds, peak_mb)
                print(f"  {n:>11,} rows in, {rows:>10,} kept: {label:<30} {n / seconds:>13,.0f} "
                      f"rows/s, peak {peak_mb:,.0f} MB")
            ours, eager = results.values()
            print(f"  {'':>11}  speed {ours[0] / eager[0]:.2f}x eager, memory "
                  f"{ours[1] / eager[1]:.2f}x eager")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=Path, help="a workload whose hourly shape to resample")
    parser.add_argument("--big", action="store_true", help="also import 10^7 rows")
    parser.add_argument("--smoke", action="store_true", help="fewer held-out days, for CI")
    args = parser.parse_args()
    holdout = 2 if args.smoke else 7
    rates = seasonal_rates(56 + 7, seed=1)
    evaluate("seasonal", workload_from_rates(rates, seed=1), 56, holdout, rates)
    if args.fleet:
        fleet = hourly_history(load_workload(args.fleet))
        days = fleet.complete_days
        shape = np.zeros((7, 24))
        for weekday in range(7):
            mine = [d for d in days if fleet.weekday(d) == weekday]
            if mine:
                shape[weekday] = fleet.counts[mine].sum(axis=2).mean(axis=0)
        rates = np.array([shape[(MONDAY.weekday() + d) % 7] for d in range(63)])
        evaluate("fleet", workload_from_rates(rates, seed=2), 56, holdout, rates)
    else:
        print("[fleet] no fleet history supplied (pass --fleet data/workloads/<id>)")
    print("import speed (Redset format, one instance of two):")
    import_speed([100_000] if args.smoke else [1_000_000, *([10_000_000] if args.big else [])])


if __name__ == "__main__":
    main()
