"""The latency-model interface, indexed by shape key (`ClusterShape.shape_key`) and size."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class LatencyModel(ABC):
    """Predicts isolated runtimes (seconds) of templates on a cluster shape and size."""

    name: str = "model"

    @abstractmethod
    def predict(self, template_ids: Sequence[str], shape: str, size: int) -> np.ndarray:
        """Isolated runtime in seconds for each template id, on `size` units of `shape`."""

    @abstractmethod
    def predict_interval(self, template_ids: Sequence[str], shape: str,
                         size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(predicted, lower, upper) runtimes in seconds: the prediction and its uncertainty band."""

    @abstractmethod
    def known_templates(self) -> set[str]:
        """Templates this model can predict."""
