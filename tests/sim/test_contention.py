"""Weighted processor sharing in the engine (by hand) and the fit that learns it from a log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from autoslo.config.execution import SharingLaw
from autoslo.perf.contention import (
    ContentionModel,
    load_contention_model,
    save_contention_model,
)
from autoslo.sim import simulate
from autoslo.sim.fit import FitData, Replayer, fit_contention, log_errors
from autoslo.workload import Workload
from tests.test_sim import make_config, make_workload

SERVERLESS = [{"kind": "serverless", "rpu": 8}]


def ends(workload: Workload, **law: float) -> list[float]:
    config = make_config(SERVERLESS, contention={"model": "weighted_sharing", **law})
    return simulate(workload, config).queries["end_s"].to_list()


def test_heavy_queries_take_a_bigger_share() -> None:
    # weights sqrt(r): q0 (1 s, w 1) and q1 (4 s, w 2) at t=0, capacity 1: phi = min(1/2, 1/3),
    # so q0 runs at 1/3 and q1 at 2/3; q0 ends at 3, q1 has 2 s left alone at full speed: 5.
    # Processor sharing would end q0 at 2 (equal shares); the work done is the same.
    workload = make_workload([0, 0], [1, 4])
    assert ends(workload, capacity=1, weight_exponent=0.5) == pytest.approx([3, 5], abs=1e-12)
    assert ends(workload, capacity=1) == pytest.approx([2, 5], abs=1e-12)


def test_slowdown_grows_faster_than_linearly_beyond_capacity() -> None:
    # two 1 s queries, capacity 1, exponent 2: throughput 1 * (1/2) ** 1 = 0.5, each at 0.25
    workload = make_workload([0, 0], [1, 1])
    assert ends(workload, capacity=1, slowdown_exponent=2) == pytest.approx([4, 4], abs=1e-12)
    assert ends(workload, capacity=1) == pytest.approx([2, 2], abs=1e-12)


def test_a_cold_cluster_runs_slower_until_warm() -> None:
    # half capacity for the first 2 s: a 2 s query does 1 s of work by t=2, then 1 s at full speed
    workload = make_workload([0], [2])
    assert ends(workload, capacity=1, cold_fraction=0.5, warmup_s=2) == pytest.approx([3])


def test_memory_admission_makes_queries_wait_inside_the_cluster() -> None:
    # every query needs 1 unit (exponent 0) of a 1.5 budget: one at a time, FIFO, although
    # the capacity (10) and the slots (unlimited) would run all three at once
    workload = make_workload([0, 0, 0.5], [1, 1, 1])
    config = make_config(SERVERLESS, contention={"model": "weighted_sharing", "capacity": 10,
                                                 "memory_budget": 1.5})
    queries = simulate(workload, config).queries
    assert queries["start_s"].to_list() == pytest.approx([0, 1, 2])
    assert queries["end_s"].to_list() == pytest.approx([1, 2, 3])
    assert queries["queue_s"].to_list() == pytest.approx([0, 1, 1.5])


def poisson(n: int, rate: float, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / rate, n))
    runtime = rng.lognormal(0.0, 1.0, n)
    return make_workload(arrival.tolist(), runtime.tolist())


def test_default_law_is_processor_sharing_bit_for_bit() -> None:
    workload = poisson(2000, 1.2, seed=3)
    clusters = [{"kind": "serverless", "rpu": 8, "max_concurrency": 6}] * 2
    ps = make_config(clusters, contention={"model": "processor_sharing", "capacity": 1.7},
                     router="predicted_latency")
    weighted = make_config(clusters, contention={"model": "weighted_sharing", "capacity": 1.7},
                           router="predicted_latency")
    a, b = simulate(workload, ps).queries, simulate(workload, weighted).queries
    assert a["end_s"].to_list() == b["end_s"].to_list()
    assert a["cluster_id"].to_list() == b["cluster_id"].to_list()


def synthetic_log(law: SharingLaw, n: int = 300) -> tuple[FitData, Workload]:
    workload = poisson(n, 0.9, seed=7)
    config = make_config(SERVERLESS, contention={"model": "weighted_sharing",
                                                 **law.model_dump(exclude_none=True)})
    measured = simulate(workload, config).queries["latency_s"].to_numpy()
    return FitData(workload, measured, np.ones(n, bool)), workload


def test_the_fit_recovers_known_parameters_from_a_simulated_log() -> None:
    truth = SharingLaw(capacity=2.0, weight_exponent=0.5, slowdown_exponent=1.5)
    data, workload = synthetic_log(truth)
    config = make_config(SERVERLESS, contention={"model": "processor_sharing", "capacity": 1})
    fitted = fit_contention(data, config, trials=150, seed=0, bootstrap=3)
    law = fitted.law
    assert law.capacity == pytest.approx(2.0, rel=0.15)
    assert law.weight_exponent == pytest.approx(0.5, abs=0.1)
    assert law.slowdown_exponent == pytest.approx(1.5, rel=0.15)
    replay = Replayer(workload, config)
    fit_error = np.median(log_errors(replay.latency_s(law), data.measured_latency_s))
    ps_error = fitted.fit["processor_sharing_best"]["median_abs_log_error"]
    assert fit_error < 0.02 < ps_error
    assert fitted.fit["fitted"]["median_abs_log_error"] < ps_error
    assert len(fitted.samples) == 3
    assert set(fitted.fit["parameter_spread"]) >= {"capacity", "weight_exponent"}


def test_the_model_class_is_chosen_on_queries_it_was_not_fitted_on() -> None:
    # a processor-sharing warehouse measured with noise: the richer classes fit the noise of the
    # early queries, so the held-out latest quarter chooses processor sharing
    data, workload = synthetic_log(SharingLaw(capacity=2.0), n=300)
    noise = np.random.default_rng(1).lognormal(0.0, 0.3, data.measured_latency_s.shape[0])
    noisy = FitData(workload, data.measured_latency_s * noise, data.scored)
    config = make_config(SERVERLESS, contention={"model": "processor_sharing", "capacity": 1})
    fitted = fit_contention(noisy, config, trials=60, seed=0, bootstrap=0, model_class="auto")
    selection = fitted.fit["model_class"]
    assert selection["chosen"] == "processor_sharing", selection
    assert set(selection["held_out_mean_abs_log_error"]) == {"processor_sharing", "weighted", "full"}
    assert fitted.law == SharingLaw(capacity=fitted.law.capacity)
    assert fitted.law.capacity == pytest.approx(2.0, rel=0.15)
    # a log with heavy-query shares chooses the weighted class (tested above: it recovers them)
    weighted, _ = synthetic_log(SharingLaw(capacity=2.0, weight_exponent=0.5), n=300)
    chosen = fit_contention(weighted, config, trials=60, seed=0, bootstrap=0,
                            model_class="auto").fit["model_class"]
    assert chosen["chosen"] in ("weighted", "full"), chosen


def test_too_few_queries_to_choose_fit_the_full_class() -> None:
    data, _ = synthetic_log(SharingLaw(capacity=1.5), n=40)
    config = make_config(SERVERLESS, contention={"model": "processor_sharing", "capacity": 1})
    selection = fit_contention(data, config, trials=20, seed=0, bootstrap=0,
                               model_class="auto").fit["model_class"]
    assert selection["chosen"] == "full" and "too few to choose" in selection["reason"]


def test_the_fit_is_deterministic_for_a_seed() -> None:
    data, _ = synthetic_log(SharingLaw(capacity=1.5, weight_exponent=0.3), n=120)
    config = make_config(SERVERLESS, contention={"model": "processor_sharing", "capacity": 1})
    a = fit_contention(data, config, trials=40, seed=5, bootstrap=1)
    b = fit_contention(data, config, trials=40, seed=5, bootstrap=1)
    assert a.law == b.law and a.samples == b.samples


def test_model_folder_round_trip_and_refusals(tmp_path: Path) -> None:
    model = ContentionModel(law=SharingLaw(capacity=3.0, weight_exponent=0.2),
                            samples=(SharingLaw(capacity=2.9),), fit={"seed": 0})
    save_contention_model(tmp_path / "m", model)
    assert load_contention_model(tmp_path / "m") == model
    meta = yaml.safe_load((tmp_path / "m" / "model.yml").read_text())
    assert meta["kind"] == "contention" and meta["format_version"] == 1
    meta["format_version"] = 7
    (tmp_path / "m" / "model.yml").write_text(yaml.safe_dump(meta))
    with pytest.raises(Exception, match="format version 7, but this autoslo reads format 1"):
        load_contention_model(tmp_path / "m")
    meta["kind"] = "table"
    (tmp_path / "m" / "model.yml").write_text(yaml.safe_dump(meta))
    with pytest.raises(Exception, match="kind: must be contention"):
        load_contention_model(tmp_path / "m")


# ---- the command and the config field, end to end ---------------------------------------------

def write_log(root: Path, law: dict, n: int = 200) -> tuple[Path, Path, Path]:
    """A workload parquet, the simulated 'live' results and the config the run used."""
    workload = poisson(n, 0.9, seed=11)
    wl = root / "wl.parquet"
    workload.queries.write_parquet(wl)
    config = make_config(SERVERLESS, contention={"model": "weighted_sharing", **law})
    results = root / "results.parquet"
    simulate(workload, config).queries.write_parquet(results)
    cfg = root / "run-config.yml"
    cfg.write_text(yaml.safe_dump({"pool": {"clusters": SERVERLESS},
                                   "contention": {"model": "processor_sharing", "capacity": 1}}))
    return wl, results, cfg


def test_fit_contention_command_and_the_fitted_config(cli, data_dir: Path, tmp_path: Path) -> None:
    wl, results, cfg = write_log(tmp_path, {"capacity": 2.5, "weight_exponent": 0.4})
    out = data_dir / "models" / "sls-fitted"
    done = cli("model", "fit-contention", "--workload", str(wl), "--results", str(results),
               "--config", str(cfg), "--out", str(out), "--trials", "60", "--bootstrap", "2")
    assert done.code == 0, done.err
    assert "fitted: capacity" in done.out and "vs processor sharing" in done.out
    model = load_contention_model(out)
    assert model.fit["queries_scored"] == 200 and len(model.samples) == 2
    fitted_cfg = tmp_path / "fitted.yml"
    fitted_cfg.write_text(yaml.safe_dump({"pool": {"clusters": SERVERLESS}, "contention": {
        "model": "fitted", "path": "models/sls-fitted"}}))
    sim_out = tmp_path / "sim"
    done = cli("simulate", "--workload", str(wl), "--config", str(fitted_cfg), "--out", str(sim_out))
    assert done.code == 0, done.err
    simulated = pl.read_parquet(sim_out / "queries.parquet")["latency_s"].to_numpy()
    measured = pl.read_parquet(results)["latency_s"].to_numpy()
    # what was fitted is exactly what is simulated, and it beats processor sharing
    error = float(np.median(log_errors(simulated, measured)))
    assert error == pytest.approx(model.fit["fitted"]["median_abs_log_error"], abs=1e-6)
    assert error < model.fit["processor_sharing_best"]["median_abs_log_error"]
    # a bootstrap sample is another parameter set, hence another execution config id
    from autoslo.config import resolve_execution_config

    first = resolve_execution_config(fitted_cfg, tree=None)
    second = resolve_execution_config(fitted_cfg, overrides={"contention.sample": 1})
    assert first.config.contention.parameters == model.law
    assert second.config.contention.parameters == model.samples[0]
    assert first.id != second.id


@pytest.mark.parametrize("case", ["unknown-id", "no-end", "clusters", "few", "kind"])
def test_fit_contention_bad_input(cli, data_dir: Path, tmp_path: Path, case: str) -> None:
    wl, results, cfg = write_log(tmp_path, {"capacity": 2.0}, n=60)
    frame = pl.read_parquet(results)
    expect = {"unknown-id": "every query must be in the workload",
              "no-end": "missing end_s", "clusters": "the run used 2 clusters but",
              "few": "a fit needs at least 20 measured queries that ran while another",
              "kind": "holds a table model"}[case]
    out = data_dir / "models" / "new-model"
    if case == "unknown-id":
        frame = frame.with_columns(pl.col("query_id") + 1000)
    elif case == "no-end":
        frame = frame.drop("end_s")
    elif case == "clusters":
        frame = frame.with_columns((pl.col("query_id") % 2).alias("cluster_id"))
    elif case == "few":
        frame = frame.head(3)
    elif case == "kind":
        out = data_dir / "models" / "table-model"
        out.mkdir()
        (out / "model.yml").write_text("kind: table\n")
    frame.write_parquet(results)
    done = cli("model", "fit-contention", "--workload", str(wl), "--results", str(results),
               "--config", str(cfg), "--out", str(out), "--trials", "10", "--bootstrap", "0")
    assert done.code == 2
    assert expect in done.err and len(done.err.strip().splitlines()) == 1, done.err
    assert not (data_dir / "models" / "new-model").exists()


def test_a_cluster_over_its_memory_spills_and_slows_down() -> None:
    # two 1 s queries of memory 1 each, budget 1, no admission, spill exponent 1: together they
    # take 2 of 1, so the cluster runs at half speed on top of sharing (capacity 10): each
    # progresses at 1/2, both end at 2 (without memory at 1)
    workload = make_workload([0, 0], [1, 1])
    spill = {"capacity": 10, "memory_budget": 1.0, "memory_admission": False, "spill_exponent": 1}
    assert ends(workload, **spill) == pytest.approx([2, 2], abs=1e-12)
    assert ends(workload, capacity=10) == pytest.approx([1, 1], abs=1e-12)




def test_the_engine_variants_are_cached_under_their_own_names() -> None:
    # one name for both made them share one cache index and its numbered files: processes that
    # compiled them at once (the soak, the CLI tests) left an index whose entry loaded the other
    # variant's code, and the fit crashed ("NRT_adapt_ndarray_to_python: descr is NULL")
    from autoslo.sim import _engine

    names = {loop.py_func.__qualname__ for loop in (_engine._plain_loop, _engine._general_loop)}
    assert names == {"event_loop_plain", "event_loop_general"}
    assert _engine._plain_loop._cache._cache_file._index_path != \
        _engine._general_loop._cache._cache_file._index_path
