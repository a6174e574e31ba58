"""TEMP for merge: the old path of `autoslo.sim.folders`, kept only for autoslo/cli.py; the lead
deletes it."""

from autoslo.sim.folders import SimulatorOutcome, simulate_all  # TEMP for merge

__all__ = ["SimulatorOutcome", "simulate_all"]
