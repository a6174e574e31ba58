"""SLO specs (data/slos/<name>.yml): latency targets per template or query group, and tau.

A target is absolute (`latency_s`) or relative (`kappa` x the template's isolated latency on the
spec's `reference` cluster). A run violates the spec when more than `tau` of its queries miss
their target; timed-out, failed and aborted queries always count as misses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, model_validator

from autoslo.config._base import RuleError, StrictModel, between, positive
from autoslo.config.shapes import ClusterShape

PositiveFloat = Annotated[float, AfterValidator(positive)]


class LatencyTarget(StrictModel):
    """A latency target for the queries of one template or one query group (or all others)."""

    template_id: str | None = None
    query_group: str | None = None
    latency_s: PositiveFloat | None = None
    kappa: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> LatencyTarget:
        if (self.latency_s is None) == (self.kappa is None):
            raise RuleError("latency_s", "exactly one of latency_s and kappa must be set, got "
                            f"latency_s={self.latency_s}, kappa={self.kappa}")
        if self.template_id is not None and self.query_group is not None:
            raise RuleError("query_group", "at most one of template_id and query_group may be "
                            f"set, got template_id={self.template_id!r}, "
                            f"query_group={self.query_group!r}")
        return self


class PercentileTarget(StrictModel):
    """A percentile bound, e.g. p95 latency of template q1 at most 20 s."""

    percentile: Annotated[float, AfterValidator(between(0.1, 100))]
    latency_s: PositiveFloat
    template_id: str | None = None
    query_group: str | None = None


class SloSpec(StrictModel):
    """A latency SLO: targets, the violation-rate threshold tau, optional percentile bounds."""

    description: str = ""
    tau: Annotated[float, AfterValidator(between(0, 1))]
    reference: ClusterShape | None = None
    default: LatencyTarget | None = None
    targets: list[LatencyTarget] = []
    percentiles: list[PercentileTarget] = []

    @model_validator(mode="after")
    def _consistent(self) -> SloSpec:
        if self.default is not None and (self.default.template_id or self.default.query_group):
            raise RuleError("default", "the default target applies to every query without its "
                            "own target and must not name template_id or query_group")
        keys: set[tuple[str, str]] = set()
        for index, target in enumerate(self.targets):
            if target.template_id is None and target.query_group is None:
                raise RuleError(("targets", index), "must name template_id or query_group "
                                "(use `default` for all other queries)")
            key = ("template_id", target.template_id) if target.template_id else (
                "query_group", str(target.query_group))
            if key in keys:
                raise RuleError(("targets", index), f"{key[0]} {key[1]!r} has two targets")
            keys.add(key)
        uses_kappa = any(t.kappa is not None for t in [*self.targets, self.default] if t)
        if uses_kappa and self.reference is None:
            raise RuleError("reference", "is required when a target uses kappa (the isolated "
                            "latency is taken on this cluster)")
        if not self.targets and self.default is None and not self.percentiles:
            raise RuleError("targets", "the spec sets no target: give targets, a default or "
                            "percentiles")
        return self

    def summary(self) -> str:
        """Tau and how many targets and percentile bounds the spec sets."""
        return (f"tau {self.tau}; {len(self.targets)} target(s)"
                + ("; default target" if self.default else "")
                + (f"; {len(self.percentiles)} percentile bound(s)" if self.percentiles else ""))
