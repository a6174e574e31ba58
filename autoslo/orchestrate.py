"""Prefect and Ray plumbing shared by the flows in `flows/` (which stay thin).

- `task_runner()`: the Ray task runner: a local Ray on this machine's cores, or the cluster at
  `$AUTOSLO_RAY_ADDRESS`.
- `prefect_api()`: a flow started as a script needs one Prefect API that the Ray workers share;
  without `PREFECT_API_URL`, each Ray worker would start its own temporary server (2+ GB each),
  so one server is started here for the script's lifetime.
- `flow_data_tree()`: the data tree a flow works on (`AUTOSLO_STORAGE` mirrors it from S3).
- `user_mistakes_fail_cleanly`: a user mistake fails the flow run with its one-line message.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from autoslo.datatree import DataTree
from autoslo.errors import AutosloError

RAY_ADDRESS_ENV = "AUTOSLO_RAY_ADDRESS"
F = TypeVar("F", bound=Callable[..., Any])


def task_runner() -> Any:
    """Ray for mapped tasks: local (2 CPUs here, no dashboard) or an existing cluster."""
    from prefect_ray import RayTaskRunner

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    address = os.environ.get(RAY_ADDRESS_ENV)
    if address:
        return RayTaskRunner(address=address)
    return RayTaskRunner(init_kwargs={"num_cpus": os.cpu_count() or 2, "include_dashboard": False,
                                      "log_to_driver": False})


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def prefect_api() -> Iterator[str]:
    """The Prefect API to use: `PREFECT_API_URL`, or a server started here until the block ends."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    from autoslo.live.postgres import free_port

    port = free_port()
    home = tempfile.mkdtemp(prefix="autoslo-prefect-")
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = Path(sys.executable).with_name("prefect")
    server = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise AutosloError(f"could not start a Prefect server on 127.0.0.1:{port}; set "
                                   "PREFECT_API_URL to a running one")
            time.sleep(0.25)
        os.environ["PREFECT_API_URL"] = url
        print(f"Prefect API for this run: {url} (set PREFECT_API_URL to use your own)",
              file=sys.stderr)
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def flow_data_tree() -> Iterator[DataTree]:
    """The local data tree, or a mirror of the S3 tree named by `AUTOSLO_STORAGE`."""
    from autoslo.storage import mirrored_tree

    with mirrored_tree() as tree:
        yield tree


def input_path(tree: DataTree, reference: str, field: str) -> Path:
    """A flow parameter naming an input: data-relative (`manifests/...`) or, locally, a path."""
    local = Path(reference)
    if local.is_file() and tree.contains(local):
        return local
    if reference.startswith("data/") and not tree.ref(reference, field=field).exists():
        reference = reference[len("data/"):]
    return tree.ref(reference, field=field)


def user_mistakes_fail_cleanly(body: F) -> F:
    """Turn an AutosloError into a Failed state carrying its message (no traceback wall)."""
    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from prefect.states import Failed

        try:
            return body(*args, **kwargs)
        except AutosloError as exc:
            from prefect import get_run_logger

            get_run_logger().error(str(exc))
            return Failed(message=str(exc))
    return wrapper  # type: ignore[return-value]
