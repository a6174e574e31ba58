"""A tuning run end to end: outputs, reuse, resume, reproducibility, Ray, its summary."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.config import ExecutionConfig, resolve_execution_config
from autoslo.datatree import DataTree
from autoslo.tune import (
    ConfigScore,
    NoValidTrialError,
    TuningError,
    TuningSummary,
    pareto_front,
    resolve_inputs,
    run_tuning,
)
from tests.tune.helpers import EXEC, tuner_file


def test_a_run_writes_its_outputs_and_is_reused(data_dir: Path, cli) -> None:
    tuner_file(data_dir, search_space={
        "pool.clusters.0.rpu": {"type": "categorical", "choices": [8, 16]},
        "pool.max_clusters": {"type": "int", "low": 1, "high": 4},  # 1 < 2 clusters: invalid
        "autoscaler.threshold": {"type": "int", "low": 1, "high": 20}})
    args = ("tune", "--execution-config", EXEC, "--tuner-config", "data/tuner_configs/t.yml")
    result = cli(*args)
    assert result.code == 0, result.err
    assert "trials 12/12: best feasible cost" in result.err
    tree = DataTree(data_dir)
    name = cli(*args, "--dry-run").out.splitlines()[0]
    folder = tree.tuner_run_dir(name)
    for item in ("inputs/execution_config.yml", "inputs/tuner_config.yml", "inputs/params.yml",
                 "scenarios/scenarios.yml", "trials.parquet", "pareto.parquet",
                 "validation.yml", "summary.yml"):
        assert (folder / item).exists(), item
    trials = pl.read_parquet(folder / "trials.parquet")
    assert trials.height == 12
    invalid = trials.filter(pl.col("status") == "invalid")
    assert invalid.height >= 1
    assert invalid["invalid_reason"][0] == ("pool.max_clusters: must be >= the 2 initial "
                                            "clusters, got 1")
    tuned = resolve_execution_config(tree.tuned_config(name), tree=tree).config
    assert isinstance(tuned, ExecutionConfig)
    summary = yaml.safe_load((folder / "summary.yml").read_text())
    assert summary["status"] == "complete" and summary["invalid_trials"] == invalid.height
    assert summary["validation"]["cost_usd"] <= summary["initial_validation"]["cost_usd"] + 1e-9
    best = trials.filter(pl.col("feasible"))["cost_usd"].min()
    assert summary["validation"]["cost_usd"] == pytest.approx(best)
    # the cheapest distinct configs are re-scored on validation; the cheapest feasible one wins
    validation = yaml.safe_load((folder / "validation.yml").read_text())
    numbers = [c["trial"] for c in validation["candidates"]]
    params = trials.filter(pl.col("trial").is_in(numbers))["params"].to_list()
    assert 1 < len(numbers) <= 10 and len(set(params)) == len(params)
    feasible = [c for c in validation["candidates"] if c["feasible"]]
    assert validation["winner"] == min(feasible, key=lambda c: (c["cost_usd"], c["trial"]))["trial"]
    again = cli(*args)
    assert again.code == 0 and "reusing finished run" in again.err
    assert pl.read_parquet(folder / "trials.parquet").equals(trials)


def test_an_interrupted_run_resumes(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    path = tuner_file(data_dir, n_trials=8)
    inputs = resolve_inputs(Path(EXEC), path, {}, {}, tree)

    def stop_early(line: str) -> None:
        if line.startswith("trials 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tuning(inputs, tree, progress=stop_early)
    lines: list[str] = []
    summary = run_tuning(inputs, tree, progress=lines.append)
    assert lines[0] == f"resuming {inputs.name}: 2 of 8 trials done"
    assert summary.trials == 8


def test_same_inputs_same_trials(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    inputs = resolve_inputs(Path(EXEC), tuner_file(data_dir), {}, {}, tree)
    run_tuning(inputs, tree)
    first = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    run_tuning(inputs, tree, force=True)
    second = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    assert first.drop("seconds").equals(second.drop("seconds"))


@pytest.mark.slow
def test_parallel_trials_on_ray_nsga2_and_a_forecast_workload(data_dir: Path, cli,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    # a cluster's address left in the environment (or by a dead cluster) must not capture a
    # local run: ray.init(num_cpus=...) tried to attach to it and failed
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    history = cli("workload", "generate", "data/generators/diurnal.yml")
    assert history.code == 0
    tree = DataTree(data_dir)
    spec = data_dir / "generators" / "week.yml"
    week = yaml.safe_load((data_dir / "generators/diurnal.yml").read_text())
    week.update({"name": "week", "duration_s": 8 * 86400})
    week["rate"].update({"profile": "weekly", "mean_per_s": 0.02})
    spec.write_text(yaml.safe_dump(week))
    assert cli("workload", "generate", str(spec)).code == 0
    path = tuner_file(data_dir, n_trials=8, sampler="nsga2", parallelism={"workers": 2},
                      workload={"kind": "forecast", "history": "workloads/week_seed=7",
                                "date": dt.date(2026, 11, 10), "scenarios": 3,
                                "validation_scenarios": 1})
    inputs = resolve_inputs(Path(EXEC), path, {}, {}, tree)
    summary = run_tuning(inputs, tree)
    assert summary.trials == 8
    assert summary.train_scenarios == 2 and summary.validation_scenarios == 1
    trials = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    assert pareto_front(trials).height >= 1


def test_the_summary_is_frozen_read_by_attribute_and_read_back(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    inputs = resolve_inputs(Path(EXEC), tuner_file(data_dir, n_trials=6), {}, {}, tree)
    summary = run_tuning(inputs, tree)
    assert isinstance(summary, TuningSummary) and isinstance(summary.validation, ConfigScore)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.trials = 7  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.validation.cost_usd = 0.0  # type: ignore[misc]
    folder = tree.tuner_run_dir(inputs.name)
    written = yaml.safe_load((folder / "summary.yml").read_text())
    assert summary.to_dict() == written and list(written) == [
        "status", "tuner_run_name", "tuned_config", "trials", "feasible_trials",
        "invalid_trials", "pruned_trials", "best_trial", "validation", "initial_validation",
        "saving_vs_initial", "train_scenarios", "validation_scenarios", "seconds"]
    assert (summary.tuner_run_name, summary.trials, summary.status) == (inputs.name, 6, "complete")
    assert summary.tuned_config == f"execution_configs/tuned/{inputs.name}.yml"
    assert summary.validation.cost_usd == written["validation"]["cost_usd"]
    lines: list[str] = []
    assert run_tuning(inputs, tree, progress=lines.append) == summary  # reused: read back
    assert lines == [f"reusing finished run {inputs.name} (pass --force to run it again)"]
    (folder / "summary.yml").write_text("status: complete\ntrials: 6\n")
    with pytest.raises(TuningError, match="not a tuning summary this version can read"):
        run_tuning(inputs, tree)


def test_a_run_without_one_valid_trial_fails_in_one_line(data_dir: Path, cli) -> None:
    tuner_file(data_dir, n_trials=3, spin_up_plan=None, search_space={
        "pool.max_clusters": {"type": "int", "low": 1, "high": 1}})  # 1 < the 2 initial clusters
    result = cli("tune", "--execution-config", EXEC, "--tuner-config", "data/tuner_configs/t.yml")
    assert result.code == 2
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("no trial produced a valid config; see invalid_reason in ")
    assert last.endswith("trials.parquet")
    with pytest.raises(NoValidTrialError):
        tree = DataTree(data_dir)
        run_tuning(resolve_inputs(Path(EXEC), data_dir / "tuner_configs/t.yml", {}, {}, tree),
                   tree, force=True)
