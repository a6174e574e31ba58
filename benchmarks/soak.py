"""Soak: many autoslo commands on one data tree at once, one SIGKILLed and restarted every minute.

On a private copy of the shipped data tree, for `--minutes` (default 5), loops of:

- 8 x `autoslo execute --force` on the simulator (the example manifest: all eight rewrite the
  same three result folders),
- 2 x `autoslo tune --force` (the example tuner config with `--trials` trials, Ray workers as
  the config says; both tune the same inputs, so the same tuning run folder),
- 1 x `autoslo plot --no-png` (the example plotting manifest, reading those result folders),
- 1 x `autoslo execute --live` on local PostgreSQL (30 s of TPC-H and sleep queries),

each restarted as soon as it ends. Every minute (15 s with `--smoke`) one command, in turn live,
execute, tune, plot (one that has run 8 s at least), is SIGKILLed (its main process only, as
`kill -9` would) and its loop goes on. At the end the loops get a grace period, then SIGTERM,
then SIGKILL; then `autoslo live cleanup`. It prints what ran, what failed and why, the
tracebacks found in stderr (target 0), lost rows (map.yml rows against run folders, records
still `running`; every simulator result folder complete or absent), processes a killed command
left behind after 5 s (Ray's should die with their driver; a killed live run's PostgreSQL
servers wait for cleanup), and the peak resident memory of all the commands' process trees
(every process carrying the soak's environment tag or in a command's session, however
reparented).

    .venv/bin/python benchmarks/soak.py [--minutes 5] [--smoke] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.config import WorkloadMeta  # noqa: E402
from autoslo.config.workload import WorkloadSource  # noqa: E402
from autoslo.datatree import DataTree  # noqa: E402
from autoslo.workload import save_workload  # noqa: E402

OUTPUT_FOLDERS = ("simulator_runs", "runs", "tuner_runs", "plots")
KINDS = ("live", "execute", "tune", "plot")  # the order commands are killed in
TAG = "AUTOSLO_SOAK"
RAY = re.compile(r"raylet|gcs_server|ray::|/ray/")
POSTGRES = re.compile(r"^(\S*/)?postgres(:| )")
RESULT_FILES = ("queries.parquet", "clusters.parquet", "summary.yml")
MIN_AGE_S = 8.0  # a victim has run this long (Python, Ray and PostgreSQL start-up are behind it)


@dataclass
class Launch:
    """One command started by a loop: its process, logs and how it ended."""

    role: str
    kind: str
    number: int
    process: subprocess.Popen[bytes]
    err: Path
    started: float
    killed: bool = False
    stopped: bool = False
    code: int | None = None
    ended: float | None = None
    left_behind: list[str] = field(default_factory=list)
    tree_at_kill: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.role}#{self.number}"


class Soak:
    """The data tree, the loops, the killer and the memory sampler of one soak."""

    def __init__(self, work: Path, minutes: float, trials: int, kill_every_s: float) -> None:
        self.work = work
        self.root = work / "data"
        self.logs = work / "logs"
        self.live_home = work / "live"
        self.minutes = minutes
        self.trials = trials
        self.kill_every_s = kill_every_s
        self.launches: list[Launch] = []
        self.current: dict[str, Launch] = {}
        self.lock = threading.Lock()
        self.deadline = 0.0
        self.stopping = threading.Event()
        self.sampling = threading.Event()
        self.peak_mb = 0.0
        self.peak_by_kind: Counter[str] = Counter()
        self.peak_processes = 0

    # ---- set-up -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Copy the shipped inputs, add the live workload and manifest, fill the simulator result
        folders once (so the first plots have something to read) and build the live template."""
        shutil.copytree(REPO / "data", self.root,
                        ignore=shutil.ignore_patterns(*OUTPUT_FOLDERS, "tuned"))
        self.logs.mkdir()
        self.live_home.mkdir()
        for folder in (self.work, self.live_home):
            os.chmod(folder, 0o755)  # the postgres user must reach the live home
        light = ["select pg_sleep(0.2)", "select count(*) from lineitem",
                 "select l_returnflag, sum(l_quantity) from lineitem group by 1",
                 "select count(*) from orders o join customer c on o.o_custkey = c.c_custkey"]
        rows = [(0.5 * i, light[i % len(light)]) for i in range(60)]
        frame = pl.DataFrame({"query_id": list(range(len(rows))), "arrival_s": [a for a, _ in rows],
                              "template_id": [f"s{i % len(light)}" for i in range(len(rows))],
                              "sql": [s for _, s in rows]})
        meta = WorkloadMeta(name="soak-live", start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                            queries=len(rows), source=WorkloadSource(kind="generated"))
        save_workload(DataTree(self.root), frame, meta)
        config = self.root / "execution_configs" / "live" / "soak.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump({
            "pool": {"clusters": [{"kind": "serverless", "rpu": 8, "max_concurrency": 2}]},
            "prices": "prices/aws-us-east-1.yml"}))
        (self.root / "manifests" / "execution" / "soak-live.yml").write_text(yaml.safe_dump({
            "workloads": ["workloads/soak-live"],
            "execution_configs": [{"path": "execution_configs/live/soak.yml"}],
            "live": {"target": "postgres", "scale_factor": 0.001}}))
        done = subprocess.run(self.command("execute"), env=self.env("setup", 0),
                              cwd=self.work, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"set-up `autoslo execute` failed:\n{done.stderr}")
        from autoslo.live.postgres import prepare_template

        prepare_template(0.001, DataTree(self.root), self.live_home)  # built once, before the clock

    def processes(self) -> list[Process]:
        """The living processes of every command this soak started."""
        with self.lock:
            sessions = {lc.process.pid: lc.name for lc in self.launches}
        return tagged(sessions)

    def command(self, kind: str) -> list[str]:
        """The command line of one kind of command."""
        cli = [sys.executable, "-m", "autoslo.cli"]
        manifests = self.root / "manifests"
        if kind == "execute":
            return [*cli, "execute", "--manifest", str(manifests / "execution" / "example.yml"),
                    "--force"]
        if kind == "tune":
            return [*cli, "tune", "--execution-config",
                    str(self.root / "execution_configs" / "examples" / "serverless-pool.yml"),
                    "--tuner-config", str(self.root / "tuner_configs" / "example.yml"),
                    "--param", f"TRIALS={self.trials}", "--force"]
        if kind == "plot":
            return [*cli, "plot", "--manifest", str(manifests / "plotting" / "example.yml"),
                    "--no-png"]
        return [*cli, "execute", "--manifest", str(manifests / "execution" / "soak-live.yml"),
                "--live"]

    def env(self, role: str, number: int) -> dict[str, str]:
        """The environment of one command: the data tree, the live home and the soak's tag."""
        return {**os.environ, "AUTOSLO_DATA_DIR": str(self.root),
                "AUTOSLO_LIVE_HOME": str(self.live_home), "PYTHONPATH": str(REPO),
                "RAY_AUTH_MODE": "disabled", TAG: f"{role}#{number}"}

    # ---- the loops, the killer, the sampler ---------------------------------------------------
    def loop(self, role: str, kind: str) -> None:
        """Run one kind of command again and again until the deadline."""
        number = 0
        while time.monotonic() < self.deadline and not self.stopping.is_set():
            number += 1
            err = self.logs / f"{role}-{number}.err"
            with err.open("wb") as err_file:
                process = subprocess.Popen(self.command(kind), env=self.env(role, number),
                                           cwd=self.work, stdout=subprocess.DEVNULL,
                                           stderr=err_file, start_new_session=True)
            launch = Launch(role, kind, number, process, err, time.monotonic())
            with self.lock:
                self.launches.append(launch)
                self.current[role] = launch
            launch.code = process.wait()
            launch.ended = time.monotonic()

    def kill_one(self, turn: int) -> Launch | None:
        """SIGKILL the main process of a running command, the kinds in turn: one that has run for
        `MIN_AGE_S` at least (past its start-up, so the kill lands in its work), waiting for one
        up to `MIN_AGE_S` before trying the next kind; None if none qualified."""
        for offset in range(len(KINDS)):
            kind = KINDS[(turn + offset) % len(KINDS)]
            until = time.monotonic() + MIN_AGE_S
            while True:
                with self.lock:
                    running = [lc for lc in self.current.values() if lc.kind == kind
                               and lc.process.poll() is None
                               and time.monotonic() - lc.started >= MIN_AGE_S]
                if running or time.monotonic() >= until:
                    break
                time.sleep(0.2)
            if running:
                victim = min(running, key=lambda lc: lc.started)
                victim.tree_at_kill = [p.command for p in self.processes() if p.tag == victim.name]
                victim.killed = True
                victim.process.send_signal(signal.SIGKILL)
                return victim
        return None

    def left_behind(self, launch: Launch) -> None:
        """Note the processes a killed command left alive 5 s later."""
        time.sleep(5)
        launch.left_behind = [p.command for p in self.processes() if p.tag == launch.name and p.command]

    def sample(self) -> None:
        """Peak resident memory of every tagged process, in total and per kind, twice a second."""
        while not self.sampling.is_set():
            total = 0.0
            by_kind: Counter[str] = Counter()
            processes = self.processes()
            for process in processes:
                total += process.rss_mb
                by_kind[process.tag.split("#")[0].rstrip("0123456789-")] += process.rss_mb
            self.peak_mb = max(self.peak_mb, total)
            self.peak_processes = max(self.peak_processes, len(processes))
            for kind, mb in by_kind.items():
                self.peak_by_kind[kind] = max(self.peak_by_kind[kind], mb)
            self.sampling.wait(0.5)

    def run(self) -> None:
        """The soak itself: loops, a kill every `kill_every_s`, then the end of the loops."""
        roles = ([(f"execute-{i}", "execute") for i in range(8)]
                 + [(f"tune-{i}", "tune") for i in range(2)] + [("plot", "plot"), ("live", "live")])
        self.deadline = time.monotonic() + 60 * self.minutes + 1.0  # the last kill falls inside
        sampler = threading.Thread(target=self.sample, daemon=True)
        sampler.start()
        loops = [threading.Thread(target=self.loop, args=role, daemon=True) for role in roles]
        for thread in loops:
            thread.start()
        checks = []
        began = time.monotonic()
        kills = int(60 * self.minutes / self.kill_every_s + 1e-9)
        try:
            for turn in range(kills):  # at every multiple of kill_every_s, the deadline included
                time.sleep(max(0.0, began + (turn + 1) * self.kill_every_s - time.monotonic()))
                victim = self.kill_one(turn)
                if victim is not None:
                    checks.append(threading.Thread(target=self.left_behind, args=(victim,)))
                    checks[-1].start()
            time.sleep(max(0.0, self.deadline - time.monotonic()))
        finally:
            self.stopping.set()
            self.finish(loops, grace_s=min(60.0, 10 * self.minutes))
            for thread in checks:
                thread.join()
            self.sampling.set()
            sampler.join()

    def finish(self, loops: list[threading.Thread], grace_s: float) -> None:
        """Let running commands end within `grace_s`, then SIGTERM them, then SIGKILL."""
        until = time.monotonic() + grace_s
        for thread in loops:
            thread.join(max(0.0, until - time.monotonic()))
        for sig, wait_s in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            with self.lock:
                running = [lc for lc in self.launches if lc.process.poll() is None]
            for launch in running:
                launch.stopped = True
                launch.process.send_signal(sig)
            until = time.monotonic() + wait_s
            for thread in loops:
                thread.join(max(0.0, until - time.monotonic()))

    # ---- the report --------------------------------------------------------------------------
    def report(self, cleanup: str) -> int:
        """Print what ran, what failed, tracebacks, lost rows, leftovers and memory; returns the
        number of problems (tracebacks, unexplained failures, lost or broken rows, leftovers)."""
        problems = 0
        print(f"soak: {self.minutes:g} min on {os.cpu_count()} cores, a SIGKILL every "
              f"{self.kill_every_s:g} s; data tree {self.root}")
        print("\nwhat ran (launches: ok / failed / killed by the soak / stopped at the end):")
        for kind in KINDS:
            mine = [lc for lc in self.launches if lc.kind == kind]
            ok = [lc for lc in mine if lc.code == 0 and not lc.killed]
            busy = [lc for lc in mine if refused_busy(lc)]
            failed = [lc for lc in mine if lc.code != 0 and not lc.killed and not lc.stopped
                      and not refused_busy(lc)]
            took = sorted(lc.ended - lc.started for lc in ok if lc.ended is not None)
            median = f", median {took[len(took) // 2]:.1f} s when ok" if took else ""
            print(f"  {kind:8s} {len(mine):4d}: {len(ok)} ok / {len(failed)} failed / "
                  f"{len(busy)} refused (another process writes that run, exit 2 by design) / "
                  f"{sum(lc.killed for lc in mine)} killed / {sum(lc.stopped for lc in mine)} "
                  f"stopped{median}")
        print("\nwhat failed and why (exit code, last stderr line; killed, stopped and refused "
              "not counted):")
        reasons: Counter[tuple[str, int | None, str]] = Counter()
        for launch in self.launches:
            if launch.code != 0 and not launch.killed and not launch.stopped \
                    and not refused_busy(launch):
                reasons[(launch.kind, launch.code, last_line(launch.err))] += 1
        for (kind, code, line), count in reasons.most_common():
            print(f"  {count:3d} x {kind} exit {code}: {line}")
        if not reasons:
            print("  nothing")
        problems += sum(reasons.values())
        print("\ntracebacks in stderr (target 0):")
        traces: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], Path] = {}
        for launch in self.launches:
            for error in tracebacks(launch.err):
                key = (launch.kind, error)
                traces[key] += 1
                examples.setdefault(key, launch.err)
        for (kind, error), count in traces.most_common():
            print(f"  {count:3d} x {kind}: {error}  (e.g. {examples[(kind, error)].name})")
        if not traces:
            print("  0")
        problems += sum(traces.values())
        print("\nkilled commands, what they left alive 5 s later:")
        for launch in (lc for lc in self.launches if lc.killed):
            ray = [c for c in launch.left_behind if RAY.search(c)]
            postgres = [c for c in launch.left_behind if POSTGRES.search(c)]
            other = [c for c in launch.left_behind if c not in ray and c not in postgres]
            problems += len(ray) + len(other)
            took = (launch.ended or launch.started) - launch.started
            had = len(launch.tree_at_kill)
            had_ray = sum(bool(RAY.search(c)) for c in launch.tree_at_kill)
            print(f"  {launch.name}, killed after {took:.1f} s with {had} process(es) ({had_ray} "
                  f"Ray): {len(ray)} Ray, {len(postgres)} PostgreSQL (left for cleanup), "
                  f"{len(other)} other"
                  + "".join(f"\n      {c[:110]}" for c in ray + other))
        print(f"\nautoslo live cleanup: {cleanup}")
        problems += self.report_rows()
        until = time.monotonic() + 10  # a few seconds to go, then what is left is left
        while (leftover := [p for p in self.processes() if p.command]) and time.monotonic() < until:
            time.sleep(0.5)  # (zombies have no command line)
        ray = sum(bool(RAY.search(p.command)) for p in leftover)
        print(f"\nprocesses left 10 s after the end and cleanup: {len(leftover)} (Ray {ray}, other "
              f"{len(leftover) - ray})"
              + "".join(f"\n  {p.tag}: {p.command[:110]}" for p in leftover))
        problems += len(leftover)
        print(f"\npeak memory (RSS of the commands' process trees, sampled every 0.5 s): "
              f"{self.peak_mb:.0f} MB in {self.peak_processes} processes at most; by kind: "
              + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(self.peak_by_kind.items())))
        print(f"\nproblems: {problems}")
        return problems

    def report_rows(self) -> int:
        """Lost rows: map.yml against the run folders; simulator folders complete or absent."""
        problems = 0
        runs = self.root / "runs"
        folders = sorted(p.name for p in runs.iterdir() if p.is_dir() and not p.name.startswith(
            ".")) if runs.is_dir() else []
        recorded = [f for f in folders if (runs / f / "run.yml").is_file()]
        index_path = runs / "map.yml"
        index = (yaml.safe_load(index_path.read_text()) or {}).get("runs", []) \
            if index_path.is_file() else []
        rows = {row["run_timestamp"]: row["status"] for row in index}
        statuses = Counter(rows.values())
        missing = sorted(set(recorded) - set(rows))
        extra = sorted(set(rows) - set(folders))
        unrecorded = sorted(set(folders) - set(recorded))
        running = [stamp for stamp, status in rows.items() if status == "running"]
        no_tables = [stamp for stamp, status in rows.items() if status in ("complete", "incomplete")
                     and not (runs / stamp / "queries.parquet").is_file()]
        print(f"\nlive runs: {len(folders)} folders, {len(rows)} map.yml rows ("
              + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ")")
        print(f"  folders with a record but no map.yml row: {len(missing)} {missing[:3]}")
        print(f"  map.yml rows without a folder: {len(extra)} {extra[:3]}")
        print(f"  folders without run.yml (killed while claiming): {len(unrecorded)} {unrecorded[:3]}")
        print(f"  still `running` after cleanup: {len(running)} {running[:3]}")
        print(f"  complete/incomplete without queries.parquet (killed before the first "
              f"checkpoint): {len(no_tables)} {no_tables[:3]}")
        problems += len(missing) + len(extra) + len(unrecorded) + len(running)
        sim = self.root / "simulator_runs"
        results = [c for w in sorted(sim.iterdir()) if w.is_dir() and not w.name.startswith(".")
                   for c in sorted(w.iterdir()) if c.is_dir() and not c.name.startswith(".")] \
            if sim.is_dir() else []
        broken = [f"{p.parent.name}/{p.name}: {why}" for p in results
                  if (why := incomplete_result(p)) is not None]
        litter = [p for p in sim.rglob(".*") if not p.name.endswith(".lock")] \
            if sim.is_dir() else []  # lock files stay by design (filelock)
        print(f"simulator result folders: {len(results)}, incomplete: {len(broken)}"
              + "".join(f"\n  {b}" for b in broken))
        print(f"  temporary leftovers (.tmp/.old of killed writers): {len(litter)}"
              + "".join(f"\n  {p.relative_to(self.root)}" for p in litter[:5]))
        problems += len(broken)
        tuner = self.root / "tuner_runs"
        for folder in sorted(tuner.iterdir()) if tuner.is_dir() else []:
            if not folder.is_dir():  # its lock files
                continue
            finished = (folder / "summary.yml").is_file()
            print(f"tuner run {folder.name}: {'finished (summary.yml)' if finished else 'unfinished'}")
        return problems


