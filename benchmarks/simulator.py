"""Simulator speed, measured side by side in one run (issue 3's benchmark).

Cases (same generated workloads for every engine):
  wlm-static   one provisioned cluster, 3 manual WLM queues of 5/3/2 slots, no contention
  sls-ps-ll    two Serverless workgroups (cap 10), processor sharing (c=4), least-loaded routing
  sls-auto     the same plus a reactive autoscaler (up to 6 workgroups) and predicted-latency
               routing, on arrivals whose rate swings between 0.3x and 1.7x every two hours
For each: queries/s of the compiled kernel (fifo fast path where it applies, and the general
event loop), of `simulate()` end to end in memory, and of the readable reference (tests/), with
ratios. Then `autoslo simulate` end to end (read parquet, simulate, write) at 1e5 and 1e6 queries
against a plain SimPy M/M/c model: extra seconds per query between the two sizes, and peak memory.

    .venv/bin/python benchmarks/simulator.py [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.config import ExecutionConfig, PriceTable, load_model  # noqa: E402
from autoslo.sim import _engine, _fifo, simulate  # noqa: E402
from autoslo.sim._prepare import prepare  # noqa: E402
from autoslo.workload import Workload  # noqa: E402
from benchmarks._timing import median_wall_s  # noqa: E402
from tests.sim_reference import reference_simulate  # noqa: E402

PRICES = load_model(REPO / "data/prices/aws-us-east-1.yml", PriceTable).model_dump()
WLM = {"pool": {"clusters": [{
    "kind": "provisioned", "node_type": "ra3.xlplus", "nodes": 2,
    "max_concurrency_scaling_clusters": 0,
    "wlm": {"queues": [{"name": "a", "query_concurrency": 5, "query_group": ["a"]},
                       {"name": "b", "query_concurrency": 3, "query_group": ["b"]},
                       {"name": "default", "query_concurrency": 2}]}}]}}
SERVERLESS = {"pool": {"clusters": [{"kind": "serverless", "rpu": 8, "max_concurrency": 10}] * 2},
              "router": {"policy": "least_loaded"},
              "contention": {"model": "processor_sharing", "capacity": 4}}
AUTOSCALED = {"pool": {"clusters": [{"kind": "serverless", "rpu": 8, "max_concurrency": 10}] * 2,
                       "max_clusters": 6, "spin_up_delay_s": 120},
              "router": {"policy": "predicted_latency"},
              "autoscaler": {"policy": "reactive", "threshold": 5, "window_s": 30,
                             "cluster": {"kind": "serverless", "rpu": 16, "max_concurrency": 10},
                             "min_lifetime_s": 300, "idle_teardown_s": 60},
              "contention": {"model": "processor_sharing", "capacity": 4}}


def workload(n: int, lam: float, seed: int = 1, swing: bool = False) -> Workload:
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / lam, n)
    if swing:  # time-varying rate: stretch gaps by 1 / (1 + 0.7 sin(2 pi t / 2 h))
        t = np.cumsum(gaps)
        gaps = gaps / (1 + 0.7 * np.sin(2 * np.pi * t / 7200))
    return Workload(id=f"bench-{n}", queries=pl.DataFrame({
        "query_id": np.arange(n, dtype=np.int64),
        "arrival_s": np.cumsum(gaps),
        "template_id": ["t"] * n,
        "query_group": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        "runtime_s": rng.exponential(1.0, n),
    }))


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def kernel_rates(w: Workload, config: ExecutionConfig, repeats: int) -> dict[str, float]:
    p = prepare(w, config, None)
    n = p.arrival.shape[0]
    rates = {}
    if p.capacity == float("inf") and len(config.pool.clusters) == 1:
        cluster = np.zeros(n, np.int64)
        rates["fifo kernel"] = n / best_of(lambda: _fifo.fifo_queues(
            p.arrival, p.runtime, cluster, p.initial_specs, p.spec_shape, p.spec_qoff,
            p.q_slots, p.q_timeout, p.qmap), repeats)
    rates["event kernel"] = n / best_of(lambda: _engine.event_loop(*p.engine_args()), repeats)
    rates["simulate()"] = n / best_of(lambda: simulate(w, config), repeats)
    return rates


def reference_rate(w: Workload, config: ExecutionConfig, n: int) -> float:
    small = Workload(id="ref", queries=w.queries.head(n))
    p = prepare(small, config, None)
    return n / best_of(lambda: reference_simulate(p), 1)


SIMPY_MMC = """
import sys, time, numpy as np, simpy
n = int(sys.argv[1]); rng = np.random.default_rng(1)
arrival = np.cumsum(rng.exponential(1 / 8.0, n)); runtime = rng.exponential(1.0, n)
env = simpy.Environment(); server = simpy.Resource(env, capacity=10); done = []
def serve(i):
    with server.request() as slot:
        yield slot
        yield env.timeout(runtime[i])
        done.append(env.now)
