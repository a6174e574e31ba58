"""The `plot` flow: a plotting manifest's panels drawn as Ray tasks, then rendered to PNG/HTML
with one browser in the flow's process.

    python flows/plot.py --manifest manifests/plotting/example.yml [--live]

Deployed as `plot/default` (prefect.yaml). Same library calls as `autoslo plot`.
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from autoslo.orchestrate import (
    flow_data_tree,
    input_path,
    result_settings,
    run_script,
    ship_by_value,
    task_runner,
    user_mistakes_fail_cleanly,
)
from autoslo.plots import PngRenderer, assemble_plot, draw_panel, prepare_plot, render_plot

ship_by_value(__name__)


@task(cache_policy=NO_CACHE)
def draw(panel: Any) -> Any:
    """One panel's figure parts and table."""
    return draw_panel(panel)


@flow(name="plot", task_runner=task_runner(), log_prints=True, **result_settings())
@user_mistakes_fail_cleanly
def plot(manifest: str = "manifests/plotting/example.yml", live: bool = False,
         png: bool = True) -> dict[str, Any]:
    """Draw a plotting manifest into data/plots/<name>.png, .html and the panels' CSVs."""
    logger = get_run_logger()
    with flow_data_tree() as tree:
        prepared = prepare_plot(input_path(tree, manifest, "manifest"), tree, live=live,
                                warn=logger.warning)
        drawn = [future.result() for future in draw.map(prepared.panels)]
        built = assemble_plot(prepared, drawn)
        if png:
            with PngRenderer() as renderer:
                outcome = render_plot(built, tree, renderer)
        else:
            outcome = render_plot(built, tree, None)
        written = [tree.relative(p) for p in (outcome.png, outcome.html) if p is not None]
        logger.info(f"{outcome.name}: {', '.join(written)} (+ {len(outcome.tables)} CSV tables)")
        return {"name": outcome.name, "png": written[0] if outcome.png else None,
                "html": tree.relative(outcome.html)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default="manifests/plotting/example.yml")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--no-png", action="store_true")
    args = parser.parse_args()
    run_script(lambda: plot(manifest=args.manifest, live=args.live, png=not args.no_png,
                            return_state=True))


if __name__ == "__main__":
    main()
