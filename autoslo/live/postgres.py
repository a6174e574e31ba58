"""The `postgres` live target: every cluster is a real local PostgreSQL server.

PostgreSQL refuses to run as root, so servers run as the `postgres` user, on 127.0.0.1 and a free
port, in folders under the live home (`$AUTOSLO_LIVE_HOME`, default `/tmp/autoslo-live`):

- `templates/tpch-sf=<scale>/`: a data folder with the TPC-H tables loaded once (initdb, COPY,
  ANALYZE); every new cluster starts from a copy of it, which takes a second, not a reload.
- `clusters/<run_timestamp>/<cluster>/`: one run's servers. The run holds `clusters/<run>.lock`
  while it lives; `cleanup_orphans` removes the servers of runs whose lock is free (the process
  died, even by SIGKILL, since the kernel drops its lock).

Parallel query workers are off (`max_parallel_workers_per_gather=0`) so one query uses one core,
as the simulator's processor-sharing capacity assumes. Sizes (RPUs, nodes) are recorded but do not
change a local server's speed: local clusters share this machine's cores.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from autoslo.datatree import DataTree
from autoslo.live.target import (
    ClusterSpec,
    Endpoint,
    QueryOutcome,
    StatementTimeouts,
    TargetError,
    orphaned_runs,
)

SERVER_SETTINGS = ("-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_parallel_workers_per_gather=0 "
                   "-c max_connections=200 -c shared_buffers=64MB")


def live_home() -> Path:
    """Where local servers and their template live (outside data/: servers hold no results)."""
    return Path(os.environ.get("AUTOSLO_LIVE_HOME", "/tmp/autoslo-live"))


def pg_bin() -> Path:
    """The folder of initdb/pg_ctl (Debian installs them outside PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise TargetError("PostgreSQL is not installed (apt-get install postgresql; `make setup` "
                          "does it)")
    return found[-1].parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(path)], check=True)


class PostgresServer:
    """One PostgreSQL server in `folder` (its data directory is `folder/data`)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port or free_port()

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def init(self) -> PostgresServer:
        """Create an empty cluster (trust authentication, loopback only)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        _give_to_postgres(self.folder)
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> PostgresServer:
        """Start the server and wait until it accepts connections."""
        _give_to_postgres(self.folder)
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t",
                     "60", "-o", f"-p {self.port} -k {self.folder} {SERVER_SETTINGS}", "start")
        except subprocess.CalledProcessError:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-400:] if log.is_file() else ""
            raise TargetError(f"PostgreSQL at 127.0.0.1:{self.port} did not start: {tail}") from None
        for _ in range(200):
            ready = subprocess.run([str(pg_bin() / "pg_isready"), "-h", "127.0.0.1", "-p",
                                    str(self.port)], capture_output=True)
            if ready.returncode == 0:
                return self
            time.sleep(0.05)
        raise TargetError(f"PostgreSQL at 127.0.0.1:{self.port} did not accept connections")

    def stop(self, *, fast: bool = False) -> None:
        """Stop the server (immediate by default; `fast` checkpoints, for templates)."""
        subprocess.run([*_as_postgres(), str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-m",
                        "fast" if fast else "immediate", "-w", "stop"], capture_output=True)

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run([*_as_postgres(), str(pg_bin() / tool), *args], capture_output=True,
                              text=True)
        if done.returncode != 0:
            if tool == "pg_ctl":
                raise subprocess.CalledProcessError(done.returncode, tool)
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise TargetError(f"{tool} failed in {self.folder}: {detail[-1] if detail else '?'}")


def _check_reachable(home: Path) -> None:
    """The servers run as `postgres`: every folder above the live home must let it pass."""
    if os.geteuid() != 0:
        return
    home.mkdir(parents=True, exist_ok=True)
    for folder in [home.resolve(), *home.resolve().parents]:
        if not folder.stat().st_mode & 0o001:
            raise TargetError(f"the postgres user cannot enter {folder} (mode "
                              f"{folder.stat().st_mode & 0o777:o}), so local clusters cannot live "
                              f"in {home}; set AUTOSLO_LIVE_HOME to a folder it can reach")


