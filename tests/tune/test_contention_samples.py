"""Tuning against a fitted contention model's uncertainty: trials scored across its samples."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from autoslo.config.execution import SharingLaw
from autoslo.datatree import DataTree
from autoslo.perf.contention import ContentionModel, save_contention_model
from autoslo.tune import resolve_inputs, run_tuning
from tests.tune.helpers import EXEC, tuner_file


def fitted_config(data_dir: Path) -> Path:
    """The example pool with a fitted contention model whose samples are 15 % slower and faster."""
    law = SharingLaw(capacity=4.0, weight_exponent=0.2)
    save_contention_model(data_dir / "models" / "pool-contention", ContentionModel(
        law=law, samples=(law.model_copy(update={"capacity": 3.4}),
                          law.model_copy(update={"capacity": 4.6})), fit={"seed": 0}))
    config = yaml.safe_load((data_dir.parent / EXEC).read_text())
    config["contention"] = {"model": "fitted", "path": "models/pool-contention"}
    path = data_dir / "execution_configs" / "examples" / "fitted-pool.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(data_dir: Path, samples: int) -> pl.DataFrame:
    tree = DataTree(data_dir)
    config = fitted_config(data_dir)
    tuner = tuner_file(data_dir, f"robust{samples}", contention_samples=samples, search_space={
        "pool.clusters.0.rpu": {"type": "categorical", "choices": [8, 16]},
        "autoscaler.threshold": {"type": "int", "low": 1, "high": 20}})
    inputs = resolve_inputs(config, tuner, {}, {}, tree)
    assert len(inputs.contention_samples) == samples
    summary = run_tuning(inputs, tree)
    return pl.read_parquet(tree.tuner_run_dir(summary.tuner_run_name) / "trials.parquet")


def test_trials_scored_across_samples_take_the_worst_violation(data_dir: Path) -> None:
    plain, robust = run(data_dir, 0), run(data_dir, 2)
    # the same seeded proposals; each robust violation is the worst of the three laws, hence at
    # least the fitted law's own
    joined = plain.join(robust, on="params", suffix="_robust").filter(
        pl.col("status").eq("complete") & pl.col("status_robust").eq("complete"))
    assert joined.height > 0
    assert (joined["violation_robust"] >= joined["violation"] - 1e-12).all()
    assert (joined["violation_robust"] > joined["violation"] + 1e-12).any()


def test_samples_need_a_fitted_model_with_enough_of_them(data_dir: Path, cli) -> None:
    fitted_config(data_dir)
    tuner_file(data_dir, "too-many", contention_samples=3)
    done = cli("tune", "--execution-config", "data/execution_configs/examples/fitted-pool.yml",
               "--tuner-config", "data/tuner_configs/too-many.yml")
    assert done.code == 2
    assert "contention_samples: must be at most the 2 bootstrap samples of models/pool-contention, " \
           "got 3" in done.err
    tuner_file(data_dir, "not-fitted", contention_samples=1)
    done = cli("tune", "--execution-config", EXEC, "--tuner-config",
               "data/tuner_configs/not-fitted.yml")
    assert done.code == 2 and "needs an execution config whose contention is a fitted model" in done.err
    assert len(done.err.strip().splitlines()) == 1
