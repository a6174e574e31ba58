"""The run folder's report: the resolved inputs, the trials table, the Pareto front, the best
candidates re-scored on the validation scenarios, the tuned config and the summary.

Reads only the study's trials (their frozen scores in user attributes), never the live study.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from autoslo.atomic import replace_file, write_text
from autoslo.config import PriceTable
from autoslo.datatree import DataTree
from autoslo.tune._errors import NoValidTrialError, ValidationScoringError
from autoslo.tune._inputs import TuningInputs
from autoslo.tune._objective import Evaluation, Scorer, ScorerSpec
from autoslo.tune._space import SearchSpace
from autoslo.tune._study import Progress
from autoslo.tune._summary import ConfigScore, TuningSummary

VALIDATION_CANDIDATES = 10  # the cheapest distinct training configs re-scored on validation


def write_inputs(folder: Path, inputs: TuningInputs) -> None:
    """The run's resolved inputs, beside its results (`inputs/`)."""
    (folder / "inputs").mkdir(parents=True, exist_ok=True)
    write_text(folder / "inputs" / "execution_config.yml",
               yaml.safe_dump(inputs.base, sort_keys=False))
    write_text(folder / "inputs" / "tuner_config.yml",
               yaml.safe_dump(inputs.tuner.model_dump(mode="json"), sort_keys=False))
    write_text(folder / "inputs" / "params.yml", yaml.safe_dump(inputs.params, sort_keys=False))


