"""Every data path comes from DataTree, matching DESIGN.md's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoslo.atomic import replace_dir, write_text
from autoslo.datatree import DataTree
from autoslo.errors import InputError


def test_layout_matches_the_design(tmp_path: Path) -> None:
    tree = DataTree(tmp_path)
    rel = lambda p: p.relative_to(tmp_path).as_posix()  # noqa: E731
    assert rel(tree.execution_config("examples", "mmc")) == "execution_configs/examples/mmc.yml"
    assert rel(tree.tuned_config("run-1a2b3c4d")) == "execution_configs/tuned/run-1a2b3c4d.yml"
    assert rel(tree.tuner_config("example")) == "tuner_configs/example.yml"
    assert rel(tree.slo("example")) == "slos/example.yml"
    assert rel(tree.manifest("plotting", "example")) == "manifests/plotting/example.yml"
    assert rel(tree.workload_queries("w")) == "workloads/w/queries.parquet"
    assert rel(tree.workload_meta("w")) == "workloads/w/workload.yml"
    assert rel(tree.tuner_run_dir("r")) == "tuner_runs/r"
    assert rel(tree.simulator_run_dir("w", "c-1234abcd")) == "simulator_runs/w/c-1234abcd"
    assert rel(tree.run_dir("20261122T101112345Z")) == "runs/20261122T101112345Z"
    assert rel(tree.runs_map()) == "runs/map.yml"
    assert rel(tree.plot_png("p")) == "plots/p.png"
    assert rel(tree.plot_html("p")) == "plots/p.html"
    assert rel(tree.model_dir("m")) == "models/m"


@pytest.mark.parametrize("call", [
    lambda t: t.workload_dir("../etc"),
    lambda t: t.simulator_run_dir("w", "a/b"),
    lambda t: t.plot_png("x y"),
    lambda t: t.run_dir("yesterday"),
    lambda t: t.manifest("other", "x"),  # type: ignore[arg-type]
])
def test_unsafe_names_are_refused(tmp_path: Path, call) -> None:
    with pytest.raises(InputError):
        call(DataTree(tmp_path))


@pytest.mark.parametrize(("ref", "rule"), [
    ("/etc/passwd", "must be a path relative to the data folder"),
    ("workloads/../../x", "must not contain '..'"),
    ("", "must be a path relative to the data folder"),
])
def test_references_stay_inside_the_tree(tmp_path: Path, ref: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        DataTree(tmp_path).ref(ref)


def test_atomic_file_and_folder_writes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "f.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]

    folder = tmp_path / "out"
    with replace_dir(folder) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(RuntimeError), replace_dir(folder) as tmp:
        (tmp / "x").write_text("half")
        raise RuntimeError("simulated crash")
    assert (folder / "x").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out"]
