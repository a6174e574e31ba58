"""`autoslo execute` on the simulator, and the live-run index that several executes share."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.combinations import manifest_combinations
from autoslo.config import ExecutionManifest, load_model
from autoslo.datatree import DataTree
from autoslo.live.records import RunRecord, newest_run, read_run_index, rebuild_run_index, write_run_record

EXAMPLE = "manifests/execution/example.yml"


def test_execute_writes_one_deterministic_folder_per_combination(data_dir: Path, cli) -> None:
    result = cli("execute", "--manifest", str(data_dir / EXAMPLE))
    assert result.code == 0, result.err
    tree = DataTree(data_dir)
    manifest = load_model(data_dir / EXAMPLE, ExecutionManifest)
    combos = manifest_combinations(manifest, tree)
    assert len(combos) == 3 == len(result.out.splitlines())
    for combo in combos:
        folder = data_dir / "simulator_runs" / combo.workload_id / combo.execution_config_id
        summary = yaml.safe_load((folder / "summary.yml").read_text())
        assert summary["execution_config_id"] == combo.execution_config_id
        assert pl.read_parquet(folder / "queries.parquet").height == summary["queries"] == 2108
    assert "simulated in" in result.out and "reused" not in result.out
    # a complete folder is reused; --force simulates again and gives the same numbers
    before = (combos[0].simulator_dir(tree) / "queries.parquet").stat().st_mtime_ns
    again = cli("execute", "--manifest", str(data_dir / EXAMPLE))
    assert again.out.count("(reused)") == 3
    assert (combos[0].simulator_dir(tree) / "queries.parquet").stat().st_mtime_ns == before
    forced = cli("execute", "--manifest", str(data_dir / EXAMPLE), "--force")
    assert "reused" not in forced.out
    assert [line.split("(")[0] for line in forced.out.splitlines()] == \
        [line.split("(")[0] for line in result.out.splitlines()]


def test_an_incomplete_folder_is_not_reused(data_dir: Path, cli) -> None:
    cli("execute", "--manifest", str(data_dir / EXAMPLE))
    combo = manifest_combinations(load_model(data_dir / EXAMPLE, ExecutionManifest),
                                  DataTree(data_dir))[1]
    (combo.simulator_dir(DataTree(data_dir)) / "clusters.parquet").unlink()
    result = cli("execute", "--manifest", str(data_dir / EXAMPLE))
    assert result.out.count("(reused)") == 2
    assert (combo.simulator_dir(DataTree(data_dir)) / "clusters.parquet").is_file()


@pytest.mark.parametrize(("edit", "message"), [
    ({"workloads": ["workloads/nope"]},
     "workloads[0]: workload folder data/workloads/nope does not exist"),
    ({"execution_configs": [{"path": "execution_configs/examples/nope.yml"}]},
     "execution_configs[0].path: file data/execution_configs/examples/nope.yml does not exist"),
    ({"execution_configs": [{"tuned": "never-ran"}]},
     "tuner run 'never-ran' has not written"),
    ({"live": {"target": "oracle"}}, "live.target"),
])
def test_bad_manifests_name_the_field_and_write_nothing(data_dir: Path, cli, edit: dict,
                                                        message: str) -> None:
    manifest = yaml.safe_load((data_dir / EXAMPLE).read_text())
    manifest.update(edit)
    path = data_dir / "manifests" / "execution" / "bad.yml"
    path.write_text(yaml.safe_dump(manifest))
    result = cli("execute", "--manifest", str(path))
    assert result.code == 2
    assert message in result.err, result.err
    assert "Traceback" not in result.err
    assert not (data_dir / "simulator_runs").exists()


def _claim_and_record(root: str, index: int) -> str:
    tree = DataTree(root)
    stamp, _ = tree.create_run_dir()
    write_run_record(tree, RunRecord(stamp, f"w{index}", "cfg-00000000", "complete", "postgres"))
    rebuild_run_index(tree)
    return stamp


def test_parallel_executes_never_lose_a_row_of_the_index(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        stamps = pool.starmap(_claim_and_record, [(str(tmp_path), i) for i in range(24)])
    assert len(set(stamps)) == 24  # every run got its own timestamp
    records = read_run_index(DataTree(tmp_path))
    assert sorted(r.run_timestamp for r in records) == sorted(stamps)
    assert sorted(r.workload_id for r in records) == sorted(f"w{i}" for i in range(24))


def test_the_index_is_rebuilt_from_the_records(tmp_path: Path) -> None:
    tree = DataTree(tmp_path)
    first = _claim_and_record(str(tmp_path), 1)
    second = _claim_and_record(str(tmp_path), 1)
    tree.runs_map().unlink()  # the index is a cache: the records are the truth
    records = rebuild_run_index(tree)
    assert [r.run_timestamp for r in records] == sorted([first, second])
    assert newest_run(records, "w1", "cfg-00000000").run_timestamp == max(first, second)
    assert newest_run(records, "w2", "cfg-00000000") is None
