"""Loading config files: which model reads which file, and reading one file into its model.

A file is read as YAML, `--set` overrides are applied, placeholders are filled (see
`_placeholders`), and the result is validated by the file kind's model; every problem is reported
at once, each naming its field.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from autoslo.config._base import StrictModel, format_path, translate_errors
from autoslo.config._placeholders import Substitution, near, refuse_unresolved, substitute
from autoslo.config._yaml import DataPath, apply_overrides, read_yaml, split_path
from autoslo.config.execution import ExecutionConfig
from autoslo.config.generator import GeneratorSpec
from autoslo.config.manifests import ExecutionManifest, PlottingManifest, TuningManifest
from autoslo.config.model_search import ModelSearch
from autoslo.config.prices import PriceTable
from autoslo.config.slo import SloSpec
from autoslo.config.suite import SuiteMeta
from autoslo.config.tuner import TunerConfig
from autoslo.config.workload import ForecastMeta, WorkloadMeta
from autoslo.datatree import DataTree, display_path
from autoslo.errors import ConfigValidationError, InputError

FileKind = Literal[
    "execution-config", "tuner-config", "slo", "prices", "tuning-manifest",
    "execution-manifest", "plotting-manifest", "workload", "generator-spec", "template-suite",
    "forecast", "model-search",
]
FILE_KINDS: tuple[FileKind, ...] = (
    "execution-config", "tuner-config", "slo", "prices", "tuning-manifest",
    "execution-manifest", "plotting-manifest", "workload", "generator-spec", "template-suite",
    "forecast", "model-search",
)
MODELS: dict[FileKind, type[StrictModel]] = {
    "execution-config": ExecutionConfig,
    "tuner-config": TunerConfig,
    "slo": SloSpec,
    "prices": PriceTable,
    "tuning-manifest": TuningManifest,
    "execution-manifest": ExecutionManifest,
    "plotting-manifest": PlottingManifest,
    "workload": WorkloadMeta,
    "generator-spec": GeneratorSpec,
    "template-suite": SuiteMeta,
    "forecast": ForecastMeta,
    "model-search": ModelSearch,
}
_FOLDER_KINDS: dict[str, FileKind] = {
    "execution_configs": "execution-config", "tuner_configs": "tuner-config", "slos": "slo",
    "prices": "prices", "generators": "generator-spec", "model_searches": "model-search",
}
_MANIFEST_KINDS: dict[str, FileKind] = {
    "tuning": "tuning-manifest", "execution": "execution-manifest",
    "plotting": "plotting-manifest",
}

SHARED_KEYS = {"description", "name"}

M = TypeVar("M", bound=BaseModel)


# ---- reading one file -----------------------------------------------------------------------

@dataclass
class Parsed:
    """A validated file: the model (None if placeholders are left) and what it still needs."""

    model: StrictModel | None
    needs: list[str] = field(default_factory=list)
    used_params: set[str] = field(default_factory=set)


def _filled(path: Path, params: Mapping[str, Any] | None,
            overrides: Mapping[str, Any] | None) -> tuple[str, Substitution, set[DataPath]]:
    """(source, the data with overrides applied and placeholders filled, the overridden paths)."""
    source = display_path(path)
    raw = read_yaml(path, source)
    overrides = dict(overrides or {})
    try:
        data = apply_overrides(raw, overrides)
    except InputError as exc:
        raise InputError(exc.rule, source=source) from None
    return source, substitute(data, params or {}), {split_path(k) for k in overrides}


def _refuse_other_kind(source: str, data: Any, model_cls: type[BaseModel]) -> None:
    """A mapping none of whose top-level keys the expected kind knows is one mistake (the wrong
    file), so it is one line naming the kind it looks like, not one line per unknown key."""
    if not isinstance(data, dict) or not data:
        return
    fields = set(model_cls.model_fields)
    keys = [str(k) for k in data]
    telling = set(keys) - SHARED_KEYS  # keys every kind may have say nothing about the kind
    if not telling or fields & telling:
        return
    kind = next((k for k, m in MODELS.items() if m is model_cls), model_cls.__name__)
    overlap = sorted(((len(telling & set(m.model_fields)), k) for k, m in MODELS.items()
                      if m is not model_cls), reverse=True)
    looks = f"; it looks like a file of kind {overlap[0][1]}" if overlap and overlap[0][0] else ""
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    raise InputError(f"is not a file of kind {kind}: none of its top-level keys ({shown}) is one "
                     f"of its keys ({', '.join(sorted(fields))}){looks}", source=source)


def _problems(exc: ValidationError, sub: Substitution, model_cls: type[BaseModel],
              overridden: Iterable[DataPath]) -> list[tuple[str, str]]:
    """The validation problems as (field, rule), leaving out those a placeholder may still fix."""
    overridden = list(overridden)
    return [(format_path(p) + (" (from --set)" if near(p, overridden) else ""), rule)
            for p, rule in translate_errors(exc, sub.data, model_cls)
            if not near(p, sub.unresolved)]


def read_model(
    path: Path,
    model_cls: type[M],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[M, set[str]]:
    """Read, fill and validate one file (every placeholder filled): the model and the params used."""
    source, sub, overridden = _filled(path, params, overrides)
    refuse_unresolved(sub, source)
    _refuse_other_kind(source, sub.data, model_cls)
    try:
        return model_cls.model_validate(sub.data), set(sub.used)
    except ValidationError as exc:
        raise ConfigValidationError(source, _problems(exc, sub, model_cls, overridden)) from None


def load_model(
    path: Path,
    model_cls: type[M],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Read, fill and validate one file; every placeholder must be filled."""
    return read_model(path, model_cls, params=params, overrides=overrides)[0]