def source():
    for i in range(n):
        yield env.timeout(arrival[i] - env.now)
        env.process(serve(i))
env.process(source()); env.run()
assert len(done) == n
"""


def timed_run(command: list[str], repeats: int) -> float:
    return median_wall_s(command, repeats, REPO)


def end_to_end(sizes: list[int], repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "wlm.yml"
        config.write_text(yaml.safe_dump({**WLM, "prices": PRICES}, sort_keys=False))
        cli = [sys.executable, "-m", "autoslo.cli", "--data-dir", str(REPO / "data"), "simulate"]
        times: dict[int, tuple[float, float]] = {}
        for n in sizes:
            path = folder / f"w{n}.parquet"
            workload(n, 8.0).queries.write_parquet(path)
            ours = timed_run([*cli, "--workload", str(path), "--config", str(config),
                              "--out", str(folder / f"out{n}")], repeats)
            peer = timed_run([sys.executable, "-c", SIMPY_MMC, str(n)], max(1, repeats // 2))
            times[n] = (ours, peer)
            print(f"  n={n:>9,}: autoslo simulate {ours:7.2f} s   SimPy M/M/c {peer:7.2f} s "
                  f"(medians of {repeats} and {max(1, repeats // 2)} runs)")
        small, large = sizes
        ours_extra = (times[large][0] - times[small][0]) / (large - small)
        peer_extra = (times[large][1] - times[small][1]) / (large - small)
        print(f"  extra time per query between {small:,} and {large:,}: autoslo "
              f"{ours_extra * 1e6:.3f} us, SimPy {peer_extra * 1e6:.3f} us -> SimPy/autoslo = "
              f"{peer_extra / ours_extra:.1f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory of the largest child process: {peak_mb:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    sizes = [10_000, 50_000] if args.smoke else [100_000, 1_000_000]
    ref_n = 2_000 if args.smoke else 20_000
    repeats = 1 if args.smoke else 3
    cases = {"wlm-static": (WLM, 8.0, False), "sls-ps-ll": (SERVERLESS, 6.4, False),
             "sls-auto": (AUTOSCALED, 6.4, True)}
    for config_dict, lam, swing in cases.values():  # compile (or load the numba cache) first
        warm = ExecutionConfig.model_validate({**config_dict, "prices": PRICES})
        simulate(workload(200, lam, swing=swing), warm)
        simulate(workload(200, lam, swing=swing), warm, engine="event")
    print(f"{'case':<12}{'n':>10}  {'engine':<14}{'queries/s':>14}{'x reference':>14}")
    for name, (config_dict, lam, swing) in cases.items():
        config = ExecutionConfig.model_validate({**config_dict, "prices": PRICES})
        ref = reference_rate(workload(ref_n, lam, swing=swing), config, ref_n)
        for n in sizes:
            w = workload(n, lam, swing=swing)
            for engine, rate in kernel_rates(w, config, repeats).items():
                print(f"{name:<12}{n:>10,}  {engine:<14}{rate:>14,.0f}{rate / ref:>14,.0f}")
            if name == "sls-auto":
                clusters = simulate(w, config).clusters
                print(f"{'':<12}{'':>10}  ({clusters.height} cluster lives, "
                      f"{(clusters['origin'] == 'autoscaler').sum()} added by the autoscaler)")
        print(f"{name:<12}{ref_n:>10,}  {'reference':<14}{ref:>14,.0f}{1:>14,.0f}")
    print("end to end (wlm-static through `autoslo simulate`, vs SimPy M/M/10 at the same load):")
    end_to_end(sizes, 1 if args.smoke else 5)


if __name__ == "__main__":
    main()
