"""Simulator fidelity against live PostgreSQL (issue 6's benchmark).

1. Calibrate on a local PostgreSQL cluster with TPC-H: each template alone (warm, repeated) and
   the processor-sharing capacity (k copies at once); this is `autoslo execute --calibrate`.
2. Replay one Poisson workload of a few hundred TPC-H queries live on one cluster with a
   concurrency cap, so that queueing happens; parallel query workers are off.
3. Simulate the same (workload, config) with the calibrated table and processor sharing at the
   calibrated capacity.
4. Print p50 / p95 / p99 latency and the violation rate of a kappa=3 SLO (isolated latency from
   the calibration) for both, and their relative errors. Targets: p50 and p95 within 25 %,
   violation rate within 0.05 absolute.

Local clusters share this machine's two cores with everything else that runs, so live timings
carry that noise; the figures are for one run.

    .venv/bin/python benchmarks/fidelity.py [--smoke] [--scale-factor 0.1] [--queries 600]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.combinations import resolve_combination  # noqa: E402
from autoslo.config import SloSpec, WorkloadMeta  # noqa: E402
from autoslo.config.manifests import ConfigFile, LiveSettings  # noqa: E402
from autoslo.config.workload import WorkloadSource  # noqa: E402
from autoslo.datatree import DataTree  # noqa: E402
from autoslo.live.calibrate import run_calibration  # noqa: E402
from autoslo.live.run import execute_live  # noqa: E402
from autoslo.perf import load_latency_model  # noqa: E402
from autoslo.sim import simulate  # noqa: E402
from autoslo.slo import reference_latencies, score  # noqa: E402
from autoslo.workload import load_workload, save_workload  # noqa: E402

# templates that run in about 0.03-0.7 s at scale factor 0.1 (q17 and q20 take tens of seconds)
TEMPLATES = ["q01", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10", "q12", "q13", "q14",
             "q18", "q19"]
SLO = {"tau": 0.1, "reference": {"kind": "serverless", "rpu": 8}, "default": {"kappa": 3}}


def make_workload(tree: DataTree, queries: int, rate_per_s: float, seed: int) -> Path:
    """Poisson arrivals, templates drawn uniformly (seeded)."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate_per_s, queries))
    frame = pl.DataFrame({"query_id": np.arange(queries), "arrival_s": arrival - arrival[0],
                          "template_id": rng.choice(TEMPLATES, queries)})
    meta = WorkloadMeta(name="fidelity", parameters={"seed": seed, "rate": rate_per_s},
                        start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), queries=queries,
                        source=WorkloadSource(kind="generated", details={"suite": "tpch"}))
    return save_workload(tree, frame, meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data and workload (CI)")
    parser.add_argument("--scale-factor", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--slots", type=int, default=4, help="the cluster's concurrency cap")
    parser.add_argument("--load", type=float, default=0.8,
                        help="arrival rate as a share of the calibrated service rate")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the data tree (printed)")
    args = parser.parse_args()
    if args.smoke:
        args.scale_factor, args.queries = 0.01, 60
    root = Path(tempfile.mkdtemp(prefix="autoslo-fidelity-"))
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns(
        "simulator_runs", "runs", "tuner_runs", "plots", "tuned"))
    tree = DataTree(root / "data")
    settings = LiveSettings(scale_factor=args.scale_factor)
    config_path = tree.root / "execution_configs" / "fidelity" / "one-cluster.yml"
    config_path.parent.mkdir(parents=True)
    base = {"pool": {"clusters": [{"kind": "serverless", "rpu": 8, "max_concurrency": args.slots}]},
            "prices": "prices/aws-us-east-1.yml"}
    config_path.write_text(yaml.safe_dump(base))

    print(f"calibrating {len(TEMPLATES)} TPC-H templates at scale factor {args.scale_factor:g} "
          "on a local PostgreSQL cluster ...", flush=True)
    folder = run_calibration(config_path, "tpch", tree, sizes=[8], repeats=3, templates=TEMPLATES,
                             settings=settings, name="fidelity-calibrated")
    calibration = yaml.safe_load((folder / "calibration.yml").read_text())
    capacity = float(calibration["capacity"])
    model = load_latency_model("models/fidelity-calibrated", tree)
    assert model is not None
    isolated = model.predict(TEMPLATES, "serverless", 8)
    service_rate = min(capacity, args.slots) / float(np.mean(isolated))
    rate = args.load * service_rate
    print(f"capacity {capacity:g} concurrent queries (probe {calibration['capacity_template']}); "
          f"mean isolated runtime {np.mean(isolated):.3f} s; arrival rate {rate:.2f}/s "
          f"({args.load:.0%} of the service rate)", flush=True)

    config_path.write_text(yaml.safe_dump({
        **base, "latency_model": {"model": "models/fidelity-calibrated"},
        "contention": {"model": "processor_sharing", "capacity": capacity}}))
    folder = make_workload(tree, args.queries, round(rate, 3), args.seed)
    combination = resolve_combination(tree.relative(folder),
                                      ConfigFile(path="execution_configs/fidelity/one-cluster.yml"),
                                      tree)
    print(f"replaying {args.queries} queries live ({args.queries / rate:.0f} s of arrivals) ...",
          flush=True)
    live = execute_live(combination, settings, tree)
    live_queries = pl.read_parquet(live.folder / "queries.parquet")
    workload = load_workload(combination.workload_path)
    simulated = simulate(workload, combination.config.config, model).queries

    spec = SloSpec.model_validate(SLO)
    reference = reference_latencies(workload, spec, model)
    rows = []
    for name, frame in (("simulator", simulated), ("live", live_queries)):
        scored = score(frame, spec, reference)
        p50, p95, p99 = np.quantile(frame["latency_s"].to_numpy(), [0.5, 0.95, 0.99])
        rows.append((name, p50, p95, p99, scored.violation_rate,
                     float(frame["queue_s"].gt(0.001).mean())))
    print()
    print(f"{'':<11}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'violation':>11}{'queued':>9}")
    for name, p50, p95, p99, violation, queued in rows:
        print(f"{name:<11}{p50:>9.3f}{p95:>9.3f}{p99:>9.3f}{violation:>11.3f}{queued:>9.1%}")
    sim, real = rows[0], rows[1]
    errors = [(sim[i] - real[i]) / real[i] for i in (1, 2, 3)]
    violation_gap = abs(sim[4] - real[4])
    print(f"{'rel. error':<11}" + "".join(f"{e:>+9.1%}" for e in errors)
          + f"{violation_gap:>+11.3f} (absolute)")
    met = abs(errors[0]) <= 0.25 and abs(errors[1]) <= 0.25 and violation_gap <= 0.05
    print(f"targets (p50, p95 within 25 %, violation within 0.05): {'met' if met else 'MISSED'}; "
          f"live dispatch lag p99 {live.summary['dispatch_lag_s']['p99']} s, "
          f"{live.summary['status']} statuses")
    if args.keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
