"""`autoslo calibrate`'s concurrent replay and contention fit on the duckdb target, the statement
timeout that leaves a template out, the capacity bound, and the scale-factor check of live runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from autoslo.config.execution import SharingLaw
from autoslo.perf.contention import load_contention_model
from autoslo.sim.fit import fit_contention, log_errors
from tests.conftest import snapshot
from tests.live.test_duckdb import manifest, save

CONFIG = "data/execution_configs/examples/serverless-pool.yml"
BUSY_SQL = "select sum((i * i) % 7) from range(3000000000) t(i)"  # minutes of CPU on any cluster
FAST = ["q01", "q06", "q14"]
CORES = os.cpu_count() or 1


@pytest.fixture
def live_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "live"
    monkeypatch.setenv("AUTOSLO_LIVE_HOME", str(home))
    return home


@pytest.mark.slow
def test_calibrate_replays_fits_and_leaves_out_a_template_that_times_out(
        data_dir: Path, cli, live_home: Path) -> None:
    (data_dir / "templates" / "tpch" / "q21.sql").write_text(BUSY_SQL + "\n")
    result = cli("calibrate", "--config", CONFIG, "--suite", "tpch", "--templates",
                 ",".join([*FAST, "q21"]), "--target", "duckdb", "--scale-factor", "0.01",
                 "--repeats", "1", "--timeout-s", "1", "--replay-queries", "40", "--trials", "20",
                 "--bootstrap", "2", "--out", "cal")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "size 8: q21 left out (timed out alone after 1 s)" in lines
    assert "left out: q21 (timed out alone after 1 s)" in lines
    assert any(line.startswith("replay: 40 queries over 3 templates at ") for line in lines)
    assert any(line.startswith("bootstrap spread over 2 refits (p5..p95): capacity ") for line in lines)
    assert lines[-1] == ("contention model -> data/models/cal-contention (use it with --set "
                         "'contention={model: fitted, path: models/cal-contention}', or in the "
                         "config: `contention: {model: fitted, path: models/cal-contention}`)")
    assert list((live_home / "duckdb").iterdir()) == []  # every cluster was stopped

    table = pl.read_csv(data_dir / "models" / "cal" / "runtimes.csv")
    assert sorted(set(table["template_id"])) == FAST  # the timed-out template is left out
    calibration = yaml.safe_load((data_dir / "models" / "cal" / "calibration.yml").read_text())
    assert calibration["failed_templates"] == {"q21": "timed out alone after 1 s"}
    assert calibration["target"] == "duckdb" and calibration["scale_factor"] == 0.01
    assert calibration["timeout_s"] == 1.0 and calibration["physical_max_capacity"] == CORES
    assert 0 < calibration["capacity"] <= CORES
    assert calibration["capacity_guess"] <= CORES
    replay = calibration["replay"]
    assert sorted(replay["templates"]) == FAST and sum(replay["templates"].values()) == 40
    assert replay["statuses"] == {"ok": 40} and replay["complete"] is True
    overlapped = [k for k, share in replay["running_time_share"].items() if k >= 2 and share > 0]
    assert len(overlapped) >= 2 and replay["max_running"] >= 3  # several concurrency levels
    assert sum(replay["running_time_share"].values()) == pytest.approx(1, abs=1e-3)
    contention = calibration["contention"]
    assert contention["model"] == "models/cal-contention"
    assert {"capacity", "weight_exponent", "slowdown_exponent"} <= set(contention["parameter_spread"])

    model = load_contention_model(data_dir / "models" / "cal-contention")
    assert model.law.capacity <= CORES and all(s.capacity <= CORES for s in model.samples)
    assert model.fit["max_capacity"] == CORES and len(model.samples) == 2
    assert contention["law"]["capacity"] == pytest.approx(model.law.capacity, abs=1e-6)
    assert calibration["capacity"] == pytest.approx(model.fit["processor_sharing"]["capacity"], abs=1e-6)
    folder = data_dir / "models" / "cal-contention" / "replay"
    workload = pl.read_parquet(folder / "workload.parquet")
    measured = pl.read_parquet(folder / "queries.parquet")
    assert workload.height == measured.height == 40
    medians = table.group_by("template_id").agg(pl.col("runtime_s").median())
    expected = dict(zip(medians["template_id"], medians["runtime_s"], strict=True))
    assert workload["runtime_s"].to_list() == pytest.approx(
        [expected[t] for t in workload["template_id"]], abs=1e-6)

    # the folder's model simulates its own replay exactly as the fit scored it
    run_config = yaml.safe_load((folder / "config.yml").read_text())
    run_config["contention"] = {"model": "fitted", "path": "models/cal-contention"}
    fitted_config = data_dir / "fitted.yml"
    fitted_config.write_text(yaml.safe_dump(run_config))
    done = cli("simulate", "--workload", str(folder / "workload.parquet"), "--config",
               str(fitted_config), "--out", str(data_dir / "sim-replay"))
    assert done.code == 0, done.err
    simulated = pl.read_parquet(data_dir / "sim-replay" / "queries.parquet").sort("query_id")
    errors = log_errors(simulated["latency_s"].to_numpy(), measured.sort("query_id")["latency_s"].to_numpy())
    assert float(np.median(errors)) == pytest.approx(model.fit["fitted"]["median_abs_log_error"], abs=1e-6)
    # and a user's config takes both models as the command printed
    done = cli("simulate", "--workload", str(folder / "workload.parquet"), "--config", CONFIG,
               "--set", "contention={model: fitted, path: models/cal-contention}",
               "--set", "latency_model.model=models/cal", "--out", str(data_dir / "sim-user"))
    assert done.code == 0, done.err


def test_the_capacity_bound_holds_where_the_log_wants_more() -> None:
    from tests.sim.test_contention import synthetic_log
    from tests.test_sim import make_config

    data, _ = synthetic_log(SharingLaw(capacity=4.0), n=200)
    config = make_config([{"kind": "serverless", "rpu": 8}],
                         contention={"model": "processor_sharing", "capacity": 1})
    free = fit_contention(data, config, trials=30, seed=0, bootstrap=2)
    bounded = fit_contention(data, config, trials=30, seed=0, bootstrap=2, max_capacity=2.0)
    assert free.fit["processor_sharing"]["capacity"] == pytest.approx(4.0, rel=0.05)
    assert bounded.fit["processor_sharing"]["capacity"] <= 2.0
    assert bounded.law.capacity <= 2.0 and all(s.capacity <= 2.0 for s in bounded.samples)
    assert bounded.fit["max_capacity"] == 2.0


def table_model(root: Path, name: str, target: str, scale_factor: float) -> None:
    folder = root / "models" / name
    folder.mkdir(parents=True)
    (folder / "model.yml").write_text("kind: table\n")
    (folder / "runtimes.csv").write_text("template_id,shape,size,runtime_s\nq06,serverless,8,0.01\n")
    (folder / "calibration.yml").write_text(yaml.safe_dump({"target": target,
                                                            "scale_factor": scale_factor}))


@pytest.mark.slow
def test_a_model_calibrated_at_another_scale_factor_is_refused(data_dir: Path, cli,
                                                               live_home: Path) -> None:
    save(data_dir, "two", [0.0, 0.1], ["q06", "q06"])
    table_model(data_dir, "cal-duck", "duckdb", 0.01)
    cluster = [{"kind": "serverless", "rpu": 8}]
    path = manifest(data_dir, "sf", "two", cluster,
                    {"target": "duckdb", "scale_factor": 0.02, "suite": "tpch"})
    config = data_dir / "execution_configs" / "live" / "sf.yml"
    config.write_text(config.read_text() + "latency_model:\n  model: models/cal-duck\n")
    before = snapshot(data_dir)
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 2
    assert result.err.strip() == (
        "data/models/cal-duck/calibration.yml: scale_factor: must equal the run's "
        "live.scale_factor for a model calibrated on duckdb (the runtimes were measured on other "
        "data), got 0.01 vs live.scale_factor 0.02")
    assert snapshot(data_dir) == before and not (data_dir / "runs").exists()
    assert not live_home.exists()  # nothing was started
    # calibrated on another target: its scale factor says nothing about this one's data
    table_model(data_dir, "cal-pg", "postgres", 0.001)
    config.write_text(config.read_text().replace("models/cal-duck", "models/cal-pg"))
    result = cli("execute", "--manifest", str(path), "--live")
    assert result.code == 0, result.err
    assert "complete: 2 queries on 1 cluster(s)" in result.out
