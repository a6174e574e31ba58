"""Live replay on the embedded DuckDB target: end to end, concurrency, timeouts and bad input."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.config import WorkloadMeta
from autoslo.config.execution import ProvisionedCluster, ServerlessCluster
from autoslo.config.workload import WorkloadSource
from autoslo.datatree import DataTree
from autoslo.workload import save_workload

pytestmark = pytest.mark.slow
RESULT_COLUMNS = ["query_id", "template_id", "arrival_s", "start_s", "end_s", "queue_s", "latency_s",
                  "cluster_id", "status"]
BUSY_SQL = "select sum((i * i) % 7) from range({n}) t(i)"  # CPU-bound, no data needed


@pytest.fixture
def live_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "live"
    monkeypatch.setenv("AUTOSLO_LIVE_HOME", str(home))
    return home


def save(root: Path, name: str, arrivals: list[float], templates: list[str],
         sql: list[str] | None = None) -> None:
    columns = {"query_id": list(range(len(arrivals))), "arrival_s": arrivals, "template_id": templates}
    if sql is not None:
        columns["sql"] = sql
    meta = WorkloadMeta(name=name, start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), queries=len(arrivals),
                        source=WorkloadSource(kind="generated", details={"suite": "tpch"}))
    save_workload(DataTree(root), pl.DataFrame(columns), meta)


def manifest(root: Path, name: str, workload: str, clusters: list[dict], live: dict) -> Path:
    config = root / "execution_configs" / "live" / f"{name}.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({"pool": {"clusters": clusters},
                                      "prices": "prices/aws-us-east-1.yml"}))
    path = root / "manifests" / "execution" / f"{name}.yml"
    path.write_text(yaml.safe_dump({"workloads": [f"workloads/{workload}"],
                                    "execution_configs": [{"path": f"execution_configs/live/{name}.yml"}],
                                    "live": live}))
    return path


def only_run(root: Path) -> tuple[Path, dict, pl.DataFrame]:
    runs = [p for p in (root / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    record = yaml.safe_load((runs[0] / "run.yml").read_text())
    return runs[0], record, pl.read_parquet(runs[0] / "queries.parquet").sort("query_id")


def test_tpch_replay_end_to_end(data_dir: Path, cli, live_home: Path) -> None:
    templates = ["q01", "q06", "q03", "q18", "q09", "q13", "q14", "q05", "q10", "q21", "q12", "q19"]
    save(data_dir, "tpch-small", [0.1 * i for i in range(len(templates))], templates)
    path = manifest(data_dir, "duck", "tpch-small",
                    [{"kind": "serverless", "rpu": 8, "max_concurrency": 3},
                     {"kind": "serverless", "rpu": 16}],
                    {"target": "duckdb", "scale_factor": 0.01, "suite": "tpch"})
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 0, result.err
    assert f"complete: {len(templates)} queries on 2 cluster(s)" in result.out
    _, record, queries = only_run(data_dir)
    assert record["status"] == "complete" and record["target"] == "duckdb"
    assert set(RESULT_COLUMNS) <= set(queries.columns)
    assert queries["status"].to_list() == ["ok"] * len(templates)
    assert queries["template_id"].to_list() == templates
    assert (queries["end_s"] > queries["start_s"]).all()
    assert sorted(set(queries["cluster_id"].to_list())) == [0, 1]  # round robin over both
    # open loop: every query starts at its arrival (the capped cluster has room for these)
    assert (queries["queue_s"] < 0.5).all()
    assert (data_dir / "templates" / "tpch" / "data" / "tpch-sf=0.01.duckdb").is_file()
    assert list((live_home / "duckdb").iterdir()) == []  # spill folders and the run lock are gone


def test_statement_timeout_fires_and_the_run_goes_on(data_dir: Path, cli, live_home: Path) -> None:
    sql = [BUSY_SQL.format(n=10**11), "select 1", "selec oops"]
    save(data_dir, "slow", [0.0, 0.2, 0.3], ["slow", "quick", "broken"], sql)
    path = manifest(data_dir, "timeout", "slow",
                    [{"kind": "serverless", "rpu": 8, "max_query_execution_time": 1}],
                    {"target": "duckdb", "scale_factor": 0.01})
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 0, result.err
    folder, _, queries = only_run(data_dir)
    assert queries["status"].to_list() == ["timeout", "ok", "failed"]
    assert queries["latency_s"][0] == pytest.approx(1.0, abs=0.6)  # cut at 1 s, not minutes
    errors = pl.read_parquet(folder / "errors.parquet")
    assert errors.filter(pl.col("query_id") == 2)["error"][0].startswith("Parser Error")


def test_queries_on_one_cluster_run_at_the_same_time(tmp_path: Path) -> None:
    from autoslo.live.duckdb import DuckdbDriver, DuckdbProvisioner, cluster_resources, prepare_database

    database = prepare_database(0.01, DataTree(tmp_path / "data"))
    provisioner = DuckdbProvisioner(database, "20260101T000000000Z", home=tmp_path / "live")
    spec = ServerlessCluster(kind="serverless", rpu=16)
    endpoint = provisioner.start(spec, "c0")
    driver = DuckdbDriver()
    try:
        probe = driver.connect(endpoint)
        settings = probe.execute("select current_setting('memory_limit'), "
                                 "current_setting('threads')").fetchone()
        assert cluster_resources(spec, cores=64) == (512, 2)
        assert settings[0] == "488.2 MiB" and settings[1] == cluster_resources(spec)[1]
        spans: list[tuple[float, float]] = []

        def busy() -> None:
            connection = driver.connect(endpoint)
            began = time.monotonic()
            outcome = driver.run(connection, BUSY_SQL.format(n=60_000_000), tag="t", timeout_s=None)
            assert outcome.status == "ok"
            spans.append((began, time.monotonic()))
            driver.close(connection)

        threads = [threading.Thread(target=busy) for _ in range(2)]
        for thread in threads:
            thread.start()
        ticks = 0
        while any(t.is_alive() for t in threads):
            time.sleep(0.005)  # needs the GIL: runs only while DuckDB has released it
            ticks += 1
        assert len(spans) == 2
        (a0, a1), (b0, _) = sorted(spans)
        assert b0 < a1 - 0.5 * (a1 - a0)  # the second started long before the first ended
        assert ticks >= 20  # the GIL held for the whole query would allow a tick or two
    finally:
        provisioner.stop(endpoint)
        provisioner.close()


def test_sizes_map_to_memory_and_threads() -> None:
    from autoslo.errors import NotBuiltError
    from autoslo.live.duckdb import cluster_resources

    assert cluster_resources(ServerlessCluster(kind="serverless", rpu=8), cores=8) == (256, 1)
    assert cluster_resources(ServerlessCluster(kind="serverless", rpu=128), cores=8) == (4096, 8)
    two_xlplus = ProvisionedCluster(kind="provisioned", node_type="ra3.xlplus", nodes=2)
    assert cluster_resources(two_xlplus, cores=8) == (128, 1)  # 64 GiB = 4 RPU equivalents
    with pytest.raises(NotBuiltError, match=r"rg\.xlarge"):
        cluster_resources(ProvisionedCluster(kind="provisioned", node_type="rg.xlarge", nodes=1))


@pytest.mark.parametrize(("live", "expected"), [
    ({"target": "duckdb", "threads": 4}, "live.threads"),
    ({"target": "duckdb-server"}, "live.target"),
])
def test_bad_live_settings_give_one_line_and_exit_2(data_dir: Path, cli, live_home: Path,
                                                    live: dict, expected: str) -> None:
    save(data_dir, "one", [0.0], ["q06"])
    path = manifest(data_dir, "bad", "one", [{"kind": "serverless", "rpu": 8}], live)
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "bad.yml" in lines[0], result.err
    assert not (data_dir / "runs").exists() or not any((data_dir / "runs").iterdir())


def test_node_type_without_a_memory_figure_is_refused(data_dir: Path, cli, live_home: Path) -> None:
    save(data_dir, "one", [0.0], ["q06"])
    path = manifest(data_dir, "rg", "one", [{"kind": "provisioned", "node_type": "rg.xlarge", "nodes": 1}],
                    {"target": "duckdb", "scale_factor": 0.01})
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "rg.xlarge" in lines[0], result.err


def test_stopping_a_cluster_interrupts_its_running_queries(tmp_path: Path) -> None:
    from autoslo.live.duckdb import DuckdbDriver, DuckdbProvisioner, prepare_database
    from autoslo.live.target import TargetError

    database = prepare_database(0.01, DataTree(tmp_path / "data"))
    provisioner = DuckdbProvisioner(database, "20260101T000000000Z", home=tmp_path / "live")
    endpoint = provisioner.start(ServerlessCluster(kind="serverless", rpu=8), "c0")
    driver = DuckdbDriver()
    outcomes: list[str] = []

    def busy() -> None:
        connection = driver.connect(endpoint)
        outcomes.append(driver.run(connection, BUSY_SQL.format(n=10**11), tag="t", timeout_s=None).status)

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    time.sleep(0.5)
    began = time.monotonic()
    provisioner.stop(endpoint)  # closing an instance with a query running would wait for it
    worker.join(10)
    assert time.monotonic() - began < 5 and outcomes == ["failed"]
    with pytest.raises(TargetError, match="was stopped"):
        driver.connect(endpoint)
    assert not (tmp_path / "live" / "20260101T000000000Z" / "c0").exists()
    provisioner.close()
