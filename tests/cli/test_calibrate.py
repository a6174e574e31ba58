"""`autoslo calibrate` on real local PostgreSQL clusters (the latency table and the contention model
fitted on its concurrent replay), and the old `execute --calibrate` spelling."""

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
SMALL_FIT = ["--replay-queries", "30", "--trials", "20", "--bootstrap", "2"]


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


def check_model(data_dir: Path, name: str, command: str, replayed: int) -> None:
    """The folder is a table latency model of one repeat of q06 at size 8, recording `command`,
    with the contention model fitted on a replay of `replayed` queries beside it."""
    folder = data_dir / "models" / name
    table = pl.read_csv(folder / "runtimes.csv")
    assert table["template_id"].to_list() == ["q06"] and table["size"].to_list() == [8]
    assert table["shape"].to_list() == ["serverless"] and table["runtime_s"][0] > 0
    assert yaml.safe_load((folder / "model.yml").read_text())["kind"] == "table"
    calibration = yaml.safe_load((folder / "calibration.yml").read_text())
    assert calibration["source"] == f"{command} --config {CONFIG} --suite tpch"
    assert calibration["sizes"] == [8] and calibration["repeats"] == 1
    assert set(calibration["capacity_mean_runtime_s"]) == {1, 2, 4, 8}
    assert 0 < calibration["capacity"] <= (os.cpu_count() or 1)
    assert calibration["target"] == "postgres" and calibration["failed_templates"] == {}
    assert calibration["replay"]["templates"] == {"q06": replayed}
    assert calibration["contention"]["model"] == f"models/{name}-contention"
    from autoslo.perf.contention import load_contention_model

    model = load_contention_model(data_dir / "models" / f"{name}-contention")
    assert model.fit["queries_scored"] == replayed and model.law.capacity <= (os.cpu_count() or 1)
    assert calibration["capacity"] == pytest.approx(model.fit["processor_sharing"]["capacity"], abs=1e-6)


def use_lines(name: str) -> list[str]:
    return [f"latency table -> data/models/{name} (use it with --set latency_model.model=models/{name})",
            f"contention model -> data/models/{name}-contention (use it with --set 'contention="
            f"{{model: fitted, path: models/{name}-contention}}', or in the config: `contention: "
            f"{{model: fitted, path: models/{name}-contention}}`)"]


@pytest.mark.slow
def test_calibrate_writes_a_table_model_the_simulator_uses(data_dir: Path, cli, live_home: Path) -> None:
    result = cli("calibrate", "--config", CONFIG, *ONE_TEMPLATE, *SMALL_FIT, "--out", "cal")
    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].startswith("size 8: q06 ") and lines[0].endswith(" s")
    assert lines[1].startswith("capacity probe q06: 1 at once ")
    assert lines[2].startswith("replay: 30 queries over 1 templates at ")
    assert lines[3].startswith("fitted on 30 queries: mean |log error| ")
    assert lines[5].startswith("contention: capacity ")
    assert lines[6].startswith("bootstrap spread over 2 refits (p5..p95): capacity ")
    assert [lines[4], lines[7]] == use_lines("cal") and len(lines) == 8
    check_model(data_dir, "cal", "autoslo calibrate", 30)
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
    assert use_lines("old")[0] in result.out.splitlines()
    assert result.out.splitlines()[-1] == use_lines("old")[1]
    check_model(data_dir, "old", "autoslo calibrate", 200)  # the replay's default size
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


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout-s", "0"], "--timeout-s must be > 0, got 0"),
    (["--replay-queries", "5"], "--replay-queries must be >= 20 (a fit needs queries that overlap), got 5"),
    (["--load", "0"], "--load must be in (0, 4] (offered load / capacity guess), got 0"),
    (["--trials", "3"], "--trials must be >= 10 and --bootstrap >= 0, got 3 and 20"),
    (["--target", "redshift"], "Invalid value for '--target'"),
])
def test_bad_replay_and_fit_options_exit_2_and_write_nothing(data_dir: Path, cli, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             args: list[str], message: str) -> None:
    monkeypatch.setenv("AUTOSLO_LIVE_HOME", str(tmp_path / "live"))
    before = snapshot(data_dir)
    result = cli("calibrate", "--config", CONFIG, *ONE_TEMPLATE, *args)
    assert result.code == 2
    assert message in result.err, result.err
    assert "Traceback" not in result.err
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
