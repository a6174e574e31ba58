"""Loading config files: which model reads which file, resolution, references, reports.

Two modes. Resolving (simulate, execute, tune, ``validate --param``): every placeholder must be
filled, or UnresolvedPlaceholderError names it. Checking (plain ``validate``): a file with
placeholders is a *template*; everything that does not depend on them is still checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from autoslo.config._base import format_path, translate_errors
from autoslo.config._yaml import DataPath, apply_overrides, read_yaml, split_path, substitute
from autoslo.config.execution import ExecutionConfig, FittedContention, ReactiveAutoscaler
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
from autoslo.config.model_search import ModelSearch
from autoslo.config.prices import PriceTable
from autoslo.config.slo import SloSpec
from autoslo.config.suite import SuiteMeta
from autoslo.config.tuner import FixedWorkload, TunerConfig
from autoslo.config.workload import ForecastMeta, WorkloadMeta, check_queries_table
from autoslo.datatree import DataTree, display_path
from autoslo.errors import (
    AutosloError,
    ConfigValidationError,
    InputError,
    UnresolvedPlaceholderError,
)
from autoslo.ids import check_name, execution_config_id, workload_id

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
MODELS: dict[FileKind, type[BaseModel]] = {
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

M = TypeVar("M", bound=BaseModel)


# ---- reading one file -----------------------------------------------------------------------

@dataclass
class Parsed:
    """A validated file: the model (None if placeholders are left) and what it still needs."""

    model: BaseModel | None
    needs: list[str] = field(default_factory=list)
    used_params: set[str] = field(default_factory=set)


def _near(path: DataPath, others: Mapping[DataPath, Any]) -> bool:
    return any(path[: len(o)] == o or o[: len(path)] == path for o in others)


def parse_file(
    path: Path,
    model_cls: type[BaseModel],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    resolve: bool = True,
) -> Parsed:
    """Read `path` and validate it as `model_cls`, after overrides and placeholder filling."""
    source = display_path(path)
    raw = read_yaml(path, source)
    overrides = dict(overrides or {})
    try:
        data = apply_overrides(raw, overrides)
    except InputError as exc:
        raise InputError(exc.rule, source=source) from None
    sub = substitute(data, params or {})
    if sub.unresolved and resolve:
        where, names = next(iter(sub.unresolved.items()))
        raise UnresolvedPlaceholderError(
            f"unresolved placeholder ${{{names[0]}}}; pass --param {names[0]}=VALUE",
            source=source, field=format_path(where) or None)
    overridden = {split_path(k) for k in overrides}
    try:
        model = model_cls.model_validate(sub.data)
    except ValidationError as exc:
        problems = [
            (p, rule) for p, rule in translate_errors(exc, sub.data, model_cls)
            if not (sub.unresolved and _near(p, sub.unresolved))
        ]
        if problems:
            raise ConfigValidationError(source, [
                (format_path(p) + (" (from --set)" if _near(p, dict.fromkeys(overridden)) else ""),
                 rule) for p, rule in problems]) from None
        model = None
    if sub.unresolved:
        model = None
    return Parsed(model=model, needs=sub.missing_names, used_params=set(sub.used))


def load_model(
    path: Path,
    model_cls: type[M],
    *,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Read, fill and validate one file; every placeholder must be filled."""
    parsed = parse_file(path, model_cls, params=params, overrides=overrides, resolve=True)
    assert isinstance(parsed.model, model_cls)
    return parsed.model


def check_params_used(params: Mapping[str, Any], used: set[str], sources: list[Path]) -> None:
    """Refuse parameter values that no file uses (usually a misspelt name)."""
    unused = sorted(set(params) - used)
    if unused:
        files = ", ".join(display_path(p) for p in sources)
        uses = ", ".join(sorted(used)) or "none"
        raise InputError(f"--param {unused[0]} is not used by {files} (placeholders used: {uses})")


# ---- execution configs, resolved -------------------------------------------------------------

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
    parsed = parse_file(path, ExecutionConfig, params=params, overrides=overrides)
    config = parsed.model
    assert isinstance(config, ExecutionConfig)
    if check_unused:
        check_params_used(params, parsed.used_params, [path])
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


