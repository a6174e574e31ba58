"""Honest evaluation of runtime models on one split, side by side with the baselines.

Splits of runtime rows (all seeded): ``random`` (80/20 over rows), ``context`` (hold out 20 % of
whole contexts) and ``few-shot`` (hold out 20 % of contexts; the neural model is pretrained without
them and fine-tuned on K of each held-out context's configurations; every model predicts that
context's other scale-outs). Baselines on the same split: Ernest (per context; fitted on the K
configurations in few-shot, on the context's training rows otherwise, and absent where a context
has no training rows) and gradient boosting (log runtime on all properties and the scale-out).
The noise floor predicts each test row by the median of its configuration's other repetitions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from autoslo.errors import InputError
from autoslo.perf._rows import PROPERTIES, configuration_ids, context_ids
from autoslo.perf.ernest import ErnestFits

Split = Literal["random", "context", "few-shot"]
SPLITS: tuple[Split, ...] = ("random", "context", "few-shot")
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Score:
    """Mean absolute percentage error (fraction) and mean absolute error (seconds)."""

    mape: float
    mae_s: float
    rows: int


def score(predicted: np.ndarray, actual: np.ndarray) -> Score:
    """MAPE and MAE of predictions against measurements."""
    return Score(float(np.mean(np.abs(predicted - actual) / actual)),
                 float(np.mean(np.abs(predicted - actual))), len(actual))


def noise_floor(rows: pl.DataFrame, test: np.ndarray) -> Score:
    """Each test row predicted by the median of its configuration's other repetitions."""
    ids = configuration_ids(rows).to_list()
    runtime = rows["runtime_s"].to_numpy()
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(ids):
        groups[c].append(i)
    keep, predicted = [], []
    for i in np.flatnonzero(test):
        others = [runtime[j] for j in groups[ids[i]] if j != i]
        if others:
            keep.append(i)
            predicted.append(float(np.median(others)))
    return score(np.array(predicted), runtime[keep])


def split_rows(rows: pl.DataFrame, split: Split, seed: int) -> np.ndarray:
    """A boolean test mask for the random and context splits (few-shot holds out contexts too)."""
    rng = np.random.default_rng(seed)
    if split == "random":
        test = np.zeros(rows.height, bool)
        test[rng.permutation(rows.height)[: round(rows.height * TEST_FRACTION)]] = True
        return test
    contexts = context_ids(rows)
    unique = sorted(set(contexts.to_list()))
    held = rng.choice(unique, size=max(1, round(len(unique) * TEST_FRACTION)), replace=False)
    return contexts.is_in(held.tolist()).to_numpy()


def gb_features(rows: pl.DataFrame, categories: dict[str, list[str]]) -> np.ndarray:
    """Gradient-boosting features: one-hot text properties, numbers (missing = -1), scale-out."""
    columns = []
    for prop in PROPERTIES:
        if prop.kind == "text":
            values = rows[prop.name].to_list()
            for category in categories[prop.name]:
                columns.append(np.array([v == category for v in values], dtype=float))
        else:
            columns.append(rows[prop.name].fill_null(-1.0).to_numpy())
    columns.append(rows["scale_out"].to_numpy())
    return np.column_stack(columns)


