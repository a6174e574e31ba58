"""Pretraining (search, best checkpoint, scores) and fine-tuning of whole models."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from autoslo.config.model_search import ModelSearch
from autoslo.perf._rows import configuration_ids, context_ids
from autoslo.perf.bellamy._features import Preprocessing, fit_preprocessing
from autoslo.perf.bellamy._model import BellamyModel, residual_band
from autoslo.perf.bellamy._network import BellamyNet
from autoslo.perf.bellamy._train import (
    TrainConfig,
    ensemble_log,
    finetune,
    make_batch,
    mape,
    seed_everything,
    train,
)


def split_validation(rows: pl.DataFrame, fraction: float, seed: int,
                     kind: str = "rows") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, validation): a seeded `fraction` of rows, or of configurations (all repetitions)."""
    if kind == "rows":
        order = np.random.default_rng(seed).permutation(rows.height)
        held = np.zeros(rows.height, bool)
        held[order[: max(1, round(rows.height * fraction))]] = True
        return rows.filter(~pl.Series(held)), rows.filter(pl.Series(held))
    return split_configurations(rows, fraction, seed)


def split_configurations(rows: pl.DataFrame, fraction: float,
                         seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, validation): a seeded `fraction` of configurations, all their repetitions held out."""
    ids = configuration_ids(rows)
    unique = sorted(set(ids.to_list()))
    count = max(1, round(len(unique) * fraction))
    held = np.random.default_rng(seed).choice(unique, size=count, replace=False).tolist()
    is_val = ids.is_in(held)
    return rows.filter(~is_val), rows.filter(is_val)


def _scores(model: BellamyModel, rows: pl.DataFrame) -> dict[str, float]:
    predicted = model.predict(rows)["predicted_runtime"].to_numpy()
    actual = rows["runtime_s"].to_numpy()
    return {"mape": round(mape(predicted, actual), 6),
            "mae_s": round(float(np.mean(np.abs(predicted - actual))), 4), "rows": rows.height}


def describe_data(rows: pl.DataFrame, sources: list[str]) -> dict[str, Any]:
    """What a model was trained on, for model.yml."""
    return {"files": sources, "rows": rows.height,
            "contexts": int(context_ids(rows).n_unique()),
            "jobs": sorted(rows["job"].unique().to_list()),
            "scale_out_range": [float(rows["scale_out"].min()), float(rows["scale_out"].max())]}


def pretrain(rows: pl.DataFrame, spec: ModelSearch, *, trials: int | None = None,
             seed: int | None = None, sources: list[str] | None = None, command: str = "",
             storage: Path | None = None) -> BellamyModel:
    """Search hyperparameters with Ray Tune, train the ensemble with the best, score it.

    The search trains one network per trial; the model is `spec.members` networks trained with
    the chosen settings on the training rows for the full schedule. Its band comes from the
    held-out validation rows.
    """
    from autoslo.perf.bellamy._search import run_search

    seed = spec.seed if seed is None else seed
    trials = spec.trials if trials is None else trials
    started = time.perf_counter()
    train_rows, val_rows = split_validation(rows, spec.validation_fraction, seed,
                                            spec.validation_split)
    prep = fit_preprocessing(train_rows)
    with tempfile.TemporaryDirectory(prefix="autoslo-tune-") as tmp:
        result = run_search(train_rows, val_rows, prep, spec, trials=trials, seed=seed,
                            storage=storage or Path(tmp))
    best = replace(result.config, members=spec.members)
    nets = train_members(prep, train_rows, best, seed)
    val_log, _ = ensemble_log(nets, prep, make_batch(prep, val_rows))
    model = BellamyModel(nets, prep, residual_band(np.exp(val_log),
                                                   val_rows["runtime_s"].to_numpy()))
    model.meta = {
        "description": "Bellamy-style runtime model pretrained with a Ray Tune search",
        "command": command, "seed": seed,
        "data": describe_data(rows, sources or []),
        "split": {"kind": spec.validation_split, "validation_fraction": spec.validation_fraction,
                  "train_rows": train_rows.height, "validation_rows": val_rows.height},
        "search": {"trials": trials, "sampler": "optuna TPE (OptunaSearch)",
                   "scheduler": f"ASHA (max {spec.max_epochs} epochs, grace {spec.grace_epochs},"
                                f" reduction factor {spec.reduction_factor})",
                   "space": spec.space.model_dump(),
                   "best": {"lr": best.lr, "weight_decay": best.weight_decay,
                            "dropout": best.dropout, "width": best.width,
                            "epochs": best.epochs, "members": best.members},
                   "results": result.trials,
                   "seconds": round(time.perf_counter() - started, 1)},
        "scores": {"validation": _scores(model, val_rows), "train": _scores(model, train_rows)},
    }
    return model


def train_members(prep: Preprocessing, rows: pl.DataFrame, config: TrainConfig,
                  seed: int) -> list[BellamyNet]:
    """`config.members` networks trained on `rows` for the full schedule, seeded seed, seed+1, ...

    No early stopping: the search chose the settings, and the cosine schedule runs to its end.
    """
    batch = make_batch(prep, rows)
    nets = []
    for member in range(config.members):
        seed_everything(seed + member)
        net = BellamyNet(width=config.width, dropout=config.dropout)
        train(net, prep, batch, None, replace(config, patience=config.epochs + 1), keep_last=True)
        nets.append(net)
    return nets


def fit_fixed(rows: pl.DataFrame, config: TrainConfig, seed: int) -> BellamyModel:
    """A model trained on all `rows` with fixed hyperparameters (see `train_members`).

    Evaluation and benchmarks use it to retrain a pretrained model's hyperparameters on a split's
    training rows. The band comes from the training residuals, so it is narrower than a held-out
    one.
    """
    prep = fit_preprocessing(rows)
    nets = train_members(prep, rows, config, seed)
    fitted, _ = ensemble_log(nets, prep, make_batch(prep, rows))
    return BellamyModel(nets, prep, residual_band(np.exp(fitted), rows["runtime_s"].to_numpy()))


def finetune_model(model: BellamyModel, rows: pl.DataFrame, seed: int, *,
                   templates: pl.DataFrame | None = None, sources: list[str] | None = None,
                   command: str = "") -> BellamyModel:
    """A new model: `model` with its head retrained on the target rows (see `finetune`)."""
    first = model.nets[0]
    config = TrainConfig(width=first.width, dropout=first.dropout)
    nets, info = finetune(model.nets, model.prep, rows, config, seed)
    n = rows["scale_out"].to_numpy()
    low, high = model.scale_out_range
    seen = ((float(n.min()), float(n.max())) if "scale_out" in info["retrained"]  # type: ignore[operator]
            else (min(low, float(n.min())), max(high, float(n.max()))))
    tuned = BellamyModel(nets, model.prep, model.band, templates=templates, trained_range=seen)
    predicted = tuned.predict(rows)["predicted_runtime"].to_numpy()
    actual = rows["runtime_s"].to_numpy()
    fitted = residual_band(predicted, actual)
    tuned.band = (min(model.band[0], fitted[0]), max(model.band[1], fitted[1]))
    tuned.meta = {**model.meta, "description": "fine-tuned " + str(
        model.meta.get("description", "Bellamy-style runtime model")),
        "fine_tune": {"command": command, "seed": seed, "data": describe_data(rows, sources or []),
                      **info, "scores": {"fine_tune_rows": _scores(tuned, rows)}}}
    return tuned


DEFAULT_SEARCH = "model_searches/bellamy.yml"


def pretrain_to_folder(data: list[Path], out: Path, search: Path, *, trials: int | None = None,
                       seed: int | None = None, command: str = "") -> BellamyModel:
    """Read C3O files, pretrain with the search in `search`, write the model folder atomically.

    The one library entry point of ``autoslo model pretrain`` and the ``pretrain`` flow.
    """
    from autoslo.config import load_model
    from autoslo.config.model_search import ModelSearch
    from autoslo.datatree import display_path
    from autoslo.errors import InputError
    from autoslo.perf.c3o import c3o_files, load_c3o

    if trials is not None and trials < 1:
        raise InputError(f"--trials must be >= 1, got {trials}")
    spec = load_model(search, ModelSearch)
    files = c3o_files(data)
    rows = load_c3o(files)
    model = pretrain(rows, spec, trials=trials, seed=seed,
                     sources=[display_path(f) for f in files], command=command)
    model.meta["search"]["spec"] = display_path(search)
    model.save(out)
    return model
