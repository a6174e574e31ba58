"""The simulator: how a Redshift pool runs a workload, exactly and fast.

What it models (and the Redshift behaviour behind it):

- **Arrivals** come from the workload table (seconds from its start), sorted by
  (arrival_s, query_id); unsorted input is sorted, never rejected.
- **Isolated runtime** of a query on a cluster: its `runtime_s` when present, taken as measured at
  its `runtime_size` (or the workload's `reference` size) and scaled to the cluster by the latency
  model; with no model, or no size to scale from, `runtime_s` is used as-is at every size. Without
  `runtime_s` the latency model predicts it from (template, cluster shape, size).
- **Pool**: the config's initial clusters, ready at time 0 (steps 2-3 add autoscaling, scheduled
  spin-ups, short query acceleration and concurrency scaling; configs using them are refused by
  name until then).
- **Admission** per cluster. Provisioned: manual WLM queues, each with `query_concurrency` slots,
  FIFO within a queue; a query goes to the first queue whose `user_group` or `query_group` matches
  (wildcards with `*_wild_card: 1`), else to the default (last) queue, as Redshift routes by user
  group or `SET query_group`. A queue's `max_execution_time` (ms) is the WLM timeout: a query
  running that long ends with status `timeout`. Serverless: one queue with `max_concurrency` slots
  (unlimited if unset) and `max_query_execution_time` (s) as the timeout.
- **Contention**: `none` (a running query takes its isolated runtime) or `processor_sharing` with
  capacity c: with k queries running on a cluster (across all its queues) each progresses at
  min(1, c/k) of its isolated speed.
- **Router**: `round_robin` over the clusters in order; `least_loaded` picks the cluster with the
  fewest queries running or queued per slot (ties: lowest index).
- **Billing** (`autoslo.sim.billing`): Serverless busy periods with the 60 s minimum; provisioned
  node-hours for the whole run.
- **Determinism**: same inputs, same outputs; ties are broken by (time, event kind, sequence):
  completions before arrivals, lower cluster index first, then the earlier-started query.

`simulate(workload, config)` returns a `SimResult` with the tables of DESIGN.md.
"""

from __future__ import annotations

from autoslo.sim._result import SIMULATOR_VERSION, SimResult
from autoslo.sim._simulate import simulate

__all__ = ["SIMULATOR_VERSION", "SimResult", "simulate"]
