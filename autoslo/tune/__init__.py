"""The tuner: find the cheapest execution config whose simulated SLO violation stays within tau.

`resolve_inputs` names the run (TUNER_RUN_NAME) from its resolved inputs; `run_tuning` runs,
reuses or resumes it and writes `data/execution_configs/tuned/<name>.yml` and the run folder.
"""

from autoslo.tune._inputs import TuningInputs, resolve_inputs, resolve_runs
from autoslo.tune._run import Evaluator, ScorerSpec, pareto_front, run_tuning, score_batch

__all__ = ["Evaluator", "ScorerSpec", "TuningInputs", "pareto_front", "resolve_inputs",
           "resolve_runs", "run_tuning", "score_batch"]
