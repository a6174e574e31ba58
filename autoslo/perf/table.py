"""The measured latency table: isolated runtime per (template, shape, size), with a power-law
scale-out fit ``runtime = a * size ** -b`` per (template, shape) for sizes not in the table.

Sizes in the table return the measured value (mean of repeats). A template measured at one size
only takes the median exponent of the templates with two or more sizes on that shape (or 0, no
scaling, if there are none). Folder format: ``model.yml`` (kind: table) + ``runtimes.csv`` with
columns template_id, shape, size, runtime_s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel

FORMAT_VERSION = 1  # the folder format (model.yml + runtimes.csv)
MIN_BAND = 0.02  # the narrowest relative band reported off the table, even for a perfect fit

@dataclass(frozen=True)
class _Fit:
    log_a: float
    b: float
    measured: dict[int, float]
    spread: dict[int, tuple[float, float]]


class TableModel(LatencyModel):
    """A latency table measured by calibration runs, extended by a per-template power law."""

    def __init__(self, table: pl.DataFrame, name: str = "table", source: str = "table") -> None:
        required = {"template_id", "shape", "size", "runtime_s"}
        missing = required - set(table.columns)
        if missing:
            raise InputError(f"missing column(s) {', '.join(sorted(missing))}", source=source)
        if table.height == 0:
            raise InputError("the latency table is empty", source=source)
        runtimes = table["runtime_s"].cast(pl.Float64)
        if not bool((runtimes > 0).all()) or runtimes.is_nan().any():
            raise InputError("runtime_s: must be > 0 and finite in every row", source=source)
        sizes = table["size"].cast(pl.Float64)
        if not bool((sizes > 0).all()):
            raise InputError("size: must be > 0 in every row", source=source)
        self.name = name
        grouped = (table.with_columns(pl.col("size").cast(pl.Int64),
                                      pl.col("runtime_s").cast(pl.Float64))
                   .group_by(["template_id", "shape", "size"])
                   .agg(pl.col("runtime_s").mean(), pl.col("runtime_s").min().alias("low"),
                        pl.col("runtime_s").max().alias("high"))
                   .sort(["template_id", "shape", "size"]))
        self._fits: dict[tuple[str, str], _Fit] = {}
        single: list[tuple[str, str, dict[int, float], dict[int, tuple[float, float]]]] = []
        exponents: dict[str, list[float]] = {}
        residuals: list[float] = []
        for (template, shape), part in grouped.group_by(["template_id", "shape"],
                                                        maintain_order=True):
            measured = dict(zip(part["size"].to_list(), part["runtime_s"].to_list(), strict=True))
            spread = {s: (lo, hi) for s, lo, hi in zip(part["size"].to_list(), part["low"].to_list(),
                                                       part["high"].to_list(), strict=True)}
            if len(measured) >= 2:
                x = np.log(np.array(list(measured), dtype=float))
                y = np.log(np.array(list(measured.values()), dtype=float))
                slope, intercept = np.polyfit(x, y, 1)
                residuals.extend((y - (intercept + slope * x)).tolist())
                self._fits[(str(template), str(shape))] = _Fit(float(intercept), float(-slope),
                                                               measured, spread)
                exponents.setdefault(str(shape), []).append(float(-slope))
            else:
                single.append((str(template), str(shape), measured, spread))
        for template, shape, measured, spread in single:
            b = float(np.median(exponents[shape])) if exponents.get(shape) else 0.0
            size, runtime = next(iter(measured.items()))
            self._fits[(template, shape)] = _Fit(float(np.log(runtime) + b * np.log(size)), b,
                                                 measured, spread)
        # band of sizes off the table: the spread of the power-law fits' log residuals
        pooled = np.abs(np.array(residuals)) if residuals else np.zeros(1)
        self.band = max(float(np.quantile(pooled, 0.9)), MIN_BAND)

    def known_templates(self) -> set[str]:
        return {template for template, _ in self._fits}

    def exponent(self, template_id: str, shape: str) -> float:
        """The fitted scale-out exponent b (runtime ~ size ** -b)."""
        return self._fit(template_id, shape).b

    def _fit(self, template_id: str, shape: str) -> _Fit:
        try:
            return self._fits[(template_id, shape)]
        except KeyError:
            shapes = sorted({s for t, s in self._fits if t == template_id})
            if shapes:
                raise InputError(f"latency model {self.name!r} has template {template_id!r} only "
                                 f"for {', '.join(shapes)}, not for {shape}") from None
            raise InputError(f"latency model {self.name!r} has no entry for template "
                             f"{template_id!r}") from None

    def predict_interval(self, template_ids: Sequence[str], shape: str,
                         size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Measured sizes: the repeats' min and max; other sizes: the power law times its band."""
        predicted = self.predict(template_ids, shape, size)
        lower = predicted * np.exp(-self.band)
        upper = predicted * np.exp(self.band)
        for i, template in enumerate(template_ids):
            spread = self._fit(template, shape).spread.get(size)
            if spread is not None:
                lower[i], upper[i] = spread
        return predicted, lower, upper

    def predict(self, template_ids: Sequence[str], shape: str, size: int) -> np.ndarray:
        out = np.empty(len(template_ids), dtype=np.float64)
        cache: dict[str, float] = {}
        for i, template in enumerate(template_ids):
            if template not in cache:
                fit = self._fit(template, shape)
                cache[template] = fit.measured.get(size) or float(
                    np.exp(fit.log_a - fit.b * np.log(size)))
            out[i] = cache[template]
        return out
