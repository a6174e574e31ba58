"""(workload, execution config) combinations named in manifests, resolved to ids and folders.

Execute runs them; plot finds their outputs: the simulator folder
`data/simulator_runs/<workload_id>/<execution_config_id>/`, or live runs in `data/runs/map.yml`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoslo.config import ResolvedExecutionConfig, WorkloadMeta, load_model, resolve_execution_config
from autoslo.config.manifests import ConfigFile, ExecutionManifest, TunedConfig
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.ids import workload_id


@dataclass(frozen=True)
class Combination:
    """A workload folder and a resolved execution config, with a label for tables and plots."""

    workload_path: Path
    workload_id: str
    config: ResolvedExecutionConfig
    label: str

    @property
    def execution_config_id(self) -> str:
        return self.config.id

    def simulator_dir(self, tree: DataTree) -> Path:
        """Where the simulator writes (and plot reads) this combination's results."""
        return tree.simulator_run_dir(self.workload_id, self.execution_config_id)


def read_workload_id(folder: Path, *, source: str | None = None, field: str | None = None) -> str:
    """The workload_id of a workload folder, from its workload.yml alone (no table read)."""
    meta_path = folder / "workload.yml"
    if not meta_path.is_file():
        raise InputError(f"workload folder {display_path(folder)} does not exist (it needs a "
                         "workload.yml)", source=source, field=field)
    meta = load_model(meta_path, WorkloadMeta)
    return workload_id(meta.name, meta.parameters)


def resolve_config_ref(ref: ConfigFile | TunedConfig, tree: DataTree, *, source: str | None = None,
                       field: str | None = None) -> ResolvedExecutionConfig:
    """Resolve a manifest's execution-config entry: a file with values, or a tuner run's output."""
    if isinstance(ref, TunedConfig):
        path = tree.tuned_config(ref.tuned)
        if not path.is_file():
            raise InputError(f"tuner run {ref.tuned!r} has not written {display_path(path)} yet "
                             "(run `autoslo tune` for it first)", source=source,
                             field=field and f"{field}.tuned")
        return resolve_execution_config(path, tree=tree)
    field = field and f"{field}.path"
    path = tree.ref(ref.path, source=source, field=field)
    if not path.is_file():
        raise InputError(f"file {display_path(path)} does not exist", source=source, field=field)
    return resolve_execution_config(path, params=ref.params, overrides=ref.set, tree=tree,
                                    check_unused=False)


def default_label(ref: ConfigFile | TunedConfig) -> str:
    """A readable label: the label given, else the config's stem with its parameter values."""
    if ref.label:
        return ref.label
    if isinstance(ref, TunedConfig):
        return f"tuned {ref.tuned}"
    values: Mapping[str, Any] = {**ref.params, **ref.set}
    extra = " ".join(f"{k}={v}" for k, v in values.items())
    return Path(ref.path).stem + (f" ({extra})" if extra else "")


def resolve_combination(workload: str, config: ConfigFile | TunedConfig, tree: DataTree, *,
                        label: str | None = None, source: str | None = None,
                        field: str = "") -> Combination:
    """Resolve one (workload reference, config entry) pair of a manifest."""
    folder = tree.ref(workload, source=source, field=f"{field}workload")
    ident = read_workload_id(folder, source=source, field=f"{field}workload")
    resolved = resolve_config_ref(config, tree, source=source, field=f"{field}execution_config")
    return Combination(folder, ident, resolved, label or default_label(config))


def manifest_combinations(manifest: ExecutionManifest, tree: DataTree, *,
                          source: str | None = None) -> list[Combination]:
    """Every workload crossed with every execution config of an execution manifest, in order."""
    workloads = []
    for index, workload in enumerate(manifest.workloads):
        field = f"workloads[{index}]"
        folder = tree.ref(workload, source=source, field=field)
        workloads.append((folder, read_workload_id(folder, source=source, field=field)))
    configs = [(resolve_config_ref(config, tree, source=source, field=f"execution_configs[{index}]"),
                default_label(config))
               for index, config in enumerate(manifest.execution_configs)]
    return [Combination(folder, ident, resolved, label)
            for folder, ident in workloads for resolved, label in configs]
