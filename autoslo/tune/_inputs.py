"""Resolving a tuning run's inputs and naming it (TUNER_RUN_NAME)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from autoslo.config import (
    ExecutionConfig,
    PriceTable,
    ResolvedExecutionConfig,
    TunerConfig,
    TuningManifest,
    check_params_used,
    check_references,
    load_model,
    parse_file,
)
from autoslo.config._references import inline_contention
from autoslo.config.execution import FittedContention
from autoslo.datatree import DataTree, display_path
from autoslo.errors import AutosloError, ConfigValidationError
from autoslo.ids import check_name, tuner_run_name
from autoslo.tune._errors import TuningError
from autoslo.tune._space import SearchSpace

M = TypeVar("M")


@dataclass(frozen=True)
class TuningInputs:
    """Everything a tuning run depends on, resolved; equal inputs give an equal `name`."""

    name: str
    execution_config_path: Path
    tuner_config_path: Path
    params: dict[str, Any]
    resolved: ResolvedExecutionConfig   # prices inlined: what trials simulate
    base: dict[str, Any]                # the same config's data, prices as written
    tuner: TunerConfig
    space: SearchSpace
    contention_samples: tuple[dict[str, Any], ...] = ()  # bootstrap laws trials are also scored under

    @property
    def prices(self) -> PriceTable:
        """The price table trials are billed with (inlined when the inputs were resolved)."""
        prices = self.resolved.config.prices
        if not isinstance(prices, PriceTable):
            raise TuningError(f"{display_path(self.execution_config_path)}: prices: expected an "
                              f"inlined price table, got {prices!r}")
        return prices

    def describe(self) -> str:
        """The resolved inputs as YAML (what `--dry-run` prints after the name)."""
        return yaml.safe_dump({
            "tuner_run_name": self.name,
            "execution_config": {"file": display_path(self.execution_config_path),
                                 "resolved": self.base},
            "tuner_config": {"file": display_path(self.tuner_config_path),
                             "resolved": self.tuner.model_dump(mode="json")},
            "params": self.params,
        }, sort_keys=False)


def resolve_inputs(execution_config: Path, tuner_config: Path, params: dict[str, Any],
                   overrides: dict[str, Any], tree: DataTree,
                   stem: str | None = None) -> TuningInputs:
    """Resolve both files with the same parameter values (each parsed once); check the space."""
    parsed_exec = parse_file(execution_config, ExecutionConfig, params=params, overrides=overrides)
    written = _parsed_model(parsed_exec.model, ExecutionConfig, execution_config)
    resolved = _resolved(execution_config, written, tree)
    parsed_tuner = parse_file(tuner_config, TunerConfig, params=params)
    check_params_used(params, parsed_exec.used_params | parsed_tuner.used_params,
                      [execution_config, tuner_config])
    tuner = _parsed_model(parsed_tuner.model, TunerConfig, tuner_config)
    problems = [(f, m) for f, m, pending in check_references(tuner, tree) if not pending]
    if problems:
        raise ConfigValidationError(display_path(tuner_config), problems)
    base = written.model_dump(mode="python", exclude_none=True)
    # the search varies the written config; the fitted contention law is the resolved one's
    base["contention"] = resolved.config.contention.model_dump(mode="python", exclude_none=True)
    samples = contention_samples(tuner, resolved.config, tree, tuner_config)
    space = SearchSpace.build(tuner, base, display_path(tuner_config))
    stem = stem or f"{execution_config.stem}_{tuner_config.stem}"
    check_name(stem, "tuner run stem")
    name = tuner_run_name(stem, resolved.config, tuner, params)
    return TuningInputs(name=name, execution_config_path=execution_config,
                        tuner_config_path=tuner_config, params=dict(params), resolved=resolved,
                        base=base, tuner=tuner, space=space, contention_samples=samples)


def contention_samples(tuner: TunerConfig, config: ExecutionConfig, tree: DataTree,
                       tuner_config: Path) -> tuple[dict[str, Any], ...]:
    """The bootstrap laws `contention_samples` asks for, from the config's fitted model."""
    k = tuner.contention_samples
    if k == 0:
        return ()
    from autoslo.perf.contention import load_contention_model

    contention = config.contention
    if not isinstance(contention, FittedContention):
        raise ConfigValidationError(display_path(tuner_config), [(
            "contention_samples", f"needs an execution config whose contention is a fitted model "
            f"(contention.model: fitted), got contention.model {contention.model}")])
    model = load_contention_model(tree.ref(contention.path, field="contention.path"))
    if len(model.samples) < k:
        raise ConfigValidationError(display_path(tuner_config), [(
            "contention_samples", f"must be at most the {len(model.samples)} bootstrap samples of "
            f"{contention.path}, got {k}")])
    return tuple(s.model_dump(mode="python") for s in model.samples[:k])


def _parsed_model(model: object, cls: type[M], path: Path) -> M:
    """`model` as a `cls` (parse_file gives None only for unfilled placeholders, which it refuses)."""
    if not isinstance(model, cls):
        raise TuningError(f"{display_path(path)}: could not be read as {cls.__name__}")
    return model


def _resolved(path: Path, config: ExecutionConfig, tree: DataTree) -> ResolvedExecutionConfig:
    """The parsed execution config made ready to simulate, as `resolve_execution_config` does:
    references checked, prices inlined, its name checked."""
    errors = [(f, msg) for f, msg, pending in check_references(config, tree, deep=False)
              if not pending]
    if errors:
        raise ConfigValidationError(display_path(path), errors)
    if isinstance(config.prices, str):
        config = config.model_copy(update={"prices": load_model(tree.ref(config.prices),
                                                                PriceTable)})
    config = inline_contention(config, tree)
    name = check_name(path.stem, "execution config name", source=display_path(path))
    return ResolvedExecutionConfig(name=name, source=path, config=config)


def resolve_runs(tree: DataTree, *, manifest: Path | None = None,
                 execution_config: Path | None = None, tuner_config: Path | None = None,
                 params: dict[str, Any] | None = None,
                 overrides: dict[str, Any] | None = None) -> list[TuningInputs]:
    """The runs a tune request names: each run of a tuning manifest, or one pair of configs."""
    if manifest is not None:
        if execution_config or tuner_config or params or overrides:
            raise AutosloError("--manifest names its runs' configs and values; do not combine "
                               "it with --execution-config, --tuner-config, --param or --set")
        loaded = load_model(manifest, TuningManifest)
        return [resolve_inputs(tree.ref(run.execution_config, field=f"runs.{name}.execution_config"),
                               tree.ref(run.tuner_config, field=f"runs.{name}.tuner_config"),
                               dict(run.params), dict(run.set), tree, stem=name)
                for name, run in loaded.runs.items()]
    if execution_config is None or tuner_config is None:
        raise AutosloError("give --execution-config and --tuner-config, or --manifest")
    return [resolve_inputs(execution_config, tuner_config, dict(params or {}),
                           dict(overrides or {}), tree)]