def gradient_boosting(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> np.ndarray:
    """Gradient boosting (scikit-learn) on log runtime: predictions for `test`."""
    from sklearn.ensemble import GradientBoostingRegressor

    categories = {p.name: sorted(set(train[p.name].drop_nulls().to_list()) |
                                 set(test[p.name].drop_nulls().to_list()))
                  for p in PROPERTIES if p.kind == "text"}
    model = GradientBoostingRegressor(n_estimators=400, max_depth=5, learning_rate=0.05,
                                      subsample=1.0, random_state=seed)
    model.fit(gb_features(train, categories), np.log(train["runtime_s"].to_numpy()))
    return np.exp(model.predict(gb_features(test, categories)))


def ernest(train: pl.DataFrame, test: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Ernest per context fitted on `train`: (predictions, which test rows have a fit)."""
    fits = ErnestFits(context_ids(train).to_list(), train["scale_out"].to_numpy(),
                      train["runtime_s"].to_numpy())
    keys = context_ids(test).to_list()
    covered = np.array([k in fits.theta for k in keys], bool)
    predicted = np.full(test.height, np.nan)
    if covered.any():
        predicted[covered] = fits.predict([k for k, c in zip(keys, covered, strict=True) if c],
                                          test["scale_out"].to_numpy()[covered])
    return predicted, covered


def few_shot_rows(rows: pl.DataFrame, test: np.ndarray, shots: int,
                  seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(shots, targets) of the held-out contexts: K seeded configurations each, and the rest."""
    if shots < 1:
        raise InputError(f"--shots must be >= 1, got {shots}")
    held = rows.filter(pl.Series(test)).with_columns(
        context_ids(rows.filter(pl.Series(test))).alias("_context"))
    rng = np.random.default_rng(seed)
    chosen: list[tuple[str, float]] = []
    for context in sorted(held["_context"].unique().to_list()):
        sizes = sorted(set(held.filter(pl.col("_context") == context)["scale_out"].to_list()))
        if len(sizes) <= shots:
            continue  # nothing left to predict
        chosen.extend((context, float(s)) for s in rng.choice(sizes, size=shots, replace=False))
    if not chosen:
        raise InputError(f"no held-out context has more than {shots} scale-outs to predict")
    picked = pl.DataFrame({"_context": [c for c, _ in chosen], "scale_out": [s for _, s in chosen],
                           "_shot": [True] * len(chosen)})
    marked = held.join(picked, on=["_context", "scale_out"], how="left", maintain_order="left")
    contexts = set(picked["_context"].to_list())
    marked = marked.filter(pl.col("_context").is_in(list(contexts)))
    shots_rows = marked.filter(pl.col("_shot").fill_null(False)).drop("_context", "_shot")
    targets = marked.filter(~pl.col("_shot").fill_null(False)).drop("_context", "_shot")
    return shots_rows, targets


def evaluate(rows: pl.DataFrame, split: Split, *, config: object, seed: int = 0,
             shots: int = 3) -> dict[str, Score]:
    """Scores of the neural model, Ernest, gradient boosting and the noise floor on one split.

    `config` is the neural model's `TrainConfig` (the hyperparameters a pretrained model found);
    the model is retrained on the split's training rows, never scored on rows it saw.
    """
    if split not in SPLITS:
        raise InputError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "few-shot":
        return few_shot(rows, [shots], config=config, seed=seed)[shots]
    from autoslo.perf.bellamy import TrainConfig, fit_fixed

    assert isinstance(config, TrainConfig)
    test = split_rows(rows, split, seed)
    train = rows.filter(~pl.Series(test))
    target_rows = rows.filter(pl.Series(test))
    model = fit_fixed(train, config, seed)
    predicted = model.predict(target_rows)["predicted_runtime"].to_numpy()
    return _with_baselines(predicted, train, target_rows, train, noise_floor(rows, test), seed)


def few_shot(rows: pl.DataFrame, shot_counts: list[int], *, config: object,
             seed: int = 0) -> dict[int, dict[str, Score]]:
    """The few-shot split for each K: one pretraining without the held-out contexts, then a
    fine-tuning per held-out context on its K configurations."""
    from autoslo.perf.bellamy import TrainConfig, finetune_model, fit_fixed

    assert isinstance(config, TrainConfig)
    test = split_rows(rows, "few-shot", seed)
    train = rows.filter(~pl.Series(test))
    pretrained = fit_fixed(train, config, seed)
    results = {}
    for shots in shot_counts:
        shot_rows, targets = few_shot_rows(rows, test, shots, seed)
        ids = context_ids(targets)
        shot_ids = context_ids(shot_rows)
        predicted = np.empty(targets.height)
        for context in sorted(set(ids.to_list())):
            tuned = finetune_model(pretrained, shot_rows.filter(shot_ids == context), seed)
            where = (ids == context).to_numpy()
            predicted[where] = tuned.predict(targets.filter(pl.Series(where)))[
                "predicted_runtime"].to_numpy()
        floor = noise_floor(pl.concat([shot_rows, targets]),
                            np.r_[np.zeros(shot_rows.height, bool), np.ones(targets.height, bool)])
        results[shots] = _with_baselines(predicted, shot_rows, targets,
                                         pl.concat([train, shot_rows]), floor, seed)
    return results


def _with_baselines(predicted: np.ndarray, ernest_rows: pl.DataFrame, targets: pl.DataFrame,
                    gb_rows: pl.DataFrame, floor: Score, seed: int) -> dict[str, Score]:
    actual = targets["runtime_s"].to_numpy()
    ernest_pred, covered = ernest(ernest_rows, targets)
    return {
        "bellamy": score(predicted, actual),
        "ernest": (score(ernest_pred[covered], actual[covered]) if covered.any()
                   else Score(float("nan"), float("nan"), 0)),
        "gradient boosting": score(gradient_boosting(gb_rows, targets, seed), actual),
        "noise floor": floor,
    }


def format_scores(results: dict[str, Score]) -> str:
    """A small table: one line per model with MAPE, MAE and rows scored."""
    lines = [f"{'model':<20}{'MAPE':>10}{'MAE (s)':>12}{'rows':>8}"]
    for name, result in results.items():
        mape_text = "n/a" if result.rows == 0 else f"{result.mape:.2%}"
        mae_text = "n/a" if result.rows == 0 else f"{result.mae_s:.1f}"
        lines.append(f"{name:<20}{mape_text:>10}{mae_text:>12}{result.rows:>8}")
    return "\n".join(lines)
