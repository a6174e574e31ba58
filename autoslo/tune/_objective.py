"""The objective: one candidate config's cost and SLO violation on the scenarios, early stopping,
and the scorer that holds a run's scenarios in a process (or Ray actor) between trials.

A trial's score aggregates its scenarios (mean, max or p95). Scenarios run in order and the
trial stops early once they prove it infeasible (the violation's lower bound already exceeds
tau) or dearer than the best feasible cost so far (the cost's lower bound exceeds it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from autoslo.config import ExecutionConfig, PriceTable, SloSpec
from autoslo.config.execution import FittedContention, SharingLaw
from autoslo.datatree import DataTree
from autoslo.errors import AutosloError
from autoslo.perf import LatencyModel, load_latency_model
from autoslo.sim import simulate_outcome
from autoslo.slo import reference_latencies, with_targets
from autoslo.tune._space import validate_config
from autoslo.workload import Workload, load_workload


@dataclass
class Scenario:
    """One workload the tuner simulates, with its per-query latency targets precomputed."""

    workload: Workload
    target_s: np.ndarray          # float64[n]; inf = no latency target
    cache: dict[object, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, workload: Workload, spec: SloSpec, model: LatencyModel | None) -> Scenario:
        frame = workload.queries.select(
            [c for c in ("query_id", "template_id", "query_group") if c in
             workload.queries.columns]).with_columns(
            pl.lit("ok").alias("status"), pl.lit(0.0).alias("latency_s"))
        reference = reference_latencies(workload, spec, model) if spec.reference else None
        targets = with_targets(frame, spec, reference)["target_s"].fill_null(np.inf)
        return cls(workload, targets.to_numpy().astype(np.float64))

    def score(self, config: ExecutionConfig, model: LatencyModel | None,
              variants: tuple[ExecutionConfig, ...] = ()) -> tuple[float, float]:
        """(cost in USD, violation rate) of `config` on this scenario; with `variants` (the same
        config under other contention laws) the mean cost and the worst violation of them all."""
        costs, violations = [], []
        for candidate in (config, *variants):
            outcome = simulate_outcome(self.workload, candidate, model, self.cache)
            violated = (outcome.status != 0) | (outcome.latency_s > self.target_s)
            costs.append(outcome.cost_usd)
            violations.append(float(violated.mean()) if violated.size else 0.0)
        return float(np.mean(costs)), max(violations)


def contention_variants(config: ExecutionConfig, laws: tuple[dict[str, Any], ...]
                        ) -> tuple[ExecutionConfig, ...]:
    """`config` under each of `laws` (bootstrap samples of its fitted contention model)."""
    contention = config.contention
    if not laws or not isinstance(contention, FittedContention):
        return ()
    return tuple(config.model_copy(update={"contention": contention.model_copy(
        update={"parameters": SharingLaw.model_validate(law)})}) for law in laws)


def aggregate(values: list[float], how: str) -> float:
    """The scenarios' scores as one: their mean, max or 95th percentile."""
    if how == "max":
        return float(max(values))
    if how == "p95":
        return float(np.percentile(values, 95))
    return float(np.mean(values))


@dataclass(frozen=True)
class Evaluation:
    """A frozen record of one candidate's scores (the tuner's FrozenTrial)."""

    cost_usd: float
    violation: float
    feasible: bool
    scenario_costs: tuple[float, ...]
    scenario_violations: tuple[float, ...]
    pruned: str = ""              # "", "infeasible" or "dearer"
    seconds: float = 0.0


def evaluate(config: ExecutionConfig, scenarios: list[Scenario], model: LatencyModel | None,
             tau: float, how: str, best_feasible_cost: float = float("inf"),
             prune: bool = True, laws: tuple[dict[str, Any], ...] = ()) -> Evaluation:
    """Score `config` on `scenarios`, stopping early when the rest cannot change the verdict."""
    began = time.perf_counter()
    costs: list[float] = []
    violations: list[float] = []
    n = len(scenarios)
    pruned = ""
    variants = contention_variants(config, laws)
    for scenario in scenarios:
        cost, violation = scenario.score(config, model, variants)
        costs.append(cost)
        violations.append(violation)
        if not prune or len(costs) == n:
            continue
        # lower bounds of the final aggregates, whatever the remaining scenarios give
        low_violation = (sum(violations) / n if how == "mean"
                         else max(violations) if how == "max" else 0.0)
        low_cost = sum(costs) / n if how == "mean" else max(costs) if how == "max" else 0.0
        if low_violation > tau:
            pruned = "infeasible"
            break
        if low_cost > best_feasible_cost:
            pruned = "dearer"
            break
    if pruned:
        cost = sum(costs) / n if how == "mean" else max(costs)
        violation = sum(violations) / n if how == "mean" else max(violations)
    else:
        cost, violation = aggregate(costs, how), aggregate(violations, how)
    return Evaluation(cost_usd=cost, violation=violation,
                      feasible=not pruned and violation <= tau,
                      scenario_costs=tuple(costs), scenario_violations=tuple(violations),
                      pruned=pruned, seconds=time.perf_counter() - began)


Scored = tuple[Evaluation | None, str]  # the evaluation, or None and why the config is invalid


@dataclass(frozen=True)
class ScorerSpec:
    """What a scorer needs, small enough to ship to any worker: scenarios are read from disk."""

    scenario_dir: str
    train: tuple[str, ...]
    spec: SloSpec
    model_ref: str | None
    data_root: str
    tau: float
    how: str
    laws: tuple[dict[str, Any], ...] = ()  # contention samples each trial is also scored under

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for equal specs (the SLO spec holds lists, so the dataclass cannot hash)."""
        return (self.scenario_dir, self.train, self.spec.model_dump_json(), self.model_ref,
                self.data_root, self.tau, self.how, repr(self.laws))


class Scorer:
    """Scores candidate configs on a spec's scenarios (one per process or Ray actor)."""

    def __init__(self, spec: ScorerSpec) -> None:
        self.model = load_latency_model(spec.model_ref, DataTree(spec.data_root))
        train = [load_workload(Path(spec.scenario_dir) / name) for name in spec.train]
        self.scenarios = [Scenario.build(w, spec.spec, self.model) for w in train]
        self.tau, self.how, self.laws = spec.tau, spec.how, spec.laws

    def score(self, data: dict[str, Any], prices: PriceTable, best: float) -> Scored:
        """Validate `data` as a config, then evaluate it (pruning against `best`)."""
        config, reason = validate_config(data, prices)
        if config is None:
            return None, reason
        try:
            return evaluate(config, self.scenarios, self.model, self.tau, self.how, best,
                            laws=self.laws), ""
        except AutosloError as exc:
            return None, str(exc)


_SCORERS: dict[tuple[Any, ...], Scorer] = {}


def score_batch(spec: ScorerSpec, batch: list[dict[str, Any]], prices: PriceTable,
                best: float) -> list[Scored]:
    """Score candidates in this process, keeping the loaded scenarios for the next batch."""
    if spec.key not in _SCORERS:
        _SCORERS.clear()  # one run's scenarios at a time per process
        _SCORERS[spec.key] = Scorer(spec)
    scorer = _SCORERS[spec.key]
    return [scorer.score(data, prices, best) for data in batch]


def release_scorers() -> None:
    """Drop the scenarios `score_batch` keeps in this process."""
    _SCORERS.clear()
