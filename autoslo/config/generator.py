"""Generator specs (data/generators/<name>.yml): how a synthetic workload is made.

A spec names a template suite, a rate profile, a template mix and query groups, and optionally
how to draw isolated runtimes; with the same spec and seed the generator writes the same rows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from autoslo.config._base import (
    RuleError,
    StrictModel,
    ZonedTimestamp,
    at_least,
    between,
    positive,
    safe_name,
)
from autoslo.config.shapes import ClusterShape

PositiveFloat = Annotated[float, AfterValidator(positive)]


class Bursts(StrictModel):
    """Periodic bursts on top of the base rate."""

    every_s: PositiveFloat
    duration_s: PositiveFloat
    factor: Annotated[float, AfterValidator(at_least(1))]


class RateProfile(StrictModel):
    """Arrival rate over time: constant, diurnal (one daily peak), weekly (diurnal with quieter
    weekends) or bursty (constant with periodic bursts). `mean_per_s` is the average rate."""

    profile: Literal["constant", "diurnal", "weekly", "bursty"]
    mean_per_s: PositiveFloat
    peak_to_trough: Annotated[float, AfterValidator(at_least(1))] = 4.0
    peak_hour: Annotated[float, AfterValidator(between(0, 24))] = 14.0
    weekend_factor: Annotated[float, AfterValidator(between(0, 1))] = 0.4
    bursts: Bursts | None = None

    @model_validator(mode="after")
    def _bursts_fit(self) -> RateProfile:
        if self.profile == "bursty" and self.bursts is None:
            raise RuleError("bursts", "is required for the bursty profile")
        if self.bursts is not None and self.bursts.duration_s > self.bursts.every_s:
            raise RuleError(("bursts", "duration_s"), f"must be <= every_s "
                            f"({self.bursts.every_s}), got {self.bursts.duration_s}")
        return self


class Runtimes(StrictModel):
    """Isolated runtimes drawn log-normally around a median per template, at a reference size."""

    reference: ClusterShape
    sigma: Annotated[float, AfterValidator(between(0, 3))] = 0.3
    medians_s: dict[str, PositiveFloat]


class GeneratorSpec(StrictModel):
    """Everything `autoslo workload generate` needs."""

    name: Annotated[str, AfterValidator(safe_name)]
    description: str = ""
    seed: Annotated[int, AfterValidator(between(0, 2**32 - 1))] = 0
    start: ZonedTimestamp
    duration_s: PositiveFloat
    rate: RateProfile
    suite: str = Field(description="template suite under data/templates/")
    mix: dict[str, Annotated[float, AfterValidator(positive)]] = Field(
        default_factory=dict, description="template weights; default: every template, equally")
    query_groups: dict[str, str] = Field(
        default_factory=dict, description="template -> query group; default: the suite's")
    users: Annotated[int, AfterValidator(between(1, 100_000))] = 5
    runtimes: Runtimes | None = None

    @model_validator(mode="after")
    def _runtimes_cover_mix(self) -> GeneratorSpec:
        if self.runtimes is not None and self.mix:
            missing = sorted(set(self.mix) - set(self.runtimes.medians_s))
            if missing:
                raise RuleError(("runtimes", "medians_s"), f"has no median for template(s) "
                                f"{', '.join(missing)} of the mix")
        return self

    def summary(self) -> str:
        """The rate profile, duration, suite and seed."""
        return (f"{self.rate.profile} rate {self.rate.mean_per_s}/s for "
                f"{self.duration_s / 3600:g} h; suite {self.suite}, seed {self.seed}")
