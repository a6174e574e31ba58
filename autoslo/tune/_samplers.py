"""Samplers: each `sampler:` value of the tuner config is one strategy behind one interface.

A strategy builds its seeded Optuna sampler, says what the study minimises (`directions`) and
what a trial's values are, how many trials it can use (`budget`), and may queue trials of its
own before a batch is asked (`before_batch`). The study loop knows no sampler by name.
"""

from __future__ import annotations

import importlib.util
import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from autoslo.config import TunerConfig
from autoslo.errors import InputError
from autoslo.tune._errors import SamplerUnavailableError
from autoslo.tune._local_search import LocalSearch
from autoslo.tune._objective import Evaluation
from autoslo.tune._space import SearchSpace

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler


class SamplerStrategy(ABC):
    """How one sampler searches: its Optuna sampler, objective values, budget and own trials."""

    name: ClassVar[str]
    directions: ClassVar[tuple[str, ...]] = ("minimize",)

    def __init__(self, tuner: TunerConfig, space: SearchSpace, tau: float) -> None:
        self.tuner, self.space, self.tau = tuner, space, tau

    @abstractmethod
    def sampler(self) -> BaseSampler:
        """A new Optuna sampler seeded with the tuner config's seed."""

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

    def sampler(self) -> BaseSampler:
        import optuna

        return optuna.samplers.TPESampler(
            seed=self.tuner.seed, multivariate=True,
            n_startup_trials=max(5, min(20, self.tuner.n_trials // 10)))

    def before_batch(self, study: Any, done: int, size: int) -> None:
        n_trials = self.budget()
        if done >= n_trials - round(self.tuner.local_search * n_trials):
            self.local_search.enqueue(study, size)


class RandomStrategy(SamplerStrategy):
    """Independent uniform draws from the space."""

    name = "random"

    def sampler(self) -> BaseSampler:
        import optuna

        return optuna.samplers.RandomSampler(seed=self.tuner.seed)


class GridStrategy(SamplerStrategy):
    """Every point of the (finite) space once, in a seeded order."""

    name = "grid"

    def sampler(self) -> BaseSampler:
        import optuna

        return optuna.samplers.GridSampler(self.space.grid(), seed=self.tuner.seed)

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

    def sampler(self) -> BaseSampler:
        import optuna

        return optuna.samplers.CmaEsSampler(seed=self.tuner.seed)

    def values(self, evaluation: Evaluation) -> list[float]:
        excess = max(0.0, evaluation.violation - self.tau)
        return [evaluation.cost_usd * (1 + 100 * excess) + 1000 * excess]


class Nsga2Strategy(SamplerStrategy):
    """NSGA-II on cost and violation together (the Pareto front is the result)."""

    name = "nsga2"
    directions = ("minimize", "minimize")

    def sampler(self) -> BaseSampler:
        import optuna

        return optuna.samplers.NSGAIISampler(seed=self.tuner.seed)

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
