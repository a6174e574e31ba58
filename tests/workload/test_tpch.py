"""The TPC-H suite runs on a real PostgreSQL with data from tpchgen-cli."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from autoslo.datatree import DataTree
from autoslo.workload.templates import load_suite
from autoslo.workload.tpch import TABLES, generate_data, load_into
from tests.pg import LocalPostgres

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tpch_database(tmp_path_factory: pytest.TempPathFactory):
    folder = generate_data(0.01, tmp_path_factory.mktemp("tpch") / "sf=0.01")
    server = LocalPostgres().start()
    try:
        with psycopg.connect(server.dsn) as connection:
            counts = load_into(connection, folder)
        yield server, counts
    finally:
        server.stop()


@pytest.mark.slow
def test_all_22_queries_run_on_postgres(tpch_database) -> None:
    server, counts = tpch_database
    assert set(counts) == set(TABLES)
    assert counts["region"] == 5 and counts["nation"] == 25 and counts["lineitem"] > 50_000
    suite = load_suite("tpch", DataTree(REPO / "data"))
    assert len(suite.sql) == 22
    rows = {}
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute("set statement_timeout = '120s'")
        for template_id, sql in suite.sql.items():
            assert ";" not in sql, f"{template_id}: one statement, no semicolon"
            rows[template_id] = len(connection.execute(sql).fetchall())
    assert rows["q01"] == 4  # (returnflag, linestatus) groups
    assert rows["q06"] == 1 and rows["q14"] == 1
    assert rows["q03"] == 10 and rows["q10"] == 20
    assert sum(1 for n in rows.values() if n > 0) >= 19


def test_tpch_data_cli(data_dir: Path, cli) -> None:
    result = cli("workload", "tpch-data", "--scale", "0.001")
    assert result.code == 0, result.err
    folder = data_dir / "templates" / "tpch" / "data" / "sf=0.001"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    assert cli("workload", "tpch-data", "--scale", "0").code == 2