@dataclass(frozen=True)
class Process:
    """One living process that carries the soak's tag (the command it belongs to)."""

    pid: int
    tag: str
    command: str
    rss_mb: float


def tagged(sessions: dict[int, str]) -> list[Process]:
    """Every living process of the soak's commands: those whose environment carries the soak's
    tag (all a command started, however reparented) or that sit in a command's session (each
    command leads its own; Ray's agents keep it but overwrite their environment with their
    title). `sessions` maps a session id to its command's tag."""
    found = []
    prefix = f"{TAG}=".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            env = (entry / "environ").read_bytes().split(b"\0")
            tag = next((v[len(prefix):].decode() for v in env if v.startswith(prefix)),
                       sessions.get(int(fields[3])))
            if tag is None or fields[0] in ("Z", "X"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            status = (entry / "status").read_text()
        except (OSError, IndexError):
            continue  # it ended meanwhile
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        found.append(Process(int(entry.name), tag, command, int(match.group(1)) / 1024 if match
                             else 0.0))
    return found


def refused_busy(launch: Launch) -> bool:
    """A second writer of one run told so by design (exit 2, "is being written by process")."""
    return launch.code == 2 and "is being written by" in last_line(launch.err)


def last_line(path: Path) -> str:
    """The last non-empty line of a log (the error a command printed), shortened."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:160] if lines else "(no stderr)"


def tracebacks(path: Path) -> list[str]:
    """The exception line of every Python traceback in a log."""
    lines = path.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            rest = [x for x in lines[i + 1:] if x.strip() and not x.startswith((" ", "\t"))]
            found.append(rest[0][:160] if rest else "(cut off)")
    return found


def incomplete_result(folder: Path) -> str | None:
    """Why a simulator result folder is not complete, or None when it is."""
    missing = [name for name in RESULT_FILES if not (folder / name).is_file()]
    if missing:
        return f"lacks {', '.join(missing)}"
    try:
        summary = yaml.safe_load((folder / "summary.yml").read_text())
        queries = pl.read_parquet(folder / "queries.parquet")
        pl.read_parquet(folder / "clusters.parquet")
    except Exception as exc:  # any unreadable file is the finding
        return f"unreadable ({type(exc).__name__}: {exc})"[:160]
    if not isinstance(summary, dict) or summary.get("queries") != queries.height:
        return f"summary.yml says {summary.get('queries') if isinstance(summary, dict) else '?'} " \
               f"queries, queries.parquet has {queries.height}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--smoke", action="store_true", help="Half a minute, a kill every 15 s.")
    parser.add_argument("--kill-every-s", type=float, default=None,
                        help="Seconds between kills (default 60; 15 with --smoke).")
    parser.add_argument("--trials", type=int, default=None,
                        help="Trials per tune (default 16; 4 with --smoke).")
    parser.add_argument("--keep", action="store_true", help="Keep the data tree and logs.")
    args = parser.parse_args()
    minutes = 0.5 if args.smoke else args.minutes
    trials = args.trials or (4 if args.smoke else 16)
    work = Path(tempfile.mkdtemp(prefix="autoslo-soak-", dir="/tmp"))
    soak = Soak(work, minutes, trials,
                kill_every_s=args.kill_every_s or (15.0 if args.smoke else 60.0))
    try:
        soak.prepare()
        soak.run()
        done = subprocess.run([sys.executable, "-m", "autoslo.cli", "live", "cleanup"],
                              env=soak.env("cleanup", 0), cwd=work, capture_output=True, text=True)
        cleanup = (done.stdout.strip().replace("\n", "; ") if done.returncode == 0
                   else f"exit {done.returncode}: {last_line_of(done.stderr)}")
        problems = soak.report(cleanup)
    finally:
        for process in soak.processes():  # whatever the commands left alive, by pid
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if problems else 0)


def last_line_of(text: str) -> str:
    """The last non-empty line of a text."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


if __name__ == "__main__":
    main()
