"""The `execute` flow: every (workload, execution config) combination of an execution manifest,
on the simulator (combinations mapped as Ray tasks) or live (one after another).

    python flows/execute.py --manifest manifests/execution/example.yml [--live] [--force]

Deployed as `execute/default` (prefect.yaml). Same library calls as `autoslo execute`.
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

from autoslo.combinations import Combination, manifest_combinations
from autoslo.config import ExecutionManifest, load_model
from autoslo.datatree import DataTree
from autoslo.orchestrate import (
    flow_data_tree,
    input_path,
    result_settings,
    run_script,
    ship_by_value,
    task_runner,
    user_mistakes_fail_cleanly,
)
from autoslo.sim.folders import simulate_combination


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def simulate(combination: Combination, root: str, force: bool) -> dict[str, Any]:
    """Simulate one combination into its folder (or reuse it); returns where and what."""
    import os

    outcome = simulate_combination(combination, DataTree(root), force=force)
    return {"label": combination.label, "folder": str(outcome.folder), "reused": outcome.reused,
            "pid": os.getpid(), **{k: outcome.summary[k] for k in ("queries", "cost_usd")},
            "p95_s": outcome.summary["latency_s"]["p95"]}

ship_by_value(__name__)


@task(cache_policy=NO_CACHE)
def replay_live(combination: Combination, manifest: ExecutionManifest, root: str,
                yes: bool) -> dict[str, Any]:
    """One live run (in the flow's process: live runs must not share the machine's cores)."""
    from autoslo.live.run import describe, execute_live

    outcome = execute_live(combination, manifest.live, DataTree(root), yes=yes,
                           say=get_run_logger().info)
    get_run_logger().info(describe(outcome))
    return {"label": combination.label, "folder": str(outcome.folder),
            "status": outcome.record.status, "cost_usd": outcome.summary["cost_usd"]}


@flow(name="execute", task_runner=task_runner(), log_prints=True, **result_settings())
@user_mistakes_fail_cleanly
def execute(manifest: str = "manifests/execution/example.yml", live: bool = False,
            force: bool = False, yes: bool = False) -> list[dict[str, Any]]:
    """Run a manifest's combinations on the simulator (mapped on Ray) or live."""
    logger = get_run_logger()
    with flow_data_tree() as tree:
        path = input_path(tree, manifest, "manifest")
        parsed = load_model(path, ExecutionManifest)
        combinations = manifest_combinations(parsed, tree, source=manifest)
        logger.info(f"{len(combinations)} combination(s) from {manifest}"
                    + (" (live)" if live else ""))
        root = str(tree.root.resolve())
        if live:
            results = [replay_live(c, parsed, root, yes) for c in combinations]
        else:
            futures = simulate.map(combinations, unmapped(root), unmapped(force))
            results = [f.result() for f in futures]
        for r in results:
            logger.info(f"{r['label']}: cost {r['cost_usd']:.4f} USD -> {r['folder']}")
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default="manifests/execution/example.yml")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--yes", action="store_true")
    args = parser.parse_args()
    run_script(lambda: execute(manifest=args.manifest, live=args.live, force=args.force,
                               yes=args.yes, return_state=True))


if __name__ == "__main__":
    main()
