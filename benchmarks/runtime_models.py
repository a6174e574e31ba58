"""Runtime models on C3O (issue 4's benchmark): the Bellamy-style model vs Ernest vs gradient
boosting, with each split's repetition-noise floor, all measured side by side in one run.

(a) random 80/20 split over all rows; (b) 20 % of job-parameter contexts held out whole;
(c) few-shot: pretrain without the held-out contexts, fine-tune on K = 1, 3, 5 configurations of
each, predict its other scale-outs. The noise floor predicts each test row by the median of its
configuration's other repetitions. Targets: on (a) and (b) the model no worse than gradient
boosting and within 10 % of the noise floor; on (c) with K = 3 at most half of Ernest's error;
the pretraining search under 10 minutes on 2 CPUs.

By default the hyperparameters come from a fresh pretraining search (Ray Tune + Optuna TPE +
ASHA, the shipped search space) on split (a)'s training rows, timed. `--no-search` takes them
from the shipped model instead; `--smoke` runs a small, fast version (two jobs, few epochs, K = 3).

    .venv/bin/python benchmarks/runtime_models.py [--smoke] [--no-search]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from autoslo.config import load_model  # noqa: E402
from autoslo.config.model_search import ModelSearch  # noqa: E402
from autoslo.perf._loading import read_model_meta  # noqa: E402
from autoslo.perf.bellamy import TrainConfig, pretrain  # noqa: E402
from autoslo.perf.c3o import load_c3o  # noqa: E402
from autoslo.perf.evaluation import Score, evaluate, few_shot, split_rows  # noqa: E402

DATA = REPO / "data"
SEARCH_LIMIT_S = 600.0


def _shipped_config() -> TrainConfig:
    return TrainConfig.from_best(read_model_meta(DATA / "models" / "c3o-bellamy")["search"]["best"])


def _searched_config(rows: pl.DataFrame, seed: int) -> tuple[TrainConfig, float, int]:
    spec = load_model(DATA / "model_searches" / "bellamy.yml", ModelSearch)
    train = rows.filter(~pl.Series(split_rows(rows, "random", seed)))
    began = time.perf_counter()
    model = pretrain(train, spec, seed=seed)
    config = TrainConfig.from_best(model.meta["search"]["best"])
    return config, time.perf_counter() - began, spec.trials


def _ratio(a: Score, b: Score) -> str:
    return "n/a" if b.rows == 0 or a.rows == 0 else f"{a.mape / b.mape:.2f}"


def _pct(s: Score) -> str:
    return "n/a" if s.rows == 0 else f"{s.mape:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small and fast")
    parser.add_argument("--no-search", action="store_true",
                        help="use the shipped model's hyperparameters (no timed search)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    c3o = DATA / "c3o"
    files = [c3o / "grep.tsv", c3o / "sort.tsv"] if args.smoke else [c3o]
    rows = load_c3o(files)
    searched = None
    if args.smoke or args.no_search:
        config = _shipped_config()
        if args.smoke:
            config = replace(config, epochs=40, members=2)
    else:
        config, seconds, trials = _searched_config(rows, args.seed)
        searched = (seconds, trials)
    shots = [3] if args.smoke else [1, 3, 5]

    began = time.perf_counter()
    results: list[tuple[str, str, dict[str, Score]]] = [
        ("(a) random 80/20", "-", evaluate(rows, "random", config=config, seed=args.seed)),
        ("(b) held-out contexts", "-", evaluate(rows, "context", config=config, seed=args.seed)),
    ]
    for k, scores in few_shot(rows, shots, config=config, seed=args.seed).items():
        results.append(("(c) few-shot", str(k), scores))
    elapsed = time.perf_counter() - began

    print(f"C3O runtime models: {rows.height} runs, {len(files) if args.smoke else 5} jobs, seed "
          f"{args.seed}; hyperparameters lr {config.lr}, weight decay {config.weight_decay}, "
          f"dropout {config.dropout}, width {config.width}, {config.epochs} epochs, "
          f"{config.members} networks"
          + (" (smoke)" if args.smoke else ""))
    print()
    head = (f"{'split':<23}{'K':>3}{'bellamy':>10}{'ernest':>10}{'grad.boost':>12}"
            f"{'noise':>9}{'b/GB':>7}{'b/noise':>9}{'b/ernest':>10}{'rows':>7}")
    print("MAPE")
    print(head)
    for name, k, s in results:
        b, e, g, n = s["bellamy"], s["ernest"], s["gradient boosting"], s["noise floor"]
        print(f"{name:<23}{k:>3}{_pct(b):>10}{_pct(e):>10}{_pct(g):>12}{_pct(n):>9}"
              f"{_ratio(b, g):>7}{_ratio(b, n):>9}{_ratio(b, e):>10}{b.rows:>7}")
    print()
    print("MAE (s)")
    print(f"{'split':<23}{'K':>3}{'bellamy':>10}{'ernest':>10}{'grad.boost':>12}{'noise':>9}")
    for name, k, s in results:
        cells = [("n/a" if s[m].rows == 0 else f"{s[m].mae_s:.1f}")
                 for m in ("bellamy", "ernest", "gradient boosting", "noise floor")]
        print(f"{name:<23}{k:>3}{cells[0]:>10}{cells[1]:>10}{cells[2]:>12}{cells[3]:>9}")
    print()
    print("targets")
    for name, _, s in results[:2]:
        b, g, n = s["bellamy"], s["gradient boosting"], s["noise floor"]
        print(f"  {name}: bellamy/GB {b.mape / g.mape:.2f} (<= 1: "
              f"{'met' if b.mape <= g.mape else 'MISSED'}), bellamy/noise {b.mape / n.mape:.2f} (<= 1.10: "
              f"{'met' if b.mape <= 1.1 * n.mape else 'MISSED'})")
    for name, k, s in results[2:]:
        if k == "3":
            b, e = s["bellamy"], s["ernest"]
            print(f"  {name} K=3: bellamy/ernest {b.mape / e.mape:.2f} (<= 0.5: "
                  f"{'met' if b.mape <= 0.5 * e.mape else 'MISSED'})")
    if searched is not None:
        seconds, trials = searched
        print(f"  pretraining search: {trials} trials in {seconds:.0f} s, "
              f"{seconds / SEARCH_LIMIT_S:.2f} of the 600 s limit "
              f"({'met' if seconds < SEARCH_LIMIT_S else 'MISSED'})")
    print(f"evaluation wall time {elapsed:.0f} s")


if __name__ == "__main__":
    main()