def trials_table(trials: list[Any]) -> pl.DataFrame:
    """One row per trial: status, scores, the best feasible cost so far, params as YAML."""
    rows = []
    best = math.inf
    for trial in sorted(trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        status = ("invalid" if "invalid" in attrs else attrs.get("pruned")
                  or ("failed" if trial.state.name == "FAIL" else "complete"))  # failed: old runs
        if attrs.get("feasible"):
            best = min(best, attrs["cost_usd"])
        rows.append({
            "trial": trial.number, "status": status,
            "cost_usd": attrs.get("cost_usd"), "violation": attrs.get("violation"),
            "feasible": bool(attrs.get("feasible", False)),
            "best_feasible_cost_usd": best if best < math.inf else None,
            "seconds": attrs.get("seconds"), "invalid_reason": attrs.get("invalid"),
            "params": yaml.safe_dump(trial.params, sort_keys=True, default_flow_style=True).strip(),
        })
    return pl.DataFrame(rows, schema={
        "trial": pl.Int64, "status": pl.String, "cost_usd": pl.Float64, "violation": pl.Float64,
        "feasible": pl.Boolean, "best_feasible_cost_usd": pl.Float64, "seconds": pl.Float64,
        "invalid_reason": pl.String, "params": pl.String})


def pareto_front(trials: pl.DataFrame) -> pl.DataFrame:
    """Trials no other trial beats on both cost and violation."""
    scored = trials.filter(pl.col("cost_usd").is_not_null() & (pl.col("status") == "complete"))
    points = scored.select("cost_usd", "violation").rows()
    keep = [not any((c2 <= c and v2 <= v) and (c2 < c or v2 < v) for c2, v2 in points)
            for c, v in points]
    return scored.filter(pl.Series(keep, dtype=pl.Boolean)).sort("cost_usd")


def distinct_configs(space: SearchSpace, params: dict[int, dict[str, Any]], ranked: list[int],
                     count: int) -> list[tuple[int, dict[str, Any]]]:
    """The first `count` trials of `ranked` that make different configs (trials differing only
    in an absent spin-up's time make the same one), each with its config data."""
    chosen: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for number in ranked:
        data = space.apply(params[number])
        key = yaml.safe_dump(data, sort_keys=True)
        if key not in seen:
            seen.add(key)
            chosen.append((number, data))
            if len(chosen) == count:
                break
    return chosen


@dataclass(frozen=True)
class Candidate:
    """A trial's config re-scored on the validation scenarios."""

    trial: int
    data: dict[str, Any]
    evaluation: Evaluation


@dataclass(frozen=True)
class Validation:
    """The candidates and the initial config on the validation scenarios, and the winner: the
    cheapest feasible candidate, else the least violating one."""

    tau: float
    aggregate: str
    initial: Evaluation
    candidates: tuple[Candidate, ...]

    @property
    def winner(self) -> Candidate:
        feasible = [c for c in self.candidates if c.evaluation.feasible]
        if feasible:
            return min(feasible, key=lambda c: (c.evaluation.cost_usd, c.trial))
        return min(self.candidates, key=lambda c: (c.evaluation.violation,
                                                   c.evaluation.cost_usd, c.trial))

    def to_dict(self) -> dict[str, Any]:
        """What `validation.yml` holds."""
        return {
            "tau": self.tau, "aggregate": self.aggregate,
            "initial": {"cost_usd": self.initial.cost_usd, "violation": self.initial.violation,
                        "feasible": self.initial.feasible},
            "candidates": [{"trial": c.trial, "cost_usd": c.evaluation.cost_usd,
                            "violation": c.evaluation.violation,
                            "feasible": c.evaluation.feasible} for c in self.candidates],
            "winner": self.winner.trial,
        }


def validate(inputs: TuningInputs, trials: pl.DataFrame, params: dict[int, dict[str, Any]],
             validator: ScorerSpec, prices: PriceTable, folder: Path) -> Validation:
    """Re-score the cheapest distinct feasible trials (else the least violating) and the
    initial config on the validation scenarios."""
    ranked = trials.filter(pl.col("feasible")).sort(["cost_usd", "trial"])["trial"].to_list()
    if not ranked:  # nothing feasible: validate the least violating trials
        ranked = (trials.filter(pl.col("status") == "complete")
                  .sort(["violation", "cost_usd", "trial"])["trial"].to_list())
    chosen = distinct_configs(inputs.space, params, ranked, VALIDATION_CANDIDATES)
    if not chosen:
        raise NoValidTrialError("no trial produced a valid config; see invalid_reason in "
                                f"{folder / 'trials.parquet'}")
    scorer = Scorer(validator)

    def score(data: dict[str, Any], what: str) -> Evaluation:
        evaluation, reason = scorer.score(data, prices, math.inf)
        if evaluation is None:
            raise ValidationScoringError(f"tuner run {inputs.name}: {what} cannot be scored on "
                                         f"the validation scenarios: {reason}")
        return evaluation

    candidates = tuple(Candidate(number, data, score(data, f"trial {number}'s config"))
                       for number, data in chosen)
    initial = score(inputs.base, "the initial config")
    return Validation(validator.tau, validator.how, initial, candidates)


def _score(evaluation: Evaluation) -> ConfigScore:
    return ConfigScore(round(evaluation.cost_usd, 6), round(evaluation.violation, 6),
                       evaluation.feasible)


def write_report(inputs: TuningInputs, tree: DataTree, trials: list[Any], validator: ScorerSpec,
                 prices: PriceTable, folder: Path, train_scenarios: int, seconds: float,
                 say: Progress) -> TuningSummary:
    """Write trials, Pareto front, validation, the tuned config and the summary; say the result."""
    table = trials_table(trials)
    with replace_file(folder / "trials.parquet") as tmp:
        table.write_parquet(tmp)
    with replace_file(folder / "pareto.parquet") as tmp:
        pareto_front(table).write_parquet(tmp)
    validation = validate(inputs, table, {t.number: t.params for t in trials}, validator, prices,
                          folder)
    winner, initial, tau = validation.winner, validation.initial, validation.tau
    best = winner.evaluation
    tuned_path = tree.tuned_config(inputs.name)
    header = (f"# Tuned by autoslo: run {inputs.name}, trial {winner.trial}; validation cost "
              f"{best.cost_usd:.4f} USD, violation {best.violation:.2%} "
              f"(tau {tau:.2%})\n")
    write_text(tuned_path, header + yaml.safe_dump(winner.data, sort_keys=False))
    write_text(folder / "validation.yml", yaml.safe_dump(validation.to_dict(), sort_keys=False))
    saving = (1 - best.cost_usd / initial.cost_usd) if initial.cost_usd > 0 else 0.0
    summary = TuningSummary(
        status="complete", tuner_run_name=inputs.name,
        tuned_config=str(tree.relative(tuned_path)),
        trials=table.height,
        feasible_trials=int(table["feasible"].sum()),
        invalid_trials=int((table["status"] == "invalid").sum()),
        pruned_trials=int(table["status"].is_in(["infeasible", "dearer"]).sum()),
        best_trial=winner.trial,
        validation=_score(best), initial_validation=_score(initial),
        saving_vs_initial=round(saving, 6),
        train_scenarios=train_scenarios, validation_scenarios=len(validator.train),
        seconds=round(seconds, 3))
    summary.write(folder / "summary.yml")
    say(f"best trial {winner.trial}: validation cost {best.cost_usd:.4f} USD, violation "
        f"{best.violation:.2%} (tau {tau:.2%}); initial config {initial.cost_usd:.4f} "
        f"USD, violation {initial.violation:.2%}")
    return summary
