"""Samplers: each `sampler:` value of the tuner config is one strategy behind one interface.

A strategy builds its seeded Optuna sampler, says what the study minimises (`directions`) and
what a trial's values are, how many trials it can use (`budget`), and may queue trials of its
own before a batch is asked (`before_batch`). The study loop knows no sampler by name.

Proposals are a function of the seed, the trial number and the trials finished before it, never
of how many proposals this process made before: each trial gets an Optuna sampler built for it
(`TrialSeededSampler`), so a killed run that resumes proposes exactly what the uninterrupted run
would have.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from autoslo.config import TunerConfig
from autoslo.errors import InputError
from autoslo.tune._errors import SamplerUnavailableError
from autoslo.tune._local_search import LocalSearch
from autoslo.tune._objective import Evaluation
from autoslo.tune._space import SearchSpace

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState


def trial_seed(seed: int, number: int, name: str = "") -> int:
    """A 32-bit seed for trial `number` (and parameter `name`) of a run seeded with `seed`."""
    digest = hashlib.sha256(f"{seed}/{number}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def trial_seeded_sampler(build: Callable[[int], BaseSampler], seed: int) -> BaseSampler:
    """An Optuna sampler that delegates to one built afresh for each trial by `build`, seeded
    from (seed, trial number), and for each independently sampled parameter from (seed, number,
    name).

    The delegates keep nothing between trials that the study does not hold (TPE, random, NSGA-II
    and CMA-ES read their state from the study's trials), so what trial n proposes depends only
    on the seed, n and the trials finished before it: a resumed run proposes what the
    uninterrupted one did, also for a trial whose parameters were only partly suggested.
    """
    return _trial_seeded_class()(build, seed)  # type: ignore[no-any-return]


@functools.cache
def _trial_seeded_class() -> type:
    """The BaseSampler subclass behind `trial_seeded_sampler` (optuna loads only when needed)."""
    from optuna.samplers import BaseSampler

    class TrialSeededSampler(BaseSampler):
        """See `trial_seeded_sampler`."""

        def __init__(self, build: Callable[[int], BaseSampler], seed: int) -> None:
            self._build, self._seed = build, seed
            self._number = -1
            self._inner = build(seed)

        def _for(self, number: int) -> BaseSampler:
            if number != self._number:
                self._inner, self._number = self._build(trial_seed(self._seed, number)), number
            return self._inner

        def before_trial(self, study: Study, trial: FrozenTrial) -> None:
            self._number = -1  # a trial (also one re-created on resume) starts from its seed
            self._for(trial.number).before_trial(study, trial)

        def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                        ) -> dict[str, BaseDistribution]:
            return self._for(trial.number).infer_relative_search_space(study, trial)

        def sample_relative(self, study: Study, trial: FrozenTrial,
                            search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
            return self._for(trial.number).sample_relative(study, trial, search_space)

        def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                               param_distribution: BaseDistribution) -> Any:
            own = self._build(trial_seed(self._seed, trial.number, param_name))
            return own.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                        values: Sequence[float] | None) -> None:
            self._for(trial.number).after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            """Nothing to reseed: every trial's delegate is seeded from its number."""

    return TrialSeededSampler


class SamplerStrategy(ABC):
    """How one sampler searches: its Optuna sampler, objective values, budget and own trials."""

    name: ClassVar[str]
    directions: ClassVar[tuple[str, ...]] = ("minimize",)

    def __init__(self, tuner: TunerConfig, space: SearchSpace, tau: float) -> None:
        self.tuner, self.space, self.tau = tuner, space, tau

    @abstractmethod
    def build(self, seed: int) -> BaseSampler:
        """A new Optuna sampler seeded with `seed`."""

    def sampler(self) -> BaseSampler:
        """A new Optuna sampler for the study, seeded per trial from the tuner config's seed."""
        return trial_seeded_sampler(self.build, self.tuner.seed)

    def values(self, evaluation: Evaluation) -> list[float]:
        """What the study minimises for a scored trial (one value per direction)."""
        return [evaluation.cost_usd]

    def budget(self) -> int:
        """How many trials the run asks for."""
        return self.tuner.n_trials

    def before_batch(self, study: Any, done: int, size: int) -> None:
        """Queue trials of the strategy's own into `study` before `size` more are asked (none by
        default)."""
        return


class TpeStrategy(SamplerStrategy):
    """Multivariate TPE, then a local search around the best trial for the last share of trials.

    Constraints come from each trial (Trial.set_constraint): infeasible trials rank by how far
    they miss, so among them lower violation is preferred.
    """

    name = "tpe"

    def __init__(self, tuner: TunerConfig, space: SearchSpace, tau: float) -> None:
        super().__init__(tuner, space, tau)
        self.local_search = LocalSearch(space, tuner.seed)

    def build(self, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True,
            n_startup_trials=max(5, min(20, self.tuner.n_trials // 10)))

    def before_batch(self, study: Any, done: int, size: int) -> None:
        n_trials = self.budget()
        if done >= n_trials - round(self.tuner.local_search * n_trials):
            self.local_search.enqueue(study, size)


class RandomStrategy(SamplerStrategy):
    """Independent uniform draws from the space."""

    name = "random"

    def build(self, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)


class GridStrategy(SamplerStrategy):
    """Every point of the (finite) space once, in a seeded order."""

    name = "grid"

    def build(self, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.GridSampler(self.space.grid(), seed=seed)

    def sampler(self) -> BaseSampler:
        """The grid in the seed's order; trial n takes grid point n, so no per-trial seed."""
        return self.build(self.tuner.seed)

    def budget(self) -> int:
        """No more trials than grid points (the sampler stops the study once all are tried)."""
        return min(self.tuner.n_trials, math.prod(len(v) for v in self.space.grid().values()))


class CmaEsStrategy(SamplerStrategy):
    """CMA-ES, which has no constraint support: infeasible trials pay a penalty instead."""

    name = "cmaes"

    def __init__(self, tuner: TunerConfig, space: SearchSpace, tau: float) -> None:
        super().__init__(tuner, space, tau)
        if importlib.util.find_spec("cmaes") is None:
            raise SamplerUnavailableError(
                "sampler: cmaes needs the Python package `cmaes`, which is not installed "
                "(pip install cmaes), or choose another sampler")

    def build(self, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.CmaEsSampler(seed=seed)

    def values(self, evaluation: Evaluation) -> list[float]:
        excess = max(0.0, evaluation.violation - self.tau)
        return [evaluation.cost_usd * (1 + 100 * excess) + 1000 * excess]


class Nsga2Strategy(SamplerStrategy):
    """NSGA-II on cost and violation together (the Pareto front is the result)."""

    name = "nsga2"
    directions = ("minimize", "minimize")

    def build(self, seed: int) -> BaseSampler:
        import optuna

        return optuna.samplers.NSGAIISampler(seed=seed)

    def values(self, evaluation: Evaluation) -> list[float]:
        return [evaluation.cost_usd, evaluation.violation]


SAMPLERS: dict[str, type[SamplerStrategy]] = {
    s.name: s for s in (TpeStrategy, RandomStrategy, GridStrategy, CmaEsStrategy, Nsga2Strategy)}


def sampler_strategy(tuner: TunerConfig, space: SearchSpace, tau: float) -> SamplerStrategy:
    """The strategy for the tuner config's `sampler:` value."""
    strategy = SAMPLERS.get(tuner.sampler)
    if strategy is None:
        raise InputError(f"must be one of {', '.join(SAMPLERS)}, got {tuner.sampler!r}",
                         field="sampler")
    return strategy(tuner, space, tau)
