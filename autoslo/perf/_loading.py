"""Load a latency model from its folder (data/models/<name>/) by the kind its model.yml names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from autoslo.config import load_model
from autoslo.config._base import StrictModel
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel


class ModelMeta(StrictModel):
    """model.yml: which kind of model the folder holds and where it came from."""

    kind: Literal["table"]
    description: str = ""
    source: str = ""


def load_latency_model(reference: str | None, tree: DataTree) -> LatencyModel | None:
    """The model a config's ``latency_model.model`` names, or None (runtimes used as-is)."""
    if reference is None:
        return None
    folder = tree.ref(reference, field="latency_model.model")
    return load_model_folder(folder)


def load_model_folder(folder: Path) -> LatencyModel:
    """Read a model folder; errors name the file and the rule."""
    from autoslo.perf.table import TableModel

    meta = load_model(folder / "model.yml", ModelMeta)
    if meta.kind == "table":
        table_path = folder / "runtimes.csv"
        if not table_path.is_file():
            raise InputError("file does not exist (a table model needs it)",
                             source=display_path(table_path))
        try:
            table = pl.read_csv(table_path, schema_overrides={"template_id": pl.String,
                                                              "shape": pl.String})
        except Exception as exc:  # polars raises several types for malformed CSV
            raise InputError(f"is not a readable CSV file ({exc})",
                             source=display_path(table_path)) from None
        return TableModel(table, name=folder.name, source=display_path(table_path))
    raise InputError(f"kind: unknown latency model kind {meta.kind!r}",  # pragma: no cover
                     source=display_path(folder / "model.yml"))
