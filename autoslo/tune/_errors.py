"""The tuner's own errors, all under the one AutosloError base (exit code 2, one line each)."""

from __future__ import annotations

from autoslo.errors import AutosloError, InputError


class TuningError(AutosloError):
    """A tuning run cannot finish; the message names the run, trial or scenario and the cause."""


class SamplerUnavailableError(TuningError):
    """The configured sampler needs a Python package that is not installed."""


class ScenarioError(InputError):
    """A scenario workload lacks what the tuner needs (e.g. its workload.yml record)."""


class NoValidTrialError(InputError):
    """No trial of the run produced a config the execution config model accepts."""


class ValidationScoringError(TuningError):
    """A candidate (or the initial config) could not be scored on the validation scenarios."""
