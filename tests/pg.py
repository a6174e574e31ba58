"""A real PostgreSQL server for tests: started on 127.0.0.1 and a free port, stopped by handle.

PostgreSQL refuses to run as root, so the server runs as the `postgres` user in a fresh data
directory it owns; trust authentication, TCP on loopback only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One PostgreSQL server; `dsn` connects as the postgres superuser."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="autoslo-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def start(self) -> LocalPostgres:
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        run = lambda *cmd: subprocess.run([*self._as_postgres, *cmd], check=True,  # noqa: E731
                                          capture_output=True)
        run(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync")
        run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_parallel_workers_per_gather=0", "start")
        for _ in range(100):
            if subprocess.run([str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p",
                               str(self.port)], capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'log').read_text()}")

    def stop(self) -> None:
        subprocess.run([*self._as_postgres, str(BIN / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
