"""The execution config: what is tuned, executed and compared (DESIGN.md, "The execution config").

Field names follow Amazon Redshift where a field mirrors one (`query_concurrency`,
`memory_percent_to_use`, `user_group`, `query_group`, `max_execution_time`,
`max_concurrency_scaling_clusters`, `node_type`), so a tuned config applies to a real cluster
without a translation table. Limits come from ../shared/notes/redshift.md; cluster shapes (kind and
size) are in `autoslo.config.shapes`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from autoslo.config._base import RuleError, StrictModel, at_least, between, positive
from autoslo.config.prices import PriceTable
from autoslo.config.shapes import ProvisionedShape, ServerlessShape
from autoslo.errors import InputError

MAX_WLM_QUEUES = 8
MAX_WLM_SLOTS = 50

Seconds = Annotated[float, AfterValidator(at_least(0))]
PositiveSeconds = Annotated[float, AfterValidator(positive)]


# ---- full clusters (shape + admission) ---------------------------------------------------------

class PricePerformanceTarget(StrictModel):
    """Serverless AI-driven scaling (`pricePerformanceTarget`): Amazon's own baseline."""

    status: Literal["ENABLED", "DISABLED"]
    level: Literal[1, 25, 50, 75, 100] = 50


class ServerlessCluster(ServerlessShape):
    """A Serverless workgroup; admission is a cap on concurrently running queries."""

    max_concurrency: Annotated[int, AfterValidator(between(1, 1000))] | None = None
    max_query_execution_time: Annotated[int, AfterValidator(between(1, 86_399))] | None = Field(
        default=None, description="seconds; queries running longer end with status timeout")
    price_performance_target: PricePerformanceTarget | None = None


