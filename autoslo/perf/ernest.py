"""Ernest: runtime = theta . [1, 1/n, log n, n] with theta >= 0, fitted per context by
non-negative least squares (Venkataraman et al., NSDI 2016) -- the classic scale-out baseline.

`ErnestFits` fits one curve per context of runtime rows; `ErnestModel` is the latency model the
simulator uses (one curve per template and shape, from a calibration table: folder ``model.yml``
with ``kind: ernest`` plus ``runtimes.csv``, the calibration-table format). The uncertainty band
comes from the pooled relative residuals of the fits.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import polars as pl
from scipy.optimize import nnls

from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel

FORMAT_VERSION = 1  # the folder format (model.yml + runtimes.csv)
MIN_BAND = 0.02  # the narrowest relative band reported, even for a perfect fit


def features(n: np.ndarray) -> np.ndarray:
    """Ernest's scale-out features [1, 1/n, log n, n] (one row per scale-out)."""
    n = np.asarray(n, dtype=np.float64)
    return np.column_stack([np.ones_like(n), 1.0 / n, np.log(n), n])


def fit(n: np.ndarray, runtime: np.ndarray) -> np.ndarray:
    """Non-negative least-squares coefficients for one context."""
    theta, _ = nnls(features(n), np.asarray(runtime, dtype=np.float64))
    return theta


class ErnestFits:
    """One Ernest curve per key (a context or a (template, shape) pair)."""

    def __init__(self, keys: Sequence[Hashable], n: np.ndarray, runtime: np.ndarray) -> None:
        self.theta: dict[Hashable, np.ndarray] = {}
        self.sizes: dict[Hashable, tuple[float, float]] = {}
        n = np.asarray(n, dtype=np.float64)
        runtime = np.asarray(runtime, dtype=np.float64)
        groups: dict[Hashable, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        residuals = []
        for key, rows in groups.items():
            self.theta[key] = fit(n[rows], runtime[rows])
            self.sizes[key] = (float(n[rows].min()), float(n[rows].max()))
            predicted = np.maximum(features(n[rows]) @ self.theta[key], 1e-9)
            residuals.append(np.log(runtime[rows] / predicted))
        pooled = np.concatenate(residuals) if residuals else np.zeros(1)
        self.band = (min(float(np.quantile(pooled, 0.05)), -MIN_BAND),
                     max(float(np.quantile(pooled, 0.95)), MIN_BAND))

    def predict(self, keys: Sequence[Hashable], n: np.ndarray) -> np.ndarray:
        """Predicted runtimes (seconds, at least 1e-9) for each (key, scale-out)."""
        n = np.asarray(n, dtype=np.float64)
        thetas = np.stack([self.theta[k] for k in keys]) if len(keys) else np.zeros((0, 4))
        return np.maximum(np.einsum("ij,ij->i", features(n), thetas), 1e-9)

    def interval(self, keys: Sequence[Hashable], n: np.ndarray) -> tuple[np.ndarray, ...]:
        """(predicted, lower, upper, extrapolated) for each (key, scale-out)."""
        predicted = self.predict(keys, n)
        outside = np.array([not self.sizes[k][0] <= x <= self.sizes[k][1]
                            for k, x in zip(keys, np.asarray(n, dtype=float), strict=True)], bool)
        return (predicted, predicted * np.exp(self.band[0]), predicted * np.exp(self.band[1]),
                outside)


class ErnestModel(LatencyModel):
    """Ernest curves per (template, shape) from a calibration table, for the simulator."""

    def __init__(self, table: pl.DataFrame, name: str = "ernest", source: str = "table") -> None:
        missing = {"template_id", "shape", "size", "runtime_s"} - set(table.columns)
        if missing:
            raise InputError(f"missing column(s) {', '.join(sorted(missing))}", source=source)
        if table.height == 0:
            raise InputError("the latency table is empty", source=source)
        runtime = table["runtime_s"].cast(pl.Float64).to_numpy()
        size = table["size"].cast(pl.Float64).to_numpy()
        if not (np.isfinite(runtime).all() and (runtime > 0).all()):
            raise InputError("runtime_s: must be > 0 and finite in every row", source=source)
        if not (np.isfinite(size).all() and (size > 0).all()):
            raise InputError("size: must be > 0 in every row", source=source)
        self.name = name
        keys = list(zip(table["template_id"].cast(pl.String).to_list(),
                        table["shape"].cast(pl.String).to_list(), strict=True))
        self.fits = ErnestFits(keys, size, runtime)

    def known_templates(self) -> set[str]:
        return {template for template, _ in self.fits.theta}

    def _keys(self, template_ids: Sequence[str], shape: str) -> list[tuple[str, str]]:
        keys = [(t, shape) for t in template_ids]
        for key in keys:
            if key not in self.fits.theta:
                raise InputError(f"latency model {self.name!r} has no entry for template "
                                 f"{key[0]!r} on {shape}")
        return keys

    def predict(self, template_ids: Sequence[str], shape: str, size: int) -> np.ndarray:
        keys = self._keys(template_ids, shape)
        return self.fits.predict(keys, np.full(len(keys), float(size)))

    def predict_interval(self, template_ids: Sequence[str], shape: str,
                         size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keys = self._keys(template_ids, shape)
        predicted, lower, upper, _ = self.fits.interval(keys, np.full(len(keys), float(size)))
        return predicted, lower, upper
