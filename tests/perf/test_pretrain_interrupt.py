"""Ctrl-C during `autoslo model pretrain` stops it: exit 130, one line on stderr, no model folder
(Ray Tune used to swallow the signal and a model from part of the search was written)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 300.0  # a guard against hanging forever, never a measure


@pytest.mark.slow
def test_ctrl_c_during_the_search_writes_no_model(data_dir: Path) -> None:
    search = data_dir / "model_searches" / "long.yml"
    spec = yaml.safe_load((data_dir / "model_searches" / "bellamy.yml").read_text())
    spec.update({"trials": 50, "max_epochs": 100_000, "grace_epochs": 50_000, "members": 1})
    search.write_text(yaml.safe_dump(spec))
    # a short private temp folder: the search's storage shows when it runs (and Ray's socket
    # paths stay short enough)
    tmp = Path(tempfile.mkdtemp(prefix="as", dir="/tmp"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOSLO_DATA_DIR": str(data_dir),
           "TMPDIR": str(tmp)}
    out = data_dir / "models" / "interrupted"
    child = subprocess.Popen(
        [sys.executable, "-m", "autoslo.cli", "model", "pretrain", "--data", "data/c3o/sort.tsv",
         "--out", "data/models/interrupted", "--search", "data/model_searches/long.yml"],
        env=env, cwd=data_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not list(tmp.glob("autoslo-tune-*/replays")):  # the search has started
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "gave up waiting for the search"
            time.sleep(0.1)
        time.sleep(2.0)  # let a trial start (the test holds without it, too)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=DEADLINE_S)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    assert child.returncode == 130, err
    said = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert said == ["interrupted (SIGINT): nothing half-written was left"], err
    assert not out.exists()
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".interrupted")]
