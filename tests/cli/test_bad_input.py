"""Each user mistake gives exactly one clear line naming file, field and rule; exit 2; no writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import snapshot

PROVISIONED = {
    "pool": {
        "clusters": [{
            "kind": "provisioned", "node_type": "ra3.xlplus", "nodes": 2,
            "wlm": {"queues": [
                {"name": "etl", "query_concurrency": 5, "query_group": ["etl"]},
                {"name": "default", "query_concurrency": 5},
            ]},
        }],
    },
}


def _config(**changes: object) -> dict:
    import copy

    config = copy.deepcopy(PROVISIONED)
    queues = config["pool"]["clusters"][0]["wlm"]["queues"]
    for key, value in changes.items():
        if key == "queues":
            config["pool"]["clusters"][0]["wlm"]["queues"] = value
        elif key.startswith("q1_"):
            queues[1][key[3:]] = value
        elif key.startswith("c0_"):
            config["pool"]["clusters"][0][key[3:]] = value
        else:
            config[key] = value
    return config


def _write(data_dir: Path, rel: str, content: object) -> Path:
    path = data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


CONFIG_CASES = [
    ("unknown key", _config(q1_slots=3),
     "pool.clusters[0].wlm.queues[1].slots: unknown key (allowed here: concurrency_scaling, "
     "max_execution_time, memory_percent_to_use, name, query_concurrency, query_group, "
     "query_group_wild_card, queue_type, user_group, user_group_wild_card)"),
    ("wrong type", _config(c0_nodes="two"),
     "pool.clusters[0].nodes: must be an integer, got 'two'"),
    ("no coercion from text", _config(c0_nodes="2"),
     "pool.clusters[0].nodes: must be an integer, got '2'"),
    ("slots out of range", _config(q1_query_concurrency=64),
     "pool.clusters[0].wlm.queues[1].query_concurrency: must be between 1 and 50, got 64"),
    ("too many slots in total", _config(queues=[
        {"name": "a", "query_concurrency": 30, "query_group": ["a"]},
        {"name": "default", "query_concurrency": 25}]),
     "pool.clusters[0].wlm.queues: query_concurrency must total at most 50 slots across queues, "
     "got 55"),
    ("more than 8 queues", _config(queues=[
        *({"name": f"q{i}", "query_concurrency": 1, "query_group": [f"g{i}"]} for i in range(8)),
        {"name": "default", "query_concurrency": 1}]),
     "pool.clusters[0].wlm.queues: must have at most 8 queues, got 9"),
    ("memory over 100 %", _config(queues=[
        {"name": "a", "memory_percent_to_use": 70, "query_group": ["a"]},
        {"name": "default", "memory_percent_to_use": 40}]),
     "pool.clusters[0].wlm.queues: memory_percent_to_use must total at most 100, got 110"),
    ("memory share on only some queues", _config(queues=[
        {"name": "a", "memory_percent_to_use": 70, "query_group": ["a"]},
        {"name": "default"}]),
     "pool.clusters[0].wlm.queues: if one queue sets memory_percent_to_use all must; queue "
     "'default' does not"),
    ("default queue with groups", _config(queues=[
        {"name": "a"}, {"name": "default", "query_group": ["x"]}]),
     "pool.clusters[0].wlm.queues: the last queue ('default') is the default queue and must not "
     "name user_group or query_group"),
    ("node count per type", _config(c0_node_type="ra3.4xlarge", c0_nodes=1),
     "pool.clusters[0].nodes: must be between 2 and 32 for node_type ra3.4xlarge, got 1"),
    ("unknown cluster kind", {"pool": {"clusters": [{"kind": "dedicated", "rpu": 8}]}},
     "pool.clusters[0].kind: must be one of 'serverless', 'provisioned', got 'dedicated'"),
    ("bad RPU", {"pool": {"clusters": [{"kind": "serverless", "rpu": 12}]}},
     "pool.clusters[0].rpu: must be 4 or a multiple of 8 between 8 and 1024 (Serverless base "
     "capacity in RPU), got 12"),
    ("missing file reference", {**PROVISIONED, "prices": "prices/nowhere.yml"},
     "prices: file data/prices/nowhere.yml does not exist"),
    ("reference leaving the data tree", {**PROVISIONED, "prices": "../secrets.yml"},
     "prices: must not contain '..', got '../secrets.yml'"),
    ("missing model folder", {**PROVISIONED, "latency_model": {"model": "models/none"}},
     "latency_model.model: model folder data/models/none does not exist (it needs a model.yml)"),
]


@pytest.mark.parametrize(("case", "content", "expected"), CONFIG_CASES,
                         ids=[c[0] for c in CONFIG_CASES])
def test_execution_config_mistakes(data_dir: Path, cli, case: str, content: dict, expected: str) -> None:
    path = _write(data_dir, "execution_configs/tests/x.yml", content)
    before = snapshot(data_dir)
    result = cli("validate", str(path.relative_to(data_dir.parent)))
    assert result.code == 2, result
    assert result.err.splitlines() == [f"data/execution_configs/tests/x.yml: {expected}"]
    assert "Traceback" not in result.out + result.err
    assert snapshot(data_dir) == before


FILE_CASES = [
    ("malformed YAML", "execution_configs/t/x.yml", "pool: [1, 2\n",
     "malformed YAML: line 2, column 1: expected ',' or ']', but got '<stream end>'"),
    ("empty file", "execution_configs/t/x.yml", "",
     "file is empty; it must hold a YAML mapping of keys to values"),
    ("comments only", "slos/x.yml", "# nothing here\n",
     "file is empty; it must hold a YAML mapping of keys to values"),
    ("top level is a list", "slos/x.yml", "- 1\n- 2\n",
     "must hold a YAML mapping of keys to values at the top level, got a list"),
    ("duplicate key", "slos/x.yml", "tau: 0.1\ntau: 0.2\n",
     "malformed YAML: line 2, column 1: duplicate key 'tau'"),
    ("tau out of range", "slos/x.yml", "tau: 1.5\ndefault: {latency_s: 3}\n",
     "tau: must be between 0 and 1, got 1.5"),
    ("kappa without reference", "slos/x.yml", "tau: 0.1\ndefault: {kappa: 3}\n",
     "reference: is required when a target uses kappa (the isolated latency is taken on this "
     "cluster)"),
    ("target with both kinds", "slos/x.yml",
     "tau: 0.1\ntargets: [{template_id: q1, latency_s: 3, kappa: 2}]\n"
     "reference: {kind: serverless, rpu: 8}\n",
     "targets[0].latency_s: exactly one of latency_s and kappa must be set, got latency_s=3.0, "
     "kappa=2.0"),
    ("run name with ..", "manifests/tuning/x.yml",
     "runs:\n  a..b:\n    execution_config: execution_configs/examples/serverless-pool.yml\n"
     "    tuner_config: tuner_configs/example.yml\n    params: {TRIALS: 5}\n",
     "runs.a..b: run name must not contain '..', got 'a..b'"),
    ("run name with /", "manifests/tuning/x.yml",
     "runs:\n  a/b:\n    execution_config: execution_configs/examples/serverless-pool.yml\n"
     "    tuner_config: tuner_configs/example.yml\n",
     "runs.a/b: run name must not contain '/', got 'a/b'"),
    ("tuned name with /", "manifests/execution/x.yml",
     "workloads: [workloads/example]\nexecution_configs: [{tuned: ../x}]\n",
     "execution_configs[0].tuned: tuner run name must not contain '/', got '../x'"),
    ("missing workload", "manifests/execution/x.yml",
     "workloads: [workloads/nope]\nexecution_configs:\n"
     "  - path: execution_configs/examples/provisioned-wlm.yml\n",
     "workloads[0]: workload folder data/workloads/nope does not exist (it needs a workload.yml)"),
    ("manifest leaves a placeholder open", "manifests/execution/x.yml",
     "workloads: [workloads/example]\nexecution_configs:\n"
     "  - path: execution_configs/examples/mmc.yml\n",
     "execution_configs[0].path: data/execution_configs/examples/mmc.yml: "
     "pool.clusters[0].wlm.queues[0].query_concurrency: unresolved placeholder ${SLOTS}; "
     "pass --param SLOTS=VALUE"),
    ("manifest value out of range", "manifests/execution/x.yml",
     "workloads: [workloads/example]\nexecution_configs:\n"
     "  - path: execution_configs/examples/mmc.yml\n    params: {SLOTS: 64}\n",
     "execution_configs[0].path: data/execution_configs/examples/mmc.yml: "
     "pool.clusters[0].wlm.queues[0].query_concurrency: must be between 1 and 50, got 64"),
    ("unknown panel type", "manifests/plotting/x.yml",
     "panels:\n  - type: pie\n    points: [{tuner_run: t}]\n",
     "panels[0].type: must be one of 'cost_vs_violation', 'latency_cdf', 'violation_bars', "
     "'timeline', 'tuner_progress' or 'sim_vs_live', got 'pie'"),
    ("reversed bounds", "tuner_configs/x.yml",
     "workload: {kind: fixed, path: workloads/example}\nslo: slos/example.yml\nn_trials: 5\n"
     "search_space:\n  pool.clusters.0.rpu: {type: int, low: 64, high: 8}\n",
     "search_space.pool.clusters.0.rpu.low: `low <= high` must hold, but got (low=64, high=8)"),
    ("zero trial budget", "tuner_configs/x.yml",
     "workload: {kind: fixed, path: workloads/example}\nslo: slos/example.yml\nn_trials: 0\n"
     "search_space:\n  router.policy: {type: categorical, choices: [round_robin]}\n",
     "n_trials: must be between 1 and 100000, got 0"),
    ("tuner tau outside [0, 1]", "tuner_configs/x.yml",
     "workload: {kind: fixed, path: workloads/example}\nslo: slos/example.yml\nn_trials: 5\n"
     "tau: -0.1\nsearch_space:\n  router.policy: {type: categorical, choices: [round_robin]}\n",
     "tau: must be between 0 and 1, got -0.1"),
    ("grid needs a finite space", "tuner_configs/x.yml",
     "workload: {kind: fixed, path: workloads/example}\nslo: slos/example.yml\nn_trials: 5\n"
     "sampler: grid\nsearch_space:\n  autoscaler.threshold: {type: float, low: 1, high: 5}\n",
     "search_space.autoscaler.threshold: the grid sampler needs a finite space: give this float "
     "distribution a step"),
]


@pytest.mark.parametrize(("case", "rel", "text", "expected"), FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_file_mistakes(data_dir: Path, cli, case: str, rel: str, text: str, expected: str) -> None:
    _write(data_dir, rel, text)
    before = snapshot(data_dir)
    result = cli("validate", f"data/{rel}")
    assert result.code == 2, result
    assert result.err.splitlines() == [f"data/{rel}: {expected}"]
    assert "Traceback" not in result.out + result.err
    assert snapshot(data_dir) == before


def test_bad_execution_config_file_name(data_dir: Path, cli) -> None:
    path = data_dir / "execution_configs" / "t" / "my config.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(PROVISIONED))
    result = cli("validate", "data/execution_configs/t/my config.yml")
    assert result.code == 2
    assert result.err.strip() == (
        "data/execution_configs/t/my config.yml: execution config name may only use the "
        "characters [A-Za-z0-9._=-], got 'my config' (bad: ' ')")


def test_unresolved_placeholder_when_resolving(data_dir: Path, cli) -> None:
    result = cli("validate", "data/execution_configs/examples/mmc.yml", "--param", "SLOT=4")
    assert result.code == 2
    assert result.err.strip() == (
        "data/execution_configs/examples/mmc.yml: pool.clusters[0].wlm.queues[0]."
        "query_concurrency: unresolved placeholder ${SLOTS}; pass --param SLOTS=VALUE")


def test_unused_param_is_refused(data_dir: Path, cli) -> None:
    result = cli("validate", "data/execution_configs/examples/mmc.yml",
                 "--param", "SLOTS=4", "--param", "SLOTZ=5")
    assert result.code == 2
    assert result.err.strip() == ("--param SLOTZ is not used by any file given "
                                  "(placeholders used: SLOTS)")


@pytest.mark.parametrize(("override", "expected"), [
    ("pool.clusters.3.rpu=8",
     "--set pool.clusters.3.rpu: index 3 is out of range (pool.clusters has 2 items)"),
    ("pool.spin_up_delay_s.x=1",
     "--set pool.spin_up_delay_s.x: pool.spin_up_delay_s is not a mapping, cannot set 'x'"),
    ("router.policy=fastest",
     "router.policy (from --set): must be one of 'round_robin', 'least_loaded' or "
     "'predicted_latency', got 'fastest'"),
    ("pool.max_clusters=1",
     "pool.max_clusters (from --set): must be >= the 2 initial clusters, got 1"),
])
def test_override_mistakes(data_dir: Path, cli, override: str, expected: str) -> None:
    result = cli("validate", "data/execution_configs/examples/serverless-pool.yml",
                 "--set", override)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0] in (expected, f"data/execution_configs/examples/serverless-pool.yml: {expected}")


@pytest.mark.parametrize(("case", "mutate", "expected"), [
    ("negative arrival", lambda f: f.with_columns(arrival_s=f["arrival_s"] * 0 - 5.0),
     "data/workloads/example/queries.parquet: arrival_s: must be >= 0 (seconds from the workload "
     "start), got -5.0 at row 0"),
    ("missing column", lambda f: f.drop("template_id"),
     "data/workloads/example/queries.parquet: template_id: required column is missing (columns: "
     "query_id, arrival_s, query_group, user, runtime_s)"),
    ("NaN runtime", lambda f: f.with_columns(runtime_s=f["runtime_s"] * float("nan")),
     "data/workloads/example/queries.parquet: runtime_s: must be finite (use null to let the "
     "latency model decide), got NaN or infinity"),
    ("duplicate query id", lambda f: f.with_columns(query_id=f["query_id"] // 2),
     "data/workloads/example/queries.parquet: query_id: must be unique, got 0 more than once"),
])
def test_workload_table_mistakes(data_dir: Path, cli, case: str, mutate, expected: str) -> None:
    import polars as pl

    table = data_dir / "workloads" / "example" / "queries.parquet"
    mutate(pl.read_parquet(table)).write_parquet(table)
    result = cli("validate", "data/workloads/example")
    assert result.code == 2
    assert result.err.splitlines() == [expected]


def test_workload_folder_must_match_its_id(data_dir: Path, cli) -> None:
    (data_dir / "workloads" / "example").rename(data_dir / "workloads" / "other")
    result = cli("validate", "data/workloads/other")
    assert result.code == 2
    assert result.err.strip() == (
        "data/workloads/other/workload.yml: the folder must be named after the workload id "
        "'example' (name plus parameters), got 'other'")


def test_workload_start_needs_a_zone(data_dir: Path, cli) -> None:
    meta = data_dir / "workloads" / "example" / "workload.yml"
    meta.write_text(meta.read_text().replace("2026-11-02 09:00:00+00:00", "2026-11-02 09:00:00"))
    result = cli("validate", "data/workloads/example")
    assert result.code == 2
    assert result.err.strip() == (
        "data/workloads/example/workload.yml: start: must carry a time zone "
        "(e.g. 2026-11-22T00:00:00Z), got 2026-11-02T09:00:00")


def test_unknown_kind_and_unplaceable_file(tmp_path: Path, cli) -> None:
    stray = tmp_path / "stray.yml"
    stray.write_text("a: 1\n")
    result = cli("validate", str(stray))
    assert result.code == 2
    assert "cannot tell what kind of file this is from its folder; pass --kind" in result.err
    result = cli("validate", str(stray), "--kind", "recipe")
    assert result.code == 2
    assert result.err.strip().startswith("--kind must be one of execution-config, tuner-config")
