"""Samplers: every `sampler:` value runs one shared suite through the one strategy interface
(as Optuna runs every sampler through the same tests), then what only one of them does."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, get_args

import optuna
import polars as pl
import pytest

from autoslo.config import TunerConfig
from autoslo.datatree import DataTree
from autoslo.tune import (
    SAMPLERS,
    Evaluation,
    SamplerStrategy,
    SamplerUnavailableError,
    TuningInputs,
    TuningSummary,
    resolve_inputs,
    run_tuning,
    sampler_strategy,
)
from autoslo.tune._samplers import importlib as samplers_importlib
from tests.tune.helpers import EXEC, tuner_file

HAVE_CMAES = samplers_importlib.util.find_spec("cmaes") is not None
NAMES = [pytest.param(name, marks=pytest.mark.skipif(
    name == "cmaes" and not HAVE_CMAES, reason="the cmaes package is not installed "
    "(test_cmaes_without_its_package_fails_in_one_line covers this case)")) for name in SAMPLERS]
TAU = 0.05


def inputs_for(data_dir: Path, sampler: str, **changes: Any) -> TuningInputs:
    path = tuner_file(data_dir, f"s-{sampler}", sampler=sampler, **changes)
    return resolve_inputs(Path(EXEC), path, {}, {}, DataTree(data_dir))


def strategy_for(data_dir: Path, sampler: str, **changes: Any) -> SamplerStrategy:
    inputs = inputs_for(data_dir, sampler, **changes)
    return sampler_strategy(inputs.tuner, inputs.space, TAU)


def evaluation(cost: float, violation: float) -> Evaluation:
    return Evaluation(cost_usd=cost, violation=violation, feasible=violation <= TAU,
                      scenario_costs=(cost,), scenario_violations=(violation,))


def in_space(inputs: TuningInputs, params: dict[str, Any]) -> bool:
    """Whether every value lies on its dimension's grid (the example space is finite)."""
    grid = inputs.space.grid()
    return set(params) == set(grid) and all(
        any(math.isclose(params[k], v) if isinstance(v, float) else params[k] == v
            for v in grid[k]) for k in params)


def test_every_sampler_value_has_one_strategy() -> None:
    values = get_args(TunerConfig.model_fields["sampler"].annotation)
    assert sorted(SAMPLERS) == sorted(values)
    assert all(issubclass(s, SamplerStrategy) and s.name == name for name, s in SAMPLERS.items())


# ---- the shared suite ---------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", NAMES)
def test_values_follow_the_directions_and_prefer_the_cheaper_feasible(data_dir: Path,
                                                                      sampler: str) -> None:
    strategy = strategy_for(data_dir, sampler)
    assert strategy.directions and set(strategy.directions) == {"minimize"}
    cheap, dear = strategy.values(evaluation(5.0, 0.0)), strategy.values(evaluation(7.0, 0.0))
    assert len(cheap) == len(dear) == len(strategy.directions)
    assert all(isinstance(v, float) for v in cheap)
    assert cheap[0] < dear[0]
    # among equally cheap configs, a violating one is never preferred to a feasible one
    missing = strategy.values(evaluation(5.0, 0.2))
    assert not all(m < c for m, c in zip(missing, cheap, strict=True))


@pytest.mark.parametrize("sampler", NAMES)
def test_the_budget_is_at_most_n_trials(data_dir: Path, sampler: str) -> None:
    assert 1 <= strategy_for(data_dir, sampler).budget() <= 12


@pytest.mark.parametrize("sampler", NAMES)
def test_the_sampler_is_new_and_seeded(data_dir: Path, sampler: str) -> None:
    """Two studies from the same seed propose the same configs; another seed, others."""
    def proposals(seed: int) -> list[dict[str, Any]]:
        inputs = inputs_for(data_dir, sampler, seed=seed)
        strategy = sampler_strategy(inputs.tuner, inputs.space, TAU)
        first, second = strategy.sampler(), strategy.sampler()
        assert first is not second and isinstance(first, optuna.samplers.BaseSampler)
        study = optuna.create_study(directions=list(strategy.directions), sampler=first)
        seen = []
        for _ in range(6):
            trial = study.ask()
            params = inputs.space.suggest(trial)
            seen.append(params)
            study.tell(trial, strategy.values(evaluation(float(sum(
                v for v in params.values() if isinstance(v, int | float))), 0.0)))
        return seen

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert proposals(1) == proposals(1)
    assert proposals(1) != proposals(2)