class WlmQueue(StrictModel):
    """One manual WLM queue (the `wlm_json_configuration` queue object)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    queue_type: Literal["manual"] = "manual"
    query_concurrency: Annotated[int, AfterValidator(between(1, MAX_WLM_SLOTS))] = 5
    memory_percent_to_use: Annotated[int, AfterValidator(between(1, 100))] | None = None
    user_group: list[str] = []
    query_group: list[str] = []
    user_group_wild_card: Literal[0, 1] = 0
    query_group_wild_card: Literal[0, 1] = 0
    max_execution_time: Annotated[int, AfterValidator(between(1, 86_399_000))] | None = Field(
        default=None, description="milliseconds (WLM timeout); the query ends with status timeout")
    concurrency_scaling: Literal["auto", "off"] = "off"


DYNAMIC_SQA_LIMIT_S = 5.0


class ShortQueryAcceleration(StrictModel):
    """Short query acceleration: a separate queue for queries predicted to run briefly."""

    enabled: bool = True
    max_execution_time: Annotated[int, AfterValidator(between(0, 20))] = Field(
        default=0, description="seconds, 1-20; 0 = dynamic (Redshift picks the limit; the "
                               f"simulator uses {DYNAMIC_SQA_LIMIT_S:g} s)")
    simulated_slots: Annotated[int, AfterValidator(between(1, 50))] = Field(
        default=6, description="slots the simulator gives the SQA queue (Redshift sizes it "
                               "itself; not part of the WLM JSON)")

    @property
    def limit_s(self) -> float:
        """The runtime under which a query is accelerated."""
        return float(self.max_execution_time) or DYNAMIC_SQA_LIMIT_S


class Wlm(StrictModel):
    """Manual workload management of one provisioned cluster."""

    queues: Annotated[list[WlmQueue], Field(min_length=1)] = [WlmQueue(name="default")]
    short_query_acceleration: ShortQueryAcceleration | None = None

    @model_validator(mode="after")
    def _redshift_limits(self) -> Wlm:
        queues = self.queues
        if len(queues) > MAX_WLM_QUEUES:
            raise RuleError("queues", f"must have at most {MAX_WLM_QUEUES} queues, got {len(queues)}")
        slots = sum(q.query_concurrency for q in queues)
        if slots > MAX_WLM_SLOTS:
            raise RuleError("queues", f"query_concurrency must total at most {MAX_WLM_SLOTS} "
                             f"slots across queues, got {slots}")
        names = [q.name for q in queues]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RuleError("queues", f"names must be unique, got {dupes[0]!r} twice")
        shares = [q.memory_percent_to_use for q in queues]
        if any(s is not None for s in shares):
            if any(s is None for s in shares):
                missing = next(q.name for q in queues if q.memory_percent_to_use is None)
                raise RuleError("queues", f"if one queue sets memory_percent_to_use all must; "
                                 f"queue {missing!r} does not")
            total = sum(s for s in shares if s is not None)
            if total > 100:
                raise RuleError("queues", f"memory_percent_to_use must total at most 100, got {total}")
        default = queues[-1]
        if default.user_group or default.query_group:
            raise RuleError("queues", f"the last queue ({default.name!r}) is the default queue "
                             f"and must not name user_group or query_group")
        return self


class ProvisionedCluster(ProvisionedShape):
    """A provisioned cluster with manual WLM and optional concurrency scaling."""

    wlm: Wlm = Wlm()
    max_concurrency_scaling_clusters: Annotated[int, AfterValidator(between(0, 10))] = 1


Cluster = Annotated[ServerlessCluster | ProvisionedCluster, Field(discriminator="kind")]


# ---- pool, policies, models, prices ------------------------------------------------------------

class Pool(StrictModel):
    """The clusters that exist at time 0, how long a new one takes, and a cap on their number."""

    clusters: Annotated[list[Cluster], Field(min_length=1)]
    spin_up_delay_s: Seconds = 300.0
    max_clusters: Annotated[int, AfterValidator(between(1, 100))] = 10

    @model_validator(mode="after")
    def _cap_holds(self) -> Pool:
        if len(self.clusters) > self.max_clusters:
            raise RuleError("max_clusters", f"must be >= the {len(self.clusters)} initial clusters, "
                             f"got {self.max_clusters}")
        return self


class Router(StrictModel):
    """How an arriving query picks a cluster."""

    policy: Literal["round_robin", "least_loaded", "predicted_latency"] = "round_robin"


class NoopAutoscaler(StrictModel):
    """The pool never changes on its own."""

    policy: Literal["noop"] = "noop"


class ReactiveAutoscaler(StrictModel):
    """Add a cluster when a trigger fires over a window; remove clusters that sit idle."""

    policy: Literal["reactive"]
    trigger: Literal["queue_depth", "predicted_violations"] = "queue_depth"
    threshold: Annotated[float, AfterValidator(positive)]
    window_s: PositiveSeconds = 60.0
    cluster: Cluster
    min_lifetime_s: Seconds = 600.0
    idle_teardown_s: Seconds = 300.0


Autoscaler = Annotated[NoopAutoscaler | ReactiveAutoscaler, Field(discriminator="policy")]


class ScheduledSpinUp(StrictModel):
    """A cluster requested at a fixed offset from the workload start (the proactive plan)."""

    at_s: Seconds
    cluster: Cluster
    lifetime_s: PositiveSeconds | None = None


class LatencyModelRef(StrictModel):
    """Where isolated runtimes come from: a model folder under data/models, or the workload."""

    model: str | None = Field(
        default=None,
        description="data-relative folder (models/<name>); none = the workload's runtime_s as-is")


class NoContention(StrictModel):
    """A running query always takes its isolated runtime."""

    model: Literal["none"] = "none"


class ProcessorSharing(StrictModel):
    """With k queries running on a cluster each progresses at min(1, capacity / k)."""

    model: Literal["processor_sharing"]
    capacity: Annotated[float, AfterValidator(positive)]


class SharingLaw(StrictModel):
    """The parameters of weighted processor sharing (`autoslo.perf.contention`).

    A running query of isolated runtime r gets a share of the cluster in proportion to its
    weight r ** weight_exponent (0: equal shares); beyond `capacity` running queries the
    throughput bends by `slowdown_exponent` (1: processor sharing); for `warmup_s` after a cluster
    is ready it runs at `cold_fraction` of its capacity; with a `memory_budget` each query takes
    r ** memory_exponent of it: with `memory_admission` a query waits inside the cluster until the
    running queries leave it room, and with `spill_exponent` > 0 a cluster whose running queries
    take more than the budget runs slower by (budget / taken) ** spill_exponent (spilling).
    """

    capacity: Annotated[float, AfterValidator(positive)]
    weight_exponent: Annotated[float, AfterValidator(between(-3, 3))] = 0.0
    slowdown_exponent: Annotated[float, AfterValidator(between(0.05, 10))] = 1.0
    cold_fraction: Annotated[float, AfterValidator(between(0.001, 1))] = 1.0
    warmup_s: Seconds = 0.0
    memory_exponent: Annotated[float, AfterValidator(between(-3, 3))] = 0.0
    memory_budget: Annotated[float, AfterValidator(positive)] | None = None
    memory_admission: bool = True
    spill_exponent: Annotated[float, AfterValidator(between(0, 10))] = 0.0


class WeightedSharing(SharingLaw):
    """Weighted processor sharing with its parameters written in the config."""

    model: Literal["weighted_sharing"]


class FittedContention(StrictModel):
    """A contention model fitted from live runs (`autoslo model fit-contention`), by reference.

    Resolving the config (`resolve_execution_config`) inlines the folder's parameters, so the
    execution_config_id changes when the model is refitted.
    """

    model: Literal["fitted"]
    path: str = Field(description="data-relative model folder (models/<name>)")
    sample: Annotated[int, AfterValidator(at_least(0))] = Field(
        default=0, description="0: the fitted parameters; k: the fit's bootstrap sample k")
    parameters: SharingLaw | None = Field(
        default=None, description="filled in from the folder when the config is resolved")


Contention = Annotated[NoContention | ProcessorSharing | WeightedSharing | FittedContention,
                       Field(discriminator="model")]


def sharing_law(contention: NoContention | ProcessorSharing | WeightedSharing | FittedContention
                ) -> SharingLaw | None:
    """The sharing law a contention setting stands for (None: no contention)."""
    if isinstance(contention, ProcessorSharing):
        return SharingLaw(capacity=contention.capacity)
    if isinstance(contention, WeightedSharing):
        return SharingLaw.model_validate(contention.model_dump(exclude={"model"}))
    if isinstance(contention, FittedContention):
        if contention.parameters is None:
            raise InputError(f"the fitted model {contention.path} must be resolved before "
                             "simulating (resolve_execution_config inlines it)",
                             field="contention.parameters")
        return contention.parameters
    return None


class ExecutionConfig(StrictModel):
    """Everything that decides how a workload runs and what it costs."""

    description: str = ""
    pool: Pool
    router: Router = Router()
    autoscaler: Autoscaler = NoopAutoscaler()
    scheduled_spin_ups: list[ScheduledSpinUp] = []
    latency_model: LatencyModelRef = LatencyModelRef()
    contention: Contention = NoContention()
    prices: str | PriceTable = "prices/aws-us-east-1.yml"

    @model_validator(mode="after")
    def _spin_ups_fit(self) -> ExecutionConfig:
        times = [s.at_s for s in self.scheduled_spin_ups]
        if times != sorted(times):
            raise RuleError("scheduled_spin_ups", f"must be in time order (at_s ascending), got "
                             f"{times}")
        return self

    def all_clusters(self) -> list[ServerlessCluster | ProvisionedCluster]:
        """Every cluster spec the config may bring up: initial, autoscaled and scheduled."""
        clusters = list(self.pool.clusters)
        if isinstance(self.autoscaler, ReactiveAutoscaler):
            clusters.append(self.autoscaler.cluster)
        clusters.extend(s.cluster for s in self.scheduled_spin_ups)
        return clusters

    def summary(self) -> str:
        """The pool's clusters, the router, the autoscaler and the scheduled spin-ups."""
        sizes = [f"{c.kind} {c.rpu} RPU" if isinstance(c, ServerlessCluster)
                 else f"{c.kind} {c.nodes}x{c.node_type}" for c in self.pool.clusters]
        scaler = self.autoscaler.policy + (
            f" ({self.autoscaler.trigger})" if isinstance(self.autoscaler, ReactiveAutoscaler)
            else "")
        return (f"{len(sizes)} cluster(s): {', '.join(sizes)}; router {self.router.policy}; "
                f"autoscaler {scaler}; {len(self.scheduled_spin_ups)} scheduled spin-up(s)")
