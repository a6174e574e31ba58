"""Every command refuses user mistakes the same way: exit 2, exactly one stderr line naming the
file, field, rule and value, no traceback, nothing created, changed or removed under data/.

One table of cases: the command line, the input files it needs (written before the data tree is
listed) and environment variables, and the rule text the one line must contain. Everything runs
in this process through the real entry point (`cli`), except the two cases whose point is that no
server or network is needed (they run as subprocesses with a clean environment).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, snapshot

Writer = Callable[[Path], None]


# ---- input files -------------------------------------------------------------------------------

def text(content: str) -> Writer:
    """A text file with `content`."""
    return lambda path: path.write_text(content, encoding="utf-8")


def data(content: bytes) -> Writer:
    """A file holding exactly these bytes (b"" for an empty file)."""
    return lambda path: path.write_bytes(content)


def as_yaml(content: object) -> Writer:
    """A YAML file as `yaml.safe_dump` writes it (timestamps in text are quoted)."""
    return lambda path: path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def csv(header: str, *rows: str) -> Writer:
    """A CSV file: a header line and rows, as given."""
    return text("\n".join([header, *rows]) + "\n")


def parquet(**columns: list) -> Writer:
    """A parquet file with these columns."""
    def write(path: Path) -> None:
        import polars as pl

        pl.DataFrame(columns).write_parquet(path)
    return write


def example_queries(change: Callable | None = None) -> Writer:
    """The example workload's queries.parquet, optionally changed (a polars frame -> frame)."""
    def write(path: Path) -> None:
        import polars as pl

        frame = pl.read_parquet(REPO / "data" / "workloads" / "example" / "queries.parquet")
        (change(frame) if change else frame).write_parquet(path)
    return write


def empty_queries(path: Path) -> None:
    """A queries table with the workload columns and no rows."""
    example_queries(lambda f: f.head(0))(path)


def symlink(target: str) -> Writer:
    """A symbolic link to `target` (relative to the test's working folder)."""
    return lambda path: path.symlink_to(Path.cwd() / target)


def truncated_weights(path: Path) -> None:
    """The shipped model's weights.pt cut to half its length."""
    whole = (REPO / "data" / "models" / "c3o-bellamy" / "weights.pt").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def copy_model(name: str = "c3o-bellamy") -> list[tuple[str, Writer]]:
    """A copy of a shipped model folder under in/<name> (outside the data tree)."""
    folder = REPO / "data" / "models" / name
    return [(f"in/{name}/{p.name}", data(p.read_bytes())) for p in folder.iterdir() if p.is_file()]


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CLOSED_PORT = _closed_port()
HISTORY = "query_id,start_time,execution_time,query_text"
REDSET = "instance_id,query_id,arrival_timestamp,execution_duration_ms,feature_fingerprint"
GENERATOR = yaml.safe_load((REPO / "data" / "generators" / "diurnal.yml").read_text())
SERVERLESS = "data/execution_configs/examples/serverless-pool.yml"
PROVISIONED = "data/execution_configs/examples/provisioned-wlm.yml"
EXAMPLE = "data/workloads/example"
NO_AWS = (("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None), ("AWS_PROFILE", None),
          ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"), ("AWS_CONFIG_FILE", "/nonexistent"),
          ("AWS_EC2_METADATA_DISABLED", "true"))


def generator(**changes: object) -> Writer:
    """The shipped diurnal generator spec with some keys changed, written by yaml.safe_dump."""
    return as_yaml({**GENERATOR, **changes})


def redshift_manifest(**live: object) -> Writer:
    """An execution manifest replaying the example workload on Redshift."""
    return as_yaml({"workloads": ["workloads/example"],
                    "execution_configs": [{"path": "execution_configs/examples/serverless-pool.yml"}],
                    "live": {"target": "redshift", "suite": "tpch", "region": "us-east-1", **live}})


def meta_with(**changes: object) -> Writer:
    """The example workload.yml with some keys changed (text timestamps, as safe_dump writes)."""
    raw = yaml.safe_load((REPO / "data" / "workloads" / "example" / "workload.yml").read_text())
    raw = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.items()}
    return as_yaml({**raw, **changes})


# ---- the cases ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """A command line, the files it reads, the environment, and the rule its one line states."""

    id: str
    args: str
    expected: str
    files: list[tuple[str, Writer]] = field(default_factory=list)
    env: tuple[tuple[str, str | None], ...] = ()  # None: unset


def case(id: str, args: str, expected: str, *files: tuple[str, Writer],
         env: tuple[tuple[str, str | None], ...] = ()) -> Case:
    return Case(id, args, expected, list(files), env)


