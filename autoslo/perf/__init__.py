"""Latency models: how long a query template runs alone on a cluster of a given kind and size.

One interface, `LatencyModel.predict(template_ids, shape, size)`, serves the simulator (and later
the tuner and the live calibration). Shapes are keys such as ``serverless`` or
``provisioned:ra3.xlplus`` (a config cluster's `shape_key`); sizes are RPUs or nodes.
Implementations: the measured table with a power-law scale-out fit (`TableModel`); the learned
models of the runtime-models issue plug in here.
"""

from __future__ import annotations

from autoslo.perf._interface import LatencyModel
from autoslo.perf._loading import load_latency_model
from autoslo.perf._runtimes import Shape, isolated_runtimes
from autoslo.perf.table import TableModel

__all__ = ["LatencyModel", "Shape", "TableModel", "isolated_runtimes", "load_latency_model"]
