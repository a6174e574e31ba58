"""Prefect flow `pretrain`: pretrain the Bellamy-style runtime model on C3O data.

The Ray Tune search (Optuna TPE + ASHA, 2 CPUs) runs inside the one task; the logic lives in
`autoslo.perf.bellamy.pretrain_to_folder`, the same function `autoslo model pretrain` calls.

    python flows/pretrain.py --data data/c3o --out data/models/c3o-bellamy --trials 12
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow, task


@task
def pretrain_model(data: list[str], out: str, search: str, trials: int | None,
                   seed: int | None) -> dict[str, Any]:
    """Search, train and write the model folder; returns its validation scores."""
    from autoslo.perf.bellamy import pretrain_to_folder

    command = " ".join(["python flows/pretrain.py", *(f"--data {d}" for d in data), f"--out {out}",
                        f"--search {search}", *([f"--trials {trials}"] if trials else []),
                        *([f"--seed {seed}"] if seed is not None else [])])
    model = pretrain_to_folder([Path(d) for d in data], Path(out), Path(search), trials=trials,
                               seed=seed, command=command)
    return {"out": out, "validation": model.meta["scores"]["validation"],
            "best": model.meta["search"]["best"], "seconds": model.meta["search"]["seconds"]}


@flow(name="pretrain")
def pretrain(data: list[str] | None = None, out: str = "data/models/c3o-bellamy",
             search: str = "data/model_searches/bellamy.yml", trials: int | None = None,
             seed: int | None = None) -> dict[str, Any]:
    """Pretrain the runtime model (defaults: all C3O jobs, the shipped search space)."""
    return pretrain_model(data or ["data/c3o"], out, search, trials, seed)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="C3O .tsv file or folder (repeatable)")
    parser.add_argument("--out", default="data/models/c3o-bellamy")
    parser.add_argument("--search", default="data/model_searches/bellamy.yml")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    print(pretrain(args.data, args.out, args.search, args.trials, args.seed))
