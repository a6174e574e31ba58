"""Ids are deterministic across processes and change whenever resolved content changes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autoslo.config import resolve_execution_config
from autoslo.datatree import DataTree
from autoslo.errors import InputError
from autoslo.ids import (
    check_name,
    execution_config_id,
    format_run_timestamp,
    new_run_timestamp,
    parse_run_timestamp,
    tuner_run_name,
    workload_id,
)

REPO = Path(__file__).resolve().parents[1]

_IDS_SCRIPT = """
import json, sys
from pathlib import Path
from autoslo.config import load_model, resolve_execution_config, TunerConfig
from autoslo.datatree import DataTree
from autoslo.ids import tuner_run_name, workload_id
tree = DataTree(Path(sys.argv[1]))
ec = resolve_execution_config(tree.ref("execution_configs/examples/mmc.yml"),
                              params={"SLOTS": 4}, tree=tree)
tc = load_model(tree.ref("tuner_configs/example.yml"), TunerConfig, params={"TRIALS": 50})
print(json.dumps({
    "execution_config_id": ec.id,
    "tuner_run_name": tuner_run_name("example", ec.config, tc, {"SLOTS": 4, "TRIALS": 50}),
    "workload_id": workload_id("shop", {"date": "2026-11-23", "rescale": 2.0}),
}))
"""


def _ids_in_subprocess() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", _IDS_SCRIPT, str(REPO / "data")],
                         check=True, capture_output=True, text=True, env={"PYTHONHASHSEED": "random",
                                                                          "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def test_ids_are_equal_in_another_process() -> None:
    first, second = _ids_in_subprocess(), _ids_in_subprocess()
    assert first == second
    tree = DataTree(REPO / "data")
    here = resolve_execution_config(tree.ref("execution_configs/examples/mmc.yml"),
                                    params={"SLOTS": 4}, tree=tree)
    assert here.id == first["execution_config_id"]
    assert first["execution_config_id"].startswith("mmc-")
    assert first["tuner_run_name"].startswith("example-")
    assert first["workload_id"] == "shop_date=2026-11-23_rescale=2.0"


@pytest.mark.parametrize("override", [
    "pool.spin_up_delay_s=301",
    "pool.clusters.0.nodes=3",
    "pool.clusters.0.wlm.queues.0.name=main",
    "router.policy=least_loaded",
    "pool.max_clusters=2",
    "description=another",
    "prices.serverless_usd_per_rpu_hour=0.4",
])
def test_execution_config_id_changes_with_any_resolved_field(override: str) -> None:
    from autoslo.config import parse_overrides
    from autoslo.config.prices import PriceTable

    tree = DataTree(REPO / "data")
    path = tree.ref("execution_configs/examples/mmc.yml")
    base = resolve_execution_config(path, params={"SLOTS": 4}, tree=tree)
    if override.startswith("prices."):
        assert isinstance(base.config.prices, PriceTable)
        changed_prices = base.config.prices.model_copy(update={"serverless_usd_per_rpu_hour": 0.4})
        changed = base.config.model_copy(update={"prices": changed_prices})
        assert execution_config_id("mmc", changed) != base.id
        return
    other = resolve_execution_config(path, params={"SLOTS": 4}, tree=tree,
                                     overrides=parse_overrides([override]))
    assert other.id != base.id
    assert resolve_execution_config(path, params={"SLOTS": 4}, tree=tree).id == base.id


def test_execution_config_id_sees_parameter_values() -> None:
    tree = DataTree(REPO / "data")
    path = tree.ref("execution_configs/examples/mmc.yml")
    ids = {resolve_execution_config(path, params={"SLOTS": c}, tree=tree).id for c in (1, 2, 3)}
    assert len(ids) == 3


def test_tuner_run_name_depends_on_every_input() -> None:
    base = tuner_run_name("stem", {"a": 1}, {"b": 2}, {"P": 1})
    assert base == tuner_run_name("stem", {"a": 1}, {"b": 2}, {"P": 1})
    assert len({base,
                tuner_run_name("stem", {"a": 2}, {"b": 2}, {"P": 1}),
                tuner_run_name("stem", {"a": 1}, {"b": 3}, {"P": 1}),
                tuner_run_name("stem", {"a": 1}, {"b": 2}, {"P": 2}),
                tuner_run_name("other", {"a": 1}, {"b": 2}, {"P": 1})}) == 5


def test_workload_id_shapes() -> None:
    assert workload_id("example") == "example"
    assert workload_id("w", {"b": 1, "a": True}) == "w_a=true_b=1"
    odd = workload_id("w", {"note": "a b/c"})
    assert odd.startswith("w_note=a-b-c_h") and check_name(odd) == odd
    assert odd != workload_id("w", {"note": "a-b-c"})
    with pytest.raises(InputError, match="must not contain '/'"):
        workload_id("a/b")


@pytest.mark.parametrize(("name", "rule"), [
    ("", "must be a non-empty string"),
    ("a/b", "must not contain '/'"),
    ("..", "must not contain '..'"),
    ("a..b", "must not contain '..'"),
    ("a b", "may only use the characters"),
    (".hidden", "must not start with '.'"),
    ("x" * 201, "must be at most 200 characters"),
])
def test_check_name_refuses(name: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        check_name(name)


def test_run_timestamps() -> None:
    moment = datetime(2026, 11, 22, 10, 11, 12, 345678, tzinfo=UTC)
    assert format_run_timestamp(moment) == "20261122T101112345Z"
    assert parse_run_timestamp("20261122T101112345Z") == moment.replace(microsecond=345000)
    stamps = [new_run_timestamp(moment) for _ in range(5)]
    assert stamps == sorted(set(stamps)), "never reused, always increasing"
    with pytest.raises(InputError):
        parse_run_timestamp("2026-11-22")


def test_run_dirs_are_never_reused(tmp_path: Path) -> None:
    tree = DataTree(tmp_path)
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    taken = tree.run_dir("20300101T000000000Z")
    taken.mkdir(parents=True)
    (taken / "run.yml").write_text("keep: me\n")
    stamps = [tree.create_run_dir(moment)[0] for _ in range(3)]
    assert "20300101T000000000Z" not in stamps
    assert len(set(stamps)) == 3
    assert (taken / "run.yml").read_text() == "keep: me\n"
