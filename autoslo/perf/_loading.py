"""Load a latency model from its folder (data/models/<name>/) by the kind its model.yml names.

Kinds: ``table`` and ``ernest`` (a calibration table in ``runtimes.csv``), ``bellamy`` (the neural
model, fine-tuned on a calibration table). Every model.yml may carry ``format_version`` (each
kind has its own); a folder of another format is refused with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import yaml

from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel

KINDS = ("table", "ernest", "bellamy")


def load_latency_model(reference: str | None, tree: DataTree) -> LatencyModel | None:
    """The model a config's ``latency_model.model`` names, or None (runtimes used as-is)."""
    if reference is None:
        return None
    folder = tree.ref(reference, field="latency_model.model")
    return load_model_folder(folder)


def read_model_meta(folder: Path) -> dict[str, Any]:
    """model.yml as a mapping, with its kind and format version checked."""
    path = folder / "model.yml"
    source = display_path(path)
    if not path.is_file():
        raise InputError("does not exist (a model folder needs a model.yml)", source=source)
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"is not valid YAML ({str(exc).splitlines()[0]})", source=source) from None
    if not isinstance(meta, dict):
        raise InputError("must be a mapping of keys to values", source=source)
    if meta.get("kind") not in KINDS:
        raise InputError(f"must be one of {', '.join(KINDS)}, got {meta.get('kind')!r}",
                         source=source, field="kind")
    expected = format_version(meta["kind"])
    version = meta.get("format_version", expected)
    if version != expected:
        raise InputError(f"this {meta['kind']} model has format version {version!r}, but this "
                         f"autoslo reads format {expected}; re-create it with this version "
                         "(autoslo model pretrain / finetune)", source=source,
                         field="format_version")
    return meta


def format_version(kind: str) -> int:
    """The folder format this autoslo reads for a kind of model; each kind's module owns its own."""
    if kind == "table":
        from autoslo.perf import table

        return table.FORMAT_VERSION
    if kind == "ernest":
        from autoslo.perf import ernest

        return ernest.FORMAT_VERSION
    from autoslo.perf.bellamy import FORMAT_VERSION

    return FORMAT_VERSION


def _calibration_table(folder: Path) -> tuple[pl.DataFrame, str]:
    from autoslo.perf.calibration import read_calibration

    table_path = folder / "runtimes.csv"
    return read_calibration(table_path), display_path(table_path)


def load_model_folder(folder: Path) -> LatencyModel:
    """Read a model folder as a latency model; errors name the file and the rule."""
    meta = read_model_meta(folder)
    if meta["kind"] == "table":
        from autoslo.perf.table import TableModel

        table, source = _calibration_table(folder)
        return TableModel(table, name=folder.name, source=source)
    if meta["kind"] == "ernest":
        from autoslo.perf.ernest import ErnestModel

        table, source = _calibration_table(folder)
        return ErnestModel(table, name=folder.name, source=source)
    from autoslo.perf.bellamy import BellamyLatencyModel, load_bellamy

    return BellamyLatencyModel(load_bellamy(folder, meta), folder.name, display_path(folder))
