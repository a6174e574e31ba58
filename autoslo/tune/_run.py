"""`run_tuning`: one tuning run, wired from the concept modules (and nothing else).

Inputs are written to the run folder, the scenarios built, the sampler strategy's study searched
with an evaluator (this process, Ray actors, or the flow's tasks), and the report written; a
finished run is reused and a killed one resumes from its journal.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

from autoslo.config import SloSpec, load_model
from autoslo.datatree import DataTree
from autoslo.tune._evaluators import EvaluatorFactory, default_evaluator
from autoslo.tune._inputs import TuningInputs
from autoslo.tune._objective import ScorerSpec
from autoslo.tune._report import write_inputs, write_report
from autoslo.tune._samplers import sampler_strategy
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
    """
    say = progress or (lambda _: None)
    folder = tree.tuner_run_dir(inputs.name)
    if (folder / "summary.yml").is_file() and not force:
        say(f"reusing finished run {inputs.name} (pass --force to run it again)")
        return TuningSummary.read(folder / "summary.yml")
    if force and folder.exists():
        shutil.rmtree(folder)
    began = time.perf_counter()
    tuner = inputs.tuner
    spec = load_model(tree.ref(tuner.slo, field="slo"), SloSpec)
    tau = spec.tau if tuner.tau is None else tuner.tau
    strategy = sampler_strategy(tuner, inputs.space, tau)
    write_inputs(folder, inputs)
    scenarios = build_scenarios(tuner, tree, folder / "scenarios")
    scorer = ScorerSpec(str((folder / "scenarios").resolve()), tuple(w.id for w in scenarios.train),
                        spec, inputs.resolved.config.latency_model.model,
                        str(tree.root.resolve()), tau, tuner.aggregate, inputs.contention_samples)
    study = TuningStudy.open(folder, strategy, inputs.space, tau, inputs.name, say)
    pool = (evaluator or default_evaluator(tuner.parallelism.workers,
                                           tuner.parallelism.ray_address))(scorer)
    try:
        study.optimize(pool, inputs.prices, say)
    finally:
        pool.close()
    validator = replace(scorer, train=tuple(w.id for w in scenarios.validation))
    return write_report(inputs, tree, study.study.trials, validator, inputs.prices, folder,
                        len(scenarios.train), time.perf_counter() - began, say)

