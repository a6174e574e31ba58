"""Feature preparation for the neural model: scale-out features and property vectors.

Every property value becomes a vector of `WIDTH` numbers: element 0 says the value is present,
element 1 whether it is a number. Text: hashed character 1-3-grams (stable CRC32 hashing, l2
normalised). Numbers: log(value + offset) standardised with the pretraining statistics, then a
soft thermometer code of it (sigmoids around fixed centres), which lets a small encoder tell close
values apart and still order them. A missing value is the all-zero vector, in training and serving
alike. Scale-out n becomes [n, 1/n, ln n], min-max scaled by the pretraining range and never
clipped, so sizes outside that range extrapolate; predictions outside the scale-outs a model was
trained or fine-tuned on are flagged.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from autoslo.perf._rows import PROPERTIES

WIDTH = 40
_CENTRES = np.linspace(-3.0, 3.0, WIDTH - 3)
_SPACING = float(_CENTRES[1] - _CENTRES[0])


@dataclass
class Preprocessing:
    """What was fitted on the pretraining rows; saved beside the weights as JSON."""

    numeric: dict[str, tuple[float, float, float]]
    scale_min: list[float]
    scale_max: list[float]
    scale_out_range: tuple[float, float]
    target_mean: float
    target_std: float
    properties: list[str] = field(default_factory=lambda: [p.name for p in PROPERTIES])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """The inverse of `to_dict`."""
        return cls(numeric={k: (float(v[0]), float(v[1]), float(v[2]))
                            for k, v in data["numeric"].items()},
                   scale_min=[float(v) for v in data["scale_min"]],
                   scale_max=[float(v) for v in data["scale_max"]],
                   scale_out_range=(float(data["scale_out_range"][0]),
                                    float(data["scale_out_range"][1])),
                   target_mean=float(data["target_mean"]), target_std=float(data["target_std"]),
                   properties=list(data["properties"]))


def _log(x: np.ndarray | float, offset: float) -> np.ndarray:
    """log(x + offset) for x >= 0 (negative values count as 0)."""
    return np.log(np.maximum(np.asarray(x, dtype=np.float64), 0.0) + offset)


def _raw_scale_features(n: np.ndarray) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    return np.column_stack([n, 1.0 / n, np.log(n)])


def fit_preprocessing(rows: pl.DataFrame) -> Preprocessing:
    """Fit the numeric statistics, scale-out range and target scaling on pretraining rows."""
    numeric = {}
    for prop in PROPERTIES:
        if prop.kind != "number":
            continue
        values = rows[prop.name].drop_nulls().to_numpy()
        positive = values[values > 0]
        offset = float(positive.min() / 2) if len(positive) else 1.0
        logs = _log(values, offset) if len(values) else np.zeros(1)
        numeric[prop.name] = (offset, float(logs.mean()), float(max(logs.std(), 1e-3)))
    raw = _raw_scale_features(rows["scale_out"].to_numpy())
    target = np.log(rows["runtime_s"].to_numpy())
    n = rows["scale_out"].to_numpy()
    return Preprocessing(numeric=numeric, scale_min=raw.min(axis=0).tolist(),
                         scale_max=raw.max(axis=0).tolist(),
                         scale_out_range=(float(n.min()), float(n.max())),
                         target_mean=float(target.mean()), target_std=float(max(target.std(), 1e-3)))


def scale_features(prep: Preprocessing, n: np.ndarray) -> np.ndarray:
    """[n, 1/n, ln n] min-max scaled by the pretraining range, not clipped (float32)."""
    raw = _raw_scale_features(n)
    low = np.array(prep.scale_min)
    span = np.maximum(np.array(prep.scale_max) - low, 1e-9)
    return ((raw - low) / span).astype(np.float32)


def extrapolated(prep: Preprocessing, n: np.ndarray) -> np.ndarray:
    """Whether each scale-out lies outside the pretraining range."""
    n = np.asarray(n, dtype=np.float64)
    return (n < prep.scale_out_range[0]) | (n > prep.scale_out_range[1])


def encode_text(value: str) -> np.ndarray:
    """A present text value: flags then hashed character 1-3-grams, l2 normalised."""
    out = np.zeros(WIDTH, dtype=np.float32)
    out[0] = 1.0
    text = value.lower()
    for size in (1, 2, 3):
        for i in range(len(text) - size + 1):
            out[2 + zlib.crc32(text[i:i + size].encode("utf-8")) % (WIDTH - 2)] += 1.0
    norm = float(np.linalg.norm(out[2:]))
    if norm > 0:
        out[2:] /= norm
    return out


def encode_number(z: float) -> np.ndarray:
    """A present standardised number: flags, the value, and its soft thermometer code."""
    out = np.empty(WIDTH, dtype=np.float32)
    out[0], out[1], out[2] = 1.0, 1.0, z
    out[3:] = 1.0 / (1.0 + np.exp(-(z - _CENTRES) / (_SPACING / 2)))
    return out


def encode_properties(prep: Preprocessing, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Property vectors (rows x properties x WIDTH) and the presence mask (rows x properties)."""
    values = np.zeros((rows.height, len(PROPERTIES), WIDTH), dtype=np.float32)
    mask = np.zeros((rows.height, len(PROPERTIES)), dtype=np.float32)
    for j, prop in enumerate(PROPERTIES):
        column = rows[prop.name].to_list()
        cache: dict[Any, np.ndarray] = {}
        for i, value in enumerate(column):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if value not in cache:
                if prop.kind == "text":
                    cache[value] = encode_text(str(value))
                else:
                    offset, mean, std = prep.numeric[prop.name]
                    cache[value] = encode_number(float((_log(value, offset) - mean) / std))
            values[i, j] = cache[value]
            mask[i, j] = 1.0
    return values, mask
