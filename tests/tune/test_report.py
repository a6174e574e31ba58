"""The run folder's report: the Pareto front and the validation winner."""

from __future__ import annotations

import polars as pl

from autoslo.tune import Evaluation, pareto_front
from autoslo.tune._report import Candidate, Validation


def test_pareto_front() -> None:
    trials = pl.DataFrame({"trial": [0, 1, 2, 3], "status": ["complete"] * 4,
                           "cost_usd": [1.0, 2.0, 3.0, 2.5], "violation": [0.3, 0.1, 0.0, 0.2]})
    assert pareto_front(trials)["trial"].to_list() == [0, 1, 2]


def _scored(cost: float, violation: float, tau: float = 0.05) -> Evaluation:
    return Evaluation(cost_usd=cost, violation=violation, feasible=violation <= tau,
                      scenario_costs=(cost,), scenario_violations=(violation,))


def test_the_winner_is_the_cheapest_feasible_candidate_else_the_least_violating() -> None:
    initial = _scored(9.0, 0.0)
    candidates = (Candidate(4, {}, _scored(2.0, 0.2)), Candidate(7, {}, _scored(3.0, 0.01)),
                  Candidate(2, {}, _scored(3.0, 0.0)), Candidate(5, {}, _scored(4.0, 0.0)))
    validation = Validation(0.05, "mean", initial, candidates)
    assert validation.winner.trial == 2  # cost ties break by trial number
    assert validation.to_dict() == {
        "tau": 0.05, "aggregate": "mean",
        "initial": {"cost_usd": 9.0, "violation": 0.0, "feasible": True},
        "candidates": [{"trial": c.trial, "cost_usd": c.evaluation.cost_usd,
                        "violation": c.evaluation.violation, "feasible": c.evaluation.feasible}
                       for c in candidates],
        "winner": 2}
    none_feasible = (Candidate(1, {}, _scored(2.0, 0.3)), Candidate(3, {}, _scored(5.0, 0.1)),
                     Candidate(0, {}, _scored(6.0, 0.1)))
    assert Validation(0.05, "mean", initial, none_feasible).winner.trial == 3
