"""The tuner: naming and dry runs, search-space checks, outputs, reuse, resume, samplers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.config import ExecutionConfig, resolve_execution_config
from autoslo.datatree import DataTree
from autoslo.errors import InputError
from autoslo.tune import pareto_front, resolve_inputs, run_tuning
from tests.conftest import snapshot

EXEC = "data/execution_configs/examples/serverless-pool.yml"


def tuner_file(data_dir: Path, name: str = "t", **changes: object) -> Path:
    config = yaml.safe_load((data_dir / "tuner_configs" / "example.yml").read_text())
    config.update({"n_trials": 12, "parallelism": {"workers": 1}})
    config.update(changes)
    path = data_dir / "tuner_configs" / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dry_run_names_the_run_and_writes_nothing(data_dir: Path, cli) -> None:
    before = snapshot(data_dir)
    first = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--dry-run")
    second = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--dry-run")
    assert first.code == 0, first.err
    assert first.out == second.out and first.err == ""
    name = first.out.splitlines()[0]
    assert name.startswith("serverless-example-")
    assert yaml.safe_load("\n".join(first.out.splitlines()[1:]))["params"] == {"TRIALS": 100}
    other = cli("tune", "--execution-config", EXEC, "--tuner-config",
                "data/tuner_configs/example.yml", "--param", "TRIALS=101", "--dry-run")
    assert other.out.splitlines()[0].startswith("serverless-pool_example-")
    assert snapshot(data_dir) == before


def test_search_space_paths_must_exist(data_dir: Path, cli) -> None:
    tuner_file(data_dir, search_space={"pool.clusters.0.nodes": {"type": "int", "low": 1,
                                                                 "high": 4}})
    result = cli("tune", "--execution-config", EXEC, "--tuner-config",
                 "data/tuner_configs/t.yml", "--dry-run")
    assert result.code == 2
    assert result.err.strip() == (
        "data/tuner_configs/t.yml: search_space: path 'pool.clusters.0.nodes' does not exist in "
        "the execution config (no 'pool.clusters.0.nodes')")


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
    assert summary["trials"] == 8


def test_same_inputs_same_trials(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    inputs = resolve_inputs(Path(EXEC), tuner_file(data_dir), {}, {}, tree)
    run_tuning(inputs, tree)
    first = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    run_tuning(inputs, tree, force=True)
    second = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    assert first.drop("seconds").equals(second.drop("seconds"))


@pytest.mark.slow
def test_parallel_trials_on_ray_nsga2_and_a_forecast_workload(data_dir: Path, cli) -> None:
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
    assert summary["trials"] == 8
    assert summary["train_scenarios"] == 2 and summary["validation_scenarios"] == 1
    trials = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")
    assert pareto_front(trials).height >= 1


def test_pareto_front() -> None:
    trials = pl.DataFrame({"trial": [0, 1, 2, 3], "status": ["complete"] * 4,
                           "cost_usd": [1.0, 2.0, 3.0, 2.5], "violation": [0.3, 0.1, 0.0, 0.2]})
    assert pareto_front(trials)["trial"].to_list() == [0, 1, 2]


def test_manifest_and_configs_are_exclusive(data_dir: Path, cli) -> None:
    result = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--execution-config",
                 EXEC)
    assert result.code == 2 and "do not combine" in result.err
    with pytest.raises(InputError, match="--param TRIAL is not used"):
        resolve_inputs(Path(EXEC), data_dir / "tuner_configs/example.yml",
                       {"TRIALS": 3, "TRIAL": 3}, {},
                       DataTree(data_dir))


def test_spin_up_plan_applies_times_sizes_and_searched_lifetimes(data_dir: Path) -> None:
    import optuna

    tree = DataTree(data_dir)
    path = tuner_file(data_dir, spin_up_plan={
        "max_spin_ups": 2, "at_s": {"type": "float", "low": 0, "high": 3600, "step": 1800},
        "sizes": [16, 32], "lifetime_s": {"type": "float", "low": 600, "high": 1200,
                                          "step": 600}})
    inputs = resolve_inputs(Path(EXEC), path, {}, {}, tree)
    params = {**inputs.space.initial_params(), "spin_up_0_at_s": 3600.0, "spin_up_0_size": 32,
              "spin_up_0_lifetime_s": 1200.0, "spin_up_1_at_s": 1800.0, "spin_up_1_size": 16,
              "spin_up_1_lifetime_s": 600.0}
    data = inputs.space.apply(params)
    assert [(s["at_s"], s["cluster"]["rpu"], s["lifetime_s"]) for s in
            data["scheduled_spin_ups"]] == [(1800.0, 16, 600.0), (3600.0, 32, 1200.0)]
    assert data["scheduled_spin_ups"][0]["cluster"]["max_concurrency"] == 10  # copied cluster
    grid = inputs.space.grid()
    assert grid["spin_up_0_lifetime_s"] == [600.0, 1200.0] and grid["spin_up_1_size"] == [0, 16, 32]
    trial = optuna.create_study().ask()
    suggested = inputs.space.suggest(trial)
    assert {"spin_up_0_at_s", "spin_up_0_size", "spin_up_0_lifetime_s"} <= set(suggested)


def test_local_search_moves_one_step_and_places_absent_spin_ups(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    path = tuner_file(data_dir, spin_up_plan={
        "max_spin_ups": 2, "at_s": {"type": "float", "low": 0, "high": 7200, "step": 1800},
        "sizes": [16, 32], "lifetime_s": {"type": "float", "low": 600, "high": 1800,
                                          "step": 600}})
    inputs = resolve_inputs(Path(EXEC), path, {}, {}, tree)
    base = {**inputs.space.initial_params(), "spin_up_0_at_s": 1800.0, "spin_up_0_size": 16,
            "spin_up_0_lifetime_s": 1200.0}
    moves = inputs.space.neighbors(base)
    changed = [{k for k in m if m[k] != base[k]} for m in moves]
    assert all(changed) and all(m != base for m in moves)
    # the present spin-up: one step of time, size and lifetime, and its window with the end kept
    assert {"spin_up_0_at_s": 0.0} | {k: v for k, v in base.items() if k != "spin_up_0_at_s"} in moves
    assert {**base, "spin_up_0_at_s": 3600.0} in moves
    assert {**base, "spin_up_0_size": 32} in moves and {**base, "spin_up_0_size": 0} in moves
    assert {**base, "spin_up_0_at_s": 3600.0, "spin_up_0_lifetime_s": 600.0} in moves
    # the absent one is never nudged (its time changes nothing) ...
    assert not any(c == {"spin_up_1_at_s"} or c == {"spin_up_1_lifetime_s"} for c in changed)
    # ... but placed on a coarse grid of times x lifetimes x sizes, a separate, bigger jump
    placed = inputs.space.placements(base)
    assert {(m["spin_up_1_size"], m["spin_up_1_at_s"], m["spin_up_1_lifetime_s"])
            for m in placed} == {(size, at, life) for size in (16, 32)
                                 for at in (0.0, 1800.0, 3600.0, 5400.0, 7200.0)
                                 for life in (600.0, 1200.0, 1800.0)}
    assert all({k for k in m if m[k] != base[k]} <= {"spin_up_1_size", "spin_up_1_at_s",
                                                      "spin_up_1_lifetime_s"} for m in placed)
    assert inputs.space.placements({**base, "spin_up_1_size": 32}) == []  # none absent
    # every move stays inside the space
    for move in moves + placed:
        assert 0 <= move["spin_up_0_at_s"] <= 7200 and move["spin_up_0_lifetime_s"] in (600, 1200,
                                                                                        1800)


def test_local_search_share_is_checked(data_dir: Path, cli) -> None:
    path = tuner_file(data_dir, local_search=0.95)
    result = cli("tune", "--execution-config", EXEC, "--tuner-config", str(path), "--dry-run")
    assert result.code == 2
    assert "local_search: must be between 0 and 0.9, got 0.95" in result.err
