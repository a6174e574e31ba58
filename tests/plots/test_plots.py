"""Plot and compare: aggregation numbers by hand, every panel type rendered, bad input, --live.

The result tables here are small hand-written test fixtures (not simulator output), so every
number in the CSVs can be checked by hand. Live runs are fixtures too: their tables are copied
from a simulator fixture folder and registered with `write_run_record` + `rebuild_run_index`
(the live replay itself is built elsewhere).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from autoslo.combinations import resolve_combination
from autoslo.config.manifests import ConfigFile
from autoslo.datatree import DataTree
from autoslo.live.records import RunRecord, rebuild_run_index, write_run_record
from autoslo.results import References, RunSource, per_group, per_run, per_window, timeline

WORKLOAD = "workloads/example"
CONFIGS = {
    "wlm": ("execution_configs/examples/provisioned-wlm.yml", {}),
    "mmc": ("execution_configs/examples/mmc.yml", {"SLOTS": 4}),
}
TINY_SLO = ("tau: 0.25\ntargets:\n  - template_id: a\n    latency_s: 10\n"
            "default:\n  latency_s: 20\n")

# fixture A: template a latencies 1, 5, 12, 3 (one over 10 s); template b 15, 25, 2 and one
# timed out (25 and the timeout miss 20 s): 3 violations of 8 queries
FIXTURE_A = {
    "template_id": ["a", "a", "a", "a", "b", "b", "b", "b"],
    "arrival_s": [0.0, 10.0, 20.0, 30.0, 40.0, 70.0, 80.0, 100.0],
    "queue_s": [0.0, 1.0, 4.0, 0.0, 5.0, 10.0, 0.0, 0.0],
    "latency_s": [1.0, 5.0, 12.0, 3.0, 15.0, 25.0, 2.0, 30.0],
    "status": ["ok"] * 7 + ["timeout"],
    "cluster_id": [0, 0, 1, 0, 1, 1, 0, 1],
}
# fixture B: everything within target: 0 violations of 4
FIXTURE_B = {
    "template_id": ["a", "b", "a", "b"],
    "arrival_s": [0.0, 5.0, 65.0, 90.0],
    "queue_s": [0.0, 0.0, 0.0, 0.0],
    "latency_s": [2.0, 4.0, 6.0, 8.0],
    "status": ["ok"] * 4,
    "cluster_id": [0, 0, 0, 0],
}


def write_tables(folder: Path, fixture: dict[str, list], costs: list[float]) -> None:
    """A hand-written result folder (queries, clusters, summary) in the contract's format."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(fixture["latency_s"])
    queries = pl.DataFrame({"query_id": list(range(n)), **fixture}).with_columns(
        (pl.col("arrival_s") + pl.col("queue_s")).alias("start_s"),
        (pl.col("arrival_s") + pl.col("latency_s")).alias("end_s"),
        pl.lit("dashboard").alias("query_group"))
    queries.write_parquet(folder / "queries.parquet")
    pl.DataFrame({
        "cluster_id": list(range(len(costs))), "kind": ["provisioned"] * len(costs),
        "node_type": ["ra3.xlplus"] * len(costs), "size": [2] * len(costs),
        "ready_s": [0.0] * len(costs), "removed_s": [120.0] * len(costs),
        "queries": [1] * len(costs), "cost_usd": costs}).write_parquet(folder / "clusters.parquet")
    from autoslo.sim import SIMULATOR_VERSION

    (folder / "summary.yml").write_text(yaml.safe_dump({
        "simulator_version": SIMULATOR_VERSION, "workload_id": "example",
        "execution_config_id": folder.name, "queries": n}))


def combination_dir(tree: DataTree, key: str) -> Path:
    path, params = CONFIGS[key]
    combo = resolve_combination(WORKLOAD, ConfigFile(path=path, params=params), tree)
    return combo.simulator_dir(tree)


def point(key: str, label: str, **extra: object) -> dict:
    path, params = CONFIGS[key]
    config = {"path": path, **({"params": params} if params else {})}
    return {"workload": WORKLOAD, "execution_config": config, "label": label, **extra}


