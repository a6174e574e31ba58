"""Training loops: pretraining (runtime + reconstruction loss) and fine-tuning (frozen encoder,
retrained head, early stopping). Mini-batch Adam on one CPU thread; seeded, so one seed gives one
result. A model is an ensemble of such networks, each trained from its own seed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from autoslo.perf._rows import context_ids
from autoslo.perf.bellamy._features import (
    Preprocessing,
    encode_properties,
    extrapolated,
    scale_features,
)
from autoslo.perf.bellamy._network import BellamyNet


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (the search varies lr, weight decay, dropout, width);
    `members` networks, seeded one after another, make up a model."""

    lr: float = 0.01
    weight_decay: float = 0.0
    dropout: float = 0.0
    width: int = 64
    epochs: int = 800
    eval_every: int = 50
    patience: int = 800
    recon_weight: float = 0.1
    batch_size: int = 512
    members: int = 3

    @classmethod
    def from_best(cls, best: dict[str, Any]) -> TrainConfig:
        """The configuration a pretrained model's ``search.best`` records."""
        return cls(lr=float(best["lr"]), weight_decay=float(best["weight_decay"]),
                   dropout=float(best["dropout"]), width=int(best["width"]),
                   epochs=int(best.get("epochs", cls.epochs)),
                   members=int(best.get("members", cls.members)))


@dataclass
class Batch:
    """One table of rows as tensors (targets standardised log runtimes, if known)."""

    scale: torch.Tensor
    props: torch.Tensor
    mask: torch.Tensor
    index: torch.Tensor
    y: torch.Tensor | None
    runtime: np.ndarray | None

    @property
    def size(self) -> int:
        return int(self.scale.shape[0])


def make_batch(prep: Preprocessing, rows: pl.DataFrame) -> Batch:
    """Encode rows with the fitted preprocessing (properties once per distinct context)."""
    ids = context_ids(rows)
    lookup: dict[str, int] = {}
    firsts: list[int] = []
    index = np.empty(rows.height, dtype=np.int64)
    for row, context in enumerate(ids.to_list()):
        if context not in lookup:
            lookup[context] = len(firsts)
            firsts.append(row)
        index[row] = lookup[context]
    props, mask = encode_properties(prep, rows[firsts])
    scale = scale_features(prep, rows["scale_out"].to_numpy())
    runtime = None
    y = None
    if "runtime_s" in rows.columns and rows["runtime_s"].null_count() == 0:
        runtime = rows["runtime_s"].to_numpy().astype(np.float64)
        y = torch.from_numpy(((np.log(runtime) - prep.target_mean) / prep.target_std)
                             .astype(np.float32))
    return Batch(torch.from_numpy(scale), torch.from_numpy(props), torch.from_numpy(mask),
                 torch.from_numpy(index), y, runtime)


def seed_everything(seed: int) -> None:
    """Seed torch (the only random source of training) and train on one thread: these small
    networks train as fast on one thread as on two, and the other core stays free."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)


def predict_log(net: BellamyNet, prep: Preprocessing, batch: Batch) -> np.ndarray:
    """Predicted log runtimes (natural log of seconds)."""
    net.eval()
    with torch.no_grad():
        out, _ = net(batch.scale, batch.props, batch.mask, batch.index)
    return out.numpy().astype(np.float64) * prep.target_std + prep.target_mean


def ensemble_log(nets: list[BellamyNet], prep: Preprocessing,
                 batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """The members' mean predicted log runtime and their spread (standard deviation) per row."""
    logs = np.stack([predict_log(net, prep, batch) for net in nets])
    return logs.mean(0), logs.std(0)


