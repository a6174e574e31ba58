"""Turn the Redshift Serverless measurements (data/redshift-serverless/) into autoslo's formats.

Writes the replayed workload `data/workloads/redshift-sls-wg0/` (one row per query of the
workgroup's log: arrival, template, and as runtime_s the template's measured isolated p50 on
16 RPU) and the run's results table `data/redshift-serverless/workgroup0-queries.parquet` (the
results contract's query_id, cluster_id, start_s, end_s, latency_s, status, as measured), which
`autoslo model fit-contention` takes with `data/execution_configs/examples/redshift-16rpu.yml`.
Deterministic: the same CSVs give the same files.

    python scripts/import_redshift_serverless.py [--data data]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml

WORKLOAD = "redshift-sls-wg0"
START = datetime(2026, 5, 18, 0, 0, tzinfo=UTC)  # the run's day; arrivals count from its start


def tables(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(workload queries, measured results) from the two CSVs of the measurements folder."""
    isolated = pl.read_csv(folder / "tpcds-sf1000-isolated-16rpu.csv",
                           schema_overrides={"template_id": pl.String})
    log = pl.read_csv(folder / "live-16rpu-poisson0.2-workgroup0.csv",
                      schema_overrides={"template_id": pl.String, "variant": pl.String})
    log = log.with_columns(pl.col("query_id").str.strip_prefix("query_").cast(pl.Int64)) \
        .join(isolated.select("template_id", pl.col("p50_s").alias("runtime_s")), on="template_id") \
        .sort("arrival_s", "query_id")
    queries = log.select("query_id", "arrival_s", "template_id", "runtime_s")
    results = log.select(
        "query_id", "template_id", "arrival_s", pl.lit(0, pl.Int32).alias("cluster_id"),
        pl.col("submitted_s").alias("start_s"), pl.col("finished_s").alias("end_s"),
        (pl.col("finished_s") - pl.col("arrival_s")).alias("latency_s"),
        pl.lit("ok").alias("status"))
    return queries, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    args = parser.parse_args()
    folder = args.data / "redshift-serverless"
    queries, results = tables(folder)
    out = args.data / "workloads" / WORKLOAD
    out.mkdir(parents=True, exist_ok=True)
    queries.write_parquet(out / "queries.parquet")
    meta = {"name": WORKLOAD,
            "description": "One 16-RPU Redshift Serverless workgroup's half of a 0.2/s Poisson "
                           "TPC-DS SF 1000 run (every other arrival; see "
                           "data/redshift-serverless/README.md); runtime_s is the template's "
                           "isolated p50 on 16 RPU.",
            "start": START,
            "source": {"kind": "recorded",
                       "details": {"script": "scripts/import_redshift_serverless.py",
                                   "log": "redshift-serverless/live-16rpu-poisson0.2-workgroup0.csv"}},
            "queries": queries.height,
            "reference": {"kind": "serverless", "rpu": 16}}
    (out / "workload.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    results.write_parquet(folder / "workgroup0-queries.parquet")
    print(f"{queries.height} queries -> {out}; results -> {folder / 'workgroup0-queries.parquet'}")


if __name__ == "__main__":
    main()
