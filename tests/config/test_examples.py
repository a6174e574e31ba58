"""The shipped examples: valid, resolvable, and the example workload is reproducible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autoslo.config import (
    ExecutionManifest,
    PlottingManifest,
    TuningManifest,
    load_model,
    resolve_execution_config,
)
from autoslo.config.manifests import ConfigFile
from autoslo.datatree import DataTree

REPO = Path(__file__).resolve().parents[2]
TREE = DataTree(REPO / "data")


def test_example_workload_is_reproduced_by_its_script(tmp_path: Path) -> None:
    out = tmp_path / "example"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_example_workload.py"),
                    "--seed", "7", "--out", str(out)], check=True, capture_output=True)
    assert_frame_equal(pl.read_parquet(out / "queries.parquet"),
                       pl.read_parquet(TREE.workload_queries("example")))
    assert (out / "workload.yml").read_text() == TREE.workload_meta("example").read_text()


def test_every_cluster_kind_has_an_example() -> None:
    kinds = set()
    for path in (TREE.root / "execution_configs" / "examples").glob("*.yml"):
        params = {"SLOTS": 2} if path.stem == "mmc" else {}
        config = resolve_execution_config(path, params=params, tree=TREE).config
        kinds |= {c.kind for c in config.pool.clusters}
    assert kinds == {"serverless", "provisioned"}


@pytest.mark.parametrize("kind", ["tuning", "execution", "plotting"])
def test_each_manifest_kind_has_an_example(kind: str) -> None:
    model = {"tuning": TuningManifest, "execution": ExecutionManifest,
             "plotting": PlottingManifest}[kind]
    assert load_model(TREE.manifest(kind, "example"), model)  # type: ignore[arg-type]


def test_plots_only_use_combinations_the_execution_example_produces() -> None:
    execution = load_model(TREE.manifest("execution", "example"), ExecutionManifest)
    plotting = load_model(TREE.manifest("plotting", "example"), PlottingManifest)

    def key(ref: ConfigFile) -> tuple[str, tuple]:
        return ref.path, tuple(sorted(ref.params.items()))

    produced = {(w, key(c)) for w in execution.workloads for c in execution.execution_configs
                if isinstance(c, ConfigFile)}
    assert len(plotting.panels) >= 4
    for panel in plotting.panels:
        for point in panel.points:
            assert (point.workload, key(point.execution_config)) in produced
