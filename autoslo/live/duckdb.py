"""The `duckdb` live target: every cluster is an embedded DuckDB instance in this process.

A cluster is its own DuckDB database instance (`:memory:` with the TPC-H database file attached
read-only as `tpch`), so it has its own buffer pool and scheduler: concurrent queries on one
cluster share its `memory_limit` and `threads`, spill into its own temporary folder and, when
memory runs out, fail with DuckDB's out-of-memory error (status `failed`). Each running query has
its own connection (a cursor of the instance) in a replay worker thread; DuckDB releases the GIL
while it executes, so queries on one or several clusters really run at the same time.

Sizes scale Redshift's memory down 512 times (1 RPU = 16 GiB there, 32 MB here):

- Serverless: `memory_limit` = 32 MB per RPU (8 RPU: 256 MB), `threads` = one per 8 RPU;
- provisioned: the node type's memory (ra3.xlplus 32 GiB, ra3.4xlarge 96, ra3.16xlarge 384, ra3.large
  16, dc2.large 15, dc2.8xlarge 244) times the nodes, as RPU equivalents (16 GiB each), then the same;

threads are at least 1 and at most this machine's cores. The data is generated once with the
tpch extension's `dbgen` into `data/templates/tpch/data/tpch-sf=<scale>.duckdb` (git-ignored) and
opened read-only by every cluster; temporary folders live in `$AUTOSLO_LIVE_HOME/duckdb/<run>/`
(default `/tmp/autoslo-live`) and go when the cluster stops. A statement timeout interrupts the
query's connection from a timer thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from autoslo.datatree import DataTree
from autoslo.errors import AutosloError, NotBuiltError
from autoslo.live.target import ClusterSpec, Endpoint, QueryOutcome, TargetError, orphaned_runs

MB_PER_RPU = 32            # Redshift's 16 GiB per RPU, scaled down 512 times
RPU_PER_THREAD = 8
NODE_GIB = {"dc2.large": 15, "dc2.8xlarge": 244, "ra3.large": 16, "ra3.xlplus": 32,
            "ra3.4xlarge": 96, "ra3.16xlarge": 384}
GIB_PER_RPU = 16


def cluster_resources(spec: ClusterSpec, cores: int | None = None) -> tuple[int, int]:
    """The (memory_limit in MB, threads) a cluster of this size gets (the mapping above)."""
    if spec.kind == "serverless":
        units = float(spec.size)
    else:
        if spec.node_type not in NODE_GIB:  # type: ignore[union-attr]
            raise NotBuiltError(f"the duckdb live target has no memory figure for node_type "
                                f"{spec.node_type} (known: {', '.join(NODE_GIB)})")  # type: ignore[union-attr]
        units = NODE_GIB[spec.node_type] * spec.nodes / GIB_PER_RPU  # type: ignore[union-attr]
    cores = cores or os.cpu_count() or 1
    return max(1, int(units * MB_PER_RPU)), max(1, min(cores, int(units // RPU_PER_THREAD)))


def extension_file(name: str) -> Path:
    """The extension file a `duckdb-extension-<name>` wheel ships (`INSTALL <name>` needs the net)."""
    import importlib

    import duckdb

    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise AutosloError(f"the DuckDB {name} extension is not installed (pip install "
                           f"duckdb-extension-{name}; `make setup` does it)") from None
    folder = Path(next(iter(package.__path__))) / "extensions"
    exact = folder / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    found = [exact] if exact.is_file() else sorted(folder.glob(f"*/{name}.duckdb_extension"))
    if not found:
        raise AutosloError(f"duckdb-extension-{name} ships no {name}.duckdb_extension under {folder}")
    return found[-1]


def database_file(scale_factor: float, tree: DataTree) -> Path:
    """Where the TPC-H database at `scale_factor` is cached (git-ignored, built once)."""
    return tree.template_suite_dir("tpch") / "data" / f"tpch-sf={scale_factor:g}.duckdb"


def prepare_database(scale_factor: float, tree: DataTree) -> Path:
    """The TPC-H database file at `scale_factor`, generated with `dbgen` the first time."""
    import duckdb
    from filelock import FileLock

    path = database_file(scale_factor, tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f".{path.name}.lock"), timeout=3600):
        if path.is_file():
            return path
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        tmp = Path(tmp_name)
        tmp.unlink()  # DuckDB creates the file itself
        try:
            connection = duckdb.connect(str(tmp))
            try:
                connection.execute(f"LOAD '{extension_file('tpch')}'")
                connection.execute(f"CALL dbgen(sf={scale_factor})")
                connection.execute("CHECKPOINT")
            finally:
                connection.close()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            Path(f"{tmp}.wal").unlink(missing_ok=True)
    return path


def live_home() -> Path:
    """Where clusters keep their temporary (spill) folders; the postgres target's live home."""
    from autoslo.live.postgres import live_home as home

    return home() / "duckdb"


