"""Pretraining with the real Ray Tune search, through the Prefect flow (a tiny budget)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _flow_module():
    spec = importlib.util.spec_from_file_location("pretrain_flow", REPO / "flows" / "pretrain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_pretrain_flow_searches_and_writes_a_loadable_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from autoslo.perf._loading import read_model_meta
    from autoslo.perf.bellamy import load_bellamy
    from autoslo.perf.c3o import load_c3o

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    data = tmp_path / "data"  # a private data tree: flow parameters are data-relative
    (data / "c3o").mkdir(parents=True)
    (data / "model_searches").mkdir()
    (data / "c3o" / "sort.tsv").write_bytes((REPO / "data" / "c3o" / "sort.tsv").read_bytes())
    monkeypatch.setenv("AUTOSLO_DATA_DIR", str(data))
    search = data / "model_searches" / "tiny.yml"
    search.write_text(yaml.safe_dump({
        "trials": 2, "max_epochs": 20, "grace_epochs": 10, "reduction_factor": 2,
        "eval_every": 10, "seed": 1, "members": 2,
        "space": {"lr": [0.01, 0.003], "weight_decay": [0.0], "dropout": [0.0],
                  "width": [8, 16]}}))
    out = data / "models" / "tiny"
    with prefect_test_harness():
        result = _flow_module().pretrain(["c3o/sort.tsv"], "models/tiny",
                                         "model_searches/tiny.yml")
    assert Path(result["out"]).resolve() == out.resolve()
    meta = read_model_meta(out)
    assert meta["kind"] == "bellamy" and meta["format_version"] == 2
    assert meta["search"]["trials"] == 2 and len(meta["search"]["results"]) == 2
    assert meta["search"]["best"]["width"] in (8, 16)
    assert meta["search"]["best"]["members"] == 2 and meta["network"]["members"] == 2
    assert meta["search"]["sampler"].startswith("optuna TPE")
    assert meta["scores"]["validation"] == result["validation"]
    assert meta["command"] == ("python flows/pretrain.py --data c3o/sort.tsv --out models/tiny "
                               "--search model_searches/tiny.yml")
    model = load_bellamy(out, meta)
    rows = load_c3o([REPO / "data" / "c3o" / "sort.tsv"]).head(3)
    assert (model.predict(rows)["predicted_runtime"] > 0).all()
    assert sorted(p.name for p in out.iterdir()) == ["model.yml", "preprocessing.json",
                                                     "weights.pt"]


@pytest.mark.slow
def test_a_repeated_setting_replays_its_recorded_scores(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from autoslo.config.model_search import ModelSearch
    from autoslo.perf.bellamy._features import fit_preprocessing
    from autoslo.perf.bellamy._pretrain import split_validation
    from autoslo.perf.bellamy._search import run_search
    from autoslo.perf.c3o import load_c3o

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    rows = load_c3o([REPO / "data" / "c3o" / "sort.tsv"])
    spec = ModelSearch.model_validate({
        "trials": 3, "max_epochs": 20, "grace_epochs": 20, "eval_every": 10, "seed": 1,
        "space": {"lr": [0.01], "weight_decay": [0.0], "dropout": [0.0], "width": [8]}})
    train_rows, val_rows = split_validation(rows, 0.15, 1)
    result = run_search(train_rows, val_rows, fit_preprocessing(train_rows), spec, trials=3,
                        seed=1, storage=tmp_path)
    # one setting, proposed three times: trained once, replayed twice, the same scores
    assert [t["replayed"] for t in result.trials].count(False) == 1
    assert len({t["best_val_mape"] for t in result.trials}) == 1
    assert all(t["epochs"] == 20 for t in result.trials)
    assert len(list((tmp_path / "replays").iterdir())) == 1
