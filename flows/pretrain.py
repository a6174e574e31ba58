"""The `pretrain` flow: pretrain the Bellamy-style runtime model on C3O data.

The Ray Tune search (Optuna TPE + ASHA, 2 CPUs) runs inside the one task; the logic lives in
`autoslo.perf.bellamy.pretrain_to_folder`, the same function `autoslo model pretrain` calls.
Paths are data-relative (`c3o`, `models/c3o-bellamy`), like every flow's inputs.

    python flows/pretrain.py --data c3o --out models/c3o-bellamy [--trials 12]

Deployed as `pretrain/default` (prefect.yaml).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from autoslo.orchestrate import (
    flow_data_tree,
    input_path,
    output_path,
    result_settings,
    run_script,
    user_mistakes_fail_cleanly,
)


@task(cache_policy=NO_CACHE)
def pretrain_model(data: list[Path], out: Path, search: Path, trials: int | None,
                   seed: int | None, command: str) -> dict[str, Any]:
    """Search, train and write the model folder; returns its validation scores."""
    from autoslo.perf.bellamy import pretrain_to_folder

    model = pretrain_to_folder(data, out, search, trials=trials, seed=seed, command=command)
    return {"out": str(out), "validation": model.meta["scores"]["validation"],
            "best": model.meta["search"]["best"], "seconds": model.meta["search"]["seconds"]}


@flow(name="pretrain", log_prints=True, **result_settings())
@user_mistakes_fail_cleanly
def pretrain(data: list[str] | None = None, out: str = "models/c3o-bellamy",
             search: str = "model_searches/bellamy.yml", trials: int | None = None,
             seed: int | None = None) -> dict[str, Any]:
    """Pretrain the runtime model (defaults: all C3O jobs, the shipped search space)."""
    data = data or ["c3o"]
    command = " ".join(["python flows/pretrain.py", *(f"--data {d}" for d in data), f"--out {out}",
                        f"--search {search}", *([f"--trials {trials}"] if trials else []),
                        *([f"--seed {seed}"] if seed is not None else [])])
    with flow_data_tree() as tree:
        return pretrain_model([input_path(tree, d, "data", folder_ok=True) for d in data],
                              output_path(tree, out, "out"), input_path(tree, search, "search"),
                              trials, seed, command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="C3O .tsv file or folder (repeatable)")
    parser.add_argument("--out", default="models/c3o-bellamy")
    parser.add_argument("--search", default="model_searches/bellamy.yml")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    run_script(lambda: pretrain(args.data, args.out, args.search, args.trials, args.seed,
                                return_state=True))


if __name__ == "__main__":
    main()
