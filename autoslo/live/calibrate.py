"""Live calibration: measure each template alone per cluster size, and the cluster's capacity.

For every size, one cluster of the config's first shape is started; each template of the suite
runs alone `repeats` times after one unmeasured warm-up run (caches filled, as in a steady
workload). Then a template is run k at a time (k = 1, 2, 4, ...) to see how concurrent queries
slow each other down: with processor sharing of capacity c, k queries each take
max(1, k / c) times as long, so c is estimated as k / slowdown where the slowdown shows.

The output is a latency model folder the simulator and the runtime models use by name:
`model.yml` (kind: table), `runtimes.csv` (template_id, shape, size, runtime_s, one row per
repeat) and `calibration.yml` (target, sizes, repeats, the capacity estimate and its raw timings).
"""

from __future__ import annotations

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
from autoslo.live.target import ClusterSpec, Driver, Endpoint, Provisioner

CONCURRENCY_LEVELS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Calibration:
    """Measured runtimes (template, size) -> seconds per repeat, and the capacity estimate."""

    shape: str
    runtimes: dict[tuple[str, int], list[float]]
    capacity: float
    capacity_timings: dict[int, float]
    capacity_template: str
    failures: dict[str, str]


def _resized(spec: ClusterSpec, size: int) -> ClusterSpec:
    field = "rpu" if spec.kind == "serverless" else "nodes"
    return spec.model_validate({**spec.model_dump(), field: size})


def _timed(driver: Driver, connection: Any, sql: str, tag: str) -> tuple[float, str | None]:
    began = time.perf_counter()
    outcome = driver.run(connection, sql, tag=tag, timeout_s=None)
    return time.perf_counter() - began, (None if outcome.status == "ok" else outcome.error)


def estimate_capacity(mean_s: dict[int, float]) -> float:
    """Processor-sharing capacity from mean runtimes at k concurrent queries (see module doc)."""
    base = mean_s[1]
    slowed = [k / (mean_s[k] / base) for k in sorted(mean_s) if k > 1 and mean_s[k] > 1.1 * base]
    return round(statistics.median(slowed), 3) if slowed else float(max(mean_s))


