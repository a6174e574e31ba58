"""Open-loop replay of a workload on live clusters, in real time, with the simulator's policies.

The pool's state and every decision belong to `autoslo.live.controller.PoolController`, the
simulator's state machine driven by explicit events (it calls the same `autoslo.policies`, in the
engine's order of events). This module is the I/O around it: the clock, the threads that run
queries on connections and start and stop clusters, and the loop that feeds the controller what
happened (completions, clusters ready or lost) and what is due (arrivals at their offsets, however
slow the clusters are; drains, teardowns, spin-ups, the autoscaler), and carries out its
decisions. A query waits in its cluster's client-side WLM queue when the target cannot enforce
WLM itself (PostgreSQL). The queue of each query (user/query groups, short query acceleration)
comes from `autoslo.sim.prepare`, so routing inputs are identical in both.

On the postgres target a requested cluster becomes ready no earlier than the config's
`spin_up_delay_s` (local servers start in a second; Redshift's take minutes, which the config
states). Stopping (SIGINT/SIGTERM via `stop`) aborts what has not finished; the caller tears down.
With a `checkpoint` callback the loop hands it the results so far every `checkpoint_every_s` (as
if the replay ended then), so a run killed outright (SIGKILL) still leaves what it recorded.
"""

from __future__ import annotations

import queue as queues
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoslo.live.controller import MAX_CLIENT_SLOTS, Decision, PoolController, Request, Start
from autoslo.live.target import ClusterSpec, Driver, Endpoint, Provisioner, QueryOutcome
from autoslo.policies import REMOVED
from autoslo.sim import Prepared


@dataclass
class ReplayResult:
    """Per-query arrays (workload row order) and cluster lives, ready for `autoslo.sim.tabulate`."""

    start: np.ndarray
    end: np.ndarray
    status: np.ndarray
    cluster: np.ndarray
    queue: np.ndarray
    lives: dict[str, np.ndarray]
    errors: list[tuple[int, str, str]]    # (row, status, error text)
    complete: bool
    dispatch_lag_s: np.ndarray            # how late each query was sent after its arrival offset
    wall_s: float
    started: np.ndarray                   # whether each query began running before the end


