"""Import real query logs as workloads: Redset (Amazon's public fleet sample) and a Redshift
SYS_QUERY_HISTORY export. Both stream (polars lazy scans with the streaming engine), so a
10^7-row log imports in bounded memory.

- Required columns must be present; extra columns are ignored (the model features Redset
  carries are kept: query_type, num_joins, num_scans, num_aggregations, mbytes_scanned).
- Timestamps without a zone are UTC (as in Redset); text timestamps must be ISO 8601
  (``2026-11-02 10:00:00``, ``2026-11-02T10:00:00.5Z``, ...) and all carry the same offset (or
  none). Rows are sorted by arrival; query ids (integers, never null) are renumbered 0..n-1 in
  that order, the log's own id kept as `source_query_id`.
- A row that breaks a rule (an id that is no integer, a time that does not parse, a negative
  execution time) refuses the whole file, naming the column, the first such value and how many
  rows break the rule; nothing is written.
- A query's template: Redset's `feature_fingerprint` (``fp<fingerprint>``); for query history,
  a short hash of the normalized text (lowercase, literals replaced by ``?``, whitespace
  collapsed). Its measured execution time becomes `runtime_s` (at least 1 ms; cached results
  take near zero), with the cluster size it ran at as `runtime_size` where the log has it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from autoslo.datatree import display_path
from autoslo.errors import InputError

REDSET_REQUIRED = ("instance_id", "query_id", "arrival_timestamp", "execution_duration_ms",
                   "feature_fingerprint")
REDSET_FEATURES = ("query_type", "num_joins", "num_scans", "num_aggregations", "mbytes_scanned")
HISTORY_REQUIRED = ("query_id", "start_time", "execution_time", "query_text")
OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
# the text timestamps accepted (after the zone offset is cut off): ISO 8601 with a T or a space
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S",
               "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")
MIN_RUNTIME_S = 0.001


def _scan(path: Path) -> pl.LazyFrame:
    """A lazy scan of the log, refusing what cannot be one (missing, empty, other suffix)."""
    source = display_path(path)
    if not path.is_file():
        raise InputError("file does not exist", source=source)
    if path.suffix not in (".parquet", ".csv"):
        raise InputError(f"must be a .parquet or .csv file, got {path.suffix or 'no suffix'!r}",
                         source=source)
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes); it needs a header row naming the columns and "
                         "one row per query", source=source)
    if path.suffix == ".parquet":
        return pl.scan_parquet(path)
    return pl.scan_csv(path, infer_schema_length=10_000)


@contextmanager
def _readable(source: str, what: str) -> Iterator[None]:
    """Turn polars' errors on a malformed file into one line naming the file (input, not a bug)."""
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise InputError(f"is not a readable {what} ({type(exc).__name__}: {detail[:160]})",
                         source=source) from None


def _require(frame: pl.LazyFrame, required: tuple[str, ...], source: str) -> pl.Schema:
    schema = frame.collect_schema()
    missing = [c for c in required if c not in schema]
    if missing:
        raise InputError(f"required column(s) missing: {', '.join(missing)} (present: "
                         f"{', '.join(schema.names())})", source=source)
    return schema


@dataclass(frozen=True)
class RowRule:
    """A rule every row of a column must keep: `bad` marks the rows that break it."""

    column: str
    bad: pl.Expr
    rule: str
    counted: str = "row(s) break it"
    show_value: bool = True  # False for nulls: the count says it all


def _refuse_bad_rows(frame: pl.LazyFrame, rules: list[RowRule], source: str) -> None:
    """Check every rule in one streaming pass; the first broken one is an InputError with the
    first offending value and how many rows break it."""
    if not rules:
        return
    aggregates = []
    for index, rule in enumerate(rules):
        aggregates += [rule.bad.fill_null(False).sum().alias(f"n{index}"),
                       pl.col(rule.column).filter(rule.bad.fill_null(False)).first()
                       .alias(f"v{index}")]
    facts = frame.select(aggregates).collect(engine="streaming").row(0)
    for index, rule in enumerate(rules):
        count, value = facts[2 * index], facts[2 * index + 1]
        if count:
            got = f"{value!r} ({count} {rule.counted})" if rule.show_value else f"{count} {rule.counted}"
            raise InputError(f"{rule.rule}, got {got}", source=source, field=rule.column)


def _integer_rules(column: str, dtype: pl.DataType, source: str) -> list[RowRule]:
    """`column` must hold integers (an integer column, or text / numbers that are integers)."""
    value = pl.col(column)
    nulls = RowRule(column, value.is_null(), "must not be null", "null(s)", show_value=False)
    if dtype.is_integer():
        return [nulls]
    if dtype.is_float():
        return [nulls, RowRule(column, value.is_nan() | value.is_infinite()
                               | (value != value.round()), "must be an integer")]
    if dtype == pl.String:
        return [nulls, RowRule(column, value.is_not_null()
                               & value.str.strip_chars().cast(pl.Int64, strict=False).is_null(),
                               "must be an integer")]
    raise InputError(f"must be an integer column, got {dtype}", source=source, field=column)


def _duration_rules(column: str, dtype: pl.DataType, unit: str, source: str) -> list[RowRule]:
    """`column` must hold numbers >= 0 in `unit` (null: unknown, left to the latency model)."""
    value = pl.col(column)
    if dtype == pl.String:
        number = value.str.strip_chars().cast(pl.Float64, strict=False)
        rules = [RowRule(column, value.is_not_null() & number.is_null(),
                         f"must be a number of {unit}")]
    elif dtype.is_numeric():
        number = value.cast(pl.Float64)
        rules = []
    else:
        raise InputError(f"must be a numeric column ({unit}), got {dtype}", source=source,
                         field=column)
    return [*rules,
            RowRule(column, number.is_nan() | number.is_infinite(), f"must be a finite number of {unit}"),
            RowRule(column, number < 0, f"must be >= 0 {unit}", "row(s) are negative")]


