"""Workload metadata (data/workloads/<workload_id>/workload.yml) and the queries table contract.

`queries.parquet` holds one row per query: `query_id` (int), `arrival_s` (seconds from `start`),
`template_id` (str); optionally `query_group`, `user`, `runtime_s` (isolated runtime measured at
`runtime_size`, or at the workload's `reference` size, or used as-is), `runtime_size`, `sql`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from autoslo.config._base import IsoDate, StrictModel, ZonedTimestamp, at_least, safe_name
from autoslo.config.shapes import ClusterShape
from autoslo.errors import InputError

Scalar = str | int | float | bool | dt.date

REQUIRED_COLUMNS = {"query_id": "integer", "arrival_s": "number", "template_id": "string"}
OPTIONAL_COLUMNS = {"query_group": "string", "user": "string", "runtime_s": "number",
                    "runtime_size": "number", "sql": "string"}


class WorkloadSource(StrictModel):
    """Where a workload came from, for provenance."""

    kind: Literal["generated", "imported", "forecast", "recorded"]
    details: dict[str, Scalar] = {}


class WorkloadMeta(StrictModel):
    """What workload.yml records: identity, origin and the clock the arrivals count from."""

    name: Annotated[str, AfterValidator(safe_name)]
    parameters: dict[str, Scalar] = {}
    description: str = ""
    start: ZonedTimestamp
    source: WorkloadSource
    queries: Annotated[int, AfterValidator(at_least(0))]
    reference: ClusterShape | None = Field(
        default=None, description="cluster size that runtime_s was measured at, if known")


class ForecastMeta(StrictModel):
    """forecast.yml: how a forecast folder (data/workloads/<name>/) was made."""

    name: str
    history: str
    date: IsoDate
    method: Literal["yesterday", "same_weekday", "ewma", "seasonal"]
    seed: int
    scenarios: list[str]
    backtest_mape: dict[str, float] = {}

    def summary(self) -> str:
        """The forecast date, its history and method, and how many scenarios it made."""
        return (f"{self.date} from {self.history} by {self.method}; "
                f"{len(self.scenarios)} scenario(s)")


def check_queries_table(path: Path, source: str, expected_rows: int | None) -> dict[str, Any]:
    """Read a queries.parquet and check it against the contract; return facts for summaries."""
    import polars as pl

    if not path.exists():
        raise InputError("file does not exist", source=source)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(f"is not a readable parquet file ({type(exc).__name__})",
                         source=source) from None
    return check_queries_frame(frame, source, expected_rows)


def check_queries_frame(frame: Any, source: str, expected_rows: int | None) -> dict[str, Any]:
    """Check a queries table (polars DataFrame) against the contract.

    Problems raise InputError naming the column and rule. Unknown extra columns are allowed.
    """
    import polars as pl

    schema = frame.schema
    for column in REQUIRED_COLUMNS:
        if column not in schema:
            raise InputError(f"required column is missing (columns: {', '.join(schema)})",
                             source=source, field=column)
    for column, kind in {**REQUIRED_COLUMNS, **OPTIONAL_COLUMNS}.items():
        if column not in schema:
            continue
        dtype = schema[column]
        ok = {"integer": dtype.is_integer(), "number": dtype.is_numeric(),
              "string": dtype in (pl.String, pl.Categorical)}[kind]
        if not ok:
            raise InputError(f"must be of {kind} type, got {dtype}", source=source, field=column)
    for column in REQUIRED_COLUMNS:
        nulls = frame[column].null_count()
        if nulls:
            raise InputError(f"must not be null, got {nulls} null(s)", source=source, field=column)
    arrival = frame["arrival_s"].cast(pl.Float64)
    if arrival.is_nan().any() or arrival.is_infinite().any():
        raise InputError("must be finite, got NaN or infinity", source=source, field="arrival_s")
    if frame.height and arrival.min() < 0:  # type: ignore[operator]
        row = int(arrival.arg_min())  # type: ignore[arg-type]
        raise InputError(f"must be >= 0 (seconds from the workload start), got "
                         f"{arrival[row]} at row {row}", source=source, field="arrival_s")
    ids = frame["query_id"].to_numpy()
    increasing = ids.size < 2 or bool((ids[1:] > ids[:-1]).all())  # the usual case, cheaply
    if not increasing and frame["query_id"].n_unique() != frame.height:
        dup = frame["query_id"].filter(frame["query_id"].is_duplicated()).min()
        raise InputError(f"must be unique, got {dup} more than once", source=source,
                         field="query_id")
    if "runtime_s" in schema:
        runtime = frame["runtime_s"].cast(pl.Float64).drop_nulls()
        if runtime.is_nan().any() or runtime.is_infinite().any():
            raise InputError("must be finite (use null to let the latency model decide), got NaN "
                             "or infinity", source=source, field="runtime_s")
        if runtime.len() and runtime.min() <= 0:  # type: ignore[operator]
            raise InputError(f"must be > 0, got {runtime.min()}", source=source, field="runtime_s")
    if expected_rows is not None and frame.height != expected_rows:
        raise InputError(f"workload.yml says queries: {expected_rows}, but queries.parquet has "
                         f"{frame.height} rows", source=source)
    return {
        "rows": frame.height,
        "templates": frame["template_id"].n_unique(),
        "duration_s": float(arrival.max()) if frame.height else 0.0,  # type: ignore[arg-type]
        "has_runtime": "runtime_s" in schema,
    }
