"""`make demo`: tune the example Serverless pool, execute the initial and the tuned config, and
plot both, through the three flows (on the simulator), then say where the PNG is and what the
tuned config saves.

    python flows/demo.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling flows, run as subflows

from execute import execute
from plot import plot
from tune import tune

from autoslo.orchestrate import run_script, user_mistakes_fail_cleanly


@flow(name="demo", log_prints=True)
@user_mistakes_fail_cleanly
def demo() -> dict[str, Any]:
    """tune -> execute (initial vs tuned) -> plot, each its own flow run."""
    logger = get_run_logger()
    (summary,) = tune(manifest="manifests/tuning/example.yml")
    results = {r["label"]: r for r in execute(manifest="manifests/execution/demo.yml")}
    drawn = plot(manifest="manifests/plotting/demo.yml")
    initial, tuned = results["initial"], results["tuned"]
    saving = 1 - tuned["cost_usd"] / initial["cost_usd"]
    message = (f"plot: data/{drawn['png']} (and data/{drawn['html']}); tuned config "
               f"data/{summary.tuned_config} costs {tuned['cost_usd']:.4f} USD vs "
               f"{initial['cost_usd']:.4f} USD initial on the example workload: {saving:.1%} less "
               f"(violation {summary.validation.violation:.2%} on the validation "
               "scenarios)")
    logger.info(message)
    return {"message": message}


def main() -> None:
    result: dict[str, Any] = {}

    def call() -> Any:
        state = demo(return_state=True)
        if state.is_completed():
            result.update(state.result())
        return state

    run_script(call)
    print(result["message"])


if __name__ == "__main__":
    main()
