"""The one interface every live target implements: a provisioner for clusters, a driver for queries.

A provisioner turns a cluster spec of the execution config into a running endpoint (and back);
a driver runs one tagged SQL statement on a connection to an endpoint and says how it ended.
`postgres` (local servers) and `redshift` (boto3 + redshift-connector) implement both.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from autoslo.config.execution import ProvisionedCluster, ServerlessCluster
from autoslo.errors import AutosloError

ClusterSpec = ServerlessCluster | ProvisionedCluster
QueryStatus = Literal["ok", "timeout", "failed"]


class TargetError(AutosloError):
    """A live target cannot be reached or refused a request; the message names host and port."""


@dataclass(frozen=True)
class Endpoint:
    """Where one live cluster answers, and the handle its provisioner needs to remove it."""

    name: str
    host: str
    port: int
    database: str
    user: str
    handle: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class QueryOutcome:
    """How one statement ended on the target, and the error text when it did not end well."""

    status: QueryStatus
    error: str | None = None
    retried: bool = False


class StatementTimeouts:
    """The `statement_timeout` each open connection has, so a query sets it only when it changes
    (a round trip saved per query; PostgreSQL and Redshift both start at 0 = none)."""

    def __init__(self) -> None:
        self._ms: dict[int, int] = {}

    def apply(self, connection: Any, cursor: Any, timeout_s: float | None) -> None:
        ms = 0 if timeout_s is None else max(1, int(timeout_s * 1000))
        if self._ms.get(id(connection), 0) != ms:
            cursor.execute(f"set statement_timeout to {ms}")
            self._ms[id(connection)] = ms

    def forget(self, connection: Any) -> None:
        self._ms.pop(id(connection), None)


class Provisioner(Protocol):
    """Creates and removes the clusters of one live run; every resource carries the run tag."""

    def check(self, specs: list[ClusterSpec]) -> None:
        """Refuse, before anything is created, specs this target cannot run."""

    def start(self, spec: ClusterSpec, name: str) -> Endpoint:
        """Create a cluster of `spec`'s size and wait until it answers queries."""

    def stop(self, endpoint: Endpoint) -> None:
        """Remove the cluster (idempotent)."""

    def close(self) -> None:
        """Release what the provisioner holds for the run (its run lock, shared templates)."""


class Driver(Protocol):
    """Runs statements on an endpoint; WLM the warehouse cannot enforce is the client's job."""

    enforces_wlm: bool

    def connect(self, endpoint: Endpoint) -> Any:
        """Open one connection (autocommit)."""

    def run(self, connection: Any, sql: str, *, tag: str, timeout_s: float | None) -> QueryOutcome:
        """Run one statement, discarding its rows as they arrive; never raises for query errors."""

    def close(self, connection: Any) -> None:
        """Close a connection, ignoring errors."""


def orphaned_runs(root: Path) -> Iterator[Path]:
    """The run folders under `root` whose `<run>.lock` no living process holds (a killed run
    leaves them), each yielded while this process holds its lock; the lock file goes after."""
    if not root.is_dir():
        return
    for run_folder in sorted(p for p in root.iterdir() if p.is_dir()):
        lock_path = root / f"{run_folder.name}.lock"
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # the run is alive
            yield run_folder
        lock_path.unlink(missing_ok=True)
