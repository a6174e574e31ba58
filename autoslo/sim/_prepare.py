"""Turn a workload and a resolved execution config into the engine's arrays (pure, no I/O)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import polars as pl

from autoslo.config.execution import (
    ExecutionConfig,
    ProvisionedCluster,
    ReactiveAutoscaler,
    ServerlessCluster,
    sharing_law,
)
from autoslo.errors import NotBuiltError
from autoslo.perf import LatencyModel, Shape, isolated_runtimes
from autoslo.perf.contention._law import slowdown_of
from autoslo.policies import ROUTERS
from autoslo.sim import _engine as e
from autoslo.workload import Workload

UNLIMITED_SLOTS = np.iinfo(np.int64).max

ClusterSpec = ServerlessCluster | ProvisionedCluster


@dataclass(frozen=True)
class Prepared:
    """Everything the engines need, as arrays indexed by query (arrival order) and spec."""

    arrival: np.ndarray          # float64[n], sorted
    runtime: np.ndarray          # float64[n, n_shapes]: isolated runtime on each shape
    shapes: list[Shape]
    specs: list[ClusterSpec]     # cluster specs the pool may use; initial ones first
    spec_shape: np.ndarray       # int64[n_specs]
    spec_qoff: np.ndarray        # int64[n_specs + 1]: queue ranges into q_slots / q_timeout
    q_slots: np.ndarray          # int64[n_queues]
    q_timeout: np.ndarray        # float64[n_queues], inf = none
    q_burst: np.ndarray          # bool[n_queues]: concurrency scaling on (burst clusters help)
    spec_burst: np.ndarray       # int64[n_specs]: max concurrency-scaling clusters
    q_names: list[str]
    qmap: np.ndarray             # int16[n_specs, n]: local queue of each query per spec
    capacity: float              # sharing capacity per cluster, inf = no contention
    weight: np.ndarray           # float64[n, n_shapes]: share weights; empty = all 1
    slowdown_exponent: float
    cold_fraction: float         # capacity fraction during warm-up
    warmup_s: float
    memory: np.ndarray           # float64[n, n_shapes]: memory demand; empty = no admission
    memory_budget: float
    admission: bool              # queries wait until their memory fits
    spill_exponent: float        # slowdown when running queries take more memory than the budget
    initial_specs: np.ndarray    # int64[k]
    router: int
    max_clusters: int
    spin_up_delay_s: float
    sched_t: np.ndarray          # float64[K]: scheduled spin-up request times
    sched_spec: np.ndarray       # int64[K]
    sched_life: np.ndarray       # float64[K], inf = until the end (or idle teardown)
    autoscaler_on: bool
    autoscaler_spec: int
    autoscaler_threshold: float
    autoscaler_window_s: float
    autoscaler_min_lifetime_s: float
    autoscaler_idle_teardown_s: float

    def joining_slowdown(self, j: int, spec: int, running: list[int] | set[int]) -> float:
        """How many times slower than alone query j would run joining `running` on a cluster of
        `spec` (the contention law the engine uses; 1 without contention)."""
        if self.capacity == float("inf"):
            return 1.0
        shape = int(self.spec_shape[spec])
        weights = [1.0] * len(running) if self.weight.shape[0] == 0 else [
            float(self.weight[x, shape]) for x in running]
        w = 1.0 if self.weight.shape[0] == 0 else float(self.weight[j, shape])
        slowdown = float(slowdown_of(w, len(running) + 1, sum(weights) + w, max([w, *weights]),
                                     self.capacity, self.slowdown_exponent))
        if self.memory.shape[0] and self.spill_exponent > 0:
            taken = float(sum(self.memory[x, shape] for x in running) + self.memory[j, shape])
            if taken > self.memory_budget:
                slowdown *= (taken / self.memory_budget) ** self.spill_exponent
        return slowdown

    def law_array(self) -> np.ndarray:
        """The contention law as the engine reads it (`_engine.LAW_*` indices)."""
        law = np.empty(e.LAW_SIZE)
        law[e.LAW_CAPACITY] = self.capacity
        law[e.LAW_SLOWDOWN_EXPONENT] = self.slowdown_exponent
        law[e.LAW_COLD_FRACTION] = self.cold_fraction
        law[e.LAW_WARMUP_S] = self.warmup_s
        law[e.LAW_MEMORY_BUDGET] = self.memory_budget
        law[e.LAW_ADMISSION] = 1.0 if self.admission else 0.0
        law[e.LAW_SPILL_EXPONENT] = self.spill_exponent
        return law

    def engine_args(self) -> tuple:
        """The positional arguments of `_engine.event_loop`."""
        return (self.arrival, self.runtime, self.spec_shape, self.spec_qoff, self.q_slots,
                self.q_timeout, self.q_burst, self.spec_burst, self.qmap, self.law_array(),
                self.weight, self.memory, self.initial_specs, self.router,
                self.max_clusters, self.spin_up_delay_s, self.sched_t, self.sched_spec,
                self.sched_life, self.autoscaler_on, self.autoscaler_spec,
                self.autoscaler_threshold, self.autoscaler_window_s,
                self.autoscaler_min_lifetime_s, self.autoscaler_idle_teardown_s)


def check_supported(config: ExecutionConfig) -> None:
    """Refuse, by name, the parts of a config this simulator does not model."""
    if isinstance(config.autoscaler, ReactiveAutoscaler) and (
            config.autoscaler.trigger != "queue_depth"):
        raise NotBuiltError(
            f"the simulator does not model autoscaler.trigger {config.autoscaler.trigger} yet "
            "(use queue_depth); nothing was simulated")


def _queue_map(workload: Workload, cluster: ProvisionedCluster) -> np.ndarray:
    """Local WLM queue of each query: the first queue whose user or query group matches.

    "First queue matching the user or the group" is the smaller of the first queue matching
    the user and the first matching the group, so each column is mapped on its own, by value.
    """
    frame = workload.queries
    queues = cluster.wlm.queues
    default = len(queues) - 1
    result = np.full(frame.height, default, np.int16)
    for column, groups, wildcard in (
            ("user", [q.user_group for q in queues[:-1]],
             [q.user_group_wild_card for q in queues[:-1]]),
            ("query_group", [q.query_group for q in queues[:-1]],
             [q.query_group_wild_card for q in queues[:-1]])):
        if column not in frame.columns or not any(groups):
            continue
        values = frame[column].cast(pl.String)
        distinct = values.drop_nulls().unique().to_list()
        mapping = {}
        for value in distinct:
            for index, (patterns, wild) in enumerate(zip(groups, wildcard, strict=True)):
                if _matches(value, patterns, wild):
                    mapping[value] = index
                    break
        if mapping:
            first = values.replace_strict(mapping, default=default, return_dtype=pl.Int16)
            result = np.minimum(result, first.fill_null(default).to_numpy())
    return result


def _matches(value: str, patterns: list[str], wildcard: int) -> bool:
    if wildcard:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return value in patterns


def prepare(workload: Workload, config: ExecutionConfig, model: LatencyModel | None,
            cache: dict[object, np.ndarray] | None = None) -> Prepared:
    """Build the engine inputs; every input problem is raised here, before simulating.

    `cache` (one per workload and latency model) keeps isolated runtimes per shape and queue
    maps per WLM setup across calls, which is what repeated trials on one scenario share.
    """
    cache = {} if cache is None else cache
    check_supported(config)
    frame = workload.queries
    n = frame.height
    specs: list[ClusterSpec] = config.all_clusters()
    shapes: list[Shape] = []
    spec_shape = []
    for spec in specs:
        shape = Shape(spec.shape_key, spec.size)
        if shape not in shapes:
            shapes.append(shape)
        spec_shape.append(shapes.index(shape))
    runtime = np.empty((n, len(shapes)))
    for index, shape in enumerate(shapes):
        key = ("runtime", shape)
        if key not in cache:
            cache[key] = isolated_runtimes(workload, model, shape)
        runtime[:, index] = cache[key]
    q_slots: list[int] = []
    q_timeout: list[float] = []
    q_names: list[str] = []
    q_burst: list[bool] = []
    spec_burst: list[int] = []
    qoff = [0]
    qmap = np.zeros((len(specs), n), np.int16)
    for index, spec in enumerate(specs):
        if isinstance(spec, ServerlessCluster):
            q_slots.append(spec.max_concurrency or UNLIMITED_SLOTS)
            q_timeout.append(float(spec.max_query_execution_time or np.inf))
            q_names.append("serverless")
            q_burst.append(False)
            spec_burst.append(0)
        else:
            for queue in spec.wlm.queues:
                q_slots.append(queue.query_concurrency)
                q_timeout.append(queue.max_execution_time / 1000.0
                                 if queue.max_execution_time else np.inf)
                q_names.append(queue.name)
                q_burst.append(queue.concurrency_scaling == "auto")
            key = ("qmap", spec.wlm.model_dump_json(exclude={"short_query_acceleration"}))
            if key not in cache:
                cache[key] = _queue_map(workload, spec)
            qmap[index] = cache[key]
            sqa = spec.wlm.short_query_acceleration
            if sqa is not None and sqa.enabled:
                q_slots.append(sqa.simulated_slots)
                q_timeout.append(np.inf)
                q_names.append("sqa")
                q_burst.append(False)
                short = runtime[:, spec_shape[index]] <= sqa.limit_s
                qmap[index][short] = len(spec.wlm.queues)
            spec_burst.append(spec.max_concurrency_scaling_clusters
                              if any(q.concurrency_scaling == "auto" for q in spec.wlm.queues)
                              else 0)
        qoff.append(len(q_slots))
    law = sharing_law(config.contention)
    empty = np.zeros((0, 0))
    weight = memory = empty
    if law is not None and law.weight_exponent != 0.0:
        weight = np.maximum(runtime, 1e-9) ** law.weight_exponent
    if law is not None and law.memory_budget is not None:
        memory = np.maximum(runtime, 1e-9) ** law.memory_exponent
    k = len(config.pool.clusters)
    scaler = config.autoscaler
    reactive = isinstance(scaler, ReactiveAutoscaler)
    spin_ups = config.scheduled_spin_ups
    first_scheduled = k + (1 if reactive else 0)
    return Prepared(
        arrival=frame["arrival_s"].to_numpy().astype(np.float64),
        runtime=runtime, shapes=shapes, specs=specs,
        spec_shape=np.array(spec_shape, np.int64), spec_qoff=np.array(qoff, np.int64),
        q_slots=np.array(q_slots, np.int64), q_timeout=np.array(q_timeout, np.float64),
        q_burst=np.array(q_burst, np.bool_), spec_burst=np.array(spec_burst, np.int64),
        q_names=q_names, qmap=qmap,
        capacity=float("inf") if law is None else float(law.capacity), weight=weight,
        slowdown_exponent=1.0 if law is None else float(law.slowdown_exponent),
        cold_fraction=1.0 if law is None else float(law.cold_fraction),
        warmup_s=0.0 if law is None else float(law.warmup_s), memory=memory,
        memory_budget=float("inf") if law is None or law.memory_budget is None
        else float(law.memory_budget),
        admission=law is not None and law.memory_admission,
        spill_exponent=0.0 if law is None else float(law.spill_exponent),
        initial_specs=np.arange(k, dtype=np.int64),
        router=ROUTERS[config.router.policy], max_clusters=config.pool.max_clusters,
        spin_up_delay_s=float(config.pool.spin_up_delay_s),
        sched_t=np.array([u.at_s for u in spin_ups], np.float64),
        sched_spec=np.arange(first_scheduled, first_scheduled + len(spin_ups), dtype=np.int64),
        sched_life=np.array([u.lifetime_s or np.inf for u in spin_ups], np.float64),
        autoscaler_on=reactive,
        autoscaler_spec=k if reactive else -1,
        autoscaler_threshold=float(scaler.threshold) if reactive else np.inf,
        autoscaler_window_s=float(scaler.window_s) if reactive else np.inf,
        autoscaler_min_lifetime_s=float(scaler.min_lifetime_s) if reactive else 0.0,
        autoscaler_idle_teardown_s=float(scaler.idle_teardown_s) if reactive else 0.0,
    )
