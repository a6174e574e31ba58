"""Make the small example workload in data/workloads/example (deterministic for a seed).

Two hours of Poisson arrivals whose rate rises and falls (a compressed business day), six
TPC-H-like templates with log-normal isolated runtimes measured on an 8-RPU Serverless workgroup,
two query groups (short `dashboard` queries, long `etl` ones) and five users. The workloads issue's
generator replaces this script; until then it is the one example the other parts run on.

    python scripts/make_example_workload.py [--seed 7] [--out data/workloads/example]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import yaml

DURATION_S = 2 * 3600.0
PEAK_RATE_PER_S = 0.5
BASE_RATE_PER_S = 0.1
# template_id -> (query_group, median isolated runtime at 8 RPU in s, log-normal sigma, weight)
TEMPLATES: dict[str, tuple[str, float, float, float]] = {
    "q01": ("dashboard", 1.5, 0.25, 0.30),
    "q03": ("dashboard", 3.0, 0.30, 0.25),
    "q06": ("dashboard", 0.8, 0.20, 0.20),
    "q09": ("etl", 25.0, 0.35, 0.10),
    "q13": ("etl", 12.0, 0.30, 0.10),
    "q18": ("etl", 40.0, 0.40, 0.05),
}
USERS = [f"user_{i}" for i in range(1, 6)]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def rate_per_s(t: np.ndarray) -> np.ndarray:
    """A single smooth peak in the middle of the window."""
    return BASE_RATE_PER_S + (PEAK_RATE_PER_S - BASE_RATE_PER_S) * np.sin(np.pi * t / DURATION_S) ** 2


def make_queries(seed: int) -> pl.DataFrame:
    """Arrivals by thinning a homogeneous Poisson process; templates and runtimes per arrival."""
    rng = np.random.default_rng(seed)
    candidates = np.cumsum(rng.exponential(1.0 / PEAK_RATE_PER_S, size=int(DURATION_S * PEAK_RATE_PER_S * 2)))
    candidates = candidates[candidates < DURATION_S]
    keep = rng.random(candidates.size) < rate_per_s(candidates) / PEAK_RATE_PER_S
    arrivals = candidates[keep]
    names = list(TEMPLATES)
    weights = np.array([TEMPLATES[n][3] for n in names])
    picks = rng.choice(len(names), size=arrivals.size, p=weights / weights.sum())
    medians = np.array([TEMPLATES[n][1] for n in names])[picks]
    sigmas = np.array([TEMPLATES[n][2] for n in names])[picks]
    runtimes = medians * np.exp(sigmas * rng.standard_normal(arrivals.size))
    return pl.DataFrame({
        "query_id": np.arange(arrivals.size, dtype=np.int64),
        "arrival_s": np.round(arrivals, 3),
        "template_id": [names[i] for i in picks],
        "query_group": [TEMPLATES[names[i]][0] for i in picks],
        "user": [USERS[i] for i in rng.integers(0, len(USERS), size=arrivals.size)],
        "runtime_s": np.round(runtimes, 3),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data/workloads/example"))
    args = parser.parse_args()
    queries = make_queries(args.seed)
    meta = {
        "name": args.out.name,
        "description": "Two hours of dashboard and ETL queries with one peak (example).",
        "start": START,
        "source": {"kind": "generated",
                   "details": {"script": "scripts/make_example_workload.py", "seed": args.seed}},
        "queries": queries.height,
        "reference": {"kind": "serverless", "rpu": 8},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".queries.parquet.tmp"
    queries.write_parquet(tmp)
    tmp.replace(args.out / "queries.parquet")
    tmp_meta = args.out / ".workload.yml.tmp"
    tmp_meta.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    tmp_meta.replace(args.out / "workload.yml")
    print(f"wrote {args.out}: {queries.height} queries over {DURATION_S / 3600:.0f} h")


if __name__ == "__main__":
    main()
