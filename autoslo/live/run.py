"""One live run of a combination: claim a run folder, provision, replay, tabulate, tear down.

Every run gets `data/runs/<run_timestamp>/` (never reused) with `run.yml` written first as
`running`, then `complete` or `incomplete` (stopped by SIGINT/SIGTERM; the results so far are kept,
unfinished queries marked aborted, with no latency). While it replays, the tables so far are
checkpointed into the folder about every second, so a run killed outright (SIGKILL) keeps what it
recorded: the next live run (or `autoslo live cleanup`) marks its record `incomplete`.
`data/runs/map.yml` is rebuilt from the records after each change. Clusters the run started are
torn down in every case but SIGKILL, whose orphans the next run (or `autoslo live cleanup`) removes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import yaml

from autoslo.atomic import replace_file, write_text
from autoslo.combinations import Combination
from autoslo.config.manifests import LiveSettings
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.live.records import (
    RunRecord,
    hold_run_lock,
    rebuild_run_index,
    run_is_alive,
    settle_dead_runs,
    write_run_record,
)
from autoslo.live.target import Driver, Provisioner
from autoslo.workload import Workload

if TYPE_CHECKING:
    from autoslo.live.replay import ReplayResult


@dataclass(frozen=True)
class LiveOutcome:
    """Where a live run's results are, and its summary."""

    record: RunRecord
    folder: Path
    summary: dict[str, Any]


def sql_for(workload: Workload, settings: LiveSettings, tree: DataTree) -> list[str]:
    """The SQL each query runs: its own `sql` text, else its template's in the suite."""
    frame = workload.queries
    own = frame["sql"].to_list() if "sql" in frame.columns else [None] * frame.height
    if all(text is not None for text in own):
        return own
    suite_name = settings.suite or (workload.meta.source.details.get("suite")
                                    if workload.meta is not None else None)
    if not isinstance(suite_name, str):
        raise InputError(f"workload {workload.id!r} has no sql column and names no template suite; "
                         "set live.suite in the execution manifest", field="live.suite")
    from autoslo.workload.templates import load_suite

    suite = load_suite(suite_name, tree)
    templates = frame["template_id"].to_list()
    missing = sorted({t for t, s in zip(templates, own, strict=True) if s is None} - set(suite.sql))
    if missing:
        raise InputError(f"template {missing[0]!r} of workload {workload.id!r} has no SQL in suite "
                         f"{suite_name!r} ({len(missing)} template(s) missing)", field="live.suite")
    return [s if s is not None else suite.sql[t] for t, s in zip(templates, own, strict=True)]


def open_target(settings: LiveSettings, tree: DataTree, run_tag: str) -> tuple[Provisioner, Driver]:
    """The provisioner and driver of the manifest's live target."""
    if settings.target == "postgres":
        from autoslo.live.postgres import (
            LocalPostgresProvisioner,
            PostgresDriver,
            cleanup_orphans,
            prepare_template,
        )

        cleanup_orphans()
        template = prepare_template(settings.scale_factor, tree)
        return LocalPostgresProvisioner(template, run_tag), PostgresDriver()
    if settings.target == "duckdb":
        from autoslo.live import duckdb

        duckdb.cleanup_orphans()
        database = duckdb.prepare_database(settings.scale_factor, tree)
        return duckdb.DuckdbProvisioner(database, run_tag), duckdb.DuckdbDriver()
    from autoslo.live.redshift import open_redshift_target

    return open_redshift_target(settings, run_tag)


