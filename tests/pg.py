"""A real PostgreSQL server for tests: started on 127.0.0.1 and a free port, stopped by handle.

The server is the live target's own `PostgresServer` (run as the `postgres` user, trust
authentication, loopback only) in a fresh temporary folder that `stop` removes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autoslo.live.postgres import PostgresServer


class LocalPostgres(PostgresServer):
    """One throwaway PostgreSQL server; `dsn` connects as the postgres superuser."""

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="autoslo-pg-", dir="/tmp")))

    def start(self) -> LocalPostgres:
        if not self.data.is_dir():
            self.init()
        super().start()
        return self

    def stop(self, *, fast: bool = False) -> None:
        super().stop(fast=fast)
        shutil.rmtree(self.folder, ignore_errors=True)
