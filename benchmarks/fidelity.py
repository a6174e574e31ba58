"""Simulator fidelity: a contention model fitted on the first 60 % of a run, scored on the rest.

For every case, a fitted sharing law (`autoslo model fit-contention`'s fit, which chooses its model
class on the latest part of what it is given) and processor sharing at its best capacity are both
fitted on the first 60 % of the run's queries by arrival, then the whole run is simulated with each
and scored on the last 40 %: per-query median |log(sim/live)|, p50 and p90 relative error, and the
violation-rate error of an SLO of 3x each query's isolated latency.

Cases:
  redshift-serverless  the real 16-RPU workgroup log under data/redshift-serverless (149 queries)
  postgres-light       calibrate 14 TPC-H templates at SF 0.1 on a local PostgreSQL cluster, then
                       replay an open-loop Poisson workload live on it (8 slots, offered load 0.8
                       of the capacity calibration measured)
  duckdb-heavy         calibrate and replay TPC-H SF 1 on the duckdb target (8 RPU = 256 MB, one
                       thread per cluster; heavy joins beside light scans) at offered load 0.9 of
                       the calibrated capacity
Both live cases run `benchmarks/heavy_target.py`'s calibration and replay back to back; `--save DIR`
keeps them, `--live-from DIR` refits saved ones. Then the engine's queries/s with the fitted law
on the sls-ps-ll case of benchmarks/simulator.py, against processor sharing on the same case.
Local clusters share this machine's two cores with everything else that runs, so the load average
is printed at the start and the end.

    .venv/bin/python benchmarks/fidelity.py [--smoke] [--no-live] [--save DIR | --live-from DIR]
"""
from __future__ import annotations

import argparse
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

from autoslo.config import ExecutionConfig, PriceTable, load_model  # noqa: E402
from autoslo.config.execution import SharingLaw  # noqa: E402
from autoslo.sim import _engine  # noqa: E402
from autoslo.sim._prepare import prepare  # noqa: E402
from autoslo.sim.fit import FitData, Replayer, fit_contention, law_summary, log_errors  # noqa: E402
from autoslo.workload import Workload  # noqa: E402

KAPPA = 3.0  # SLO: 3x each query's isolated latency
PRICES = load_model(REPO / "data/prices/aws-us-east-1.yml", PriceTable).model_dump()


def split_scores(name: str, workload: Workload, measured: np.ndarray, config: ExecutionConfig,
                 trials: int, seed: int) -> tuple[str, SharingLaw]:
    """Fit on the first 60 % by arrival, score the last 40 %: processor sharing at its best
    capacity, the fit as shipped (the full class), the class chosen on the latest training
    queries (`--model-class auto`) and the weighted class, one table row each."""
    n = workload.queries.height
    first = np.arange(n) < round(0.6 * n)
    data = FitData(workload, measured, np.isfinite(measured) & (measured > 0))
    fits = {cls: fit_contention(data.restricted(first), config, trials=trials, seed=seed,
                                bootstrap=0, model_class=cls)
            for cls in ("full", "auto", "weighted")}
    fitted = fits["full"]
    replayer = Replayer(workload, config)
    isolated = workload.queries["runtime_s"].to_numpy()
    held = ~first & data.scored
    lines = []
    figures = {}
    rows = [("processor sharing", SharingLaw(capacity=fitted.fit["processor_sharing"]["capacity"])),
            ("fitted law", fitted.law), ("  class auto", fits["auto"].law),
            ("  class weighted", fits["weighted"].law)]
    for label, law in rows:
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
    lines.append(f"{'':<21}targets for the fitted law (median |log| <= min(0.30, PS/2) = "
                 f"{min(0.30, ps[0] / 2):.3f}, p50/p90 within 25 %, violation within 0.05): "
                 f"{'met' if met else 'MISSED'}")
    selection = fits["auto"].fit["model_class"]
    lines.append(f"{'':<21}fitted law (class full): {law_summary(fitted.law)}")
    lines.append(f"{'':<21}class auto chose {selection['chosen']} ({selection['reason']})")
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


def live_case(target: str, args: argparse.Namespace) -> tuple[Workload, np.ndarray, ExecutionConfig]:
    """Calibrate and replay on a local target (benchmarks/heavy_target.py's code), save the
    replay under `--save/<target>` (or a temporary folder) and read it back; `--live-from` reads
    a saved one instead."""
    if args.live_from is not None:
        return saved_case(args.live_from / target)
    import heavy_target

    out = args.save or Path(tempfile.mkdtemp(prefix="autoslo-fidelity-"))
    postgres = target == "postgres"
    settings = argparse.Namespace(
        scale_factor=args.heavy_scale_factor, rpu=8, mix="heavy", repeats=3, seed=args.seed,
        max_concurrency=args.slots if postgres else None,
        queries=args.queries if postgres else args.heavy_queries,
        load=None, utilization=args.utilization if postgres else args.heavy_utilization,
        postgres_scale_factor=args.scale_factor, postgres_mix="fidelity")
    heavy_target.measure(target, settings, heavy_target.data_tree(out), out)
    case = saved_case(out / target)
    if args.save is None:
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
    parser.add_argument("--no-live", action="store_true", help="only the real Redshift case")
    parser.add_argument("--scale-factor", type=float, default=0.1, help="postgres: TPC-H scale")
    parser.add_argument("--queries", type=int, default=600, help="postgres: queries replayed")
    parser.add_argument("--slots", type=int, default=8, help="postgres: the concurrency cap")
    parser.add_argument("--utilization", type=float, default=0.8,
                        help="postgres: offered load as a share of the calibrated capacity")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--heavy-scale-factor", type=float, default=1.0, help="duckdb: TPC-H scale")
    parser.add_argument("--heavy-queries", type=int, default=400, help="duckdb: queries replayed")
    parser.add_argument("--heavy-utilization", type=float, default=0.9,
                        help="duckdb: offered load as a share of the calibrated capacity")
    parser.add_argument("--save", type=Path, default=None,
                        help="keep each live replay in SAVE/<target>/ (workload, live queries, "
                             "figures) to refit later with --live-from")
    parser.add_argument("--live-from", type=Path, default=None,
                        help="read the live cases from a --save folder (or heavy_target.py's "
                             "--out) instead of calibrating and replaying now")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.smoke:
        args.scale_factor, args.queries, args.trials = 0.01, 80, 40
        args.heavy_scale_factor, args.heavy_queries = 0.05, 60
    import os

    print(f"load average at start: {os.getloadavg()}", flush=True)
    cases = [("redshift-serverless", redshift_case)]
    if not args.no_live or args.live_from is not None:
        cases += [("postgres-light", lambda: live_case("postgres", args)),
                  ("duckdb-heavy", lambda: live_case("duckdb", args))]
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