def parse_file(
    path: Path,
    model_cls: type[StrictModel],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    resolve: bool = True,
) -> Parsed:
    """Read `path` as `model_cls`; without `resolve`, a file with placeholders left is a template."""
    if resolve:
        model, used = read_model(path, model_cls, params=params, overrides=overrides)
        return Parsed(model=model, used_params=used)
    source, sub, overridden = _filled(path, params, overrides)
    _refuse_other_kind(source, sub.data, model_cls)
    model: StrictModel | None = None
    try:
        model = model_cls.model_validate(sub.data)
    except ValidationError as exc:
        problems = _problems(exc, sub, model_cls, overridden)
        if problems:
            raise ConfigValidationError(source, problems) from None
    return Parsed(model=None if sub.unresolved else model, needs=sub.missing_names,
                  used_params=set(sub.used))


# ---- kinds of files and discovery ------------------------------------------------------------

def infer_kind(path: Path) -> FileKind | None:
    """Tell a file's kind from where it sits (``.../manifests/tuning/x.yml``, ``.../slos/x.yml``)."""
    if (path.is_dir() and (path / "workload.yml").is_file()) or path.name == "workload.yml":
        return "workload"
    if path.name == "suite.yml":
        return "template-suite"
    if (path.is_dir() and (path / "forecast.yml").is_file()) or path.name == "forecast.yml":
        return "forecast"
    # where the file is as given first (a symlink placed in the tree has the kind of its place,
    # as when the tree is validated), then where it points to
    for where in (Path(os.path.abspath(path)), path.resolve()):
        parents = [p.name for p in where.parents]
        if len(parents) >= 2 and parents[1] == "manifests" and parents[0] in _MANIFEST_KINDS:
            return _MANIFEST_KINDS[parents[0]]
        for name in parents:
            if name in _FOLDER_KINDS:
                return _FOLDER_KINDS[name]
    return None


def discover_inputs(tree: DataTree) -> list[tuple[Path, FileKind]]:
    """Every input file under the data root, each with its kind, in a stable order."""
    found: list[tuple[Path, FileKind]] = []
    root = tree.root
    for folder, kind in _FOLDER_KINDS.items():
        for path in sorted((root / folder).rglob("*.yml")) if (root / folder).is_dir() else []:
            if not any(part.startswith(".") for part in path.relative_to(root).parts):
                found.append((path, kind))
    for sub, kind in _MANIFEST_KINDS.items():
        folder = root / "manifests" / sub
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            found.append((path, kind))
    templates = root / "templates"
    for path in sorted(templates.glob("*/suite.yml")) if templates.is_dir() else []:
        found.append((path, "template-suite"))
    workloads = root / "workloads"
    for path in sorted(workloads.iterdir()) if workloads.is_dir() else []:
        if path.is_dir() and not path.name.startswith("."):
            found.append((path, "forecast" if (path / "forecast.yml").is_file() and not (
                path / "workload.yml").is_file() else "workload"))
    return found
