"""The live search: an Optuna study kept in the run folder, asked in batches, told each score.

The study is journaled in `study.log`, so a killed run resumes where it stopped. Each scored
trial keeps its frozen `Evaluation` as user attributes (what the report reads back).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autoslo.config import PriceTable
from autoslo.tune._evaluators import Evaluator
from autoslo.tune._objective import Evaluation
from autoslo.tune._samplers import SamplerStrategy
from autoslo.tune._space import SearchSpace

Progress = Callable[[str], None]


class TuningStudy:
    """A tuning run's mutable state: the Optuna study, the trials done, the best feasible cost."""

    def __init__(self, study: Any, strategy: SamplerStrategy, space: SearchSpace, tau: float,
                 finished: list[Any]) -> None:
        self.study, self.strategy, self.space, self.tau = study, strategy, space, tau
        self.done = len(finished)  # trials a killed run left unfinished are not counted
        self.best_feasible_cost = min(
            (t.user_attrs["cost_usd"] for t in finished if t.user_attrs.get("feasible")),
            default=math.inf)

    @classmethod
    def open(cls, folder: Path, strategy: SamplerStrategy, space: SearchSpace, tau: float,
             name: str, say: Progress) -> TuningStudy:
        """Create the study in `folder`, or load it: trials killed mid-way count as failed, and a
        new study's first trial is the initial config (so the run never does worse)."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder / "study.log")))
        study = optuna.create_study(study_name="tune", storage=storage,
                                    directions=list(strategy.directions),
                                    sampler=strategy.sampler(), load_if_exists=True)
        finished = [t for t in study.trials if t.state.is_finished()]
        for stale in (t for t in study.trials if not t.state.is_finished()):
            study.tell(stale.number, state=optuna.trial.TrialState.FAIL)  # killed mid-trial
        if finished:
            say(f"resuming {name}: {len(finished)} of {strategy.tuner.n_trials} trials done")
        elif not study.trials:
            start = space.initial_params()
            if start is not None:
                study.enqueue_trial(start)
        return cls(study, strategy, space, tau, finished)

    def optimize(self, pool: Evaluator, prices: PriceTable, say: Progress) -> None:
        """Ask, score and tell batches of `pool.batch_size` trials until the budget is spent."""
        n_trials = self.strategy.budget()
        while self.done < n_trials:
            size = min(pool.batch_size, n_trials - self.done)
            self.strategy.before_batch(self.study, self.done, size)
            batch = [self.study.ask() for _ in range(size)]
            data = [self.space.apply(self.space.suggest(trial)) for trial in batch]
            results = pool(data, prices, self.best_feasible_cost)
            for trial, (evaluation, reason) in zip(batch, results, strict=True):
                self._record(trial, evaluation, reason)
            self.done += len(batch)
            if self.done % max(1, min(25, n_trials // 10)) < len(batch) or self.done == n_trials:
                best = self.best_feasible_cost
                say(f"trials {self.done}/{n_trials}: best feasible cost "
                    + (f"{best:.4f} USD" if best < math.inf else "none yet"))

    def _record(self, trial: Any, evaluation: Evaluation | None, reason: str) -> None:
        """Tell the study one trial's outcome: failed with the reason, or its frozen scores."""
        import optuna

        if evaluation is None:
            trial.set_user_attr("invalid", reason)
            self._tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        for key, value in asdict(evaluation).items():
            trial.set_user_attr(key, list(value) if isinstance(value, tuple) else value)
        trial.set_constraint("violation_over_tau", evaluation.violation - self.tau)
        self._tell(trial, self.strategy.values(evaluation))
        if evaluation.feasible:
            self.best_feasible_cost = min(self.best_feasible_cost, evaluation.cost_usd)

    def _tell(self, trial: Any, *args: Any, **kwargs: Any) -> None:
        try:
            self.study.tell(trial, *args, **kwargs)
        except RuntimeError as exc:  # GridSampler asks the study to stop; the result is stored
            if "Study.stop" not in str(exc):
                raise
