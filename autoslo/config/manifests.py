"""Manifests (data/manifests/{tuning,execution,plotting}/<name>.yml): several runs in one file.

An execution config is referenced by file (`path`, with parameter values and overrides) or as a
tuner run's output (`tuned: <TUNER_RUN_NAME>`), which may not exist yet (reported as pending).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from autoslo.config._base import RuleError, StrictModel, between
from autoslo.errors import InputError
from autoslo.ids import check_name, parse_run_timestamp

Scalar = str | int | float | bool | None


def _safe(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except InputError as exc:
        raise ValueError(exc.rule) from None


class ConfigFile(StrictModel):
    """An execution config file with the values that resolve it."""

    path: str
    params: dict[str, Scalar] = {}
    set: dict[str, Scalar] = {}
    label: str | None = None


class TunedConfig(StrictModel):
    """The execution config a tuner run writes (data/execution_configs/tuned/<name>.yml)."""

    tuned: str
    label: str | None = None

    @field_validator("tuned")
    @classmethod
    def _name(cls, value: str) -> str:
        return _safe(value, "tuner run name")


def _config_ref_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "tuned" if "tuned" in value else "file"
    return "tuned" if isinstance(value, TunedConfig) else "file"


ExecutionConfigRef = Annotated[
    Annotated[ConfigFile, Tag("file")] | Annotated[TunedConfig, Tag("tuned")],
    Discriminator(_config_ref_tag),
]


class TuningRun(StrictModel):
    """One tuning run: the initial execution config, the tuner config and their values."""

    execution_config: str
    tuner_config: str
    params: dict[str, Scalar] = {}
    set: dict[str, Scalar] = {}


class TuningManifest(StrictModel):
    """Several named tuning runs; each name is the TUNER_RUN_NAME's readable stem."""

    description: str = ""
    runs: Annotated[dict[str, TuningRun], Field(min_length=1)]

    @field_validator("runs")
    @classmethod
    def _names(cls, runs: dict[str, TuningRun]) -> dict[str, TuningRun]:
        for name in runs:
            try:
                check_name(name, "run name")
            except InputError as exc:
                raise RuleError(name, exc.rule) from None
        return runs

    def summary(self) -> str:
        """The tuning runs by name."""
        return f"{len(self.runs)} tuning run(s): {', '.join(self.runs)}"


class LiveSettings(StrictModel):
    """How `execute --live` runs: the target, where SQL comes from, and cost guardrails."""

    target: Literal["postgres", "duckdb", "redshift"] = "postgres"
    suite: str | None = Field(
        default=None, description="template suite whose SQL the queries run (default: the "
                                  "workload's own `sql` column, else the suite it was generated from)")
    scale_factor: Annotated[float, Field(strict=True)] = Field(
        default=0.01, description="postgres, duckdb: TPC-H scale factor of every local cluster")
    max_cost_usd: float | None = Field(
        default=None, description="redshift: abort before starting when the estimate is higher")
    region: str | None = Field(default=None, description="redshift: AWS region (default: env)")

    @field_validator("scale_factor")
    @classmethod
    def _scale(cls, value: float) -> float:
        if not 0 < value <= 10:
            raise ValueError(f"must be in (0, 10] for local clusters, got {value}")
        return value

    @field_validator("suite")
    @classmethod
    def _suite(cls, value: str | None) -> str | None:
        return None if value is None else _safe(value, "template suite name")


class ExecutionManifest(StrictModel):
    """Every workload crossed with every execution config."""

    description: str = ""
    workloads: Annotated[list[str], Field(min_length=1)]
    execution_configs: Annotated[list[ExecutionConfigRef], Field(min_length=1)]
    live: LiveSettings = LiveSettings()

    def summary(self) -> str:
        """How many workloads are crossed with how many execution configs."""
        return (f"{len(self.workloads)} workload(s) x {len(self.execution_configs)} "
                f"execution config(s)")


class CombinationPoint(StrictModel):
    """A (workload, execution config) combination: its simulator folder, or a live run."""

    workload: str
    execution_config: ExecutionConfigRef
    run_timestamp: str | None = Field(
        default=None, description="with --live: this run instead of the newest one")
    label: str | None = None
    colour: str | None = None

    @field_validator("run_timestamp")
    @classmethod
    def _stamp(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_run_timestamp(value)
            except InputError as exc:
                raise ValueError(exc.rule) from None
        return value


class TunerPoint(StrictModel):
    """A tuner run (for the tuner panel)."""

    tuner_run: str
    label: str | None = None
    colour: str | None = None

    @field_validator("tuner_run")
    @classmethod
    def _name(cls, value: str) -> str:
        return _safe(value, "tuner run name")


def _point_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "tuner" if "tuner_run" in value else "combination"
    return "tuner" if isinstance(value, TunerPoint) else "combination"


Point = Annotated[
    Annotated[CombinationPoint, Tag("combination")] | Annotated[TunerPoint, Tag("tuner")],
    Discriminator(_point_tag),
]

PanelType = Literal[
    "cost_vs_violation", "latency_cdf", "violation_bars", "timeline", "tuner_progress",
    "sim_vs_live",
]
NEEDS_SLO: set[str] = {"cost_vs_violation", "latency_cdf", "violation_bars", "tuner_progress"}


class Panel(StrictModel):
    """One panel of the grid: a type, an SLO spec where it applies, and its points."""

    type: PanelType
    title: str | None = None
    slo: str | None = None
    by: Literal["template_id", "query_group"] | None = Field(
        default=None, description="latency_cdf: one curve per template or per query group "
        "(default: query groups when the spec targets them and the runs have them)")
    points: Annotated[list[Point], Field(min_length=1)]

    @model_validator(mode="after")
    def _fits_type(self) -> Panel:
        if self.type in NEEDS_SLO and self.slo is None:
            raise RuleError("slo", f"is required for a {self.type} panel")
        tuner = [isinstance(p, TunerPoint) for p in self.points]
        if self.type == "tuner_progress" and not all(tuner):
            raise RuleError("points", "a tuner_progress panel takes tuner_run points only")
        if self.type != "tuner_progress" and any(tuner):
            raise RuleError("points", f"a {self.type} panel takes (workload, execution_config) "
                            "points, not tuner_run")
        if self.by is not None and self.type != "latency_cdf":
            raise RuleError("by", f"applies to latency_cdf panels only, not {self.type}")
        if self.type == "timeline" and len(self.points) != 1:
            raise RuleError("points", f"a timeline panel shows one run, got {len(self.points)} "
                            "points")
        return self


class PlottingManifest(StrictModel):
    """A grid of panels written to data/plots/<plot_name>.png and .html."""

    title: str = ""
    columns: Annotated[int, Field(strict=True)] = 2
    width_px: int = 1400
    height_px_per_row: int = 450
    panels: Annotated[list[Panel], Field(min_length=1)]

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: int) -> int:
        return between(1, 4)(value)  # type: ignore[no-any-return]

    @field_validator("width_px", "height_px_per_row")
    @classmethod
    def _pixels(cls, value: int) -> int:
        return between(200, 8000)(value)  # type: ignore[no-any-return]

    def summary(self) -> str:
        """The panels by type."""
        return f"{len(self.panels)} panel(s): {', '.join(p.type for p in self.panels)}"
