"""A tuning run: an Optuna study over the search space, trials scored on the simulator.

The study lives in the run folder (a journal file), so a killed run resumes where it stopped and
a finished one is reused. Trials are asked in batches of `parallelism.workers` and scored in
parallel by Ray actors that keep the scenarios (and their per-shape caches) in memory, so a
trial costs little more than its simulations.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import yaml

from autoslo.atomic import write_text
from autoslo.config import PriceTable, SloSpec, load_model
from autoslo.datatree import DataTree
from autoslo.errors import AutosloError, InputError
from autoslo.perf import load_latency_model
from autoslo.tune._inputs import TuningInputs
from autoslo.tune._objective import Evaluation, Scenario, evaluate
from autoslo.tune._scenarios import build_scenarios
from autoslo.tune._space import validate_config
from autoslo.workload import load_workload

VALIDATION_CANDIDATES = 10  # the cheapest distinct training configs re-scored on validation
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScorerSpec:
    """What a scorer needs, small enough to ship to any worker: scenarios are read from disk."""

    scenario_dir: str
    train: tuple[str, ...]
    spec: SloSpec
    model_ref: str | None
    data_root: str
    tau: float
    how: str

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for equal specs (the SLO spec holds lists, so the dataclass cannot hash)."""
        return (self.scenario_dir, self.train, self.spec.model_dump_json(), self.model_ref,
                self.data_root, self.tau, self.how)


class _Scorer:
    """Scores candidate configs on the training scenarios (one per process or Ray actor)."""

    def __init__(self, spec: ScorerSpec) -> None:
        self.model = load_latency_model(spec.model_ref, DataTree(spec.data_root))
        train = [load_workload(Path(spec.scenario_dir) / name) for name in spec.train]
        self.scenarios = [Scenario.build(w, spec.spec, self.model) for w in train]
        self.tau, self.how = spec.tau, spec.how

    def score(self, data: dict[str, Any], prices: PriceTable,
              best: float) -> tuple[Evaluation | None, str]:
        config, reason = validate_config(data, prices)
        if config is None:
            return None, reason
        try:
            return evaluate(config, self.scenarios, self.model, self.tau, self.how, best), ""
        except AutosloError as exc:
            return None, str(exc)


_SCORERS: dict[tuple[Any, ...], _Scorer] = {}


def score_batch(spec: ScorerSpec, batch: list[dict[str, Any]], prices: PriceTable,
                best: float) -> list[tuple[Evaluation | None, str]]:
    """Score candidates in this process, keeping the loaded scenarios for the next batch."""
    if spec.key not in _SCORERS:
        _SCORERS.clear()  # one run's scenarios at a time per process
        _SCORERS[spec.key] = _Scorer(spec)
    scorer = _SCORERS[spec.key]
    return [scorer.score(data, prices, best) for data in batch]


class Evaluator(Protocol):
    """Scores a batch of candidate configs; how many it takes at once is `batch_size`."""

    batch_size: int

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[tuple[Evaluation | None, str]]: ...

    def close(self) -> None: ...


