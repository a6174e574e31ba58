"""The redshift target: translation, control plane (moto; Stubber where moto has no API), the
redshift-connector query path against a real PostgreSQL behind a proxy, and the guardrails."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import psycopg
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber
from moto import mock_aws

from autoslo.config import resolve_execution_config
from autoslo.config.execution import ProvisionedCluster, ServerlessCluster
from autoslo.datatree import DataTree
from autoslo.live.redshift import (
    RUN_TAG,
    RedshiftDriver,
    RedshiftProvisioner,
    aws_session,
    cluster_parameters,
    wlm_json,
)
from autoslo.live.target import Endpoint
from tests.live.redshift_proxy import RedshiftProxy
from tests.pg import LocalPostgres

REPO = Path(__file__).resolve().parents[2]
PROVISIONED = ProvisionedCluster.model_validate({
    "kind": "provisioned", "node_type": "ra3.xlplus", "nodes": 2,
    "max_concurrency_scaling_clusters": 2,
    "wlm": {"queues": [
        {"name": "dash", "query_concurrency": 4, "query_group": ["dash*"], "query_group_wild_card": 1,
         "concurrency_scaling": "auto", "max_execution_time": 20000},
        {"name": "default", "query_concurrency": 2}],
        "short_query_acceleration": {"max_execution_time": 5}}})


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)


def test_wlm_json_keeps_redshift_names_and_limits() -> None:
    queues = wlm_json(PROVISIONED)
    assert queues == [
        {"name": "dash", "auto_wlm": False, "query_concurrency": 4, "concurrency_scaling": "auto",
         "query_group": ["dash*"], "query_group_wild_card": 1, "max_execution_time": 20000},
        {"name": "default", "auto_wlm": False, "query_concurrency": 2, "concurrency_scaling": "off"},
        {"short_query_queue": True, "max_execution_time": 5000},
    ]
    params = {p["ParameterName"]: p["ParameterValue"] for p in cluster_parameters(PROVISIONED)}
    assert json.loads(params["wlm_json_configuration"]) == queues
    assert params["max_concurrency_scaling_clusters"] == "2"


def test_export_prints_the_same_translation(data_dir: Path, cli) -> None:
    config = data_dir / "execution_configs" / "examples" / "provisioned-wlm.yml"
    result = cli("export", str(config), "--format", "wlm-json")
    assert result.code == 0, result.err
    resolved = resolve_execution_config(config, tree=DataTree(data_dir))
    assert json.loads(result.out) == wlm_json(resolved.config.pool.clusters[0])
    commands = cli("export", str(config), "--format", "aws-cli").out
    assert "aws redshift create-cluster --cluster-identifier provisioned-wlm-c0 --node-type " \
           "ra3.xlplus --cluster-type multi-node --number-of-nodes 2" in commands
    serverless = cli("export", str(data_dir / "execution_configs/examples/serverless-pool.yml"))
    assert serverless.out.count("aws redshift-serverless create-workgroup") == 2
    assert "--base-capacity 8" in serverless.out
    wrong = cli("export", str(config), "--format", "terraform")
    assert wrong.code == 2 and "--format must be wlm-json or aws-cli, got 'terraform'" in wrong.err


@mock_aws
def test_provisioned_cluster_lifecycle_on_moto(aws_env: None) -> None:
    redshift = boto3.client("redshift", region_name="us-east-1")
    applied: list[dict] = []

    def record(params: dict, **_: object) -> None:
        applied.append(dict(params))

    def answer(**_: object) -> tuple[object, dict]:
        # moto's redshift backend has no ModifyClusterParameterGroup: answer it here
        return AWSResponse("", 200, {}, None), {"ParameterGroupName": applied[-1]["ParameterGroupName"],
                      "ParameterGroupStatus": "Your parameter group has been updated."}

    redshift.meta.events.register("before-parameter-build.redshift.ModifyClusterParameterGroup",
                                  record)
    redshift.meta.events.register("before-call.redshift.ModifyClusterParameterGroup", answer)
    provisioner = RedshiftProvisioner(redshift, None, "20261122T101112345Z", poll_s=0.01)
    endpoint = provisioner.start(PROVISIONED, "c0")
    assert endpoint.name == "autoslo-20261122t101112345z-c0"
    described = redshift.describe_clusters(ClusterIdentifier=endpoint.name)["Clusters"][0]
    assert described["NodeType"] == "ra3.xlplus" and described["NumberOfNodes"] == 2
    assert {"Key": RUN_TAG, "Value": "20261122T101112345Z"} in described["Tags"]
    assert described["ClusterParameterGroups"][0]["ParameterGroupName"] == f"{endpoint.name}-wlm"
    assert applied[0]["Parameters"] == cluster_parameters(PROVISIONED)
    assert "password" in endpoint.handle and endpoint.handle["password"] not in str(described)
    provisioner.stop(endpoint)
    provisioner.stop(endpoint)  # idempotent: a second stop finds nothing and says nothing
    assert redshift.describe_clusters()["Clusters"] == []
    groups = redshift.describe_cluster_parameter_groups()["ParameterGroups"]
    assert f"{endpoint.name}-wlm" not in [g["ParameterGroupName"] for g in groups]


def test_serverless_workgroup_lifecycle_with_stubber(aws_env: None) -> None:
    serverless = boto3.client("redshift-serverless", region_name="us-east-1")
    spec = ServerlessCluster.model_validate({
        "kind": "serverless", "rpu": 16, "max_query_execution_time": 600,
        "price_performance_target": {"status": "ENABLED", "level": 50}})
    name = "autoslo-20261122t101112345z-c1"
    tags = [{"key": RUN_TAG, "value": "20261122T101112345Z"}]
    with Stubber(serverless) as stub:
        stub.add_response("create_namespace", {"namespace": {"namespaceName": f"{name}-ns"}}, {
            "namespaceName": f"{name}-ns", "adminUsername": "autoslo", "adminUserPassword": ANY,
            "dbName": "dev", "tags": tags})
        stub.add_response("create_workgroup", {"workgroup": {"workgroupName": name}}, {
            "workgroupName": name, "namespaceName": f"{name}-ns", "baseCapacity": 16, "tags": tags,
            "configParameters": [{"parameterKey": "max_query_execution_time",
                                  "parameterValue": "600"}],
            "pricePerformanceTarget": {"status": "ENABLED", "level": 50}})
        stub.add_response("get_workgroup", {"workgroup": {"workgroupName": name,
                                                          "status": "CREATING"}},
                          {"workgroupName": name})
        stub.add_response("get_workgroup", {"workgroup": {
            "workgroupName": name, "status": "AVAILABLE",
            "endpoint": {"address": f"{name}.example.internal", "port": 5439}}},
            {"workgroupName": name})
        stub.add_response("delete_workgroup", {"workgroup": {"workgroupName": name}},
                          {"workgroupName": name})
        stub.add_response("delete_namespace", {"namespace": {"namespaceName": f"{name}-ns"}},
                          {"namespaceName": f"{name}-ns"})
        provisioner = RedshiftProvisioner(None, serverless, "20261122T101112345Z", poll_s=0.01)
        endpoint = provisioner.start(spec, "c1")
        assert (endpoint.host, endpoint.port) == (f"{name}.example.internal", 5439)
        provisioner.stop(endpoint)
        stub.assert_no_pending_responses()


def test_missing_credentials_say_where_to_put_them(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AUTOSLO_AWS_CREDENTIALS_BLOCK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(Exception, match="no AWS credentials: set AWS_ACCESS_KEY_ID"):
        aws_session("us-east-1")


def _redshift_manifest(data_dir: Path, max_cost: float | None = None) -> Path:
    manifest = yaml.safe_load((data_dir / "manifests/execution/example.yml").read_text())
    manifest["execution_configs"] = manifest["execution_configs"][:1]
    manifest["live"] = {"target": "redshift", "suite": "tpch", "region": "us-east-1",
                        **({"max_cost_usd": max_cost} if max_cost is not None else {})}
    path = data_dir / "manifests/execution/redshift.yml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_a_redshift_run_needs_yes_and_respects_the_cost_cap(data_dir: Path, cli,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    asked = cli("execute", "--manifest", str(_redshift_manifest(data_dir)), "--live")
    assert asked.code == 2
    assert "creates 2 cluster(s) (serverless 8 RPU, serverless 8 RPU), up to 4" in asked.err
    assert "re-run with --yes to go ahead (nothing was created)" in asked.err
    capped = cli("execute", "--manifest", str(_redshift_manifest(data_dir, 0.5)), "--live", "--yes")
    assert capped.code == 2 and "above live.max_cost_usd 0.5 USD" in capped.err
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    nocreds = cli("execute", "--manifest", str(_redshift_manifest(data_dir)), "--live", "--yes")
    assert nocreds.code == 2 and "no AWS credentials" in nocreds.err
    assert not (data_dir / "runs").exists()  # refused before the run folder is made


@pytest.fixture(scope="module")
def proxied_postgres():
    server = LocalPostgres().start()
    proxy = RedshiftProxy(server.port).start()
    try:
        yield server, proxy
    finally:
        proxy.stop()
        server.stop()


@pytest.mark.slow
def test_redshift_connector_runs_queries_through_the_proxy(proxied_postgres) -> None:
    _, proxy = proxied_postgres
    driver = RedshiftDriver(ssl=False)
    endpoint = Endpoint("c0", "127.0.0.1", proxy.port, "postgres", "postgres")
    connection = driver.connect(endpoint)
    try:
        assert driver.run(connection, "select generate_series(1, 50000)", tag="autoslo t",
                          timeout_s=None).status == "ok"
        failed = driver.run(connection, "selec 1", tag="t", timeout_s=None)
        assert (failed.status, failed.error) == ("failed", 'syntax error at or near "selec"')
        timed_out = driver.run(connection, "select pg_sleep(3)", tag="t", timeout_s=0.3)
        assert timed_out.status == "timeout"
        # the timeout applies to that query only
        assert driver.run(connection, "select pg_sleep(0.5)", tag="t", timeout_s=None).status == "ok"
    finally:
        driver.close(connection)


@pytest.mark.slow
def test_sys_query_history_rows_are_joined_back_by_tag(proxied_postgres) -> None:
    server, proxy = proxied_postgres
    with psycopg.connect(server.dsn, autocommit=True) as pg:  # Redshift's view, as a table here
        pg.execute("create table sys_query_history (query_id bigint, query_label text, "
                   "start_time timestamp, end_time timestamp, queue_time bigint, "
                   "execution_time bigint, elapsed_time bigint, status text, "
                   "result_cache_hit boolean, query_text text)")
        pg.execute("insert into sys_query_history values "
                   "(901, 'default', now(), now(), 0, 1200, 1500, 'success', false, "
                   "'/* autoslo run=20261122T101112345Z query_id=7 */ select 1'), "
                   "(902, 'default', now(), now(), 0, 900, 950, 'success', false, "
                   "'/* autoslo run=20261122T000000000Z query_id=8 */ select 1'), "
                   "(903, 'default', now(), now(), 0, 900, 950, 'success', false, 'select 2')")
    rows = RedshiftDriver(ssl=False).collect(
        Endpoint("c0", "127.0.0.1", proxy.port, "postgres", "postgres"), "20261122T101112345Z")
    assert [(r["query_id"], r["workload_query_id"], r["elapsed_time"]) for r in rows] == \
        [(901, 7, 1500)]


@mock_aws
def test_cleanup_removes_the_resources_of_dead_runs_only(data_dir: Path, cli, aws_env: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from autoslo.live import redshift as target
    from autoslo.live.run import hold_run_lock

    tree = DataTree(data_dir)
    dead, alive, foreign = "20261122T010000000Z", "20261122T020000000Z", "20261122T030000000Z"
    for stamp in (dead, alive):
        tree.run_dir(stamp).mkdir(parents=True)
    hold_run_lock(tree.run_dir(dead)).close()  # its process is gone
    holder = hold_run_lock(tree.run_dir(alive))  # this one still runs
    redshift = boto3.client("redshift", region_name="us-east-1")
    redshift.meta.events.register(
        "before-call.redshift.ModifyClusterParameterGroup",
        lambda **_: (AWSResponse("", 200, {}, None), {"ParameterGroupName": "x"}))
    for stamp in (dead, alive, foreign):
        RedshiftProvisioner(redshift, None, stamp, poll_s=0.01).start(PROVISIONED, "c0")
    serverless = boto3.client("redshift-serverless", region_name="us-east-1")
    arn = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/w"
    with Stubber(serverless) as stub:
        stub.add_response("list_workgroups", {"workgroups": [{
            "workgroupName": "autoslo-dead-c1", "namespaceName": "autoslo-dead-c1-ns",
            "workgroupArn": arn}]})
        stub.add_response("list_tags_for_resource", {"tags": [{"key": RUN_TAG, "value": dead}]},
                          {"resourceArn": arn})
        stub.add_response("delete_workgroup", {"workgroup": {"workgroupName": "autoslo-dead-c1"}},
                          {"workgroupName": "autoslo-dead-c1"})
        stub.add_response("delete_namespace", {"namespace": {"namespaceName": "gone"}},
                          {"namespaceName": "autoslo-dead-c1-ns"})
        monkeypatch.setattr(target, "open_redshift_target", lambda settings, tag: (
            RedshiftProvisioner(redshift, serverless, tag), RedshiftDriver()))
        result = cli("live", "cleanup", "--target", "redshift")
        stub.assert_no_pending_responses()
    assert result.code == 0, result.err
    assert "removed 2 orphaned Redshift resource(s)" in result.out
    left = sorted(c["ClusterIdentifier"] for c in redshift.describe_clusters()["Clusters"])
    assert left == [f"autoslo-{alive.lower()}-c0", f"autoslo-{foreign.lower()}-c0"]
    holder.close()