def prepare_template(scale_factor: float, tree: DataTree, home: Path | None = None) -> Path:
    """A data folder with TPC-H at `scale_factor` loaded, built once and shared by every run."""
    from filelock import FileLock

    from autoslo.workload.tpch import generate_data, load_into

    home = home or live_home()
    _check_reachable(home)
    folder = home / "templates" / f"tpch-sf={scale_factor:g}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)
    with FileLock(str(folder.parent / f".{folder.name}.lock"), timeout=1800):
        if (folder / "ready").is_file():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        csv = tree.template_suite_dir("tpch") / "data" / f"sf={scale_factor:g}"
        if not (csv / "lineitem.csv").is_file():
            generate_data(scale_factor, csv)
        build = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        server = PostgresServer(build).init().start()
        try:
            import psycopg

            with psycopg.connect(server.dsn) as connection:
                load_into(connection, csv)
        finally:
            server.stop(fast=True)
        (build / "log").unlink(missing_ok=True)
        (build / "ready").write_text(f"tpch scale factor {scale_factor:g}\n", encoding="utf-8")
        os.replace(build, folder)
    return folder


class LocalPostgresProvisioner:
    """Starts each cluster of a run as a copy of the TPC-H template; holds the run's lock."""

    def __init__(self, template: Path, run_tag: str, home: Path | None = None) -> None:
        self.template = template
        self.home = home or live_home()
        self.run_folder = self.home / "clusters" / run_tag
        self.run_folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_folder.parent, 0o755)
        self._lock = (self.home / "clusters" / f"{run_tag}.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def check(self, specs: list[ClusterSpec]) -> None:
        from autoslo.errors import NotBuiltError

        for spec in specs:
            queues = getattr(getattr(spec, "wlm", None), "queues", [])
            if any(q.concurrency_scaling == "auto" for q in queues):
                raise NotBuiltError("the postgres live target has no concurrency scaling "
                                    "(set concurrency_scaling: off, or run on redshift)")

    def start(self, spec: ClusterSpec, name: str) -> Endpoint:
        folder = self.run_folder / name
        shutil.copytree(self.template, folder, symlinks=True)
        (folder / "ready").unlink(missing_ok=True)
        server = PostgresServer(folder).start()
        return Endpoint(name=name, host="127.0.0.1", port=server.port, database="postgres",
                        user="postgres", handle={"folder": str(folder)})

    def stop(self, endpoint: Endpoint) -> None:
        folder = Path(endpoint.handle["folder"])
        if folder.is_dir():
            PostgresServer(folder, endpoint.port).stop()
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.run_folder, ignore_errors=True)
        lock_path = Path(self._lock.name)
        self._lock.close()
        lock_path.unlink(missing_ok=True)


def cleanup_orphans(home: Path | None = None) -> list[str]:
    """Stop and remove the servers of runs that no living process holds; returns their folders."""
    removed: list[str] = []
    for run_folder in orphaned_runs((home or live_home()) / "clusters"):
        for cluster in sorted(p for p in run_folder.iterdir() if (p / "data").is_dir()):
            PostgresServer(cluster).stop()
            removed.append(str(cluster))
        shutil.rmtree(run_folder, ignore_errors=True)
    return removed


class PostgresDriver:
    """psycopg 3; the client enforces WLM slots and timeouts (`statement_timeout`)."""

    enforces_wlm = False

    def __init__(self) -> None:
        self._timeouts = StatementTimeouts()

    def connect(self, endpoint: Endpoint) -> Any:
        import psycopg

        try:
            return psycopg.connect(host=endpoint.host, port=endpoint.port, user=endpoint.user,
                                   dbname=endpoint.database, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TargetError(f"cannot connect to PostgreSQL at {endpoint.host}:{endpoint.port} "
                              f"({first})") from None

    def run(self, connection: Any, sql: str, *, tag: str, timeout_s: float | None) -> QueryOutcome:
        import psycopg
        from psycopg import errors

        try:
            with connection.cursor() as cursor:
                self._timeouts.apply(connection, cursor, timeout_s)
                for _ in cursor.stream(f"/* {tag} */ {sql}"):
                    pass  # rows are discarded as they arrive
            return QueryOutcome("ok")
        except errors.QueryCanceled:
            return QueryOutcome("timeout", "statement timeout")
        except psycopg.OperationalError:
            raise  # the connection dropped: the replay retries once on a new one
        except psycopg.Error as exc:
            return QueryOutcome("failed", str(exc).strip().splitlines()[0][:300])

    def close(self, connection: Any) -> None:
        self._timeouts.forget(connection)
        with contextlib.suppress(Exception):  # a broken connection may fail to close in any way
            connection.close()
