"""`run_tuning`: one tuning run, wired from the concept modules (and nothing else).

Inputs are written to the run folder, the scenarios built, the sampler strategy's study searched
with an evaluator (this process, Ray actors, or the flow's tasks), and the report written; a
finished run is reused and a killed one resumes from its journal, trial for trial. One process
at a time writes a run (a lock beside its folder); another one exits with code 2 naming it.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

from autoslo.atomic import one_writer, remove_leftovers
from autoslo.config import SloSpec, load_model
from autoslo.datatree import DataTree
from autoslo.tune._evaluators import EvaluatorFactory, default_evaluator
from autoslo.tune._inputs import TuningInputs
from autoslo.tune._objective import ScorerSpec
from autoslo.tune._report import write_inputs, write_report
from autoslo.tune._samplers import SamplerStrategy, sampler_strategy
from autoslo.tune._scenarios import build_scenarios
from autoslo.tune._study import Progress, TuningStudy
from autoslo.tune._summary import TuningSummary

__all__ = ["run_tuning"]


def run_tuning(inputs: TuningInputs, tree: DataTree, *, force: bool = False,
               progress: Progress | None = None,
               evaluator: EvaluatorFactory | None = None) -> TuningSummary:
    """Run (or reuse, or resume) the study; write the tuned config and the run folder.

    `evaluator` builds what scores batches of trials (default: this process, or Ray actors per
    `parallelism`); the Prefect flow passes one that maps batches as tasks on its task runner.
    It is built only when trials remain (a resume with only the report left starts no Ray).
    """
    tuner = inputs.tuner
    spec = load_model(tree.ref(tuner.slo, field="slo"), SloSpec)
    tau = spec.tau if tuner.tau is None else tuner.tau
    strategy = sampler_strategy(tuner, inputs.space, tau)  # refuses before anything is written
    folder = tree.tuner_run_dir(inputs.name)
    with one_writer(folder, f"tuner run {inputs.name}"):
        return _run_locked(inputs, tree, folder, spec, tau, strategy, force=force,
                           say=progress or (lambda _: None), evaluator=evaluator)


def _run_locked(inputs: TuningInputs, tree: DataTree, folder: Path, spec: SloSpec, tau: float,
                strategy: SamplerStrategy, *, force: bool, say: Progress,
                evaluator: EvaluatorFactory | None) -> TuningSummary:
    """`run_tuning` once this process holds the run's lock."""
    remove_leftovers(folder, inside=True)  # temporary files of a killed run (never renamed)
    remove_leftovers(tree.tuned_config(inputs.name))
    if (folder / "summary.yml").is_file() and not force:
        say(f"reusing finished run {inputs.name} (pass --force to run it again)")
        return TuningSummary.read(folder / "summary.yml")
    if force and folder.exists():
        _discard(folder)
    began = time.perf_counter()
    tuner = inputs.tuner
    write_inputs(folder, inputs)
    scenarios = build_scenarios(tuner, tree, folder / "scenarios")
    scorer = ScorerSpec(str((folder / "scenarios").resolve()), tuple(w.id for w in scenarios.train),
                        spec, inputs.resolved.config.latency_model.model,
                        str(tree.root.resolve()), tau, tuner.aggregate, inputs.contention_samples)
    study = TuningStudy.open(folder, strategy, inputs.space, tau, inputs.name, say)
    if study.remaining():
        pool = (evaluator or default_evaluator(tuner.parallelism.workers,
                                               tuner.parallelism.ray_address))(scorer)
        try:
            study.optimize(pool, inputs.prices, say)
        finally:
            pool.close()
    validator = replace(scorer, train=tuple(w.id for w in scenarios.validation))
    return write_report(inputs, tree, study.finished(), validator, inputs.prices, folder,
                        len(scenarios.train), time.perf_counter() - began, say)



def _discard(folder: Path) -> None:
    """Remove a run folder for --force: renamed away first, so a kill during the removal never
    leaves a half-deleted folder that a later run would resume from."""
    trash = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    os.replace(folder, trash)
    shutil.rmtree(trash)
