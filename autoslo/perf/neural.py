"""The neural runtime model's whole tasks: load a model folder, fine-tune into a new folder,
predict a file's rows, evaluate on a split, recommend a size.

Each is the one library call behind an `autoslo model ...` command; torch loads only when one runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from autoslo.datatree import display_path
from autoslo.errors import AutosloError

if TYPE_CHECKING:
    import polars as pl

    from autoslo.datatree import DataTree
    from autoslo.perf.bellamy import BellamyModel
    from autoslo.perf.evaluation import Score, Split
    from autoslo.perf.recommend import Choice


def load_neural(folder: Path) -> BellamyModel:
    """The Bellamy-style model in `folder`; any other kind of model folder is refused."""
    from autoslo.perf._loading import read_model_meta
    from autoslo.perf.bellamy import load_bellamy

    if not folder.is_dir():
        raise AutosloError(f"{display_path(folder)}: model folder does not exist")
    meta = read_model_meta(folder)
    if meta["kind"] != "bellamy":
        raise AutosloError(f"{display_path(folder / 'model.yml')}: kind: this command needs a "
                           f"bellamy model, got {meta['kind']!r}")
    return load_bellamy(folder, meta)


def finetune_to_folder(model: Path, data: list[Path], out: Path, tree: DataTree, *, suite: str,
                       seed: int, command: str = "") -> BellamyModel:
    """Fine-tune the pretrained model in `model` on `data` (C3O rows or one calibration table) and
    write the result to `out` atomically; a calibration table also teaches it the templates."""
    from autoslo.perf.bellamy import finetune_model
    from autoslo.perf.sources import calibrated_templates, is_calibration_table, runtime_rows

    pretrained = load_neural(model)
    rows = runtime_rows(data, suite, tree, need_runtime=True)
    templates = calibrated_templates(data[0], suite, tree) if is_calibration_table(data[0]) else None
    tuned = finetune_model(pretrained, rows, seed, templates=templates,
                           sources=[display_path(d) for d in data], command=command)
    tuned.save(out)
    return tuned


def predict_to_csv(model: Path, data: Path, out: Path, tree: DataTree, *, suite: str) -> pl.DataFrame:
    """Write `data`'s rows plus predicted_runtime, lower, upper and extrapolated to the CSV `out`."""
    from autoslo.atomic import write_text
    from autoslo.perf.sources import input_table, runtime_rows

    loaded = load_neural(model)
    rows = runtime_rows([data], suite, tree, need_runtime=False)
    result = input_table(data).hstack(loaded.predict(rows))
    write_text(out, result.write_csv())
    return result


def evaluate_pretrained(model: Path, data: list[Path], *, split: str, shots: int,
                        seed: int) -> dict[str, Score]:
    """Retrain the pretrained model's hyperparameters on one split of C3O `data` and score it
    next to Ernest, gradient boosting and the noise floor."""
    from autoslo.perf.bellamy import TrainConfig
    from autoslo.perf.c3o import load_c3o
    from autoslo.perf.evaluation import SPLITS, evaluate

    if split not in SPLITS:
        raise AutosloError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    best = load_neural(model).meta.get("search", {}).get("best")
    if not best:
        raise AutosloError(f"{model}/model.yml: search.best: is required (a pretrained model)")
    return evaluate(load_c3o(data), cast("Split", split), config=TrainConfig.from_best(best),
                    seed=seed, shots=shots)


def recommend_size(model: Path, data: Path, tree: DataTree, *, sizes: str, price: float,
                   deadline_s: float, suite: str) -> Choice:
    """The cheapest of `sizes` (MIN..MAX or a list) whose upper runtime bound meets the deadline
    for the context `data` names (else the fastest)."""
    from autoslo.perf.recommend import parse_sizes, recommend
    from autoslo.perf.sources import runtime_rows

    candidates = parse_sizes(sizes)
    loaded = load_neural(model)
    return recommend(loaded, runtime_rows([data], suite, tree, need_runtime=False), candidates,
                     price, deadline_s)
