"""The workloads a tuning run optimises for: one given workload, or forecast scenarios."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from autoslo.atomic import write_text
from autoslo.config import WorkloadMeta
from autoslo.config.tuner import FixedWorkload, ForecastWorkload, TunerConfig
from autoslo.config.workload import WorkloadSource
from autoslo.datatree import DataTree
from autoslo.tune._errors import ScenarioError
from autoslo.workload import Workload, load_workload, write_meta


@dataclass(frozen=True)
class ScenarioSet:
    """Training scenarios (searched on) and validation scenarios (the winner is checked on)."""

    train: list[Workload]
    validation: list[Workload]


def build_scenarios(tuner: TunerConfig, tree: DataTree, folder: Path) -> ScenarioSet:
    """Make the scenarios once and keep them in `folder`; a resumed run reloads them."""
    index = folder / "scenarios.yml"
    if index.is_file():
        listing = yaml.safe_load(index.read_text())
        load = lambda names: [load_workload(folder / n) for n in names]  # noqa: E731
        return ScenarioSet(load(listing["train"]), load(listing["validation"]))
    spec = tuner.workload
    if isinstance(spec, FixedWorkload):
        workload = load_workload(tree.ref(spec.path, field="workload.path"))
        scenarios = ScenarioSet([workload], [workload])
        listing = {"train": [], "validation": [], "workload": spec.path}
    else:
        scenarios = _forecast_scenarios(spec, tree)
        listing = {"train": [w.id for w in scenarios.train],
                   "validation": [w.id for w in scenarios.validation]}
    folder.mkdir(parents=True, exist_ok=True)
    for workload in {w.id: w for w in scenarios.train + scenarios.validation}.values():
        target = folder / workload.id
        target.mkdir(exist_ok=True)
        workload.queries.write_parquet(target / "queries.parquet")
        write_meta(target, _meta(workload, "workload.path"))
    if isinstance(spec, FixedWorkload):
        listing["train"] = listing["validation"] = [scenarios.train[0].id]
    write_text(index, yaml.safe_dump(listing, sort_keys=False))  # last: marks the set complete
    return scenarios


def _forecast_scenarios(spec: ForecastWorkload, tree: DataTree) -> ScenarioSet:
    from autoslo.workload.forecast import forecast, sample_scenario

    history = load_workload(tree.ref(spec.history, field="workload.history"))
    fc = forecast(history, spec.date, spec.method)
    meta = _meta(history, "workload.history")
    start = dt.datetime.combine(spec.date, dt.time(0), tzinfo=meta.start.tzinfo)
    workloads = []
    for i in range(1, spec.scenarios + 1):
        queries: pl.DataFrame = sample_scenario(history, fc, seed=0, index=i)
        scenario = WorkloadMeta(name=f"scenario-s{i}", start=start, queries=queries.height,
                                reference=meta.reference,
                                source=WorkloadSource(kind="forecast", details={
                                    "history": history.id, "date": spec.date,
                                    "method": fc.method}))
        workloads.append(Workload(id=scenario.name, queries=queries, meta=scenario))
    cut = spec.scenarios - spec.validation_scenarios
    return ScenarioSet(workloads[:cut], workloads[cut:] or workloads[:1])


def _meta(workload: Workload, field: str) -> WorkloadMeta:
    """The workload's `workload.yml` record (a bare parquet file has none to copy)."""
    if workload.meta is None:
        raise ScenarioError(f"workload {workload.id!r} has no workload.yml record; give a "
                            "workload folder", field=field)
    return workload.meta
