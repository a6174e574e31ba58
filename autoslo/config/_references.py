"""References between files: what each file points to, checking the targets, resolving configs.

Configs name other parts of the data tree by data-relative paths (a price table, a workload, a
model folder, another config, a tuner run). An execution config is *resolved* for use once its
references are checked and its price table is inlined, so its id hashes what it really runs with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from autoslo.config._loading import load_model, read_model
from autoslo.config._placeholders import check_params_used
from autoslo.config.execution import ExecutionConfig, FittedContention
from autoslo.config.generator import GeneratorSpec
from autoslo.config.manifests import (
    CombinationPoint,
    ConfigFile,
    ExecutionManifest,
    PlottingManifest,
    TunedConfig,
    TunerPoint,
    TuningManifest,
)
from autoslo.config.prices import PriceTable
from autoslo.config.suite import SuiteMeta
from autoslo.config.tuner import FixedWorkload, TunerConfig
from autoslo.config.workload import ForecastMeta
from autoslo.datatree import DataTree, display_path
from autoslo.errors import AutosloError, ConfigValidationError
from autoslo.ids import check_name, execution_config_id

RefKind = Literal["file", "workload", "model", "execution-config", "tuner-config", "tuned",
                  "tuner-run", "suite"]


@dataclass(frozen=True)
class Reference:
    """A data-relative reference inside a file, with where it sits and what it must point to."""

    field: str
    value: str
    kind: RefKind
    params: Mapping[str, Any] | None = None
    overrides: Mapping[str, Any] | None = None


def references(model: BaseModel) -> list[Reference]:
    """Every reference a validated model makes to other parts of the data tree."""
    refs: list[Reference] = []
    if isinstance(model, ExecutionConfig):
        if isinstance(model.prices, str):
            refs.append(Reference("prices", model.prices, "file"))
        if model.latency_model.model is not None:
            refs.append(Reference("latency_model.model", model.latency_model.model, "model"))
        if isinstance(model.contention, FittedContention):
            refs.append(Reference("contention.path", model.contention.path, "model"))
    elif isinstance(model, TunerConfig):
        wl = model.workload
        if isinstance(wl, FixedWorkload):
            refs.append(Reference("workload.path", wl.path, "workload"))
        else:
            refs.append(Reference("workload.history", wl.history, "workload"))
        refs.append(Reference("slo", model.slo, "file"))
    elif isinstance(model, GeneratorSpec):
        refs.append(Reference("suite", model.suite, "suite", {"mix": list(model.mix)}))
    elif isinstance(model, ForecastMeta):
        refs.append(Reference("history", f"workloads/{model.history}", "workload"))
        for i, scenario in enumerate(model.scenarios):
            refs.append(Reference(f"scenarios[{i}]", f"workloads/{scenario}", "workload"))
    elif isinstance(model, SuiteMeta):
        for template_id, template in model.templates.items():
            if template.file is not None:
                refs.append(Reference(f"templates.{template_id}.file",
                                      f"templates/{model.name}/{template.file}", "file"))
    elif isinstance(model, TuningManifest):
        for name, run in model.runs.items():
            refs.append(Reference(f"runs.{name}.execution_config", run.execution_config,
                                  "execution-config", run.params, run.set))
            refs.append(Reference(f"runs.{name}.tuner_config", run.tuner_config, "tuner-config",
                                  run.params, {}))
    elif isinstance(model, ExecutionManifest):
        for i, wl_ref in enumerate(model.workloads):
            refs.append(Reference(f"workloads[{i}]", wl_ref, "workload"))
        for i, ref in enumerate(model.execution_configs):
            refs.append(_config_ref(f"execution_configs[{i}]", ref))
    elif isinstance(model, PlottingManifest):
        for i, panel in enumerate(model.panels):
            if panel.slo is not None:
                refs.append(Reference(f"panels[{i}].slo", panel.slo, "file"))
            for j, point in enumerate(panel.points):
                where = f"panels[{i}].points[{j}]"
                if isinstance(point, TunerPoint):
                    refs.append(Reference(f"{where}.tuner_run", point.tuner_run, "tuner-run"))
                elif isinstance(point, CombinationPoint):
                    refs.append(Reference(f"{where}.workload", point.workload, "workload"))
                    refs.append(_config_ref(f"{where}.execution_config", point.execution_config))
    return refs


def _config_ref(where: str, ref: ConfigFile | TunedConfig) -> Reference:
    if isinstance(ref, TunedConfig):
        return Reference(f"{where}.tuned", ref.tuned, "tuned")
    return Reference(f"{where}.path", ref.path, "execution-config", ref.params, ref.set)


def check_references(
    model: BaseModel, tree: DataTree, *, deep: bool = True
) -> list[tuple[str, str, bool]]:
    """Check each reference; returns (field, message, is_pending) for every problem.

    With `deep`, referenced execution and tuner configs are also resolved with the values the
    referring file gives them, so a manifest fails now rather than halfway through a run.
    """
    problems: list[tuple[str, str, bool]] = []
    for ref in references(model):
        try:
            if ref.kind == "tuned":
                if not tree.tuned_config(ref.value).exists():
                    problems.append((ref.field, f"tuner run {ref.value!r} has not written "
                                     f"{display_path(tree.tuned_config(ref.value))} yet", True))
                continue
            if ref.kind == "tuner-run":
                if not tree.tuner_run_dir(ref.value).exists():
                    problems.append((ref.field, f"tuner run {ref.value!r} has not run yet "
                                     f"({display_path(tree.tuner_run_dir(ref.value))})", True))
                continue
            if ref.kind == "suite":
                suite_file = tree.template_suite_dir(ref.value) / "suite.yml"
                if not suite_file.is_file():
                    problems.append((ref.field, f"template suite {ref.value!r} does not exist "
                                     f"(no {display_path(suite_file)})", False))
                    continue
                suite = load_model(suite_file, SuiteMeta)
                missing = [t for t in (ref.params or {}).get("mix", [])
                           if t not in suite.templates]
                if missing:
                    problems.append(("mix", f"template {missing[0]!r} is not in suite "
                                     f"{ref.value!r}", False))
                continue
            target = tree.ref(ref.value)
            if ref.kind == "workload":
                if not (target / "workload.yml").is_file():
                    problems.append((ref.field, f"workload folder {display_path(target)} does "
                                     "not exist (it needs a workload.yml)", False))
            elif ref.kind == "model":
                if not (target / "model.yml").is_file():
                    problems.append((ref.field, f"model folder {display_path(target)} does not "
                                     "exist (it needs a model.yml)", False))
            elif not target.is_file():
                problems.append((ref.field, f"file {display_path(target)} does not exist", False))
            elif deep and ref.kind == "execution-config":
                resolve_execution_config(target, params=ref.params, overrides=ref.overrides,
                                         tree=tree, check_unused=False)
            elif deep and ref.kind == "tuner-config":
                load_model(target, TunerConfig, params=ref.params)
        except AutosloError as exc:
            problems.append((ref.field, str(exc).replace("\n", "; "), False))
    return problems


# ---- execution configs, resolved -------------------------------------------------------------

def inline_contention(config: ExecutionConfig, tree: DataTree) -> ExecutionConfig:
    """A fitted contention reference with the folder's parameters (its `sample`) filled in."""
    from autoslo.perf.contention import load_contention_model

    contention = config.contention
    if not isinstance(contention, FittedContention):
        return config
    folder = tree.ref(contention.path, field="contention.path")
    law = load_contention_model(folder).sample(contention.sample)
    return config.model_copy(update={"contention": contention.model_copy(update={"parameters": law})})


