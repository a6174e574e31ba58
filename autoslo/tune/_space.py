"""The search space: dotted paths into the execution config, plus a structured spin-up plan.

Parameters are suggested through an Optuna trial and applied to a copy of the initial config's
data; a combination the config model refuses makes the trial invalid (with the reason), not a
crash.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from autoslo.config import ExecutionConfig, apply_overrides, get_path, split_path
from autoslo.config._base import format_path, translate_errors
from autoslo.config.tuner import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    TunerConfig,
)
from autoslo.errors import InputError

SPIN_UP_AT = "spin_up_{}_at_s"
SPIN_UP_SIZE = "spin_up_{}_size"
SPIN_UP_LIFETIME = "spin_up_{}_lifetime_s"


@dataclass(frozen=True)
class SearchSpace:
    """What a trial may change, checked against the initial config once."""

    tuner: TunerConfig
    base: dict[str, Any]  # the initial execution config's data (prices as a reference)

    @classmethod
    def build(cls, tuner: TunerConfig, base: dict[str, Any], source: str) -> SearchSpace:
        for path in tuner.search_space:
            try:
                get_path(base, split_path(path))
            except KeyError as missing:
                raise InputError(f"search_space: path {path!r} does not exist in the execution "
                                 f"config (no {missing.args[0]!r})", source=source) from None
        if tuner.spin_up_plan is not None and not base["pool"]["clusters"]:
            raise InputError("spin_up_plan: the execution config has no cluster to copy",
                             source=source)
        return cls(tuner, base)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna trial for one value per dimension."""
        params: dict[str, Any] = {}
        for path, dist in self.tuner.search_space.items():
            if isinstance(dist, IntDistribution):
                params[path] = trial.suggest_int(path, dist.low, dist.high, step=dist.step,
                                                 log=dist.log)
            elif isinstance(dist, FloatDistribution):
                params[path] = trial.suggest_float(path, dist.low, dist.high, step=dist.step,
                                                   log=dist.log)
            else:
                assert isinstance(dist, CategoricalDistribution)
                params[path] = trial.suggest_categorical(path, dist.choices)
        plan = self.tuner.spin_up_plan
        if plan is not None:
            for i in range(plan.max_spin_ups):
                params[SPIN_UP_AT.format(i)] = trial.suggest_float(
                    SPIN_UP_AT.format(i), plan.at_s.low, plan.at_s.high, step=plan.at_s.step)
                params[SPIN_UP_SIZE.format(i)] = trial.suggest_categorical(
                    SPIN_UP_SIZE.format(i), [0, *plan.sizes])
                life = plan.lifetime_s
                if isinstance(life, FloatDistribution):
                    params[SPIN_UP_LIFETIME.format(i)] = trial.suggest_float(
                        SPIN_UP_LIFETIME.format(i), life.low, life.high, step=life.step,
                        log=life.log)
        return params

    def initial_params(self) -> dict[str, Any] | None:
        """The initial config as parameter values, if the space can express it."""
        params: dict[str, Any] = {}
        for path, dist in self.tuner.search_space.items():
            value = get_path(self.base, split_path(path))
            if isinstance(dist, CategoricalDistribution):
                if value not in dist.choices:
                    return None
            elif not isinstance(value, int | float) or isinstance(value, bool) or not (
                    dist.low <= value <= dist.high) or (dist.step and (value - dist.low) % dist.step):
                return None
            params[path] = value
        plan = self.tuner.spin_up_plan
        if plan is not None:
            if self.base.get("scheduled_spin_ups"):
                return None
            for i in range(plan.max_spin_ups):
                params[SPIN_UP_AT.format(i)] = plan.at_s.low
                params[SPIN_UP_SIZE.format(i)] = 0
                if isinstance(plan.lifetime_s, FloatDistribution):
                    params[SPIN_UP_LIFETIME.format(i)] = plan.lifetime_s.low
        return params

    def neighbors(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Configs one step away: each dimension moved by one step (one other choice), and each
        spin-up's window moved with its end kept."""
        moves: list[dict[str, Any]] = []
        for name, values in self._steps(params).items():
            moves += [{**params, name: v} for v in values]
        plan = self.tuner.spin_up_plan
        if plan is not None and isinstance(plan.lifetime_s, FloatDistribution):
            for i in range(plan.max_spin_ups):
                at, life = SPIN_UP_AT.format(i), SPIN_UP_LIFETIME.format(i)
                if not params.get(SPIN_UP_SIZE.format(i)):
                    continue
                for sign in (-1, 1):
                    new_at = _stepped(plan.at_s, params[at], sign)
                    new_life = _stepped(plan.lifetime_s, params[life], -sign)
                    if new_at is not None and new_life is not None:
                        moves.append({**params, at: new_at, life: new_life})
        return moves

    def placements(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Configs that add one spin-up where the plan has an absent one, on a coarse grid of
        times (x lifetimes) x sizes: a bigger jump than `neighbors`, tried after them."""
        plan = self.tuner.spin_up_plan
        if plan is None:
            return []
        lives: list[Any] = ([None] if not isinstance(plan.lifetime_s, FloatDistribution)
                            else _coarse(plan.lifetime_s))
        moves: list[dict[str, Any]] = []
        for i in range(plan.max_spin_ups):
            if params[SPIN_UP_SIZE.format(i)]:
                continue
            for size in plan.sizes:
                for at in _coarse(plan.at_s):
                    for life in lives:
                        move = {**params, SPIN_UP_SIZE.format(i): size, SPIN_UP_AT.format(i): at}
                        if life is not None:
                            move[SPIN_UP_LIFETIME.format(i)] = life
                        moves.append(move)
            break  # one absent spin-up stands for all (they are interchangeable)
        return moves

    def _steps(self, params: dict[str, Any]) -> dict[str, list[Any]]:
        steps: dict[str, list[Any]] = {}
        dims: dict[str, Any] = dict(self.tuner.search_space)
        plan = self.tuner.spin_up_plan
        if plan is not None:
            for i in range(plan.max_spin_ups):
                dims[SPIN_UP_AT.format(i)] = plan.at_s
                dims[SPIN_UP_SIZE.format(i)] = CategoricalDistribution(
                    type="categorical", choices=[0, *plan.sizes])
                if isinstance(plan.lifetime_s, FloatDistribution):
                    dims[SPIN_UP_LIFETIME.format(i)] = plan.lifetime_s
        idle = {name for i in range(plan.max_spin_ups) if not params[SPIN_UP_SIZE.format(i)]
                for name in (SPIN_UP_AT.format(i), SPIN_UP_LIFETIME.format(i))} if plan else set()
        for name, dist in dims.items():
            if name in idle:  # an absent spin-up's time and lifetime change nothing
                continue
            value = params[name]
            if isinstance(dist, CategoricalDistribution):
                at = dist.choices.index(value)
                others = (dist.choices if len(dist.choices) <= 4
                          else dist.choices[max(0, at - 1):at + 2])
                steps[name] = [c for c in others if c != value]
            else:
                steps[name] = [v for v in (_stepped(dist, value, -1), _stepped(dist, value, 1))
                               if v is not None]
        return steps

    def grid(self) -> dict[str, list[Any]]:
        """Every dimension's finite values (for the grid sampler)."""
        grid = {path: dist.grid() for path, dist in self.tuner.search_space.items()}
        plan = self.tuner.spin_up_plan
        if plan is not None:
            for i in range(plan.max_spin_ups):
                grid[SPIN_UP_AT.format(i)] = plan.at_s.grid()
                grid[SPIN_UP_SIZE.format(i)] = [0, *plan.sizes]
                if isinstance(plan.lifetime_s, FloatDistribution):
                    grid[SPIN_UP_LIFETIME.format(i)] = plan.lifetime_s.grid()
        return grid  # type: ignore[return-value]

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        """The config data with `params` applied (not validated yet)."""
        data = apply_overrides(self.base, {p: v for p, v in params.items()
                                           if p in self.tuner.search_space})
        plan = self.tuner.spin_up_plan
        if plan is not None:
            template = data["pool"]["clusters"][0]
            size_key = "rpu" if template["kind"] == "serverless" else "nodes"
            spin_ups = []
            for i in range(plan.max_spin_ups):
                size = params[SPIN_UP_SIZE.format(i)]
                if size:
                    cluster = {**copy.deepcopy(template), size_key: size}
                    spin_up = {"at_s": float(params[SPIN_UP_AT.format(i)]), "cluster": cluster}
                    life = plan.lifetime_s
                    if isinstance(life, FloatDistribution):
                        spin_up["lifetime_s"] = float(params[SPIN_UP_LIFETIME.format(i)])
                    elif life is not None:
                        spin_up["lifetime_s"] = life
                    spin_ups.append(spin_up)
            data["scheduled_spin_ups"] = sorted(spin_ups, key=lambda s: s["at_s"])
        return data


def validate_config(data: dict[str, Any], prices: Any) -> tuple[ExecutionConfig | None, str]:
    """The config model for `data` with prices inlined, or None and the first broken rule."""
    try:
        return ExecutionConfig.model_validate({**data, "prices": prices}), ""
    except ValidationError as exc:
        path, rule = translate_errors(exc, data, ExecutionConfig)[0]
        return None, f"{format_path(path)}: {rule}"


def _stepped(dist: IntDistribution | FloatDistribution, value: float, sign: int) -> Any:
    """`value` moved one step (a twentieth of the range without a step); None outside bounds."""
    if isinstance(dist, IntDistribution):
        moved: float = value + sign * dist.step
        return int(moved) if dist.low <= moved <= dist.high else None
    step = dist.step or (dist.high - dist.low) / 20
    moved = value + sign * step
    if dist.step:  # stay on the grid exactly
        moved = dist.low + round((moved - dist.low) / dist.step) * dist.step
    return float(moved) if dist.low - 1e-9 <= moved <= dist.high + 1e-9 else None


COARSE_POINTS = 5


def _coarse(dist: FloatDistribution) -> list[float]:
    """A few evenly spread values of a distribution (on its grid when it has a step)."""
    values = [dist.low + (dist.high - dist.low) * k / (COARSE_POINTS - 1)
              for k in range(COARSE_POINTS)]
    if dist.step:
        values = [dist.low + round((v - dist.low) / dist.step) * dist.step for v in values]
    return sorted({float(v) for v in values})
