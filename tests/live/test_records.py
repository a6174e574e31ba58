"""Live-run records after a kill: `running` records whose process died become `incomplete`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from autoslo.datatree import DataTree
from autoslo.live.records import (
    RunRecord,
    hold_run_lock,
    read_run_index,
    rebuild_run_index,
    settle_dead_runs,
    write_run_record,
)

DEAD, ALIVE, DONE, NO_LOCK = ("20261122T010000000Z", "20261122T020000000Z", "20261122T030000000Z",
                              "20261122T040000000Z")


def _record(tree: DataTree, stamp: str, status: str) -> None:
    tree.run_dir(stamp).mkdir(parents=True, exist_ok=True)
    write_run_record(tree, RunRecord(stamp, f"w-{stamp[-5:-1]}", "cfg-0000", status,  # type: ignore[arg-type]
                                     "postgres"))


def test_only_running_records_nobody_holds_are_settled_and_no_row_is_lost(tmp_path: Path) -> None:
    tree = DataTree(tmp_path / "data")
    for stamp, status in ((DEAD, "running"), (ALIVE, "running"), (DONE, "complete"),
                          (NO_LOCK, "running")):
        _record(tree, stamp, status)
    hold_run_lock(tree.run_dir(DEAD)).close()  # its process is gone
    (tree.run_dir(DEAD) / "queries.parquet").write_bytes(b"kept as it is")
    # a run still alive in another process: its lock is held there
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, fcntl; h = open(sys.argv[1], 'w'); fcntl.flock(h, fcntl.LOCK_EX); "
        "print('held', flush=True); sys.stdin.read()"), str(tree.run_dir(ALIVE) / ".alive.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        rebuild_run_index(tree)
        settled = settle_dead_runs(tree)
        assert [r.run_timestamp for r in settled] == [DEAD, NO_LOCK]  # a folder never locked, too
        statuses = {r.run_timestamp: r.status for r in read_run_index(tree)}
        assert statuses == {DEAD: "incomplete", ALIVE: "running", DONE: "complete",
                            NO_LOCK: "incomplete"}
        assert yaml.safe_load((tree.run_dir(DEAD) / "run.yml").read_text())["status"] == "incomplete"
        assert (tree.run_dir(DEAD) / "queries.parquet").read_bytes() == b"kept as it is"
        assert settle_dead_runs(tree) == []  # settled once; the living run is left alone
    finally:
        holder.communicate("")
    assert [r.run_timestamp for r in settle_dead_runs(tree)] == [ALIVE]  # its process ended
