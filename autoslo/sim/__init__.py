"""The simulator: how a Redshift pool runs a workload, exactly and fast.

What it models (and the Redshift behaviour behind it):

- **Arrivals** come from the workload table (seconds from its start), sorted by
  (arrival_s, query_id); unsorted input is sorted, never rejected.
- **Isolated runtime** of a query on a cluster: its `runtime_s` when present, taken as measured at
  its `runtime_size` (or the workload's `reference` size) and scaled to the cluster by the latency
  model; with no model, or no size to scale from, `runtime_s` is used as-is at every size. Without
  `runtime_s` the latency model predicts it from (template, cluster shape, size).
- **Pool**: the initial clusters are ready at time 0; a requested cluster is ready
  `spin_up_delay_s` later (a new Serverless workgroup or provisioned cluster takes minutes).
  Scheduled spin-ups request a cluster at `at_s`; with `lifetime_s` it drains that long after it
  is ready (no new queries; removed once empty). The reactive autoscaler (queue_depth trigger)
  requests its cluster once the pool's waiting queries have stayed at or above `threshold` for
  `window_s`, one at a time (it waits for a requested cluster to be ready) and never beyond
  `max_clusters`; clusters it added (and scheduled ones without a lifetime) are removed after
  `idle_teardown_s` idle, but not before `min_lifetime_s`. Initial clusters stay to the end.
  (The `predicted_violations` trigger is not modelled yet and is refused by name.)
- **Short query acceleration** (provisioned): a query whose isolated runtime on the cluster is
  at most the SQA limit (`max_execution_time`; 0 = dynamic, simulated as 5 s) goes to a
  separate SQA queue with `simulated_slots` slots instead of its WLM queue (a perfect runtime
  prediction; Redshift predicts it with a model).
- **Concurrency scaling** (provisioned): a cluster with `max_concurrency_scaling_clusters` m > 0
  has m burst clusters of its own shape. When a query arrives at a full queue whose
  `concurrency_scaling` is `auto`, it runs on a burst cluster with a free slot of that queue;
  a burst cluster's freed slot takes the next query waiting in its main cluster's queue. Burst
  clusters start at once (Redshift's take seconds) and have their own contention.
- **Admission** per cluster. Provisioned: manual WLM queues, each with `query_concurrency` slots,
  FIFO within a queue; a query goes to the first queue whose `user_group` or `query_group` matches
  (wildcards with `*_wild_card: 1`), else to the default (last) queue, as Redshift routes by user
  group or `SET query_group`. A queue's `max_execution_time` (ms) is the WLM timeout: a query
  running that long ends with status `timeout`. Serverless: one queue with `max_concurrency` slots
  (unlimited if unset) and `max_query_execution_time` (s) as the timeout.
- **Contention**: `none` (a running query takes its isolated runtime) or `processor_sharing` with
  capacity c: with k queries running on a cluster (across all its queues) each progresses at
  min(1, c/k) of its isolated speed.
- **Router** (at arrival, among ready clusters that are not draining; a queued query stays on its
  cluster, as it would inside a workgroup's queue): `round_robin` over the clusters in order;
  `least_loaded` picks the fewest queries running or queued per slot; `predicted_latency` the
  earliest predicted finish (isolated work ahead in its queue over the queue's slots, plus its
  own runtime slowed by processor sharing). Ties: lowest index. The policies are plain functions
  in `autoslo.policies`, shared with the live replay.
- **Billing** (`autoslo.sim.billing`): Serverless busy periods with the 60 s minimum; provisioned
  node-hours from ready to removed (or the end of the run); concurrency scaling per second of
  busy time at the main cluster's rate, after the free credit the main cluster earned (one hour
  per 24 h it ran, up to `concurrency_scaling_max_free_s`).
- **Determinism**: same inputs, same outputs; ties are broken by (time, event kind, sequence):
  completions, then clusters becoming ready, drains, teardowns, scheduled spin-ups, the
  autoscaler and arrivals; lower cluster index first, then the earlier-started query.

`simulate(workload, config)` returns a `SimResult` with the tables of DESIGN.md.
"""

from __future__ import annotations

from autoslo.sim._prepare import Prepared, prepare
from autoslo.sim._result import SIMULATOR_VERSION, STATUS_NAMES, SimResult
from autoslo.sim._simulate import ORIGINS, ClusterLives, Outcome, simulate, simulate_outcome, tabulate

__all__ = ["ORIGINS", "SIMULATOR_VERSION", "STATUS_NAMES", "ClusterLives", "Outcome", "Prepared",
           "SimResult", "prepare", "simulate", "simulate_outcome", "tabulate"]