def mape(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error, as a fraction."""
    return float(np.mean(np.abs(predicted - actual) / actual))


Reporter = Callable[[int, float, BellamyNet], None]


@dataclass
class TrainResult:
    """The best state seen, its epoch and its score (validation MAPE, or training loss)."""

    state: dict[str, torch.Tensor]
    epoch: int
    score: float


Anchor = list[tuple[nn.Parameter, torch.Tensor, float]]  # parameter, pretrained value, pull


def _loss(net: BellamyNet, batch: Batch, recon_weight: float, anchor: Anchor,
          rows: torch.Tensor | None = None) -> torch.Tensor:
    assert batch.y is not None
    scale, index, y = batch.scale, batch.index, batch.y
    if rows is not None:
        scale, index, y = scale[rows], index[rows], y[rows]
    pred, recon = net(scale, batch.props, batch.mask, index)
    loss = nn.functional.smooth_l1_loss(pred, y, beta=0.05)
    if recon_weight > 0:
        err = ((recon - batch.props) ** 2).mean(-1) * batch.mask
        loss = loss + recon_weight * err.sum() / batch.mask.sum().clamp(min=1.0)
    for param, start, pull in anchor:
        loss = loss + pull * ((param - start) ** 2).sum()
    return loss


def train(net: BellamyNet, prep: Preprocessing, train_batch: Batch, val_batch: Batch | None,
          config: TrainConfig, *, parameters: list[nn.Parameter] | None = None,
          recon_weight: float | None = None, pulls: dict[str, float] | None = None,
          report: Reporter | None = None, keep_last: bool = False) -> TrainResult:
    """Train in place and return the best state (by validation MAPE, else training loss).

    `pulls` maps a part of the network (``head``, ``scale_out``) to the weight of an L2 pull
    towards its starting values. With `keep_last`, the network keeps its final weights (the
    schedule has run to its end).
    """
    params = parameters if parameters is not None else list(net.parameters())
    anchor: Anchor = [(p, p.detach().clone(), (pulls or {})[name.split(".")[0]])
                      for name, p in net.named_parameters()
                      if p.requires_grad and name.split(".")[0] in (pulls or {})]
    optimiser = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    weight = config.recon_weight if recon_weight is None else recon_weight
    best = TrainResult(copy.deepcopy(net.state_dict()), 0, float("inf"))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs,
                                                          eta_min=config.lr / 100)
    generator = torch.Generator().manual_seed(int(torch.initial_seed()) % 2**31)
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = torch.randperm(train_batch.size, generator=generator)
        for start in range(0, train_batch.size, config.batch_size):
            optimiser.zero_grad()
            loss = _loss(net, train_batch, weight, anchor,
                         order[start:start + config.batch_size])
            loss.backward()
            optimiser.step()
        schedule.step()
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        if val_batch is not None and val_batch.runtime is not None:
            score = mape(np.exp(predict_log(net, prep, val_batch)), val_batch.runtime)
        else:
            net.eval()
            with torch.no_grad():
                score = float(_loss(net, train_batch, 0.0, []))
        if score < best.score:
            best = TrainResult(copy.deepcopy(net.state_dict()), epoch, score)
        if report is not None:
            report(epoch, score, net)
        if epoch - best.epoch >= config.patience:
            break
    if keep_last:
        return TrainResult(copy.deepcopy(net.state_dict()), config.epochs, best.score)
    net.load_state_dict(best.state)
    return best


FINE_TUNE_PULLS = {"head": 100.0, "scale_out": 0.01}


def finetune(nets: list[BellamyNet], prep: Preprocessing, rows: pl.DataFrame,
             config: TrainConfig, seed: int, *, epochs: int = 600, lr: float = 0.001,
             pulls: dict[str, float] | None = None) -> tuple[list[BellamyNet], dict[str, object]]:
    """Copies of the members with their heads retrained on `rows` (encoder frozen; early stopping).

    The scale-out branch is retrained too when the rows' scale-outs leave the pretraining range.
    With four or more configurations (context x scale-out) a quarter of them (at least one) is
    held out for early stopping; with fewer, training stops when the loss stops improving. The
    retrained weights are pulled towards the pretrained ones (`FINE_TUNE_PULLS`): the head
    strongly, so a few rows shift what pretraining learned rather than replace it; the scale-out
    branch weakly, so it can learn sizes pretraining never saw.
    """
    pulls = FINE_TUNE_PULLS if pulls is None else pulls
    outside = bool(extrapolated(prep, rows["scale_out"].to_numpy()).any())
    parts = ["head", *(["scale_out"] if outside else [])]
    configs = (rows.with_columns(context_ids(rows)).select(
        pl.concat_str([pl.col("context"), pl.col("scale_out").cast(pl.String)], separator="@")
    ).to_series())
    unique = sorted(set(configs.to_list()))
    generator = np.random.default_rng(seed)
    val_rows = None
    train_rows = rows
    held: set[str] = set()
    if len(unique) >= 4:
        held = set(generator.choice(unique, size=max(1, len(unique) // 4), replace=False).tolist())
        is_val = configs.is_in(list(held))
        val_rows, train_rows = rows.filter(is_val), rows.filter(~is_val)
    tune_config = TrainConfig(lr=lr, weight_decay=0.0, dropout=config.dropout, width=config.width,
                              epochs=epochs, eval_every=10, patience=150)
    train_batch = make_batch(prep, train_rows)
    val_batch = make_batch(prep, val_rows) if val_rows is not None else None
    tuned_nets, best_epochs = [], []
    for member, net in enumerate(nets):
        seed_everything(seed + member)
        tuned = copy.deepcopy(net)
        for name, param in tuned.named_parameters():
            param.requires_grad_(name.split(".")[0] in parts)
        trainable = [p for p in tuned.parameters() if p.requires_grad]
        result = train(tuned, prep, train_batch, val_batch, tune_config, parameters=trainable,
                       recon_weight=0.0, pulls={part: pulls[part] for part in parts})
        for param in tuned.parameters():
            param.requires_grad_(True)
        tuned_nets.append(tuned)
        best_epochs.append(result.epoch)
    return tuned_nets, {"rows": rows.height, "configurations": len(unique),
                        "held_out_configurations": len(held), "retrained": parts,
                        "best_epochs": best_epochs,
                        "early_stopping": "validation" if held else "training loss"}
