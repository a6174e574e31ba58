"""A forecast written out: the hourly forecast of a target day and N scenario workloads from it.

`forecast_scenarios` is what `autoslo workload forecast` runs: the forecast lands in
data/workloads/<name>/ (forecast.parquet, forecast.yml with the backtest MAPE per method) and
each scenario in data/workloads/<name>-s<i>/, ready for the tuner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autoslo.errors import AutosloError

if TYPE_CHECKING:
    from autoslo.datatree import DataTree

MAX_SCENARIOS = 1000


@dataclass(frozen=True)
class ForecastOutcome:
    """What was forecast and written: method, mean backtest MAPE per method, the scenarios."""

    date: dt.date
    method: str
    backtest_mape: dict[str, float]
    expected_queries: float
    folder: Path
    scenarios: list[tuple[str, int]]   # (workload name, queries)


def forecast_scenarios(tree: DataTree, history: Path, date: dt.date, name: str, *, scenarios: int,
                       method: str, seed: int,
                       warn: Callable[[str], None] | None = None) -> ForecastOutcome:
    """Forecast `date` from the history workload, sample `scenarios` workloads, write them all."""
    import yaml

    from autoslo.atomic import replace_dir
    from autoslo.config import WorkloadMeta
    from autoslo.config.workload import WorkloadSource
    from autoslo.ids import check_name
    from autoslo.workload import load_workload, save_workload
    from autoslo.workload.forecast import forecast, hourly_history, mean_mape, sample_scenario

    check_name(name, "--name")
    if not 1 <= scenarios <= MAX_SCENARIOS:
        raise AutosloError(f"--scenarios must be between 1 and {MAX_SCENARIOS}, got {scenarios}")
    source = load_workload(history)
    empty = hourly_history(source).empty_days()
    if empty and warn is not None:
        warn("warning: the history has days without queries: " + ", ".join(d.isoformat() for d in empty))
    fc = forecast(source, date, method)
    assert source.meta is not None
    start = dt.datetime.combine(date, dt.time(0), tzinfo=source.meta.start.tzinfo)
    names = [f"{name}-s{i}" for i in range(1, scenarios + 1)]
    tables = [sample_scenario(source, fc, seed, i) for i in range(1, scenarios + 1)]
    for scenario, queries in zip(names, tables, strict=True):
        save_workload(tree, queries, WorkloadMeta(
            name=scenario, description=f"forecast scenario for {date} from {source.id}",
            start=start, queries=queries.height, reference=source.meta.reference,
            source=WorkloadSource(kind="forecast", details={
                "history": source.id, "date": date, "method": fc.method, "seed": seed})))
    means = {} if fc.backtest is None else mean_mape(fc.backtest)
    folder = tree.workload_dir(name)
    with replace_dir(folder) as tmp:
        fc.table().write_parquet(tmp / "forecast.parquet")
        meta = {"name": name, "history": source.id, "date": date, "method": fc.method,
                "seed": seed, "scenarios": names,
                "backtest_mape": {k: round(float(v), 6) for k, v in sorted(means.items())}}
        (tmp / "forecast.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return ForecastOutcome(date, fc.method, dict(sorted(means.items())), float(fc.counts.sum()),
                           folder, [(n, t.height) for n, t in zip(names, tables, strict=True)])