@dataclass(frozen=True)
class ResolvedExecutionConfig:
    """An execution config with placeholders filled, overrides applied and prices inlined."""

    name: str
    source: Path
    config: ExecutionConfig

    @property
    def id(self) -> str:
        """The execution_config_id: name plus a short hash of the resolved content."""
        return execution_config_id(self.name, self.config)


def resolve_execution_config(
    path: Path,
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    tree: DataTree | None = None,
    check_unused: bool = True,
) -> ResolvedExecutionConfig:
    """Load an execution config for use: filled, validated, references checked, prices inlined."""
    tree = tree or DataTree()
    params = dict(params or {})
    config, used = read_model(path, ExecutionConfig, params=params, overrides=overrides)
    if check_unused:
        check_params_used(params, used, [path])
    problems = check_references(config, tree, deep=False)
    errors = [(f, msg) for f, msg, pending in problems if not pending]
    if errors:
        raise ConfigValidationError(display_path(path), errors)
    if isinstance(config.prices, str):
        table = load_model(tree.ref(config.prices), PriceTable)
        config = config.model_copy(update={"prices": table})
    config = inline_contention(config, tree)
    name = check_name(path.stem, "execution config name", source=display_path(path))
    return ResolvedExecutionConfig(name=name, source=path, config=config)