def _sampler(inputs: TuningInputs, tau: float) -> Any:
    import optuna

    tuner = inputs.tuner
    if tuner.sampler == "random":
        return optuna.samplers.RandomSampler(seed=tuner.seed)
    if tuner.sampler == "grid":
        return optuna.samplers.GridSampler(inputs.space.grid(), seed=tuner.seed)
    if tuner.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=tuner.seed)
    if tuner.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=tuner.seed)
    # constraints come from each trial (Trial.set_constraint): infeasible trials rank by how
    # far they miss, so among them lower violation is preferred
    return optuna.samplers.TPESampler(seed=tuner.seed, multivariate=True,
                                      n_startup_trials=max(5, min(20, tuner.n_trials // 10)))


def _values(inputs: TuningInputs, evaluation: Evaluation, tau: float) -> list[float]:
    if inputs.tuner.sampler == "nsga2":
        return [evaluation.cost_usd, evaluation.violation]
    if inputs.tuner.sampler == "cmaes":  # no constraint support: a penalty instead
        excess = max(0.0, evaluation.violation - tau)
        return [evaluation.cost_usd * (1 + 100 * excess) + 1000 * excess]
    return [evaluation.cost_usd]


def run_tuning(inputs: TuningInputs, tree: DataTree, *, force: bool = False,
               progress: Progress | None = None,
               evaluator: Callable[[ScorerSpec], Evaluator] | None = None) -> dict[str, Any]:
    """Run (or reuse, or resume) the study; write the tuned config and the run folder.

    `evaluator` builds what scores batches of trials (default: this process, or Ray actors per
    `parallelism`); the Prefect flow passes one that maps batches as tasks on its task runner.
    """
    import optuna

    say = progress or (lambda _: None)
    folder = tree.tuner_run_dir(inputs.name)
    summary_path = folder / "summary.yml"
    if summary_path.is_file() and not force:
        summary = yaml.safe_load(summary_path.read_text())
        say(f"reusing finished run {inputs.name} (pass --force to run it again)")
        return summary
    if force and folder.exists():
        shutil.rmtree(folder)
    began = time.perf_counter()
    tuner = inputs.tuner
    spec = load_model(tree.ref(tuner.slo, field="slo"), SloSpec)
    tau = spec.tau if tuner.tau is None else tuner.tau
    prices = inputs.resolved.config.prices
    assert isinstance(prices, PriceTable)
    (folder / "inputs").mkdir(parents=True, exist_ok=True)
    write_text(folder / "inputs" / "execution_config.yml",
               yaml.safe_dump(inputs.base, sort_keys=False))
    write_text(folder / "inputs" / "tuner_config.yml",
               yaml.safe_dump(tuner.model_dump(mode="json"), sort_keys=False))
    write_text(folder / "inputs" / "params.yml", yaml.safe_dump(inputs.params, sort_keys=False))
    scenarios = build_scenarios(tuner, tree, folder / "scenarios")
    model_ref = inputs.resolved.config.latency_model.model
    scorer = ScorerSpec(str((folder / "scenarios").resolve()), tuple(w.id for w in scenarios.train),
                        spec, model_ref, str(tree.root.resolve()), tau, tuner.aggregate)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.log")))
    directions = ["minimize", "minimize"] if tuner.sampler == "nsga2" else ["minimize"]
    study = optuna.create_study(study_name="tune", storage=storage, directions=directions,
                                sampler=_sampler(inputs, tau), load_if_exists=True)
    finished = [t for t in study.trials if t.state.is_finished()]
    for stale in (t for t in study.trials if not t.state.is_finished()):
        study.tell(stale.number, state=optuna.trial.TrialState.FAIL)  # killed mid-trial
    if finished:
        say(f"resuming {inputs.name}: {len(finished)} of {tuner.n_trials} trials done")
    elif not study.trials:
        start = inputs.space.initial_params()
        if start is not None:  # the initial config is the first candidate: never do worse
            study.enqueue_trial(start)
    pool = (evaluator or _default_evaluator(tuner.parallelism.workers,
                                            tuner.parallelism.ray_address))(scorer)
    best = min((t.user_attrs["cost_usd"] for t in finished if t.user_attrs.get("feasible")),
               default=math.inf)
    done = len(finished)
    n_trials = tuner.n_trials
    if tuner.sampler == "grid":  # the grid sampler stops by itself once every point is tried
        n_trials = min(n_trials, math.prod(len(v) for v in inputs.space.grid().values()))

    def tell(trial: Any, *args: Any, **kwargs: Any) -> None:
        try:
            study.tell(trial, *args, **kwargs)
        except RuntimeError as exc:  # GridSampler asks the study to stop; the result is stored
            if "Study.stop" not in str(exc):
                raise

    searcher = _LocalSearch(inputs, study, tau)
    try:
        while done < n_trials:
            size = min(pool.batch_size, n_trials - done)
            if tuner.sampler == "tpe" and done >= n_trials - round(tuner.local_search * n_trials):
                searcher.enqueue(size)
            batch = [study.ask() for _ in range(size)]
            params = [inputs.space.suggest(trial) for trial in batch]
            data = [inputs.space.apply(p) for p in params]
            results = pool(data, prices, best)
            for trial, (evaluation, reason) in zip(batch, results, strict=True):
                if evaluation is None:
                    trial.set_user_attr("invalid", reason)
                    tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                for key, value in asdict(evaluation).items():
                    trial.set_user_attr(key, list(value) if isinstance(value, tuple) else value)
                trial.set_constraint("violation_over_tau", evaluation.violation - tau)
                tell(trial, _values(inputs, evaluation, tau))
                if evaluation.feasible:
                    best = min(best, evaluation.cost_usd)
            done += len(batch)
            if done % max(1, min(25, n_trials // 10)) < len(batch) or done == n_trials:
                say(f"trials {done}/{n_trials}: best feasible cost "
                    + (f"{best:.4f} USD" if best < math.inf else "none yet"))
    finally:
        pool.close()
    return _finish(inputs, tree, study, scenarios, spec, tau, model_ref, prices, folder,
                   time.perf_counter() - began, say)


class _LocalSearch:
    """One-step moves around the best trial so far (feasible and cheapest, else least violating),
    then placements of an absent spin-up, queued into the study in a seeded order; each config
    is tried once."""

    def __init__(self, inputs: TuningInputs, study: Any, tau: float) -> None:
        import random

        self.space, self.study, self.tau = inputs.space, study, tau
        self.rng = random.Random(inputs.tuner.seed)

    @staticmethod
    def _key(params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, round(v, 6) if isinstance(v, float) else v)
                            for k, v in params.items()))

    def enqueue(self, count: int) -> None:
        trials = [t for t in self.study.trials if t.state.is_finished()]
        scored = [t for t in trials if "cost_usd" in t.user_attrs]
        if not scored:
            return
        ranked = sorted(scored, key=lambda t: (
            not t.user_attrs["feasible"],
            0.0 if t.user_attrs["feasible"] else t.user_attrs["violation"],
            t.user_attrs["cost_usd"], t.number))
        tried = {self._key(t.params) for t in self.study.trials}
        for start in ranked:  # the best trial first; once its moves are spent, the next one
            for tier in (self.space.neighbors, self.space.placements):  # small steps first
                moves = [m for m in tier(start.params) if self._key(m) not in tried]
                if moves:
                    self.rng.shuffle(moves)
                    for move in moves[:count]:
                        self.study.enqueue_trial(move, skip_if_exists=True)
                    return


def _default_evaluator(workers: int, address: str | None) -> Callable[[ScorerSpec], Evaluator]:
    """In this process for one worker; otherwise Ray actors that keep the scenarios loaded."""
    if workers == 1 and address is None:
        return _LocalEvaluator
    return lambda spec: _RayActorEvaluator(spec, workers, address)


class _LocalEvaluator:
    """Scores one trial at a time in this process."""

    batch_size = 1

    def __init__(self, spec: ScorerSpec) -> None:
        self.spec = spec

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[tuple[Evaluation | None, str]]:
        return score_batch(self.spec, batch, prices, best)

    def close(self) -> None:
        _SCORERS.clear()


class _RayActorEvaluator:
    """One trial per Ray actor at a time; stops the Ray it started (never one it joined)."""

    def __init__(self, spec: ScorerSpec, workers: int, address: str | None) -> None:
        import os

        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local, private Ray
        self.batch_size = workers
        self.started = not ray.is_initialized() and address is None
        try:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, ignore_reinit_error=True)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         ignore_reinit_error=True)
        except Exception as exc:  # ray raises several types for unreachable clusters
            raise AutosloError(f"parallelism.ray_address: cannot reach Ray at {address!r} "
                               f"({type(exc).__name__}: {exc})") from None
        actor = ray.remote(num_cpus=1)(_Scorer)
        self.actors = [actor.remote(spec) for _ in range(workers)]

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[tuple[Evaluation | None, str]]:
        import ray

        return ray.get([a.score.remote(d, prices, best)  # type: ignore[no-any-return]
                        for a, d in zip(self.actors, batch, strict=False)])

    def close(self) -> None:
        import ray

        if self.started:
            ray.shutdown()


def _trials_table(study: Any) -> pl.DataFrame:
    rows = []
    best = math.inf
    for trial in sorted(study.trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        status = ("invalid" if "invalid" in attrs else attrs.get("pruned") or "complete")
        if attrs.get("feasible"):
            best = min(best, attrs["cost_usd"])
        rows.append({
            "trial": trial.number, "status": status,
            "cost_usd": attrs.get("cost_usd"), "violation": attrs.get("violation"),
            "feasible": bool(attrs.get("feasible", False)),
            "best_feasible_cost_usd": best if best < math.inf else None,
            "seconds": attrs.get("seconds"), "invalid_reason": attrs.get("invalid"),
            "params": yaml.safe_dump(trial.params, sort_keys=True, default_flow_style=True).strip(),
        })
    return pl.DataFrame(rows, schema={
        "trial": pl.Int64, "status": pl.String, "cost_usd": pl.Float64, "violation": pl.Float64,
        "feasible": pl.Boolean, "best_feasible_cost_usd": pl.Float64, "seconds": pl.Float64,
        "invalid_reason": pl.String, "params": pl.String})


def pareto_front(trials: pl.DataFrame) -> pl.DataFrame:
    """Trials no other trial beats on both cost and violation."""
    scored = trials.filter(pl.col("cost_usd").is_not_null() & (pl.col("status") == "complete"))
    points = scored.select("cost_usd", "violation").rows()
    keep = [not any((c2 <= c and v2 <= v) and (c2 < c or v2 < v) for c2, v2 in points)
            for c, v in points]
    return scored.filter(pl.Series(keep, dtype=pl.Boolean)).sort("cost_usd")


def _distinct_configs(inputs: TuningInputs, by_number: dict[int, Any], ranked: list[int],
                      count: int) -> list[tuple[int, dict[str, Any]]]:
    """The first `count` trials of `ranked` that make different configs (trials differing only
    in an absent spin-up's time make the same one), each with its config data."""
    chosen: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for number in ranked:
        data = inputs.space.apply(by_number[number].params)
        key = yaml.safe_dump(data, sort_keys=True)
        if key not in seen:
            seen.add(key)
            chosen.append((number, data))
            if len(chosen) == count:
                break
    return chosen


def _finish(inputs: TuningInputs, tree: DataTree, study: Any, scenarios: Any, spec: SloSpec,
            tau: float, model_ref: str | None, prices: PriceTable, folder: Path,
            seconds: float, say: Progress) -> dict[str, Any]:
    trials = _trials_table(study)
    trials.write_parquet(folder / "trials.parquet")
    pareto_front(trials).write_parquet(folder / "pareto.parquet")
    by_number = {t.number: t for t in study.trials}
    ranked = trials.filter(pl.col("feasible")).sort(["cost_usd", "trial"])["trial"].to_list()
    if not ranked:  # nothing feasible: validate the least violating trials
        ranked = (trials.filter(pl.col("status") == "complete")
                  .sort(["violation", "cost_usd", "trial"])["trial"].to_list())
    candidates = _distinct_configs(inputs, by_number, ranked, VALIDATION_CANDIDATES)
    if not candidates:
        raise InputError("no trial produced a valid config; see invalid_reason in "
                         f"{folder / 'trials.parquet'}")
    validator = _Scorer(ScorerSpec(str((folder / "scenarios").resolve()),
                                   tuple(w.id for w in scenarios.validation), spec, model_ref,
                                   str(tree.root.resolve()), tau, inputs.tuner.aggregate))
    results = []
    for number, data in candidates:
        evaluation, _ = validator.score(data, prices, math.inf)
        assert evaluation is not None
        results.append((number, data, evaluation))
    initial, _ = validator.score(inputs.base, prices, math.inf)
    assert initial is not None
    feasible = [r for r in results if r[2].feasible]
    winner = (min(feasible, key=lambda r: (r[2].cost_usd, r[0])) if feasible
              else min(results, key=lambda r: (r[2].violation, r[2].cost_usd, r[0])))
    number, data, evaluation = winner
    tuned_path = tree.tuned_config(inputs.name)
    header = (f"# Tuned by autoslo: run {inputs.name}, trial {number}; validation cost "
              f"{evaluation.cost_usd:.4f} USD, violation {evaluation.violation:.2%} "
              f"(tau {tau:.2%})\n")
    write_text(tuned_path, header + yaml.safe_dump(data, sort_keys=False))
    validation = {
        "tau": tau, "aggregate": inputs.tuner.aggregate,
        "initial": {"cost_usd": initial.cost_usd, "violation": initial.violation,
                    "feasible": initial.feasible},
        "candidates": [{"trial": n, "cost_usd": e.cost_usd, "violation": e.violation,
                        "feasible": e.feasible} for n, _, e in results],
        "winner": number,
    }
    write_text(folder / "validation.yml", yaml.safe_dump(validation, sort_keys=False))
    saving = (1 - evaluation.cost_usd / initial.cost_usd) if initial.cost_usd > 0 else 0.0
    summary = {
        "status": "complete", "tuner_run_name": inputs.name,
        "tuned_config": str(tree.relative(tuned_path)),
        "trials": trials.height,
        "feasible_trials": int(trials["feasible"].sum()),
        "invalid_trials": int((trials["status"] == "invalid").sum()),
        "pruned_trials": int(trials["status"].is_in(["infeasible", "dearer"]).sum()),
        "best_trial": number,
        "validation": {"cost_usd": round(evaluation.cost_usd, 6),
                       "violation": round(evaluation.violation, 6),
                       "feasible": evaluation.feasible},
        "initial_validation": {"cost_usd": round(initial.cost_usd, 6),
                               "violation": round(initial.violation, 6),
                               "feasible": initial.feasible},
        "saving_vs_initial": round(saving, 6),
        "train_scenarios": len(scenarios.train),
        "validation_scenarios": len(scenarios.validation),
        "seconds": round(seconds, 3),
    }
    write_text(folder / "summary.yml", yaml.safe_dump(summary, sort_keys=False))
    say(f"best trial {number}: validation cost {evaluation.cost_usd:.4f} USD, violation "
        f"{evaluation.violation:.2%} (tau {tau:.2%}); initial config {initial.cost_usd:.4f} "
        f"USD, violation {initial.violation:.2%}")
    return summary
