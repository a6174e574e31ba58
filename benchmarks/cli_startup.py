"""How fast the command line answers, measured side by side in one run.

Prints the median wall time of `autoslo --help` and `autoslo validate` (all shipped inputs)
against a bare `python -c pass` and against importing the heavy stack the CLI keeps out of
startup, and their ratios. Run from the repository root: `.venv/bin/python benchmarks/cli_startup.py`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._timing import median_wall_s  # noqa: E402

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "autoslo --help": [sys.executable, "-m", "autoslo.cli", "--help"],
    "autoslo validate": [sys.executable, "-m", "autoslo.cli", "validate"],
    "import heavy stack": [sys.executable, "-c",
                           "import torch, ray, prefect, polars, optuna, numba, plotly"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="one repeat, for CI")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats
    results = {name: median_wall_s(cmd, repeats, REPO) for name, cmd in COMMANDS.items()}
    base = results["python -c pass"]
    heavy = results["import heavy stack"]
    print(f"{'command':<22}{'median s':>10}{'x python':>10}{'x heavy':>10}   (repeats={repeats})")
    for name, seconds in results.items():
        print(f"{name:<22}{seconds:>10.3f}{seconds / base:>10.1f}{seconds / heavy:>10.2f}")


if __name__ == "__main__":
    main()
