"""Hyperparameter search for pretraining: Ray Tune running Optuna's TPE sampler (`OptunaSearch`)
with the ASHA scheduler stopping weak trials early, on 2 CPUs. One trial runs at a time so the
sampler sees results in a fixed order and one seed gives one search; ray is imported only here.

Trials report scores only (the final model is trained afterwards from the best settings). Training
is deterministic, so a setting the sampler proposes again replays the scores recorded the first
time instead of training again."""

from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

import autoslo
from autoslo.atomic import interrupt_pending, uninterrupted
from autoslo.config.model_search import ModelSearch
from autoslo.perf.bellamy._features import Preprocessing
from autoslo.perf.bellamy._network import BellamyNet
from autoslo.perf.bellamy._train import TrainConfig, make_batch, seed_everything, train

METRIC = "val_mape"


@dataclass
class SearchResult:
    """The best hyperparameters and every trial's score."""

    config: TrainConfig
    trials: list[dict[str, Any]]


def _train_config(spec: ModelSearch, params: dict[str, Any]) -> TrainConfig:
    return TrainConfig(lr=float(params["lr"]), weight_decay=float(params["weight_decay"]),
                       dropout=float(params["dropout"]), width=int(params["width"]),
                       epochs=spec.max_epochs, eval_every=spec.eval_every,
                       patience=spec.max_epochs)


def _replay_file(folder: Path, params: dict[str, Any]) -> Path:
    key = "_".join(f"{name}={params[name]}" for name in sorted(params))
    return folder / f"{key}.json"


def _trial(params: dict[str, Any], *, train_rows: pl.DataFrame, val_rows: pl.DataFrame,
           prep: dict[str, Any], spec: dict[str, Any], seed: int, replays: str) -> None:
    """One Ray Tune trial: train one network, reporting its best validation MAPE so far at each
    evaluation; a setting trained to the end before replays its recorded scores."""
    from ray import tune

    recorded = _replay_file(Path(replays), params)
    if recorded.is_file():
        for epoch, score in json.loads(recorded.read_text()):
            tune.report({METRIC: score, "epoch": epoch, "replayed": True})
        return
    search = ModelSearch.model_validate(spec)
    config = _train_config(search, params)
    preprocessing = Preprocessing.from_dict(prep)
    seed_everything(seed)
    net = BellamyNet(width=config.width, dropout=config.dropout)
    scores: list[tuple[int, float]] = []

    def report(epoch: int, score: float, model: BellamyNet) -> None:
        best = min(score, scores[-1][1]) if scores else score
        scores.append((epoch, best))
        if epoch >= config.epochs:  # written before the last report: ASHA may stop us at it
            recorded.write_text(json.dumps(scores))
        tune.report({METRIC: best, "epoch": epoch, "replayed": False})

    train(net, preprocessing, make_batch(preprocessing, train_rows),
          make_batch(preprocessing, val_rows), config, report=report)


def _signal_stopper() -> Any:
    """A Ray Tune stopper that ends every trial, and the search, once SIGINT or SIGTERM is
    pending (see `autoslo.atomic.uninterrupted`)."""
    from ray import tune

    class StopOnSignal(tune.Stopper):
        """Stops the search when a signal arrived."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return interrupt_pending()

        def stop_all(self) -> bool:
            return interrupt_pending()

    return StopOnSignal()


def run_search(train_rows: pl.DataFrame, val_rows: pl.DataFrame, prep: Preprocessing,
               spec: ModelSearch, *, trials: int, seed: int, storage: Path) -> SearchResult:
    """Search the space of `spec` with `trials` trials; returns the best checkpoint's weights."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic reporter honours verbose=0
    # Ray Tune's own SIGINT handler would stop the search "gracefully" and return the trials
    # done so far, from which a model would be trained as if the search had finished
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    import optuna
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = not ray.is_initialized()
    main = threading.current_thread() is threading.main_thread()
    on_term = signal.getsignal(signal.SIGTERM) if main else None
    if started:
        package_root = str(Path(autoslo.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        from autoslo.reaper import watch

        watch()  # the Ray started here dies with this process, even when it is killed
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
        if callable(on_term):  # ray.init makes SIGTERM a plain exit; the caller's stays
            signal.signal(signal.SIGTERM, on_term)
    try:
        space = {name: tune.choice(list(values))
                 for name, values in spec.space.model_dump().items()}
        steps = spec.max_epochs // spec.eval_every
        scheduler = ASHAScheduler(time_attr="training_iteration", metric=METRIC, mode="min",
                                  max_t=steps,
                                  grace_period=max(1, min(steps, spec.grace_epochs // spec.eval_every)),
                                  reduction_factor=spec.reduction_factor)
        searcher = OptunaSearch(metric=METRIC, mode="min",
                                sampler=optuna.samplers.TPESampler(seed=seed))
        replays = storage / "replays"
        replays.mkdir(parents=True, exist_ok=True)
        trainable = tune.with_resources(
            tune.with_parameters(_trial, train_rows=train_rows, val_rows=val_rows,
                                 prep=prep.to_dict(), spec=spec.model_dump(), seed=seed,
                                 replays=str(replays.resolve())),
            {"cpu": 1})
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                        num_samples=trials, max_concurrent_trials=1),
            run_config=tune.RunConfig(name="pretrain", storage_path=str(storage.resolve()),
                                      verbose=0, stop=_signal_stopper()))
        # a signal raised inside Ray's own waits breaks them (SystemError): it is deferred, the
        # stopper ends the search, and leaving the block raises it (no model from part of one)
        with uninterrupted():
            grid = tuner.fit()
            if len(grid) < trials and not interrupt_pending():  # stopped, e.g. by Ray itself
                raise KeyboardInterrupt(f"the search stopped after {len(grid)} of {trials} trials")
        best = grid.get_best_result(metric=METRIC, mode="min", scope="all")
        table = []
        for result in grid:
            frame = result.metrics_dataframe
            reported = frame is not None and len(frame) > 0
            table.append({**{k: result.config[k] for k in space},
                          "best_val_mape": round(float(frame[METRIC].min()), 6)
                          if reported else None,
                          "epochs": int(frame["epoch"].max()) if reported else 0,
                          "replayed": bool(frame["replayed"].iloc[-1]) if reported else False})
        return SearchResult(_train_config(spec, best.config), table)
    finally:
        if started:
            ray.shutdown()
