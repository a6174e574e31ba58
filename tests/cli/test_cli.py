"""The command line: fast help, honest 'not built yet', validate on the shipped examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "ray", "prefect", "polars", "optuna", "numba", "plotly", "pydantic", "boto3"]


def test_help_lists_every_entry_point_without_heavy_imports() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['autoslo', '--help']\n"
        "from autoslo.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout
    for command in ("validate", "tune", "execute", "plot", "simulate", "workload", "model"):
        assert f"  {command} " in out
    assert "LOADED []" in out


def test_validate_passes_on_every_shipped_example(monkeypatch: pytest.MonkeyPatch, cli) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("AUTOSLO_DATA_DIR", raising=False)
    result = cli("validate")
    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    kinds = {line.split()[1] for line in lines[:-1]}
    assert kinds == {"execution-config", "tuner-config", "slo", "prices", "tuning-manifest",
                     "execution-manifest", "plotting-manifest", "workload", "generator-spec",
                     "template-suite", "model-search"}
    # only the demo manifests wait for outputs (the tuner run `make demo` does first)
    pending = [line for line in lines[:-1] if line.split()[0] == "pending"]
    assert all(line.split()[0] in ("ok", "template", "pending") for line in lines[:-1])
    assert all("/demo.yml" in line for line in pending), pending
    assert lines[-1].endswith(" error(s)") and lines[-1].endswith("0 error(s)")


def test_the_demo_manifests_name_the_example_tuning_run(cli) -> None:
    import yaml

    dry = cli("tune", "--manifest", str(REPO / "data/manifests/tuning/example.yml"), "--dry-run")
    name = dry.out.splitlines()[0]
    execution = yaml.safe_load((REPO / "data/manifests/execution/demo.yml").read_text())
    plotting = (REPO / "data/manifests/plotting/demo.yml").read_text()
    assert {"tuned": name, "label": "tuned"} in execution["execution_configs"]
    assert plotting.count(name) == 3


def test_template_reported_then_resolved(data_dir: Path, cli) -> None:
    result = cli("validate", "data/execution_configs/examples/mmc.yml")
    assert result.code == 0
    assert "template, needs ${SLOTS}" in result.out
    result = cli("validate", "data/execution_configs/examples/mmc.yml", "--param", "SLOTS=4")
    assert result.code == 0
    assert result.out.startswith("ok")


def test_pending_tuned_reference_is_not_an_error(data_dir: Path, cli) -> None:
    manifest = data_dir / "manifests" / "execution" / "later.yml"
    manifest.write_text("workloads: [workloads/example]\nexecution_configs:\n"
                        "  - tuned: serverless-example-0123abcd\n")
    result = cli("validate", "data/manifests/execution/later.yml")
    assert result.code == 0, result.err
    assert result.out.startswith("pending")
    assert "tuner run 'serverless-example-0123abcd' has not written" in result.out
    tuned = data_dir / "execution_configs" / "tuned" / "serverless-example-0123abcd.yml"
    tuned.parent.mkdir(parents=True)
    tuned.write_text((data_dir / "execution_configs/examples/serverless-pool.yml").read_text())
    result = cli("validate", "data/manifests/execution/later.yml")
    assert result.out.startswith("ok")


def test_files_outside_the_data_tree(tmp_path: Path, data_dir: Path, cli) -> None:
    elsewhere = tmp_path / "elsewhere.yml"
    elsewhere.write_text((data_dir / "slos" / "example.yml").read_text())
    result = cli("validate", str(elsewhere), "--kind", "slo")
    assert result.code == 0, result.err
    assert result.out.startswith("ok")


def test_validate_a_folder(data_dir: Path, cli) -> None:
    result = cli("validate", "data/manifests")
    assert result.code == 0
    assert len(result.out.splitlines()) == 6  # 5 manifests and the total
    assert "2 pending" in result.out.splitlines()[-1]  # the demo's, until `make demo` ran


def test_data_dir_option(tmp_path: Path, data_dir: Path, cli, monkeypatch) -> None:
    monkeypatch.delenv("AUTOSLO_DATA_DIR")
    monkeypatch.chdir(tmp_path.parent)
    result = cli("--data-dir", str(data_dir), "validate")
    assert result.code == 0, result.err
    assert "18 file(s)" in result.out


def test_usage_errors_exit_2_without_traceback(cli) -> None:
    result = cli("simulate", "--no-such-option")
    assert result.code == 2
    assert "No such option" in result.err and "Traceback" not in result.err
