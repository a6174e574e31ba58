"""The `redshift` live target: Serverless workgroups and provisioned clusters through boto3,
queries through redshift-connector, and the translation of a config into what AWS takes.

- Translation (`wlm_json`, `serverless_parameters`, `aws_cli`) is shared by the provisioner and
  `autoslo export`, so what a user applies by hand is what a live run applies.
- Provisioning: a provisioned cluster gets its own parameter group holding the WLM JSON and
  `max_concurrency_scaling_clusters`; a Serverless workgroup gets its own namespace, its base
  capacity, limits and (as Amazon's baseline) `pricePerformanceTarget`. Everything created is
  tagged `autoslo-run=<run_timestamp>` so `autoslo live cleanup --target redshift` finds orphans.
- Credentials come from the environment (boto3's chain) or a Prefect `AwsCredentials` block named
  by `$AUTOSLO_AWS_CREDENTIALS_BLOCK`; admin passwords are generated per run and kept in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import time
from typing import Any

from autoslo.config.execution import ExecutionConfig, ProvisionedCluster, ServerlessCluster
from autoslo.config.manifests import LiveSettings
from autoslo.errors import AutosloError, InputError
from autoslo.live.target import (
    ClusterSpec,
    Endpoint,
    QueryOutcome,
    StatementTimeouts,
    TargetError,
)

RUN_TAG = "autoslo-run"
PARAMETER_GROUP_FAMILY = "redshift-1.0"
ADMIN_USER = "autoslo"
DATABASE = "dev"
WLM_JSON_LIMIT = 8000


# ---- translation -------------------------------------------------------------------------------

def wlm_json(cluster: ProvisionedCluster) -> list[dict[str, Any]]:
    """The `wlm_json_configuration` array of a provisioned cluster (manual WLM, then SQA)."""
    queues: list[dict[str, Any]] = []
    for queue in cluster.wlm.queues:
        entry: dict[str, Any] = {"name": queue.name, "auto_wlm": False,
                                 "query_concurrency": queue.query_concurrency,
                                 "concurrency_scaling": queue.concurrency_scaling}
        if queue.memory_percent_to_use is not None:
            entry["memory_percent_to_use"] = queue.memory_percent_to_use
        if queue.user_group:
            entry["user_group"] = list(queue.user_group)
            entry["user_group_wild_card"] = queue.user_group_wild_card
        if queue.query_group:
            entry["query_group"] = list(queue.query_group)
            entry["query_group_wild_card"] = queue.query_group_wild_card
        if queue.max_execution_time is not None:
            entry["max_execution_time"] = queue.max_execution_time
        queues.append(entry)
    sqa = cluster.wlm.short_query_acceleration
    if sqa is not None:
        # milliseconds, as in a queue, but here it is the SQA limit (1-20 s; 0 = dynamic),
        # not a timeout; the config states it in seconds
        queues.append({"short_query_queue": sqa.enabled,
                       "max_execution_time": sqa.max_execution_time * 1000})
    text = json.dumps(queues, separators=(",", ":"))
    if len(text) > WLM_JSON_LIMIT:
        raise InputError(f"wlm_json_configuration would be {len(text)} characters; Redshift takes "
                         f"at most {WLM_JSON_LIMIT}")
    return queues


def cluster_parameters(cluster: ProvisionedCluster) -> list[dict[str, str]]:
    """Parameter-group entries for a provisioned cluster."""
    return [
        {"ParameterName": "wlm_json_configuration",
         "ParameterValue": json.dumps(wlm_json(cluster), separators=(",", ":"))},
        {"ParameterName": "max_concurrency_scaling_clusters",
         "ParameterValue": str(cluster.max_concurrency_scaling_clusters)},
    ]


def serverless_parameters(cluster: ServerlessCluster) -> list[dict[str, str]]:
    """`configParameters` of a workgroup (the concurrency cap has no parameter: the client keeps it)."""
    params = []
    if cluster.max_query_execution_time is not None:
        params.append({"parameterKey": "max_query_execution_time",
                       "parameterValue": str(cluster.max_query_execution_time)})
    return params


def _names(stem: str) -> dict[str, str]:
    """The AWS names of one cluster's resources."""
    return {"cluster": stem, "parameter_group": f"{stem}-wlm", "namespace": f"{stem}-ns",
            "workgroup": stem}


