"""Runtime models: C3O and calibration formats, Ernest, the neural model, the model commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from autoslo.errors import InputError
from autoslo.perf._rows import PROPERTY_NAMES, context_ids
from autoslo.perf.c3o import load_c3o

REPO = Path(__file__).resolve().parents[2]
C3O = REPO / "data" / "c3o"
SHIPPED = REPO / "data" / "models" / "c3o-bellamy"


@pytest.fixture(scope="module")
def sort_rows() -> pl.DataFrame:
    return load_c3o([C3O / "sort.tsv"])


@pytest.fixture(scope="module")
def small_model(sort_rows: pl.DataFrame):
    """A quickly trained neural model on one job (a few epochs, for mechanics not accuracy)."""
    from autoslo.perf.bellamy import TrainConfig, fit_fixed

    return fit_fixed(sort_rows, TrainConfig(lr=0.01, width=16, dropout=0.0, epochs=15, members=2),
                     seed=3)


# ---- data formats --------------------------------------------------------------------------

def test_c3o_files_map_onto_runtime_rows() -> None:
    rows = load_c3o([C3O])
    assert rows.height == 4650
    assert context_ids(rows).n_unique() == 156
    assert sorted(rows["job"].unique().to_list()) == ["grep", "kmeans", "pagerank", "sgd", "sort"]
    sort = rows.filter(pl.col("job") == "sort")
    assert sort["arg3"].null_count() == sort.height  # sort has two job-specific columns
    first = rows.row(0, named=True)
    assert first["scale_out"] == 2 and first["slots_per_node"] == 8
    assert first["memory_per_node_mb"] == 15000 and first["runtime_s"] == 150


@pytest.mark.parametrize(("content", "message"), [
    ("", "data/bad.tsv: is empty"),
    ("instance_count\tmachine_type\tslots\tmemory\tgross_runtime\n2\tm4\t8\t100\t5\n",
     "data/bad.tsv: missing column(s) data_size_MB (C3O format: "),
    ("instance_count\tmachine_type\tslots\tmemory\tdata_size_MB\tgross_runtime\n",
     "data/bad.tsv: has no data rows"),
    ("instance_count\tmachine_type\tslots\tmemory\tdata_size_MB\tgross_runtime\n"
     "two\tm4\t8\t100\t7\t5\n", "data/bad.tsv: instance_count: must be a number in every row, "
                                "got 'two'"),
    ("instance_count\tmachine_type\tslots\tmemory\tdata_size_MB\tgross_runtime\n"
     "0\tm4\t8\t100\t7\t5\n", "data/bad.tsv: scale-out must be a number > 0 in every row"),
])
def test_bad_c3o_files_give_one_line_and_exit_2(data_dir: Path, cli, content: str,
                                                 message: str) -> None:
    (data_dir / "bad.tsv").write_text(content)
    out = data_dir / "predicted.csv"
    result = cli("model", "predict", "--model", "data/models/c3o-bellamy", "--data",
                 "data/bad.tsv", "--out", str(out))
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert result.err.startswith(message), result.err
    assert not out.exists()


def test_calibration_table_is_checked(tmp_path: Path) -> None:
    from autoslo.perf.calibration import read_calibration

    bad = tmp_path / "cal.csv"
    bad.write_text("template_id,shape,size\nq01,serverless,8\n")
    with pytest.raises(InputError, match=r"missing column\(s\) runtime_s"):
        read_calibration(bad)
    bad.write_text("template_id,shape,size,runtime_s\nq01,serverless,eight,3\n")
    with pytest.raises(InputError, match="size: must be a number in every row, got 'eight'"):
        read_calibration(bad)


# ---- Ernest ------------------------------------------------------------------------------------

def test_ernest_recovers_a_curve_of_its_family() -> None:
    from autoslo.perf.ernest import ErnestFits

    n = np.array([2.0, 4, 6, 8, 10, 12])
    runtime = 10 + 100 / n + 5 * np.log(n)
    fits = ErnestFits(["a"] * 6, n, runtime)
    assert np.allclose(fits.theta["a"], [10, 100, 5, 0], atol=1e-6)
    predicted, lower, upper, outside = fits.interval(["a", "a"], np.array([3.0, 20.0]))
    assert np.allclose(predicted, 10 + 100 / np.array([3, 20]) + 5 * np.log([3, 20]))
    assert (lower < predicted).all() and (upper > predicted).all()
    assert outside.tolist() == [False, True]


# ---- the neural model ----------------------------------------------------------------------------

def test_scale_out_features_extrapolate_and_are_flagged(small_model) -> None:
    from autoslo.perf.bellamy._features import extrapolated, scale_features

    prep = small_model.prep
    features = scale_features(prep, np.array([2.0, 12.0, 48.0]))
    assert features[0, 0] == pytest.approx(0) and features[1, 0] == pytest.approx(1)
    assert features[2, 0] == pytest.approx((48 - 2) / 10)  # not clipped
    assert extrapolated(prep, np.array([1.0, 2.0, 12.0, 13.0])).tolist() == [True, False, False,
                                                                              True]


def test_missing_optional_properties_encode_alike_in_training_and_serving(
        small_model, sort_rows: pl.DataFrame) -> None:
    from autoslo.perf.bellamy._features import encode_properties

    row = sort_rows.head(1)
    without = row.with_columns(pl.lit(None, dtype=pl.Float64).alias("memory_per_node_mb"))
    values, mask = encode_properties(small_model.prep, without)
    j = PROPERTY_NAMES.index("memory_per_node_mb")
    assert mask[0, j] == 0 and not values[0, j].any()
    # the same row predicted with and without the optional property differ only through pooling
    full = small_model.predict(row)["predicted_runtime"][0]
    partial = small_model.predict(without)["predicted_runtime"][0]
    assert full > 0 and partial > 0


def test_predictions_are_positive_with_a_band(small_model, sort_rows: pl.DataFrame) -> None:
    out = small_model.predict(sort_rows.with_columns(pl.lit(40.0).alias("scale_out")).head(20))
    assert (out["predicted_runtime"] > 0).all()
    assert (out["lower"] < out["predicted_runtime"]).all()
    assert (out["upper"] > out["predicted_runtime"]).all()
    assert out["extrapolated"].all()


def test_training_is_reproducible_in_another_process(small_model, sort_rows: pl.DataFrame) -> None:
    script = (
        "from pathlib import Path\n"
        "from autoslo.perf.c3o import load_c3o\n"
        "from autoslo.perf.bellamy import TrainConfig, fit_fixed\n"
        f"rows = load_c3o([Path({str(C3O / 'sort.tsv')!r})])\n"
        "m = fit_fixed(rows, TrainConfig(lr=0.01, width=16, dropout=0.0, epochs=15, members=2),"
        " seed=3)\n"
        "print(repr(m.predict(rows.head(5))['predicted_runtime'].to_list()))\n")
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, cwd=REPO).stdout
    here = small_model.predict(sort_rows.head(5))["predicted_runtime"].to_list()
    assert eval(out.strip()) == here


def test_model_folder_round_trip_and_format_version(small_model, tmp_path: Path) -> None:
    from autoslo.perf._loading import read_model_meta
    from autoslo.perf.bellamy import load_bellamy

    folder = tmp_path / "m"
    small_model.save(folder)
    loaded = load_bellamy(folder, read_model_meta(folder))
    rows = load_c3o([C3O / "sort.tsv"]).head(7)
    assert loaded.predict(rows).equals(small_model.predict(rows))
    meta = yaml.safe_load((folder / "model.yml").read_text())
    meta["format_version"] = 99
    (folder / "model.yml").write_text(yaml.safe_dump(meta))
    with pytest.raises(InputError, match="format_version: this bellamy model has format version "
                                         "99, but this autoslo reads format 2"):
        read_model_meta(folder)


def test_members_differ_and_their_spread_widens_the_band(small_model,
                                                         sort_rows: pl.DataFrame) -> None:
    from autoslo.perf.bellamy._model import BellamyModel

    first, second = small_model.nets
    assert any(not a.equal(b) for a, b in zip(first.state_dict().values(),
                                              second.state_dict().values(), strict=True))
    rows = sort_rows.head(20)
    alone = BellamyModel([first], small_model.prep, small_model.band).predict(rows)
    both = small_model.predict(rows)
    # the ensemble's log prediction is the members' mean; its band is wider than a member's
    one = np.log(alone["predicted_runtime"].to_numpy())
    other = np.log(BellamyModel([second], small_model.prep, small_model.band).predict(rows)[
        "predicted_runtime"].to_numpy())
    assert np.allclose(np.log(both["predicted_runtime"].to_numpy()), (one + other) / 2)
    width = np.log(both["upper"] / both["lower"]).to_numpy()
    assert (width >= small_model.band[1] - small_model.band[0] - 1e-12).all()
    assert (width > small_model.band[1] - small_model.band[0]).any()


def test_finetuning_retrains_only_the_head(small_model, sort_rows: pl.DataFrame) -> None:
    from autoslo.perf.bellamy import finetune_model

    context = sort_rows.filter(context_ids(sort_rows) == context_ids(sort_rows)[0])
    tuned = finetune_model(small_model, context.filter(pl.col("scale_out") <= 6), seed=0)
    assert len(tuned.nets) == len(small_model.nets)
    for old, new in zip(small_model.nets, tuned.nets, strict=True):
        before, after = old.state_dict(), new.state_dict()
        assert all(before[k].equal(after[k]) for k in before if not k.startswith("head."))
        assert any(not before[k].equal(after[k]) for k in before if k.startswith("head."))
    assert tuned.meta["fine_tune"]["retrained"] == ["head"]
    # three configurations, too few to hold one out: the strongest head pull, no choice
    assert tuned.meta["fine_tune"]["configurations"] == 3
    assert tuned.meta["fine_tune"]["head_pull"] == 100.0
    assert "held_out_mape_by_head_pull" not in tuned.meta["fine_tune"]
    # five: one is held out and chooses the head pull
    info = finetune_model(small_model, context.filter(pl.col("scale_out") <= 10),
                          seed=0).meta["fine_tune"]
    assert info["configurations"] == 5 and info["held_out_configurations"] == 1
    scores = info["held_out_mape_by_head_pull"]
    assert set(scores) == {100.0, 1.0, 0.01} and info["head_pull"] == min(scores, key=scores.get)
    # beyond the pretraining range the scale-out branch adapts too
    wide = context.head(10).with_columns(pl.col("scale_out") * 4)
    assert finetune_model(small_model, wide, seed=0).meta["fine_tune"]["retrained"] == [
        "head", "scale_out"]


def test_recommend_picks_the_cheapest_size_meeting_the_deadline(small_model,
                                                                sort_rows: pl.DataFrame) -> None:
    from autoslo.perf.recommend import parse_sizes, recommend

    context = sort_rows.head(1)
    sizes = parse_sizes("2..12")
    loose = recommend(small_model, context, sizes, price=1.0, deadline_s=1e9)
    table = loose.candidates
    assert loose.meets_deadline
    assert loose.size == table.sort(["cost", "size"])["size"][0]
    tight = recommend(small_model, context, sizes, price=1.0, deadline_s=1e-3)
    assert not tight.meets_deadline
    assert tight.size == table.sort(["upper", "size"])["size"][0]
    with pytest.raises(InputError, match=r"--sizes must be MIN\.\.MAX"):
        parse_sizes("2-12")


# ---- every latency model passes one suite -------------------------------------------------------

def _calibration(path: Path) -> Path:
    sizes = [8, 16, 32, 64]
    base = {"q01": 40.0, "q03": 20.0, "q06": 6.0, "q09": 60.0, "q13": 25.0, "q18": 50.0}
    rows = [(t, "serverless", s, b * (8 / s) ** 0.7 * f)
            for t, b in base.items() for s in sizes for f in (0.97, 1.03)]
    pl.DataFrame(rows, schema=["template_id", "shape", "size", "runtime_s"],
                 orient="row").write_csv(path)
    return path


@pytest.fixture
def latency_models(data_dir: Path, cli) -> dict[str, object]:
    from autoslo.perf._loading import load_model_folder

    table = _calibration(data_dir / "calibration.csv")
    models = {}
    for kind in ("table", "ernest"):
        folder = data_dir / "models" / f"cal-{kind}"
        folder.mkdir(parents=True)
        shutil.copy(table, folder / "runtimes.csv")
        (folder / "model.yml").write_text(f"kind: {kind}\nformat_version: 1\n")
        models[kind] = load_model_folder(folder)
    result = cli("model", "finetune", "--model", "data/models/c3o-bellamy", "--data",
                 "data/calibration.csv", "--out", "data/models/cal-bellamy")
    assert result.code == 0, result.err
    models["bellamy"] = load_model_folder(data_dir / "models" / "cal-bellamy")
    return models


@pytest.mark.parametrize("kind", ["table", "ernest", "bellamy"])
def test_every_latency_model_predicts_positive_runtimes_with_a_band(latency_models, kind: str) -> None:
    model = latency_models[kind]
    templates = ["q01", "q06", "q18"]
    assert set(templates) <= model.known_templates()
    for size in (8, 24, 64, 128):
        predicted, lower, upper = model.predict_interval(templates, "serverless", size)
        assert np.isfinite(predicted).all() and (predicted > 0).all()
        assert (lower <= predicted).all() and (predicted <= upper).all()
        assert np.array_equal(model.predict(templates, "serverless", size), predicted)
    # more capacity, shorter runtimes (the calibration data scale that way)
    small = model.predict(["q01"], "serverless", 8)[0]
    large = model.predict(["q01"], "serverless", 64)[0]
    assert large < small
    with pytest.raises(InputError, match="no entry for template 'q99'"):
        model.predict(["q99"], "serverless", 8)


def test_simulator_runs_with_a_finetuned_model(data_dir: Path, cli, latency_models) -> None:
    shutil.copy(data_dir / "execution_configs" / "examples" / "serverless-pool.yml",
                data_dir / "execution_configs" / "examples" / "with-model.yml")
    result = cli("simulate", "--workload", "data/workloads/example", "--config",
                 "data/execution_configs/examples/with-model.yml",
                 "--set", "latency_model.model=models/cal-bellamy")
    assert result.code == 0, result.err
    assert result.out.startswith("2108 queries on ")
    meta = yaml.safe_load((data_dir / "models" / "cal-bellamy" / "model.yml").read_text())
    assert meta["kind"] == "bellamy" and meta["fine_tune"]["data"]["rows"] == 48
    # without measured runtimes the model's predictions are what the simulator runs
    queries = pl.read_parquet(data_dir / "workloads" / "example" / "queries.parquet")
    queries = queries.filter(pl.col("template_id").is_in(["q01", "q03", "q06", "q13", "q18"]))
    queries.drop("runtime_s").write_parquet(data_dir / "unmeasured.parquet")
    result = cli("simulate", "--workload", "data/unmeasured.parquet", "--config",
                 "data/execution_configs/examples/with-model.yml",
                 "--set", "latency_model.model=models/cal-bellamy", "--out", "out/unmeasured")
    assert result.code == 0, result.err
    ran = pl.read_parquet(data_dir.parent / "out" / "unmeasured" / "queries.parquet")
    clusters = pl.read_parquet(data_dir.parent / "out" / "unmeasured" / "clusters.parquet")
    sizes = dict(zip(clusters["cluster_id"].to_list(), clusters["size"].to_list(), strict=True))
    model = latency_models["bellamy"]
    isolated = np.array([model.predict([t], "serverless", sizes[c])[0] for t, c in
                         zip(ran["template_id"].to_list(), ran["cluster_id"].to_list(),
                             strict=True)])
    service = (ran["end_s"] - ran["start_s"]).to_numpy()
    # sharing only ever slows a query down; most ran alone (float32 networks: 1e-5 tolerance)
    assert (service >= isolated * (1 - 1e-5)).all()
    assert np.isclose(service, isolated, rtol=1e-5).mean() > 0.5


# ---- commands --------------------------------------------------------------------------------

def test_predict_writes_input_rows_with_predictions(data_dir: Path, cli) -> None:
    rows = pl.read_csv(data_dir / "c3o" / "sort.tsv", separator="\t").head(4).drop("gross_runtime")
    rows = rows.with_columns(pl.Series("instance_count", [2, 8, 12, 24]))
    (data_dir / "ask").mkdir()
    rows.write_csv(data_dir / "ask" / "sort.tsv", separator="\t")  # the stem names the job
    result = cli("model", "predict", "--model", "data/models/c3o-bellamy", "--data",
                 "data/ask/sort.tsv", "--out", "out/pred.csv")
    assert result.code == 0, result.err
    assert "(1 outside the trained scale-out range)" in result.out
    out = pl.read_csv(data_dir.parent / "out" / "pred.csv")
    assert out.columns == [*rows.columns, "predicted_runtime", "lower", "upper", "extrapolated"]
    assert out["extrapolated"].to_list() == [False, False, False, True]
    assert (out["predicted_runtime"] > 0).all()


def test_model_of_another_format_exits_2(data_dir: Path, cli) -> None:
    meta_path = data_dir / "models" / "c3o-bellamy" / "model.yml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["format_version"] = 1  # one network, as autoslo wrote it before ensembles
    meta_path.write_text(yaml.safe_dump(meta))
    result = cli("model", "predict", "--model", "data/models/c3o-bellamy", "--data",
                 "data/c3o/sort.tsv", "--out", "p.csv")
    assert result.code == 2
    assert result.err.strip() == (
        "data/models/c3o-bellamy/model.yml: format_version: this bellamy model has format "
        "version 1, but this autoslo reads format 2; re-create it with this version (autoslo "
        "model pretrain / finetune)")


def test_recommend_command(data_dir: Path, cli) -> None:
    (data_dir / "ask").mkdir()
    pl.read_csv(data_dir / "c3o" / "grep.tsv", separator="\t").head(1).write_csv(
        data_dir / "ask" / "grep.tsv", separator="\t")
    result = cli("model", "recommend", "--model", "data/models/c3o-bellamy", "--data",
                 "data/ask/grep.tsv", "--sizes", "2..12", "--price", "0.4", "--deadline", "100000")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 + 11 + 1
    table = [line.split() for line in lines[1:-1]]
    assert all(row[4] == "yes" for row in table)  # a generous deadline: every size meets it
    cheapest = min(table, key=lambda row: (float(row[3]), float(row[0])))
    assert lines[-1] == f"recommended size {cheapest[0]} (cheapest meeting the deadline)"
    assert cli("model", "recommend", "--model", "data/models/c3o-bellamy", "--data",
               "data/ask/grep.tsv", "--sizes", "a..b", "--price", "1", "--deadline", "5").code == 2


@pytest.mark.slow
def test_evaluate_prints_the_model_and_baselines(data_dir: Path, cli) -> None:
    meta_path = data_dir / "models" / "c3o-bellamy" / "model.yml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["search"]["best"]["epochs"] = 30  # keep the test short
    meta["search"]["best"]["members"] = 1
    meta_path.write_text(yaml.safe_dump(meta))
    result = cli("model", "evaluate", "--model", "data/models/c3o-bellamy", "--data",
                 "data/c3o/sort.tsv", "--split", "few-shot", "--shots", "3")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "split few-shot, K = 3, seed 0"
    assert [line.split()[0] for line in lines[2:]] == ["bellamy", "ernest", "gradient", "noise"]
    assert cli("model", "evaluate", "--model", "data/models/c3o-bellamy", "--data",
               "data/c3o/sort.tsv", "--split", "sideways").code == 2
