"""Prefect flows and deployments end to end: a real server, a process work pool and worker, real
Ray workers, and a local S3 server (moto_server) behind prefect-aws blocks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from autoslo.live.postgres import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUTS = ("simulator_runs", "runs", "tuner_runs", "plots", "tuned")


def _wait_http(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer")


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[dict[str, str]]:
    """`prefect server start` on a free port with a temporary home; the env to talk to it."""
    home = tempfile.mkdtemp(prefix="autoslo-prefect-test-")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "RAY_AUTH_MODE": "disabled",
           "PREFECT_WORKER_QUERY_SECONDS": "1", "AUTOSLO_PROJECT_DIR": str(REPO)}
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/health")
        yield env
    finally:
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # the last log lines of in-process flows, before the server goes
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def api(prefect_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process talks to the test server too (flows called in-process)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    for key in ("PREFECT_API_URL", "PREFECT_HOME", "RAY_AUTH_MODE"):
        monkeypatch.setenv(key, prefect_server[key])
    with temporary_settings(updates={PREFECT_API_URL: prefect_server["PREFECT_API_URL"]}):
        yield prefect_server


def _flow(module: str, name: str) -> object:
    """A flow from flows/<module>.py, imported afresh (it reads AUTOSLO_* at import)."""
    import importlib

    sys.modules.pop(module, None)
    sys.path.insert(0, str(REPO / "flows"))
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        sys.path.remove(str(REPO / "flows"))


def _data_copy(root: Path) -> Path:
    data = root / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns(*OUTPUTS))
    return data


def test_deployments_run_on_a_process_worker(prefect_server: dict[str, str],
                                            tmp_path: Path) -> None:
    env = {**prefect_server, "AUTOSLO_DATA_DIR": str(_data_copy(tmp_path))}
    run = lambda *args: subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=REPO,  # noqa: E731
                                       capture_output=True, text=True, timeout=600)
    assert run("work-pool", "create", "local", "--type", "process", "--overwrite").returncode == 0
    deployed = run("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "local"],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        for name in ("execute/default", "tune/default", "plot/default"):
            watched = run("deployment", "run", name, "--watch", "--watch-timeout", "500")
            assert watched.returncode == 0, \
                f"{name}: {(tmp_path / 'worker.log').read_text()[-3000:]}"
            assert "Completed" in watched.stdout
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
    data = Path(env["AUTOSLO_DATA_DIR"])
    assert len(list((data / "simulator_runs" / "example").glob("*/summary.yml"))) == 3
    assert len(list((data / "execution_configs" / "tuned").glob("*.yml"))) == 1
    assert (data / "plots" / "example.png").stat().st_size > 10_000
    assert (data / "plots" / "example.html").is_file()


def test_mapped_tasks_run_in_ray_workers(api: dict[str, str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSLO_DATA_DIR", str(_data_copy(tmp_path)))
    execute = _flow("execute", "execute")
    results = execute(manifest="manifests/execution/example.yml")
    assert len(results) == 3
    pids = {r["pid"] for r in results}
    assert os.getpid() not in pids  # simulated in Ray worker processes, not in the flow's
    assert all(Path(r["folder"]).is_dir() for r in results)
    # a user mistake fails the run with its one-line message, not a traceback
    state = execute(manifest="manifests/execution/nope.yml", return_state=True)
    assert state.is_failed()
    assert state.message == "data/manifests/execution/nope.yml: file does not exist" or \
        state.message.endswith("manifests/execution/nope.yml: file does not exist")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A local S3 (moto_server) on 127.0.0.1 and a free port."""
    port = free_port()
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


