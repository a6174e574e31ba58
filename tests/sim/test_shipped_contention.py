"""The shipped Redshift Serverless example: its files come from the measurements by script, and
the shipped contention model is what fitting them gives, in another process too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import yaml
from polars.testing import assert_frame_equal

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


def test_the_workload_and_results_are_reproduced_by_the_script(tmp_path: Path) -> None:
    shutil.copytree(DATA / "redshift-serverless", tmp_path / "redshift-serverless",
                    ignore=shutil.ignore_patterns("*.parquet"))
    subprocess.run([sys.executable, str(REPO / "scripts" / "import_redshift_serverless.py"),
                    "--data", str(tmp_path)], check=True, capture_output=True)
    for made, shipped in (
            (tmp_path / "workloads/redshift-sls-wg0/queries.parquet",
             DATA / "workloads/redshift-sls-wg0/queries.parquet"),
            (tmp_path / "redshift-serverless/workgroup0-queries.parquet",
             DATA / "redshift-serverless/workgroup0-queries.parquet")):
        assert_frame_equal(pl.read_parquet(made), pl.read_parquet(shipped))
    assert (tmp_path / "workloads/redshift-sls-wg0/workload.yml").read_text() == \
        (DATA / "workloads/redshift-sls-wg0/workload.yml").read_text()


def test_refitting_reproduces_the_shipped_model(tmp_path: Path) -> None:
    out = tmp_path / "refit"
    subprocess.run([sys.executable, "-m", "autoslo.cli", "--data-dir", str(DATA), "model",
                    "fit-contention", "--workload", str(DATA / "workloads/redshift-sls-wg0"),
                    "--results", str(DATA / "redshift-serverless/workgroup0-queries.parquet"),
                    "--config", str(DATA / "execution_configs/examples/redshift-16rpu.yml"),
                    "--out", str(out)], check=True, capture_output=True, cwd=tmp_path)
    made = yaml.safe_load((out / "model.yml").read_text())
    shipped = yaml.safe_load((DATA / "models/redshift-sls-16rpu/model.yml").read_text())
    assert made["parameters"] == shipped["parameters"]
    assert made["bootstrap"] == shipped["bootstrap"]
    figures = ("mean_abs_log_error", "processor_sharing", "fitted", "processor_sharing_best",
               "parameter_spread")
    assert {k: made["fit"][k] for k in figures} == {k: shipped["fit"][k] for k in figures}
    # the fitted law halves processor sharing's error on its own log
    assert shipped["fit"]["fitted"]["median_abs_log_error"] < \
        0.5 * shipped["fit"]["processor_sharing_best"]["median_abs_log_error"]
