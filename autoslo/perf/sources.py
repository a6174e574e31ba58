"""Runtime rows from the files a user names: C3O TSV files or folders, or one calibration table.

The model commands (`autoslo model finetune/predict/recommend`) accept either format; this is
where the choice is made, so every command reads them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from autoslo.datatree import display_path
from autoslo.errors import AutosloError

if TYPE_CHECKING:
    import polars as pl

    from autoslo.datatree import DataTree

TABLE_SUFFIXES = (".csv", ".parquet")


def is_calibration_table(path: Path) -> bool:
    """Whether `path` names a calibration table (CSV or parquet) rather than C3O TSV data."""
    return path.suffix in TABLE_SUFFIXES


def runtime_rows(files: list[Path], suite: str, tree: DataTree, *, need_runtime: bool) -> pl.DataFrame:
    """Runtime rows from C3O TSV files/folders, or from one calibration table mapped by `suite`."""
    from autoslo.perf.c3o import load_c3o

    if not any(is_calibration_table(f) for f in files):
        return load_c3o(files, need_runtime=need_runtime)
    if len(files) != 1:
        raise AutosloError("give either C3O .tsv files/folders or one calibration table, not both")
    from autoslo.perf.calibration import read_calibration, template_rows
    from autoslo.workload.templates import load_suite

    table = read_calibration(files[0], need_runtime=need_runtime)
    return template_rows(table, load_suite(suite, tree).meta, display_path(files[0]),
                         need_runtime=need_runtime)


def input_table(path: Path) -> pl.DataFrame:
    """The rows of one input file as given (C3O columns without ``job``, or the calibration table)."""
    if path.suffix == ".tsv":
        from autoslo.perf.c3o import read_c3o

        return read_c3o(path, need_runtime=False).drop("job")
    from autoslo.perf.calibration import read_calibration

    return read_calibration(path, need_runtime=False)


def calibrated_templates(path: Path, suite: str, tree: DataTree) -> pl.DataFrame:
    """The suite's template features for the templates a calibration table measured."""
    import polars as pl

    from autoslo.perf.calibration import read_calibration, template_features
    from autoslo.workload.templates import load_suite

    used = set(read_calibration(path)["template_id"].to_list())
    return template_features(load_suite(suite, tree).meta).filter(
        pl.col("template_id").is_in(sorted(used)))
