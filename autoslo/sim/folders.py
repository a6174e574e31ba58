"""Simulator result folders: one deterministic folder per (workload, config), reused when complete.

A folder that already holds a complete result (its summary.yml names the same ids and simulator
version) is reused unless forced; results are written with one rename, so an interrupted run never
leaves a folder that looks complete. One process at a time writes a folder: another one waits for
it (then reuses what it wrote, unless forced).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autoslo.atomic import one_writer, remove_leftovers
from autoslo.combinations import Combination
from autoslo.datatree import DataTree
from autoslo.perf import load_latency_model
from autoslo.sim._result import SIMULATOR_VERSION
from autoslo.sim._simulate import simulate
from autoslo.workload import load_workload

RESULT_FILES = ("queries.parquet", "clusters.parquet", "summary.yml")
WRITER_WAIT_S = 1800.0  # how long a second execute of the same folder waits for the first


@dataclass(frozen=True)
class SimulatorOutcome:
    """Where a combination's results are and whether this call produced or reused them."""

    combination: Combination
    folder: Path
    reused: bool
    summary: dict[str, Any]


def complete_summary(folder: Path, combination: Combination) -> dict[str, Any] | None:
    """The summary of a complete simulator folder for this combination, else None."""
    if not all((folder / name).is_file() for name in RESULT_FILES):
        return None
    try:
        summary = yaml.safe_load((folder / "summary.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(summary, dict):
        return None
    same = (summary.get("workload_id") == combination.workload_id
            and summary.get("execution_config_id") == combination.execution_config_id
            and str(summary.get("simulator_version")) == SIMULATOR_VERSION)
    return summary if same else None


def simulate_combination(combination: Combination, tree: DataTree, *,
                         force: bool = False) -> SimulatorOutcome:
    """Simulate one combination into its folder (or reuse a complete one)."""
    folder = combination.simulator_dir(tree)
    with one_writer(folder, f"simulator folder {combination.label}", wait_s=WRITER_WAIT_S):
        return _simulate_locked(combination, tree, folder, force=force)


def _simulate_locked(combination: Combination, tree: DataTree, folder: Path, *,
                     force: bool) -> SimulatorOutcome:
    """`simulate_combination` once this process holds the folder's lock."""
    remove_leftovers(folder)  # the temporary folder of a killed run (never renamed)
    if not force:
        summary = complete_summary(folder, combination)
        if summary is not None:
            return SimulatorOutcome(combination, folder, True, summary)
    workload = load_workload(combination.workload_path)
    config = combination.config.config
    model = load_latency_model(config.latency_model.model, tree)
    result = simulate(workload, config, model, execution_config_id=combination.execution_config_id)
    result.write(folder)
    return SimulatorOutcome(combination, folder, False, result.summary)


def simulate_all(combinations: list[Combination], tree: DataTree, *, force: bool = False,
                 progress: Callable[[SimulatorOutcome], None] | None = None
                 ) -> list[SimulatorOutcome]:
    """Simulate each combination in order; `progress` hears about each as it finishes."""
    outcomes = []
    for combination in combinations:
        outcome = simulate_combination(combination, tree, force=force)
        if progress is not None:
            progress(outcome)
        outcomes.append(outcome)
    return outcomes