def calibrate(spec: ClusterSpec, sizes: list[int], sql: dict[str, str], provisioner: Provisioner,
              driver: Driver, *, repeats: int, run_tag: str,
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Measure every template alone at every size, and the capacity at the first size."""
    say = progress or (lambda _: None)
    runtimes: dict[tuple[str, int], list[float]] = {}
    failures: dict[str, str] = {}
    capacity_timings: dict[int, float] = {}
    provisioner.check([spec])
    probe = ""
    for index, size in enumerate(sizes):
        endpoint = provisioner.start(_resized(spec, size), f"calibrate-{size}")
        try:
            connection = driver.connect(endpoint)
            for template, text in sql.items():
                if template in failures:
                    continue
                _, error = _timed(driver, connection, text, f"autoslo calibrate {template} warm-up")
                if error:
                    failures[template] = error
                    continue
                runtimes[(template, size)] = [
                    _timed(driver, connection, text, f"autoslo calibrate {template} {size}")[0]
                    for _ in range(repeats)]
                say(f"size {size}: {template} {statistics.median(runtimes[(template, size)]):.3f} s")
            driver.close(connection)
            if index == 0:
                probe = _capacity_template(runtimes, size)
                capacity_timings = _concurrent_runs(driver, endpoint, sql[probe], repeats)
                say(f"capacity probe {probe}: " + ", ".join(
                    f"{k} at once {t:.3f} s" for k, t in capacity_timings.items()))
        finally:
            provisioner.stop(endpoint)
    if not runtimes:
        raise InputError("no template of the suite ran on the target: "
                         + "; ".join(f"{t}: {e}" for t, e in list(failures.items())[:3]))
    return Calibration(spec.shape_key, runtimes, estimate_capacity(capacity_timings),
                       capacity_timings, probe, failures)


def _capacity_template(runtimes: dict[tuple[str, int], list[float]], size: int) -> str:
    """The template nearest the median runtime: long enough to overlap, short enough to repeat."""
    medians = {t: statistics.median(r) for (t, s), r in runtimes.items() if s == size}
    middle = statistics.median(medians.values())
    return min(medians, key=lambda t: (abs(medians[t] - middle), t))


def _concurrent_runs(driver: Driver, endpoint: Endpoint, sql: str, repeats: int) -> dict[int, float]:
    """Mean runtime of one statement when k copies run at once, for each k."""
    means: dict[int, float] = {}
    for k in CONCURRENCY_LEVELS:
        connections = [driver.connect(endpoint) for _ in range(k)]
        samples: list[float] = []
        tag = f"autoslo calibrate capacity {k}"
        with ThreadPoolExecutor(max_workers=k) as pool:
            for _ in range(max(2, repeats)):
                samples += [t for t, _ in pool.map(
                    lambda c, tag=tag: _timed(driver, c, sql, tag), connections)]
        for connection in connections:
            driver.close(connection)
        means[k] = statistics.fmean(samples)
    return means


def write_model(calibration: Calibration, folder: Path, details: dict[str, Any]) -> None:
    """Write the calibration as a table latency model folder (replaced atomically)."""
    rows = ["template_id,shape,size,runtime_s"]
    for (template, size), values in sorted(calibration.runtimes.items()):
        rows += [f"{template},{calibration.shape},{size},{value:.6f}" for value in values]
    meta = {"kind": "table",
            "description": f"Calibrated live on {details.get('target', '?')}: each template alone, "
                           f"{details.get('repeats', '?')} repeats per size after a warm-up run.",
            "source": details.get("source", "autoslo calibrate")}
    record = {**details, "shape": calibration.shape,
              "capacity": calibration.capacity,
              "capacity_template": calibration.capacity_template,
              "capacity_mean_runtime_s": {k: round(v, 6)
                                          for k, v in calibration.capacity_timings.items()},
              "failed_templates": calibration.failures}
    with replace_dir(folder) as tmp:
        (tmp / "runtimes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (tmp / "model.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
        (tmp / "calibration.yml").write_text(yaml.safe_dump(record, sort_keys=False),
                                             encoding="utf-8")


def run_calibration(config_path: Path, suite_name: str, tree: Any, *, sizes: list[int] | None,
                    repeats: int, templates: list[str] | None, settings: Any, name: str,
                    progress: Callable[[str], None] | None = None) -> Path:
    """`autoslo calibrate`: resolve inputs, measure on the live target, write the model."""
    from autoslo.config import resolve_execution_config
    from autoslo.datatree import display_path
    from autoslo.ids import new_run_timestamp
    from autoslo.live.run import open_target
    from autoslo.workload.templates import load_suite

    if repeats < 1:
        raise InputError(f"--repeats must be >= 1, got {repeats}")
    resolved = resolve_execution_config(config_path, tree=tree)
    spec = resolved.config.pool.clusters[0]
    suite = load_suite(suite_name, tree)
    chosen = templates or list(suite.sql)
    unknown = [t for t in chosen if t not in suite.sql]
    if unknown:
        raise InputError(f"--templates: template {unknown[0]!r} has no SQL in suite {suite_name!r}")
    folder = tree.model_dir(name)
    sizes = sizes or [spec.size]
    tag = new_run_timestamp()
    provisioner, driver = open_target(settings, tree, tag)
    try:
        result = calibrate(spec, sizes, {t: suite.sql[t] for t in chosen}, provisioner, driver,
                           repeats=repeats, run_tag=tag, progress=progress)
    finally:
        provisioner.close()
    write_model(result, folder, {
        "target": settings.target, "scale_factor": settings.scale_factor, "suite": suite_name,
        "sizes": sizes, "repeats": repeats, "config": display_path(config_path),
        "measured_at": tag, "source": f"autoslo calibrate --config "
                                      f"{display_path(config_path)} --suite {suite_name}"})
    return folder
