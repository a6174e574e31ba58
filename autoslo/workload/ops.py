"""TEMP for merge: the old path of `autoslo.workload.operations`, kept only for autoslo/cli.py; the
lead deletes it."""

from autoslo.workload.operations import merge, rescale_time, scale_rate, slice_window  # TEMP for merge

__all__ = ["merge", "rescale_time", "scale_rate", "slice_window"]
