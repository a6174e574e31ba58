"""Fit a contention model to what a live run measured, with the simulator inside the fit.

The fit replays the run's workload through the simulator's own engine under candidate sharing
laws (`autoslo.perf.contention`) and keeps the law whose simulated latencies are closest to the
measured ones: the mean |log(simulated / measured)| latency over the scored queries. Processor
sharing is a special case of the law, and the best processor-sharing capacity is where the
search starts, so the fitted model reproduces its own training log at least as well as
processor sharing does. Search: a capacity grid under processor sharing, then Optuna's seeded
TPE over every parameter, then Nelder-Mead from the best point. A bootstrap over the scored
queries (each resample searched afresh from the fitted law) says how well the log determines the
parameters. Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from autoslo.config.execution import ExecutionConfig, ProcessorSharing, SharingLaw
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError
from autoslo.perf import LatencyModel
from autoslo.perf.contention import ContentionModel, law_dict
from autoslo.sim import _engine
from autoslo.sim._prepare import Prepared, prepare
from autoslo.workload import Workload

MemoryMode = Literal["none", "admission", "spill"]  # how the fit models memory, if at all
# the nested model classes the fit chooses among, simplest first: processor sharing (capacity),
# weighted (+ per-template weights and the slowdown exponent), full (+ warm-up and memory)
Family = Literal["processor_sharing", "weighted", "full"]
FAMILIES: tuple[Family, ...] = ("processor_sharing", "weighted", "full")
VALIDATION_FRACTION = 0.25  # the latest share of the scored queries the model class is chosen on
MIN_VALIDATION = 15         # fewer held-out queries than this cannot choose: the full class is fitted
MIN_OVERLAPPING = 20  # queries that ran while another one ran: fewer determine nothing
RESULT_COLUMNS = ("query_id", "cluster_id", "start_s", "end_s")


@dataclass(frozen=True)
class FitData:
    """A replayed workload and what the run measured for each of its queries (arrival order)."""

    workload: Workload
    measured_latency_s: np.ndarray   # float64[n]; nan where the run has no ok measurement
    scored: np.ndarray               # bool[n]: the queries the fit is scored on

    def restricted(self, scored: np.ndarray) -> FitData:
        """The same run scored on fewer queries (e.g. the first 60 % by arrival)."""
        return dataclasses.replace(self, scored=self.scored & scored)


def read_results(path: Path) -> tuple[pl.DataFrame, pl.DataFrame | None, str]:
    """A results table (a run folder's queries.parquet, or the file itself) and its clusters."""
    table = path / "queries.parquet" if path.is_dir() else path
    source = display_path(table)
    if not table.is_file():
        raise InputError("does not exist (expected a run folder with queries.parquet, or a "
                         "queries.parquet file)", source=source)
    try:
        frame = pl.read_parquet(table)
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(f"is not a readable parquet file ({type(exc).__name__})",
                         source=source) from None
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"must have the columns {', '.join(RESULT_COLUMNS)} (the results "
                         f"contract), missing {', '.join(missing)}", source=source)
    for column in ("start_s", "end_s"):
        if frame[column].null_count() or not frame[column].dtype.is_numeric():
            raise InputError("must be a number for every query (measured start and end times), "
                             f"got {frame[column].null_count()} missing", source=source,
                             field=column)
    clusters_path = table.parent / "clusters.parquet"
    clusters = pl.read_parquet(clusters_path) if path.is_dir() and clusters_path.is_file() else None
    return frame, clusters, source