def aws_cli(config: ExecutionConfig, prefix: str) -> str:
    """Shell commands that create the config's initial clusters as a live run would."""
    lines = [f"# {len(config.pool.clusters)} initial cluster(s) of execution config {prefix!r}.",
             "# The router, autoscaler and scheduled spin-ups have no AWS equivalent: autoslo's "
             "live replay runs them."]
    for index, cluster in enumerate(config.pool.clusters):
        names = _names(f"{prefix}-c{index}")
        if isinstance(cluster, ServerlessCluster):
            create = ["aws", "redshift-serverless", "create-workgroup", "--workgroup-name",
                      names["workgroup"], "--namespace-name", names["namespace"], "--base-capacity",
                      str(cluster.rpu)]
            if cluster.max_query_execution_time is not None:
                create += ["--config-parameters", json.dumps(serverless_parameters(cluster))]
            if cluster.price_performance_target is not None:
                target = cluster.price_performance_target
                create += ["--price-performance-target",
                           json.dumps({"status": target.status, "level": target.level})]
            lines += [shlex.join(["aws", "redshift-serverless", "create-namespace",
                                  "--namespace-name", names["namespace"], "--admin-username",
                                  ADMIN_USER, "--manage-admin-password"]), shlex.join(create)]
            if cluster.max_concurrency is not None:
                lines.append(f"# max_concurrency {cluster.max_concurrency}: Serverless has no such "
                             "limit; autoslo's replay holds further queries client-side")
        else:
            sizing = (["--cluster-type", "single-node"] if cluster.nodes == 1 else
                      ["--cluster-type", "multi-node", "--number-of-nodes", str(cluster.nodes)])
            lines += [
                shlex.join(["aws", "redshift", "create-cluster-parameter-group",
                            "--parameter-group-name", names["parameter_group"],
                            "--parameter-group-family", PARAMETER_GROUP_FAMILY, "--description",
                            f"autoslo WLM for {prefix}"]),
                shlex.join(["aws", "redshift", "modify-cluster-parameter-group",
                            "--parameter-group-name", names["parameter_group"], "--parameters",
                            json.dumps(cluster_parameters(cluster))]),
                shlex.join(["aws", "redshift", "create-cluster", "--cluster-identifier",
                            names["cluster"], "--node-type", cluster.node_type, *sizing,
                            "--cluster-parameter-group-name", names["parameter_group"],
                            "--master-username", ADMIN_USER, "--manage-master-password"]),
            ]
    return "\n".join(lines) + "\n"


def estimate_cost_usd(config: ExecutionConfig, duration_s: float) -> float:
    """An upper bound for a run: every cluster the pool may ever hold, busy for the whole run."""
    prices = config.prices
    assert not isinstance(prices, str)
    hours = max(duration_s, 60.0) / 3600.0

    def rate(spec: ClusterSpec) -> float:
        if isinstance(spec, ServerlessCluster):
            return spec.rpu * prices.serverless_usd_per_rpu_hour
        return spec.nodes * prices.provisioned_usd_per_node_hour.get(spec.node_type, 0.0) * (
            1 + spec.max_concurrency_scaling_clusters)

    clusters = config.all_clusters()
    dearest = max(rate(spec) for spec in clusters)
    extra = config.pool.max_clusters - len(config.pool.clusters)
    return hours * (sum(rate(spec) for spec in config.pool.clusters) + max(0, extra) * dearest)


# ---- sessions and credentials ------------------------------------------------------------------

def aws_session(region: str | None) -> Any:
    """A boto3 session from a Prefect AwsCredentials block, or from the environment."""
    import boto3
    from botocore.exceptions import BotoCoreError

    block = os.environ.get("AUTOSLO_AWS_CREDENTIALS_BLOCK")
    try:
        if block:
            from prefect_aws import AwsCredentials

            session = AwsCredentials.load(block).get_boto3_session()
        else:
            session = boto3.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names no profile, a broken config file
        raise AutosloError(f"AWS credentials: {exc}") from None
    if credentials is None:
        raise AutosloError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                           "(or AWS_PROFILE), or name a Prefect AwsCredentials block in "
                           "AUTOSLO_AWS_CREDENTIALS_BLOCK")
    if session.region_name is None and region is None:
        raise AutosloError("no AWS region: set live.region in the manifest or AWS_DEFAULT_REGION")
    return session


ENDPOINT_TIMEOUT_S = 2.0


def check_endpoints(settings: LiveSettings, timeout_s: float = ENDPOINT_TIMEOUT_S) -> None:
    """Refuse at once, before anything is created or written, when there are no credentials or
    the Redshift APIs cannot be reached: boto3 would retry for about 15 s and end in a traceback."""
    import socket
    from urllib.parse import urlsplit

    session = aws_session(settings.region)
    for service in ("redshift", "redshift-serverless"):
        url = session.client(service, region_name=settings.region).meta.endpoint_url
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise AutosloError(f"live.target redshift: cannot reach the {service} API at {url} "
                               f"({reason}); check the network, live.region and AWS_ENDPOINT_URL "
                               "(nothing was created)") from None


