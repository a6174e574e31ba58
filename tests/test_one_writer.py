"""One writer per output, and Ctrl-C means stop, with real processes: a second `tune` of a running
run exits 2 naming the first (also with --force, which deletes nothing); SIGINT or SIGTERM stops
`tune` with exit 130 and nothing half-written; a second `execute` or `plot` of the same folder or
plot name waits for the first; written files honour the umask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest

from autoslo.atomic import BusyError, one_writer, replace_dir, replace_file, write_text
from autoslo.datatree import DataTree
from autoslo.tune import resolve_inputs
from tests.tune.helpers import EXEC, tuner_file

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 180.0  # a guard against hanging forever, never a measure


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "AUTOSLO_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1"}


@contextmanager
def _started(args: list[str], data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """`python -m autoslo.cli ARGS` in its own session; whatever is left of it is stopped."""
    child = subprocess.Popen([sys.executable, "-m", "autoslo.cli", *args], env=_env(data_dir),
                             cwd=data_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        yield child
    finally:
        with suppress(ProcessLookupError):  # the child, if still running, and what it started
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _until(condition: Callable[[], bool], child: subprocess.Popen[str]) -> None:
    """Wait until `condition` holds (the child must not have ended first)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _finished_trials(journal: Path) -> int:
    """How many trials the journal says were told (complete or failed)."""
    if not journal.is_file():
        return 0
    ops = [json.loads(line) for line in journal.read_text().splitlines() if line.endswith("}")]
    return sum(1 for op in ops if op.get("op_code") == 6 and op.get("state") in (1, 2, 3))


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "workers"), [(signal.SIGINT, 1), (signal.SIGTERM, 1),
                                                 (signal.SIGINT, 2)])  # 2: trials on Ray actors
def test_one_tune_per_run_and_a_signal_stops_it_cleanly(data_dir: Path, cli,
                                                        signum: signal.Signals,
                                                        workers: int) -> None:
    tree = DataTree(data_dir)
    # far more trials than it gets to: it is stopped
    tuner = tuner_file(data_dir, n_trials=5000, parallelism={"workers": workers})
    inputs = resolve_inputs(Path(EXEC), tuner, {}, {}, tree)
    folder = tree.tuner_run_dir(inputs.name)
    args = ["tune", "--execution-config", EXEC, "--tuner-config", "data/tuner_configs/t.yml"]
    with _started(args, data_dir) as first:
        _until(lambda: _finished_trials(folder / "study.log") >= 2, first)
        for extra in ((), ("--force",)):
            second = cli(*args, *extra)
            assert second.code == 2
            assert second.err.strip().splitlines() == [
                f"tuner run {inputs.name} is being written by process {first.pid} "
                f"(autoslo {' '.join(args)}); wait for it to finish (or "
                "stop it), then run again"], second.err
            assert (folder / "study.log").is_file()  # --force deleted nothing
        first.send_signal(signum)
        _, err = first.communicate(timeout=DEADLINE_S)
    assert first.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"interrupted ({signum.name}): run the same command again (without --force) to resume "
        f"tuner run {inputs.name} where it stopped")
    assert not (folder / "summary.yml").exists() and not (folder / "trials.parquet").exists()
    assert not tree.tuned_config(inputs.name).exists()
    assert not [p for p in folder.parent.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert _finished_trials(folder / "study.log") >= 2  # what it finished is kept for a resume


def _combinations(tree: DataTree, manifest: str) -> list:  # type: ignore[type-arg]
    from autoslo.combinations import manifest_combinations
    from autoslo.config import ExecutionManifest, load_model

    return manifest_combinations(load_model(tree.root.parent / manifest, ExecutionManifest), tree,
                                 source=manifest)


@pytest.mark.slow
def test_a_second_execute_and_plot_wait_for_the_writer(data_dir: Path) -> None:
    tree = DataTree(data_dir)
    manifest = "data/manifests/execution/example.yml"
    combos = _combinations(tree, manifest)
    held = combos[1].simulator_dir(tree)
    with ExitStack() as holding:
        holding.enter_context(one_writer(held, "held by the test"))
        with _started(["execute", "--manifest", manifest], data_dir) as child:
            assert child.stdout is not None
            first_line = child.stdout.readline()  # the first combination is done: the second next
            assert first_line.startswith(combos[0].label), first_line
            time.sleep(1.0)  # time to reach the lock (if it did not, the checks below still hold)
            assert child.poll() is None and not held.exists()  # it waits, writing nothing
            holding.close()  # released: the child simulates the held folder and the rest
            out, err = child.communicate(timeout=DEADLINE_S)
    assert child.returncode == 0, err
    assert len(out.strip().splitlines()) == len(combos) - 1
    assert (held / "summary.yml").is_file()

    plot = tree.plot_html("example")
    with ExitStack() as holding:
        holding.enter_context(one_writer(plot.with_name("example"), "held by the test"))
        with _started(["plot", "--manifest", "data/manifests/plotting/example.yml", "--no-png"],
                      data_dir) as child:
            time.sleep(3.0)  # time to build the plot and reach the lock (see above)
            assert child.poll() is None and not plot.exists()
            holding.close()
            out, err = child.communicate(timeout=DEADLINE_S)
    assert child.returncode == 0, err
    assert plot.is_file()


def test_a_busy_output_names_its_writer(tmp_path: Path) -> None:
    target = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from autoslo.atomic import one_writer\n"
        "with one_writer(Path(sys.argv[1]), 'x'):\n"
        "    print('held', flush=True); time.sleep(600)"), str(target)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        busy = rf"^the output is being written by process {child.pid} \(-c "
        with pytest.raises(BusyError, match=busy), one_writer(target, "the output"):
            pass
    finally:
        child.kill()
        child.wait()
    with one_writer(target, "the output"):  # a killed writer leaves the lock free
        pass


def test_written_files_and_folders_honour_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_text(tmp_path / "a.txt", "a")
        with replace_file(tmp_path / "b.parquet") as tmp:
            tmp.write_bytes(b"b")
        with replace_dir(tmp_path / "c") as tmp:
            (tmp / "x").write_text("x")
        os.umask(0o022)
        write_text(tmp_path / "d.txt", "d")
        with replace_dir(tmp_path / "e") as tmp:
            pass
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"a.txt": 0o640, "b.parquet": 0o640, "c": 0o750, "d.txt": 0o644, "e": 0o755}


def test_a_replaced_folder_is_never_missing_for_a_reader(tmp_path: Path) -> None:
    # `execute --force` replaces a result folder while `plot` may read it (the soak saw a plot
    # find queries.parquet missing between the two renames of the old replacement)
    import threading

    from autoslo.atomic import replace_dir

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "queries.parquet").write_text("0")
    missing = 0
    done = threading.Event()

    def read() -> None:
        nonlocal missing
        while not done.is_set():
            missing += not (folder / "queries.parquet").exists()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(300):
            with replace_dir(folder) as tmp:
                (tmp / "queries.parquet").write_text(str(i))
    finally:
        done.set()
        reader.join()
    assert missing == 0
    assert (folder / "queries.parquet").read_text() == "299"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left