def _integer(column: str, dtype: pl.DataType) -> pl.Expr:
    """`column` as Int64 (text stripped first), once its rules have been checked."""
    value = pl.col(column)
    return (value.str.strip_chars() if dtype == pl.String else value).cast(pl.Int64)


def _number(column: str, dtype: pl.DataType) -> pl.Expr:
    """`column` as float (text stripped first), once its rules have been checked."""
    value = pl.col(column)
    return (value.str.strip_chars() if dtype == pl.String else value).cast(pl.Float64)


def _utc(frame: pl.LazyFrame, column: str, dtype: pl.DataType, source: str) -> pl.Expr:
    """An expression turning `column` into naive-UTC datetimes, refusing text that is no ISO
    timestamp, nulls, and text timestamps in more than one zone (or some with and some without)."""
    nulls = RowRule(column, pl.col(column).is_null(), "must not be null (every query needs its "
                    "arrival time)", "null(s)", show_value=False)
    if isinstance(dtype, pl.Datetime):
        _refuse_bad_rows(frame, [nulls], source)
        if dtype.time_zone is None:
            return pl.col(column).cast(pl.Datetime("us"))
        return pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if dtype != pl.String:
        raise InputError(f"must be a timestamp, got {dtype}", source=source, field=column)
    text = pl.col(column).str.strip_chars()
    bare = text.str.replace(OFFSET.pattern, "")
    parsed = pl.coalesce([bare.str.strptime(pl.Datetime("us"), form, strict=False, exact=True)
                          for form in ISO_FORMATS])
    _refuse_bad_rows(frame, [nulls, RowRule(
        column, pl.col(column).is_not_null() & parsed.is_null(),
        "must be an ISO timestamp (e.g. 2026-11-02 10:00:00 or 2026-11-02T10:00:00Z)",
        "row(s) do not parse")], source)
    offsets = (frame.select(text.str.extract(OFFSET.pattern).fill_null("none").unique()
                            .alias("offset"))
               .collect(engine="streaming")["offset"].to_list())
    if len(offsets) > 1:
        shown = ", ".join(sorted(str(o) for o in offsets)[:4])
        raise InputError(f"timestamps in mixed time zones (offsets found: {shown}); export "
                         "them all in one zone", source=source, field=column)
    if not offsets or offsets[0] == "none":
        return parsed
    return parsed - pl.duration(minutes=_offset_minutes(offsets[0]))


def _offset_minutes(offset: str) -> int:
    """``Z`` -> 0, ``+02:00`` / ``+0200`` -> 120, ``-05:30`` -> -330."""
    if offset == "Z":
        return 0
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    return minutes if offset[0] == "+" else -minutes


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
    with _readable(source, "Redset log"):
        return _import_redset(frame, path, source, instance_id, out)


def _import_redset(frame: pl.LazyFrame, path: Path, source: str, instance_id: int,
                   out: Path) -> tuple[int, dt.datetime, int | None]:
    schema = _require(frame, REDSET_REQUIRED, source)
    frame = frame.filter(pl.col("instance_id") == instance_id)
    _refuse_bad_rows(frame, [*_integer_rules("query_id", schema["query_id"], source),
                             *_duration_rules("execution_duration_ms",
                                              schema["execution_duration_ms"], "milliseconds",
                                              source)], source)
    columns = [
        _integer("query_id", schema["query_id"]).alias("source_query_id"),
        _utc(frame, "arrival_timestamp", schema["arrival_timestamp"], source).alias("arrival_ts"),
        (pl.lit("fp") + pl.col("feature_fingerprint").cast(pl.String)).alias("template_id"),
        (_number("execution_duration_ms", schema["execution_duration_ms"]) / 1000)
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
    with _readable(source, "query history export"):
        return _import_query_history(frame, source, out, size)


def _import_query_history(frame: pl.LazyFrame, source: str, out: Path,
                          size: int | None) -> tuple[int, dt.datetime]:
    schema = _require(frame, HISTORY_REQUIRED, source)
    _refuse_bad_rows(frame, [*_integer_rules("query_id", schema["query_id"], source),
                             *_duration_rules("execution_time", schema["execution_time"],
                                              "microseconds", source)], source)
    normalized = normalize_sql(pl.col("query_text").cast(pl.String))
    texts = (frame.select(normalized.alias("t")).unique().collect(engine="streaming")["t"]
             .drop_nulls().to_list())
    names = {t: "t" + hashlib.sha256(t.encode()).hexdigest()[:10] for t in texts}
    columns = [
        _integer("query_id", schema["query_id"]).alias("source_query_id"),
        _utc(frame, "start_time", schema["start_time"], source).alias("arrival_ts"),
        normalized.replace_strict(names, default="t-empty", return_dtype=pl.String)
        .alias("template_id"),
        (_number("execution_time", schema["execution_time"]) / 1e6)
        .clip(lower_bound=MIN_RUNTIME_S).alias("runtime_s"),
    ]
    if "user_id" in schema:
        columns.append(pl.col("user_id").cast(pl.String).alias("user"))
    if "query_label" in schema:
        columns.append(pl.col("query_label").cast(pl.String).alias("query_group"))
    if size is not None:
        columns.append(pl.lit(float(size)).alias("runtime_size"))
    rows, start = _finish(frame.select(columns), out, source)
    return rows, start
