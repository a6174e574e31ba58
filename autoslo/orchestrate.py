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
    """Ray for mapped tasks: local (all cores, no dashboard) or the cluster at AUTOSLO_RAY_ADDRESS
    (checked when a flow run starts, so a wrong address fails the run with one clear line)."""
    from prefect_ray import RayTaskRunner

    class CheckedRayTaskRunner(RayTaskRunner):  # type: ignore[misc]
        def __enter__(self) -> Any:
            if self.address:
                _check_reachable(self.address)
            return super().__enter__()

        def duplicate(self) -> Any:
            return type(self)(address=self.address, init_kwargs=self.init_kwargs)

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    address = os.environ.get(RAY_ADDRESS_ENV)
    if address:
        return CheckedRayTaskRunner(address=address)
    return CheckedRayTaskRunner(init_kwargs={"address": "local", "num_cpus": os.cpu_count() or 2,
                                             "include_dashboard": False, "log_to_driver": False})


def result_settings() -> dict[str, Any]:
    """With `AUTOSLO_STORAGE=s3-bucket/<block>`, flow and task results persist to that bucket
    (the variable is also the block's Prefect slug); otherwise Prefect's defaults."""
    slug = os.environ.get("AUTOSLO_STORAGE")
    return {"result_storage": slug, "persist_result": True} if slug else {}


def _check_reachable(address: str) -> None:
    """Fail at once, by name, when the configured Ray cluster does not answer."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            return
    except (OSError, ValueError) as exc:
        raise AutosloError(f"{RAY_ADDRESS_ENV}: cannot reach Ray at {address!r} ({exc}); unset it "
                           "to use a local Ray on this machine's cores") from None


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
        from prefect.settings import PREFECT_API_URL, temporary_settings

        os.environ["PREFECT_API_URL"] = url  # for Ray workers, which inherit the environment
        print(f"Prefect API for this run: {url} (set PREFECT_API_URL to use your own)",
              file=sys.stderr)
        with temporary_settings(updates={PREFECT_API_URL: url}):  # for this process
            try:
                yield url
            finally:
                from prefect.logging.handlers import APILogHandler

                APILogHandler().flush()  # send the last log lines before the server goes
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


def input_path(tree: DataTree, reference: str, field: str, *, folder_ok: bool = False) -> Path:
    """A flow parameter naming an input: data-relative (`manifests/...`) or, locally, a path."""
    local = Path(reference)
    if (local.is_file() or (folder_ok and local.is_dir())) and tree.contains(local):
        return local
    if reference.startswith("data/") and not tree.ref(reference, field=field).exists():
        reference = reference[len("data/"):]
    return tree.ref(reference, field=field)


def output_path(tree: DataTree, reference: str, field: str) -> Path:
    """A flow parameter naming an output: data-relative, or an absolute path when the tree is
    local (never with AUTOSLO_STORAGE, whose outputs go to the bucket)."""
    if Path(reference).is_absolute() and not os.environ.get("AUTOSLO_STORAGE"):
        return Path(reference)
    if reference.startswith("data/"):
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


def run_script(call: Callable[[], Any]) -> None:
    """Run a flow from `python flows/<name>.py`: one Prefect API, exit 0 when it completed, 130
    when SIGINT or SIGTERM stopped it, else 2, with the reason on stderr."""
    import signal

    from autoslo.atomic import raise_when_safe, unwrapped

    def interrupt(signum: int, _frame: object) -> None:
        raise_when_safe(KeyboardInterrupt(signal.Signals(signum).name))

    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGTERM stops a flow like Ctrl-C: exit 130
        signal.signal(sig, interrupt)
    try:
        with unwrapped(KeyboardInterrupt), prefect_api():  # a wrapped signal is still a signal
            state = call()
    except AutosloError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    except (KeyboardInterrupt, SystemExit) as exc:
        # a Ray task runner turns SIGTERM into sys.exit(15): that is an interrupt too
        if isinstance(exc, SystemExit) and exc.code != signal.SIGTERM:
            raise
        name = "SIGTERM" if isinstance(exc, SystemExit) else (str(exc) or "SIGINT")
        print(f"interrupted ({name}): the flow run stopped; run it again to go on (finished "
              "tuning trials and simulator folders are reused)", file=sys.stderr)
        raise SystemExit(130) from None
    if not state.is_completed():
        print(f"flow run {state.name}: {state.message}", file=sys.stderr)
        raise SystemExit(2)


def ship_by_value(module_name: str) -> None:
    """Let Ray workers run a flow module's tasks although they cannot import `flows/` (Prefect
    loads a deployment's entrypoint from a file path): pickle the module's functions by value."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[module_name])
