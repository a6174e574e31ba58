"""Live calibration: each template alone per cluster size, then a concurrent replay and its fit.

For every size, one cluster of the config's first shape is started; each template of the suite
runs alone `repeats` times after one unmeasured warm-up run (caches filled, as in a steady
workload), each under a statement timeout: a template that does not finish alone within it is
left out and recorded as failed. On the first size, a template is first run k at a time
(k = 1, 2, 4, 8) for a capacity guess (with processor sharing of capacity c, k queries each take
max(1, k / c) times as long, so c ~ k / slowdown), capped by the physical limit (a local target
cannot beat this machine's cores). Then a Poisson workload over the measured templates is
replayed on that same warm cluster at a high offered load (`autoslo.live.calibrate_replay`), and
the contention model is fitted to it.

The outputs are two model folders the simulator uses by name: the latency table
`models/<name>` (`model.yml` kind table, `runtimes.csv`: template_id, shape, size, runtime_s, one
row per repeat; `calibration.yml`: target, sizes, repeats, the capacity fitted on the replay, the
fitted law and its bootstrap spread, what the replay covered, the failed templates) and the
contention model `models/<name>-contention` (kind contention, with the replay's workload, results
and config under `replay/` for provenance).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autoslo.atomic import replace_dir
from autoslo.errors import InputError
from autoslo.live.calibrate_replay import ReplayPlan, ReplayRun, coverage, fit_replay, run_replay
from autoslo.live.target import ClusterSpec, Driver, Endpoint, Provisioner
from autoslo.perf.contention import ContentionModel, law_dict

CONCURRENCY_LEVELS = (1, 2, 4, 8)
LOCAL_TARGETS = ("postgres", "duckdb")
MAX_CAPACITY = 64.0  # the fit's own upper bound where no physical limit is known
MIN_REPLAY_QUERIES = 20


@dataclass(frozen=True)
class Calibration:
    """Measured runtimes (template, size) -> seconds per repeat, the capacity guess, the replay."""

    shape: str
    runtimes: dict[tuple[str, int], list[float]]
    capacity_guess: float
    capacity_timings: dict[int, float]
    capacity_template: str
    failures: dict[str, str]
    replay: ReplayRun | None = None


def _resized(spec: ClusterSpec, size: int) -> ClusterSpec:
    field = "rpu" if spec.kind == "serverless" else "nodes"
    return spec.model_validate({**spec.model_dump(), field: size})


def _timed(driver: Driver, connection: Any, sql: str, tag: str,
           timeout_s: float | None) -> tuple[float, str | None]:
    """Seconds one statement took, and why it did not end well (None when it did)."""
    began = time.perf_counter()
    outcome = driver.run(connection, sql, tag=tag, timeout_s=timeout_s)
    took = time.perf_counter() - began
    if outcome.status == "timeout":
        return took, f"timed out alone after {timeout_s:g} s"
    return took, (None if outcome.status == "ok" else outcome.error or outcome.status)


def estimate_capacity(mean_s: dict[int, float]) -> float:
    """Processor-sharing capacity from mean runtimes at k concurrent queries (see module doc)."""
    base = mean_s[1]
    slowed = [k / (mean_s[k] / base) for k in sorted(mean_s) if k > 1 and mean_s[k] > 1.1 * base]
    return round(statistics.median(slowed), 3) if slowed else float(max(mean_s))


def physical_capacity(target: str) -> float:
    """The most queries a target can run at full speed at once: a local one has this machine's
    cores (each query takes at least one), a remote one no known limit (the fit's own bound)."""
    return float(os.cpu_count() or 1) if target in LOCAL_TARGETS else MAX_CAPACITY


def calibrate(spec: ClusterSpec, sizes: list[int], sql: dict[str, str], provisioner: Provisioner,
              driver: Driver, *, repeats: int, run_tag: str, timeout_s: float | None = None,
              replay: ReplayPlan | None = None, max_capacity: float = MAX_CAPACITY,
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Measure every template alone at every size; on the first, guess the capacity and replay."""
    say = progress or (lambda _: None)
    runtimes: dict[tuple[str, int], list[float]] = {}
    failures: dict[str, str] = {}
    capacity_timings: dict[int, float] = {}
    guess = 0.0
    replayed: ReplayRun | None = None
    provisioner.check([spec])
    probe = ""
    for index, size in enumerate(sizes):
        endpoint = provisioner.start(_resized(spec, size), f"calibrate-{size}")
        try:
            connection = driver.connect(endpoint)
            for template, text in sql.items():
                if template in failures:
                    continue
                measured = _alone(driver, connection, template, text, size, repeats, timeout_s)
                if isinstance(measured, str):
                    failures[template] = measured
                    say(f"size {size}: {template} left out ({measured})")
                    continue
                runtimes[(template, size)] = measured
                say(f"size {size}: {template} {statistics.median(measured):.3f} s")
            driver.close(connection)
            medians = {t: statistics.median(r) for (t, s), r in runtimes.items() if s == size}
            if index == 0 and medians:
                probe = _capacity_template(medians)
                capacity_timings = _concurrent_runs(driver, endpoint, sql[probe], repeats, timeout_s)
                guess = min(estimate_capacity(capacity_timings), max_capacity)
                say(f"capacity probe {probe}: " + ", ".join(
                    f"{k} at once {t:.3f} s" for k, t in capacity_timings.items())
                    + f"; capacity guess {guess:g}")
                if replay is not None:
                    replayed = run_replay(replay, _resized(spec, size), medians, sql, provisioner,
                                          endpoint, driver, capacity_guess=guess, run_tag=run_tag)
                    covered = coverage(replayed)
                    say(f"replay: {covered['queries']} queries over {len(medians)} templates at "
                        f"{covered['rate_per_s']:g}/s (offered load {covered['offered_load']:g}) "
                        f"in {covered['wall_s']:.1f} s, up to {covered['max_running']} running "
                        f"at once")
        finally:
            provisioner.stop(endpoint)
    if not runtimes:
        raise InputError("no template of the suite ran on the target: "
                         + "; ".join(f"{t}: {e}" for t, e in list(failures.items())[:3]))
    return Calibration(spec.shape_key, runtimes, guess, capacity_timings, probe, failures, replayed)


def _alone(driver: Driver, connection: Any, template: str, text: str, size: int, repeats: int,
           timeout_s: float | None) -> list[float] | str:
    """The template's runtimes alone after a warm-up run, or why it was left out."""
    _, error = _timed(driver, connection, text, f"autoslo calibrate {template} warm-up", timeout_s)
    if error:
        return error
    samples = []
    for _ in range(repeats):
        took, error = _timed(driver, connection, text, f"autoslo calibrate {template} {size}",
                             timeout_s)
        if error:
            return error
        samples.append(took)
    return samples


def _capacity_template(medians: dict[str, float]) -> str:
    """The template nearest the median runtime: long enough to overlap, short enough to repeat."""
    middle = statistics.median(medians.values())
    return min(medians, key=lambda t: (abs(medians[t] - middle), t))


def _concurrent_runs(driver: Driver, endpoint: Endpoint, sql: str, repeats: int,
                     timeout_s: float | None) -> dict[int, float]:
    """Mean runtime of one statement when k copies run at once, for each k (a copy stopped by
    the timeout, k times the alone limit, counts at the time it ran)."""
    means: dict[int, float] = {}
    for k in CONCURRENCY_LEVELS:
        connections = [driver.connect(endpoint) for _ in range(k)]
        samples: list[float] = []
        tag = f"autoslo calibrate capacity {k}"
        limit = None if timeout_s is None else timeout_s * k
        with ThreadPoolExecutor(max_workers=k) as pool:
            for _ in range(max(2, repeats)):
                samples += [t for t, _ in pool.map(
                    lambda c, tag=tag, limit=limit: _timed(driver, c, sql, tag, limit), connections)]
        for connection in connections:
            driver.close(connection)
        means[k] = statistics.fmean(samples)
    return means


def contention_record(model: ContentionModel, folder: str) -> dict[str, Any]:
    """What calibration.yml says about the fitted contention model."""
    fit = model.fit
    law = {k: round(v, 6) if isinstance(v, float) else v for k, v in law_dict(model.law).items()}
    return {"model": folder, "law": law,
            "parameter_spread": fit.get("parameter_spread", {}),
            "mean_abs_log_error": fit.get("mean_abs_log_error"),
            "median_abs_log_error": fit.get("fitted", {}).get("median_abs_log_error"),
            "processor_sharing_median_abs_log_error":
                fit.get("processor_sharing_best", {}).get("median_abs_log_error"),
            "max_capacity": fit.get("max_capacity")}


def write_model(calibration: Calibration, folder: Path, details: dict[str, Any],
                contention: tuple[Path, str, ContentionModel] | None = None) -> None:
    """Write the latency table folder and, with `contention` (folder, its data-relative name,
    model), the contention model folder beside it; both replaced atomically, renamed last."""
    from autoslo.perf.contention import save_contention_model

    rows = ["template_id,shape,size,runtime_s"]
    for (template, size), values in sorted(calibration.runtimes.items()):
        rows += [f"{template},{calibration.shape},{size},{value:.6f}" for value in values]
    meta = {"kind": "table",
            "description": f"Calibrated live on {details.get('target', '?')}: each template alone, "
                           f"{details.get('repeats', '?')} repeats per size after a warm-up run.",
            "source": details.get("source", "autoslo calibrate")}
    record = {**details, "shape": calibration.shape}
    if contention is not None:
        record["capacity"] = round(float(contention[2].fit["processor_sharing"]["capacity"]), 6)
        record["capacity_method"] = ("processor-sharing capacity fitted on the concurrent replay "
                                     "(contention.law is the fitted weighted-sharing law)")
    else:
        record["capacity"] = calibration.capacity_guess
        record["capacity_method"] = "single-template probe"
    record |= {"capacity_guess": calibration.capacity_guess,
               "capacity_template": calibration.capacity_template,
               "capacity_mean_runtime_s": {k: round(v, 6)
                                           for k, v in calibration.capacity_timings.items()}}
    if contention is not None:
        record["contention"] = contention_record(contention[2], contention[1])
    if calibration.replay is not None:
        record["replay"] = coverage(calibration.replay)
    record["failed_templates"] = calibration.failures
    with replace_dir(folder) as tmp:
        (tmp / "runtimes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (tmp / "model.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
        (tmp / "calibration.yml").write_text(yaml.safe_dump(record, sort_keys=False),
                                             encoding="utf-8")
        if contention is not None and calibration.replay is not None:
            with replace_dir(contention[0]) as ctmp:
                save_contention_model(ctmp, contention[2])
                _write_replay(ctmp / "replay", calibration.replay)


def _write_replay(folder: Path, run: ReplayRun) -> None:
    """The replay's workload, results and config, enough to refit with `model fit-contention`."""
    folder.mkdir()
    run.workload.queries.write_parquet(folder / "workload.parquet")
    run.queries.write_parquet(folder / "queries.parquet")
    config = run.config.model_dump(exclude_none=True)  # dates stay dates, as a YAML file has them
    (folder / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@dataclass(frozen=True)
class CalibrationOutcome:
    """Where calibration wrote its two models, and what it found."""

    table: Path
    contention: Path | None
    calibration: Calibration
    model: ContentionModel | None


def run_calibration(config_path: Path, suite_name: str, tree: Any, *, sizes: list[int] | None,
                    repeats: int, templates: list[str] | None, settings: Any, name: str,
                    progress: Callable[[str], None] | None = None, timeout_s: float | None = 120.0,
                    replay_queries: int = 200, load: float = 0.9, trials: int = 300,
                    bootstrap: int = 20, seed: int = 0) -> Path:
    """`autoslo calibrate`: resolve inputs, measure on the live target, write the model(s)."""
    return calibrate_to_folders(config_path, suite_name, tree, sizes=sizes, repeats=repeats,
                                templates=templates, settings=settings, name=name,
                                progress=progress, timeout_s=timeout_s,
                                replay_queries=replay_queries, load=load, trials=trials,
                                bootstrap=bootstrap, seed=seed).table


def calibrate_to_folders(config_path: Path, suite_name: str, tree: Any, *, sizes: list[int] | None,
                         repeats: int, templates: list[str] | None, settings: Any, name: str,
                         progress: Callable[[str], None] | None = None,
                         timeout_s: float | None = 120.0, replay_queries: int = 200,
                         load: float = 0.9, trials: int = 300, bootstrap: int = 20, seed: int = 0
                         ) -> CalibrationOutcome:
    """Check every input, calibrate live, fit the contention model, write both folders."""
    from autoslo.config import resolve_execution_config
    from autoslo.datatree import display_path
    from autoslo.ids import new_run_timestamp
    from autoslo.live.run import open_target
    from autoslo.workload.templates import load_suite

    if repeats < 1:
        raise InputError(f"--repeats must be >= 1, got {repeats}")
    if timeout_s is not None and not timeout_s > 0:
        raise InputError(f"--timeout-s must be > 0, got {timeout_s:g}")
    if replay_queries < MIN_REPLAY_QUERIES:
        raise InputError(f"--replay-queries must be >= {MIN_REPLAY_QUERIES} (a fit needs queries "
                         f"that overlap), got {replay_queries}")
    if not 0 < load <= 4:
        raise InputError(f"--load must be in (0, 4] (offered load / capacity guess), got {load:g}")
    if (trials < 10 or bootstrap < 0):
        raise InputError(f"--trials must be >= 10 and --bootstrap >= 0, got {trials} and {bootstrap}")
    resolved = resolve_execution_config(config_path, tree=tree)
    spec = resolved.config.pool.clusters[0]
    suite = load_suite(suite_name, tree)
    chosen = templates or list(suite.sql)
    unknown = [t for t in chosen if t not in suite.sql]
    if unknown:
        raise InputError(f"--templates: template {unknown[0]!r} has no SQL in suite {suite_name!r}")
    folder = tree.model_dir(name)
    contention_folder = tree.model_dir(f"{name}-contention")
    sizes = sizes or [spec.size]
    limit = physical_capacity(settings.target)
    plan = ReplayPlan(replay_queries, load, seed, resolved.config)
    tag = new_run_timestamp()
    provisioner, driver = open_target(settings, tree, tag)
    try:
        result = calibrate(spec, sizes, {t: suite.sql[t] for t in chosen}, provisioner, driver,
                           repeats=repeats, run_tag=tag, timeout_s=timeout_s, replay=plan,
                           max_capacity=limit, progress=progress)
    finally:
        provisioner.close()
    model = None
    if result.replay is not None:
        try:
            model = fit_replay(result.replay, trials=trials, bootstrap=bootstrap, seed=seed,
                               max_capacity=limit, say=progress)
        except InputError as exc:
            raise InputError(f"{exc} (raise --replay-queries or --load so that more queries "
                             "overlap; nothing was written)") from None
        replay_dir = display_path(contention_folder / "replay")
        model = ContentionModel(law=model.law, samples=model.samples, fit={
            **model.fit, "workload": f"{replay_dir}/workload.parquet",
            "results": [f"{replay_dir}/queries.parquet"], "config": f"{replay_dir}/config.yml",
            "calibration": display_path(folder / "calibration.yml")})
    source = f"autoslo calibrate --config {display_path(config_path)} --suite {suite_name}"
    write_model(result, folder, {
        "target": settings.target, "scale_factor": settings.scale_factor, "suite": suite_name,
        "sizes": sizes, "repeats": repeats, "timeout_s": timeout_s,
        "config": display_path(config_path), "measured_at": tag, "source": source,
        "physical_max_capacity": limit},
        None if model is None else (contention_folder, tree.relative(contention_folder), model))
    return CalibrationOutcome(folder, contention_folder if model is not None else None, result, model)
