"""Import real query logs as workloads: Redset (Amazon's public fleet sample) and a Redshift
SYS_QUERY_HISTORY export. Both stream (polars lazy scans with the streaming engine), so a
10^7-row log imports in bounded memory.

- Required columns must be present; extra columns are ignored (the model features Redset
  carries are kept: query_type, num_joins, num_scans, num_aggregations, mbytes_scanned).
- Timestamps without a zone are UTC (as in Redset); text timestamps must all carry the same
  offset (or none). Rows are sorted by arrival; query ids are renumbered 0..n-1 in that order,
  the log's own id kept as `source_query_id`.
- A query's template: Redset's `feature_fingerprint` (``fp<fingerprint>``); for query history,
  a short hash of the normalized text (lowercase, literals replaced by ``?``, whitespace
  collapsed). Its measured execution time becomes `runtime_s` (at least 1 ms; cached results
  take near zero), with the cluster size it ran at as `runtime_size` where the log has it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import polars as pl

from autoslo.datatree import display_path
from autoslo.errors import InputError

REDSET_REQUIRED = ("instance_id", "query_id", "arrival_timestamp", "execution_duration_ms",
                   "feature_fingerprint")
REDSET_FEATURES = ("query_type", "num_joins", "num_scans", "num_aggregations", "mbytes_scanned")
HISTORY_REQUIRED = ("query_id", "start_time", "execution_time", "query_text")
OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
MIN_RUNTIME_S = 0.001


def _scan(path: Path) -> pl.LazyFrame:
    source = display_path(path)
    if not path.is_file():
        raise InputError("file does not exist", source=source)
    if path.suffix == ".parquet":
        return pl.scan_parquet(path)
    if path.suffix == ".csv":
        return pl.scan_csv(path, infer_schema_length=10_000)
    raise InputError(f"must be a .parquet or .csv file, got {path.suffix or 'no suffix'!r}",
                     source=source)


def _require(frame: pl.LazyFrame, required: tuple[str, ...], source: str) -> pl.Schema:
    schema = frame.collect_schema()
    missing = [c for c in required if c not in schema]
    if missing:
        raise InputError(f"required column(s) missing: {', '.join(missing)} (present: "
                         f"{', '.join(schema.names())})", source=source)
    return schema


def _utc(frame: pl.LazyFrame, column: str, dtype: pl.DataType, source: str) -> pl.Expr:
    """An expression turning `column` into naive-UTC datetimes, refusing mixed zones."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return pl.col(column).cast(pl.Datetime("us"))
        return pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if dtype != pl.String:
        raise InputError(f"{column}: must be a timestamp, got {dtype}", source=source)
    offsets = (frame.select(pl.col(column).str.extract(r"(Z|[+-]\d{2}:?\d{2})$")
                            .fill_null("none").unique().alias("offset"))
               .collect(engine="streaming")["offset"].to_list())
    if len(offsets) > 1:
        shown = ", ".join(sorted(str(o) for o in offsets)[:4])
        raise InputError(f"{column}: timestamps in mixed time zones (offsets found: {shown}); "
                         "export them all in one zone", source=source)
    if offsets and offsets[0] != "none":
        return (pl.col(column).str.to_datetime(time_zone="UTC", time_unit="us", strict=True)
                .dt.replace_time_zone(None))
    return pl.col(column).str.to_datetime(time_unit="us", strict=True)


def _finish(frame: pl.LazyFrame, out: Path, source: str,
            empty: str = "no rows to import") -> tuple[int, dt.datetime]:
    """Sort by arrival, renumber, write `out` (streaming); returns (rows, start)."""
    first = frame.select(pl.col("arrival_ts").min()).collect(engine="streaming").item()
    if first is None:
        raise InputError(empty, source=source)
    start = first.replace(minute=0, second=0, microsecond=0, tzinfo=dt.UTC)
    naive_start = start.replace(tzinfo=None)
    shaped = (frame.sort(["arrival_ts", "source_query_id"])
              .with_columns(((pl.col("arrival_ts") - naive_start).dt.total_microseconds()
                             / 1e6).alias("arrival_s"))
              .drop("arrival_ts")
              .with_row_index("query_id")
              .with_columns(pl.col("query_id").cast(pl.Int64)))
    names = shaped.collect_schema().names()
    shaped = shaped.select(["query_id", "arrival_s", "template_id",
                            *[c for c in names if c not in ("query_id", "arrival_s",
                                                            "template_id")]])
    shaped.sink_parquet(out)
    rows = pl.scan_parquet(out).select(pl.len()).collect().item()
    return int(rows), start


