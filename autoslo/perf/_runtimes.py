"""Each query's isolated runtime on a cluster shape: measured, scaled, or predicted.

A query's `runtime_s` (when present) was measured at its `runtime_size` (or the workload's
`reference` size) and is scaled to the target shape by the latency model; with no model, or no
size to scale from, it is used as-is. Without `runtime_s` the model predicts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel

if TYPE_CHECKING:
    from autoslo.workload import Workload


@dataclass(frozen=True)
class Shape:
    """A distinct (shape key, size) that runtimes are computed for."""

    key: str
    size: int


def isolated_runtimes(workload: Workload, model: LatencyModel | None, shape: Shape) -> np.ndarray:
    """Each query's isolated runtime on `shape` (see the module docstring)."""
    frame = workload.queries
    n = frame.height
    has_runtime = "runtime_s" in frame.columns
    measured = frame["runtime_s"].to_numpy() if has_runtime else np.full(n, np.nan)
    given = ~np.isnan(measured) if has_runtime else np.zeros(n, bool)
    out = np.empty(n)
    if model is None:
        if not given.all():
            raise InputError(
                f"{int((~given).sum())} queries have no runtime_s and the execution config names "
                "no latency model (latency_model.model); give one or fill runtime_s",
                source=workload.source or f"workload {workload.id!r}", field="runtime_s")
        return measured.astype(np.float64)
    templates = frame["template_id"].to_list()
    _check_templates(model, templates)
    predicted = model.predict(templates, shape.key, shape.size)
    out[:] = predicted
    if given.any():
        reference = workload.reference_size
        sizes = (frame["runtime_size"].cast(pl.Float64).to_numpy()
                 if "runtime_size" in frame.columns else np.full(n, np.nan))
        ref_key = reference[0] if reference else shape.key
        ref_size = np.where(np.isnan(sizes), reference[1] if reference else np.nan, sizes)
        as_is = given & np.isnan(ref_size)
        scaled = given & ~np.isnan(ref_size)
        out[as_is] = measured[as_is]
        if scaled.any():
            for size in np.unique(ref_size[scaled]):
                rows = scaled & (ref_size == size)
                at_ref = model.predict([templates[r] for r in np.flatnonzero(rows)], ref_key,
                                       int(size))
                out[rows] = measured[rows] * predicted[rows] / at_ref
    return out


def _check_templates(model: LatencyModel, templates: list[str]) -> None:
    unknown = sorted(set(templates) - model.known_templates())
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise InputError(f"latency model {model.name!r} has no entry for {len(unknown)} "
                         f"template(s) of the workload: {shown}")
