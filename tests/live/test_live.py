"""Live replay on real local PostgreSQL clusters: timing, WLM, policies, faults and teardown."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.config import WorkloadMeta
from autoslo.config.workload import WorkloadSource
from autoslo.datatree import DataTree
from autoslo.live.postgres import PostgresDriver, free_port
from autoslo.live.records import read_run_index
from autoslo.live.target import Endpoint, TargetError
from autoslo.workload import save_workload

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
RAY = re.compile(r"raylet|gcs_server|ray::|/ray/")  # Ray's processes, by command line


@pytest.fixture(scope="module")
def live_home() -> Iterator[Path]:
    """One live home (TPC-H template built once) for the module's runs."""
    home = Path(tempfile.mkdtemp(prefix="autoslo-live-test-", dir="/tmp"))  # postgres must reach it
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


def make_workload(root: Path, name: str, rows: list[tuple[float, str]]) -> None:
    """A workload whose queries carry their own SQL text (arrival_s, sql)."""
    frame = pl.DataFrame({"query_id": list(range(len(rows))),
                          "arrival_s": [float(a) for a, _ in rows],
                          "template_id": [f"t{i}" for i in range(len(rows))],
                          "sql": [sql for _, sql in rows]})
    meta = WorkloadMeta(name=name, start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                        queries=len(rows), source=WorkloadSource(kind="generated"))
    save_workload(DataTree(root), frame, meta)


def make_manifest(root: Path, name: str, workload: str, config: dict) -> Path:
    config_path = root / "execution_configs" / "live" / f"{name}.yml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump({**config, "prices": "prices/aws-us-east-1.yml"}))
    manifest = root / "manifests" / "execution" / f"{name}.yml"
    manifest.write_text(yaml.safe_dump({
        "workloads": [f"workloads/{workload}"],
        "execution_configs": [{"path": f"execution_configs/live/{name}.yml"}],
        "live": {"scale_factor": 0.001}}))
    return manifest


def serverless(max_concurrency: int, **extra: object) -> dict:
    return {"kind": "serverless", "rpu": 8, "max_concurrency": max_concurrency, **extra}


