"""Shared fixtures: a private copy of the shipped data tree and an in-process CLI runner."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DATA = REPO / "data"
OUTPUT_FOLDERS = ("simulator_runs", "runs", "tuner_runs", "plots")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped inputs in a temp folder, used as the data root and cwd parent."""
    root = tmp_path / "data"
    shutil.copytree(SHIPPED_DATA, root, ignore=shutil.ignore_patterns(*OUTPUT_FOLDERS, "tuned"))
    monkeypatch.setenv("AUTOSLO_DATA_DIR", str(root))
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `autoslo ARGS...` in this process through the real console entry point."""
    from autoslo.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["autoslo", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(int(code) if isinstance(code, int) else 1, captured.out, captured.err)

    return run


def snapshot(root: Path) -> dict[str, float]:
    """Every file under `root` with its modification time (to prove nothing was written)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