@pytest.fixture
def tree(data_dir: Path) -> DataTree:
    """The shipped inputs plus two hand-written simulator result folders and a tiny SLO spec."""
    tree = DataTree(data_dir)
    write_tables(combination_dir(tree, "wlm"), FIXTURE_A, [1.5, 2.25])
    write_tables(combination_dir(tree, "mmc"), FIXTURE_B, [0.5])
    (data_dir / "slos" / "tiny.yml").write_text(TINY_SLO)
    return tree


def add_live_run(tree: DataTree, key: str, stamp: str, status: str = "complete") -> Path:
    """A live-run test fixture: tables copied from the simulator fixture, record and index."""
    combo_dir = combination_dir(tree, key)
    folder = tree.run_dir(stamp)
    shutil.copytree(combo_dir, folder, dirs_exist_ok=True)
    write_run_record(tree, RunRecord(stamp, "example", combo_dir.name, status, "postgres-test"))
    rebuild_run_index(tree)
    return folder


def add_tuner_run(tree: DataTree, name: str) -> None:
    """A tuner-run test fixture: five trials in the tuner's table format, and its Pareto front."""
    from autoslo.tune import pareto_front

    folder = tree.tuner_run_dir(name)
    folder.mkdir(parents=True)
    costs, violations = [5.0, 4.0, 6.0, 3.0, 3.5], [0.0, 0.02, 0.0, 0.2, 0.04]
    feasible = [v <= 0.05 for v in violations]
    best, bests = float("inf"), []
    for c, f in zip(costs, feasible, strict=True):
        best = min(best, c) if f else best
        bests.append(best)
    trials = pl.DataFrame({"trial": list(range(5)), "status": ["complete"] * 5, "cost_usd": costs,
                           "violation": violations, "feasible": feasible,
                           "best_feasible_cost_usd": bests})
    trials.write_parquet(folder / "trials.parquet")
    pareto_front(trials).write_parquet(folder / "pareto.parquet")
    (folder / "validation.yml").write_text("tau: 0.05\n")


def write_manifest(tree: DataTree, name: str, panels: list[dict], **extra: object) -> Path:
    path = tree.root / "manifests" / "plotting" / f"{name}.yml"
    path.write_text(yaml.safe_dump({"title": name, "panels": panels, **extra}, sort_keys=False))
    return path


def sources(tree: DataTree) -> list[RunSource]:
    return [RunSource("A", combination_dir(tree, "wlm")), RunSource("B", combination_dir(tree, "mmc"))]


def spec():
    from autoslo.config import SloSpec

    return SloSpec.model_validate(yaml.safe_load(TINY_SLO))


# ---- aggregation ---------------------------------------------------------------------------------

def test_per_run_matches_a_hand_computation(tree: DataTree) -> None:
    table = per_run(sources(tree), spec(), References(tree))
    a, b = table.to_dicts()
    assert (a["queries"], a["violations"], a["unfinished"]) == (8, 3, 1)
    assert a["violation_rate"] == pytest.approx(3 / 8)
    assert a["cost_usd"] == pytest.approx(3.75)
    assert a["queue_share"] == pytest.approx(20 / 93)
    # numpy's default (linear) percentiles of 1,2,3,5,12,15,25,inf: the 50th is halfway between
    # the 4th and 5th values, the 99th interpolates towards the timeout (inf)
    assert a["p50_s"] == 8.5 and a["p99_s"] == float("inf")
    assert a["within_tau"] is False and a["clusters_used"] == 2
    assert (b["violations"], b["violation_rate"], b["cost_usd"], b["within_tau"]) == (0, 0.0, 0.5, True)


def test_batches_bound_memory_without_changing_results(tree: DataTree, monkeypatch) -> None:
    import autoslo.results as results

    whole = per_run(sources(tree), spec(), References(tree))
    assert results.batches(sources(tree)) == [[0, 1]]
    monkeypatch.setattr(results, "BATCH_ROWS", 8)  # 8 + 4 queries: one run per batch
    assert results.batches(sources(tree)) == [[0], [1]]
    assert per_run(sources(tree), spec(), References(tree)).equals(whole)
    assert per_group(sources(tree), spec(), References(tree))["run"].to_list() == [0, 0, 1, 1]


