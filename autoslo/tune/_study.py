"""The live search: an Optuna study kept in the run folder, asked in batches, told each score.

The study is journaled in `study.log`, so a killed run resumes where it stopped, trial for trial:
each asked trial records the batch it belongs to (the number of trials done when the batch was
asked), a trial a killed run left unfinished is scored again with its recorded parameters (and
the batch it was asked in is completed as it would have been), and the sampler's proposals depend
only on the seed, the trial number and the trials finished before (see `_samplers`). Each scored
trial keeps its frozen `Evaluation` as user attributes (what the report reads back).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autoslo.atomic import uninterrupted
from autoslo.config import PriceTable
from autoslo.tune._evaluators import Evaluator
from autoslo.tune._objective import Evaluation
from autoslo.tune._samplers import SamplerStrategy
from autoslo.tune._space import SearchSpace

Progress = Callable[[str], None]
BATCH = "batch"  # user attribute: how many trials were done when the trial's batch was asked
JOURNAL = "study.log"


def repair_journal(path: Path) -> None:
    """Cut a journal line a killed process left half-written, and the journal's own lock file.

    Only the run's one writer (it holds the run lock) calls this: no other process appends.
    """
    lock = Path(f"{path}.lock")
    if lock.is_symlink() or lock.exists():
        lock.unlink()  # optuna's lock of a killed writer (it would wait 30 s for it otherwise)
    if not path.is_file():
        return
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        keep = handle.read().rfind(b"\n") + 1
        handle.truncate(keep)


class TuningStudy:
    """A tuning run's mutable state: the Optuna study, the trials done, the best feasible cost."""

    def __init__(self, study: Any, strategy: SamplerStrategy, space: SearchSpace,
                 tau: float) -> None:
        self.study, self.strategy, self.space, self.tau = study, strategy, space, tau
        finished = self.finished()
        self.done = len(finished)
        self.best_feasible_cost = _best_feasible(finished)

    @classmethod
    def open(cls, folder: Path, strategy: SamplerStrategy, space: SearchSpace, tau: float,
             name: str, say: Progress) -> TuningStudy:
        """Create the study in `folder`, or load it to resume; a new study's first trial is the
        initial config (so the run never does worse)."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        folder.mkdir(parents=True, exist_ok=True)
        repair_journal(folder / JOURNAL)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder / JOURNAL)))
        with uninterrupted():
            study = optuna.create_study(study_name="tune", storage=storage,
                                        directions=list(strategy.directions),
                                        sampler=strategy.sampler(), load_if_exists=True)
            if not study.trials:
                start = space.initial_params()
                if start is not None:
                    study.enqueue_trial(start)
        opened = cls(study, strategy, space, tau)
        if opened.done:
            say(f"resuming {name}: {opened.done} of {strategy.budget()} trials done")
        return opened

    def finished(self) -> list[Any]:
        """The trials scored (complete) or refused (failed), in trial order."""
        return sorted((t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()),
                      key=lambda t: t.number)

    def remaining(self) -> int:
        """How many trials are still to be scored (0: only the report is left)."""
        return max(0, self.strategy.budget() - self.done)

    def optimize(self, pool: Evaluator, prices: PriceTable, say: Progress) -> None:
        """Ask, score and tell batches of `pool.batch_size` trials until the budget is spent."""
        n_trials = self.strategy.budget()
        while self.done < n_trials:
            with uninterrupted():  # a signal waits for the journal's appends, never the scoring
                batch, best = self._next_batch(pool.batch_size, n_trials)
                data = [self.space.apply(self.space.suggest(trial)) for trial in batch]
            results = pool(data, prices, best)
            with uninterrupted():
                for trial, (evaluation, reason) in zip(batch, results, strict=True):
                    self._record(trial, evaluation, reason)
            self.done += len(batch)
            if self.done % max(1, min(25, n_trials // 10)) < len(batch) or self.done == n_trials:
                best = self.best_feasible_cost
                say(f"trials {self.done}/{n_trials}: best feasible cost "
                    + (f"{best:.4f} USD" if best < math.inf else "none yet"))

    def _next_batch(self, batch_size: int, n_trials: int) -> tuple[list[Any], float]:
        """The next batch's trials and the best feasible cost it is scored against.

        Normally a new batch: the strategy's own trials queued, then `batch_size` asked. After a
        kill, first the batch the killed run was in: its unfinished trials (re-created with their
        recorded parameters) plus the trials it had not asked yet, scored against the best
        feasible cost of the trials finished before that batch, as the uninterrupted run did.
        """
        import optuna

        running = sorted(self.study.get_trials(deepcopy=False,
                                               states=(optuna.trial.TrialState.RUNNING,)),
                         key=lambda t: t.number)
        if running:
            start = min((int(t.user_attrs[BATCH]) for t in running if BATCH in t.user_attrs),
                        default=self.done)
            trials = [optuna.Trial(self.study, t._trial_id) for t in running]
            told = self.done - start
            missing = max(0, min(batch_size, n_trials - start) - len(running) - told)
            before = [t for t in self.finished() if int(t.user_attrs.get(BATCH, -1)) < start]
            best = _best_feasible(before)
        else:
            start, missing, trials = self.done, min(batch_size, n_trials - self.done), []
            self.strategy.before_batch(self.study, self.done, missing)
            best = self.best_feasible_cost
        trials += [self.study.ask() for _ in range(missing)]
        for trial in trials:
            if BATCH not in trial.user_attrs:
                trial.set_user_attr(BATCH, start)
        return trials, best

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


def _best_feasible(trials: list[Any]) -> float:
    """The lowest cost among `trials` that met the SLOs (inf when none did)."""
    return min((t.user_attrs["cost_usd"] for t in trials
                if t.state.is_finished() and t.user_attrs.get("feasible")), default=math.inf)
