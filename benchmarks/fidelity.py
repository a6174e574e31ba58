"""Simulator fidelity: a contention model fitted on the first 60 % of a run, scored on the rest.

For every case, a fitted sharing law (`autoslo model fit-contention`'s fit) and processor sharing at
its best capacity are both fitted on the first 60 % of the run's queries by arrival, then the whole
run is simulated with each and scored on the last 40 %: per-query median |log(sim/live)|, p50 and
p90 relative error, and the violation-rate error of an SLO of 3x each query's isolated latency.

Cases:
  redshift-serverless  the real 16-RPU workgroup log under data/redshift-serverless (149 queries)
  postgres-light       calibrate TPC-H on a local PostgreSQL cluster, replay a Poisson workload at
                       high load live on one cluster with a concurrency cap (skipped by --no-live)
  duckdb-heavy         calibrate and replay TPC-H SF 1 on the duckdb target (8 RPU = 256 MB, one
                       thread) at offered load 0.95 (benchmarks/heavy_target.py; --heavy-from reads
                       a saved one)
Then the engine's queries/s with the fitted law on the sls-ps-ll case of benchmarks/simulator.py,
against processor sharing on the same case. Local clusters share this machine's two cores with
everything else that runs, so the load average is printed at the start and the end.

    .venv/bin/python benchmarks/fidelity.py [--smoke] [--no-live] [--scale-factor 0.1] [--queries 600]
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
sys.path.insert(0, str(REPO / "benchmarks"))

from autoslo.combinations import resolve_combination  # noqa: E402
from autoslo.config import ExecutionConfig, PriceTable, WorkloadMeta, load_model  # noqa: E402
from autoslo.config.execution import SharingLaw  # noqa: E402
from autoslo.config.manifests import ConfigFile, LiveSettings  # noqa: E402
from autoslo.config.workload import WorkloadSource  # noqa: E402
from autoslo.datatree import DataTree  # noqa: E402
from autoslo.live.calibrate import run_calibration  # noqa: E402
from autoslo.live.run import execute_live  # noqa: E402
from autoslo.perf import load_latency_model  # noqa: E402
from autoslo.sim import _engine  # noqa: E402
from autoslo.sim._prepare import prepare  # noqa: E402
from autoslo.sim.fit import FitData, Replayer, fit_contention, law_summary, log_errors  # noqa: E402
from autoslo.workload import Workload, load_workload, save_workload  # noqa: E402

# templates that run in about 0.03-0.7 s at scale factor 0.1 (q17 and q20 take tens of seconds)
TEMPLATES = ["q01", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10", "q12", "q13", "q14",
             "q18", "q19"]
KAPPA = 3.0  # SLO: 3x each query's isolated latency
PRICES = load_model(REPO / "data/prices/aws-us-east-1.yml", PriceTable).model_dump()


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


def split_scores(name: str, workload: Workload, measured: np.ndarray, config: ExecutionConfig,
                 trials: int, seed: int) -> tuple[str, SharingLaw]:
    """Fit both laws on the first 60 % by arrival; score the last 40 %; one table row each."""
    n = workload.queries.height
    first = np.arange(n) < round(0.6 * n)
    data = FitData(workload, measured, np.isfinite(measured) & (measured > 0))
    fitted = fit_contention(data.restricted(first), config, trials=trials, seed=seed, bootstrap=0)
    replayer = Replayer(workload, config)
    isolated = workload.queries["runtime_s"].to_numpy()
    held = ~first & data.scored
    lines = []
    figures = {}
    for label, law in (("processor sharing", SharingLaw(
            capacity=fitted.fit["processor_sharing"]["capacity"])), ("fitted law", fitted.law)):
        sim = replayer.latency_s(law)[held]
        live = measured[held]
        figures[label] = (float(np.median(log_errors(sim, live))),
                          float(np.median(sim) / np.median(live) - 1),
                          float(np.quantile(sim, 0.9) / np.quantile(live, 0.9) - 1),
                          float(np.mean(sim > KAPPA * isolated[held])
                                - np.mean(live > KAPPA * isolated[held])))
        e = figures[label]
        lines.append(f"{name:<21}{label:<19}{int(held.sum()):>6}{e[0]:>11.3f}{e[1]:>+9.1%}"
                     f"{e[2]:>+9.1%}{e[3]:>+11.3f}")
    ps, new = figures["processor sharing"], figures["fitted law"]
    alone = held & ran_alone(workload.queries["arrival_s"].to_numpy(), measured)
    floor = float(np.median(log_errors(isolated[alone], measured[alone]))) if alone.any() else np.nan
    lines.append(f"{'':<21}{'ran alone (floor)':<19}{int(alone.sum()):>6}{floor:>11.3f}"
                 "   (held-out queries that overlapped no other: live vs their isolated runtime)")
    met = (new[0] <= min(0.30, ps[0] / 2) and abs(new[1]) <= 0.25 and abs(new[2]) <= 0.25
           and abs(new[3]) <= 0.05)
    lines.append(f"{'':<21}targets (median |log| <= min(0.30, PS/2) = {min(0.30, ps[0] / 2):.3f}, "
                 f"p50/p90 within 25 %, violation within 0.05): {'met' if met else 'MISSED'}")
    lines.append(f"{'':<21}fitted: {law_summary(fitted.law)}")
    return "\n".join(lines), fitted.law


def ran_alone(arrival: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Queries whose measured run overlapped no other query's (their error is no contention's)."""
    end = arrival + np.nan_to_num(measured, nan=0.0)
    order = np.argsort(arrival, kind="stable")
    a, e = arrival[order], end[order]
    before = np.concatenate([[False], np.maximum.accumulate(e)[:-1] > a[1:]])
    later_start = np.concatenate([a[1:], [np.inf]])
    after = later_start < e
    alone = np.empty(arrival.shape[0], bool)
    alone[order] = ~(before | after) & np.isfinite(measured[order])
    return alone