def execute_live(combination: Combination, settings: LiveSettings, tree: DataTree, *,
                 stop: threading.Event | None = None, yes: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 say: Callable[[str], None] | None = None) -> LiveOutcome:
    """Replay one combination on the live target; results land in a new data/runs folder."""
    from autoslo.live.replay import Replay
    from autoslo.perf import load_latency_model
    from autoslo.sim import prepare
    from autoslo.workload import load_workload

    workload = load_workload(combination.workload_path)
    config = combination.config.config
    model = load_latency_model(config.latency_model.model, tree)
    check_calibration_scale(config.latency_model.model, settings, tree)
    replayed, runtimes_known = _with_runtimes_if_unused(workload, config, model)
    prepared = prepare(replayed, config, model)
    sql = sql_for(workload, settings, tree)
    if settings.target == "redshift":
        (say or (lambda _: None))(redshift_guard(config, workload, settings, yes=yes))
        from autoslo.live.redshift import check_endpoints

        check_endpoints(settings)  # before the run folder exists: a dead endpoint writes nothing
    settle_dead_runs(tree)  # runs killed earlier stop saying `running`
    stamp, folder = tree.create_run_dir()
    alive = hold_run_lock(folder)
    record = RunRecord(stamp, combination.workload_id, combination.execution_config_id, "running",
                       settings.target)
    write_run_record(tree, record)
    rebuild_run_index(tree)
    provisioner: Provisioner | None = None
    replay: Replay | None = None
    status = "failed"

    def tables(result: ReplayResult) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
        return live_tables(result, workload, config, prepared, combination, settings, stamp,
                           runtimes_known=runtimes_known)

    def checkpoint(result: ReplayResult) -> None:
        queries, clusters, summary = tables(result)
        _write_tables(folder, queries, clusters, summary, result.errors,
                      workload.queries["query_id"])

    try:
        provisioner, driver = open_target(settings, tree, stamp)
        provisioner.check(prepared.specs)
        replay = Replay(prepared, sql.__getitem__, workload.queries["query_id"].to_numpy(),
                        provisioner, driver, run_tag=stamp,
                        emulate_spin_up_delay=settings.target != "redshift", stop=stop,
                        progress=progress, checkpoint=checkpoint)
        result = replay.run()
        status = "complete" if result.complete else "incomplete"
        queries, clusters, summary = tables(result)
        if hasattr(driver, "collect"):
            history = [row for endpoint in replay.endpoints()
                       for row in driver.collect(endpoint, stamp)]
            if history:
                pl.DataFrame(history).write_parquet(folder / "sys_query_history.parquet")
            summary["sys_query_history_rows"] = len(history)
        _write_tables(folder, queries, clusters, summary, result.errors,
                      workload.queries["query_id"])
        return LiveOutcome(RunRecord(stamp, record.workload_id, record.execution_config_id,
                                     status, settings.target), folder, summary)  # type: ignore[arg-type]
    finally:
        if replay is not None and provisioner is not None:
            for endpoint in replay.endpoints():
                provisioner.stop(endpoint)
        if provisioner is not None:
            provisioner.close()
        write_run_record(tree, RunRecord(stamp, record.workload_id, record.execution_config_id,
                                         status, settings.target))  # type: ignore[arg-type]
        rebuild_run_index(tree)
        alive.close()


def live_tables(result: ReplayResult, workload: Workload, config: Any, prepared: Any,
                combination: Combination, settings: LiveSettings, stamp: str, *,
                runtimes_known: bool) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """The query table, cluster table and summary of a replay's results (final or so far).

    An aborted query has no end and no latency (null), one that never started no start and no
    queue time either; billing still counts the seconds it ran. The summary's latency percentiles
    count every query that did not finish ok as infinitely slow, as `autoslo compare` and the
    plots do, so the three agree; its mean is over the queries that finished ok.
    """
    from autoslo.sim import ClusterLives, tabulate

    lives = ClusterLives(**result.lives)
    tabulated = tabulate(workload, config, prepared, result.start, result.end, result.status,
                         result.cluster, result.queue, lives, f"live-{settings.target}",
                         seconds=result.wall_s, execution_config_id=combination.execution_config_id)
    aborted = pl.col("status") == "aborted"
    never_started = pl.Series("never_started", ~result.started)
    queries = tabulated.queries.with_columns(never_started).with_columns(
        *(pl.when(aborted).then(None).otherwise(pl.col(c)).alias(c) for c in ("end_s", "latency_s")),
        *(pl.when(aborted & pl.col("never_started")).then(None).otherwise(pl.col(c)).alias(c)
          for c in ("start_s", "queue_s")),
    ).drop("never_started")
    if not runtimes_known:
        queries = queries.with_columns(pl.lit(None, pl.Float64).alias("isolated_s"))
    summary = dict(tabulated.summary)
    summary.pop("simulator_version", None)
    summary.pop("simulation_s", None)
    summary["latency_s"] = latency_summary(queries)
    summary["queue_s_mean"] = _rounded(queries["queue_s"].mean())
    summary.update({
        "run_timestamp": stamp, "target": settings.target, "complete": result.complete,
        "wall_s": round(result.wall_s, 3),
        "dispatch_lag_s": {"p50": _quantile(result.dispatch_lag_s, 0.5),
                           "p99": _quantile(result.dispatch_lag_s, 0.99)},
        "errors": len(result.errors),
    })
    return queries, tabulated.clusters, summary


