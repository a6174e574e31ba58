"""Scoring result tables against an SLO spec (simulator and live runs alike).

Each query gets at most one latency target: its template's, else its query group's, else the
spec's default. A query violates the SLO when it did not finish ok (timeout, failed, aborted) or
its latency exceeds its target; a query without a target violates only by not finishing ok.
Kappa targets are kappa x the query's isolated latency on the spec's reference cluster, which the
caller supplies (`reference_latencies`), so results never bake an SLO in. Percentile bounds count
unfinished queries as infinitely slow. Every latency percentile autoslo reports (summary.yml,
compare, SLO bounds, plots) is `latency_percentile`: numpy's default linear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import polars as pl

from autoslo.config.slo import LatencyTarget, SloSpec
from autoslo.errors import InputError
from autoslo.perf import LatencyModel, Shape, isolated_runtimes
from autoslo.workload import Workload

INF = float("inf")
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class PercentileCheck:
    """One percentile bound: what was required and what the run achieved."""

    percentile: float
    target_s: float
    observed_s: float
    scope: str
    queries: int

    @property
    def met(self) -> bool:
        return self.observed_s <= self.target_s


@dataclass(frozen=True)
class SloScore:
    """How one run did against one spec."""

    queries: int
    violations: int
    tau: float
    per_template: pl.DataFrame
    per_group: pl.DataFrame | None
    percentiles: list[PercentileCheck] = field(default_factory=list)

    @property
    def violation_rate(self) -> float:
        return self.violations / self.queries if self.queries else 0.0

    @property
    def met(self) -> bool:
        """Violation rate within tau and every percentile bound met."""
        return self.violation_rate <= self.tau and all(p.met for p in self.percentiles)


def latency_percentile(values: np.ndarray | pl.Expr, q: Any) -> Any:
    """The `q`-th percentile (0-100) of latencies, the one definition every report uses.

    numpy's default (linear interpolation between the two nearest ranks, at index
    q / 100 * (n - 1) of the sorted values), on an array (`q` a number or an array of them) or
    as a polars aggregation (for lazy tables; `q` a number). Unfinished queries enter as +inf: a
    percentile that reaches them is inf (where the interpolation meets inf, numpy and polars
    would give NaN). An empty array gives NaN.
    """
    if isinstance(values, pl.Expr):
        return values.quantile(float(q) / 100, "linear").fill_nan(INF)
    latency = np.asarray(values, dtype=np.float64)
    if latency.size == 0:
        return np.full(np.shape(q), np.nan) if np.ndim(q) else float("nan")
    with np.errstate(invalid="ignore"):
        result = np.atleast_1d(np.percentile(latency, q)).astype(np.float64)
    broken = np.isnan(result)  # numpy's interpolation met an infinite latency (inf - inf, inf * 0)
    if broken.any():
        ordered = np.sort(latency)
        index = np.atleast_1d(np.asarray(q, dtype=np.float64))[broken] / 100 * (latency.size - 1)
        low = np.floor(index).astype(np.int64)
        # on a rank: that value; between ranks with inf above: inf
        result[broken] = np.where(index == low, ordered[low], INF)
    return result if np.ndim(q) else float(result[0])


def reference_latencies(workload: Workload, spec: SloSpec, model: LatencyModel | None) -> pl.DataFrame:
    """Each query's isolated latency on the spec's reference cluster: [query_id, reference_s]."""
    if spec.reference is None:
        raise InputError("reference: the SLO spec names no reference cluster")
    shape = Shape(spec.reference.shape_key, spec.reference.size)
    runtimes = isolated_runtimes(workload, model, shape)
    return pl.DataFrame({"query_id": workload.queries["query_id"], "reference_s": runtimes})


def uses_kappa(spec: SloSpec) -> bool:
    """Whether any target is relative (then reference latencies are needed to score)."""
    return any(t.kappa is not None for t in [*spec.targets, spec.default] if t is not None)


def _target_expr(target: LatencyTarget) -> pl.Expr:
    if target.latency_s is not None:
        return pl.lit(target.latency_s, dtype=pl.Float64)
    return pl.col("reference_s") * float(target.kappa)  # type: ignore[arg-type]


def with_targets(queries: Frame, spec: SloSpec, reference: Frame | None = None) -> Frame:
    """The result table plus `target_s` (null = no target) and `violated` columns.

    Works on eager and lazy frames alike (the reference must be of the same kind), so
    aggregation over many runs can stay lazy.
    """
    frame = queries
    if uses_kappa(spec):
        if reference is None:
            raise InputError("the SLO spec uses kappa targets: reference latencies are needed")
        frame = frame.join(reference, on="query_id", how="left", maintain_order="left")
    has_group = "query_group" in frame.collect_schema().names()
    target = pl.lit(None, dtype=pl.Float64)
    if spec.default is not None:
        target = _target_expr(spec.default)
    for item in reversed([t for t in spec.targets if t.query_group is not None]):
        if has_group:
            target = pl.when(pl.col("query_group") == item.query_group).then(
                _target_expr(item)).otherwise(target)
    for item in reversed([t for t in spec.targets if t.template_id is not None]):
        target = pl.when(pl.col("template_id") == item.template_id).then(
            _target_expr(item)).otherwise(target)
    frame = frame.with_columns(target.alias("target_s"))
    return frame.with_columns(
        ((pl.col("status") != "ok")
         | (pl.col("target_s").is_not_null() & (pl.col("latency_s") > pl.col("target_s"))))
        .alias("violated"))


def _summaries(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    latency = pl.when(pl.col("status") == "ok").then(pl.col("latency_s")).otherwise(INF)
    return (frame.group_by(key).agg(
        pl.len().alias("queries"),
        pl.col("violated").sum().alias("violations"),
        pl.col("violated").mean().alias("violation_rate"),
        *(latency_percentile(latency, p).alias(f"p{p}_s")  # type: ignore[union-attr]
          for p in (50, 95, 99)),
    ).sort(key))


def score(queries: pl.DataFrame, spec: SloSpec, reference: pl.DataFrame | None = None,
          tau: float | None = None) -> SloScore:
    """Score one result table; `tau` overrides the spec's threshold (the tuner's may differ)."""
    frame = with_targets(queries, spec, reference)
    per_template = _summaries(frame, "template_id")
    per_group = _summaries(frame, "query_group") if "query_group" in frame.columns else None
    checks = []
    latency = np.where(frame["status"].to_numpy() == "ok", frame["latency_s"].to_numpy(), INF)
    for bound in spec.percentiles:
        mask = np.ones(frame.height, bool)
        scope = "all queries"
        if bound.template_id is not None:
            mask &= (frame["template_id"] == bound.template_id).to_numpy()
            scope = f"template {bound.template_id}"
        if bound.query_group is not None and "query_group" in frame.columns:
            mask &= (frame["query_group"] == bound.query_group).to_numpy()
            scope = f"query group {bound.query_group}"
        picked = latency[mask]
        observed = float(latency_percentile(picked, bound.percentile)) if picked.size else 0.0
        checks.append(PercentileCheck(bound.percentile, bound.latency_s, observed, scope,
                                      int(picked.size)))
    return SloScore(queries=frame.height, violations=int(frame["violated"].sum()),
                    tau=spec.tau if tau is None else tau, per_template=per_template,
                    per_group=per_group, percentiles=checks)