def redshift_case() -> tuple[Workload, np.ndarray, ExecutionConfig]:
    """The real 16-RPU workgroup: isolated p50 per template as runtime_s, the measured latency."""
    folder = REPO / "data" / "redshift-serverless"
    iso = pl.read_csv(folder / "tpcds-sf1000-isolated-16rpu.csv",
                      schema_overrides={"template_id": pl.String})
    log = pl.read_csv(folder / "live-16rpu-poisson0.2-workgroup0.csv",
                      schema_overrides={"template_id": pl.String, "variant": pl.String})
    log = log.with_columns(pl.col("query_id").str.strip_prefix("query_").cast(pl.Int64))
    frame = log.join(iso.select("template_id", pl.col("p50_s").alias("runtime_s")),
                     on="template_id").sort("arrival_s", "query_id")
    workload = Workload(id="redshift-serverless", queries=frame.select(
        "query_id", "arrival_s", "template_id", "runtime_s"))
    measured = (frame["finished_s"] - frame["arrival_s"]).to_numpy()
    config = ExecutionConfig.model_validate({
        "pool": {"clusters": [{"kind": "serverless", "rpu": 16}]},
        "contention": {"model": "processor_sharing", "capacity": 1.0}, "prices": PRICES})
    return workload, measured, config


def postgres_case(args: argparse.Namespace) -> tuple[Workload, np.ndarray, ExecutionConfig]:
    """Calibrate TPC-H on local PostgreSQL, replay a Poisson workload at high load live."""
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
    print(f"postgres-light: calibrating {len(TEMPLATES)} TPC-H templates at scale factor "
          f"{args.scale_factor:g} ...", flush=True)
    folder = run_calibration(config_path, "tpch", tree, sizes=[8], repeats=3, templates=TEMPLATES,
                             settings=settings, name="fidelity-calibrated")
    calibration = yaml.safe_load((folder / "calibration.yml").read_text())
    capacity = float(calibration["capacity"])
    model = load_latency_model("models/fidelity-calibrated", tree)
    if model is None:
        raise SystemExit("calibration wrote no model")
    isolated = dict(zip(TEMPLATES, model.predict(TEMPLATES, "serverless", 8), strict=True))
    rate = args.load * min(capacity, args.slots) / float(np.mean(list(isolated.values())))
    config_path.write_text(yaml.safe_dump({**base, "latency_model": {
        "model": "models/fidelity-calibrated"}}))
    folder = make_workload(tree, args.queries, round(rate, 3), args.seed)
    combination = resolve_combination(tree.relative(folder), ConfigFile(
        path="execution_configs/fidelity/one-cluster.yml"), tree)
    print(f"postgres-light: replaying {args.queries} queries live at {rate:.2f}/s "
          f"({args.load:.0%} of the calibrated service rate, capacity {capacity:.2f}) ...",
          flush=True)
    live = execute_live(combination, settings, tree)
    live_queries = pl.read_parquet(live.folder / "queries.parquet")
    workload = load_workload(combination.workload_path)
    frame = workload.queries.with_columns(pl.col("template_id").replace_strict(
        isolated, return_dtype=pl.Float64).alias("runtime_s"))
    workload = Workload(id=workload.id, queries=frame)
    ends = dict(zip(live_queries["query_id"].to_list(), live_queries["end_s"].to_list(),
                    strict=True))
    ok = set(live_queries.filter(pl.col("status") == "ok")["query_id"].to_list())
    measured = np.array([ends[q] - a if q in ok else np.nan for q, a in
                         zip(frame["query_id"].to_list(), frame["arrival_s"].to_list(), strict=True)])
    config = ExecutionConfig.model_validate({**base, "prices": PRICES,
                                             "contention": {"model": "processor_sharing",
                                                            "capacity": 1.0}})
    shutil.rmtree(root, ignore_errors=True)
    return workload, measured, config


