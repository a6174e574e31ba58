"""The `data/` tree of DESIGN.md: every data path is built here and nowhere else.

Inputs (committed examples): execution_configs/, tuner_configs/, slos/, prices/, manifests/,
workloads/, models/, templates/, model_searches/, c3o/ (runtime data). Outputs (git-ignored):
simulator_runs/, runs/, tuner_runs/, plots/, execution_configs/tuned/. References inside files are
paths relative to the data root; `DataTree.ref` resolves and checks them. The root is
``$AUTOSLO_DATA_DIR`` or ``./data``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Literal

from autoslo.errors import InputError
from autoslo.ids import check_name, format_run_timestamp, new_run_timestamp, parse_run_timestamp

ManifestKind = Literal["tuning", "execution", "plotting"]
MANIFEST_KINDS: tuple[ManifestKind, ...] = ("tuning", "execution", "plotting")
INPUT_FOLDERS = (
    "execution_configs", "tuner_configs", "slos", "prices", "manifests", "workloads", "models",
    "templates", "model_searches", "c3o",
)
OUTPUT_FOLDERS = ("simulator_runs", "runs", "tuner_runs", "plots", "execution_configs/tuned")
TUNED_GROUP = "tuned"
YAML_SUFFIX = ".yml"


def default_root() -> Path:
    """The data root: ``$AUTOSLO_DATA_DIR`` if set, else ``data`` under the working directory."""
    return Path(os.environ.get("AUTOSLO_DATA_DIR", "data"))


class DataTree:
    """Builds the paths of one data tree; checks every name that becomes a path component."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"DataTree({str(self.root)!r})"

    # ---- inputs -------------------------------------------------------------------------
    def execution_config(self, group: str, name: str) -> Path:
        return self.root / "execution_configs" / check_name(group, "execution config group") / (
            check_name(name, "execution config name") + YAML_SUFFIX
        )

    def tuned_config(self, run_name: str) -> Path:
        return self.execution_config(TUNED_GROUP, check_name(run_name, "tuner run name"))

    def tuner_config(self, name: str) -> Path:
        return self.root / "tuner_configs" / (check_name(name, "tuner config name") + YAML_SUFFIX)

    def slo(self, name: str) -> Path:
        return self.root / "slos" / (check_name(name, "SLO spec name") + YAML_SUFFIX)

    def prices(self, name: str) -> Path:
        return self.root / "prices" / (check_name(name, "price table name") + YAML_SUFFIX)

    def manifest(self, kind: ManifestKind, name: str) -> Path:
        if kind not in MANIFEST_KINDS:
            raise InputError(f"manifest kind must be one of {', '.join(MANIFEST_KINDS)}, got {kind!r}")
        return self.root / "manifests" / kind / (check_name(name, f"{kind} manifest name") + YAML_SUFFIX)

    def workload_dir(self, workload_id: str) -> Path:
        return self.root / "workloads" / check_name(workload_id, "workload id")

    def workload_queries(self, workload_id: str) -> Path:
        return self.workload_dir(workload_id) / "queries.parquet"

    def workload_meta(self, workload_id: str) -> Path:
        return self.workload_dir(workload_id) / "workload.yml"

    def model_dir(self, name: str) -> Path:
        return self.root / "models" / check_name(name, "model name")

    def template_suite_dir(self, suite: str) -> Path:
        return self.root / "templates" / check_name(suite, "template suite name")

    # ---- outputs ------------------------------------------------------------------------
    def tuner_run_dir(self, run_name: str) -> Path:
        return self.root / "tuner_runs" / check_name(run_name, "tuner run name")

    def simulator_run_dir(self, workload_id: str, execution_config_id: str) -> Path:
        return (self.root / "simulator_runs" / check_name(workload_id, "workload id")
                / check_name(execution_config_id, "execution config id"))

    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_timestamp: str) -> Path:
        parse_run_timestamp(run_timestamp)
        return self.runs_dir() / run_timestamp

    def runs_map(self) -> Path:
        return self.runs_dir() / "map.yml"

    def plots_dir(self) -> Path:
        return self.root / "plots"

    def plot_png(self, plot_name: str) -> Path:
        return self.plots_dir() / (check_name(plot_name, "plot name") + ".png")

    def plot_html(self, plot_name: str) -> Path:
        return self.plots_dir() / (check_name(plot_name, "plot name") + ".html")

    def plot_table(self, plot_name: str, panel_index: int, panel_type: str) -> Path:
        """The CSV of one panel's table, beside the plot's PNG (panels counted from 1)."""
        return self.plots_dir() / (f"{check_name(plot_name, 'plot name')}.panel{panel_index}-"
                                   f"{check_name(panel_type, 'panel type')}.csv")

    def create_run_dir(self, now: datetime | None = None) -> tuple[str, Path]:
        """Claim a new live-run folder with an exclusive mkdir; never reuses a timestamp.

        If another process claimed the same millisecond, move on by a millisecond and retry.
        """
        self.runs_dir().mkdir(parents=True, exist_ok=True)
        stamp = new_run_timestamp(now)
        for _ in range(10_000):
            path = self.run_dir(stamp)
            try:
                path.mkdir()
            except FileExistsError:
                stamp = format_run_timestamp(parse_run_timestamp(stamp) + timedelta(milliseconds=1))
                continue
            return stamp, path
        raise InputError(f"{self.runs_dir()}: could not claim a free run timestamp")

    # ---- references between files -------------------------------------------------------
    def ref(self, reference: str, *, source: str | None = None, field: str | None = None) -> Path:
        """Resolve a data-relative reference (``workloads/example``) to a path under the root.

        References stay inside the tree: absolute paths, ``..`` and backslashes are refused.
        Existence is the caller's check (a missing file is an error for inputs, pending for
        tuner outputs).
        """
        if not isinstance(reference, str) or not reference.strip():
            raise InputError(f"must be a path relative to the data folder, got {reference!r}",
                             source=source, field=field)
        pure = PurePosixPath(reference)
        if pure.is_absolute() or "\\" in reference:
            raise InputError(
                f"must be a path relative to the data folder (e.g. workloads/example), got {reference!r}",
                source=source, field=field)
        if any(part == ".." for part in pure.parts):
            raise InputError(f"must not contain '..', got {reference!r}", source=source, field=field)
        return self.root.joinpath(*pure.parts)

    def relative(self, path: Path) -> str:
        """The data-relative reference of `path` (the inverse of `ref`)."""
        return PurePosixPath(Path(path).resolve().relative_to(self.root.resolve())).as_posix()

    def contains(self, path: Path) -> bool:
        """Whether `path` lies inside this tree."""
        try:
            Path(path).resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True


def display_path(path: Path | str) -> str:
    """A path as users typed it: relative to the working directory when it lies below it."""
    path = Path(path)
    here = Path.cwd().resolve()
    # a symlink keeps the name it was given; `..` parts are still folded
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        try:
            return str(candidate.relative_to(here))
        except ValueError:
            continue
    return str(path)