def only_run(root: Path) -> tuple[Path, dict, pl.DataFrame]:
    runs = [p for p in (root / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    record = yaml.safe_load((runs[0] / "run.yml").read_text())
    return runs[0], record, pl.read_parquet(runs[0] / "queries.parquet").sort("query_id")


def servers_left(home: Path) -> list[Path]:
    return list((home / "clusters").glob("*/*/data"))


def test_live_replay_is_open_loop_enforces_wlm_and_records_faults(
        data_dir: Path, cli, live_home: Path) -> None:
    make_workload(data_dir, "faults", [
        (0.0, "select pg_sleep(0.4)"), (0.0, "select pg_sleep(0.4)"), (0.0, "select pg_sleep(0.4)"),
        (1.5, "selec oops"), (1.6, "select pg_sleep(3)"), (3.0, "select count(*) from lineitem"),
        (3.5, "select pg_terminate_backend(pg_backend_pid())"),  # drops its own connection
        (4.0, "select 1"),
    ])
    manifest = make_manifest(data_dir, "one-slot", "faults", {
        "pool": {"clusters": [serverless(1, max_query_execution_time=1)]}})
    result = cli("execute", "--manifest", str(manifest), "--live")
    assert result.code == 0, result.err
    assert "complete: 8 queries on 1 cluster(s)" in result.out
    folder, record, queries = only_run(data_dir)
    assert record["status"] == "complete" and record["target"] == "postgres"
    assert queries["status"].to_list() == ["ok", "ok", "ok", "failed", "timeout", "ok", "failed",
                                           "ok"]
    # one slot: the three sleeps run one after another, the queue is the client's
    queue = queries["queue_s"].to_list()
    assert queue[0] < 0.1 and 0.35 < queue[1] < 0.8 and 0.75 < queue[2] < 1.5
    # open loop: later queries start at their arrival offsets, not after the earlier ones
    assert queries["start_s"][5] == pytest.approx(3.0, abs=0.2)
    assert queries["latency_s"][4] == pytest.approx(1.0, abs=0.5)  # the 1 s timeout cut it
    errors = pl.read_parquet(folder / "errors.parquet")
    assert errors.filter(pl.col("query_id") == 3)["error"][0].startswith("syntax error")
    # a dropped connection is retried once on a new one, then recorded; the run goes on
    dropped = errors.filter(pl.col("query_id") == 6)["error"][0]
    assert dropped.endswith("(after one retry on a new connection)"), dropped
    index = read_run_index(DataTree(data_dir))
    assert [r.run_timestamp for r in index] == [folder.name]
    assert index[0].status == "complete"
    assert servers_left(live_home) == []


def test_autoscaler_and_scheduled_spin_ups_run_live(data_dir: Path, cli, live_home: Path) -> None:
    # local servers take a second or two to start (more on a busy machine): arrivals go on for 4 s
    make_workload(data_dir, "burst", [(0.2 * i, "select pg_sleep(0.6)") for i in range(20)])
    manifest = make_manifest(data_dir, "elastic", "burst", {
        "pool": {"clusters": [serverless(1)], "spin_up_delay_s": 0.5, "max_clusters": 3},
        "router": {"policy": "least_loaded"},
        "autoscaler": {"policy": "reactive", "threshold": 2, "window_s": 0.3,
                       "cluster": serverless(2), "min_lifetime_s": 0, "idle_teardown_s": 0.5},
        "scheduled_spin_ups": [{"at_s": 0.2, "cluster": serverless(2), "lifetime_s": 1.5}],
    })
    result = cli("execute", "--manifest", str(manifest), "--live")
    assert result.code == 0, result.err
    folder, _, queries = only_run(data_dir)
    clusters = pl.read_parquet(folder / "clusters.parquet")
    assert set(clusters["origin"]) >= {"initial", "autoscaler", "scheduled"}
    added = clusters.filter(pl.col("origin") != "initial")
    # requested clusters wait out spin_up_delay_s and then take queries
    assert ((added["ready_s"] - added["requested_s"]) >= 0.5).all()
    assert queries.filter(pl.col("cluster_id") > 0).height > 0
    scheduled = clusters.filter(pl.col("origin") == "scheduled")
    assert (scheduled["removed_s"] <= scheduled["ready_s"] + 1.5 + 2.0).all()  # drained
    assert (queries["status"] == "ok").all()
    assert servers_left(live_home) == []


def _ok_rows_checkpointed(data_dir: Path) -> int:
    """How many queries finished ok in the tables the live run checkpointed so far. The file is
    read into memory in one go: polars opens a path more than once (metadata, then pages), and a
    checkpoint renamed in between would pair one file's footer with the next one's pages."""
    tables = list((data_dir / "runs").glob("*/queries.parquet"))
    if not tables:
        return 0
    try:
        frame = pl.read_parquet(io.BytesIO(tables[0].read_bytes()))
    except FileNotFoundError:  # between the glob and the read, only if the run folder went away
        return 0
    return frame.filter(pl.col("status") == "ok").height


def _tagged_processes(tag: str) -> dict[int, str]:
    """Every process (pid: command line) whose environment carries AUTOSLO_TEST_TAG=tag: the
    command started with that tag and everything it started, however reparented."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"AUTOSLO_TEST_TAG={tag}".encode() in \
                    (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def _start_live_run(data_dir: Path, live_home: Path, name: str,
                    tag: str = "") -> subprocess.Popen:
    """`autoslo execute --live` in a subprocess (60 sleeps over 30 s on one 2-slot cluster),
    returned once its checkpointed tables show two queries done."""
    make_workload(data_dir, name, [(0.5 * i, "select pg_sleep(0.3)") for i in range(60)])
    manifest = make_manifest(data_dir, name, name, {"pool": {"clusters": [serverless(2)]}})
    env = {**os.environ, "AUTOSLO_DATA_DIR": str(data_dir), "AUTOSLO_LIVE_HOME": str(live_home),
           "AUTOSLO_TEST_TAG": tag}
    process = subprocess.Popen([sys.executable, "-m", "autoslo.cli", "execute", "--manifest",
                                str(manifest), "--live"], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _ok_rows_checkpointed(data_dir) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
    except BaseException:  # stop what this started, so one failure does not leave servers behind
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)
        raise
    return process


def test_sigterm_keeps_results_marks_the_run_incomplete_and_tears_down(
        data_dir: Path, live_home: Path) -> None:
    from autoslo.config import SloSpec
    from autoslo.results import References, RunSource, per_run

    process = _start_live_run(data_dir, live_home, "stopped")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    folder, record, queries = only_run(data_dir)
    assert record["status"] == "incomplete"
    statuses = queries["status"].value_counts()
    counts = dict(zip(statuses["status"].cast(str), statuses["count"], strict=True))
    assert counts.get("ok", 0) >= 2 and counts.get("aborted", 0) >= 40
    # an aborted query has no end and no latency; one never started has no start either
    aborted = queries.filter(pl.col("status") == "aborted")
    assert aborted["latency_s"].null_count() == aborted.height == aborted["end_s"].null_count()
    assert aborted["start_s"].null_count() >= 30  # queued or not yet arrived at the stop
    assert queries.filter(pl.col("status") == "ok")["latency_s"].null_count() == 0
    summary = yaml.safe_load((folder / "summary.yml").read_text())
    assert summary["complete"] is False
    # summary.yml, the command's line and compare's table agree: the unfinished majority
    # makes the median infinite (it was 0.000 s when aborted queries had zero latency)
    spec = SloSpec.model_validate({"tau": 0.1, "default": {"latency_s": 5}})
    table = per_run([RunSource(folder.name, folder, "live")], spec, References(DataTree(data_dir)))
    assert summary["latency_s"]["p50"] == table["p50_s"][0] == float("inf")
    assert summary["latency_s"]["p99"] == table["p99_s"][0]
    assert "latency p50 inf s" in out.decode()
    assert read_run_index(DataTree(data_dir))[0].status == "incomplete"
    assert servers_left(live_home) == []


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_after_sigkill_cleanup_marks_the_run_incomplete_keeping_its_rows(
        data_dir: Path, cli, live_home: Path) -> None:
    tag = f"sigkill-{os.getpid()}-{time.monotonic_ns()}"
    process = _start_live_run(data_dir, live_home, "killed", tag)
    pid_file = next((live_home / "clusters").glob("*/c0/data/postmaster.pid"))
    port = int(pid_file.read_text().splitlines()[3])
    tree = _tagged_processes(tag)
    assert process.pid in tree
    assert not [c for c in tree.values() if RAY.search(c)], tree  # a live run starts no Ray
    process.kill()
    process.wait(timeout=30)
    ok_before = _ok_rows_checkpointed(data_dir)
    (folder,) = [p for p in (data_dir / "runs").iterdir() if p.is_dir()]
    assert yaml.safe_load((folder / "run.yml").read_text())["status"] == "running"
    assert servers_left(live_home) and _accepts(port)  # the orphan is still serving
    result = cli("live", "cleanup")
    assert result.code == 0, result.err
    assert f"marked 1 killed run(s) incomplete\n  {folder.name} (killed / " in result.out
    assert "removed 1 orphaned local cluster(s)" in result.out
    assert servers_left(live_home) == [] and not _accepts(port)
    assert yaml.safe_load((folder / "run.yml").read_text())["status"] == "incomplete"
    assert [(r.run_timestamp, r.status) for r in read_run_index(DataTree(data_dir))] == \
        [(folder.name, "incomplete")]
    # what it recorded before the kill is kept: its last checkpoint of the tables
    queries = pl.read_parquet(folder / "queries.parquet")
    assert queries.height == 60 and ok_before >= 2
    assert queries.filter(pl.col("status") == "ok").height == ok_before
    assert set(queries["status"]) == {"ok", "aborted"}
    assert queries.filter(pl.col("status") == "aborted")["latency_s"].null_count() == 60 - ok_before
    assert yaml.safe_load((folder / "summary.yml").read_text())["complete"] is False
    deadline = time.monotonic() + 10  # nothing the killed command started outlives cleanup
    while _tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _tagged_processes(tag) == {}
    again = cli("live", "cleanup")
    assert "marked 0 killed run(s) incomplete" in again.out


def test_the_next_live_run_marks_a_killed_run_incomplete(data_dir: Path, cli,
                                                         live_home: Path) -> None:
    from autoslo.live.records import RunRecord, hold_run_lock, write_run_record

    tree = DataTree(data_dir)
    dead = "20261122T010000000Z"
    tree.run_dir(dead).mkdir(parents=True)
    hold_run_lock(tree.run_dir(dead)).close()  # its process is gone
    write_run_record(tree, RunRecord(dead, "old", "old-cfg-0000", "running", "postgres"))
    make_workload(data_dir, "after", [(0.0, "select 1")])
    manifest = make_manifest(data_dir, "after", "after", {"pool": {"clusters": [serverless(1)]}})
    result = cli("execute", "--manifest", str(manifest), "--live")
    assert result.code == 0, result.err
    index = read_run_index(tree)
    assert [(r.workload_id, r.status) for r in index] == [("old", "incomplete"),
                                                          ("after", "complete")]
    assert yaml.safe_load((tree.run_dir(dead) / "run.yml").read_text())["status"] == "incomplete"


def test_an_unreachable_target_names_host_and_port() -> None:
    port = free_port()
    with pytest.raises(TargetError, match=f"cannot connect to PostgreSQL at 127.0.0.1:{port}"):
        PostgresDriver().connect(Endpoint("c0", "127.0.0.1", port, "postgres", "postgres"))


def test_a_workload_without_sql_needs_a_suite(data_dir: Path, cli) -> None:
    frame = pl.DataFrame({"query_id": [0], "arrival_s": [0.0], "template_id": ["q06"]})
    meta = WorkloadMeta(name="nosql", start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), queries=1,
                        source=WorkloadSource(kind="imported"))
    save_workload(DataTree(data_dir), frame, meta)
    manifest = make_manifest(data_dir, "nosql", "nosql", {"pool": {"clusters": [serverless(1)]}})
    result = cli("execute", "--manifest", str(manifest), "--live")
    assert result.code == 2
    assert "has no sql column and names no template suite; set live.suite" in result.err
    assert not (data_dir / "runs").exists()


def test_calibration_writes_a_latency_table_the_simulator_uses(data_dir: Path, cli,
                                                              live_home: Path) -> None:
    config = "data/execution_configs/examples/serverless-pool.yml"
    result = cli("execute", "--calibrate", "--config", config, "--suite", "tpch", "--templates",
                 "q06,q14", "--sizes", "8,16", "--repeats", "2", "--scale-factor", "0.001",
                 "--out", "local-tpch")
    assert result.code == 0, result.err
    folder = data_dir / "models" / "local-tpch"
    table = pl.read_csv(folder / "runtimes.csv")
    assert table.height == 2 * 2 * 2 and set(table["size"]) == {8, 16}
    assert (table["runtime_s"] > 0).all() and set(table["shape"]) == {"serverless"}
    calibration = yaml.safe_load((folder / "calibration.yml").read_text())
    assert calibration["capacity"] > 0 and calibration["failed_templates"] == {}
    assert set(calibration["capacity_mean_runtime_s"]) == {1, 2, 4, 8}
    assert servers_left(live_home) == []
    frame = pl.DataFrame({"query_id": [0, 1, 2], "arrival_s": [0.0, 0.5, 1.0],
                          "template_id": ["q06", "q14", "q06"]})
    workload = data_dir / "two-templates.parquet"
    frame.write_parquet(workload)
    simulated = cli("simulate", "--workload", str(workload), "--config", config, "--set",
                    "latency_model.model=models/local-tpch", "--out", str(data_dir / "sim"))
    assert simulated.code == 0, simulated.err
    isolated = pl.read_parquet(data_dir / "sim" / "queries.parquet")["isolated_s"].to_list()
    means = table.filter(pl.col("size") == 8).group_by("template_id").agg(pl.col("runtime_s").mean())
    expected = dict(zip(means["template_id"], means["runtime_s"], strict=True))
    assert isolated == pytest.approx([expected["q06"], expected["q14"], expected["q06"]])


@pytest.mark.parametrize(("args", "message"), [
    (["--templates", "q99"], "--templates: template 'q99' has no SQL in suite 'tpch'"),
    (["--sizes", "eight"], "--sizes takes comma-separated integers, got 'eight'"),
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
])
def test_bad_calibration_requests_exit_2(data_dir: Path, cli, live_home: Path, args: list[str],
                                         message: str) -> None:
    result = cli("execute", "--calibrate", "--config",
                 "data/execution_configs/examples/serverless-pool.yml", "--suite", "tpch",
                 "--scale-factor", "0.001", *args)
    assert result.code == 2
    assert message in result.err, result.err
    assert not (data_dir / "models" / "calibrated-tpch").exists()
