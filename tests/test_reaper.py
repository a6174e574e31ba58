"""autoslo.reaper: what a killed command started dies with it (Ray's agents included)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# a command that starts a detached grandchild (its own session: no process group reaches it)
COMMAND = """
import subprocess, sys, time
{watch}
child = subprocess.Popen(["sleep", "300"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    """Whether pid is a living process (not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(_alive(p) for p in pids)


def _kill(pids: list[int], command: str | None = None) -> None:
    """SIGKILL these pids (only if still running `command`, when given: a pid may be reused)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            if command is None or Path(f"/proc/{pid}/cmdline").read_bytes() == command.encode():
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("watched", [True, False])
def test_a_killed_commands_descendants_die_with_it_only_when_watched(watched: bool) -> None:
    watch = "from autoslo.reaper import watch; watch()" if watched else ""
    bystander = subprocess.Popen(["sleep", "300"])  # not the command's: must survive
    command = subprocess.Popen([sys.executable, "-c", COMMAND.format(watch=watch)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    grandchild = -1
    try:
        assert command.stdout is not None
        grandchild = int(command.stdout.readline())
        time.sleep(1.0)  # the watchdog has seen the grandchild (it looks twice a second)
        command.kill()
        command.wait()
        if watched:
            assert _gone_within([grandchild], 10)
        else:
            assert not _gone_within([grandchild], 2)  # without the watchdog it lives on
        assert _alive(bystander.pid)
    finally:
        _kill([grandchild], "sleep\x00300\x00")
        bystander.kill()
        bystander.wait()


def _session(sid: int) -> Iterator[tuple[int, str]]:
    """(pid, command line) of every living process in session `sid`, and autoslo's watchdog."""
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue
        if fields[0] not in "ZX" and (int(fields[3]) == sid or f"reaper.py {sid} " in command):
            yield int(entry.name), command


@pytest.mark.slow
def test_ray_started_by_a_killed_tune_dies_with_it(data_dir: Path) -> None:
    tune = subprocess.Popen(
        [sys.executable, "-m", "autoslo.cli", "tune", "--execution-config",
         str(data_dir / "execution_configs" / "examples" / "serverless-pool.yml"), "--tuner-config",
         str(data_dir / "tuner_configs" / "example.yml"), "--param", "TRIALS=400", "--force"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "AUTOSLO_DATA_DIR": str(data_dir),
                       "RAY_AUTH_MODE": "disabled"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while sum("ray::" in c for _, c in _session(tune.pid)) < 3:  # its agents and workers
            assert tune.poll() is None, tune.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        started = [pid for pid, _ in _session(tune.pid)]
        assert any("reaper.py" in c for _, c in _session(tune.pid))
        tune.kill()
        tune.wait()
        assert _gone_within(started, 10), list(_session(tune.pid))
    finally:
        _kill([pid for pid, _ in _session(tune.pid)])  # what is left of it, by session
        if tune.stderr is not None:
            tune.stderr.close()