class Replay:
    """One replay; `run()` blocks until every query ended or `stop` was set."""

    def __init__(self, prepared: Prepared, sql_of: Callable[[int], str], query_ids: np.ndarray,
                 provisioner: Provisioner, driver: Driver, *, run_tag: str,
                 emulate_spin_up_delay: bool, stop: threading.Event | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 checkpoint: Callable[[ReplayResult], None] | None = None,
                 checkpoint_every_s: float = 1.0) -> None:
        self.p = prepared
        self.sql_of = sql_of
        self.query_ids = query_ids
        self.provisioner = provisioner
        self.driver = driver
        self.run_tag = run_tag
        self.emulate_delay = emulate_spin_up_delay
        self.stop = stop or threading.Event()
        self.progress = progress
        self.checkpoint = checkpoint
        self.checkpoint_every_s = checkpoint_every_s
        self.next_checkpoint = 0.0
        self.ctl = PoolController(prepared, [warehouse_enforces(spec, driver) for spec in prepared.specs])
        self.endpoint: dict[int, Endpoint] = {}
        self.idle_connections: dict[int, list[Any]] = {}
        self.events: queues.Queue[tuple[Any, ...]] = queues.Queue()
        slots_total = int(sum(min(int(s), MAX_CLIENT_SLOTS) for s in prepared.q_slots))
        self.pool = ThreadPoolExecutor(max_workers=max(4, min(256, slots_total * 4)),
                                       thread_name_prefix="autoslo-query")
        self.t0 = 0.0
        self.removals: list[threading.Thread] = []

    # ---- clock ------------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    # ---- carrying out the controller's decisions -------------------------------------------
    def _carry_out(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Start):
                self._start(decision)
            elif isinstance(decision, Request):
                self._provision(decision.cluster)
            else:
                self._remove(decision.cluster)

    def _start(self, decision: Start) -> None:
        """Send a query to a worker thread, on an idle connection of its cluster if there is one."""
        idle = self.idle_connections.get(decision.cluster)
        connection = idle.pop() if idle else None
        endpoint = self.endpoint[decision.cluster]
        self.pool.submit(self._execute, decision.cluster, endpoint, connection, decision.query,
                         decision.timeout_s)

    def _provision(self, c: int) -> None:
        """Start a cluster in a thread; the loop hears 'ready' (or 'lost') when it is up."""
        cluster = self.ctl.clusters[c]

        def work() -> None:
            try:
                endpoint = self.provisioner.start(self.p.specs[cluster.spec], f"c{c}")
            except Exception as exc:  # reported to the loop, not lost
                self.events.put(("lost", c, f"{type(exc).__name__}: {exc}"))
                return
            not_before = cluster.requested + self.p.spin_up_delay_s if self.emulate_delay else 0.0
            wait = not_before - self.now()
            if wait > 0:
                self.stop.wait(wait)
            self.events.put(("ready", c, endpoint))
        threading.Thread(target=work, name=f"autoslo-provision-{c}", daemon=True).start()

    def _remove(self, c: int) -> None:
        """Close the cluster's idle connections and stop it, in a thread."""
        connections = self.idle_connections.pop(c, [])
        endpoint = self.endpoint.get(c)

        def work() -> None:
            for connection in connections:
                self.driver.close(connection)
            if endpoint is not None:
                self.provisioner.stop(endpoint)
        thread = threading.Thread(target=work, name=f"autoslo-remove-{c}", daemon=True)
        thread.start()
        self.removals.append(thread)

    # ---- queries ----------------------------------------------------------------------------
    def _execute(self, c: int, endpoint: Endpoint, connection: Any, j: int,
                 timeout_s: float | None) -> None:
        """Worker thread: run one query (retry once on a dropped connection), report to the loop."""
        tag = f"autoslo run={self.run_tag} query_id={int(self.query_ids[j])}"
        outcome: QueryOutcome | None = None
        for attempt in range(2):
            try:
                if connection is None:
                    connection = self.driver.connect(endpoint)
                outcome = self.driver.run(connection, self.sql_of(j), tag=tag, timeout_s=timeout_s)
                if attempt:
                    outcome = QueryOutcome(outcome.status, outcome.error, retried=True)
                break
            except Exception as exc:  # dropped connection: retry once, then record
                if connection is not None:
                    self.driver.close(connection)
                connection = None
                outcome = QueryOutcome("failed", f"{type(exc).__name__}: {exc}"[:300],
                                       retried=attempt == 1)
                if self.stop.is_set():
                    break
        self.events.put(("done", c, j, self.now(), outcome, connection))

    def _finish(self, c: int, j: int, t: float, outcome: QueryOutcome, connection: Any) -> None:
        """A worker reported query j: keep its connection for the cluster's next query, tell the
        controller (which may start the next one or remove the cluster)."""
        if connection is not None:
            if self.ctl.clusters[c].state == REMOVED:
                self.driver.close(connection)
            else:
                self.idle_connections.setdefault(c, []).append(connection)
        error = outcome.error and outcome.error + (
            " (after one retry on a new connection)" if outcome.retried else "")
        done = self.ctl.done
        decisions = self.ctl.complete(c, j, t, outcome.status, error)
        if self.progress is not None and self.ctl.done > done:
            self.progress(self.ctl.done, self.ctl.n)
        self._carry_out(decisions)

    def _ready(self, c: int, t: float, endpoint: Endpoint) -> None:
        self.endpoint[c] = endpoint
        self._carry_out(self.ctl.discard(c, t) if self.stop.is_set() else self.ctl.ready(c, t))

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> ReplayResult:
        p = self.p
        ctl = self.ctl
        initial = list(ctl.clusters)
        try:
            endpoints = list(self.pool.map(
                lambda c: self.provisioner.start(p.specs[c.spec], f"c{c.index}"), initial))
        except BaseException:
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        for cluster, endpoint in zip(initial, endpoints, strict=True):
            self.endpoint[cluster.index] = endpoint
        ctl.warm_up()
        if self.checkpoint is not None:  # the first one compiles the tabulation (seconds when
            self.t0 = time.monotonic()   # numba's cache is cold): before the clock starts
            self.checkpoint(self.snapshot())
        began = time.monotonic()
        self.t0 = began
        held: tuple[Any, ...] | None = None
        while True:
            while True:  # notifications from workers and provisioners, in arrival order
                if held is not None:
                    event, held = held, None
                else:
                    try:
                        event = self.events.get_nowait()
                    except queues.Empty:
                        break
                if event[0] == "done":
                    self._finish(event[1], event[2], event[3], event[4], event[5])
                elif event[0] == "ready":
                    self._ready(event[1], self.now(), event[2])
                else:
                    self._carry_out(ctl.lost(event[1], self.now(), event[2]))
            if self.stop.is_set():
                break
            self._carry_out(ctl.advance(self.now()))  # drains, teardowns, spin-ups, arrivals
            if ctl.finished:
                break
            if self.checkpoint is not None and self.now() >= self.next_checkpoint:
                self._checkpoint()
            wait = max(0.0, min(ctl.next_due() - self.now(), 0.25))
            if wait > 0:
                try:
                    held = self.events.get(timeout=wait)  # handled at the top of the loop
                except queues.Empty:
                    held = None
        return self._wrap_up(time.monotonic() - began)

    def _checkpoint(self) -> None:
        """Hand the results so far to the checkpoint callback; the next one comes after
        `checkpoint_every_s`, or later if writing took long (at most 10 % of the loop's time)."""
        assert self.checkpoint is not None
        began = self.now()
        self.checkpoint(self.snapshot())
        took = self.now() - began
        self.next_checkpoint = self.now() + max(self.checkpoint_every_s, 9 * took)

    def snapshot(self) -> ReplayResult:
        """The results as if the replay ended now (unfinished queries aborted); nothing changes."""
        ctl = self.ctl
        t = self.now()
        start, end, status, cluster = ctl.ended_at(t)
        return ReplayResult(start, end, status, cluster, ctl.queue.copy(), ctl.lives(t),
                            list(ctl.errors), False, ctl.lag.copy(), t, ~np.isnan(ctl.start))

    def _wrap_up(self, wall_s: float) -> ReplayResult:
        """Abort what did not finish, close connections and lay out the result arrays."""
        ctl = self.ctl
        t = self.now()
        complete = not self.stop.is_set()
        started = ~np.isnan(ctl.start)
        ctl.abort_unfinished(t)
        self.pool.shutdown(wait=complete, cancel_futures=True)
        for thread in self.removals:
            thread.join(timeout=60)
        for connections in self.idle_connections.values():
            for connection in connections:
                self.driver.close(connection)
        self.idle_connections = {}
        return ReplayResult(ctl.start, ctl.end, ctl.status, ctl.cluster, ctl.queue, ctl.lives(t),
                            ctl.errors, complete, ctl.lag, wall_s, started)

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint this replay started that has not been handed to a removal yet."""
        return [endpoint for c, endpoint in self.endpoint.items()
                if self.ctl.clusters[c].state != REMOVED]


def warehouse_enforces(spec: ClusterSpec, driver: Driver) -> bool:
    """Redshift enforces WLM queues; a Serverless concurrency cap is the client's to keep."""
    return driver.enforces_wlm and not (
        spec.kind == "serverless" and getattr(spec, "max_concurrency", None) is not None)
