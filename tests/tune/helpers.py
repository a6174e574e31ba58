"""What the tuner tests share: the example execution config and a small tuner config maker."""

from __future__ import annotations

from pathlib import Path

import yaml

EXEC = "data/execution_configs/examples/serverless-pool.yml"


def tuner_file(data_dir: Path, name: str = "t", **changes: object) -> Path:
    """The example tuner config with 12 trials in this process, plus `changes`, as `<name>.yml`."""
    config = yaml.safe_load((data_dir / "tuner_configs" / "example.yml").read_text())
    config.update({"n_trials": 12, "parallelism": {"workers": 1}})
    config.update(changes)
    path = data_dir / "tuner_configs" / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path
