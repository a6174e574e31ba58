"""Processes that die with their command: a watchdog ends what a command started once it is gone.

A command that starts a local Ray (`ray.init`: GCS, raylet, workers, dashboard and runtime-env
agents) shuts it down when it ends normally or on Ctrl-C; killed outright (SIGKILL, or SIGTERM
without a handler) most of Ray follows its driver, but its agents live on (measured here: still
alive 40 s after a SIGKILLed `autoslo tune`). `watch()` starts one small watchdog process (stdlib
only, in its own session so a terminal's Ctrl-C leaves it alone) that tracks the command's
descendants twice a second and, when the command is gone, SIGKILLs those still alive, each checked
by pid and start time so a reused pid is never hit. Live runs and calibration start no Ray: their
local PostgreSQL servers are meant to outlive a kill (the next run or `autoslo live cleanup`
removes them by run tag), so they do not use this.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5
_watched: set[int] = set()


def watch(pid: int | None = None) -> None:
    """Make `pid`'s (default: this process's) descendants die with it; once per process."""
    target = os.getpid() if pid is None else pid
    started = _start_time(target)
    if target in _watched or started is None:
        return
    _watched.add(target)
    # -I: no user site, no script folder on sys.path (this folder's modules must not shadow stdlib)
    subprocess.Popen([sys.executable, "-I", str(Path(__file__).resolve()), str(target), started],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time in clock ticks) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name in parentheses may hold spaces
    return fields[0], int(fields[1]), fields[19]


def _start_time(pid: int) -> str | None:
    """When a living (not zombie) process started, in clock ticks since boot; None if gone."""
    stat = _stat(pid)
    return None if stat is None or stat[0] in ("Z", "X") else stat[2]


def _table() -> dict[int, tuple[int, str]]:
    """Every living process: pid -> (parent pid, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None \
                and stat[0] not in ("Z", "X"):
            table[int(entry.name)] = (stat[1], stat[2])
    return table


def reap(pid: int, started: str) -> list[int]:
    """Track `pid`'s descendants until it is gone, then SIGKILL those alive; returns their pids."""
    me = os.getpid()
    tracked: dict[int, str] = {}
    while _start_time(pid) == started:
        table = _table()
        tracked = {p: s for p, s in tracked.items() if table.get(p, (0, ""))[1] == s}
        parents = {pid, *tracked}  # children of a tracked process count, after reparenting too
        grew = True
        while grew:
            grew = False
            for child, (parent, start) in table.items():
                if parent in parents and child not in parents and child != me:
                    tracked[child] = start
                    parents.add(child)
                    grew = True
        time.sleep(POLL_S)
    killed = []
    for child, start in tracked.items():
        if _start_time(child) == start:
            try:
                os.kill(child, signal.SIGKILL)
                killed.append(child)
            except OSError:
                continue  # it ended meanwhile
    return killed


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reap(int(sys.argv[1]), sys.argv[2])
