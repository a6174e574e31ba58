"""Wall time of whole commands, shared by the benchmarks."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path


def median_wall_s(command: list[str], repeats: int, cwd: Path) -> float:
    """Median wall time of `repeats` runs of `command` (single runs swing on shared machines)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)