def saved_case(folder: Path) -> tuple[Workload, np.ndarray, ExecutionConfig]:
    """A replay saved by benchmarks/heavy_target.py: workload.parquet (with the calibrated isolated
    runtime_s), the live queries.parquet and figures.yml (the cluster's size and cap)."""
    frame = pl.read_parquet(folder / "workload.parquet").sort("arrival_s", "query_id")
    live = pl.read_parquet(folder / "queries.parquet")
    figures = yaml.safe_load((folder / "figures.yml").read_text())
    workload = Workload(id=folder.name, queries=frame.select(
        "query_id", "arrival_s", "template_id", "runtime_s"))
    ok = live.filter(pl.col("status") == "ok").select("query_id", "end_s")
    joined = frame.select("query_id", "arrival_s").join(ok, on="query_id", how="left")
    measured = (joined["end_s"] - joined["arrival_s"]).fill_null(float("nan")).to_numpy()
    cluster = {"kind": "serverless", "rpu": int(figures["rpu"])}
    if figures.get("max_concurrency"):
        cluster["max_concurrency"] = int(figures["max_concurrency"])
    config = ExecutionConfig.model_validate({
        "pool": {"clusters": [cluster]}, "prices": PRICES,
        "contention": {"model": "processor_sharing", "capacity": 1.0}})
    return workload, measured, config


def heavy_case(args: argparse.Namespace) -> tuple[Workload, np.ndarray, ExecutionConfig]:
    """Calibrate and replay on the duckdb target (benchmarks/heavy_target.py), then read it back."""
    if args.heavy_from is not None:
        return saved_case(args.heavy_from)
    import heavy_target

    out = Path(tempfile.mkdtemp(prefix="autoslo-heavy-"))
    settings = argparse.Namespace(
        scale_factor=args.heavy_scale_factor, rpu=8, max_concurrency=None, mix="heavy",
        queries=args.heavy_queries, load=0.95, repeats=3, seed=args.seed,
        postgres_scale_factor=None, postgres_mix="fidelity")
    heavy_target.measure("duckdb", settings, heavy_target.data_tree(out), out)
    case = saved_case(out / "duckdb")
    shutil.rmtree(out, ignore_errors=True)
    return case


def engine_rates(law: SharingLaw, n: int) -> str:
    """Event-engine queries/s on the sls-ps-ll case: processor sharing (c=4) vs the fitted law."""
    from benchmarks.simulator import SERVERLESS, workload

    w = workload(n, 6.4)
    out = []
    for label, contention in (("processor sharing", SERVERLESS["contention"]),
                              ("fitted law", {"model": "weighted_sharing",
                                              **law.model_dump(exclude_none=True)})):
        config = ExecutionConfig.model_validate({**SERVERLESS, "contention": contention,
                                                 "prices": PRICES})
        args = prepare(w, config, None).engine_args()
        _engine.event_loop(*args)
        best = min(_timed(lambda a=args: _engine.event_loop(*a)) for _ in range(3))
        out.append(f"{label} {n / best:,.0f} queries/s")
    return f"engine on sls-ps-ll (n = {n:,}): " + "; ".join(out) + \
        " (target >= 1,000,000 with the fitted law)"


def _timed(fn) -> float:
    import time

    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, few trials (CI)")
    parser.add_argument("--no-live", action="store_true", help="skip the PostgreSQL case")
    parser.add_argument("--scale-factor", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--slots", type=int, default=8, help="the cluster's concurrency cap")
    parser.add_argument("--load", type=float, default=0.9,
                        help="arrival rate as a share of the calibrated service rate")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--no-heavy", action="store_true", help="skip the duckdb case")
    parser.add_argument("--heavy-from", type=Path, default=None,
                        help="read the duckdb case from a benchmarks/heavy_target.py output folder "
                             "instead of calibrating and replaying it now")
    parser.add_argument("--heavy-scale-factor", type=float, default=1.0)
    parser.add_argument("--heavy-queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.smoke:
        args.scale_factor, args.queries, args.trials = 0.01, 80, 40
        args.heavy_scale_factor, args.heavy_queries = 0.01, 60
    import os

    print(f"load average at start: {os.getloadavg()}", flush=True)
    cases = [("redshift-serverless", redshift_case)]
    if not args.no_live:
        cases.append(("postgres-light", lambda: postgres_case(args)))
    if not args.no_heavy and (not args.no_live or args.heavy_from is not None):
        cases.append(("duckdb-heavy", lambda: heavy_case(args)))
    rows = []
    fitted_law = None
    for name, build in cases:
        workload, measured, config = build()
        text, law = split_scores(name, workload, measured, config, args.trials, seed=0)
        rows.append(text)
        fitted_law = fitted_law or law
    print(f"fitted on the first 60 % of each run by arrival, scored on the last 40 % "
          f"(SLO {KAPPA:g}x isolated)")
    print(f"{'case':<21}{'model':<19}{'scored':>6}{'med |log|':>11}{'p50 err':>9}{'p90 err':>9}"
          f"{'viol. err':>11}")
    for text in rows:
        print(text)
    print(engine_rates(fitted_law, 20_000 if args.smoke else 1_000_000))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