@pytest.fixture
def bucket_block(api: dict[str, str], s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    name = f"data-{free_port()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    sys.path.insert(0, str(REPO / "deployments"))
    try:
        from blocks import register  # deployments/blocks.py
    finally:
        sys.path.remove(str(REPO / "deployments"))
    register(name, name, folder="autoslo", endpoint_url=s3_server)
    return name


def test_storage_push_pull_moves_only_changed_files(bucket_block: str, tmp_path: Path,
                                                    cli) -> None:
    source = _data_copy(tmp_path / "a")
    first = cli("--data-dir", str(source), "storage", "push", "--block", bucket_block)
    assert first.code == 0, first.err
    count = len([p for p in source.rglob("*") if p.is_file()])
    assert first.out.strip() == f"uploaded {count} file(s), 0 unchanged"
    (source / "slos" / "example.yml").write_text(
        (source / "slos" / "example.yml").read_text() + "# edited\n")
    again = cli("--data-dir", str(source), "storage", "push", "--block", bucket_block)
    assert again.out.strip() == f"uploaded 1 file(s), {count - 1} unchanged"
    target = tmp_path / "b" / "data"
    pulled = cli("--data-dir", str(target), "storage", "pull", "slos", "--block", bucket_block)
    assert pulled.out.strip() == "downloaded 1 file(s), 0 unchanged"
    assert (target / "slos" / "example.yml").read_text().endswith("# edited\n")
    (source / "slos" / "example.yml").unlink()  # never deleted remotely unless asked
    assert "deleted" not in cli("--data-dir", str(source), "storage", "push", "--block",
                                bucket_block).out
    deleted = cli("--data-dir", str(source), "storage", "push", "slos", "--delete", "--block",
                  bucket_block)
    assert deleted.out.strip() == "uploaded 0 file(s), 0 unchanged, 1 deleted"
    unknown = cli("storage", "pull", "--block", "no-such-block")
    assert unknown.code == 2
    assert "S3Bucket block 'no-such-block' is not registered" in unknown.err


def test_a_flow_reads_and_writes_only_through_the_bucket(bucket_block: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         cli) -> None:
    source = _data_copy(tmp_path / "a")
    assert cli("--data-dir", str(source), "storage", "push", "--block", bucket_block).code == 0
    empty = tmp_path / "nothing-here"
    monkeypatch.setenv("AUTOSLO_DATA_DIR", str(empty))  # local data would be read from here
    monkeypatch.setenv("AUTOSLO_STORAGE", f"s3-bucket/{bucket_block}")
    monkeypatch.chdir(tmp_path)
    execute = _flow("execute", "execute")
    from autoslo.storage import load_bucket, remote_files

    before = set(remote_files(load_bucket()))
    results = execute(manifest="manifests/execution/example.yml")
    assert len(results) == 3 and not empty.exists()
    keys = remote_files(load_bucket())
    # flow and task results persist to the bucket too (beside the tree, at the folder's top)
    assert [k for k in set(keys) - before if "/" not in k]
    written = [k for k in keys if k.startswith("simulator_runs/example/")]
    assert len([k for k in written if k.endswith("summary.yml")]) == 3
    summary = yaml.safe_load(load_bucket().read_path(
        next(k for k in written if k.endswith("summary.yml"))))
    assert summary["queries"] == 2108


def test_an_unreachable_bucket_fails_the_flow_with_one_line(api: dict[str, str],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    sys.path.insert(0, str(REPO / "deployments"))
    try:
        from blocks import register
    finally:
        sys.path.remove(str(REPO / "deployments"))
    register("gone", "gone-bucket", endpoint_url=f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AUTOSLO_STORAGE", "s3-bucket/gone-bucket")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    plot = _flow("plot", "plot")
    state = plot(return_state=True)
    assert state.is_failed()
    assert state.message.startswith("cannot read the bucket of block 's3-bucket/gone-bucket'")


def test_an_unreachable_ray_address_says_so(api: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from autoslo.errors import AutosloError

    port = free_port()
    monkeypatch.setenv("AUTOSLO_RAY_ADDRESS", f"127.0.0.1:{port}")
    execute = _flow("execute", "execute")
    with pytest.raises(AutosloError, match=f"AUTOSLO_RAY_ADDRESS: cannot reach Ray at "
                                           f"'127.0.0.1:{port}'"):
        execute(manifest="manifests/execution/example.yml")
    monkeypatch.delenv("AUTOSLO_RAY_ADDRESS")
    _flow("execute", "execute")  # later tests get the local Ray again