def import_redset(path: Path, instance_id: int, out: Path) -> tuple[int, dt.datetime, int | None]:
    """One Redset instance as a queries table at `out`; returns (rows, start, cluster size)."""
    source = display_path(path)
    frame = _scan(path)
    schema = _require(frame, REDSET_REQUIRED, source)
    frame = frame.filter(pl.col("instance_id") == instance_id)
    columns = [
        pl.col("query_id").cast(pl.Int64).alias("source_query_id"),
        _utc(frame, "arrival_timestamp", schema["arrival_timestamp"], source).alias("arrival_ts"),
        (pl.lit("fp") + pl.col("feature_fingerprint").cast(pl.String)).alias("template_id"),
        (pl.col("execution_duration_ms").cast(pl.Float64) / 1000)
        .clip(lower_bound=MIN_RUNTIME_S).alias("runtime_s"),
    ]
    if "user_id" in schema:
        columns.append(pl.col("user_id").cast(pl.String).alias("user"))
    if "cluster_size" in schema:
        columns.append(pl.col("cluster_size").cast(pl.Float64).alias("runtime_size"))
    columns += [pl.col(c) for c in REDSET_FEATURES if c in schema]
    try:
        rows, start = _finish(frame.select(columns), out, source, "empty")
    except InputError as exc:
        if exc.rule != "empty":
            raise
        present = (_scan(path).select(pl.col("instance_id").unique().sort().head(10))
                   .collect(engine="streaming")["instance_id"].to_list())
        raise InputError(f"--instance {instance_id} has no rows (instances present include: "
                         f"{', '.join(map(str, present))})", source=source) from None
    size = None
    if "cluster_size" in schema:
        sizes = pl.scan_parquet(out).select(pl.col("runtime_size").drop_nulls().unique()) \
            .collect()["runtime_size"].to_list()
        size = int(sizes[0]) if len(sizes) == 1 else None
    return rows, start, size


def normalize_sql(text: pl.Expr) -> pl.Expr:
    """Lowercase, literals to ?, whitespace collapsed: queries of one template look alike."""
    return (text.str.to_lowercase()
            .str.replace_all(r"'(?:[^']|'')*'", "?")
            .str.replace_all(r"\b\d+(?:\.\d+)?\b", "?")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars())


def import_query_history(path: Path, out: Path, size: int | None = None) -> tuple[int, dt.datetime]:
    """A SYS_QUERY_HISTORY export (times in microseconds) as a queries table at `out`."""
    source = display_path(path)
    frame = _scan(path)
    schema = _require(frame, HISTORY_REQUIRED, source)
    normalized = normalize_sql(pl.col("query_text").cast(pl.String))
    texts = (frame.select(normalized.alias("t")).unique().collect(engine="streaming")["t"]
             .drop_nulls().to_list())
    names = {t: "t" + hashlib.sha256(t.encode()).hexdigest()[:10] for t in texts}
    columns = [
        pl.col("query_id").cast(pl.Int64).alias("source_query_id"),
        _utc(frame, "start_time", schema["start_time"], source).alias("arrival_ts"),
        normalized.replace_strict(names, default="t-empty", return_dtype=pl.String)
        .alias("template_id"),
        (pl.col("execution_time").cast(pl.Float64) / 1e6).clip(lower_bound=MIN_RUNTIME_S)
        .alias("runtime_s"),
    ]
    if "user_id" in schema:
        columns.append(pl.col("user_id").cast(pl.String).alias("user"))
    if "query_label" in schema:
        columns.append(pl.col("query_label").cast(pl.String).alias("query_group"))
    if size is not None:
        columns.append(pl.lit(float(size)).alias("runtime_size"))
    rows, start = _finish(frame.select(columns), out, source)
    return rows, start
