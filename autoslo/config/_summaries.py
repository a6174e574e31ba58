"""What `autoslo validate` reports per file: status, problems, and the model's own one-line summary.

Each config model summarises itself (`StrictModel.summary`); a workload folder is summarised from
its queries table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from autoslo.config._loading import FILE_KINDS, MODELS, FileKind, infer_kind, load_model, parse_file
from autoslo.config._references import check_references
from autoslo.config.workload import WorkloadMeta, check_queries_table
from autoslo.datatree import DataTree, display_path
from autoslo.errors import AutosloError, InputError
from autoslo.ids import check_name, workload_id

Status = Literal["ok", "template", "pending", "error"]


@dataclass
class FileReport:
    """What validating one file found: status, a one-line summary, and problems."""

    path: Path
    kind: FileKind | None
    status: Status
    summary: str = ""
    needs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    used_params: set[str] = field(default_factory=set)


def inspect_file(
    path: Path,
    kind: FileKind | None,
    tree: DataTree,
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    resolve: bool = False,
) -> FileReport:
    """Validate one input file for `autoslo validate`; never raises for user mistakes."""
    source = display_path(path)
    kind = kind or infer_kind(path)
    if kind is None:
        return FileReport(path, None, "error", problems=[
            f"{source}: cannot tell what kind of file this is from its folder; pass --kind "
            f"({', '.join(FILE_KINDS)})"])
    try:
        if kind == "workload":
            return _inspect_workload(path, tree)
        if kind == "forecast" and path.is_dir():
            path = path / "forecast.yml"
        parsed = parse_file(path, MODELS[kind], params=params, overrides=overrides,
                            resolve=resolve)
        if parsed.model is None:
            return FileReport(path, kind, "template", summary="template",
                              needs=parsed.needs, used_params=parsed.used_params)
        problems = check_references(parsed.model, tree)
        errors = [f"{source}: {f}: {m}" for f, m, pending in problems if not pending]
        pending = [f"{f}: {m}" for f, m, is_pending in problems if is_pending]
        if kind == "execution-config" and not errors and not parsed.needs:
            name = path.stem
            check_name(name, "execution config name", source=source)
        status: Status = "error" if errors else ("pending" if pending else "ok")
        return FileReport(path, kind, status, summary=parsed.model.summary(),
                          problems=errors or pending, used_params=parsed.used_params)
    except AutosloError as exc:
        return FileReport(path, kind, "error", problems=str(exc).splitlines())


def _inspect_workload(path: Path, tree: DataTree) -> FileReport:
    if path.is_file() and path.name not in ("workload.yml", "queries.parquet"):
        raise InputError("a workload is a folder (queries.parquet + workload.yml), got a file",
                         source=display_path(path))
    folder = path if path.is_dir() else path.parent
    meta_path = folder / "workload.yml"
    meta = load_model(meta_path, WorkloadMeta)
    expected = workload_id(meta.name, meta.parameters)
    if folder.name != expected:
        raise InputError(f"the folder must be named after the workload id {expected!r} (name "
                         f"plus parameters), got {folder.name!r}", source=display_path(meta_path))
    facts = check_queries_table(folder / "queries.parquet",
                                display_path(folder / "queries.parquet"), meta.queries)
    summary = (f"{facts['rows']} queries, {facts['templates']} templates, "
               f"{facts['duration_s'] / 3600:.2f} h"
               + (", runtimes given" if facts["has_runtime"] else ""))
    return FileReport(folder, "workload", "ok", summary=summary)
