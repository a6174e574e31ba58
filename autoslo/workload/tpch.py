"""TPC-H data for the tpch template suite: generate it with `tpchgen-cli`, load it over SQL.

The schema uses types that PostgreSQL and Amazon Redshift both accept. Data files are CSV with
a header, one per table, under ``data/templates/tpch/data/sf=<scale>/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from autoslo.atomic import replace_dir
from autoslo.errors import AutosloError, InputError

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
DDL = {
    "region": "r_regionkey integer not null, r_name char(25) not null, "
              "r_comment varchar(152)",
    "nation": "n_nationkey integer not null, n_name char(25) not null, "
              "n_regionkey integer not null, n_comment varchar(152)",
    "supplier": "s_suppkey integer not null, s_name char(25) not null, "
                "s_address varchar(40) not null, s_nationkey integer not null, "
                "s_phone char(15) not null, s_acctbal decimal(15,2) not null, "
                "s_comment varchar(101) not null",
    "customer": "c_custkey integer not null, c_name varchar(25) not null, "
                "c_address varchar(40) not null, c_nationkey integer not null, "
                "c_phone char(15) not null, c_acctbal decimal(15,2) not null, "
                "c_mktsegment char(10) not null, c_comment varchar(117) not null",
    "part": "p_partkey integer not null, p_name varchar(55) not null, "
            "p_mfgr char(25) not null, p_brand char(10) not null, p_type varchar(25) not null, "
            "p_size integer not null, p_container char(10) not null, "
            "p_retailprice decimal(15,2) not null, p_comment varchar(23) not null",
    "partsupp": "ps_partkey integer not null, ps_suppkey integer not null, "
                "ps_availqty integer not null, ps_supplycost decimal(15,2) not null, "
                "ps_comment varchar(199) not null",
    "orders": "o_orderkey bigint not null, o_custkey integer not null, "
              "o_orderstatus char(1) not null, o_totalprice decimal(15,2) not null, "
              "o_orderdate date not null, o_orderpriority char(15) not null, "
              "o_clerk char(15) not null, o_shippriority integer not null, "
              "o_comment varchar(79) not null",
    "lineitem": "l_orderkey bigint not null, l_partkey integer not null, "
                "l_suppkey integer not null, l_linenumber integer not null, "
                "l_quantity decimal(15,2) not null, l_extendedprice decimal(15,2) not null, "
                "l_discount decimal(15,2) not null, l_tax decimal(15,2) not null, "
                "l_returnflag char(1) not null, l_linestatus char(1) not null, "
                "l_shipdate date not null, l_commitdate date not null, "
                "l_receiptdate date not null, l_shipinstruct char(25) not null, "
                "l_shipmode char(10) not null, l_comment varchar(44) not null",
}


def _tpchgen() -> str:
    beside = Path(sys.executable).parent / "tpchgen-cli"
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if not found:
        raise AutosloError("tpchgen-cli is not installed (pip install tpchgen-cli; `make "
                           "setup` does it)")
    return found


def generate_data(scale: float, folder: Path) -> Path:
    """Write the eight TPC-H tables as CSV files into `folder` (replaced atomically)."""
    if not 0 < scale <= 100:
        raise InputError(f"--scale must be in (0, 100], got {scale}")
    with replace_dir(folder) as tmp:
        subprocess.run([_tpchgen(), "csv", "-s", str(scale), f"--output-dir={tmp}"],
                       check=True, capture_output=True)
        missing = [t for t in TABLES if not (tmp / f"{t}.csv").is_file()]
        if missing:
            raise AutosloError(f"tpchgen-cli wrote no {missing[0]}.csv")
    return folder


def load_into(connection: Any, folder: Path) -> dict[str, int]:
    """Create the TPC-H tables on a psycopg connection and COPY the CSV files in; row counts."""
    counts = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"drop table if exists {table}")
            cursor.execute(f"create table {table} ({DDL[table]})")
            with (folder / f"{table}.csv").open("rb") as data, cursor.copy(
                    f"copy {table} from stdin with (format csv, header true)") as copy:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            cursor.execute(f"select count(*) from {table}")
            counts[table] = int(cursor.fetchone()[0])
        cursor.execute("analyze")
    connection.commit()
    return counts
