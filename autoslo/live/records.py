"""Live-run records: one `run.yml` per run folder, and `data/runs/map.yml`, the index rebuilt from them.

Each live run owns `data/runs/<run_timestamp>/run.yml` and rewrites only that file, so runs on
different machines (or several executes at once) never overwrite each other's rows. The index is
a cache: `rebuild_run_index` regenerates it from every record under a file lock and renames it
into place, so readers see the old index or the new one, never a mix and never a lost row.

A run holds its folder's `.alive.lock` while it lives; the kernel drops the lock when the process
dies, even by SIGKILL. `settle_dead_runs` (called by the next live run and `autoslo live cleanup`)
marks a `running` record whose lock is free `incomplete`, keeping the tables it checkpointed.
"""

from __future__ import annotations

import fcntl
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Literal, get_args

import yaml

from autoslo.atomic import write_text
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.ids import parse_run_timestamp

RunStatus = Literal["running", "complete", "incomplete", "failed"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
RUN_RECORD = "run.yml"
RUN_LOCK = ".alive.lock"
_LOCK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RunRecord:
    """What identifies a live run: when, which combination, on what, and how it ended."""

    run_timestamp: str
    workload_id: str
    execution_config_id: str
    status: RunStatus
    target: str

    def __post_init__(self) -> None:
        parse_run_timestamp(self.run_timestamp)
        if self.status not in RUN_STATUSES:
            raise InputError(f"status must be one of {', '.join(RUN_STATUSES)}, got {self.status!r}")


def write_run_record(tree: DataTree, record: RunRecord) -> Path:
    """Write (or replace) the run's own `run.yml`; returns its path."""
    path = tree.run_dir(record.run_timestamp) / RUN_RECORD
    write_text(path, yaml.safe_dump(asdict(record), sort_keys=False))
    return path


def read_run_record(path: Path) -> RunRecord:
    """Load one `run.yml`; a malformed record is an InputError naming the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RunRecord(**raw)
    except InputError as exc:
        raise InputError(exc.rule, source=display_path(path)) from None
    except (TypeError, yaml.YAMLError, OSError) as exc:
        raise InputError(f"is not a run record ({exc})", source=display_path(path)) from None


def scan_run_records(tree: DataTree) -> list[RunRecord]:
    """Every run record under data/runs, oldest first (a folder without run.yml is skipped)."""
    runs = tree.runs_dir()
    if not runs.is_dir():
        return []
    records = [read_run_record(folder / RUN_RECORD) for folder in sorted(runs.iterdir())
               if folder.is_dir() and not folder.name.startswith(".")
               and (folder / RUN_RECORD).is_file()]
    return sorted(records, key=lambda r: r.run_timestamp)


def rebuild_run_index(tree: DataTree) -> list[RunRecord]:
    """Regenerate `data/runs/map.yml` from every record, under a file lock; returns the records."""
    from filelock import FileLock

    tree.runs_dir().mkdir(parents=True, exist_ok=True)
    lock_path = tree.runs_dir() / ".map.yml.lock"
    with FileLock(str(lock_path), timeout=_LOCK_TIMEOUT_S):
        records = scan_run_records(tree)
        text = yaml.safe_dump({"runs": [asdict(r) for r in records]}, sort_keys=False)
        write_text(tree.runs_map(), text)
    return records


def read_run_index(tree: DataTree) -> list[RunRecord]:
    """The records listed in `data/runs/map.yml` (empty when no live run was ever recorded)."""
    path = tree.runs_map()
    if not path.is_file():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return [RunRecord(**row) for row in raw.get("runs", [])]
    except (TypeError, AttributeError, yaml.YAMLError, InputError) as exc:
        reason = (exc.rule if isinstance(exc, InputError) else str(exc).splitlines()[0]
                  if str(exc) else type(exc).__name__)
        raise InputError(f"is not a run index ({reason}); it only indexes the run.yml records "
                         "under data/runs: delete it and the next `autoslo execute --live` "
                         "rebuilds it", source=display_path(path)) from None


def newest_run(records: list[RunRecord], workload_id: str, execution_config_id: str,
               *, completed_only: bool = False) -> RunRecord | None:
    """The latest run of a combination (optionally only complete ones), or None."""
    matches = [r for r in records if r.workload_id == workload_id
               and r.execution_config_id == execution_config_id
               and (not completed_only or r.status == "complete")]
    return max(matches, key=lambda r: r.run_timestamp) if matches else None


def hold_run_lock(folder: Path) -> IO[str]:
    """Hold the run folder's lock while the run lives; the kernel drops it if the process dies."""
    handle = (folder / RUN_LOCK).open("w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def run_is_alive(folder: Path) -> bool:
    """Whether a living process still holds the run folder's lock."""
    lock = folder / RUN_LOCK
    if not lock.is_file():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def settle_dead_runs(tree: DataTree) -> list[RunRecord]:
    """Mark `incomplete` every run recorded as `running` that no living process holds (it was
    killed), keeping whatever tables it wrote; rebuilds the index when one changed. Returns the
    settled records. A run writes `running` only after taking its lock, so a free lock means dead."""
    settled = []
    for record in scan_run_records(tree):
        if record.status == "running" and not run_is_alive(tree.run_dir(record.run_timestamp)):
            settled.append(replace(record, status="incomplete"))
            write_run_record(tree, settled[-1])
    if settled:
        rebuild_run_index(tree)
    return settled
