"""Importers: Redset and SYS_QUERY_HISTORY exports become valid, sorted workloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from autoslo.workload import load_workload


def redset_frame(n: int = 1000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 3, 1, 10, 30)
    stamps = [start + dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 7200, n)]
    return pl.DataFrame({
        "instance_id": rng.integers(0, 2, n), "cluster_size": 4,
        "user_id": rng.integers(1, 5, n), "query_id": rng.permutation(n),
        "arrival_timestamp": stamps, "execution_duration_ms": rng.integers(0, 3000, n),
        "feature_fingerprint": rng.integers(1, 20, n), "query_type": "select",
        "num_joins": 2, "num_scans": 3, "num_aggregations": 1, "mbytes_scanned": 12.5,
        "an_extra_column": "ignored",
    })


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_redset_import(data_dir: Path, tmp_path: Path, cli, suffix: str) -> None:
    frame = redset_frame()
    path = tmp_path / f"redset{suffix}"
    (frame.write_parquet if suffix == ".parquet" else frame.write_csv)(path)
    result = cli("workload", "import", "redset", str(path), "--instance", "1", "--name", "rs")
    assert result.code == 0, result.err
    workload = load_workload(data_dir / "workloads" / "rs")
    q = workload.queries
    mine = frame.filter(pl.col("instance_id") == 1).sort("arrival_timestamp")
    assert q.height == mine.height
    assert q["query_id"].to_list() == list(range(q.height))
    assert q["arrival_s"].is_sorted() and q["arrival_s"].min() >= 0
    assert workload.meta.start == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    first = mine.row(0, named=True)
    assert q["arrival_s"][0] == pytest.approx(
        (first["arrival_timestamp"] - dt.datetime(2024, 3, 1, 10, 0)).total_seconds(), abs=1e-6)
    assert q["template_id"][0] == f"fp{first['feature_fingerprint']}"
    assert q["runtime_s"][0] == pytest.approx(max(first["execution_duration_ms"] / 1000, 0.001))
    assert q["runtime_size"].unique().to_list() == [4.0]
    assert "an_extra_column" not in q.columns and "num_joins" in q.columns
    assert cli("validate", "data/workloads/rs").code == 0


def test_redset_bad_inputs(data_dir: Path, tmp_path: Path, cli) -> None:
    path = tmp_path / "r.parquet"
    redset_frame().drop("feature_fingerprint").write_parquet(path)
    result = cli("workload", "import", "redset", str(path), "--instance", "1", "--name", "x")
    assert result.code == 2
    assert "required column(s) missing: feature_fingerprint" in result.err
    redset_frame().write_parquet(path)
    result = cli("workload", "import", "redset", str(path), "--instance", "9", "--name", "x")
    assert result.code == 2
    assert "--instance 9 has no rows (instances present include: 0, 1)" in result.err
    mixed = redset_frame(4).with_columns(instance_id=pl.lit(0)).with_columns(pl.Series(
        "arrival_timestamp", [
        "2024-03-01T10:00:00+01:00", "2024-03-01T10:00:01+02:00", "2024-03-01T10:00:02+01:00",
        "2024-03-01T10:00:03+01:00"]))
    csv = tmp_path / "mixed.csv"
    mixed.write_csv(csv)
    result = cli("workload", "import", "redset", str(csv), "--instance", "0", "--name", "x")
    assert result.code == 2
    assert "arrival_timestamp: timestamps in mixed time zones" in result.err
    assert not (data_dir / "workloads" / "x").exists()


def test_zoned_text_timestamps_become_utc(data_dir: Path, tmp_path: Path, cli) -> None:
    frame = redset_frame(3).with_columns(instance_id=pl.lit(0), arrival_timestamp=pl.Series([
        "2024-03-01T11:00:00+01:00", "2024-03-01T11:30:00+01:00", "2024-03-01T12:15:00+01:00"]))
    frame.write_csv(tmp_path / "z.csv")
    assert cli("workload", "import", "redset", str(tmp_path / "z.csv"), "--instance", "0",
               "--name", "z").code == 0
    workload = load_workload(data_dir / "workloads" / "z")
    assert workload.meta.start == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert workload.queries["arrival_s"].to_list() == [0.0, 1800.0, 4500.0]


def test_query_history_import(data_dir: Path, tmp_path: Path, cli) -> None:
    frame = pl.DataFrame({
        "query_id": [11, 12, 13, 14],
        "user_id": [100, 100, 101, 101],
        "query_label": ["dashboard", "dashboard", "etl", "default"],
        "start_time": ["2024-05-02 08:00:03", "2024-05-02 08:00:01", "2024-05-02 09:10:00",
                       "2024-05-02 09:11:00"],
        "execution_time": [1_500_000, 2_000_000, 40_000_000, 10],
        "query_text": ["SELECT * FROM t WHERE id = 42", "select *  from t where id = 7",
                       "insert into x select 'a''b' from y", "SELECT 1"],
        "status": ["success"] * 4,
    })
    frame.write_csv(tmp_path / "h.csv")
    result = cli("workload", "import", "query-history", str(tmp_path / "h.csv"), "--name", "qh",
                 "--size", "8")
    assert result.code == 0, result.err
    q = load_workload(data_dir / "workloads" / "qh").queries
    assert q["source_query_id"].to_list() == [12, 11, 13, 14]  # sorted by arrival
    templates = q["template_id"].to_list()
    assert templates[0] == templates[1] != templates[2]
    assert q["runtime_s"].to_list() == [2.0, 1.5, 40.0, 0.001]
    assert q["query_group"].to_list() == ["dashboard", "dashboard", "etl", "default"]
    assert q["runtime_size"].unique().to_list() == [8.0]
