"""Plot and compare speed, measured side by side in one run (issue 8's benchmark).

Aggregation: 100 synthetic runs of 10^5 queries each (random arrivals, lognormal latencies,
0.1 % timeouts; written here, not simulator output) scored against a per-template SLO spec by
`results.per_run` in one lazy pass, against the peer path of reading each run eagerly and
scoring it with `slo.score`. Each side runs in a fresh process so its peak memory is its own.
Targets: aggregation under 5 s.

Rendering: the shipped 6-panel example manifest on the simulator results of the shipped execution
example (executed here into a temporary copy of data/): building the panels, the first PNG (it
starts Chromium), each additional PNG with that browser kept open, against a PNG rendered the
default way (a new browser per image). Target: each additional PNG under 0.5 s.

    .venv/bin/python benchmarks/plots.py [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPEC = {"tau": 0.1, "default": {"latency_s": 30.0},
        "targets": [{"template_id": f"q{i:02d}", "latency_s": 5.0 + 3 * i} for i in range(1, 11)]}


def write_runs(root: Path, runs: int, queries: int) -> list[Path]:
    """Synthetic run folders in the result-table format (a benchmark fixture)."""
    import numpy as np
    import polars as pl

    folders = []
    for index in range(runs):
        rng = np.random.default_rng(index)
        arrival = np.cumsum(rng.exponential(0.05, queries))
        queue = rng.exponential(0.5, queries) * (rng.random(queries) < 0.3)
        run = rng.lognormal(1.0 + 0.002 * index, 1.0, queries)
        status = np.where(rng.random(queries) < 0.001, "timeout", "ok")
        folder = root / f"run{index:03d}"
        folder.mkdir(parents=True)
        pl.DataFrame({
            "query_id": np.arange(queries), "template_id": rng.choice(
                [f"q{i:02d}" for i in range(1, 13)], queries),
            "arrival_s": arrival, "start_s": arrival + queue, "end_s": arrival + queue + run,
            "queue_s": queue, "latency_s": queue + run, "cluster_id": rng.integers(0, 3, queries),
            "status": status}).write_parquet(folder / "queries.parquet")
        pl.DataFrame({"cluster_id": [0, 1, 2], "kind": ["serverless"] * 3, "size": [8, 8, 16],
                      "ready_s": [0.0] * 3, "removed_s": [float(arrival[-1])] * 3,
                      "queries": [1, 1, 1], "cost_usd": [1.0, 1.5, 2.0 + index / 100]}
                     ).write_parquet(folder / "clusters.parquet")
        folders.append(folder)
    return folders


def child(mode: str, root: Path) -> None:
    """Aggregate every run under `root` one way; print seconds, peak RSS and a checksum."""
    import polars as pl

    from autoslo.config import SloSpec
    from autoslo.datatree import DataTree
    from autoslo.results import References, RunSource, per_run
    from autoslo.slo import score

    spec = SloSpec.model_validate(SPEC)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    began = time.perf_counter()
    if mode == "lazy":
        table = per_run([RunSource(p.name, p) for p in folders], spec, References(DataTree(root)))
        rates = table["violation_rate"].to_list()
    else:
        rates = []
        for folder in folders:
            queries = pl.read_parquet(folder / "queries.parquet")
            pl.read_parquet(folder / "clusters.parquet")["cost_usd"].sum()
            rates.append(score(queries, spec).violation_rate)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "checksum": round(sum(rates), 9)}))


def run_child(mode: str, root: Path) -> dict[str, float]:
    """Run one aggregation in a fresh process (its own peak memory) and read its numbers."""
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(root)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def aggregation(runs: int, queries: int) -> None:
    """Time and peak memory of lazy aggregation against eager per-run scoring."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        write_runs(root, runs, queries)
        size_mb = sum(p.stat().st_size for p in root.rglob("*.parquet")) / 2**20
        print(f"aggregation: {runs} runs x {queries:,} queries ({size_mb:.0f} MB of parquet, "
              f"written in {time.perf_counter() - began:.1f} s)")
        lazy, eager = run_child("lazy", root), run_child("eager", root)
        assert abs(lazy["checksum"] - eager["checksum"]) < 1e-6, (lazy, eager)
        print(f"  results.per_run (lazy, batched)    {lazy['seconds']:6.2f} s  peak "
              f"{lazy['peak_mb']:6.0f} MB")
        print(f"  read + slo.score per run (eager)   {eager['seconds']:6.2f} s  peak "
              f"{eager['peak_mb']:6.0f} MB")
        print(f"  speed-up {eager['seconds'] / lazy['seconds']:.1f}x, peak memory ratio "
              f"{lazy['peak_mb'] / eager['peak_mb']:.2f}; same violation rates: yes; "
              f"target < 5 s: {'met' if lazy['seconds'] < 5 else 'MISSED'}")


def rendering(repeats: int) -> None:
    """Time building and rendering the 6-panel example: first PNG, then with the browser reused."""
    from autoslo.cli import app
    from autoslo.datatree import DataTree
    from autoslo.plots import PngRenderer, build_plot, validated

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns(
            "simulator_runs", "runs", "tuner_runs", "plots", "tuned"))
        with contextlib.redirect_stdout(io.StringIO()):
            app(["--data-dir", str(data), "execute", "--manifest",
                 str(data / "manifests/execution/example.yml")], standalone_mode=False)
        tree = DataTree(data)
        manifest = data / "manifests/plotting/example.yml"
        began = time.perf_counter()
        built = build_plot(manifest, tree)
        build_s = time.perf_counter() - began
        panels = len(built.tables)
        began = time.perf_counter()
        with PngRenderer() as renderer:
            first = renderer.png(built.figure)
            first_s = time.perf_counter() - began
            times, floor = [], []
            empty = validated({"data": [], "layout": {"width": built.figure["layout"]["width"],
                                                      "height": built.figure["layout"]["height"]}})
            for _ in range(repeats):
                began = time.perf_counter()
                renderer.png(built.figure)
                times.append(time.perf_counter() - began)
                began = time.perf_counter()
                renderer.png(empty)  # Kaleido's own cost per image (it reloads its page after each)
                floor.append(time.perf_counter() - began)
        import plotly.graph_objects as go

        began = time.perf_counter()
        go.Figure(built.figure).to_image(format="png")  # the default: a browser per image
        cold_s = time.perf_counter() - began
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        extra = statistics.median(times)
        print(f"rendering: the {panels}-panel example manifest ({len(first) / 1024:.0f} KB PNG)")
        print(f"  build panels (aggregate + figure)   {build_s:6.2f} s")
        print(f"  first PNG (starts Chromium)         {first_s:6.2f} s")
        print(f"  each additional PNG, browser reused {extra:6.2f} s  (median of {repeats}, max "
              f"{max(times):.2f} s)")
        print(f"  an empty figure, browser reused     {statistics.median(floor):6.2f} s  (Kaleido's "
              "floor per image)")
        print(f"  one PNG with a new browser          {cold_s:6.2f} s")
        print(f"  reusing the browser is {cold_s / extra:.1f}x faster per image; peak memory of "
              f"this process {peak_mb:.0f} MB; target < 0.5 s (median): "
              f"{'met' if extra < 0.5 else 'MISSED'}")


def main() -> None:
    """Run both parts at full size, or small with --smoke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (times "
          "scale with other work on the machine)")
    if args.smoke:
        aggregation(runs=10, queries=10_000)
        rendering(repeats=2)
    else:
        aggregation(runs=100, queries=100_000)
        rendering(repeats=9)


if __name__ == "__main__":
    main()
