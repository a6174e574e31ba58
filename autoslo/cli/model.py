"""`autoslo model ...`: pretrain, fine-tune, predict with, evaluate and ask the runtime models; fit a
contention model from live runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoslo.cli.app import app, command_line, sub_app

if TYPE_CHECKING:
    from autoslo.datatree import DataTree


class ModelClassOption(StrEnum):
    """Which contention-law class `model fit-contention` fits (see autoslo.sim.fit)."""

    full = "full"
    weighted = "weighted"
    processor_sharing = "processor_sharing"
    auto = "auto"


class MemoryOption(StrEnum):
    """How `model fit-contention` models memory (see autoslo.perf.contention)."""

    none = "none"
    admission = "admission"
    spill = "spill"

model_app = sub_app("Pretrain, fine-tune, evaluate and query runtime models (Bellamy-style, Ernest).")
app.add_typer(model_app, name="model")

SUITE_HELP = "Template suite of a calibration table."


@model_app.command("pretrain")
def model_pretrain(
    ctx: typer.Context,
    data: Annotated[list[Path], typer.Option(
        help="C3O .tsv files or folders of them (repeat the option for several).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (data/models/<name>).")],
    trials: Annotated[int | None, typer.Option(
        min=1, help="Search trials (default: the search file's).")]
    = None,
    search: Annotated[Path | None, typer.Option(
        help="Search space YAML (default: data/model_searches/bellamy.yml).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the search file's).")] = None,
) -> None:
    """Pretrain the neural model on many contexts (Ray Tune + Optuna TPE + ASHA, 2 CPUs)."""
    from autoslo.cli._outputs import check_out_folder
    from autoslo.datatree import display_path
    from autoslo.perf.bellamy import DEFAULT_SEARCH, pretrain_to_folder

    tree: DataTree = ctx.obj
    check_out_folder(out, "model.yml", "model")
    model = pretrain_to_folder(data, out, search or tree.ref(DEFAULT_SEARCH), trials=trials,
                               seed=seed, command=command_line())
    scores = model.meta["scores"]["validation"]
    typer.echo(f"pretrained on {model.meta['data']['rows']} rows, "
               f"{model.meta['data']['contexts']} contexts: validation MAPE "
               f"{scores['mape']:.2%}, MAE {scores['mae_s']:.1f} s, best "
               f"{model.meta['search']['best']} -> {display_path(out)}")


@model_app.command("finetune")
def model_finetune(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Pretrained model folder.")],
    data: Annotated[list[Path], typer.Option(
        help="C3O .tsv rows of the target context, or one calibration table (.csv/.parquet: "
             "template_id, shape, size, runtime_s).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (data/models/<name>).")],
    suite: Annotated[str, typer.Option(help=SUITE_HELP)] = "tpch",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the fine-tuning.")] = 0,
) -> None:
    """Fine-tune on a few runs of a target context (encoder frozen, head retrained)."""
    from autoslo.cli._outputs import check_out_folder
    from autoslo.datatree import display_path
    from autoslo.perf.neural import finetune_to_folder

    check_out_folder(out, "model.yml", "model")
    tuned = finetune_to_folder(model, data, out, ctx.obj, suite=suite, seed=seed,
                               command=command_line())
    info = tuned.meta["fine_tune"]
    typer.echo(f"fine-tuned on {info['rows']} rows ({info['configurations']} configurations; "
               f"retrained {', '.join(info['retrained'])}, head pull {info['head_pull']:g}; fit MAPE "
               f"{info['scores']['fine_tune_rows']['mape']:.2%}) -> {display_path(out)}")


@model_app.command("predict")
def model_predict(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model folder.")],
    data: Annotated[Path, typer.Option(
        help="Rows to predict: C3O .tsv (gross_runtime optional) or a calibration-format table "
             "(template_id, shape, size).")],
    out: Annotated[Path, typer.Option(help="CSV to write: the input rows plus predicted_runtime, "
                                           "lower, upper and extrapolated.")],
    suite: Annotated[str, typer.Option(help=SUITE_HELP)] = "tpch",
) -> None:
    """Predict runtimes with an uncertainty band; sizes outside the training range are flagged."""
    from autoslo.cli._outputs import check_out_file
    from autoslo.datatree import display_path
    from autoslo.perf.neural import predict_to_csv

    check_out_file(out)
    result = predict_to_csv(model, data, out, ctx.obj, suite=suite)
    outside = int(result["extrapolated"].sum())
    typer.echo(f"predicted {result.height} rows ({outside} outside the trained scale-out range) "
               f"-> {display_path(out)}")


@model_app.command("fit-contention")
def model_fit_contention(
    ctx: typer.Context,
    workload: Annotated[Path, typer.Option(
        help="The replayed workload: a folder or parquet with query_id, arrival_s, template_id "
             "and runtime_s (the isolated runtime at the cluster's size).")],
    results: Annotated[list[Path], typer.Option(
        help="A live run folder, or a queries.parquet with query_id, cluster_id, start_s, end_s "
             "as measured; repeat for several runs of the same workload.")],
    config: Annotated[Path, typer.Option(help="The execution config the run used.")],
    out: Annotated[Path, typer.Option(help="Model folder to write (data/models/<name>).")],
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for the config's placeholders.")] = None,
    trials: Annotated[int, typer.Option(min=10, help="Search trials (TPE, then Nelder-Mead).")] = 300,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the search and the bootstrap.")] = 0,
    memory: Annotated[MemoryOption, typer.Option(
        help="Also fit memory: admission (queries wait inside the cluster until their memory "
             "fits) or spill (a cluster over its memory runs slower).")] = MemoryOption.none,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap refits for the spread.")] = 20,
    fit_fraction: Annotated[float, typer.Option(
        help="Fit on this first share of the queries by arrival (the rest held out).")] = 1.0,
    model_class: Annotated[ModelClassOption, typer.Option(
        help="The law's class: full (weights, slowdown exponent, warm-up, memory), weighted (no "
             "warm-up or memory), processor_sharing, or auto (the simplest class within one "
             "standard error of the best on the latest quarter of the fitted queries).")
    ] = ModelClassOption.full,
) -> None:
    """Fit how concurrent queries slow each other from a live run, with the simulator in the fit."""
    from autoslo.cli._outputs import check_out_folder
    from autoslo.config import parse_params
    from autoslo.datatree import display_path
    from autoslo.sim.fit import fit_from_files, law_summary

    check_out_folder(out, "model.yml", "model")
    report = fit_from_files(ctx.obj, workload, results, config, out, params=parse_params(param or []),
                            trials=trials, seed=seed, memory=memory.value, bootstrap=bootstrap,
                            fit_fraction=fit_fraction, command=command_line(),
                            model_class=model_class.value, say=typer.echo)
    fit = report.model.fit
    typer.echo(f"fitted: {law_summary(report.model.law)}; median |log error| "
               f"{fit['fitted']['median_abs_log_error']:.3f} vs processor sharing "
               f"{fit['processor_sharing_best']['median_abs_log_error']:.3f} "
               f"-> {display_path(report.out)}")


@model_app.command("evaluate")
def model_evaluate(
    model: Annotated[Path, typer.Option(help="Pretrained model folder (its hyperparameters are "
                                             "retrained on the split's training rows).")],
    data: Annotated[list[Path], typer.Option(help="C3O .tsv files or folders.")],
    split: Annotated[str, typer.Option(help="random, context or few-shot.")] = "random",
    shots: Annotated[int, typer.Option(help="Configurations of each held-out context to "
                                            "fine-tune on (few-shot).")] = 3,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the split and the training.")] = 0,
) -> None:
    """Print MAPE and MAE of the model, Ernest and gradient boosting on one split."""
    from autoslo.perf.evaluation import format_scores
    from autoslo.perf.neural import evaluate_pretrained

    scores = evaluate_pretrained(model, data, split=split, shots=shots, seed=seed)
    typer.echo(f"split {split}" + (f", K = {shots}" if split == "few-shot" else "")
               + f", seed {seed}")
    typer.echo(format_scores(scores))


@model_app.command("recommend")
def model_recommend(
    ctx: typer.Context,
    model: Annotated[Path, typer.Option(help="Model folder (fine-tuned for the context).")],
    data: Annotated[Path, typer.Option(help="C3O .tsv naming the context (one or more rows).")],
    sizes: Annotated[str, typer.Option(help="MIN..MAX or a list, e.g. 2..12 or 2,4,8.")],
    price: Annotated[float, typer.Option(help="Price per size unit and hour (e.g. USD per "
                                              "instance-hour).")],
    deadline: Annotated[float, typer.Option(help="Deadline in seconds.")],
    suite: Annotated[str, typer.Option(help=SUITE_HELP)] = "tpch",
) -> None:
    """Cheapest size whose upper runtime bound meets the deadline (else the fastest)."""
    from autoslo.perf.neural import recommend_size

    choice = recommend_size(model, data, ctx.obj, sizes=sizes, price=price, deadline_s=deadline,
                            suite=suite)
    typer.echo(f"{'size':>6}{'predicted_s':>13}{'upper_s':>10}{'cost':>10}  meets")
    for row in choice.candidates.iter_rows(named=True):
        typer.echo(f"{row['size']:>6g}{row['predicted_runtime']:>13.1f}{row['upper']:>10.1f}"
                   f"{row['cost']:>10.4f}  {'yes' if row['meets_deadline'] else 'no'}"
                   + ("  (outside trained range)" if row["extrapolated"] else ""))
    verdict = ("cheapest meeting the deadline" if choice.meets_deadline
               else "no size meets the deadline: the fastest")
    typer.echo(f"recommended size {choice.size:g} ({verdict})")
