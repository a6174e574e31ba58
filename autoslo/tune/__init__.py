"""The tuner: find the cheapest execution config whose simulated SLO violation stays within tau.

`resolve_inputs` names the run (TUNER_RUN_NAME) from its resolved inputs; `run_tuning` runs,
reuses or resumes it, writes `data/execution_configs/tuned/<name>.yml` and the run folder, and
returns its frozen `TuningSummary`. Concepts, one module each: the search space (`_space`),
samplers (`_samplers`: one strategy per `sampler:` value), the objective and its scorer
(`_objective`), evaluators (`_evaluators`: local, Ray), the live study (`_study`) and the report
(`_report`).
"""

from autoslo.tune._errors import (
    NoValidTrialError,
    SamplerUnavailableError,
    ScenarioError,
    TuningError,
    ValidationScoringError,
)
from autoslo.tune._evaluators import Evaluator, EvaluatorFactory, LocalEvaluator, RayActorEvaluator
from autoslo.tune._inputs import TuningInputs, resolve_inputs, resolve_runs
from autoslo.tune._objective import Evaluation, Scored, ScorerSpec, score_batch
from autoslo.tune._report import pareto_front
from autoslo.tune._run import run_tuning
from autoslo.tune._samplers import SAMPLERS, SamplerStrategy, sampler_strategy
from autoslo.tune._summary import ConfigScore, TuningSummary

__all__ = ["SAMPLERS", "ConfigScore", "Evaluation", "Evaluator", "EvaluatorFactory",
           "LocalEvaluator", "NoValidTrialError", "RayActorEvaluator", "SamplerStrategy",
           "SamplerUnavailableError", "ScenarioError", "Scored", "ScorerSpec", "TuningError",
           "TuningInputs", "TuningSummary", "ValidationScoringError", "pareto_front",
           "resolve_inputs", "resolve_runs", "run_tuning", "sampler_strategy", "score_batch"]