@pytest.mark.parametrize("sampler", NAMES)
def test_a_run_spends_the_budget_inside_the_space_and_repeats(data_dir: Path,
                                                              sampler: str) -> None:
    tree = DataTree(data_dir)
    inputs = inputs_for(data_dir, sampler, n_trials=8)
    strategy = sampler_strategy(inputs.tuner, inputs.space, TAU)
    summary = run_tuning(inputs, tree)
    assert isinstance(summary, TuningSummary) and summary.trials == strategy.budget() == 8
    folder = tree.tuner_run_dir(inputs.name)
    study = optuna.load_study(study_name="tune", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.log"))))
    trials = sorted(study.trials, key=lambda t: t.number)
    assert trials[0].params == inputs.space.initial_params()  # the initial config comes first
    assert all(in_space(inputs, t.params) for t in trials)
    assert len(study.directions) == len(strategy.directions)
    for trial in trials:  # what the study minimised is the strategy's values of the scores
        if trial.state == optuna.trial.TrialState.COMPLETE:
            fields = {f.name for f in dataclasses.fields(Evaluation)}
            scores = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in trial.user_attrs.items() if k in fields}
            assert trial.values == pytest.approx(strategy.values(Evaluation(**scores)))
    first = pl.read_parquet(folder / "trials.parquet")
    again = run_tuning(inputs, tree, force=True)
    second = pl.read_parquet(folder / "trials.parquet")
    assert first.drop("seconds").equals(second.drop("seconds"))
    assert dataclasses.replace(again, seconds=0.0) == dataclasses.replace(summary, seconds=0.0)


# ---- what one sampler does alone ------------------------------------------------------------------

def test_grid_stops_at_the_last_grid_point(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    inputs = inputs_for(data_dir, "grid", spin_up_plan=None, search_space={
        "pool.clusters.0.rpu": {"type": "categorical", "choices": [8, 16]},
        "autoscaler.threshold": {"type": "int", "low": 4, "high": 5}})
    assert sampler_strategy(inputs.tuner, inputs.space, TAU).budget() == 4
    summary = run_tuning(inputs, tree)
    assert summary.trials == 4
    # the initial config first (queued, outside the grid's own order), then distinct grid points
    params = pl.read_parquet(tree.tuner_run_dir(inputs.name) / "trials.parquet")["params"]
    assert params[0] == "{autoscaler.threshold: 5, pool.clusters.0.rpu: 8}"
    assert params[1:].n_unique() == 3


def test_tpe_queues_local_moves_for_its_last_share(data_dir: Path) -> None:
    strategy = strategy_for(data_dir, "tpe", local_search=0.5)
    space = strategy.space
    study = optuna.create_study(sampler=strategy.sampler())
    start = space.initial_params()
    assert start is not None
    study.enqueue_trial(start)
    trial = study.ask()
    space.suggest(trial)
    for key, value in dataclasses.asdict(evaluation(10.0, 0.0)).items():
        trial.set_user_attr(key, list(value) if isinstance(value, tuple) else value)
    study.tell(trial, 10.0)
    strategy.before_batch(study, done=5, size=2)  # 5 < 12 - 6: still sampling
    assert [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING] == []
    strategy.before_batch(study, done=6, size=2)  # the last half: one-step moves from the best
    queued = [t.system_attrs["fixed_params"] for t in study.trials
              if t.state == optuna.trial.TrialState.WAITING]
    assert len(queued) == 2 and all(q in space.neighbors(start) for q in queued)


def test_nsga2_minimises_cost_and_violation_together(data_dir: Path) -> None:
    strategy = strategy_for(data_dir, "nsga2")
    assert strategy.directions == ("minimize", "minimize")
    assert strategy.values(evaluation(3.0, 0.25)) == [3.0, 0.25]


def test_cmaes_penalises_violation_over_tau(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(samplers_importlib.util, "find_spec", lambda name: object())
    strategy = strategy_for(data_dir, "cmaes")
    assert strategy.values(evaluation(3.0, TAU)) == [3.0]
    assert strategy.values(evaluation(3.0, TAU + 0.01)) == pytest.approx([3.0 * 2 + 10])


def test_cmaes_without_its_package_fails_in_one_line(data_dir: Path, cli,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = samplers_importlib.util.find_spec
    monkeypatch.setattr(samplers_importlib.util, "find_spec",
                        lambda name: None if name == "cmaes" else real(name))
    tuner_file(data_dir, "c", sampler="cmaes")
    with pytest.raises(SamplerUnavailableError, match="pip install cmaes"):
        strategy_for(data_dir, "cmaes")
    result = cli("tune", "--execution-config", EXEC, "--tuner-config", "data/tuner_configs/c.yml")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "sampler: cmaes needs the Python package `cmaes`, which is not installed (pip install "
        "cmaes), or choose another sampler"]
    assert not (data_dir / "tuner_runs").exists()  # refused before anything was written
