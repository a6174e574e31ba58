"""The simulator's output: the query and cluster tables and a summary, and how they are written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from autoslo.atomic import replace_dir
from autoslo.slo import latency_percentile

SIMULATOR_VERSION = "1"
STATUS_NAMES = ("ok", "timeout", "failed", "aborted")


STATUS = pl.Enum(STATUS_NAMES)


def status_names(codes: np.ndarray) -> pl.Series:
    """Engine status codes to the result table's status column (an Enum of STATUS_NAMES)."""
    return pl.Series("status", STATUS_NAMES, dtype=STATUS).gather(codes.astype(np.int64))


@dataclass(frozen=True)
class SimResult:
    """queries (one row per query), clusters (one row per cluster's life), summary (totals)."""

    queries: pl.DataFrame
    clusters: pl.DataFrame
    summary: dict[str, Any]

    @classmethod
    def build(cls, queries: pl.DataFrame, clusters: pl.DataFrame, *, workload_id: str,
              execution_config_id: str | None, engine: str, seconds: float,
              horizon_s: float, latency_model: str | None = None) -> SimResult:
        latency = queries["latency_s"].to_numpy()
        codes = queries["status"].to_physical().to_numpy()
        counts = dict(zip(STATUS_NAMES, np.bincount(codes, minlength=len(STATUS_NAMES)).tolist(),
                          strict=True))
        # the percentiles compare and the SLO scoring report: unfinished queries as inf
        finished = np.where(codes == 0, latency, np.inf)
        p50, p95, p99 = ([latency_percentile(finished, q) for q in (50, 95, 99)]
                         if latency.size else (None, None, None))
        summary: dict[str, Any] = {
            "simulator_version": SIMULATOR_VERSION,
            "engine": engine,
            "workload_id": workload_id,
            "execution_config_id": execution_config_id,
            "latency_model": latency_model,  # the config's (kappa targets in compare need it)
            "queries": queries.height,
            "status": counts,
            "cost_usd": round(float(clusters["cost_usd"].sum()), 6),
            "clusters": clusters.height,
            "horizon_s": round(horizon_s, 6),
            "latency_s": {
                "mean": _round(latency.mean()) if latency.size else None,
                "p50": _round(p50), "p95": _round(p95), "p99": _round(p99),
            },
            "queue_s_mean": _round(queries["queue_s"].mean()),
            "simulation_s": round(seconds, 6),
        }
        return cls(queries, clusters, summary)

    def write(self, folder: Path) -> None:
        """Replace `folder` atomically with queries.parquet, clusters.parquet and summary.yml."""
        with replace_dir(folder) as tmp:
            # column statistics would cost more than the simulation at 10^6 rows
            self.queries.write_parquet(tmp / "queries.parquet", compression="lz4",
                                       statistics=False)
            self.clusters.write_parquet(tmp / "clusters.parquet", compression="lz4")
            (tmp / "summary.yml").write_text(yaml.safe_dump(self.summary, sort_keys=False),
                                             encoding="utf-8")

    def one_line(self) -> str:
        """A one-line summary for the command line."""
        s = self.summary
        lat = s["latency_s"]
        bad = {k: v for k, v in s["status"].items() if k != "ok" and v}
        return (f"{s['queries']} queries on {s['clusters']} cluster(s): cost "
                f"{s['cost_usd']:.4f} USD, latency p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s, "
                f"p99 {lat['p99']:.2f} s"
                + ("".join(f", {v} {k}" for k, v in bad.items()))
                + f" ({s['engine']} engine, {s['simulation_s']:.3f} s)")


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)
