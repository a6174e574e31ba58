"""The C3O data format: one TSV per Spark job, the job named by the file's stem (``grep.tsv``).

Columns: ``instance_count`` (the scale-out), ``machine_type``, ``slots`` and ``memory`` (cluster
totals), ``data_size_MB``, then up to three job-specific columns, then ``gross_runtime`` (seconds;
optional in files to predict for). Each row maps onto the runtime rows of `autoslo.perf._rows`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from autoslo.datatree import display_path
from autoslo.errors import InputError
from autoslo.perf._rows import check_rows, conform

COMMON = ("instance_count", "machine_type", "slots", "memory", "data_size_MB")
TARGET = "gross_runtime"
MAX_ARGS = 3


def c3o_files(paths: list[Path]) -> list[Path]:
    """The TSV files named, folders expanded to their ``*.tsv`` (sorted); none is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.tsv"))
            if not found:
                raise InputError("folder holds no .tsv files", source=display_path(path))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("does not exist", source=display_path(path))
    return files


def read_c3o(path: Path, *, need_runtime: bool = True) -> pl.DataFrame:
    """Read one C3O TSV as it is (all original columns plus ``job``), checked column by column."""
    source = display_path(path)
    if path.suffix != ".tsv":
        raise InputError(f"C3O data must be a .tsv file, got {path.suffix or 'no suffix'!r}",
                         source=source)
    try:
        raw = pl.read_csv(path, separator="\t", infer_schema=False)
    except pl.exceptions.NoDataError:
        raise InputError("is empty", source=source) from None
    except Exception as exc:  # polars raises several types for malformed files
        raise InputError(f"is not a readable TSV file ({exc})", source=source) from None
    needed = [*COMMON, TARGET] if need_runtime else list(COMMON)
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (C3O format: "
                         f"{', '.join(COMMON)}, job-specific columns, {TARGET})", source=source)
    if raw.height == 0:
        raise InputError("has no data rows", source=source)
    args = job_arguments(raw)
    if len(args) > MAX_ARGS:
        raise InputError(f"at most {MAX_ARGS} job-specific columns are supported, got "
                         f"{', '.join(args)}", source=source)
    numeric = ["instance_count", "slots", "memory", "data_size_MB", *args]
    if TARGET in raw.columns:
        numeric.append(TARGET)
    casts = []
    for column in numeric:
        as_float = raw[column].cast(pl.Float64, strict=False)
        bad = raw.filter(as_float.is_null() & raw[column].is_not_null())
        if bad.height or (column != TARGET and as_float.null_count()):
            value = bad[column][0] if bad.height else None
            raise InputError(f"must be a number in every row, got {value!r}", source=source,
                             field=column)
        casts.append(as_float.alias(column))
    return raw.with_columns(casts).with_columns(pl.lit(path.stem).alias("job"))


def job_arguments(raw: pl.DataFrame) -> list[str]:
    """The job-specific columns: everything between the common columns and the runtime."""
    return [c for c in raw.columns if c not in (*COMMON, TARGET, "job")]


def c3o_rows(raw: pl.DataFrame, source: str, *, need_runtime: bool = True) -> pl.DataFrame:
    """Map checked C3O rows onto the runtime-rows table (see `autoslo.perf._rows`)."""
    args = job_arguments(raw)
    columns = [
        pl.col("job"),
        pl.col("machine_type").cast(pl.String),
        pl.col("data_size_MB").alias("data_size_mb"),
        *[pl.col(a).alias(f"arg{i + 1}") for i, a in enumerate(args)],
        (pl.col("slots") / pl.col("instance_count")).alias("slots_per_node"),
        (pl.col("memory") / pl.col("instance_count")).alias("memory_per_node_mb"),
        pl.col("instance_count").alias("scale_out"),
    ]
    if TARGET in raw.columns:
        columns.append(pl.col(TARGET).alias("runtime_s"))
    rows = conform(raw.select(columns))
    check_rows(rows, source, need_runtime=need_runtime)
    return rows


def load_c3o(paths: list[Path], *, need_runtime: bool = True) -> pl.DataFrame:
    """Read C3O files or folders into one runtime-rows table."""
    frames = [c3o_rows(read_c3o(f, need_runtime=need_runtime), display_path(f),
                       need_runtime=need_runtime) for f in c3o_files(paths)]
    return pl.concat(frames, how="vertical")
