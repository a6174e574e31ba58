"""What running autoslo as Prefect flows costs, measured side by side (issue 9).

1. Memory: `python flows/execute.py` (one Prefect server for the script, shared by the Ray
   workers through PREFECT_API_URL) against calling the same flow with no API configured (Prefect
   starts a temporary server in the flow process and, as stack.md warns, Ray workers start their
   own). Peak resident memory of the whole process tree and the number of server processes seen.
2. Time: `autoslo execute --force` (the library, no Prefect) against `python flows/execute.py
   --force` on the example manifest, and `make demo`'s flow script end to end.

    .venv/bin/python benchmarks/flows.py [--smoke]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NAIVE = ("import sys; sys.path.insert(0, 'flows'); from execute import execute; "
         "execute(manifest='manifests/execution/example.yml', force=True)")


def _tree_rss_mb(root_pid: int) -> tuple[float, int]:
    """Resident memory of a process and all its descendants (MB), and how many are servers."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ppid = int(fields["PPid"].strip())
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, servers, stack = 0, 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        command = commands.get(pid, "")
        servers += ("server start" in command) or ("uvicorn" in command and "prefect" in command)
        stack += children.get(pid, [])
    return total / 1024, servers


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, int, int]:
    """Wall time, peak tree RSS (MB), most server processes at once, exit code."""
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    peak, servers = 0.0, 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, servers
        while not done.is_set():
            mb, count = _tree_rss_mb(process.pid)
            peak, servers = max(peak, mb), max(servers, count)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    return time.perf_counter() - began, peak, servers, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="skip the naive run and the demo")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autoslo-flows-bench-"))
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns(
        "simulator_runs", "runs", "tuner_runs", "plots", "tuned"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update({"AUTOSLO_DATA_DIR": str(root / "data"), "RAY_AUTH_MODE": "disabled",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(root / "home")})
    rows = [("autoslo execute --force (library, no Prefect)",
             measure([str(BIN / "autoslo"), "execute", "--manifest",
                      str(root / "data/manifests/execution/example.yml"), "--force"], env)),
            ("python flows/execute.py --force (one server, shared)",
             measure([sys.executable, "flows/execute.py", "--force"], env))]
    if not args.smoke:
        rows.append(("flow called with no Prefect API (naive)",
                     measure([sys.executable, "-c", NAIVE], env)))
        rows.append(("python flows/demo.py (tune -> execute -> plot)",
                     measure([sys.executable, "flows/demo.py"], env)))
    print(f"{'':<55}{'wall s':>8}{'peak RSS MB':>13}{'servers':>9}{'exit':>6}")
    for name, (wall, peak, servers, code) in rows:
        print(f"{name:<55}{wall:>8.1f}{peak:>13.0f}{servers:>9}{code:>6}")
    library, shared = rows[0][1], rows[1][1]
    print(f"flow vs library: {shared[0] / library[0]:.1f}x the wall time, "
          f"{shared[1] / library[1]:.1f}x the memory (Prefect server + Ray workers)")
    if not args.smoke:
        naive = rows[2][1]
        print(f"naive vs shared server: {naive[1] / shared[1]:.2f}x the peak memory, "
              f"{naive[2]} vs {shared[2]} server process(es) at once")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