CASES = [
    # -- the command line itself -----------------------------------------------------------------
    case("unknown command", "frobnicate", "No such command 'frobnicate'"),
    case("unknown option", "simulate --workload x --config y --speed 3",
         "autoslo simulate: No such option: --speed"),
    case("missing option", f"simulate --config {SERVERLESS}", "Missing option '--workload'"),
    case("option needs a number", f"workload rescale {EXAMPLE} --factor fast",
         "autoslo workload rescale: Invalid value for '--factor': Input should be a valid number, "
         "unable to parse string as a number, got 'fast' (see `autoslo workload rescale --help`)"),
    case("sub-command missing argument", "workload slice --from 2026-11-02T00:00:00Z --to x",
         "autoslo workload slice: Missing argument 'workload'."),

    # -- validate --------------------------------------------------------------------------------
    case("a data root that does not exist", "--data-dir nowhere validate",
         "no input files found to validate"),
    case("validate a missing path", "validate data/slos/none.yml", "data/slos/none.yml: does not exist"),
    case("validate a file as a workload", "validate data/slos/example.yml --kind workload",
         "data/slos/example.yml: a workload is a folder (queries.parquet + workload.yml), got a file"),
    case("validate an unknown --kind", "validate data/slos/example.yml --kind recipe",
         "--kind must be one of execution-config"),
    case("generator start is no timestamp", "validate data/generators/x.yml",
         "data/generators/x.yml: start: must be a timestamp with a time zone (e.g. "
         "2026-11-22T00:00:00Z), got 'yesterday at noon'",
         ("data/generators/x.yml", generator(start="yesterday at noon"))),
    case("generator start text without a zone", "validate data/generators/x.yml",
         "data/generators/x.yml: start: must carry a time zone (e.g. 2026-11-22T00:00:00Z), got "
         "2026-11-02T10:00:00", ("data/generators/x.yml", generator(start="2026-11-02T10:00:00"))),
    case("generator impossible date", "validate data/generators/x.yml",
         "start: must be a timestamp with a time zone (e.g. 2026-11-22T00:00:00Z), got "
         "'2026-13-45T99:00:00Z'", ("data/generators/x.yml", generator(start="2026-13-45T99:00:00Z"))),
    case("generator negative rate", "validate data/generators/x.yml",
         "rate.mean_per_s: must be > 0, got -1.0",
         ("data/generators/x.yml", generator(rate={"profile": "constant", "mean_per_s": -1.0}))),
    case("generator bursty without bursts", "validate data/generators/x.yml",
         "rate.bursts: is required for the bursty profile",
         ("data/generators/x.yml", generator(rate={"profile": "bursty", "mean_per_s": 1.0}))),
    case("generator mix without medians", "validate data/generators/x.yml",
         "runtimes.medians_s: has no median for template(s) q22 of the mix",
         ("data/generators/x.yml", generator(mix={"q01": 1, "q22": 1}))),
    case("generator name with a slash", "validate data/generators/x.yml",
         "name: name must not contain '/', got 'a/b'", ("data/generators/x.yml", generator(name="a/b"))),
    case("workload.yml start text without a zone", f"validate {EXAMPLE}",
         "data/workloads/example/workload.yml: start: must carry a time zone",
         ("data/workloads/example/workload.yml", meta_with(start="2026-11-02T09:00:00"))),
    case("workload.yml query count off", f"validate {EXAMPLE}",
         "data/workloads/example/queries.parquet: workload.yml says queries: 5, but "
         "queries.parquet has 2108 rows", ("data/workloads/example/workload.yml",
                                           meta_with(queries=5))),
    case("workload queries not parquet", f"validate {EXAMPLE}",
         "data/workloads/example/queries.parquet: is not a readable parquet file",
         ("data/workloads/example/queries.parquet", data(b"not parquet at all"))),
    case("workload query_id as text", f"validate {EXAMPLE}",
         "data/workloads/example/queries.parquet: query_id: must be of integer type, got String",
         ("data/workloads/example/queries.parquet",
          example_queries(lambda f: f.with_columns(f["query_id"].cast(str))))),
    case("workload null template", f"validate {EXAMPLE}",
         "data/workloads/example/queries.parquet: template_id: must not be null, got 1 null(s)",
         ("data/workloads/example/queries.parquet", example_queries(
             lambda f: f.with_columns(template_id=f["template_id"].scatter(3, None))))),
    case("workload zero runtime", f"validate {EXAMPLE}",
         "data/workloads/example/queries.parquet: runtime_s: must be > 0, got 0.0",
         ("data/workloads/example/queries.parquet", example_queries(
             lambda f: f.with_columns(runtime_s=f["runtime_s"].scatter(0, 0.0))))),
    case("prices date is no date", "validate data/prices/x.yml",
         "data/prices/x.yml: as_of: must be a date (YYYY-MM-DD), got 'last week'",
         ("data/prices/x.yml", lambda p: p.write_text(re.sub(
             r"(?m)^as_of:.*$", "as_of: last week",
             (REPO / "data/prices/aws-us-east-1.yml").read_text())))),
    case("symlinked config that is wrong", "validate data/execution_configs/t/link.yml",
         "data/execution_configs/t/link.yml: router.policy: must be one of",
         ("in/bad.yml", text("pool:\n  clusters:\n    - {kind: serverless, rpu: 8}\n"
                             "router: {policy: fastest}\n")),
         ("data/execution_configs/t/link.yml", symlink("in/bad.yml"))),
    case("model search unknown key", "validate data/model_searches/x.yml",
         "data/model_searches/x.yml: trialz: unknown key (allowed here: ",
         ("data/model_searches/x.yml", lambda p: p.write_text(
             (REPO / "data/model_searches/bellamy.yml").read_text() + "trialz: 3\n"))),
    case("slo percentile out of range", "validate data/slos/x.yml",
         "percentiles[0].percentile: must be between 0.1 and 100, got 150",
         ("data/slos/x.yml", text("tau: 0.1\ndefault: {latency_s: 5}\n"
                                  "percentiles: [{percentile: 150, latency_s: 3}]\n"))),
    case("slo with no target", "validate data/slos/x.yml",
         "data/slos/x.yml: targets: the spec sets no target: give targets, a default or percentiles",
         ("data/slos/x.yml", text("tau: 0.1\n"))),
    case("--set value of the wrong type", f"validate {SERVERLESS} --set pool.clusters.0.rpu=big",
         "pool.clusters[0].rpu (from --set): must be an integer, got 'big'"),
    case("--set without =", f"validate {SERVERLESS} --set pool.clusters.0.rpu",
         "--set needs KEY=VALUE, got 'pool.clusters.0.rpu'"),
    case("--param without =", "validate data/execution_configs/examples/mmc.yml --param SLOTS",
         "--param needs KEY=VALUE, got 'SLOTS'"),

    # -- simulate --------------------------------------------------------------------------------
    case("simulate a missing workload", f"simulate --workload data/workloads/none --config {SERVERLESS}",
         "data/workloads/none: does not exist (expected a workload folder or a .parquet file)"),
    case("simulate a CSV workload", f"simulate --workload in/w.csv --config {SERVERLESS}",
         "in/w.csv: expected a workload folder or a .parquet file", ("in/w.csv", csv("a", "1"))),
    case("simulate a folder without workload.yml",
         f"simulate --workload data/workloads --config {SERVERLESS}",
         "data/workloads: is not a workload folder (it has no workload.yml)"),
    case("simulate 0 rows", f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: has 0 rows; a workload needs at least one query", ("in/w.parquet", empty_queries)),
    case("simulate NaN runtimes", f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: runtime_s: must be finite (use null to let the latency model decide), got "
         "NaN or infinity", ("in/w.parquet", example_queries(
             lambda f: f.with_columns(runtime_s=f["runtime_s"] * float("nan"))))),
    case("simulate a negative arrival", f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: arrival_s: must be >= 0 (seconds from the workload start), got -1.0 at row 0",
         ("in/w.parquet", example_queries(
             lambda f: f.with_columns(arrival_s=f["arrival_s"].scatter(0, -1.0))))),
    case("simulate a garbage parquet", f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: is not a readable parquet file", ("in/w.parquet", data(b"PAR1 broken"))),
    case("simulate an unsafe workload file name",
         f"simulate --workload 'in/my w.parquet' --config {SERVERLESS}",
         "workload file name may only use the characters [A-Za-z0-9._=-], got 'my w'",
         ("in/my w.parquet", example_queries())),
    case("simulate without its runtimes and no model",
         f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: runtime_s: 2108 queries have no runtime_s and the execution config names "
         "no latency model",
         ("in/w.parquet", example_queries(lambda f: f.drop("runtime_s")))),
    case("simulate null runtimes and no model", f"simulate --workload in/w.parquet --config {SERVERLESS}",
         "in/w.parquet: runtime_s: 1 queries have no runtime_s and the execution config names no "
         "latency model (latency_model.model); give one or fill runtime_s",
         ("in/w.parquet", example_queries(
             lambda f: f.with_columns(runtime_s=f["runtime_s"].scatter(5, None))))),
    case("simulate a missing config", f"simulate --workload {EXAMPLE} --config data/none.yml",
         "data/none.yml: file does not exist"),
    case("simulate with a placeholder left",
         f"simulate --workload {EXAMPLE} --config data/execution_configs/examples/mmc.yml",
         "unresolved placeholder ${SLOTS}; pass --param SLOTS=VALUE"),
    case("simulate a missing model",
         f"simulate --workload {EXAMPLE} --config {SERVERLESS} --set latency_model.model=models/none",
         "model folder data/models/none does not exist"),
    case("simulate a missing SLO",
         f"simulate --workload {EXAMPLE} --config {SERVERLESS} --slo data/slos/none.yml",
         "data/slos/none.yml: file does not exist"),
    case("simulate a malformed SLO",
         f"simulate --workload {EXAMPLE} --config {SERVERLESS} --slo in/s.yml",
         "in/s.yml: malformed YAML", ("in/s.yml", text("tau: [0.1\n"))),

    case("simulate --out onto a folder of inputs",
         f"simulate --workload {EXAMPLE} --config {SERVERLESS} --out data/templates",
         "--out data/templates: exists and is not a simulator result folder (it has no "
         "summary.yml), so it is not replaced"),
    case("simulate --out onto a file",
         f"simulate --workload {EXAMPLE} --config {SERVERLESS} --out data/slos/example.yml",
         "--out data/slos/example.yml: is a file; --out takes a folder for the simulator result"),
    case("simulate with an SLO spec as the config",
         f"simulate --workload {EXAMPLE} --config data/slos/example.yml",
         "data/slos/example.yml: is not a file of kind execution-config: none of its top-level keys "
         "(description, tau, reference, default, targets, percentiles) is one of its keys"),

    # -- execute ---------------------------------------------------------------------------------
    case("execute without a manifest", "execute", "--manifest is required"),
    case("execute a missing manifest", "execute --manifest data/manifests/execution/none.yml",
         "data/manifests/execution/none.yml: file does not exist"),
    case("execute a manifest with a missing workload", "execute --manifest data/manifests/execution/x.yml",
         "workloads[0]: workload folder data/workloads/nope does not exist",
         ("data/manifests/execution/x.yml", as_yaml({"workloads": ["workloads/nope"],
                                                     "execution_configs": [{"path": SERVERLESS[5:]}]}))),
    case("execute an unknown live target", "execute --manifest data/manifests/execution/x.yml --live",
         "live.target: must be one of",
         ("data/manifests/execution/x.yml", redshift_manifest(target="oracle"))),
    case("execute on redshift without --yes", "execute --manifest data/manifests/execution/x.yml --live",
         "re-run with --yes to go ahead (nothing was created)",
         ("data/manifests/execution/x.yml", redshift_manifest())),
    case("execute on redshift above the cost cap",
         "execute --manifest data/manifests/execution/x.yml --live --yes",
         "above live.max_cost_usd 0.01 USD; nothing was created",
         ("data/manifests/execution/x.yml", redshift_manifest(max_cost_usd=0.01))),
    case("execute on redshift without credentials",
         "execute --manifest data/manifests/execution/x.yml --live --yes",
         "no AWS credentials", ("data/manifests/execution/x.yml", redshift_manifest()), env=NO_AWS),
    case("execute --calibrate without --suite", f"execute --calibrate --config {SERVERLESS}",
         "--calibrate takes --config and --suite (and no --manifest)"),

    # -- tune ------------------------------------------------------------------------------------
    case("tune with nothing to tune", "tune", "give --execution-config and --tuner-config, or --manifest"),
    case("tune a missing manifest", "tune --manifest data/manifests/tuning/none.yml --dry-run",
         "data/manifests/tuning/none.yml: file does not exist"),
    case("tune a manifest and configs", f"tune --manifest data/manifests/tuning/example.yml "
         f"--execution-config {SERVERLESS} --dry-run", "--manifest names its runs' configs and values"),
    case("tune a tuner config with no trials",
         f"tune --execution-config {SERVERLESS} --tuner-config data/tuner_configs/x.yml --dry-run",
         "data/tuner_configs/x.yml: n_trials: must be between 1 and 100000, got 0",
         ("data/tuner_configs/x.yml", text(
             "workload: {kind: fixed, path: workloads/example}\nslo: slos/example.yml\nn_trials: 0\n"
             "search_space:\n  router.policy: {type: categorical, choices: [round_robin]}\n"))),
    case("tune a tuner config with a bad date",
         f"tune --execution-config {SERVERLESS} --tuner-config data/tuner_configs/x.yml --dry-run",
         "must be a date (YYYY-MM-DD), got '2026-02-30'",
         ("data/tuner_configs/x.yml", text(
             "workload: {kind: forecast, history: workloads/example, date: '2026-02-30', "
             "scenarios: 4}\nslo: slos/example.yml\nn_trials: 5\n"
             "search_space:\n  router.policy: {type: categorical, choices: [round_robin]}\n"))),

    # -- plot ------------------------------------------------------------------------------------
    case("plot without a manifest", "plot", "Missing option '--manifest'"),
    case("plot a missing manifest", "plot --manifest data/manifests/plotting/none.yml --no-png",
         "data/manifests/plotting/none.yml: file does not exist"),
    case("plot an unknown panel", "plot --manifest data/manifests/plotting/x.yml --no-png",
         "panels[0].type: must be one of",
         ("data/manifests/plotting/x.yml", text("panels:\n  - type: pie\n    points: [{tuner_run: t}]\n"))),
    case("plot a run that does not exist", "plot --manifest data/manifests/plotting/example.yml --no-png",
         "autoslo execute --manifest"),
    case("plot a corrupt run index", "plot --manifest data/manifests/plotting/example.yml --no-png --live",
         "data/runs/map.yml: is not a run index", ("data/runs/map.yml", text("runs: [1, 2\n"))),

    # -- compare ---------------------------------------------------------------------------------
    case("compare an impossible timestamp", "compare 20991301T999999999Z --slo data/slos/example.yml",
         "run timestamp must be a real UTC date and time (YYYYMMDDTHHMMSSmmmZ, e.g. "
         "20261122T101112345Z), got '20991301T999999999Z'"),
    case("compare a folder that is no run", "compare data/workloads --slo data/slos/example.yml",
         "data/workloads is not a run folder (it has no queries.parquet)"),
    case("compare without --slo", "compare data/workloads", "Missing option '--slo'"),
    case("compare a run with a broken summary", "compare in/run --slo data/slos/example.yml",
         "in/run/summary.yml: is not valid YAML", ("in/run/queries.parquet", example_queries()),
         ("in/run/summary.yml", text("workload_id: [example\n"))),
    case("compare a run whose table is no parquet", "compare in/run --slo data/slos/example.yml",
         "in/run/queries.parquet: is not a readable parquet file",
         ("in/run/queries.parquet", data(b"garbage"))),
    case("compare a run naming an unsafe workload", "compare in/run --slo data/slos/example.yml",
         "in/run/summary.yml: workload_id: workload id must not contain '/', got 'a/b'",
         ("in/run/queries.parquet", example_queries()), ("in/run/summary.yml", text("workload_id: a/b\n"))),
    case("compare a run lacking result columns", "compare in/run --slo in/s.yml",
         "in/run/queries.parquet: lacks column(s) start_s, end_s, queue_s, latency_s, cluster_id, "
         "status", ("in/run/queries.parquet", example_queries()),
         ("in/s.yml", text("tau: 0.1\ndefault: {latency_s: 5}\n"))),
    case("compare kappa targets without runtimes or model",
         "compare in/sim/example/x --slo in/kappa.yml",
         "no latency model is known for the run (its summary.yml records none): pass --model "
         "models/<name>",
         ("in/kappa.yml", text("tau: 0.1\nreference: {kind: serverless, rpu: 8}\n"
                               "default: {kappa: 3}\n")),
         ("in/sim/example/x/queries.parquet", parquet(
             query_id=[0], template_id=["q01"], arrival_s=[0.0], start_s=[0.0], end_s=[1.0],
             queue_s=[0.0], latency_s=[1.0], cluster_id=[0], status=["ok"])),
         ("in/sim/example/x/clusters.parquet", parquet(
             cluster_id=[0], kind=["serverless"], size=[8], ready_s=[0.0], removed_s=[1.0],
             cost_usd=[0.1])),
         ("in/sim/example/x/summary.yml", text("workload_id: nort\n")),
         ("data/workloads/nort/workload.yml", meta_with(name="nort", queries=1)),
         ("data/workloads/nort/queries.parquet", parquet(query_id=[0], arrival_s=[0.0],
                                                         template_id=["q01"]))),

    # -- calibrate -------------------------------------------------------------------------------
    case("calibrate a missing config", "calibrate --config data/none.yml --suite tpch",
         "data/none.yml: file does not exist"),
    case("calibrate sizes that are no integers", f"calibrate --config {SERVERLESS} --suite tpch --sizes 8,x",
         "--sizes takes comma-separated integers, got '8,x'"),
    case("calibrate on redshift", f"calibrate --config {SERVERLESS} --suite tpch --target redshift",
         "Invalid value for '--target'"),

    # -- export ----------------------------------------------------------------------------------
    case("export an unknown format", f"export {PROVISIONED} --format yaml",
         "--format must be wlm-json or aws-cli, got 'yaml'"),
    case("export WLM JSON of a Serverless pool", f"export {SERVERLESS} --format wlm-json",
         "has no provisioned cluster, so no WLM JSON: use --format aws-cli"),
    case("export a missing config", "export data/none.yml", "data/none.yml: file does not exist"),
    case("export an SLO spec", "export data/slos/example.yml",
         "data/slos/example.yml: is not a file of kind execution-config"),

    # -- storage and live ------------------------------------------------------------------------
    case("storage without a block", "storage push", "no storage: pass --block NAME or set AUTOSLO_STORAGE",
         env=(("AUTOSLO_STORAGE", ""),)),
    case("storage block spec with a slash", "storage pull --block s3-bucket/a/b",
         "AUTOSLO_STORAGE must look like s3-bucket/<block-name>, got 's3-bucket/a/b'"),
    case("storage path leaving the tree", "storage push ../etc --block b", "must not contain '..'"),
    case("live cleanup of an unknown target", "live cleanup --target oracle",
         "--target must be postgres, duckdb or redshift, got 'oracle'"),
    case("an AWS profile that does not exist", "live cleanup --target redshift --region us-east-1",
         "AWS credentials: The config profile (nowhere) could not be found",
         env=(*NO_AWS, ("AWS_PROFILE", "nowhere"))),
    case("live cleanup on redshift without credentials", "live cleanup --target redshift --region us-east-1",
         "no AWS credentials", env=NO_AWS),

    # -- workload generate / slice / rescale / scale / merge -------------------------------------
    case("generate a missing spec", "workload generate data/generators/none.yml",
         "data/generators/none.yml: file does not exist"),
    case("generate from an execution config", f"workload generate {SERVERLESS}",
         "is not a file of kind generator-spec: none of its top-level keys (description, pool, "
         "router, autoscaler, contention, prices) is one of its keys (description"),
    case("generate with a seed too large", "workload generate data/generators/diurnal.yml "
         "--seed 5000000000", "--seed must be between 0 and 4294967295, got 5000000000"),
    case("generate with a negative seed", "workload generate data/generators/diurnal.yml --seed -1",
         "Invalid value for '--seed': Input should be greater than or equal to 0, got '-1'"),
    case("scale with a negative seed", f"workload scale {EXAMPLE} --factor 2 --seed -1",
         "Invalid value for '--seed': Input should be greater than or equal to 0, got '-1'"),
    case("finetune with a negative seed", "model finetune --model data/models/c3o-bellamy "
         "--data data/c3o/sort.tsv --out in/m --seed -1",
         "Invalid value for '--seed': Input should be greater than or equal to 0, got '-1'"),
    case("generate from an unknown suite", "workload generate data/generators/x.yml",
         "suite", ("data/generators/x.yml", generator(suite="tpcx"))),
    case("slice from no timestamp", f"workload slice {EXAMPLE} --from noon --to 2026-11-02T16:00:00Z",
         "--from must be an ISO timestamp with a time zone (e.g. 2026-11-02T09:00:00Z), got 'noon'"),
    case("slice from without a zone",
         f"workload slice {EXAMPLE} --from 2026-11-02T12:00:00 --to 2026-11-02T16:00:00Z",
         "--from needs a time zone (e.g. 2026-11-02T00:00:00Z), got 2026-11-02T12:00:00"),
    case("slice reversed", f"workload slice {EXAMPLE} --from 2026-11-02T16:00:00Z --to 2026-11-02T12:00:00Z",
         "`--from < --to` must hold"),
    case("slice an empty window",
         f"workload slice {EXAMPLE} --from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z",
         "no queries of 'example' arrive between"),
    case("slice to a bad name",
         f"workload slice {EXAMPLE} --from 2026-11-02T09:00:00Z --to 2026-11-02T10:00:00Z --name a/b",
         "--name must not contain '/', got 'a/b'"),
    case("rescale to a name with a slash", f"workload rescale {EXAMPLE} --factor 0.5 --name a/b",
         "--name must not contain '/', got 'a/b'"),
    case("rescale to a name with ..", f"workload rescale {EXAMPLE} --factor 0.5 --name ..x",
         "--name must not contain '..', got '..x'"),
    case("rescale by zero", f"workload rescale {EXAMPLE} --factor 0", "--factor must be > 0, got 0.0"),
    case("rescale a bare parquet", "workload rescale in/w.parquet --factor 2",
         "workload 'w' has no workload.yml (its start time is unknown); use a workload folder",
         ("in/w.parquet", example_queries())),
    case("rescale a missing workload", "workload rescale data/workloads/none --factor 2",
         "data/workloads/none: does not exist"),
    case("scale by a negative factor", f"workload scale {EXAMPLE} --factor -1",
         "--factor must be > 0, got -1.0"),
    case("scale to a name with a space", f"workload scale {EXAMPLE} --factor 2 --name 'a b'",
         "--name may only use the characters [A-Za-z0-9._=-], got 'a b'"),
    case("merge one workload", f"workload merge {EXAMPLE} --name both",
         "merge needs at least two workloads, got 1"),
    case("merge to a bad name", f"workload merge {EXAMPLE} data/workloads/redshift-sls-wg0 --name a/b",
         "--name must not contain '/', got 'a/b'"),
    case("merge a missing workload", f"workload merge {EXAMPLE} data/workloads/none --name both",
         "data/workloads/none: does not exist"),

    # -- workload import redset ------------------------------------------------------------------
    case("redset missing file", "workload import redset in/none.parquet --instance 0 --name r",
         "in/none.parquet: file does not exist"),
    case("redset wrong suffix", "workload import redset in/r.txt --instance 0 --name r",
         "in/r.txt: must be a .parquet or .csv file, got '.txt'", ("in/r.txt", text("x\n"))),
    case("redset 0-byte CSV", "workload import redset in/r.csv --instance 0 --name r",
         "in/r.csv: file is empty (0 bytes)", ("in/r.csv", data(b""))),
    case("redset missing column", "workload import redset in/r.csv --instance 0 --name r",
         "in/r.csv: required column(s) missing: feature_fingerprint",
         ("in/r.csv", csv("instance_id,query_id,arrival_timestamp,execution_duration_ms",
                          "0,1,2024-03-01 10:00:00,5"))),
    case("redset instance absent", "workload import redset in/r.csv --instance 7 --name r",
         "--instance 7 has no rows (instances present include: 0)",
         ("in/r.csv", csv(REDSET, "0,1,2024-03-01 10:00:00,5,11"))),
    case("redset query id no integer", "workload import redset in/r.csv --instance 0 --name r",
         "in/r.csv: query_id: must be an integer, got 'q1' (1 row(s) break it)",
         ("in/r.csv", csv(REDSET, "0,q1,2024-03-01 10:00:00,5,11", "0,2,2024-03-01 10:00:01,5,11"))),
    case("redset negative duration", "workload import redset in/r.csv --instance 0 --name r",
         "in/r.csv: execution_duration_ms: must be >= 0 milliseconds, got -5 (1 row(s) are negative)",
         ("in/r.csv", csv(REDSET, "0,1,2024-03-01 10:00:00,-5,11", "0,2,2024-03-01 10:00:01,5,11"))),
    case("redset mixed zones", "workload import redset in/r.csv --instance 0 --name r",
         "arrival_timestamp: timestamps in mixed time zones (offsets found: +01:00, +02:00)",
         ("in/r.csv", csv(REDSET, "0,1,2024-03-01T10:00:00+01:00,5,11",
                          "0,2,2024-03-01T10:00:01+02:00,5,11"))),
    case("redset to a bad name", "workload import redset in/r.csv --instance 0 --name a/b",
         "--name must not contain '/', got 'a/b'", ("in/r.csv", csv(REDSET, "0,1,2024-03-01 10:00:00,5,11"))),

    # -- workload import query-history -----------------------------------------------------------
    case("history query id no integer", "workload import query-history in/h.csv --name h",
         "in/h.csv: query_id: must be an integer, got 'abc' (1 row(s) break it)",
         ("in/h.csv", csv(HISTORY, "abc,2026-11-02 10:00:00,1000,select 1",
                          "2,2026-11-02 10:00:01,1000,select 2"))),
    case("history query id a fraction", "workload import query-history in/h.parquet --name h",
         "in/h.parquet: query_id: must be an integer, got 1.5 (1 row(s) break it)",
         ("in/h.parquet", parquet(query_id=[1.5, 2.0], start_time=["2026-11-02 10:00:00"] * 2,
                                  execution_time=[1000, 1000], query_text=["select 1"] * 2))),
    case("history null query id", "workload import query-history in/h.csv --name h",
         "in/h.csv: query_id: must not be null, got 1 null(s)",
         ("in/h.csv", csv(HISTORY, ",2026-11-02 10:00:00,1000,select 1",
                          "2,2026-11-02 10:00:01,1000,select 2"))),
    case("history 0-byte CSV", "workload import query-history in/h.csv --name h",
         "in/h.csv: file is empty (0 bytes); it needs a header row naming the columns",
         ("in/h.csv", data(b""))),
    case("history header only", "workload import query-history in/h.csv --name h",
         "in/h.csv: no rows to import", ("in/h.csv", csv(HISTORY))),
    case("history time in words", "workload import query-history in/h.csv --name h",
         "in/h.csv: start_time: must be an ISO timestamp (e.g. 2026-11-02 10:00:00 or "
         "2026-11-02T10:00:00Z), got 'yesterday at noon' (1 row(s) do not parse)",
         ("in/h.csv", csv(HISTORY, "1,yesterday at noon,1000,select 1",
                          "2,2026-11-02 10:00:01,1000,select 2"))),
    case("history impossible time", "workload import query-history in/h.csv --name h",
         "start_time: must be an ISO timestamp (e.g. 2026-11-02 10:00:00 or 2026-11-02T10:00:00Z), "
         "got '2026-13-45 99:00:00' (2 row(s) do not parse)",
         ("in/h.csv", csv(HISTORY, "1,2026-13-45 99:00:00,1000,select 1",
                          "2,2026-02-30 10:00:00,1000,select 2", "3,2026-11-02 10:00:01,1,x"))),
    case("history unparsable beside a Z time", "workload import query-history in/h.csv --name h",
         "start_time: must be an ISO timestamp (e.g. 2026-11-02 10:00:00 or 2026-11-02T10:00:00Z), "
         "got 'yesterday at noon' (1 row(s) do not parse)",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02T10:00:00Z,1000,select 1",
                          "2,yesterday at noon,1000,select 2"))),
    case("history zoned and naive times", "workload import query-history in/h.csv --name h",
         "start_time: timestamps in mixed time zones (offsets found: Z, none)",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02T10:00:00Z,1000,select 1",
                          "2,2026-11-02 10:00:01,1000,select 2"))),
    case("history null time", "workload import query-history in/h.csv --name h",
         "in/h.csv: start_time: must not be null (every query needs its arrival time), got 1 null(s)",
         ("in/h.csv", csv(HISTORY, "1,,1000,select 1", "2,2026-11-02 10:00:01,1000,select 2"))),
    case("history negative execution time", "workload import query-history in/h.csv --name h",
         "in/h.csv: execution_time: must be >= 0 microseconds, got -5 (2 row(s) are negative)",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02 10:00:00,-5,select 1",
                          "2,2026-11-02 10:00:01,-7,select 2", "3,2026-11-02 10:00:02,9,select 3"))),
    case("history execution time in words", "workload import query-history in/h.csv --name h",
         "in/h.csv: execution_time: must be a number of microseconds, got 'fast' (1 row(s) break it)",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02 10:00:00,fast,select 1",
                          "2,2026-11-02 10:00:01,7,select 2"))),
    case("history missing column", "workload import query-history in/h.csv --name h",
         "in/h.csv: required column(s) missing: query_text (present: query_id, start_time, "
         "execution_time)", ("in/h.csv", csv("query_id,start_time,execution_time",
                                             "1,2026-11-02 10:00:00,5"))),
    case("history to a bad name", "workload import query-history in/h.csv --name a/b",
         "--name must not contain '/', got 'a/b'",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02 10:00:00,5,select 1"))),
    case("history size zero", "workload import query-history in/h.csv --name h --size 0",
         "Invalid value for '--size': Input should be greater than or equal to 1, got '0'",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02 10:00:00,5,select 1"))),
    case("history size no integer", "workload import query-history in/h.csv --name h --size big",
         "Invalid value for '--size': Input should be a valid integer, unable to parse string "
         "as an integer, got 'big'",
         ("in/h.csv", csv(HISTORY, "1,2026-11-02 10:00:00,5,select 1"))),
    case("history not CSV inside", "workload import query-history in/h.parquet --name h",
         "in/h.parquet: is not a readable query history export", ("in/h.parquet", text("a,b\n1,2\n"))),

    # -- workload forecast / backtest / tpch-data ------------------------------------------------
    case("forecast a bad date", f"workload forecast --history {EXAMPLE} --date tomorrow --name f",
         "--date must be YYYY-MM-DD, got 'tomorrow'"),
    case("forecast no scenarios", f"workload forecast --history {EXAMPLE} --date 2026-11-03 --name f "
         "--scenarios 0", "--scenarios must be between 1 and"),
    case("forecast to a bad name", f"workload forecast --history {EXAMPLE} --date 2026-11-03 --name a/b",
         "--name must not contain '/', got 'a/b'"),
    case("forecast by an unknown method",
         f"workload forecast --history {EXAMPLE} --date 2026-11-03 --name f --method crystal",
         "--method must be one of auto, yesterday, same_weekday, ewma, seasonal, got 'crystal'"),
    case("forecast from a history without a complete day",
         f"workload forecast --history {EXAMPLE} --date 2026-11-03 --name f",
         "history 'example': the history has no complete day to learn from"),
    case("forecast a missing history", "workload forecast --history data/workloads/none --date 2026-11-03 "
         "--name f", "data/workloads/none: does not exist"),
    case("backtest no days", f"workload backtest --history {EXAMPLE} --days 0", "--days must be >= 1, got 0"),
    case("backtest a missing history", "workload backtest --history data/workloads/none",
         "data/workloads/none: does not exist"),
    case("tpch data at scale 0", "workload tpch-data --scale 0", "--scale must be in (0, 100], got 0.0"),

    # -- model -----------------------------------------------------------------------------------
    case("predict with truncated weights", "model predict --model in/c3o-bellamy --data in/a.csv "
         "--out in/p.csv", "in/c3o-bellamy/weights.pt: is not a readable torch file of state dicts",
         *[f for f in copy_model() if not f[0].endswith("weights.pt")],
         ("in/c3o-bellamy/weights.pt", truncated_weights),
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,8"))),
    case("predict --out onto a folder", "model predict --model data/models/c3o-bellamy --data "
         "data/c3o/sort.tsv --out data/models", "--out data/models: is a folder; --out takes the "
         "file to write"),
    case("pretrain --out onto a folder of inputs", "model pretrain --data data/c3o --out data/slos",
         "--out data/slos: exists and is not a model folder (it has no model.yml)"),
    case("fit-contention --out onto a file", "model fit-contention --workload "
         "data/workloads/redshift-sls-wg0 --results data/redshift-serverless/workgroup0-queries.parquet "
         "--config data/execution_configs/examples/redshift-16rpu.yml --out data/slos/example.yml",
         "--out data/slos/example.yml: is a file; --out takes a folder for the model"),
    case("predict sizes that are no numbers", "model predict --model data/models/c3o-bellamy "
         "--data in/a.csv --out in/p.csv", "in/a.csv: size: must be a number in every row, got 'abc'",
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,abc"))),
    case("predict an empty TSV", "model predict --model data/models/c3o-bellamy --data in/a.tsv "
         "--out in/p.csv", "in/a.tsv: is empty", ("in/a.tsv", data(b""))),
    case("finetune on a table without its columns", "model finetune --model data/models/c3o-bellamy "
         "--data in/a.csv --out in/m", "in/a.csv: missing column(s) template_id, shape, size, "
         "runtime_s (calibration table: template_id, shape, size, runtime_s)",
         ("in/a.csv", csv("a,b", "1,2"))),
    case("finetune on a negative runtime", "model finetune --model data/models/c3o-bellamy "
         "--data in/a.csv --out in/m", "in/a.csv: runtime must be a number > 0 in every row",
         ("in/a.csv", csv("template_id,shape,size,runtime_s", "q01,serverless,8,-1"))),
    case("recommend from a TSV that is no C3O data", "model recommend --model data/models/c3o-bellamy "
         "--data in/a.tsv --sizes 2..4 --price 1 --deadline 10",
         "in/a.tsv: missing column(s) instance_count, machine_type, slots, memory, data_size_MB",
         ("in/a.tsv", text("x\ty\n1\t2\n"))),
    case("fit-contention results that are no run", "model fit-contention --workload "
         "data/workloads/redshift-sls-wg0 --results data/workloads --config "
         "data/execution_configs/examples/redshift-16rpu.yml --out in/x",
         "data/workloads/queries.parquet: does not exist (expected a run folder with "
         "queries.parquet, or a queries.parquet file)"),
    case("predict with a missing model", "model predict --model in/none --data in/a.csv --out in/p.csv",
         "in/none: model folder does not exist",
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,8"))),
    case("predict with an unknown kind", "model predict --model in/m --data in/a.csv --out in/p.csv",
         "in/m/model.yml: kind: must be one of table, ernest, bellamy, got 'oracle'",
         ("in/m/model.yml", text("kind: oracle\n")),
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,8"))),
    case("predict with another format", "model predict --model in/m --data in/a.csv --out in/p.csv",
         "in/m/model.yml: format_version: this table model has format version 99",
         ("in/m/model.yml", text("kind: table\nformat_version: 99\n")),
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,8"))),
    case("predict with malformed model.yml", "model predict --model in/m --data in/a.csv --out in/p.csv",
         "in/m/model.yml: is not valid YAML", ("in/m/model.yml", text("kind: [table\n")),
         ("in/a.csv", csv("template_id,shape,size", "q01,serverless,8"))),
    case("evaluate an unknown split", "model evaluate --model data/models/c3o-bellamy --data data/c3o "
         "--split sideways", "--split must be one of"),
    case("fit-contention too few trials", "model fit-contention --workload data/workloads/redshift-sls-wg0 "
         "--results data/redshift-serverless/workgroup0-queries.parquet --config "
         "data/execution_configs/examples/redshift-16rpu.yml --out data/models/x --trials 3",
         "Invalid value for '--trials': Input should be greater than or equal to 10, got '3'"),
    case("fit-contention a missing workload", "model fit-contention --workload data/workloads/none "
         "--results data/redshift-serverless/workgroup0-queries.parquet --config "
         "data/execution_configs/examples/redshift-16rpu.yml --out data/models/x",
         "data/workloads/none: does not exist"),
    case("fit-contention a fraction above 1", "model fit-contention --workload "
         "data/workloads/redshift-sls-wg0 --results data/redshift-serverless/workgroup0-queries.parquet "
         "--config data/execution_configs/examples/redshift-16rpu.yml --out data/models/x "
         "--fit-fraction 2", "--fit-fraction"),
    case("pretrain from a missing file", "model pretrain --data in/none.tsv --out data/models/x",
         "in/none.tsv"),
    case("finetune from a missing table", "model finetune --model data/models/c3o-bellamy "
         "--data in/none.csv --out data/models/x", "in/none.csv"),
    case("recommend sizes that are no range", "model recommend --model data/models/c3o-bellamy "
         "--data data/c3o/grep.tsv --sizes big --price 0.4 --deadline 100", "--sizes"),
    case("recommend a negative deadline", "model recommend --model data/models/c3o-bellamy "
         "--data data/c3o/grep.tsv --sizes 2..4 --price 0.4 --deadline -1", "--deadline"),

    # -- the slow ones: refused at once, without the network -------------------------------------
    case("execute on an unreachable redshift endpoint",
         "execute --manifest data/manifests/execution/x.yml --live --yes",
         f"live.target redshift: cannot reach the redshift API at http://127.0.0.1:{CLOSED_PORT} "
         "(Connection refused)", ("data/manifests/execution/x.yml", redshift_manifest()),
         env=(("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
              ("AWS_ENDPOINT_URL", f"http://127.0.0.1:{CLOSED_PORT}"))),
]


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_one_line_exit_2_nothing_written(bad: Case, data_dir: Path, cli,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    work = data_dir.parent
    for rel, write in bad.files:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        write(work / rel)
    for key, value in bad.env:
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    before, folders = snapshot(data_dir), _folders(data_dir)
    result = cli(*shlex.split(bad.args))
    lines = result.err.splitlines()
    assert result.code == 2, result
    assert len(lines) == 1, lines
    assert bad.expected in lines[0], lines[0]
    assert "Traceback" not in result.out + result.err
    assert snapshot(data_dir) == before
    assert _folders(data_dir) == folders


def _folders(root: Path) -> set[str]:
    """Every folder under `root` (snapshot lists files; an empty new folder is a write too)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def test_the_suite_covers_every_command() -> None:
    from autoslo.cli import app

    commands = set()
    for info in app.registered_commands:
        commands.add(info.name or info.callback.__name__)
    for group in app.registered_groups:
        for info in group.typer_instance.registered_commands:
            commands.add(f"{group.name} {info.name}")
        for sub in group.typer_instance.registered_groups:
            for info in sub.typer_instance.registered_commands:
                commands.add(f"{group.name} {sub.name} {info.name}")
    covered = {" ".join(c.args.split()[:3]) for c in CASES} | {
        " ".join(c.args.split()[:2]) for c in CASES} | {c.args.split()[0] for c in CASES}
    assert sorted(commands - covered) == []


# ---- the storage case needs no Prefect server: a subprocess shows nothing started ----------------

def _run_alone(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m autoslo.cli ARGS` with no Prefect or AWS settings from this machine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    clean.update({"PYTHONPATH": str(REPO), "AUTOSLO_STORAGE": "", **env})
    return subprocess.run([sys.executable, "-m", "autoslo.cli", *args], cwd=cwd, env=clean,
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_unknown_block_is_refused_without_a_prefect_server(data_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    before = snapshot(data_dir)
    result = _run_alone(["storage", "push", "--block", "no-such-block"], tmp_path,
                        PREFECT_HOME=str(home))
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"S3Bucket block 'no-such-block' does not exist: no Prefect API is set (PREFECT_API_URL) "
        f"and the local Prefect database {home}/prefect.db does not exist; set PREFECT_API_URL to "
        "the server holding it, or register it first (python deployments/blocks.py, see the README)"]
    assert not (home / "prefect.db").exists()  # no temporary server was started to look
    assert snapshot(data_dir) == before


def test_a_block_missing_from_the_local_database_is_refused_at_once(data_dir: Path,
                                                                   tmp_path: Path) -> None:
    import sqlite3

    home = tmp_path / "prefect-home"
    home.mkdir()
    with sqlite3.connect(home / "prefect.db") as db:
        db.execute("CREATE TABLE block_type (id TEXT, slug TEXT)")
        db.execute("CREATE TABLE block_document (id TEXT, name TEXT, block_type_id TEXT)")
        db.execute("INSERT INTO block_type VALUES ('t1', 's3-bucket')")
        db.execute("INSERT INTO block_document VALUES ('d1', 'other-block', 't1')")
    stamp = (home / "prefect.db").stat().st_mtime_ns
    result = _run_alone(["storage", "pull", "--block", "no-such-block"], tmp_path,
                        PREFECT_HOME=str(home))
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"S3Bucket block 'no-such-block' does not exist in the local Prefect database "
        f"{home}/prefect.db (no PREFECT_API_URL is set); set PREFECT_API_URL to the server "
        "holding it, or register it first (python deployments/blocks.py, see the README)"]
    assert (home / "prefect.db").stat().st_mtime_ns == stamp  # read, never migrated by a server
