"""`autoslo calibrate` on real local PostgreSQL clusters, and the old `execute --calibrate` spelling."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import snapshot

CONFIG = "data/execution_configs/examples/serverless-pool.yml"
NOTE = "note: `autoslo execute --calibrate` is now `autoslo calibrate` (same options)"
ONE_TEMPLATE = ["--suite", "tpch", "--templates", "q06", "--sizes", "8", "--repeats", "1",
                "--scale-factor", "0.001"]


@pytest.fixture(scope="module")
def live_home() -> Iterator[Path]:
    """A private live home (the TPC-H template is built once for the module); orphans removed after."""
    home = Path(tempfile.mkdtemp(prefix="autoslo-cli-calibrate-", dir="/tmp"))  # postgres must reach it
    os.chmod(home, 0o755)
    previous = os.environ.get("AUTOSLO_LIVE_HOME")
    os.environ["AUTOSLO_LIVE_HOME"] = str(home)
    yield home
    from autoslo.live.postgres import cleanup_orphans

    cleanup_orphans(home)
    if previous is None:
        os.environ.pop("AUTOSLO_LIVE_HOME", None)
    else:
        os.environ["AUTOSLO_LIVE_HOME"] = previous
    shutil.rmtree(home, ignore_errors=True)


def servers_left(home: Path) -> list[Path]:
    return list((home / "clusters").glob("*/*/data"))


def check_model(data_dir: Path, name: str, command: str) -> None:
    """The folder is a table latency model of one repeat of q06 at size 8, recording `command`."""
    folder = data_dir / "models" / name
    table = pl.read_csv(folder / "runtimes.csv")
    assert table["template_id"].to_list() == ["q06"] and table["size"].to_list() == [8]
    assert table["shape"].to_list() == ["serverless"] and table["runtime_s"][0] > 0
    assert yaml.safe_load((folder / "model.yml").read_text())["kind"] == "table"
    calibration = yaml.safe_load((folder / "calibration.yml").read_text())
    assert calibration["source"] == f"{command} --config {CONFIG} --suite tpch"
    assert calibration["sizes"] == [8] and calibration["repeats"] == 1
    assert calibration["capacity"] > 0 and set(calibration["capacity_mean_runtime_s"]) == {1, 2, 4, 8}


@pytest.mark.slow
def test_calibrate_writes_a_table_model_the_simulator_uses(data_dir: Path, cli, live_home: Path) -> None:
    result = cli("calibrate", "--config", CONFIG, *ONE_TEMPLATE, "--out", "cal")
    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].startswith("size 8: q06 ") and lines[0].endswith(" s")
    assert lines[1].startswith("capacity probe q06: 1 at once ")
    assert lines[-1] == ("latency table -> data/models/cal (use it with "
                         "--set latency_model.model=models/cal)")
    check_model(data_dir, "cal", "autoslo calibrate")
    assert servers_left(live_home) == []
    frame = pl.DataFrame({"query_id": [0], "arrival_s": [0.0], "template_id": ["q06"]})
    frame.write_parquet(data_dir / "q06.parquet")
    simulated = cli("simulate", "--workload", str(data_dir / "q06.parquet"), "--config", CONFIG,
                    "--set", "latency_model.model=models/cal", "--out", str(data_dir / "sim"))
    assert simulated.code == 0, simulated.err
    isolated = pl.read_parquet(data_dir / "sim" / "queries.parquet")["isolated_s"].to_list()
    runtime = pl.read_csv(data_dir / "models" / "cal" / "runtimes.csv")["runtime_s"][0]
    assert isolated == pytest.approx([runtime])


@pytest.mark.slow
def test_execute_calibrate_still_works_and_names_the_new_command(data_dir: Path, cli,
                                                                 live_home: Path) -> None:
    result = cli("execute", "--calibrate", "--config", CONFIG, *ONE_TEMPLATE, "--out", "old")
    assert result.code == 0, result.err
    assert result.err.splitlines() == [NOTE]
    assert result.out.splitlines()[-1] == ("latency table -> data/models/old (use it with "
                                           "--set latency_model.model=models/old)")
    check_model(data_dir, "old", "autoslo calibrate")
    assert servers_left(live_home) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--templates", "q99"], "--templates: template 'q99' has no SQL in suite 'tpch'"),
    (["--sizes", "eight"], "--sizes takes comma-separated integers, got 'eight'"),
    (["--sizes", "8,0"], "--sizes takes positive integers, got '8,0'"),
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
])
def test_bad_calibrate_requests_exit_2_and_write_nothing(data_dir: Path, cli, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         args: list[str], message: str) -> None:
    monkeypatch.setenv("AUTOSLO_LIVE_HOME", str(tmp_path / "live"))
    before = snapshot(data_dir)
    for command in (["calibrate"], ["execute", "--calibrate"]):
        result = cli(*command, "--config", CONFIG, "--suite", "tpch", "--scale-factor", "0.001", *args)
        assert result.code == 2
        assert message in result.err, result.err
        assert "Traceback" not in result.err
        assert (NOTE in result.err) == (command[0] == "execute")
    assert snapshot(data_dir) == before
    assert not (tmp_path / "live").exists()  # nothing was started


def test_calibrate_needs_config_and_suite(data_dir: Path, cli) -> None:
    result = cli("calibrate", "--config", CONFIG)
    assert result.code == 2 and "Missing option '--suite'" in result.err
    result = cli("execute", "--calibrate", "--suite", "tpch")
    assert result.code == 2
    assert "--calibrate takes --config and --suite (and no --manifest)" in result.err
    result = cli("execute")
    assert result.code == 2 and "--manifest is required (or `autoslo calibrate` to calibrate)" in result.err
