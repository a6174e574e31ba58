"""Runtime rows: the one table every runtime model trains on and predicts for.

A row is a context (its properties) plus a scale-out and, for training, the measured runtime.
Columns: the properties of `PROPERTIES` (missing values are null), ``scale_out`` (float > 0:
instances, nodes or RPUs) and ``runtime_s`` (float > 0). Spark jobs (C3O) and warehouse query
templates map onto the same properties, so one pretrained model can be fine-tuned for either:

| property | C3O job | warehouse template |
|---|---|---|
| job | file stem (``grep``) | ``<suite>/<template_id>`` |
| machine_type | EC2 type | shape key (``serverless``, ``provisioned:ra3.xlplus``) |
| data_size_mb | data_size_MB | (missing: templates carry no scanned MB) |
| arg1..arg3 | job-specific columns in file order | scans, joins, aggregations |
| slots_per_node, memory_per_node_mb (optional) | slots, memory / instance_count | (missing) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from autoslo.errors import InputError

PropertyKind = Literal["text", "number"]


@dataclass(frozen=True)
class Property:
    """One context property: required ones are concatenated, optional ones pooled."""

    name: str
    kind: PropertyKind
    required: bool


PROPERTIES: tuple[Property, ...] = (
    Property("job", "text", True),
    Property("machine_type", "text", True),
    Property("data_size_mb", "number", True),
    Property("arg1", "number", True),
    Property("arg2", "number", True),
    Property("arg3", "number", True),
    Property("slots_per_node", "number", False),
    Property("memory_per_node_mb", "number", False),
)
PROPERTY_NAMES: tuple[str, ...] = tuple(p.name for p in PROPERTIES)
SCHEMA: dict[str, pl.DataType] = {
    **{p.name: (pl.String() if p.kind == "text" else pl.Float64()) for p in PROPERTIES},
    "scale_out": pl.Float64(), "runtime_s": pl.Float64(),
}


def empty_rows() -> pl.DataFrame:
    """A rows table with no rows (the schema every adapter fills)."""
    return pl.DataFrame(schema=SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing property columns as nulls and cast to the rows schema, in schema order."""
    columns = []
    for name, dtype in SCHEMA.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(columns)


def context_ids(rows: pl.DataFrame) -> pl.Series:
    """A readable id per row's context (its property values joined by ``|``)."""
    parts = [pl.col(n).cast(pl.String).fill_null("") for n in PROPERTY_NAMES]
    return rows.select(pl.concat_str(parts, separator="|").alias("context")).to_series()


def configuration_ids(rows: pl.DataFrame) -> pl.Series:
    """A configuration id per row: its context and scale-out (repetitions share it)."""
    return context_ids(rows) + "@" + rows["scale_out"].cast(pl.String)


def check_rows(rows: pl.DataFrame, source: str, *, need_runtime: bool) -> None:
    """Refuse empty tables and non-positive scale-outs or runtimes (one line, naming the file)."""
    if rows.height == 0:
        raise InputError("has no data rows", source=source)
    bad = rows.filter(pl.col("scale_out").is_null() | (pl.col("scale_out") <= 0)
                      | pl.col("scale_out").is_nan())
    if bad.height:
        raise InputError(f"scale-out must be a number > 0 in every row, got {bad['scale_out'][0]!r}",
                         source=source)
    if need_runtime:
        runtime = rows["runtime_s"]
        if runtime.null_count() or bool((runtime <= 0).any()) or bool(runtime.is_nan().any()):
            raise InputError("runtime must be a number > 0 in every row", source=source)
