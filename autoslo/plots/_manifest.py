"""Resolve a plotting manifest's points to run folders: simulator folders, live runs, tuner runs.

Every point is checked before anything is drawn; a point whose run does not exist is an error
that names the command which would create it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from autoslo.combinations import Combination, manifest_combinations, resolve_combination
from autoslo.config import ExecutionManifest, SloSpec, TuningManifest, load_model
from autoslo.config.manifests import CombinationPoint, Panel, PlottingManifest, TunerPoint
from autoslo.datatree import DataTree, display_path
from autoslo.errors import AutosloError, InputError
from autoslo.live.records import RunRecord, newest_run, read_run_index
from autoslo.plots._style import check_colour, colour_map
from autoslo.results import References, RunSource


@dataclass(frozen=True)
class TunerRun:
    """A finished tuner run's tables: every trial, the Pareto front, and the tau it used."""

    label: str
    folder: Path
    trials: pl.DataFrame
    pareto: pl.DataFrame
    tau: float | None


@dataclass
class ResolvedPanel:
    """A panel with its SLO spec loaded and its points resolved to run folders."""

    index: int
    panel: Panel
    spec: SloSpec | None
    spec_ref: str | None
    references: References
    sources: list[RunSource] = field(default_factory=list)
    live_sources: list[RunSource] = field(default_factory=list)
    tuner_runs: list[TunerRun] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str | None:
        return self.panel.title


class _Finder:
    """Looks up which shipped manifest would create a missing run (for the error message)."""

    def __init__(self, tree: DataTree) -> None:
        self.tree = tree
        self._execution: list[tuple[Path, set[tuple[str, str]]]] | None = None

    def execution_manifest(self, combination: Combination) -> str:
        """`--manifest <file>` of an execution manifest producing the combination, or a hint."""
        if self._execution is None:
            self._execution = []
            folder = self.tree.root / "manifests" / "execution"
            for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
                try:
                    manifest = load_model(path, ExecutionManifest)
                    produced = {(c.workload_id, c.execution_config_id)
                                for c in manifest_combinations(manifest, self.tree)}
                except AutosloError:
                    continue
                self._execution.append((path, produced))
        key = (combination.workload_id, combination.execution_config_id)
        for path, produced in self._execution:
            if key in produced:
                return f"--manifest {display_path(path)}"
        return "--manifest <an execution manifest listing this workload and config>"

    def tuning_manifest(self, run_name: str) -> str:
        """`autoslo tune ...` that would create a tuner run of this name."""
        folder = self.tree.root / "manifests" / "tuning"
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            try:
                manifest = load_model(path, TuningManifest)
            except AutosloError:
                continue
            if any(run_name.startswith(f"{stem}-") for stem in manifest.runs):
                return f"autoslo tune --manifest {display_path(path)}"
        return ("autoslo tune --execution-config ... --tuner-config ... (with the inputs that "
                "name this run)")


def resolve_panels(manifest: PlottingManifest, tree: DataTree, *, live: bool = False,
                   source: str | None = None) -> list[ResolvedPanel]:
    """Load each panel's SLO spec and resolve its points; raises on the first missing run."""
    finder = _Finder(tree)
    references = References(tree)
    records: list[RunRecord] | None = None
    if live:
        records = read_run_index(tree)
        if not records:
            raise InputError(f"--live: no live runs are recorded in {display_path(tree.runs_map())}; "
                             "create them with `autoslo execute --live --manifest ...` (or plot "
                             "the simulator results without --live)", source=source)
    resolved = []
    labels: list[str] = []
    given: dict[str, str] = {}
    for p_index, panel in enumerate(manifest.panels):
        where = f"panels[{p_index}]"
        spec = spec_ref = None
        if panel.slo is not None:
            spec_path = tree.ref(panel.slo, source=source, field=f"{where}.slo")
            spec = load_model(spec_path, SloSpec)
            spec_ref = panel.slo
        item = ResolvedPanel(p_index, panel, spec, spec_ref, references)
        for q_index, point in enumerate(panel.points):
            field_path = f"{where}.points[{q_index}]"
            if point.colour is not None and not check_colour(point.colour):
                raise InputError(f"must be a colour (e.g. #0072B2, rgb(0,114,178) or a CSS name), "
                                 f"got {point.colour!r}", source=source, field=f"{field_path}.colour")
            if isinstance(point, TunerPoint):
                item.tuner_runs.append(_tuner_run(point, tree, finder, source, field_path))
                label = item.tuner_runs[-1].label
            else:
                combination = resolve_combination(point.workload, point.execution_config, tree,
                                                  label=point.label, source=source,
                                                  field=f"{field_path}.")
                simulator = _simulator_source(combination, point, tree, finder, source, field_path)
                if panel.type == "sim_vs_live":
                    records = read_run_index(tree) if records is None else records
                    item.sources.append(simulator)
                    item.live_sources.append(_live_source(combination, point, tree, records,
                                                          finder, source, field_path))
                elif live:
                    assert records is not None
                    item.sources.append(_live_source(combination, point, tree, records, finder,
                                                     source, field_path))
                else:
                    item.sources.append(simulator)
                label = combination.label
            labels.append(label)
            if point.colour is not None:
                given.setdefault(label, point.colour)
        resolved.append(item)
    colours = colour_map(labels, given)
    for item in resolved:
        item.colours = colours
    return resolved