def latency_summary(queries: pl.DataFrame) -> dict[str, float | None]:
    """Mean latency of the queries that finished ok; p50/p95/p99 with every other query counted
    as infinitely slow (`slo.latency_percentile`), exactly as `autoslo.results` computes them for
    compare."""
    from autoslo.results import PERCENTILES
    from autoslo.slo import INF, latency_percentile

    latency = pl.when(pl.col("status") == "ok").then(pl.col("latency_s")).otherwise(INF)
    row = queries.select(
        pl.col("latency_s").filter(pl.col("status") == "ok").mean().alias("mean"),
        *(latency_percentile(latency, p).alias(f"p{p}") for p in PERCENTILES)).row(0, named=True)
    return {key: _rounded(value) for key, value in row.items()}


def _rounded(value: Any) -> float | None:
    """A float rounded for summary.yml (infinity stays infinity), None for none."""
    return None if value is None else round(float(value), 6)


def check_calibration_scale(reference: str | None, settings: LiveSettings, tree: DataTree) -> None:
    """Refuse a latency model calibrated on this local target at another scale factor: its
    runtimes belong to other data, so the run would compare against the wrong isolated times."""
    if reference is None or settings.target not in LOCAL_TARGETS:
        return
    path = tree.ref(reference, field="latency_model.model") / "calibration.yml"
    if not path.is_file():
        return
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        return
    measured = record.get("scale_factor")
    if record.get("target") == settings.target and isinstance(measured, int | float) \
            and float(measured) != settings.scale_factor:
        raise InputError(f"must equal the run's live.scale_factor for a model calibrated on "
                         f"{settings.target} (the runtimes were measured on other data), got "
                         f"{measured:g} vs live.scale_factor {settings.scale_factor:g}",
                         source=display_path(path), field="scale_factor")


LOCAL_TARGETS = ("postgres", "duckdb")


def cleanup_redshift(tree: DataTree, settings: LiveSettings, *, everything: bool) -> list[str]:
    """Remove tagged Redshift resources of runs no living process holds; returns their names.

    A resource whose run folder is not in this data tree belongs to another machine's run and is
    kept unless `everything` is set.
    """
    from autoslo.ids import parse_run_timestamp
    from autoslo.live.redshift import open_redshift_target
    from autoslo.live.target import Endpoint

    provisioner, _ = open_redshift_target(settings, "cleanup")
    removed = []
    for resource in provisioner.tagged_resources():
        try:
            parse_run_timestamp(resource["run"])
            folder: Path | None = tree.run_dir(resource["run"])
        except InputError:
            folder = None
        known = folder is not None and folder.is_dir()
        if (known and run_is_alive(folder)) or (not known and not everything):  # type: ignore[arg-type]
            continue
        name = resource.get("cluster") or resource["workgroup"]
        provisioner.stop(Endpoint(name, "", 0, "", "", handle=resource))
        removed.append(f"{resource['kind']} {name} (run {resource['run']})")
    return removed


