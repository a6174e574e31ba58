"""The event engine of this checkout against another checkout's, side by side in one run.

Each round runs every case of `benchmarks/simulator.py` (wlm-static, sls-ps-ll, sls-auto) through
the compiled `event_loop` in a fresh process per checkout, alternating A and B, and keeps the best
queries/s per checkout; the ratio B/A says how much faster (>1) or slower this checkout is. Used to
hold a refactor of the engine to "no case more than 5 % slower".

    .venv/bin/python benchmarks/engine_ab.py --base /path/to/other/checkout [--rounds 5] [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks.simulator import AUTOSCALED, PRICES, SERVERLESS, WLM, workload
from autoslo.config import ExecutionConfig
from autoslo.sim import _engine
from autoslo.sim._prepare import prepare
n, repeats = int(sys.argv[2]), int(sys.argv[3])
out = {}
for name, (cfg, lam, swing) in {"wlm-static": (WLM, 8.0, False), "sls-ps-ll": (SERVERLESS, 6.4, False),
                                "sls-auto": (AUTOSCALED, 6.4, True)}.items():
    config = ExecutionConfig.model_validate({**cfg, "prices": PRICES})
    p = prepare(workload(n, lam, swing=swing), config, None)
    args = p.engine_args()
    _engine.event_loop(*prepare(workload(200, lam, swing=swing), config, None).engine_args())
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        _engine.event_loop(*args)
        best = min(best, time.perf_counter() - began)
    out[name] = n / best
print(json.dumps(out))
"""


def rates(checkout: Path, n: int, repeats: int) -> dict[str, float]:
    """One fresh process: best-of-`repeats` queries/s per case for that checkout's engine."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(checkout), str(n), str(repeats)],
                          check=True, capture_output=True, text=True, env=env, cwd=checkout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (A)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    best: dict[str, dict[str, float]] = {"A": {}, "B": {}}
    for _ in range(args.rounds):
        for label, checkout in (("A", args.base.resolve()), ("B", REPO)):
            for case, rate in rates(checkout, args.n, args.repeats).items():
                best[label][case] = max(best[label].get(case, 0.0), rate)
    print(f"A = {args.base.resolve()}, B = {REPO}; best of {args.rounds} rounds x {args.repeats} "
          f"runs, n = {args.n:,}")
    print(f"{'case':<12}{'A queries/s':>16}{'B queries/s':>16}{'B/A':>8}")
    for case in best["A"]:
        a, b = best["A"][case], best["B"][case]
        print(f"{case:<12}{a:>16,.0f}{b:>16,.0f}{b / a:>8.3f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
