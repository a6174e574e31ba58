"""A tuning run killed with SIGKILL anywhere and run again equals the uninterrupted run, trial for
trial: the same trials (parameters and scores, in order), the same validation and tuned config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from autoslo.datatree import DataTree
from autoslo.tune import TuningInputs, resolve_inputs, run_tuning, score_batch
from tests.tune.helpers import EXEC, tuner_file

REPO = Path(__file__).resolve().parents[2]
N_TRIALS = 9

# Runs one tuning in a child process that SIGKILLs itself at a chosen point:
#   score N  - when the N-th batch is handed to the evaluator (its trials asked, none scored)
#   suggest N - at the N-th parameter suggested (a trial's parameters only partly recorded)
#   tell N   - while recording the N-th trial's scores (after two of its attributes)
#   report   - after trials.parquet is written, while validating the best trials
KILLER = r"""
import os, signal, sys
from pathlib import Path
import autoslo.tune._report as report
import autoslo.tune._study as study
from autoslo.datatree import DataTree
from autoslo.tune import resolve_inputs, run_tuning, score_batch

exec_path, tuner_path, batch, point, at = sys.argv[1:6]
tree = DataTree(Path(os.environ["AUTOSLO_DATA_DIR"]))
inputs = resolve_inputs(Path(exec_path), Path(tuner_path), {}, {}, tree)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

class Batches:
    batch_size = int(batch)
    calls = 0
    def __init__(self, spec):
        self.spec = spec
    def __call__(self, data, prices, best):
        Batches.calls += 1
        if point == "score" and Batches.calls == int(at):
            die()
        return score_batch(self.spec, data, prices, best)
    def close(self):
        pass

if point == "tell":
    original = study.TuningStudy._record
    told = [0]
    def record(self, trial, evaluation, reason):
        told[0] += 1
        if told[0] == int(at):
            real, calls = trial.set_user_attr, [0]
            def set_user_attr(key, value):
                calls[0] += 1
                if calls[0] == 3:
                    die()
                real(key, value)
            trial.set_user_attr = set_user_attr
            original(self, trial, evaluation, reason)
            die()
        original(self, trial, evaluation, reason)
    study.TuningStudy._record = record
if point == "suggest":
    import optuna
    original_suggest = optuna.trial.Trial._suggest
    suggested = [0]
    def suggest(self, name, distribution):
        suggested[0] += 1
        if suggested[0] == int(at):
            die()
        return original_suggest(self, name, distribution)
    optuna.trial.Trial._suggest = suggest
if point == "report":
    def validate(*args, **kwargs):
        die()
    report.validate = validate
run_tuning(inputs, tree, evaluator=Batches)
"""


def _evaluator(size: int):  # type: ignore[no-untyped-def]
    """An evaluator factory scoring `size` trials per batch in this process."""
    class Local:
        batch_size = size

        def __init__(self, spec: object) -> None:
            self.spec = spec

        def __call__(self, data: list, prices: object, best: float) -> list:
            return score_batch(self.spec, data, prices, best)  # type: ignore[arg-type]

        def close(self) -> None:
            """Nothing to release."""

    return Local


def _outputs(tree: DataTree, inputs: TuningInputs) -> tuple[pl.DataFrame, str, str]:
    """The run's trials (timing aside), validation and tuned config."""
    folder = tree.tuner_run_dir(inputs.name)
    trials = pl.read_parquet(folder / "trials.parquet").drop("seconds")
    return (trials, (folder / "validation.yml").read_text(),
            tree.tuned_config(inputs.name).read_text())


def _forget(tree: DataTree, inputs: TuningInputs) -> None:
    shutil.rmtree(tree.tuner_run_dir(inputs.name))
    tree.tuned_config(inputs.name).unlink()


def _kill_at(data_dir: Path, tuner: Path, batch: int, point: str, at: int = 0) -> None:
    """Run the tuning in a child process that SIGKILLs itself at `point`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOSLO_DATA_DIR": str(data_dir)}
    child = subprocess.run([sys.executable, "-c", KILLER, EXEC, str(tuner), str(batch), point,
                            str(at)], env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "point", "at"), [
    (1, "score", 1),    # before the first trial finishes (the initial config is still queued)
    (3, "suggest", 22),  # trials 3-5 asked, trial 3 with 3 of its 6 parameters (random draws)
    (3, "tell", 5),     # mid-way: trial 3 told, trial 4 half-recorded, trial 5 not told
    (3, "report", 0),   # every trial told, the report being written
])
def test_a_killed_run_resumes_to_the_uninterrupted_result(data_dir: Path, batch: int, point: str,
                                                         at: int) -> None:
    tree = DataTree(data_dir)
    tuner = tuner_file(data_dir, n_trials=N_TRIALS)
    inputs = resolve_inputs(Path(EXEC), tuner, {}, {}, tree)
    run_tuning(inputs, tree, evaluator=_evaluator(batch))
    expected = _outputs(tree, inputs)
    assert expected[0].height == N_TRIALS
    _forget(tree, inputs)

    _kill_at(data_dir, tuner, batch, point, at)
    folder = tree.tuner_run_dir(inputs.name)
    assert (folder / "study.log").is_file() and not (folder / "summary.yml").exists()
    (folder / ".trials.parquet.x1y2.tmp").write_bytes(b"half")  # as a kill mid-write leaves
    (folder.parent / f".{folder.name}.123.old").mkdir()  # as a kill during --force leaves
    built: list[int] = []

    def counted(spec: object):  # type: ignore[no-untyped-def]
        built.append(1)
        return _evaluator(batch)(spec)

    lines: list[str] = []
    summary = run_tuning(inputs, tree, progress=lines.append, evaluator=counted)
    trials, validation, tuned = _outputs(tree, inputs)
    assert trials.equals(expected[0])
    assert validation == expected[1] and tuned == expected[2]
    assert summary.trials == N_TRIALS
    assert trials.filter(pl.col("status") == "complete")["cost_usd"].null_count() == 0
    if point == "report":  # only the report was left: no evaluator (no Ray) was started
        assert built == [] and lines[0] == f"resuming {inputs.name}: {N_TRIALS} of {N_TRIALS} " \
                                           "trials done"
    else:
        assert built == [1]
    assert not [p.name for p in folder.parent.iterdir() if p.name.endswith((".tmp", ".old"))]
    assert not list(folder.rglob("*.tmp"))  # what killed writers left is gone


def test_a_half_written_journal_line_and_a_dead_writers_lock_are_removed(tmp_path: Path) -> None:
    from autoslo.tune._study import repair_journal

    log = tmp_path / "study.log"
    log.write_bytes(b'{"op_code":0}\n{"op_code":4,"stu')
    lock = Path(f"{log}.lock")
    lock.symlink_to(tmp_path / "gone")  # optuna's symlink lock, left by a killed writer
    repair_journal(log)
    assert log.read_bytes() == b'{"op_code":0}\n' and not lock.is_symlink()
    repair_journal(log)  # a whole journal stays as it is
    assert log.read_bytes() == b'{"op_code":0}\n'
