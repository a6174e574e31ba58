"""Strict configs: pydantic models for every input file, YAML loading, placeholders, overrides.

Inside: `_yaml` (strict YAML, `--param` / `--set` parsing and overrides), `_placeholders`
(``${NAME}`` filling, resolving vs template mode), `_loading` (file kinds and reading one file
into its model), `_references` (what files point to, checks, resolved execution configs),
`_summaries` (the validate report; each model summarises itself), and one module per input kind.

Public face: the models, `load_model`, `resolve_execution_config`, `parse_params`,
`parse_overrides`, and `inspect_file` / `discover_inputs` for `autoslo validate`.
"""

from autoslo.config._loading import (
    FILE_KINDS,
    MODELS,
    FileKind,
    discover_inputs,
    infer_kind,
    load_model,
    parse_file,
)
from autoslo.config._placeholders import check_params_used, substitute
from autoslo.config._references import (
    ResolvedExecutionConfig,
    check_references,
    references,
    resolve_execution_config,
)
from autoslo.config._summaries import FileReport, inspect_file
from autoslo.config._yaml import (
    apply_overrides,
    get_path,
    parse_overrides,
    parse_params,
    parse_value,
    split_path,
)
from autoslo.config.execution import ExecutionConfig
from autoslo.config.manifests import ExecutionManifest, PlottingManifest, TuningManifest
from autoslo.config.prices import PriceTable
from autoslo.config.slo import SloSpec
from autoslo.config.tuner import TunerConfig
from autoslo.config.workload import WorkloadMeta, check_queries_frame, check_queries_table

__all__ = [
    "FILE_KINDS", "MODELS", "ExecutionConfig", "ExecutionManifest", "FileKind", "FileReport",
    "PlottingManifest", "PriceTable", "ResolvedExecutionConfig", "SloSpec", "TunerConfig",
    "TuningManifest", "WorkloadMeta", "apply_overrides", "check_params_used",
    "check_queries_frame", "check_queries_table", "check_references", "discover_inputs",
    "get_path", "infer_kind",
    "inspect_file", "load_model", "parse_file", "parse_overrides", "parse_params", "parse_value",
    "references", "resolve_execution_config", "split_path", "substitute",
]
