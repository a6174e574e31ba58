"""A heavy-concurrency live target, chosen by measurement (issue 16, item 4).

How far is the best processor-sharing capacity from a live replay? For each target:

1. calibrate isolated runtimes on one cluster (each template alone, repeated after a warm-up:
   `autoslo execute --calibrate`'s code);
2. replay one open-loop Poisson workload at offered load `--load` (sum of isolated work / span)
   on one cluster through `execute_live`;
3. simulate the same workload with processor sharing at a grid of capacities and print, for the
   best capacity, the per-query median |log(sim/live)| and the p50 / p90 relative error.

DuckDB clusters get `memory_limit` and `threads` from their size (autoslo/live/duckdb.py: 32 MB and
1/8 thread per RPU), so `--rpu` sets how tight memory is. `--postgres-scale-factor` adds the light
PostgreSQL case side by side. The replayed workload (with each query's isolated `runtime_s`), the
live results (queries.parquet), the isolated runtimes and the figures go to `--out/<target>/`.

    .venv/bin/python benchmarks/heavy_target.py [--out /work/scratch/heavy] [--scale-factor 3]
        [--rpu 8] [--queries 300] [--load 0.95] [--mix heavy] [--postgres-scale-factor 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.combinations import resolve_combination  # noqa: E402
from autoslo.config import WorkloadMeta  # noqa: E402
from autoslo.config.execution import ProcessorSharing  # noqa: E402
from autoslo.config.manifests import ConfigFile, LiveSettings  # noqa: E402
from autoslo.config.workload import WorkloadSource  # noqa: E402
from autoslo.datatree import DataTree  # noqa: E402
from autoslo.live.calibrate import run_calibration  # noqa: E402
from autoslo.live.run import execute_live  # noqa: E402
from autoslo.sim import simulate  # noqa: E402
from autoslo.workload import load_workload, save_workload  # noqa: E402

# template mixes: heavy = large joins and aggregations (q09, q18, q21, q13) with light scans
MIXES = {
    "heavy": {"q09": 2, "q18": 2, "q21": 2, "q13": 2, "q01": 1, "q06": 3, "q14": 3, "q03": 2,
              "q12": 2, "q19": 1},
    "all": {f"q{i:02d}": 1 for i in range(1, 23)},
    # the light PostgreSQL case (benchmarks/fidelity.py's templates, which run in under a second)
    "fidelity": {t: 1 for t in ["q01", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10",
                                "q12", "q13", "q14", "q18", "q19"]},
}
CAPACITIES = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0]


def data_tree(out: Path) -> DataTree:
    """The shipped inputs copied once under `out/data` (its cached databases are kept)."""
    root = out / "data"
    if not (root / "prices").is_dir():
        shutil.copytree(REPO / "data", root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            "simulator_runs", "runs", "tuner_runs", "plots", "tuned", "data"))
    return DataTree(root)


def write_config(tree: DataTree, name: str, cluster: dict[str, Any]) -> Path:
    path = tree.root / "execution_configs" / "heavy" / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"pool": {"clusters": [cluster]},
                                    "prices": "prices/aws-us-east-1.yml"}))
    return path


def make_workload(tree: DataTree, name: str, isolated: dict[str, float], mix: dict[str, int],
                  queries: int, load: float, seed: int) -> Path:
    """Poisson arrivals with templates drawn by `mix` weight; rate set so work / span = load."""
    rng = np.random.default_rng(seed)
    names = [t for t in mix if t in isolated]
    weights = np.array([mix[t] for t in names], float)
    templates = rng.choice(names, queries, p=weights / weights.sum())
    runtime = np.array([isolated[t] for t in templates])
    gaps = rng.exponential(1.0, queries)
    arrival = np.cumsum(gaps) - gaps[0]
    span = runtime.sum() / load
    arrival *= span / (arrival[-1] + gaps.mean())
    frame = pl.DataFrame({"query_id": np.arange(queries), "arrival_s": arrival,
                          "template_id": templates, "runtime_s": runtime})
    meta = WorkloadMeta(name=name, parameters={"seed": seed, "load": load, "queries": queries},
                        start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), queries=queries,
                        source=WorkloadSource(kind="generated", details={"suite": "tpch"}))
    return save_workload(tree, frame, meta)


def errors(sim: pl.DataFrame, live: pl.DataFrame) -> dict[str, float]:
    """Per-query median |log(sim/live)| and p50 / p90 |sim - live| / live over queries ok live."""
    joined = live.filter(pl.col("status") == "ok").select("query_id", pl.col("latency_s").alias("live")) \
        .join(sim.select("query_id", pl.col("latency_s").alias("sim")), on="query_id")
    ratio = (joined["sim"].to_numpy() + 1e-6) / (joined["live"].to_numpy() + 1e-6)
    relative = np.abs(ratio - 1.0)
    return {"median_abs_log": float(np.median(np.abs(np.log(ratio)))),
            "rel_p50": float(np.quantile(relative, 0.5)), "rel_p90": float(np.quantile(relative, 0.9))}


def measure(target: str, args: argparse.Namespace, tree: DataTree, out: Path) -> dict[str, Any]:
    """Calibrate, replay, simulate on a capacity grid; save the tables; return the figures."""
    scale = args.scale_factor if target == "duckdb" else args.postgres_scale_factor
    mix = MIXES[args.mix if target == "duckdb" else args.postgres_mix]
    settings = LiveSettings(target=target, scale_factor=scale, suite="tpch")  # type: ignore[arg-type]
    cluster: dict[str, Any] = {"kind": "serverless", "rpu": args.rpu}
    if args.max_concurrency:
        cluster["max_concurrency"] = args.max_concurrency
    config = write_config(tree, target, cluster)
    began, load_at_start = time.perf_counter(), os.getloadavg()
    print(f"[{target}] calibrating {len(mix)} templates at scale factor {scale:g} "
          f"({args.repeats} repeats after a warm-up) ...", flush=True)
    model = run_calibration(config, "tpch", tree, sizes=[args.rpu], repeats=args.repeats,
                            templates=list(mix), settings=settings, name=f"heavy-{target}")
    runtimes = pl.read_csv(model / "runtimes.csv")
    calibration = yaml.safe_load((model / "calibration.yml").read_text())
    isolated = dict(runtimes.group_by("template_id").agg(pl.col("runtime_s").median()).iter_rows())
    print(f"[{target}] isolated median s: " + ", ".join(f"{t} {isolated[t]:.3f}" for t in sorted(isolated))
          + f"; calibrated capacity {calibration['capacity']} ({calibration['capacity_template']}: "
          f"{calibration['capacity_mean_runtime_s']})", flush=True)
    load = args.load
    if getattr(args, "utilization", None):  # a share of the capacity calibration measured
        load = round(args.utilization * float(calibration["capacity"]), 3)
    folder = make_workload(tree, f"heavy-{target}", isolated, mix, args.queries, load, args.seed)
    workload = load_workload(folder)
    span = float(workload.queries["arrival_s"].max())
    print(f"[{target}] replaying {args.queries} queries over {span:.0f} s (offered load "
          f"{workload.queries['runtime_s'].sum() / span:.2f}) ...", flush=True)
    combination = resolve_combination(tree.relative(folder),
                                      ConfigFile(path=f"execution_configs/heavy/{target}.yml"), tree)
    live = execute_live(combination, settings, tree)
    live_queries = pl.read_parquet(live.folder / "queries.parquet")
    base = combination.config.config
    grid = {}
    for capacity in CAPACITIES:
        shared = base.model_copy(update={"contention": ProcessorSharing(model="processor_sharing",
                                                                        capacity=capacity)})
        grid[capacity] = errors(simulate(workload, shared, None).queries, live_queries)
    best = min(grid, key=lambda c: grid[c]["median_abs_log"])
    statuses = dict(live_queries["status"].value_counts().iter_rows())
    figures = {"target": target, "scale_factor": scale, "rpu": args.rpu, "mix": list(mix),
               "max_concurrency": args.max_concurrency, "queries": args.queries,
               "offered_load": round(float(workload.queries["runtime_s"].sum() / span), 3),
               "statuses": statuses, "best_capacity": best, **grid[best],
               "grid": {c: round(v["median_abs_log"], 4) for c, v in grid.items()},
               "live_latency_p50_s": float(live_queries["latency_s"].median()),
               "live_wall_s": live.summary["wall_s"], "total_s": round(time.perf_counter() - began, 1),
               "live_run": str(live.folder),
               "load_average": {"start": [round(x, 2) for x in load_at_start],
                                "end": [round(x, 2) for x in os.getloadavg()]}}
    keep = out / target
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / "queries.parquet", keep / "workload.parquet")
    shutil.copy(folder / "workload.yml", keep / "workload.yml")
    live_queries.write_parquet(keep / "queries.parquet")
    shutil.copy(model / "runtimes.csv", keep / "isolated_runtimes.csv")
    shutil.copy(model / "calibration.yml", keep / "calibration.yml")
    (keep / "figures.yml").write_text(yaml.safe_dump(figures, sort_keys=False))
    print(f"[{target}] statuses {statuses}; |log| by capacity: "
          + ", ".join(f"{c:g}: {v['median_abs_log']:.3f}" for c, v in grid.items()), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/work/scratch/heavy"))
    parser.add_argument("--scale-factor", type=float, default=3.0, help="duckdb: TPC-H scale")
    parser.add_argument("--rpu", type=int, default=8, help="the cluster's size (duckdb: 32 MB per RPU)")
    parser.add_argument("--max-concurrency", type=int, default=None, help="client-side cap (none)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="heavy")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--load", type=float, default=0.95,
                        help="offered load: isolated work per second")
    parser.add_argument("--utilization", type=float, default=None,
                        help="instead of --load: this share of the calibrated capacity")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-scale-factor", type=float, default=None,
                        help="also run the light PostgreSQL case at this scale")
    parser.add_argument("--postgres-mix", choices=sorted(MIXES), default="fidelity")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny data and workload")
    args = parser.parse_args()
    if args.smoke:
        args.scale_factor, args.queries, args.repeats = 0.05, 40, 1
        if args.postgres_scale_factor:
            args.postgres_scale_factor = 0.01
    print(f"load average at start {os.getloadavg()}", flush=True)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    tree = data_tree(out)
    results = [] if args.skip_duckdb else [measure("duckdb", args, tree, out)]
    if args.postgres_scale_factor:
        results.append(measure("postgres", args, tree, out))
    print()
    print(f"{'target':<10}{'sf':>5}{'rpu':>5}{'load':>6}{'best c':>8}{'med|log|':>10}{'rel p50':>9}"
          f"{'rel p90':>9}{'live p50 s':>11}{'failed':>8}")
    for f in results:
        failed = sum(v for k, v in f["statuses"].items() if k != "ok")
        print(f"{f['target']:<10}{f['scale_factor']:>5g}{f['rpu']:>5}{f['offered_load']:>6.2f}"
              f"{f['best_capacity']:>8g}{f['median_abs_log']:>10.3f}{f['rel_p50']:>9.1%}"
              f"{f['rel_p90']:>9.1%}{f['live_latency_p50_s']:>11.3f}{failed:>8}")
    print(f"load average at end {os.getloadavg()}; tables in {out}/<target>/")


if __name__ == "__main__":
    main()
