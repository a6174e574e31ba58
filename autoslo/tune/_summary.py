"""TuningSummary: the frozen record of a finished tuning run (what `summary.yml` holds).

The command line and the flows read it by attribute; a reused run reads it back from the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from autoslo.atomic import write_text
from autoslo.datatree import display_path
from autoslo.tune._errors import TuningError


@dataclass(frozen=True)
class ConfigScore:
    """A config's aggregate scores on the validation scenarios."""

    cost_usd: float
    violation: float
    feasible: bool


@dataclass(frozen=True)
class TuningSummary:
    """What a tuning run found, in `summary.yml`'s order; `tuned_config` is data-relative."""

    status: str
    tuner_run_name: str
    tuned_config: str
    trials: int
    feasible_trials: int
    invalid_trials: int
    pruned_trials: int
    best_trial: int
    validation: ConfigScore          # the tuned config
    initial_validation: ConfigScore  # the initial config, for comparison
    saving_vs_initial: float
    train_scenarios: int
    validation_scenarios: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data, keys in file order."""
        return asdict(self)

    def write(self, path: Path) -> None:
        """Write `summary.yml` (atomically: a run without it is unfinished)."""
        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def read(cls, path: Path) -> TuningSummary:
        """A finished run's summary, read back from its `summary.yml`."""
        data = yaml.safe_load(path.read_text())
        names = [f.name for f in dataclasses.fields(cls)]
        try:
            if not isinstance(data, dict) or sorted(data) != sorted(names):
                raise TypeError
            scores = {key: ConfigScore(**data[key]) for key in ("validation", "initial_validation")}
        except TypeError:
            raise TuningError(f"{display_path(path)}: not a tuning summary this version can read "
                              f"(expected the keys {', '.join(names)}); pass --force to run it "
                              "again") from None
        return cls(**{**data, **scores})