def build_fit_data(workload: Workload, results: list[tuple[pl.DataFrame, pl.DataFrame | None, str]],
                   config: ExecutionConfig, *, config_source: str = "the config") -> FitData:
    """Join measured end times to the workload's queries, checking the run matches the inputs."""
    ids = workload.queries["query_id"].to_numpy()
    position = {int(q): i for i, q in enumerate(ids)}
    measured = np.full(ids.shape[0], np.nan)
    arrival = workload.queries["arrival_s"].to_numpy()
    k = len(config.pool.clusters)
    fixed_pool = config.autoscaler.policy == "noop" and not config.scheduled_spin_ups
    for frame, clusters, source in results:
        unknown = [int(q) for q in frame["query_id"].to_list() if int(q) not in position]
        if unknown:
            raise InputError(f"every query must be in the workload {workload.id}, got "
                             f"{len(unknown)} that are not (e.g. {unknown[0]})", source=source,
                             field="query_id")
        used = frame["cluster_id"].n_unique()
        if fixed_pool and used > k:
            raise InputError(f"the run used {used} clusters but {config_source} has {k} "
                             "(pool.clusters)", source=source, field="cluster_id")
        if clusters is not None and fixed_pool:
            _check_sizes(clusters, config, source, config_source)
        ok = frame if "status" not in frame.columns else frame.filter(pl.col("status") == "ok")
        for q, end in zip(ok["query_id"].to_list(), ok["end_s"].to_list(), strict=True):
            i = position[int(q)]
            measured[i] = float(end) - arrival[i]
    scored = np.isfinite(measured) & (measured > 0)
    overlapping = _overlapping(arrival, arrival + np.where(scored, measured, 0.0), scored)
    if overlapping < MIN_OVERLAPPING:
        raise InputError(f"a fit needs at least {MIN_OVERLAPPING} measured queries that ran while "
                         f"another query ran, got {overlapping}", source=results[0][2])
    return FitData(workload=workload, measured_latency_s=measured, scored=scored)


def _check_sizes(clusters: pl.DataFrame, config: ExecutionConfig, source: str,
                 config_source: str) -> None:
    if "size" not in clusters.columns:
        return
    initial = clusters.filter(pl.col("origin") == "initial") if "origin" in clusters.columns \
        else clusters
    for index, (size, spec) in enumerate(zip(initial["size"].to_list(), config.pool.clusters,
                                             strict=False)):
        if int(size) != spec.size:
            raise InputError(f"cluster {index} of the run had size {size} but {config_source}'s "
                             f"pool.clusters[{index}] has size {spec.size}",
                             source=source.replace("queries.parquet", "clusters.parquet"),
                             field="size")


def _overlapping(start: np.ndarray, end: np.ndarray, scored: np.ndarray) -> int:
    order = np.argsort(start, kind="stable")
    s, e, ok = start[order], end[order], scored[order]
    running_end = np.maximum.accumulate(e)
    before = np.concatenate([[False], running_end[:-1] > s[1:]])
    after = np.concatenate([s[1:] < e[:-1], [False]])
    return int(((before | after) & ok).sum())


class Replayer:
    """Simulates one workload and config under any sharing law, reusing everything else."""

    def __init__(self, workload: Workload, config: ExecutionConfig,
                 model: LatencyModel | None = None):
        base = config.model_copy(update={"contention": ProcessorSharing(
            model="processor_sharing", capacity=1.0)})
        self.prepared: Prepared = prepare(workload, base, model)

    def latency_s(self, law: SharingLaw) -> np.ndarray:
        """Simulated latency of every query (arrival order) under `law`."""
        p = self.prepared
        runtime = np.maximum(p.runtime, 1e-9)
        empty = np.zeros((0, 0))
        prepared = dataclasses.replace(
            p, capacity=float(law.capacity),
            weight=runtime ** law.weight_exponent if law.weight_exponent != 0.0 else empty,
            slowdown_exponent=float(law.slowdown_exponent), cold_fraction=float(law.cold_fraction),
            warmup_s=float(law.warmup_s),
            memory=runtime ** law.memory_exponent if law.memory_budget is not None else empty,
            memory_budget=float(law.memory_budget) if law.memory_budget is not None else math.inf,
            admission=law.memory_admission, spill_exponent=float(law.spill_exponent))
        end = _engine.event_loop(*prepared.engine_args())[1]
        return end - p.arrival


