"""Local search: one-step moves around the best trial so far, queued into the study.

TPE spends the last `local_search` share of its budget here: small steps of each dimension and of
each spin-up window first, then an absent spin-up placed on a coarse grid.
"""

from __future__ import annotations

import random
from typing import Any

from autoslo.tune._space import SearchSpace


def params_key(params: dict[str, Any]) -> tuple[Any, ...]:
    """Equal for equal parameter values (floats compared to 6 decimals)."""
    return tuple(sorted((k, round(v, 6) if isinstance(v, float) else v)
                        for k, v in params.items()))


class LocalSearch:
    """One-step moves around the best trial so far (feasible and cheapest, else least violating),
    then placements of an absent spin-up, queued into the study in a seeded order; each config
    is tried once.

    The moves depend only on the finished trials and a seed drawn from (seed, trials done), so a
    resumed run that queues a batch again queues the same moves (those already waiting are
    skipped) in the same order as the uninterrupted run.
    """

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.seed = seed

    def enqueue(self, study: Any, count: int) -> None:
        """Queue up to `count` untried moves from the best trial that still has some."""
        trials = [t for t in study.trials if t.state.is_finished()]
        rng = random.Random(f"{self.seed}/{len(trials)}")
        scored = [t for t in trials if "cost_usd" in t.user_attrs]
        if not scored:
            return
        ranked = sorted(scored, key=lambda t: (
            not t.user_attrs["feasible"],
            0.0 if t.user_attrs["feasible"] else t.user_attrs["violation"],
            t.user_attrs["cost_usd"], t.number))
        tried = {params_key(t.params) for t in trials}
        for start in ranked:  # the best trial first; once its moves are spent, the next one
            for tier in (self.space.neighbors, self.space.placements):  # small steps first
                moves = [m for m in tier(start.params) if params_key(m) not in tried]
                if moves:
                    rng.shuffle(moves)
                    for move in moves[:count]:
                        study.enqueue_trial(move, skip_if_exists=True)
                    return
