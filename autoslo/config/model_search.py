"""Hyperparameter search spaces for pretraining the neural runtime model
(data/model_searches/<name>.yml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from autoslo.config._base import StrictModel, at_least, between

PositiveInt = Annotated[int, AfterValidator(at_least(1))]


class SearchSpace(StrictModel):
    """The choices Optuna's TPE sampler picks from (each a non-empty list)."""

    lr: Annotated[list[Annotated[float, AfterValidator(between(1e-6, 1.0))]], Field(min_length=1)]
    weight_decay: Annotated[list[Annotated[float, AfterValidator(between(0.0, 1.0))]],
                            Field(min_length=1)]
    dropout: Annotated[list[Annotated[float, AfterValidator(between(0.0, 0.9))]],
                       Field(min_length=1)]
    width: Annotated[list[Annotated[int, AfterValidator(between(4, 512))]], Field(min_length=1)]


class ModelSearch(StrictModel):
    """How pretraining searches: trials, the ASHA schedule (in epochs) and the space; and how many
    networks the final model averages."""

    description: str = ""
    trials: PositiveInt = 12
    max_epochs: PositiveInt = 800
    grace_epochs: PositiveInt = 200
    reduction_factor: Annotated[int, AfterValidator(at_least(2))] = 2
    eval_every: PositiveInt = 50
    members: Annotated[int, AfterValidator(between(1, 20))] = Field(
        default=3, description="networks in the final model, trained with the best settings "
                               "from consecutive seeds; their mean is the prediction")
    validation_fraction: Annotated[float, AfterValidator(between(0.05, 0.5))] = 0.15
    validation_split: Literal["rows", "configurations"] = Field(
        default="rows", description="hold out random rows (the C3O protocol), or whole "
                                    "configurations (a context at a scale-out, every repetition)")
    seed: int = 0
    space: SearchSpace

    def summary(self) -> str:
        """Trials, the ASHA schedule, the size of the space and the seed."""
        return (f"{self.trials} trials, ASHA over {self.max_epochs} epochs, "
                f"{len(self.space.model_dump())} hyperparameters, seed {self.seed}")