def redshift_guard(config: Any, workload: Workload, settings: LiveSettings, *, yes: bool) -> str:
    """What a Redshift run will create and may cost; refuses without --yes or above the cap."""
    from autoslo.live.redshift import estimate_cost_usd

    duration = float(workload.queries["arrival_s"].max() or 0.0) + 600.0
    estimate = estimate_cost_usd(config, duration)
    shapes = ", ".join(f"{c.kind} {c.size} {'RPU' if c.kind == 'serverless' else c.node_type}"
                       for c in config.pool.clusters)
    plan = (f"redshift run of {workload.id}: creates {len(config.pool.clusters)} cluster(s) ({shapes}), "
            f"up to {config.pool.max_clusters} with the autoscaler and spin-ups, each tagged "
            f"autoslo-run=<run_timestamp>; estimated at most {estimate:.2f} USD")
    if settings.max_cost_usd is not None and estimate > settings.max_cost_usd:
        raise InputError(f"{plan}, above live.max_cost_usd {settings.max_cost_usd:g} USD; nothing "
                         "was created")
    if not yes:
        raise InputError(f"{plan}; re-run with --yes to go ahead (nothing was created)")
    return plan


def _with_runtimes_if_unused(workload: Workload, config: Any, model: Any) -> tuple[Workload, bool]:
    """Live, isolated runtimes only steer short query acceleration and the predicted_latency
    router; without either, a workload with no runtimes (and no model) replays as it is (the
    result's isolated_s column is then null)."""
    uses_runtimes = config.router.policy == "predicted_latency" or any(
        getattr(getattr(spec, "wlm", None), "short_query_acceleration", None) is not None
        for spec in config.all_clusters())
    if uses_runtimes or model is not None or "runtime_s" in workload.queries.columns:
        return workload, True
    unused = workload.queries.with_columns(pl.lit(0.0).alias("runtime_s"))
    return Workload(id=workload.id, queries=unused, meta=None), False


def _quantile(values: np.ndarray, q: float) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(np.quantile(values, q)), 4) if values.size else None


def _write_tables(folder: Path, queries: pl.DataFrame, clusters: pl.DataFrame,
                  summary: dict[str, Any], errors: list[tuple[int, str, str]],
                  query_ids: pl.Series) -> None:
    """The same tables as a simulator folder, plus errors.parquet; each file renamed into place
    (a checkpoint's reader sees a whole table, the last one or the one before)."""
    ids = query_ids.to_list()
    error_frame = pl.DataFrame(
        {"query_id": [ids[j] if j >= 0 else None for j, _, _ in errors],
         "status": [s for _, s, _ in errors], "error": [e for _, _, e in errors]},
        schema={"query_id": pl.Int64, "status": pl.String, "error": pl.String})
    for name, frame in (("queries.parquet", queries), ("clusters.parquet", clusters),
                        ("errors.parquet", error_frame)):
        with replace_file(folder / name) as tmp:
            frame.write_parquet(tmp)
    write_text(folder / "summary.yml", yaml.safe_dump(summary, sort_keys=False))


def describe(outcome: LiveOutcome) -> str:
    """One line for the command line."""
    s = outcome.summary
    lat = s["latency_s"]
    bad = {k: v for k, v in s["status"].items() if k != "ok" and v}
    return (f"{outcome.record.status}: {s['queries']} queries on {s['clusters']} cluster(s) in "
            f"{s['wall_s']:.1f} s, cost {s['cost_usd']:.4f} USD, latency p50 {_seconds(lat['p50'])}, "
            f"p95 {_seconds(lat['p95'])}" + "".join(f", {v} {k}" for k, v in bad.items())
            + f" -> {display_path(outcome.folder)}")


def _seconds(value: float | None) -> str:
    """A latency for the command line: seconds, `inf s` (did not finish) or `n/a` (no queries)."""
    return "n/a" if value is None else f"{value:.3f} s"