def _simulator_source(combination: Combination, point: CombinationPoint, tree: DataTree,
                      finder: _Finder, source: str | None, field_path: str) -> RunSource:
    """The combination's simulator folder, or an error naming the execute command that fills it."""
    from autoslo.sim.folders import complete_summary

    folder = combination.simulator_dir(tree)
    if complete_summary(folder, combination) is None:
        raise InputError(
            f"the simulator has no results for workload {combination.workload_id!r} with config "
            f"{combination.execution_config_id!r} ({display_path(folder)} is missing or "
            f"incomplete); create "
            f"them with `autoslo execute {finder.execution_manifest(combination)}`",
            source=source, field=field_path)
    return RunSource(combination.label, folder, "simulator", combination.workload_path,
                     combination.config.config.latency_model.model, point.colour,
                     tree.relative(folder))


def _live_source(combination: Combination, point: CombinationPoint, tree: DataTree,
                 records: list[RunRecord], finder: _Finder, source: str | None,
                 field_path: str) -> RunSource:
    """The named live run, or the newest complete one of the combination; errors say why not."""
    create = f"`autoslo execute --live {finder.execution_manifest(combination)}`"
    if not records:
        raise InputError(f"no live runs are recorded in {display_path(tree.runs_map())}; create "
                         f"one with {create}", source=source, field=field_path)
    if point.run_timestamp is not None:
        record = next((r for r in records if r.run_timestamp == point.run_timestamp), None)
        if record is None:
            raise InputError(f"live run {point.run_timestamp} is not in "
                             f"{display_path(tree.runs_map())}; create a run with {create}",
                             source=source, field=f"{field_path}.run_timestamp")
        if (record.workload_id, record.execution_config_id) != (
                combination.workload_id, combination.execution_config_id):
            raise InputError(
                f"live run {point.run_timestamp} ran workload {record.workload_id!r} with config "
                f"{record.execution_config_id!r}, not this point's {combination.workload_id!r} "
                f"with {combination.execution_config_id!r}", source=source,
                field=f"{field_path}.run_timestamp")
    else:
        record = newest_run(records, combination.workload_id, combination.execution_config_id,
                            completed_only=True)
        if record is None:
            raise InputError(
                f"no complete live run of workload {combination.workload_id!r} with config "
                f"{combination.execution_config_id!r} in {display_path(tree.runs_map())}; "
                f"create one with {create}", source=source, field=field_path)
    folder = tree.run_dir(record.run_timestamp)
    if not (folder / "queries.parquet").is_file():
        raise InputError(f"live run {record.run_timestamp} ({record.status}) has no result "
                         f"tables in {display_path(folder)}; run it again with {create}",
                         source=source, field=field_path)
    return RunSource(combination.label, folder, "live", combination.workload_path,
                     combination.config.config.latency_model.model, point.colour,
                     tree.relative(folder))


def _tuner_run(point: TunerPoint, tree: DataTree, finder: _Finder, source: str | None,
               field_path: str) -> TunerRun:
    """A finished tuner run's tables, or an error naming the tune command that creates it."""
    folder = tree.tuner_run_dir(point.tuner_run)
    trials_path, pareto_path = folder / "trials.parquet", folder / "pareto.parquet"
    for path in (trials_path, pareto_path):
        if not path.is_file():
            raise InputError(f"tuner run {point.tuner_run!r} does not exist ({display_path(path)} "
                             f"is missing); create it with `{finder.tuning_manifest(point.tuner_run)}`",
                             source=source, field=f"{field_path}.tuner_run")
    trials, pareto = pl.read_parquet(trials_path), pl.read_parquet(pareto_path)
    tau = None
    validation = folder / "validation.yml"
    if validation.is_file():
        tau = (yaml.safe_load(validation.read_text(encoding="utf-8")) or {}).get("tau")
    return TunerRun(point.label or point.tuner_run, folder, trials, pareto,
                    float(tau) if tau is not None else None)
