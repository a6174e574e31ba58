"""Tuner configs (data/tuner_configs/<name>.yml): what to optimise, over which space, how long.

The search space maps dotted paths into the execution config (``pool.clusters.0.rpu``) to a
distribution. How trials run (parallelism, a Ray address) sits beside it in `parallelism`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from autoslo.config._base import IsoDate, RuleError, StrictModel, at_least, between, positive
from autoslo.config._yaml import split_path

Scalar = str | int | float | bool


class FixedWorkload(StrictModel):
    """Tune for one given workload folder."""

    kind: Literal["fixed"]
    path: str = Field(description="data-relative workload folder (workloads/<id>)")


class ForecastWorkload(StrictModel):
    """Tune for forecast scenarios of a target day, sampled from a history workload."""

    kind: Literal["forecast"]
    history: str = Field(description="data-relative workload folder holding the history")
    date: IsoDate
    scenarios: Annotated[int, AfterValidator(between(1, 1000))] = 10
    validation_scenarios: Annotated[int, AfterValidator(at_least(0))] = 3
    method: Literal["auto", "yesterday", "same_weekday", "ewma", "seasonal"] = "auto"

    @model_validator(mode="after")
    def _split(self) -> ForecastWorkload:
        if self.validation_scenarios >= self.scenarios:
            raise RuleError("validation_scenarios", "must leave at least one training scenario "
                            f"(< scenarios={self.scenarios}), got {self.validation_scenarios}")
        return self


TunerWorkload = Annotated[FixedWorkload | ForecastWorkload, Field(discriminator="kind")]


def _check_bounds(low: float, high: float, log: bool, step: float | None) -> None:
    if low > high:
        raise RuleError("low", f"`low <= high` must hold, but got (low={low}, high={high})")
    if log and low <= 0:
        raise RuleError("low", f"must be > 0 for a log distribution, got {low}")
    if log and step is not None:
        raise RuleError("step", f"a log distribution cannot have a step, got step={step}")


class IntDistribution(StrictModel):
    """Integers from low to high inclusive, optionally in steps or on a log scale."""

    type: Literal["int"]
    low: int
    high: int
    step: Annotated[int, AfterValidator(positive)] = 1
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> IntDistribution:
        _check_bounds(self.low, self.high, self.log, None if self.step == 1 else self.step)
        return self

    def grid(self) -> list[Any]:
        return list(range(self.low, self.high + 1, self.step))


class FloatDistribution(StrictModel):
    """Reals from low to high, optionally in steps (then finite) or on a log scale."""

    type: Literal["float"]
    low: float
    high: float
    step: Annotated[float, AfterValidator(positive)] | None = None
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> FloatDistribution:
        _check_bounds(self.low, self.high, self.log, self.step)
        return self

    def grid(self) -> list[Any] | None:
        if self.step is None:
            return None
        count = round((self.high - self.low) / self.step) + 1
        return [self.low + i * self.step for i in range(count)]


class CategoricalDistribution(StrictModel):
    """One of a list of values."""

    type: Literal["categorical"]
    choices: Annotated[list[Scalar], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> CategoricalDistribution:
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise RuleError("choices", f"must be distinct, got {self.choices}")
        return self

    def grid(self) -> list[Any]:
        return list(self.choices)


Distribution = Annotated[
    IntDistribution | FloatDistribution | CategoricalDistribution, Field(discriminator="type")]


class SpinUpPlan(StrictModel):
    """A structured parameter: up to `max_spin_ups` scheduled spin-ups, each a time and a size
    (and a lifetime: fixed, searched when given as a distribution, or none = until idle)."""

    max_spin_ups: Annotated[int, AfterValidator(between(0, 8))]
    at_s: FloatDistribution
    sizes: Annotated[list[int], Field(min_length=1)]
    lifetime_s: Annotated[float, AfterValidator(positive)] | FloatDistribution | None = None

    @model_validator(mode="after")
    def _positive_lifetimes(self) -> SpinUpPlan:
        if isinstance(self.lifetime_s, FloatDistribution) and self.lifetime_s.low <= 0:
            raise RuleError(("lifetime_s", "low"), f"must be > 0, got {self.lifetime_s.low}")
        return self


class Parallelism(StrictModel):
    """How trials run: workers on this machine, or an existing Ray cluster."""

    workers: Annotated[int, AfterValidator(between(1, 1024))] = 1
    ray_address: str | None = None


class TunerConfig(StrictModel):
    """What the tuner optimises: cost subject to aggregated SLO violation <= tau."""

    description: str = ""
    workload: TunerWorkload
    slo: str = Field(description="data-relative SLO spec (slos/<name>.yml)")
    tau: Annotated[float, AfterValidator(between(0, 1))] | None = Field(
        default=None, description="violation threshold; none = the SLO spec's tau")
    aggregate: Literal["mean", "max", "p95"] = "mean"
    search_space: dict[str, Distribution] = {}
    spin_up_plan: SpinUpPlan | None = None
    sampler: Literal["tpe", "random", "grid", "cmaes", "nsga2"] = "tpe"
    n_trials: Annotated[int, AfterValidator(between(1, 100_000))]
    local_search: Annotated[float, AfterValidator(between(0, 0.9))] = Field(
        default=0.3, description="tpe: share of the trials spent on one-step moves around the "
                                 "best config so far (0 = sample them all)")
    seed: Annotated[int, AfterValidator(between(0, 2**32 - 1))] = 0
    contention_samples: Annotated[int, AfterValidator(between(0, 100))] = Field(
        default=0, description="score each trial under the fitted contention model and this many "
                               "of its bootstrap samples: cost their mean, violation their worst "
                               "(the execution config must use a fitted contention model)")
    parallelism: Parallelism = Parallelism()

    @model_validator(mode="after")
    def _space(self) -> TunerConfig:
        for path in self.search_space:
            try:
                split_path(path)
            except Exception as exc:
                raise RuleError(("search_space", path), str(exc)) from None
        if not self.search_space and self.spin_up_plan is None:
            raise RuleError("search_space", "is empty: give at least one dimension or a "
                            "spin_up_plan")
        if self.sampler == "grid":
            for path, dist in self.search_space.items():
                if dist.grid() is None:
                    raise RuleError(("search_space", path), "the grid sampler needs a finite "
                                    "space: give this float distribution a step")
            plan = self.spin_up_plan
            if plan is not None and plan.at_s.step is None:
                raise RuleError(("spin_up_plan", "at_s"), "the grid sampler needs a step here")
            if plan is not None and isinstance(plan.lifetime_s, FloatDistribution) and (
                    plan.lifetime_s.step is None):
                raise RuleError(("spin_up_plan", "lifetime_s"), "the grid sampler needs a step "
                                "here")
        return self

    def summary(self) -> str:
        """The workload kind, the search's dimensions, sampler, trials and seed."""
        dims = len(self.search_space) + (1 if self.spin_up_plan else 0)
        return (f"{self.workload.kind} workload; {dims} dimension(s); {self.sampler}, "
                f"{self.n_trials} trials, seed {self.seed}")
