"""Calibration tables: measured isolated runtimes of warehouse templates at cluster sizes.

Format (CSV or parquet, one row per measured run; repeats allowed): ``template_id`` (text, a
template of the suite), ``shape`` (``serverless`` or ``provisioned:<node_type>``), ``size`` (RPUs or
nodes, > 0) and ``runtime_s`` (seconds, > 0; optional in tables to predict for). The live
calibration runs write it; `TableModel`, Ernest and the fine-tuned neural model read it. Templates
become runtime rows through their suite's features (see `autoslo.perf._rows`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from autoslo.config.suite import SuiteMeta
from autoslo.datatree import display_path
from autoslo.errors import InputError
from autoslo.perf._rows import check_rows, conform

COLUMNS = ("template_id", "shape", "size", "runtime_s")


def read_calibration(path: Path, *, need_runtime: bool = True) -> pl.DataFrame:
    """Read and check a calibration table (CSV or parquet); errors name the file and column."""
    source = display_path(path)
    if not path.is_file():
        raise InputError("does not exist", source=source)
    try:
        if path.suffix == ".parquet":
            table = pl.read_parquet(path)
        elif path.suffix == ".csv":
            table = pl.read_csv(path, infer_schema=False)
        else:
            raise InputError(f"a calibration table must be .csv or .parquet, got "
                             f"{path.suffix or 'no suffix'!r}", source=source)
    except pl.exceptions.NoDataError:
        raise InputError("is empty", source=source) from None
    except InputError:
        raise
    except Exception as exc:  # polars raises several types for malformed files
        raise InputError(f"is not a readable table ({exc})", source=source) from None
    needed = COLUMNS if need_runtime else COLUMNS[:3]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (calibration table: "
                         f"{', '.join(COLUMNS)})", source=source)
    if table.height == 0:
        raise InputError("has no data rows", source=source)
    casts = [pl.col("template_id").cast(pl.String), pl.col("shape").cast(pl.String)]
    for column in ("size", "runtime_s"):
        if column not in table.columns:
            continue
        as_float = table[column].cast(pl.Float64, strict=False)
        bad = table.filter(as_float.is_null())
        if bad.height:
            raise InputError(f"must be a number in every row, got {bad[column][0]!r}",
                             source=source, field=column)
        casts.append(as_float.alias(column))
    table = table.with_columns(casts)
    for column in ("template_id", "shape"):
        if table[column].null_count() or bool((table[column].str.len_chars() == 0).any()):
            raise InputError("must not be empty in any row", source=source, field=column)
    return table


def template_rows(table: pl.DataFrame, suite: SuiteMeta, source: str, *,
                  need_runtime: bool = True) -> pl.DataFrame:
    """Map calibration rows onto runtime rows using the suite's template features."""
    unknown = sorted(set(table["template_id"].to_list()) - set(suite.templates))
    if unknown:
        raise InputError(f"template {unknown[0]!r} is not in suite {suite.name!r}", source=source,
                         field="template_id")
    features = template_features(suite)
    rows = table.join(features, on="template_id", how="left", maintain_order="left").select(
        "job", pl.col("shape").alias("machine_type"), "arg1", "arg2", "arg3",
        pl.col("size").alias("scale_out"),
        *(["runtime_s"] if "runtime_s" in table.columns else []))
    rows = conform(rows)
    check_rows(rows, source, need_runtime=need_runtime)
    return rows


def template_features(suite: SuiteMeta) -> pl.DataFrame:
    """One row per template: its job name (``suite/template``) and scans, joins, aggregations."""
    ids = list(suite.templates)
    return pl.DataFrame({
        "template_id": ids,
        "job": [f"{suite.name}/{t}" for t in ids],
        "arg1": [float(suite.templates[t].scans) for t in ids],
        "arg2": [float(suite.templates[t].joins) for t in ids],
        "arg3": [float(suite.templates[t].aggregations) for t in ids],
    })
