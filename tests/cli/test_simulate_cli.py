"""`autoslo simulate`: outputs where DESIGN.md says, atomic replacement, clear bad-input errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import snapshot

MMC = "data/execution_configs/examples/mmc.yml"


def test_simulate_writes_the_result_tables(data_dir: Path, cli) -> None:
    result = cli("simulate", "--workload", "data/workloads/example", "--config", MMC,
                 "--param", "SLOTS=4")
    assert result.code == 0, result.err
    line = result.out.strip()
    assert line.startswith("2108 queries on 1 cluster(s): cost ")
    folder = Path(line.rsplit(" -> ", 1)[1])
    assert folder.parent == Path("data/simulator_runs/example")
    assert folder.name.startswith("mmc-")
    queries = pl.read_parquet(folder / "queries.parquet")
    for column in ("query_id", "template_id", "arrival_s", "start_s", "end_s", "queue_s",
                   "latency_s", "cluster_id", "status"):
        assert column in queries.columns
    assert queries.height == 2108
    clusters = pl.read_parquet(folder / "clusters.parquet")
    summary = yaml.safe_load((folder / "summary.yml").read_text())
    assert summary["cost_usd"] == pytest.approx(clusters["cost_usd"].sum())
    assert summary["workload_id"] == "example" and summary["execution_config_id"] == folder.name
    # it always recomputes and replaces the folder atomically (no stray files left behind)
    (folder / "stale.txt").write_text("old")
    assert cli("simulate", "--workload", "data/workloads/example", "--config", MMC,
               "--param", "SLOTS=4").code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["clusters.parquet", "queries.parquet",
                                                        "summary.yml"]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    assert pl.read_parquet(folder / "queries.parquet").equals(queries)


def test_simulate_takes_a_bare_parquet_and_an_out_folder(data_dir: Path, tmp_path: Path,
                                                         cli) -> None:
    table = tmp_path / "adhoc.parquet"
    pl.read_parquet(data_dir / "workloads/example/queries.parquet").head(50).write_parquet(table)
    out = tmp_path / "out"
    result = cli("simulate", "--workload", str(table), "--config", MMC, "--param", "SLOTS=2",
                 "--out", str(out))
    assert result.code == 0, result.err
    assert pl.read_parquet(out / "queries.parquet").height == 50


def _broken_workload(data_dir: Path, tmp_path: Path, change) -> Path:
    frame = pl.read_parquet(data_dir / "workloads/example/queries.parquet").head(20)
    path = tmp_path / "broken.parquet"
    change(frame).write_parquet(path)
    return path


@pytest.mark.parametrize(("case", "change", "expected"), [
    ("negative arrival", lambda f: f.with_columns(arrival_s=pl.col("arrival_s") - 1e6),
     "broken.parquet: arrival_s: must be >= 0"),
    ("missing column", lambda f: f.drop("arrival_s"),
     "broken.parquet: arrival_s: required column is missing"),
    ("NaN runtime", lambda f: f.with_columns(runtime_s=pl.lit(float("nan"))),
     "broken.parquet: runtime_s: must be finite"),
    ("no runtimes and no model", lambda f: f.drop("runtime_s"),
     "20 queries have no runtime_s and the execution config names no latency model"),
])
def test_bad_workloads_fail_before_simulating(data_dir: Path, tmp_path: Path, cli, case: str,
                                              change, expected: str) -> None:
    path = _broken_workload(data_dir, tmp_path, change)
    before = snapshot(data_dir)
    result = cli("simulate", "--workload", str(path), "--config", MMC, "--param", "SLOTS=2")
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert expected in result.err
    assert snapshot(data_dir) == before


def test_unknown_templates_need_a_latency_model_entry(data_dir: Path, tmp_path: Path,
                                                      cli) -> None:
    model = data_dir / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "model.yml").write_text("kind: table\n")
    (model / "runtimes.csv").write_text("template_id,shape,size,runtime_s\nq01,serverless,8,1.5\n")
    config = data_dir / "execution_configs" / "t" / "with-model.yml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "pool": {"clusters": [{"kind": "serverless", "rpu": 16}]},
        "latency_model": {"model": "models/tiny"}}))
    result = cli("simulate", "--workload", "data/workloads/example", "--config", str(config))
    assert result.code == 2
    assert result.err.strip() == ("latency model 'tiny' has no entry for 5 template(s) of the "
                                  "workload: 'q03', 'q06', 'q09', 'q13', 'q18'")


def test_features_not_simulated_are_refused_by_name(data_dir: Path, cli) -> None:
    config = data_dir / "execution_configs" / "examples" / "serverless-pool.yml"
    result = cli("simulate", "--workload", "data/workloads/example", "--config", str(config),
                 "--set", "autoscaler.trigger=predicted_violations")
    assert result.code == 2
    assert result.err.strip() == (
        "the simulator does not model autoscaler.trigger predicted_violations yet (use "
        "queue_depth); nothing was simulated")
    assert not (data_dir / "simulator_runs").exists()


def test_the_provisioned_example_uses_sqa_and_concurrency_scaling(data_dir: Path, cli) -> None:
    result = cli("simulate", "--workload", "data/workloads/example", "--config",
                 "data/execution_configs/examples/provisioned-wlm.yml")
    assert result.code == 0, result.err
    folder = Path(result.out.strip().rsplit(" -> ", 1)[1])
    queries = pl.read_parquet(folder / "queries.parquet")
    assert set(queries["queue"].cast(pl.String)) >= {"dashboard", "etl", "sqa"}


def test_the_serverless_example_autoscales(data_dir: Path, cli) -> None:
    result = cli("simulate", "--workload", "data/workloads/example", "--config",
                 "data/execution_configs/examples/serverless-pool.yml",
                 "--slo", "data/slos/example.yml")
    assert result.code == 0, result.err
    first, second = result.out.splitlines()
    assert "(event engine" in first
    assert second.startswith("SLO data/slos/example.yml: violation rate ")


def test_same_result_in_another_process(data_dir: Path, tmp_path: Path, cli) -> None:
    import subprocess
    import sys

    config = "data/execution_configs/examples/serverless-pool.yml"
    assert cli("simulate", "--workload", "data/workloads/example", "--config", config,
               "--out", str(tmp_path / "here")).code == 0
    subprocess.run([sys.executable, "-m", "autoslo.cli", "simulate", "--workload",
                    "data/workloads/example", "--config", config, "--out",
                    str(tmp_path / "there")], check=True, capture_output=True)
    for table in ("queries.parquet", "clusters.parquet"):
        assert pl.read_parquet(tmp_path / "here" / table).equals(
            pl.read_parquet(tmp_path / "there" / table))
