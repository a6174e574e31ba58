"""TEMP for merge: the old path of `autoslo.live.records`, kept only for autoslo/compare.py and
tests/test_live.py; the lead deletes it."""

from autoslo.live.records import RUN_RECORD, read_run_index, read_run_record  # TEMP for merge

__all__ = ["RUN_RECORD", "read_run_index", "read_run_record"]
