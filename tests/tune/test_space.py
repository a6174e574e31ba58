"""The search space: spin-up plans applied to configs, and the local search's moves."""

from __future__ import annotations

from pathlib import Path

from autoslo.datatree import DataTree
from autoslo.tune import resolve_inputs
from tests.tune.helpers import EXEC, tuner_file


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
