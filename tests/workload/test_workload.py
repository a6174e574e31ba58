"""Workload generation and operations: deterministic, shaped as specified, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from autoslo.config import load_model
from autoslo.config.generator import GeneratorSpec
from autoslo.datatree import DataTree
from autoslo.workload import load_workload
from autoslo.workload.generate import generate, peak_rate_per_s, rate_per_s
from autoslo.workload.templates import load_suite

REPO = Path(__file__).resolve().parents[2]
TREE = DataTree(REPO / "data")
SUITE = load_suite("tpch", TREE)


def spec(**changes: object) -> GeneratorSpec:
    base = yaml.safe_load((REPO / "data/generators/diurnal.yml").read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            base[outer][inner] = value
        else:
            base[key] = value
    return GeneratorSpec.model_validate(base)


def test_same_seed_same_rows_in_another_process(tmp_path: Path) -> None:
    here = generate(spec(), SUITE)
    script = ("import sys; from pathlib import Path; from tests.workload.test_workload import spec, SUITE;"
              "from autoslo.workload.generate import generate;"
              "generate(spec(), SUITE).write_parquet(sys.argv[1])")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "w.parquet")], check=True,
                   cwd=REPO)
    assert here.equals(pl.read_parquet(tmp_path / "w.parquet"))
    assert not here.equals(generate(spec(seed=8), SUITE))


@pytest.mark.parametrize("profile", ["constant", "diurnal", "weekly", "bursty"])
def test_rate_profiles_keep_their_mean_and_bound(profile: str) -> None:
    s = spec(**{"rate.profile": profile, "rate.mean_per_s": 0.5, "duration_s": 14 * 86400,
                "rate.bursts": {"every_s": 3600, "duration_s": 600, "factor": 4}})
    t = np.linspace(0, s.duration_s, 200_001)[:-1]
    rates = rate_per_s(t, s.rate, 0.0, 0)
    assert rates.mean() == pytest.approx(0.5, rel=1e-3)
    assert rates.max() <= peak_rate_per_s(s.rate) * (1 + 1e-12)
    arrivals = generate(s, SUITE)["arrival_s"].to_numpy()
    expected = 0.5 * s.duration_s
    assert abs(arrivals.size - expected) < 5 * np.sqrt(expected)  # Poisson: within 5 sigma


def test_diurnal_peak_and_weekly_weekends() -> None:
    day = generate(spec(duration_s=7 * 86400, **{"rate.mean_per_s": 1.0}), SUITE)
    hours = (day["arrival_s"].to_numpy() // 3600 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts.argmax() in (13, 14, 15)
    assert counts.max() / counts.min() == pytest.approx(4, rel=0.25)
    week = generate(spec(duration_s=14 * 86400, **{"rate.profile": "weekly"}), SUITE)
    weekday = (week["arrival_s"].to_numpy() // 86400 % 7).astype(int)  # starts on a Monday
    per_day = np.bincount(weekday, minlength=7) / 2
    assert per_day[5:].mean() / per_day[:5].mean() == pytest.approx(0.4, rel=0.15)


def test_mix_groups_and_runtimes() -> None:
    queries = generate(spec(duration_s=86400 * 3), SUITE)
    shares = queries["template_id"].value_counts(normalize=True).sort("template_id")
    expected = {"q01": 2, "q03": 3, "q06": 6, "q09": 1, "q13": 2, "q18": 1}
    for template, share in shares.iter_rows():
        assert share == pytest.approx(expected[template] / 15, abs=0.01)
    groups = dict(queries.select("template_id", "query_group").unique().iter_rows())
    assert groups["q06"] == "dashboard" and groups["q18"] == "etl"
    medians = queries.group_by("template_id").agg(pl.col("runtime_s").median())
    for template, median in medians.iter_rows():
        assert median == pytest.approx(spec().runtimes.medians_s[template], rel=0.1)


def test_generate_cli_and_bad_templates(data_dir: Path, cli) -> None:
    result = cli("workload", "generate", "data/generators/diurnal.yml", "--seed", "3")
    assert result.code == 0, result.err
    assert result.out.strip().endswith("-> data/workloads/diurnal_seed=3")
    assert cli("validate", "data/workloads/diurnal_seed=3").code == 0
    bad = data_dir / "generators" / "bad.yml"
    text = (data_dir / "generators/diurnal.yml").read_text()
    bad.write_text(text.replace("q18: 1}", "q99: 1}"))
    result = cli("workload", "generate", "data/generators/bad.yml")
    assert result.code == 2
    assert result.err.strip() == ("data/generators/bad.yml: runtimes.medians_s: has no median "
                                  "for template(s) q99 of the mix")
    bad.write_text(text.replace("q18: 1}", "q99: 1}").replace("q18: 40.0}", "q99: 40.0}"))
    result = cli("workload", "generate", "data/generators/bad.yml")
    assert result.code == 2
    assert result.err.strip().startswith("mix: template 'q99' is not in suite 'tpch' (it has q01")
    result = cli("validate", "data/generators/bad.yml")
    assert result.err.strip() == ("data/generators/bad.yml: mix: template 'q99' is not in suite "
                                  "'tpch'")
    assert not (data_dir / "workloads" / "diurnal_seed=7").exists()


def test_operations(data_dir: Path, cli) -> None:
    assert cli("workload", "generate", "data/generators/diurnal.yml").code == 0
    source = load_workload(data_dir / "workloads" / "diurnal_seed=7")
    assert cli("workload", "scale", "data/workloads/diurnal_seed=7", "--factor", "1.3").code == 0
    scaled = load_workload(data_dir / "workloads" / "diurnal_rate=1.3_rate_seed=0_seed=7")
    assert scaled.queries.height / source.queries.height == pytest.approx(1.3, rel=0.02)
    hourly = lambda w: np.bincount((w.queries["arrival_s"].to_numpy() // 3600).astype(int),  # noqa: E731
                                   minlength=24)[:24]
    np.testing.assert_allclose(hourly(scaled) / hourly(source), 1.3, rtol=0.15)
    assert cli("workload", "rescale", "data/workloads/diurnal_seed=7", "--factor", "0.125").code == 0
    rescaled = load_workload(data_dir / "workloads" / "diurnal_seed=7_time=0.125")
    assert rescaled.queries["arrival_s"].max() < 3 * 3600
    assert cli("workload", "slice", "data/workloads/diurnal_seed=7", "--from",
               "2026-11-02T12:00:00Z", "--to", "2026-11-02T13:00:00Z").code == 0
    sliced = load_workload(data_dir / "workloads" /
                           "diurnal_seed=7_window=20261102T1200-20261102T1300")
    arrivals = source.queries["arrival_s"]
    assert sliced.queries.height == ((arrivals >= 43200) & (arrivals < 46800)).sum()
    assert sliced.meta.start.hour == 12 and sliced.queries["arrival_s"].max() < 3600
    result = cli("workload", "merge", "data/workloads/example", "data/workloads/diurnal_seed=7",
                 "--name", "both")
    assert result.code == 0, result.err
    merged = load_workload(data_dir / "workloads" / "both")
    assert merged.queries.height == source.queries.height + 2108
    assert merged.queries["query_id"].to_list() == list(range(merged.queries.height))
    result = cli("workload", "slice", "data/workloads/diurnal_seed=7", "--from",
                 "2026-11-02T13:00:00Z", "--to", "2026-11-02T12:00:00Z")
    assert result.code == 2 and "`--from < --to` must hold" in result.err


def test_example_generator_spec_loads() -> None:
    assert load_model(REPO / "data/generators/diurnal.yml", GeneratorSpec).suite == "tpch"
