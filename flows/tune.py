"""The `tune` flow: each tuning run of a manifest (or one pair of configs), with batches of trials
scored as Ray tasks (several trials per task, so task overhead stays small next to simulation).

    python flows/tune.py --manifest manifests/tuning/example.yml [--force]

Deployed as `tune/default` (prefect.yaml). Same library calls as `autoslo tune`.
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

from autoslo.config import PriceTable
from autoslo.orchestrate import (
    flow_data_tree,
    input_path,
    result_settings,
    run_script,
    ship_by_value,
    task_runner,
    user_mistakes_fail_cleanly,
)
from autoslo.tune import Scored, ScorerSpec, TuningSummary, resolve_runs, run_tuning, score_batch

ship_by_value(__name__)


@task(cache_policy=NO_CACHE)
def score_trials(spec: ScorerSpec, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[Scored]:
    """Score a chunk of trials in a Ray worker (its scenarios stay loaded between chunks)."""
    return score_batch(spec, batch, prices, best)


class TaskEvaluator:
    """Trials asked in batches of workers x trials_per_task, one task per worker's chunk."""

    def __init__(self, spec: ScorerSpec, workers: int, trials_per_task: int) -> None:
        self.spec, self.workers = spec, workers
        self.batch_size = workers * trials_per_task

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[Scored]:
        size = -(-len(batch) // self.workers)
        chunks = [batch[i:i + size] for i in range(0, len(batch), size)]
        futures = score_trials.map(unmapped(self.spec), chunks, unmapped(prices), unmapped(best))
        return [result for future in futures for result in future.result()]

    def close(self) -> None:
        """The task runner owns the workers."""


@flow(name="tune", task_runner=task_runner(), log_prints=True, **result_settings())
@user_mistakes_fail_cleanly
def tune(manifest: str | None = "manifests/tuning/example.yml",
         execution_config: str | None = None, tuner_config: str | None = None,
         params: dict[str, Any] | None = None, force: bool = False,
         trials_per_task: int = 5) -> list[TuningSummary]:
    """Tune every run the request names; returns each run's frozen summary."""
    logger = get_run_logger()
    with flow_data_tree() as tree:
        runs = resolve_runs(
            tree, manifest=input_path(tree, manifest, "manifest") if manifest else None,
            execution_config=input_path(tree, execution_config, "execution_config")
            if execution_config else None,
            tuner_config=input_path(tree, tuner_config, "tuner_config") if tuner_config else None,
            params=params or None)
        summaries = []
        for inputs in runs:
            workers = inputs.tuner.parallelism.workers
            logger.info(f"{inputs.name}: {inputs.tuner.n_trials} trials, {workers} task(s) of "
                        f"{trials_per_task} trials at a time")
            summary = run_tuning(inputs, tree, force=force, progress=logger.info,
                                 evaluator=lambda spec, w=workers: TaskEvaluator(
                                     spec, w, trials_per_task))
            logger.info(f"{inputs.name}: cost {summary.validation.cost_usd:.4f} USD "
                        f"(initial {summary.initial_validation.cost_usd:.4f} USD; saving "
                        f"{summary.saving_vs_initial:.1%}) -> {summary.tuned_config}")
            summaries.append(summary)
        return summaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default=None)
    parser.add_argument("--execution-config", default=None)
    parser.add_argument("--tuner-config", default=None)
    parser.add_argument("--param", action="append", default=[], help="NAME=VALUE")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    from autoslo.config import parse_params

    manifest = args.manifest or (None if args.execution_config else "manifests/tuning/example.yml")
    run_script(lambda: tune(manifest=manifest, execution_config=args.execution_config,
                            tuner_config=args.tuner_config,
                            params=parse_params(args.param) or None, force=args.force,
                            return_state=True))


if __name__ == "__main__":
    main()