class _Instance:
    """One cluster's DuckDB instance and its open connections, so stopping it can interrupt them
    (closing an instance waits for the queries still running on it)."""

    def __init__(self, instance: Any, name: str) -> None:
        self.instance = instance
        self.name = name
        self._connections: set[Any] = set()
        self._lock = threading.Lock()
        self._closed = False

    def connect(self) -> Any:
        import duckdb

        with self._lock:
            if self._closed:
                raise TargetError(f"DuckDB cluster {self.name} was stopped")
            try:
                connection = self.instance.cursor()
                connection.execute("USE tpch")
            except duckdb.Error as exc:
                raise TargetError(f"cannot connect to DuckDB cluster {self.name} "
                                  f"({str(exc).splitlines()[0]})") from None
            self._connections.add(connection)
        return connection

    def forget(self, connection: Any) -> None:
        with self._lock:
            self._connections.discard(connection)

    def close(self) -> None:
        """Interrupt what runs, close every connection, then the instance (idempotent)."""
        with self._lock:
            self._closed = True
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.interrupt()
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()
        with contextlib.suppress(Exception):
            self.instance.close()


class DuckdbProvisioner:
    """Opens one DuckDB instance per cluster on the shared read-only database; holds the run lock."""

    def __init__(self, database: Path, run_tag: str, home: Path | None = None) -> None:
        self.database = database
        self.home = home or live_home()
        self.run_folder = self.home / run_tag
        self.run_folder.mkdir(parents=True, exist_ok=True)
        self._lock = (self.home / f"{run_tag}.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def check(self, specs: list[ClusterSpec]) -> None:
        for spec in specs:
            cluster_resources(spec)
            queues = getattr(getattr(spec, "wlm", None), "queues", [])
            if any(q.concurrency_scaling == "auto" for q in queues):
                raise NotBuiltError("the duckdb live target has no concurrency scaling "
                                    "(set concurrency_scaling: off, or run on redshift)")

    def start(self, spec: ClusterSpec, name: str) -> Endpoint:
        import duckdb

        memory_mb, threads = cluster_resources(spec)
        spill = self.run_folder / name
        spill.mkdir(parents=True, exist_ok=True)
        try:
            instance = duckdb.connect(":memory:", config={
                "memory_limit": f"{memory_mb}MB", "threads": threads,
                "temp_directory": str(spill)})
            instance.execute(f"ATTACH '{self.database}' AS tpch (READ_ONLY)")
        except duckdb.Error as exc:
            shutil.rmtree(spill, ignore_errors=True)
            raise TargetError(f"DuckDB cluster {name} on {self.database} did not open: "
                              f"{str(exc).splitlines()[0]}") from None
        return Endpoint(name=name, host="in-process", port=0, database=str(self.database),
                        user="", handle={"instance": _Instance(instance, name), "folder": str(spill),
                                         "memory_mb": memory_mb, "threads": threads})

    def stop(self, endpoint: Endpoint) -> None:
        instance = endpoint.handle.get("instance")
        if instance is not None:
            instance.close()
        shutil.rmtree(endpoint.handle.get("folder", ""), ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.run_folder, ignore_errors=True)
        lock_path = Path(self._lock.name)
        self._lock.close()
        lock_path.unlink(missing_ok=True)


def cleanup_orphans(home: Path | None = None) -> list[str]:
    """Remove the spill folders of runs no living process holds (a killed run leaves them)."""
    removed: list[str] = []
    for run_folder in orphaned_runs(home or live_home()):
        shutil.rmtree(run_folder, ignore_errors=True)
        removed.append(str(run_folder))
    return removed


class _Deadline:
    """Interrupts one connection after `timeout_s` unless the statement ended first."""

    def __init__(self, connection: Any, timeout_s: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._over = False
        self.fired = False
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if not self._over:
                self.fired = True
                self._connection.interrupt()

    def end(self) -> None:
        """No interrupt after this returns (a late one would hit the connection's next query)."""
        with self._lock:
            self._over = True
        self._timer.cancel()


class DuckdbDriver:
    """A cursor per connection; the client enforces WLM slots, a timer enforces timeouts."""

    enforces_wlm = False
    batch_rows = 10_000

    def __init__(self) -> None:
        self._owner: dict[int, _Instance] = {}

    def connect(self, endpoint: Endpoint) -> Any:
        instance = endpoint.handle.get("instance")
        if instance is None:
            raise TargetError(f"DuckDB cluster {endpoint.name} has no open instance")
        connection = instance.connect()
        self._owner[id(connection)] = instance
        return connection

    def run(self, connection: Any, sql: str, *, tag: str, timeout_s: float | None) -> QueryOutcome:
        import duckdb

        deadline = _Deadline(connection, timeout_s) if timeout_s is not None else None
        try:
            connection.execute(f"/* {tag} */ {sql}")
            while connection.description is not None and connection.fetchmany(self.batch_rows):
                pass  # rows are discarded as they arrive
            return QueryOutcome("ok")
        except duckdb.InterruptException:
            if deadline is not None and deadline.fired:
                return QueryOutcome("timeout", "statement timeout")
            return QueryOutcome("failed", "interrupted")
        except duckdb.ConnectionException:
            raise  # the instance closed under it: the replay retries once on a new connection
        except duckdb.Error as exc:
            text = str(exc).strip().splitlines()
            return QueryOutcome("failed", (text[0] if text else type(exc).__name__)[:300])
        finally:
            if deadline is not None:
                deadline.end()

    def close(self, connection: Any) -> None:
        owner = self._owner.pop(id(connection), None)
        if owner is not None:
            owner.forget(connection)
        with contextlib.suppress(Exception):  # a closed instance's cursor may fail to close
            connection.close()
