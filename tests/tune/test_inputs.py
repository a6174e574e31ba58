"""Resolving a tuning run's inputs: its name, dry runs, and the checks made before any trial."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autoslo.datatree import DataTree
from autoslo.errors import InputError
from autoslo.tune import resolve_inputs
from tests.conftest import snapshot
from tests.tune.helpers import EXEC, tuner_file


def test_dry_run_names_the_run_and_writes_nothing(data_dir: Path, cli) -> None:
    before = snapshot(data_dir)
    first = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--dry-run")
    second = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--dry-run")
    assert first.code == 0, first.err
    assert first.out == second.out and first.err == ""
    name = first.out.splitlines()[0]
    assert name.startswith("serverless-example-")
    assert yaml.safe_load("\n".join(first.out.splitlines()[1:]))["params"] == {"TRIALS": 100}
    other = cli("tune", "--execution-config", EXEC, "--tuner-config",
                "data/tuner_configs/example.yml", "--param", "TRIALS=101", "--dry-run")
    assert other.out.splitlines()[0].startswith("serverless-pool_example-")
    assert snapshot(data_dir) == before


def test_search_space_paths_must_exist(data_dir: Path, cli) -> None:
    tuner_file(data_dir, search_space={"pool.clusters.0.nodes": {"type": "int", "low": 1,
                                                                 "high": 4}})
    result = cli("tune", "--execution-config", EXEC, "--tuner-config",
                 "data/tuner_configs/t.yml", "--dry-run")
    assert result.code == 2
    assert result.err.strip() == (
        "data/tuner_configs/t.yml: search_space: path 'pool.clusters.0.nodes' does not exist in "
        "the execution config (no 'pool.clusters.0.nodes')")


def test_manifest_and_configs_are_exclusive(data_dir: Path, cli) -> None:
    result = cli("tune", "--manifest", "data/manifests/tuning/example.yml", "--execution-config",
                 EXEC)
    assert result.code == 2 and "do not combine" in result.err
    with pytest.raises(InputError, match="--param TRIAL is not used"):
        resolve_inputs(Path(EXEC), data_dir / "tuner_configs/example.yml",
                       {"TRIALS": 3, "TRIAL": 3}, {},
                       DataTree(data_dir))


def test_local_search_share_is_checked(data_dir: Path, cli) -> None:
    path = tuner_file(data_dir, local_search=0.95)
    result = cli("tune", "--execution-config", EXEC, "--tuner-config", str(path), "--dry-run")
    assert result.code == 2
    assert "local_search: must be between 0 and 0.9, got 0.95" in result.err


def test_each_config_file_is_parsed_once_and_resolves_as_the_config_package_does(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autoslo.config import resolve_execution_config
    from autoslo.tune import _inputs

    parsed: list[Path] = []
    real = _inputs.parse_file

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        parsed.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_inputs, "parse_file", counting)
    tree = DataTree(data_dir)
    tuner = data_dir / "tuner_configs" / "example.yml"
    overrides = {"pool.max_clusters": 3}
    inputs = resolve_inputs(Path(EXEC), tuner, {"TRIALS": 5}, overrides, tree)
    assert parsed == [Path(EXEC), tuner]
    expected = resolve_execution_config(Path(EXEC), overrides=overrides, tree=tree)
    assert inputs.resolved == expected and inputs.prices == expected.config.prices
    assert inputs.base["prices"] == "prices/aws-us-east-1.yml"  # as written, not inlined
    assert inputs.base["pool"]["max_clusters"] == 3