def inline_contention(config: ExecutionConfig, tree: DataTree) -> ExecutionConfig:
    """A fitted contention reference with the folder's parameters (its `sample`) filled in."""
    from autoslo.perf.contention import load_contention_model

    contention = config.contention
    if not isinstance(contention, FittedContention):
        return config
    folder = tree.ref(contention.path, field="contention.path")
    law = load_contention_model(folder).sample(contention.sample)
    return config.model_copy(update={"contention": contention.model_copy(update={"parameters": law})})


# ---- references between files ----------------------------------------------------------------

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


# ---- kinds of files, discovery and reports ----------------------------------------------------

def infer_kind(path: Path) -> FileKind | None:
    """Tell a file's kind from where it sits (``.../manifests/tuning/x.yml``, ``.../slos/x.yml``)."""
    if (path.is_dir() and (path / "workload.yml").is_file()) or path.name == "workload.yml":
        return "workload"
    if path.name == "suite.yml":
        return "template-suite"
    if (path.is_dir() and (path / "forecast.yml").is_file()) or path.name == "forecast.yml":
        return "forecast"
    parents = [p.name for p in path.resolve().parents]
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
        return FileReport(path, kind, status, summary=summarize(parsed.model),
                          problems=errors or pending, used_params=parsed.used_params)
    except AutosloError as exc:
        return FileReport(path, kind, "error", problems=str(exc).splitlines())


def _inspect_workload(path: Path, tree: DataTree) -> FileReport:
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


def summarize(model: BaseModel) -> str:
    """A one-line description of a validated model for the validate table."""
    if isinstance(model, ExecutionConfig):
        sizes = [f"{c.kind} {c.rpu} RPU" if c.kind == "serverless"
                 else f"{c.kind} {c.nodes}x{c.node_type}" for c in model.pool.clusters]
        scaler = model.autoscaler.policy + (
            f" ({model.autoscaler.trigger})" if isinstance(model.autoscaler, ReactiveAutoscaler)
            else "")
        return (f"{len(sizes)} cluster(s): {', '.join(sizes)}; router {model.router.policy}; "
                f"autoscaler {scaler}; {len(model.scheduled_spin_ups)} scheduled spin-up(s)")
    if isinstance(model, TunerConfig):
        dims = len(model.search_space) + (1 if model.spin_up_plan else 0)
        return (f"{model.workload.kind} workload; {dims} dimension(s); {model.sampler}, "
                f"{model.n_trials} trials, seed {model.seed}")
    if isinstance(model, SloSpec):
        return (f"tau {model.tau}; {len(model.targets)} target(s)"
                + ("; default target" if model.default else "")
                + (f"; {len(model.percentiles)} percentile bound(s)" if model.percentiles else ""))
    if isinstance(model, GeneratorSpec):
        return (f"{model.rate.profile} rate {model.rate.mean_per_s}/s for "
                f"{model.duration_s / 3600:g} h; suite {model.suite}, seed {model.seed}")
    if isinstance(model, SuiteMeta):
        return f"{len(model.templates)} template(s)"
    if isinstance(model, ModelSearch):
        return (f"{model.trials} trials, ASHA over {model.max_epochs} epochs, "
                f"{len(model.space.model_dump())} hyperparameters, seed {model.seed}")
    if isinstance(model, ForecastMeta):
        return (f"{model.date} from {model.history} by {model.method}; "
                f"{len(model.scenarios)} scenario(s)")
    if isinstance(model, PriceTable):
        return f"{model.region} as of {model.as_of}; {model.serverless_usd_per_rpu_hour} USD/RPU-h"
    if isinstance(model, TuningManifest):
        return f"{len(model.runs)} tuning run(s): {', '.join(model.runs)}"
    if isinstance(model, ExecutionManifest):
        return (f"{len(model.workloads)} workload(s) x {len(model.execution_configs)} "
                f"execution config(s)")
    if isinstance(model, PlottingManifest):
        return f"{len(model.panels)} panel(s): {', '.join(p.type for p in model.panels)}"
    return type(model).__name__