def test_the_same_runs_scored_against_two_specs(tree: DataTree) -> None:
    from autoslo.config import SloSpec

    loose = SloSpec.model_validate({"tau": 0.5, "default": {"latency_s": 100}})
    a = per_run(sources(tree)[:1], loose, References(tree)).row(0, named=True)
    assert (a["violations"], a["within_tau"]) == (1, True)  # only the timeout misses


def test_kappa_targets_come_from_the_runs_workload(tree: DataTree, tmp_path: Path) -> None:
    import datetime as dt

    from autoslo.config import SloSpec, WorkloadMeta
    from autoslo.config.workload import WorkloadSource
    from autoslo.workload import save_workload

    # isolated runtimes 1, 2, 3, ... 8 s: with kappa 2 the targets are 2, 4, ... 16 s, so of the
    # latencies 1, 5, 12, 3, 15, 25, 2 and a timeout, queries 1, 2, 4, 5 and 7 miss: 5 of 8
    save_workload(tree, pl.DataFrame({
        "query_id": list(range(8)), "arrival_s": FIXTURE_A["arrival_s"],
        "template_id": FIXTURE_A["template_id"], "runtime_s": [float(i + 1) for i in range(8)]}),
        WorkloadMeta(name="tiny", start=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), queries=8,
                     source=WorkloadSource(kind="generated")))
    kappa = SloSpec.model_validate({"tau": 0.5, "reference": {"kind": "serverless", "rpu": 8},
                                    "default": {"kappa": 2}})
    source = RunSource("A", combination_dir(tree, "wlm"), workload_path=tree.workload_dir("tiny"))
    row = per_run([source], kappa, References(tree)).row(0, named=True)
    assert (row["violations"], row["within_tau"]) == (5, False)


def test_per_group_and_per_window(tree: DataTree) -> None:
    groups = per_group(sources(tree)[:1], spec(), References(tree))
    assert groups.select("template_id", "queries", "violations").rows() == [("a", 4, 1), ("b", 4, 2)]
    windows = per_window(sources(tree)[:1], spec(), References(tree), 60.0)
    assert windows.select("window_start_s", "queries", "violations").rows() == [
        (0.0, 5, 1), (60.0, 3, 2)]


def test_timeline_counts_queue_depth_and_spreads_cost(tree: DataTree) -> None:
    table = timeline(sources(tree)[0], 60.0)
    # the last query (arrived at 100 s, timed out after 30 s) ends at 130 s: three windows
    assert table["window_start_s"].to_list() == [0.0, 60.0, 120.0]
    assert table["arrivals"].to_list() == [5, 3, 0]
    # queued: q1 over [10, 11), q2 over [20, 24), q4 over [40, 45), q5 over [70, 80): one at a time
    assert table["queue_depth_max"].to_list() == [1, 1, 0]
    assert table["clusters_alive"].to_list() == [2, 2, 0]  # both removed at 120 s
    assert table["cumulative_cost_usd"][-1] == pytest.approx(3.75)
    assert table["cost_usd"].to_list() == pytest.approx([1.875, 1.875, 0.0])


def test_timeline_window_follows_the_run_length() -> None:
    from autoslo.results import timeline_window

    assert timeline_window(7200) == 60  # two hours: per minute
    assert timeline_window(7 * 86400) == 600  # a week: at most 1500 windows
    assert timeline_window(130) == 2  # a short run still gets 60 or more windows
    assert timeline_window(7) == 0.1


# ---- every panel type, end to end ----------------------------------------------------------------

