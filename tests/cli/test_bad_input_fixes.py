"""What the reliability fixes make work (the other side of the bad-input cases): quoted ISO
timestamps, symlinked configs, one percentile definition, kappa targets with the run's model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from tests.conftest import REPO

EXAMPLE = REPO / "data" / "workloads" / "example"
SERVERLESS = "data/execution_configs/examples/serverless-pool.yml"


def test_a_generator_spec_written_by_safe_dump_generates(data_dir: Path, cli) -> None:
    spec = yaml.safe_load((data_dir / "generators" / "diurnal.yml").read_text())
    spec.update(start="2026-11-02T10:00:00Z", duration_s=3600, name="quoted")
    text = yaml.safe_dump(spec)
    assert "start: '2026-11-02T10:00:00Z'" in text  # what the issue saw: a quoted timestamp
    (data_dir / "generators" / "quoted.yml").write_text(text)
    result = cli("workload", "generate", "data/generators/quoted.yml")
    assert result.code == 0, result.err
    meta = yaml.safe_load((data_dir / "workloads" / "quoted_seed=7" / "workload.yml").read_text())
    assert str(meta["start"]) == "2026-11-02 10:00:00+00:00"


def test_a_workload_yml_with_a_quoted_start_validates(data_dir: Path, cli) -> None:
    meta_path = data_dir / "workloads" / "example" / "workload.yml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["start"] = meta["start"].isoformat()  # text, as safe_dump of an ISO string writes it
    meta_path.write_text(yaml.safe_dump(meta))
    assert "start: '2026-11-02T09:00:00+00:00'" in meta_path.read_text()
    result = cli("validate", "data/workloads/example")
    assert result.code == 0, result.err


def test_a_symlinked_config_has_the_kind_of_its_place(data_dir: Path, tmp_path: Path, cli) -> None:
    outside = tmp_path / "elsewhere" / "pool.yml"
    outside.parent.mkdir()
    outside.write_text((REPO / SERVERLESS).read_text())
    link = data_dir / "execution_configs" / "linked" / "pool.yml"
    link.parent.mkdir()
    link.symlink_to(outside)
    alone = cli("validate", "data/execution_configs/linked/pool.yml")
    assert alone.code == 0, alone.err
    assert "execution-config" in alone.out and "data/execution_configs/linked/pool.yml" in alone.out
    tree = cli("validate")
    line = next(row for row in tree.out.splitlines() if "linked/pool.yml" in row)
    assert line.split()[0] == alone.out.splitlines()[0].split()[0] == "ok"


def test_latency_percentile_is_numpys_default_and_inf_for_unfinished() -> None:
    from autoslo.slo import INF, latency_percentile

    rng = np.random.default_rng(3)
    values = rng.lognormal(size=101)
    for q in (0, 1, 50, 95, 99, 100):
        assert latency_percentile(values, q) == pytest.approx(np.percentile(values, q))
        lazy = pl.DataFrame({"x": values}).select(latency_percentile(pl.col("x"), q)).item()
        assert lazy == pytest.approx(np.percentile(values, q))
    slow = np.array([1.0, 2.0, 3.0, 4.0, INF])  # index q/100 * 4; numpy alone gives NaN at 75
    table = pl.DataFrame({"x": slow})
    for q, expected in ((0, 1.0), (50, 3.0), (60, 3.4), (75, 4.0), (80, INF), (100, INF)):
        assert latency_percentile(slow, q) == pytest.approx(expected)
        assert table.select(latency_percentile(pl.col("x"), q)).item() == pytest.approx(expected)
    assert np.isnan(latency_percentile(np.array([]), 50))


def _run(data_dir: Path, cli, *args: str) -> Path:
    result = cli("simulate", "--workload", "data/workloads/example", "--config", *args)
    assert result.code == 0, result.err
    return Path(result.out.splitlines()[0].rsplit(" -> ", 1)[1])


def test_summary_compare_and_slo_bounds_report_the_same_percentiles(data_dir: Path, cli) -> None:
    from autoslo.config import SloSpec
    from autoslo.datatree import DataTree
    from autoslo.results import References, RunSource, per_run
    from autoslo.slo import score

    # a WLM timeout on the short queue makes some queries unfinished (inf in every percentile)
    folder = _run(data_dir, cli, "data/execution_configs/examples/provisioned-wlm.yml",
                  "--set", "pool.clusters.0.wlm.queues.0.max_execution_time=2000")
    queries = pl.read_parquet(folder / "queries.parquet")
    assert (queries["status"] != "ok").sum() > 0
    latency = np.where(queries["status"].to_numpy() == "ok", queries["latency_s"].to_numpy(),
                       np.inf)
    summary = yaml.safe_load((folder / "summary.yml").read_text())["latency_s"]
    spec = SloSpec.model_validate({"tau": 0.1, "default": {"latency_s": 60},
                                   "percentiles": [{"percentile": 50, "latency_s": 1}]})
    table = per_run([RunSource("run", folder)], spec, References(DataTree(data_dir))).row(
        0, named=True)
    for q in (50, 95, 99):
        with np.errstate(invalid="ignore"):
            expected = float(np.percentile(latency, q))
        expected = np.inf if np.isnan(expected) else expected
        assert summary[f"p{q}"] == pytest.approx(expected, abs=1e-6)
        assert table[f"p{q}_s"] == pytest.approx(expected, rel=1e-12)
    assert score(queries, spec).percentiles[0].observed_s == pytest.approx(table["p50_s"])


def test_compare_scores_kappa_targets_with_the_runs_latency_model(data_dir: Path, cli) -> None:
    queries = pl.read_parquet(EXAMPLE / "queries.parquet").drop("runtime_s")
    templates = sorted(queries["template_id"].unique().to_list())
    model = data_dir / "models" / "measured"
    model.mkdir()
    (model / "model.yml").write_text("kind: table\nformat_version: 1\n")
    pl.DataFrame({"template_id": templates * 2, "shape": ["serverless"] * 2 * len(templates),
                  "size": [8] * len(templates) + [16] * len(templates),
                  "runtime_s": [2.0] * len(templates) + [1.2] * len(templates)}
                 ).write_csv(model / "runtimes.csv")
    folder = data_dir / "workloads" / "bare"
    folder.mkdir()
    queries.write_parquet(folder / "queries.parquet")
    meta = yaml.safe_load((EXAMPLE / "workload.yml").read_text())
    (folder / "workload.yml").write_text(yaml.safe_dump({**meta, "name": "bare"}))
    result = cli("simulate", "--workload", "data/workloads/bare", "--config", SERVERLESS,
                 "--set", "latency_model.model=models/measured")
    assert result.code == 0, result.err
    run = result.out.splitlines()[0].rsplit(" -> ", 1)[1]
    assert yaml.safe_load((Path(run) / "summary.yml").read_text())["latency_model"] == \
        "models/measured"
    by_config = cli("compare", run, "--slo", "data/slos/example.yml")
    assert by_config.code == 0, by_config.err
    by_option = cli("compare", run, "--slo", "data/slos/example.yml", "--model", "models/measured")
    assert by_option.code == 0 and by_option.out == by_config.out
