"""The simulator: hand-worked cases, one shared suite for every engine, queueing theory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from autoslo.config import ExecutionConfig, PriceTable, load_model
from autoslo.perf import TableModel
from autoslo.sim import simulate
from autoslo.sim._prepare import prepare
from autoslo.sim._simulate import ORIGINS, fast_path_applies
from autoslo.sim.billing import billed_busy_seconds
from autoslo.workload import Workload
from tests.sim_reference import reference_simulate

REPO = Path(__file__).resolve().parents[1]
PRICES = load_model(REPO / "data" / "prices" / "aws-us-east-1.yml", PriceTable)


def make_workload(arrival, runtime=None, groups=None, templates=None) -> Workload:
    n = len(arrival)
    columns: dict[str, Any] = {
        "query_id": np.arange(n, dtype=np.int64),
        "arrival_s": np.asarray(arrival, dtype=float),
        "template_id": templates or ["t"] * n,
    }
    if runtime is not None:
        columns["runtime_s"] = np.asarray(runtime, dtype=float)
    if groups is not None:
        columns["query_group"] = groups
    frame = pl.DataFrame(columns).sort(["arrival_s", "query_id"])
    return Workload(id="test", queries=frame)


def provisioned(*queues: dict, nodes: int = 2) -> dict:
    return {"kind": "provisioned", "node_type": "ra3.xlplus", "nodes": nodes,
            "wlm": {"queues": list(queues)}, "max_concurrency_scaling_clusters": 0}


def make_config(clusters: list[dict], contention: dict | None = None, router: str = "round_robin",
                max_clusters: int = 10, **extra: Any) -> ExecutionConfig:
    pool = {"clusters": clusters, "max_clusters": max_clusters}
    if "spin_up_delay_s" in extra:
        pool["spin_up_delay_s"] = extra.pop("spin_up_delay_s")
    return ExecutionConfig.model_validate({
        "pool": pool,
        "router": {"policy": router},
        "contention": contention or {"model": "none"},
        "prices": PRICES.model_dump(),
        **extra,
    })


def assert_engine_variants_agree(args: tuple) -> None:
    """The general compiled engine gives the plain one's results, array for array, wherever the
    plain one applies (the dispatcher picks plain for processor sharing)."""
    from autoslo.sim import _engine

    if not _engine.plain_applies(*args[9:12]):  # law, weight, memory
        return
    plain, general = _engine._plain_loop(*args), _engine._general_loop(*args)
    for a, b in zip(plain, general, strict=True):
        np.testing.assert_array_equal(a, b)


def run_all_engines(workload: Workload, config: ExecutionConfig) -> dict[str, tuple]:
    """Per-query (start, end, status, cluster) from every engine that applies."""
    prepared = prepare(workload, config, None)
    assert_engine_variants_agree(prepared.engine_args())
    ref = reference_simulate(prepared)
    out = {"reference": (ref[0], ref[1], ref[2], ref[3], ref[5])}
    engines = ["event"]
    if fast_path_applies(prepared, config):
        engines.append("fifo")
    for engine in engines:
        result = simulate(workload, config, engine=engine)
        q, cl = result.queries, result.clusters
        out[engine] = (q["start_s"].to_numpy(), q["end_s"].to_numpy(),
                       (q["status"] == "timeout").to_numpy().astype(np.int8),
                       q["cluster_id"].to_numpy(), cl)
    return out


# ---- hand-worked cases ------------------------------------------------------------------------

def test_fifo_slots_and_tie_order() -> None:
    # 2 slots. t=0: q0 (3 s) and q1 (1 s) start, q2 waits. t=1: q1 ends -> q2 starts (the
    # completion is handled before q3's arrival at t=1, so q3 waits). t=3: q0 and q2 end; q0
    # started first, so its slot goes to q3, which ends at 4.
    workload = make_workload([0, 0, 0, 1], [3, 1, 2, 1])
    config = make_config([provisioned({"name": "default", "query_concurrency": 2})])
    for engine, (start, end, status, *_) in run_all_engines(workload, config).items():
        assert start.tolist() == [0, 0, 1, 3], engine
        assert end.tolist() == [3, 1, 3, 4], engine
        assert status.tolist() == [0, 0, 0, 0]


def test_processor_sharing_by_hand() -> None:
    # capacity 1, two queries at t=0 needing 1 s and 2 s: each runs at 1/2 until t=2, when the
    # first is done; the second has 1 s left and runs alone at full speed until a third query
    # (0.25 s) arrives at t=2.5 and they share again.
    workload = make_workload([0, 0, 2.5], [1, 2, 0.25])
    config = make_config([{"kind": "serverless", "rpu": 8}],
                         contention={"model": "processor_sharing", "capacity": 1})
    for engine, (start, end, *_) in run_all_engines(workload, config).items():
        assert start.tolist() == [0, 0, 2.5], engine
        # t=2.5: q1 has 0.5 left, q2 0.25; both at 1/2: q2 ends at 3.0, q1 then has 0.25 left
        # at full speed and ends at 3.25.
        assert end.tolist() == pytest.approx([2, 3.25, 3.0], abs=1e-12), engine


def test_wlm_timeout_and_query_groups() -> None:
    workload = make_workload([0, 0, 0], [5, 1, 1], groups=["etl", "dash", None])
    config = make_config([provisioned(
        {"name": "etl", "query_concurrency": 1, "query_group": ["etl"], "max_execution_time": 2000},
        {"name": "dash", "query_concurrency": 1, "query_group": ["da*"], "query_group_wild_card": 1},
        {"name": "default", "query_concurrency": 1})])
    result = simulate(workload, config).queries
    assert result["queue"].to_list() == ["etl", "dash", "default"]
    assert result["end_s"].to_list() == [2.0, 1.0, 1.0]
    assert result["status"].to_list() == ["timeout", "ok", "ok"]


def test_serverless_billing_by_hand() -> None:
    # busy [0,10] and [30,40] merge (30 < 0 + 60): one period billed max(40, 60) = 60 s;
    # [100, 170.2] starts after the minimum: billed ceil(70.2) = 71 s.
    starts, ends = np.array([0, 30, 100.0]), np.array([10, 40, 170.2])
    assert billed_busy_seconds(starts, ends, 60) == 131
    workload = make_workload([0, 30, 100], [10, 10, 70.2])
    result = simulate(workload, make_config([{"kind": "serverless", "rpu": 8}]))
    assert result.clusters["billed_s"].to_list() == [131]
    assert result.clusters["cost_usd"][0] == pytest.approx(131 / 3600 * 8 * 0.375)


def test_provisioned_bills_the_whole_run() -> None:
    workload = make_workload([0, 3500], [10, 100])
    result = simulate(workload, make_config([provisioned({"name": "default"})]))
    assert result.summary["horizon_s"] == 3600
    assert result.clusters["cost_usd"][0] == pytest.approx(2 * 1.086)


def test_reactive_autoscaler_by_hand() -> None:
    # One Serverless workgroup with one slot; q0-q2 (100 s each) arrive at 0, so two wait: the
    # queue-depth trigger (>= 2 waiting) fires after its 5 s window and requests a workgroup,
    # ready 10 s later at t=15. Queries already queued stay where they are; q3 arriving at 20
    # goes to the new, least-loaded workgroup. The cap (2) keeps it from adding more, and the
    # long minimum lifetime keeps the new one alive to the end.
    one_slot = {"kind": "serverless", "rpu": 8, "max_concurrency": 1}
    config = make_config([one_slot], router="least_loaded", max_clusters=2, spin_up_delay_s=10,
                         autoscaler={"policy": "reactive", "threshold": 2, "window_s": 5,
                                     "cluster": one_slot, "min_lifetime_s": 1000,
                                     "idle_teardown_s": 3})
    result = simulate(make_workload([0, 0, 0, 20], [100, 100, 100, 1]), config)
    q, cl = result.queries, result.clusters
    assert q["cluster_id"].to_list() == [0, 0, 0, 1]
    assert q["start_s"].to_list() == [0, 100, 200, 20]
    assert q["end_s"].to_list() == [100, 200, 300, 21]
    assert cl["origin"].to_list() == ["initial", "autoscaler"]
    assert cl["requested_s"].to_list() == [0, 5] and cl["ready_s"].to_list() == [0, 15]
    assert cl["removed_s"].to_list() == [300, 300]


def test_scheduled_spin_up_with_lifetime_by_hand() -> None:
    # A spin-up requested at 0 is ready at 10 and drains at 10 + 30 = 40. q1 (t=12) goes to it;
    # by t=45 it is gone, so q2 waits behind q0 on the initial workgroup.
    one_slot = {"kind": "serverless", "rpu": 8, "max_concurrency": 1}
    config = make_config([one_slot], router="least_loaded", spin_up_delay_s=10,
                         scheduled_spin_ups=[{"at_s": 0, "cluster": one_slot,
                                              "lifetime_s": 30}])
    result = simulate(make_workload([0, 12, 45], [50, 5, 1]), config)
    q, cl = result.queries, result.clusters
    assert q["cluster_id"].to_list() == [0, 1, 0]
    assert q["start_s"].to_list() == [0, 12, 50] and q["end_s"].to_list() == [50, 17, 51]
    assert cl["origin"].to_list() == ["initial", "scheduled"]
    assert cl["ready_s"].to_list() == [0, 10] and cl["removed_s"].to_list() == [51, 40]
    assert cl["billed_s"].to_list() == [60, 60], "each busy period bills at least 60 s"


def test_predicted_latency_routes_around_a_busy_cluster() -> None:
    # c0 (1 slot) is busy with a 50 s query when q1 arrives: predicted finish 49 + 5 s there,
    # 5 s on the idle c1. q2 then sees c1 busy for 4 more seconds (4 + 5 = 9 s) against c0's
    # 48 + 5 s, so it queues on c1 too.
    clusters = [{"kind": "serverless", "rpu": 8, "max_concurrency": 1},
                {"kind": "serverless", "rpu": 8, "max_concurrency": 1}]
    config = make_config(clusters, router="predicted_latency")
    result = simulate(make_workload([0, 1, 2], [50, 5, 5]), config)
    assert result.queries["cluster_id"].to_list() == [0, 1, 1]
    assert result.queries["end_s"].to_list() == [50, 6, 11]


def test_short_query_acceleration_by_hand() -> None:
    # One 1-slot queue and an SQA queue (limit 2 s, one slot): the 10 s query takes the WLM
    # slot, the two 1 s queries are accelerated and run one after the other meanwhile.
    cluster = provisioned({"name": "default", "query_concurrency": 1})
    cluster["wlm"]["short_query_acceleration"] = {"max_execution_time": 2, "simulated_slots": 1}
    for engine in ("fifo", "event"):
        result = simulate(make_workload([0, 0, 0], [10, 1, 1]), make_config([cluster]),
                          engine=engine)
        assert result.queries["queue"].to_list() == ["default", "sqa", "sqa"]
        assert result.queries["start_s"].to_list() == [0, 0, 1]
        assert result.queries["end_s"].to_list() == [10, 1, 2]


def test_concurrency_scaling_by_hand() -> None:
    # A full queue with concurrency scaling sends q1 to the burst cluster; q2 waits for the
    # first slot to free at t=10, on the main cluster (lower index wins the tie). The burst
    # cluster ran 10 s; the main cluster earned 15 s x 1 h / 24 h = 0.625 s of free credit.
    cluster = provisioned({"name": "default", "query_concurrency": 1,
                           "concurrency_scaling": "auto"})
    cluster["max_concurrency_scaling_clusters"] = 1
    result = simulate(make_workload([0, 0, 0], [10, 10, 5]), make_config([cluster]))
    q, cl = result.queries, result.clusters
    assert q["cluster_id"].to_list() == [0, 1, 0]
    assert q["start_s"].to_list() == [0, 0, 10] and q["end_s"].to_list() == [10, 10, 15]
    assert cl["origin"].to_list() == ["initial", "concurrency_scaling"]
    assert cl["parent_cluster_id"].to_list() == [None, 0]
    assert cl["billed_s"].to_list() == [15, 10]
    assert cl["cost_usd"][1] == pytest.approx((10 - 0.625) / 3600 * 2 * 1.086)


def test_unsorted_arrivals_are_sorted_and_ids_kept() -> None:
    frame = pl.DataFrame({"query_id": [7, 3], "arrival_s": [5.0, 1.0], "template_id": ["a", "b"],
                          "runtime_s": [1.0, 1.0]})
    from autoslo.workload import load_workload

    path = Path(__file__).parent / "_tmp_unsorted.parquet"
    frame.write_parquet(path)
    try:
        result = simulate(load_workload(path), make_config([{"kind": "serverless", "rpu": 8}]))
    finally:
        path.unlink()
    assert result.queries["query_id"].to_list() == [3, 7]
    assert result.queries["start_s"].to_list() == [1.0, 5.0]


# ---- one suite, every engine ------------------------------------------------------------------

def _random_case(rng: np.random.Generator, contention: bool,
                 dynamic: bool = False) -> tuple[Workload, ExecutionConfig]:
    n = int(rng.integers(1, 120))
    if contention:
        arrival = np.sort(rng.uniform(0, 60, n))
        runtime = rng.exponential(3.0, n) + 1e-3
    else:  # integer times make ties, which must be broken the same way
        arrival = np.sort(rng.integers(0, 40, n)).astype(float)
        runtime = rng.integers(1, 8, n).astype(float)
    groups = [str(g) for g in rng.choice(["a", "b", "c"], n)]
    clusters = []
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            clusters.append({"kind": "serverless", "rpu": 8,
                             "max_concurrency": int(rng.integers(1, 5))})
        else:
            k = int(rng.integers(1, 4))
            queues = [{"name": f"q{i}", "query_concurrency": int(rng.integers(1, 4)),
                       "query_group": [["a", "b", "c"][i]]} for i in range(k - 1)]
            last = {"name": "default", "query_concurrency": int(rng.integers(1, 4))}
            if rng.random() < 0.3:
                last["max_execution_time"] = int(rng.integers(1, 6)) * 1000
            for queue in [*queues, last]:
                if rng.random() < 0.3:
                    queue["concurrency_scaling"] = "auto"
            cluster = provisioned(*queues, last)
            cluster["max_concurrency_scaling_clusters"] = int(rng.integers(0, 3))
            if rng.random() < 0.3:
                cluster["wlm"]["short_query_acceleration"] = {
                    "max_execution_time": int(rng.integers(0, 4)),
                    "simulated_slots": int(rng.integers(1, 3))}
            clusters.append(cluster)
    router = str(rng.choice(["round_robin", "least_loaded", "predicted_latency"]))
    cont = ({"model": "processor_sharing", "capacity": float(rng.choice([0.5, 1.0, 2.0, 3.0]))}
            if contention else None)
    extra: dict[str, Any] = {"spin_up_delay_s": float(rng.choice([0, 5, 12]))}
    pick = lambda: clusters[int(rng.integers(0, len(clusters)))]  # noqa: E731
    if dynamic and rng.random() < 0.7:
        extra["autoscaler"] = {
            "policy": "reactive", "threshold": int(rng.integers(1, 5)),
            "window_s": float(rng.choice([2, 5, 10])), "cluster": pick(),
            "min_lifetime_s": float(rng.choice([0, 10, 30])),
            "idle_teardown_s": float(rng.choice([0, 3, 10]))}
    if dynamic and rng.random() < 0.7:
        times = sorted(float(x) for x in rng.integers(0, 50, int(rng.integers(1, 4))))
        extra["scheduled_spin_ups"] = [
            {"at_s": at, "cluster": pick(),
             **({"lifetime_s": float(rng.choice([5, 20]))} if rng.random() < 0.5 else {})}
            for at in times]
    max_clusters = len(clusters) + int(rng.integers(0, 3))
    config = make_config(clusters, cont, router, max_clusters=max_clusters, **extra)
    return make_workload(arrival, runtime, groups), config


@pytest.mark.parametrize(("contention", "dynamic"), [(False, False), (True, False),
                                                     (False, True), (True, True)],
                         ids=["fixed", "fixed-ps", "dynamic", "dynamic-ps"])
def test_engines_agree_with_the_reference(contention: bool, dynamic: bool) -> None:
    rng = np.random.default_rng(20261122 + 2 * dynamic + contention)
    for case in range(150):
        workload, config = _random_case(rng, contention, dynamic)
        results = run_all_engines(workload, config)
        ref = results.pop("reference")
        for engine, got in results.items():
            where = f"case {case}, {engine}"
            for name, a, b in zip(("start", "end"), ref[:2], got[:2], strict=True):
                np.testing.assert_allclose(b, a, rtol=0, atol=1e-9, err_msg=f"{where}, {name}")
            assert got[2].tolist() == ref[2].tolist(), f"{where}, status"
            assert got[3].tolist() == ref[3].tolist(), f"{where}, cluster"
            spec, origin, requested, ready, removed, parent = ref[4]
            clusters = got[4]
            assert clusters.height == len(spec), f"{where}, clusters"
            assert clusters["origin"].to_list() == [ORIGINS[o] for o in origin], where
            assert clusters["parent_cluster_id"].fill_null(-1).to_list() == parent.tolist()
            np.testing.assert_allclose(clusters["requested_s"].to_numpy(), requested, atol=1e-9)
            np.testing.assert_allclose(clusters["ready_s"].to_numpy(), ready, atol=1e-9)
            horizon = max(np.nanmax(ref[1], initial=0), workload.queries["arrival_s"].max())
            np.testing.assert_allclose(clusters["removed_s"].to_numpy(),
                                       np.where(ready <= horizon, np.minimum(removed, horizon),
                                                ready), atol=1e-9, err_msg=where)


def test_same_inputs_same_outputs() -> None:
    rng = np.random.default_rng(5)
    workload, config = _random_case(rng, True)
    first = simulate(workload, config).queries
    second = simulate(workload, config).queries
    assert first.equals(second)


# ---- queueing theory --------------------------------------------------------------------------

def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean waiting time in queue of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a ** c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def poisson_workload(n: int, lam: float, mean_s: float, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    return make_workload(np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(mean_s, n))


@pytest.mark.parametrize(("c", "lam"), [(1, 0.7), (3, 2.4)])
def test_mmc_waiting_time_matches_erlang_c(c: int, lam: float) -> None:
    from autoslo.config import resolve_execution_config
    from autoslo.datatree import DataTree

    tree = DataTree(REPO / "data")
    config = resolve_execution_config(tree.ref("execution_configs/examples/mmc.yml"),
                                      params={"SLOTS": c}, tree=tree).config
    result = simulate(poisson_workload(400_000, lam, 1.0, seed=c), config)
    assert result.summary["engine"] == "fifo"
    expected = erlang_c_wait(c, lam, 1.0)
    assert result.queries["queue_s"].mean() == pytest.approx(expected, rel=0.05)


def test_mm1_processor_sharing_response_time() -> None:
    rho = 0.7
    config = make_config([{"kind": "serverless", "rpu": 8}],
                         contention={"model": "processor_sharing", "capacity": 1})
    result = simulate(poisson_workload(300_000, rho, 1.0, seed=11), config)
    assert result.queries["latency_s"].mean() == pytest.approx(1 / (1 - rho), rel=0.05)
    assert result.queries["queue_s"].max() == 0, "no queueing without a concurrency cap"


def _max_concurrency(starts: np.ndarray, ends: np.ndarray) -> int:
    events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends], key=lambda x: (x[0], x[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_littles_law_and_slot_invariants() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        workload, config = _random_case(rng, bool(rng.integers(0, 2)))
        result = simulate(workload, config)
        q = result.queries
        parents = result.clusters["parent_cluster_id"].to_list()
        assert (q["start_s"] >= q["arrival_s"]).all() and (q["end_s"] >= q["start_s"]).all()
        horizon = q["end_s"].max()
        # L = lambda * W, with L the time-average number in system measured by a sweep
        times = np.concatenate([q["arrival_s"].to_numpy(), q["end_s"].to_numpy()])
        steps = np.concatenate([np.ones(q.height), -np.ones(q.height)])
        order = np.lexsort((steps, times))
        level = np.cumsum(steps[order])
        area = float(np.sum(level[:-1] * np.diff(times[order])))
        lam = q.height / horizon
        assert area / horizon == pytest.approx(lam * q["latency_s"].mean(), rel=1e-9)
        for (cluster, queue), part in q.group_by(["cluster_id", "queue"]):
            main = parents[int(cluster)] if parents[int(cluster)] is not None else int(cluster)
            mains = [i for i, parent in enumerate(parents) if parent is None]
            spec = config.pool.clusters[mains.index(main)]
            if spec.kind == "serverless":
                slots = spec.max_concurrency or 10**9
            elif queue == "sqa":
                slots = spec.wlm.short_query_acceleration.simulated_slots
            else:
                slots = next(x.query_concurrency for x in spec.wlm.queues if x.name == queue)
            assert _max_concurrency(part["start_s"].to_numpy(), part["end_s"].to_numpy()) <= slots


# ---- latency model -----------------------------------------------------------------------------

def test_table_model_scales_measured_runtimes() -> None:
    table = pl.DataFrame({"template_id": ["q1", "q1", "q2"], "shape": ["serverless"] * 3,
                          "size": [8, 32, 8], "runtime_s": [8.0, 2.0, 4.0]})
    model = TableModel(table)
    assert model.exponent("q1", "serverless") == pytest.approx(1.0)
    assert model.predict(["q1", "q2"], "serverless", 16) == pytest.approx([4.0, 2.0])
    workload = make_workload([0, 0], None, templates=["q1", "q2"])
    config = make_config([{"kind": "serverless", "rpu": 16}])
    result = simulate(workload, config, model)
    assert result.queries["isolated_s"].to_list() == pytest.approx([4.0, 2.0])
    with pytest.raises(Exception, match="no entry for 1 template"):
        simulate(make_workload([0], None, templates=["q9"]), config, model)


# ---- SLO scoring -------------------------------------------------------------------------------

def test_slo_scoring_by_hand() -> None:
    from autoslo.config import SloSpec
    from autoslo.slo import score

    queries = pl.DataFrame({
        "query_id": [0, 1, 2, 3, 4],
        "template_id": ["a", "a", "b", "c", "c"],
        "query_group": ["dash", "dash", "etl", "etl", None],
        "latency_s": [1.0, 12.0, 30.0, 5.0, 2.0],
        "status": ["ok", "ok", "ok", "timeout", "ok"],
    })
    spec = SloSpec.model_validate({
        "tau": 0.3, "reference": {"kind": "serverless", "rpu": 8},
        "default": {"kappa": 3},
        "targets": [{"query_group": "dash", "latency_s": 10},
                    {"template_id": "b", "latency_s": 40}],
        "percentiles": [{"percentile": 50, "latency_s": 6}],
    })
    reference = pl.DataFrame({"query_id": [0, 1, 2, 3, 4], "reference_s": [1.0] * 5})
    result = score(queries, spec, reference)
    # q0 ok (1 <= 10); q1 violates (12 > 10); q2 ok (template b: 30 <= 40, over its group);
    # q3 timed out; q4 default kappa 3 x 1 s = 3 s, 2 s ok
    assert result.violations == 2 and result.violation_rate == pytest.approx(0.4)
    assert not result.met
    # latencies with the timeout as infinity: [1, 2, 12, 30, inf] -> p50 (linear, index 2) = 12
    assert result.percentiles[0].observed_s == 12.0 and not result.percentiles[0].met
    assert result.per_template["violations"].to_list() == [1, 0, 1]
    with pytest.raises(Exception, match="reference latencies are needed"):
        score(queries, spec)


def test_the_tuners_fast_path_matches_simulate() -> None:
    from autoslo.sim import simulate_outcome

    rng = np.random.default_rng(9)
    for _ in range(20):
        workload, config = _random_case(rng, bool(rng.integers(0, 2)), True)
        full = simulate(workload, config)
        cache: dict[object, np.ndarray] = {}
        for _ in range(2):  # the second call runs on the cache
            outcome = simulate_outcome(workload, config, None, cache)
            np.testing.assert_array_equal(outcome.latency_s, full.queries["latency_s"].to_numpy())
            assert outcome.cost_usd == pytest.approx(full.summary["cost_usd"], abs=1e-6)
            assert outcome.clusters == full.clusters.height