def all_panels() -> list[dict]:
    both = [point("wlm", "A"), point("mmc", "B", colour="#CC79A7")]
    return [
        {"type": "cost_vs_violation", "slo": "slos/tiny.yml", "points": both},
        {"type": "violation_bars", "slo": "slos/tiny.yml", "points": both},
        {"type": "latency_cdf", "slo": "slos/tiny.yml", "points": both},
        {"type": "timeline", "points": [point("wlm", "A")]},
        {"type": "tuner_progress", "slo": "slos/tiny.yml", "points": [{"tuner_run": "t-00000001"}]},
        {"type": "sim_vs_live", "points": both},
    ]


def test_every_panel_type_renders_with_csvs_that_match_by_hand(tree: DataTree, cli) -> None:
    add_tuner_run(tree, "t-00000001")
    add_live_run(tree, "wlm", "20261122T101112345Z")
    add_live_run(tree, "mmc", "20261122T101113000Z")
    write_manifest(tree, "all", all_panels(), columns=3)
    result = cli("plot", "--manifest", "data/manifests/plotting/all.yml")
    assert result.code == 0, result.err
    plots = tree.plots_dir()
    assert (plots / "all.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (plots / "all.html").read_text()
    assert "plotly" in page and "tau 25 %" in page
    csvs = sorted(p.name for p in plots.glob("all.panel*.csv"))
    assert csvs == ["all.panel1-cost_vs_violation.csv", "all.panel2-violation_bars.csv",
                    "all.panel3-latency_cdf.csv", "all.panel4-timeline.csv",
                    "all.panel5-tuner_progress.csv", "all.panel6-sim_vs_live.csv"]
    cost = pl.read_csv(plots / "all.panel1-cost_vs_violation.csv")
    assert cost.select("label", "queries", "violations", "violation_rate", "cost_usd").rows() == [
        ("A", 8, 3, 0.375, 3.75), ("B", 4, 0, 0.0, 0.5)]
    cdf = pl.read_csv(plots / "all.panel3-latency_cdf.csv")
    a_latency = cdf.filter((pl.col("label") == "A") & (pl.col("series") == "latency")
                           & (pl.col("template_id") == "b"))
    assert a_latency["latency_s"].max() == 25.0  # the timeout is not a finished query
    assert a_latency.filter(pl.col("fraction") == 0.5)["latency_s"].item() == 15.0
    tuner = pl.read_csv(plots / "all.panel5-tuner_progress.csv")
    assert tuner["best_feasible_cost_usd"].to_list() == [5.0, 4.0, 4.0, 4.0, 3.5]
    assert tuner.filter(pl.col("on_pareto_front"))["trial"].to_list() == [0, 1, 3, 4]
    live = pl.read_csv(plots / "all.panel6-sim_vs_live.csv")
    assert (live["simulator_s"] == live["live_s"]).all()  # the fixture copies the tables
    assert live["live_folder"][0].endswith("runs/20261122T101112345Z")


def test_example_manifest_plots_the_execution_example(tree: DataTree, cli, monkeypatch) -> None:
    target = tree.simulator_run_dir("example", _serverless_id(tree))
    shutil.copytree(combination_dir(tree, "wlm"), target)
    summary = yaml.safe_load((target / "summary.yml").read_text())  # the fixture, relabelled
    (target / "summary.yml").write_text(yaml.safe_dump({**summary,
                                                        "execution_config_id": target.name}))
    result = cli("plot", "--manifest", "data/manifests/plotting/example.yml", "--no-png")
    assert result.code == 0, result.err
    assert "example: data/plots/example.html (+ 6 CSV table(s)" in result.out
    assert not tree.plot_png("example").exists()
    tables = {p.name: p.read_bytes() for p in tree.plots_dir().glob("*.csv")}
    monkeypatch.chdir(tree.root)  # reproducible: the same tables again, from another folder
    assert cli("plot", "--manifest", "manifests/plotting/example.yml", "--no-png").code == 0
    assert {p.name: p.read_bytes() for p in tree.plots_dir().glob("*.csv")} == tables


def _serverless_id(tree: DataTree) -> str:
    combo = resolve_combination(WORKLOAD, ConfigFile(
        path="execution_configs/examples/serverless-pool.yml"), tree)
    return combo.execution_config_id


# ---- live runs -------------------------------------------------------------------------------

def test_live_uses_the_newest_complete_run_or_the_named_one(tree: DataTree, cli) -> None:
    old = add_live_run(tree, "wlm", "20261122T090000000Z")
    add_live_run(tree, "wlm", "20261122T100000000Z")
    add_live_run(tree, "wlm", "20261122T110000000Z", status="failed")
    panel = {"type": "violation_bars", "slo": "slos/tiny.yml", "points": [point("wlm", "A")]}
    write_manifest(tree, "live", [panel])
    assert cli("plot", "--manifest", "data/manifests/plotting/live.yml", "--live",
               "--no-png").code == 0
    table = pl.read_csv(tree.plot_table("live", 1, "violation_bars"))
    assert table["folder"].item().endswith("runs/20261122T100000000Z")
    assert table["kind"].item() == "live"
    pl.read_parquet(old / "queries.parquet").head(4).write_parquet(old / "queries.parquet")
    named = {**panel, "points": [point("wlm", "A", run_timestamp="20261122T090000000Z")]}
    write_manifest(tree, "live", [named])
    assert cli("plot", "--manifest", "data/manifests/plotting/live.yml", "--live",
               "--no-png").code == 0
    assert pl.read_csv(tree.plot_table("live", 1, "violation_bars"))["queries"].item() == 4


# ---- bad input -------------------------------------------------------------------------------

def one_line_error(result) -> str:
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_missing_simulator_run_names_the_command_that_creates_it(tree: DataTree, cli) -> None:
    shutil.rmtree(combination_dir(tree, "mmc"))
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                "points": [point("wlm", "A"), point("mmc", "B")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml"))
    assert line.startswith("data/manifests/plotting/x.yml: panels[0].points[1]: the simulator has "
                           "no results for workload 'example' with config 'mmc-")
    assert line.endswith("create them with `autoslo execute --manifest "
                         "data/manifests/execution/example.yml`")
    assert not tree.plots_dir().exists()


def test_missing_tuner_run_names_the_tuning_manifest(tree: DataTree, cli) -> None:
    write_manifest(tree, "x", [{"type": "tuner_progress", "slo": "slos/tiny.yml",
                                "points": [{"tuner_run": "serverless-example-0123abcd"}]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml"))
    assert "tuner run 'serverless-example-0123abcd' does not exist" in line
    assert line.endswith("create it with `autoslo tune --manifest data/manifests/tuning/example.yml`")


def test_live_plot_without_live_runs(tree: DataTree, cli) -> None:
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                "points": [point("wlm", "A")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml", "--live"))
    assert line == ("data/manifests/plotting/x.yml: --live: no live runs are recorded in "
                    "data/runs/map.yml; create them with `autoslo execute --live --manifest ...` "
                    "(or plot the simulator results without --live)")


def test_live_run_of_another_combination(tree: DataTree, cli) -> None:
    add_live_run(tree, "mmc", "20261122T090000000Z")
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                "points": [point("wlm", "A")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml", "--live"))
    assert "no complete live run of workload 'example' with config 'provisioned-wlm-" in line
    assert line.endswith("`autoslo execute --live --manifest data/manifests/execution/example.yml`")
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                "points": [point("wlm", "A", run_timestamp="20261122T090000000Z")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml", "--live"))
    assert "panels[0].points[0].run_timestamp: live run 20261122T090000000Z ran workload" in line


def test_spec_whose_targets_match_nothing_warns_with_counts(tree: DataTree, cli) -> None:
    (tree.root / "slos" / "other.yml").write_text(
        "tau: 0.1\ntargets:\n  - template_id: q99\n    latency_s: 5\n")
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/other.yml",
                                "points": [point("wlm", "A"), point("mmc", "B")]}])
    result = cli("plot", "--manifest", "data/manifests/plotting/x.yml", "--no-png")
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        "warning: data/manifests/plotting/x.yml: panels[0].slo (slos/other.yml): targets[0]: "
        "template_id 'q99' matches 0 of 12 queries in 2 run(s) (template_id values present: a, b)",
        "warning: data/manifests/plotting/x.yml: panels[0].slo (slos/other.yml): 12 of 12 "
        "queries have no latency target (no default): they violate only by not finishing"]


def test_unknown_panel_type_and_bad_colour(tree: DataTree, cli) -> None:
    write_manifest(tree, "x", [{"type": "pie", "points": [point("wlm", "A")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml"))
    assert line.startswith("data/manifests/plotting/x.yml: panels[0].type: must be one of ")
    assert line.endswith("got 'pie'")
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                "points": [point("wlm", "A", colour="blurple")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml"))
    assert line.startswith("data/manifests/plotting/x.yml: panels[0].points[0].colour: must be a colour")
    write_manifest(tree, "x", [{"type": "violation_bars", "slo": "slos/tiny.yml", "by": "template_id",
                                "points": [point("wlm", "A")]}])
    line = one_line_error(cli("plot", "--manifest", "data/manifests/plotting/x.yml"))
    assert line == ("data/manifests/plotting/x.yml: panels[0].by: applies to latency_cdf panels "
                    "only, not violation_bars")


def test_a_new_version_of_a_plot_leaves_nothing_stale_beside_it(tree: DataTree, cli) -> None:
    two = [{"type": "violation_bars", "slo": "slos/tiny.yml", "points": [point("wlm", "A")]}] * 2
    write_manifest(tree, "p", two)
    tree.plots_dir().mkdir(parents=True)
    tree.plot_png("p").write_bytes(b"an older PNG")
    assert cli("plot", "--manifest", "data/manifests/plotting/p.yml", "--no-png").code == 0
    assert len(list(tree.plots_dir().glob("p.panel*.csv"))) == 2
    write_manifest(tree, "p", two[:1])
    assert cli("plot", "--manifest", "data/manifests/plotting/p.yml", "--no-png").code == 0
    assert sorted(p.name for p in tree.plots_dir().iterdir()
                  if not p.name.startswith(".")) == ["p.html", "p.panel1-violation_bars.csv"]
    assert sorted(p.name for p in tree.plots_dir().iterdir() if p.name.startswith(".")) == [
        ".p.lock", ".p.writer.lock"]  # the one-writer lock and who held it last, nothing else


def test_a_bad_manifest_writes_nothing_for_the_good_one(tree: DataTree, cli) -> None:
    write_manifest(tree, "good", [{"type": "violation_bars", "slo": "slos/tiny.yml",
                                   "points": [point("wlm", "A")]}])
    write_manifest(tree, "bad", [{"type": "violation_bars", "slo": "slos/nope.yml",
                                  "points": [point("wlm", "A")]}])
    result = cli("plot", "--manifest", "data/manifests/plotting/good.yml",
                 "--manifest", "data/manifests/plotting/bad.yml", "--no-png")
    assert one_line_error(result) == "data/slos/nope.yml: file does not exist"
    assert not tree.plots_dir().exists()


# ---- compare -------------------------------------------------------------------------------------

def test_compare_prints_the_per_run_metrics(tree: DataTree, cli) -> None:
    stamp = "20261122T101112345Z"
    add_live_run(tree, "mmc", stamp)
    a = str(combination_dir(tree, "wlm").relative_to(tree.root.parent))
    result = cli("compare", a, stamp, "--slo", "data/slos/tiny.yml")
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if "provisioned-wlm-" in line or stamp in line]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("│ ").split("│")]
    assert cells[1:7] == ["simulator", "8", "3.7500", "37.50 %", "NO", "8.50"]  # p50: 5 to 12
    assert [c.strip() for c in rows[1].strip("│ ").split("│")][1:6] == [
        "live", "4", "0.5000", "0.00 %", "yes"]


def test_compare_refuses_what_is_not_a_run(tree: DataTree, cli) -> None:
    line = one_line_error(cli("compare", "data/workloads", "--slo", "data/slos/tiny.yml"))
    assert line.startswith("run 'data/workloads': data/workloads is not a run folder")
