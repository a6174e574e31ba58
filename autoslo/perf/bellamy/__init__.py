"""The Bellamy-style neural runtime model (re-implemented from the paper's description).

Pretrain on many contexts (`pretrain`, a Ray Tune + Optuna search), fine-tune the head on a few
runs of a new context (`finetune_model`), predict with an uncertainty band (`BellamyModel`), and
serve the simulator by template id (`BellamyLatencyModel`). Fixes over the prototype: log-runtime
targets (positive predictions), missing optional properties encoded the same way in training and
serving, scale-out features that extrapolate and are flagged.
"""

from __future__ import annotations

from autoslo.perf.bellamy._model import (
    FORMAT_VERSION,
    BellamyLatencyModel,
    BellamyModel,
    load_bellamy,
)
from autoslo.perf.bellamy._pretrain import (
    DEFAULT_SEARCH,
    finetune_model,
    fit_fixed,
    pretrain,
    pretrain_to_folder,
    split_configurations,
)
from autoslo.perf.bellamy._train import TrainConfig

__all__ = ["DEFAULT_SEARCH", "FORMAT_VERSION", "BellamyLatencyModel", "BellamyModel", "TrainConfig",
           "finetune_model", "fit_fixed", "load_bellamy", "pretrain", "pretrain_to_folder",
           "split_configurations"]
