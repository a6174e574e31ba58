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
  Short query acceleration and concurrency scaling are not modelled yet (step 3): configs
  using them are refused by name.
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
  node-hours from ready to removed (or the end of the run).
- **Determinism**: same inputs, same outputs; ties are broken by (time, event kind, sequence):
  completions, then clusters becoming ready, drains, teardowns, scheduled spin-ups, the
  autoscaler and arrivals; lower cluster index first, then the earlier-started query.

`simulate(workload, config)` returns a `SimResult` with the tables of DESIGN.md.
"""

from __future__ import annotations

from autoslo.sim._result import SIMULATOR_VERSION, SimResult
from autoslo.sim._simulate import simulate

__all__ = ["SIMULATOR_VERSION", "SimResult", "simulate"]