# ---- provisioning ------------------------------------------------------------------------------

class RedshiftProvisioner:
    """Creates and removes tagged workgroups and clusters; waits until they take connections."""

    def __init__(self, redshift: Any, serverless: Any, run_tag: str, *,
                 poll_s: float = 15.0, timeout_s: float = 1800.0) -> None:
        self.redshift = redshift
        self.serverless = serverless
        self.run_tag = run_tag
        self.prefix = f"autoslo-{run_tag.lower()}"
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    def check(self, specs: list[ClusterSpec]) -> None:
        for spec in specs:
            if isinstance(spec, ProvisionedCluster):
                wlm_json(spec)

    def start(self, spec: ClusterSpec, name: str) -> Endpoint:
        names = _names(f"{self.prefix}-{name}")
        password = _password()
        if isinstance(spec, ServerlessCluster):
            return self._start_workgroup(spec, names, password)
        return self._start_cluster(spec, names, password)

    def _start_cluster(self, spec: ProvisionedCluster, names: dict[str, str],
                       password: str) -> Endpoint:
        tags = [{"Key": RUN_TAG, "Value": self.run_tag}]
        self.redshift.create_cluster_parameter_group(
            ParameterGroupName=names["parameter_group"], ParameterGroupFamily=PARAMETER_GROUP_FAMILY,
            Description=f"autoslo WLM, run {self.run_tag}", Tags=tags)
        self.redshift.modify_cluster_parameter_group(
            ParameterGroupName=names["parameter_group"], Parameters=cluster_parameters(spec))
        sizing = ({"ClusterType": "single-node"} if spec.nodes == 1 else
                  {"ClusterType": "multi-node", "NumberOfNodes": spec.nodes})
        self.redshift.create_cluster(
            ClusterIdentifier=names["cluster"], NodeType=spec.node_type, **sizing,
            MasterUsername=ADMIN_USER, MasterUserPassword=password, DBName=DATABASE,
            ClusterParameterGroupName=names["parameter_group"], Tags=tags)
        cluster = self._wait(lambda: self.redshift.describe_clusters(
            ClusterIdentifier=names["cluster"])["Clusters"][0],
            lambda c: c.get("ClusterStatus") == "available" and c.get("Endpoint"), names["cluster"])
        return Endpoint(name=names["cluster"], host=cluster["Endpoint"]["Address"],
                        port=int(cluster["Endpoint"]["Port"]), database=DATABASE, user=ADMIN_USER,
                        handle={"kind": "provisioned", **names, "password": password})

    def _start_workgroup(self, spec: ServerlessCluster, names: dict[str, str],
                         password: str) -> Endpoint:
        tags = [{"key": RUN_TAG, "value": self.run_tag}]
        self.serverless.create_namespace(namespaceName=names["namespace"], adminUsername=ADMIN_USER,
                                         adminUserPassword=password, dbName=DATABASE, tags=tags)
        request: dict[str, Any] = {"workgroupName": names["workgroup"],
                                   "namespaceName": names["namespace"], "baseCapacity": spec.rpu,
                                   "tags": tags}
        if serverless_parameters(spec):
            request["configParameters"] = serverless_parameters(spec)
        if spec.price_performance_target is not None:
            target = spec.price_performance_target
            request["pricePerformanceTarget"] = {"status": target.status, "level": target.level}
        self.serverless.create_workgroup(**request)
        group = self._wait(lambda: self.serverless.get_workgroup(
            workgroupName=names["workgroup"])["workgroup"],
            lambda w: w.get("status") == "AVAILABLE" and w.get("endpoint"), names["workgroup"])
        return Endpoint(name=names["workgroup"], host=group["endpoint"]["address"],
                        port=int(group["endpoint"]["port"]), database=DATABASE, user=ADMIN_USER,
                        handle={"kind": "serverless", **names, "password": password})

    def _wait(self, fetch: Any, ready: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            current = fetch()
            if ready(current):
                return current  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise TargetError(f"{what} was not available after {self.timeout_s:.0f} s")
            time.sleep(self.poll_s)

    def stop(self, endpoint: Endpoint) -> None:
        handle = endpoint.handle
        if handle.get("kind") == "serverless":
            _ignore_missing(lambda: self.serverless.delete_workgroup(
                workgroupName=handle["workgroup"]))
            _ignore_missing(lambda: self.serverless.delete_namespace(
                namespaceName=handle["namespace"]))
        else:
            _ignore_missing(lambda: self.redshift.delete_cluster(
                ClusterIdentifier=handle["cluster"], SkipFinalClusterSnapshot=True))
            _ignore_missing(lambda: self.redshift.delete_cluster_parameter_group(
                ParameterGroupName=handle["parameter_group"]))

    def close(self) -> None:
        """Nothing is held between clusters (no local lock: see `tagged_resources`)."""

    def tagged_resources(self) -> list[dict[str, str]]:
        """Every cluster and workgroup carrying an autoslo-run tag, with its run."""
        found = []
        clusters = self.redshift.describe_clusters(TagKeys=[RUN_TAG]).get("Clusters", [])
        for cluster in clusters:
            run = next(t["Value"] for t in cluster.get("Tags", []) if t["Key"] == RUN_TAG)
            found.append({"kind": "provisioned", "cluster": cluster["ClusterIdentifier"],
                          "parameter_group": cluster["ClusterParameterGroups"][0][
                              "ParameterGroupName"] if cluster.get("ClusterParameterGroups")
                          else "", "run": run})
        for group in self.serverless.list_workgroups().get("workgroups", []):
            tags = self.serverless.list_tags_for_resource(resourceArn=group["workgroupArn"])
            run = next((t["value"] for t in tags.get("tags", []) if t["key"] == RUN_TAG), None)
            if run is not None:
                found.append({"kind": "serverless", "workgroup": group["workgroupName"],
                              "namespace": group["namespaceName"], "run": run})
        return found


def _password() -> str:
    """8-64 characters with upper, lower and a digit, as Redshift requires; never stored."""
    return "A1a" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")


def _ignore_missing(call: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "NotFound" not in code and code != "ResourceNotFoundException":
            raise


# ---- queries -----------------------------------------------------------------------------------

class RedshiftDriver:
    """redshift-connector; the warehouse enforces WLM (Serverless concurrency caps excepted)."""

    enforces_wlm = True

    def __init__(self, *, ssl: bool = True) -> None:
        self.ssl = ssl
        self._timeouts = StatementTimeouts()

    def connect(self, endpoint: Endpoint) -> Any:
        import redshift_connector

        try:
            connection = redshift_connector.connect(
                host=endpoint.host, port=endpoint.port, database=endpoint.database,
                user=endpoint.user, password=endpoint.handle.get("password", ""), ssl=self.ssl,
                timeout=30)
        except Exception as exc:  # the driver raises several types for refused connections
            raise TargetError(f"cannot connect to Redshift at {endpoint.host}:{endpoint.port} "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
        connection.autocommit = True
        return connection

    def run(self, connection: Any, sql: str, *, tag: str, timeout_s: float | None) -> QueryOutcome:
        import redshift_connector

        cursor = connection.cursor()
        try:
            self._timeouts.apply(connection, cursor, timeout_s)
            cursor.execute(f"/* {tag} */ {sql}")
            if cursor.description is not None:
                while cursor.fetchmany(10_000):
                    pass  # rows are discarded
            return QueryOutcome("ok")
        except redshift_connector.InterfaceError:
            raise  # the connection dropped: the replay retries once on a new one
        except redshift_connector.Error as exc:
            fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
            text = str(fields.get("M", exc))[:300]
            if fields.get("C") == "57014":  # query_canceled: the statement timeout fired
                return QueryOutcome("timeout", text)
            return QueryOutcome("failed", text)
        finally:
            with contextlib.suppress(Exception):  # a broken cursor cannot be closed; nothing to keep
                cursor.close()

    def close(self, connection: Any) -> None:
        self._timeouts.forget(connection)
        with contextlib.suppress(Exception):  # a broken connection cannot be closed
            connection.close()


    def collect(self, endpoint: Endpoint, run_tag: str) -> list[dict[str, Any]]:
        """The warehouse's own record of the run: SYS_QUERY_HISTORY rows tagged with it."""
        connection = self.connect(endpoint)
        try:
            cursor = connection.cursor()
            cursor.execute(
                "select query_id, query_label, start_time, end_time, queue_time, execution_time, "
                "elapsed_time, status, result_cache_hit, query_text from sys_query_history "
                "where query_text like %s order by start_time",
                (f"/* autoslo run={run_tag} query_id=%",))
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            self.close(connection)
        for row in rows:
            match = re.match(r"/\* autoslo run=\S+ query_id=(\d+) \*/", str(row["query_text"]))
            row["workload_query_id"] = int(match.group(1)) if match else None
        return rows


def open_redshift_target(settings: LiveSettings, run_tag: str) -> tuple[RedshiftProvisioner,
                                                                         RedshiftDriver]:
    """Clients from the environment's (or the Prefect block's) credentials."""
    session = aws_session(settings.region)
    return (RedshiftProvisioner(session.client("redshift", region_name=settings.region),
                                session.client("redshift-serverless", region_name=settings.region),
                                run_tag), RedshiftDriver())