def log_errors(simulated: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """|log(simulated / measured)| per query."""
    return np.abs(np.log(np.maximum(simulated, 1e-9) / measured))


@dataclass(frozen=True)
class _Space:
    """The searched parameters, mapped to and from an unbounded vector for Nelder-Mead."""

    horizon_s: float
    memory: MemoryMode
    max_capacity: float = 64.0  # a physical limit (e.g. a local machine's cores) bounds the search
    family: Family = "full"

    def bounds(self) -> dict[str, tuple[float, float, bool]]:
        space = {"capacity": (0.05, self.max_capacity, True)}
        if self.family == "processor_sharing":
            return space
        space |= {"weight_exponent": (-1.0, 1.5, False), "slowdown_exponent": (0.25, 4.0, True)}
        if self.family == "weighted":
            return space
        space |= {"cold_fraction": (0.01, 1.0, True),
                  "warmup_s": (0.0, max(self.horizon_s, 1.0), False)}
        if self.memory != "none":
            space |= {"memory_budget": (0.1, 1e4, True), "memory_exponent": (-1.0, 1.5, False)}
        if self.memory == "spill":
            space |= {"spill_exponent": (0.0, 4.0, False)}
        return space

    def law(self, values: dict[str, float]) -> SharingLaw:
        free = self.bounds()
        merged = {"capacity": 1.0, **{k: v for k, v in values.items() if k in free},
                  "memory_admission": self.memory == "admission" and "memory_budget" in free}
        if "memory_budget" not in free:
            merged.pop("memory_budget", None)
            merged.pop("memory_exponent", None)
        return SharingLaw.model_validate(merged)

    def anchors(self, start: SharingLaw) -> list[SharingLaw]:
        """Fixed starting points across the basins seen in real logs: equal or heavier shares,
        warm from the start or cold for a quarter or half of the log."""
        if self.family == "processor_sharing":
            return []
        laws = []
        colds = ((1.0, 0.0),) if self.family == "weighted" else (
            (1.0, 0.0), (0.1, 0.25 * self.horizon_s), (0.1, 0.5 * self.horizon_s))
        for weight in (0.0, 0.5):
            for cold, warmup in colds:
                laws.append(start.model_copy(update={
                    "weight_exponent": weight, "cold_fraction": cold, "warmup_s": warmup}))
        return laws

    def to_vector(self, law: SharingLaw) -> np.ndarray:
        out = []
        for name, (low, high, log) in self.bounds().items():
            value = getattr(law, name)
            value = low if value is None else min(max(value, low), high)
            u = (math.log(value) - math.log(low)) / (math.log(high) - math.log(low)) if log \
                else (value - low) / (high - low)
            out.append(u)
        return np.array(out)

    def from_vector(self, u: np.ndarray) -> SharingLaw:
        values = {}
        for x, (name, (low, high, log)) in zip(u, self.bounds().items(), strict=True):
            x = min(max(float(x), 0.0), 1.0)
            values[name] = math.exp(math.log(low) + x * (math.log(high) - math.log(low))) if log \
                else low + x * (high - low)
        return self.law(values)


def fit_contention(data: FitData, config: ExecutionConfig, *, model: LatencyModel | None = None,
                   trials: int = 300, seed: int = 0, memory: MemoryMode = "none", bootstrap: int = 20,
                   objective: Literal["mean", "median"] = "mean", say: Callable[[str], None] | None = None,
                   max_capacity: float = 64.0, model_class: Family | Literal["auto"] = "full"
                   ) -> ContentionModel:
    """Fit the sharing law to the scored queries; bootstrap its uncertainty; report the figures.

    `objective`: the mean (default) or the median of the per-query |log error| is minimised;
    `max_capacity` bounds the capacity searched (a local target cannot beat its cores);
    `model_class` fixes the class or, with "auto", chooses it on the latest training queries. The
    full class is the default: on the real Redshift workgroup, choosing on its latest 22 training
    queries picked processor sharing, which predicted the held-out rest worse (benchmarks/fidelity.py).
    """
    if not 0.05 < max_capacity <= 64.0:
        raise InputError(f"must be in (0.05, 64], got {max_capacity}", field="max_capacity")
    replayer = Replayer(data.workload, config, model)
    measured = data.measured_latency_s
    scored = data.scored
    space = _Space(horizon_s=float(data.workload.queries["arrival_s"].max()), memory=memory,
                   max_capacity=max_capacity)

    loss = _loss_on(replayer, measured, scored, objective)
    uniform = np.ones(int(scored.sum()))
    ps_law, ps_loss = _best_processor_sharing(lambda law: loss(law, uniform), max_capacity)
    selection = _select_family(replayer, data, space, objective, trials, seed, max_capacity) \
        if model_class == "auto" else {"chosen": model_class, "reason": "fixed (model_class)"}
    space = dataclasses.replace(space, family=selection["chosen"])
    law = ps_law if space.family == "processor_sharing" else _search(
        space, lambda candidate: loss(candidate, uniform), ps_law, trials, seed)
    if say and model_class == "auto":
        say(f"model class {space.family} ({selection['reason']})")
    if say:
        say(f"fitted on {int(scored.sum())} queries: mean |log error| {loss(law, uniform):.3f} "
            f"(processor sharing at its best capacity {ps_law.capacity:.3f}: {ps_loss:.3f})")
    rng = np.random.default_rng(seed)
    samples = []
    for b in range(bootstrap):  # each resample searched afresh (short), so the spread is honest
        weights = rng.multinomial(int(scored.sum()), uniform / uniform.sum()).astype(float)
        samples.append(_search(space, lambda candidate, w=weights: loss(candidate, w), law,
                               max(20, trials // 5), seed + 1 + b))
    figures = fit_figures(replayer.latency_s(law), replayer.latency_s(ps_law), data)
    fit: dict[str, Any] = {
        "seed": seed, "trials": trials, "bootstrap": bootstrap, "memory": memory,
        "max_capacity": max_capacity, "model_class": selection,
        "queries_scored": int(scored.sum()), "mean_abs_log_error": round(loss(law, uniform), 6),
        "processor_sharing": {"capacity": round(ps_law.capacity, 6),
                              "mean_abs_log_error": round(ps_loss, 6)},
        **figures,
    }
    if samples:
        fit["parameter_spread"] = {
            name: {"p5": _round(np.percentile(v, 5)), "p50": _round(np.percentile(v, 50)),
                   "p95": _round(np.percentile(v, 95))}
            for name in space.bounds() if (v := [getattr(s, name) for s in samples])}
    return ContentionModel(law=law, samples=tuple(samples), fit=fit)


def _loss_on(replayer: Replayer, measured: np.ndarray, mask: np.ndarray, objective: str
             ) -> Callable[..., float]:
    """The fit's loss on the `mask` queries: the mean (or median) |log error| of a law, each query
    counted `weights` times (a bootstrap resample; none: once each)."""
    def loss(law: SharingLaw, weights: np.ndarray | None = None) -> float:
        errors = log_errors(replayer.latency_s(law)[mask], measured[mask])
        counts = np.ones(errors.shape[0]) if weights is None else weights
        if objective == "median":
            return float(np.median(np.repeat(errors, counts.astype(np.int64))))
        return float(np.dot(errors, counts) / counts.sum())
    return loss


def _select_family(replayer: Replayer, data: FitData, space: _Space, objective: str, trials: int,
                   seed: int, max_capacity: float) -> dict[str, Any]:
    """Choose the model class by how well it predicts what it was not fitted on: each class is
    fitted on the earlier scored queries (by arrival) and scored on the latest
    `VALIDATION_FRACTION`. The simplest class within one standard error of the best class's
    held-out error wins (the one-standard-error rule of cross-validation): a richer class that only
    fits its own log better is not chosen."""
    order = np.flatnonzero(data.scored)  # arrival order
    held = round(VALIDATION_FRACTION * order.shape[0])
    early = np.zeros_like(data.scored)
    early[order[:order.shape[0] - held]] = True
    late = data.scored & ~early
    starts, ends = replayer.prepared.arrival, replayer.prepared.arrival + np.nan_to_num(
        data.measured_latency_s)
    if held < MIN_VALIDATION or _overlapping(starts, ends, early) < MIN_OVERLAPPING:
        return {"chosen": "full", "reason": f"{held} held-out queries: too few to choose a class "
                f"(needs {MIN_VALIDATION}), the full class is fitted"}
    measured = data.measured_latency_s
    fit_early = _loss_on(replayer, measured, early, objective)
    ps_law, _ = _best_processor_sharing(fit_early, max_capacity)
    held_out: dict[str, np.ndarray] = {}
    for family in FAMILIES:
        law = ps_law if family == "processor_sharing" else _search(
            dataclasses.replace(space, family=family), fit_early, ps_law, trials, seed)
        held_out[family] = log_errors(replayer.latency_s(law)[late], measured[late])
    best = min(FAMILIES, key=lambda f: (float(held_out[f].mean()), FAMILIES.index(f)))

    errors = held_out[best]
    bar = float(errors.mean()) + float(errors.std(ddof=1)) / math.sqrt(errors.shape[0])
    chosen = next(f for f in FAMILIES if float(held_out[f].mean()) <= bar)
    means = {f: _round(e.mean()) for f, e in held_out.items()}
    return {"chosen": chosen, "validation_queries": held, "held_out_mean_abs_log_error": means,
            "reason": f"held-out mean |log error| on the latest {held} queries: " + ", ".join(
                f"{f} {v:.3f}" for f, v in means.items()) + "; the simplest within one standard "
                "error of the best"}


def fit_figures(simulated: np.ndarray, processor_sharing: np.ndarray, data: FitData
                ) -> dict[str, Any]:
    """Median |log error|, p50/p90 relative errors of the fitted law and of processor sharing."""
    out: dict[str, Any] = {}
    measured = data.measured_latency_s[data.scored]
    for name, values in (("fitted", simulated), ("processor_sharing_best", processor_sharing)):
        sim = values[data.scored]
        out[name] = {
            "median_abs_log_error": _round(np.median(log_errors(sim, measured))),
            "p50_relative_error": _round(np.median(sim) / np.median(measured) - 1),
            "p90_relative_error": _round(np.quantile(sim, 0.9) / np.quantile(measured, 0.9) - 1),
        }
    return out


def _round(value: float) -> float:
    return round(float(value), 6)


def _best_processor_sharing(loss: Callable[[SharingLaw], float], max_capacity: float = 64.0
                            ) -> tuple[SharingLaw, float]:
    """The best capacity on a log grid up to `max_capacity`, refined by golden-section search."""
    grid = np.exp(np.linspace(math.log(0.05), math.log(max_capacity), 41))
    losses = [loss(SharingLaw(capacity=float(c))) for c in grid]
    best = int(np.argmin(losses))
    low, high = math.log(grid[max(best - 1, 0)]), math.log(grid[min(best + 1, len(grid) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(SharingLaw(capacity=math.exp(a))), loss(SharingLaw(capacity=math.exp(b)))
    for _ in range(20):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(SharingLaw(capacity=math.exp(a)))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(SharingLaw(capacity=math.exp(b)))
    candidates = [(losses[best], float(grid[best])), (fa, math.exp(a)), (fb, math.exp(b))]
    value, capacity = min(candidates)
    return SharingLaw(capacity=capacity), value


RESTARTS = 3  # Nelder-Mead starts from the best distinct TPE points (the loss has local minima)


def _search(space: _Space, loss: Callable[[SharingLaw], float], start: SharingLaw, trials: int,
            seed: int) -> SharingLaw:
    """TPE over the space from `start`, then Nelder-Mead from the best few points it found and
    the space's anchors; the lowest loss wins (ties: the earlier start)."""
    import optuna
    from scipy.optimize import minimize

    starts = [(loss(start), start)]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=30)
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({name: min(max(getattr(start, name) or low, low), high)
                         for name, (low, high, _) in space.bounds().items()})

    def objective(trial: optuna.Trial) -> float:
        values = {name: trial.suggest_float(name, low, high, log=log)
                  for name, (low, high, log) in space.bounds().items()}
        return loss(space.law(values))

    study.optimize(objective, n_trials=trials)
    ranked = sorted((t for t in study.trials if t.value is not None),
                    key=lambda t: (t.value, t.number))
    seen = {repr(start)}
    for trial in ranked:
        law = space.law(trial.params)
        if repr(law) not in seen and len(starts) < RESTARTS:
            seen.add(repr(law))
            starts.append((float(trial.value), law))
    starts += [(loss(law), law) for law in space.anchors(start)]
    best_loss, best_law = min(starts, key=lambda item: item[0])
    budget = max(trials, 2 * trials // len(starts))
    for _, law in starts:
        result = minimize(lambda u: loss(space.from_vector(u)), space.to_vector(law),
                          method="Nelder-Mead",
                          options={"maxfev": budget, "xatol": 1e-4, "fatol": 1e-6})
        refined = space.from_vector(result.x)
        value = loss(refined)
        if value < best_loss:
            best_loss, best_law = value, refined
    return best_law


def law_summary(law: SharingLaw) -> str:
    """One line of the law's parameters, for the command line."""
    values = law_dict(law)
    if law.memory_budget is None:
        for name in ("memory_exponent", "memory_budget", "memory_admission", "spill_exponent"):
            values.pop(name)
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in values.items())


@dataclass(frozen=True)
class FitReport:
    """What `fit_from_files` wrote and the figures it prints."""

    out: Path
    model: ContentionModel


def fit_from_files(tree: DataTree, workload_path: Path, results_paths: list[Path],
                   config_path: Path, out: Path, *, params: dict[str, Any] | None = None,
                   trials: int = 300, seed: int = 0, memory: MemoryMode = "none", bootstrap: int = 20,
                   fit_fraction: float = 1.0, command: str | None = None,
                   model_class: Family | Literal["auto"] = "full",
                   say: Callable[[str], None] | None = None) -> FitReport:
    """`autoslo model fit-contention`: check every input, fit, and write the model folder."""
    from autoslo.config import resolve_execution_config
    from autoslo.ids import check_name
    from autoslo.perf import load_latency_model
    from autoslo.workload import load_workload

    check_name(out.name, "model folder name", source=display_path(out))
    if out.exists() and (out / "model.yml").is_file():
        import yaml

        kind = (yaml.safe_load((out / "model.yml").read_text(encoding="utf-8")) or {}).get("kind")
        if kind != "contention":
            raise InputError(f"holds a {kind} model; refusing to replace it with a contention "
                             "model (choose another --out)", source=display_path(out))
    if not 0 < fit_fraction <= 1:
        raise InputError(f"must be in (0, 1], got {fit_fraction}", field="--fit-fraction")
    workload = load_workload(workload_path)
    if "runtime_s" not in workload.queries.columns or workload.queries["runtime_s"].null_count():
        raise InputError("must give every query its isolated runtime_s at the cluster's size (the "
                         "fit compares simulated with measured latency)",
                         source=display_path(workload_path), field="runtime_s")
    resolved = resolve_execution_config(config_path, params=params, tree=tree)
    config = resolved.config
    data = build_fit_data(workload, [read_results(p) for p in results_paths], config,
                          config_source=display_path(config_path))
    if fit_fraction < 1:
        n = workload.queries.height
        data = data.restricted(np.arange(n) < round(fit_fraction * n))
    model = load_latency_model(config.latency_model.model, tree)
    fitted = fit_contention(data, config, model=model, trials=trials, seed=seed, memory=memory,
                            bootstrap=bootstrap, model_class=model_class, say=say)
    fitted = dataclasses.replace(fitted, fit={
        **fitted.fit, "workload": display_path(workload_path),
        "results": [display_path(p) for p in results_paths], "config": display_path(config_path),
        "fit_fraction": fit_fraction, **({"command": command} if command else {})})
    from autoslo.perf.contention import save_contention_model

    save_contention_model(out, fitted)
    return FitReport(out=out, model=fitted)
