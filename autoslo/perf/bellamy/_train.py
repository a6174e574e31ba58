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

from autoslo.perf._rows import configuration_ids, context_ids
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
          config: TrainConfig, *, recon_weight: float | None = None,
          pulls: dict[str, float] | None = None, report: Reporter | None = None,
          keep_last: bool = False) -> TrainResult:
    """Train in place the parameters that require gradients; return the best state (by
    validation MAPE, else training loss).

    `pulls` maps a part of the network (``head``, ``scale_out``) to the weight of an L2 pull
    towards its starting values. With `keep_last`, the network keeps its final weights (the
    schedule has run to its end).
    """
    params = [p for p in net.parameters() if p.requires_grad]
    pulls = pulls or {}
    anchor: Anchor = [(p, p.detach().clone(), pulls[name.split(".")[0]])
                      for name, p in net.named_parameters()
                      if p.requires_grad and name.split(".")[0] in pulls]
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


HEAD_PULLS = (100.0, 1.0, 0.01)  # candidates, strongest first; the first is the default
SCALE_OUT_PULL = 0.01


def finetune(nets: list[BellamyNet], prep: Preprocessing, rows: pl.DataFrame,
             config: TrainConfig, seed: int, *, epochs: int = 600,
             lr: float = 0.001) -> tuple[list[BellamyNet], dict[str, object]]:
    """Copies of the members with their heads retrained on `rows` (encoder frozen; early stopping).

    The scale-out branch is retrained too when the rows' scale-outs leave the pretraining range.
    The retrained weights are pulled towards the pretrained ones (an L2 anchor): the scale-out
    branch weakly, so it can learn sizes pretraining never saw; the head by one of `HEAD_PULLS`.
    With four or more configurations (context x scale-out) a quarter of them (at least one) is
    held out: it stops training early and chooses the head pull (on the first member), so rows
    like pretraining's keep what it learned while rows of a new domain can move the head. With
    fewer, the strongest pull holds (a few rows shift the pretrained head rather than replace
    it) and training stops when the loss stops improving.
    """
    outside = bool(extrapolated(prep, rows["scale_out"].to_numpy()).any())
    parts = ["head", *(["scale_out"] if outside else [])]
    configs = configuration_ids(rows)
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

    def retrain(member: int, head_pull: float) -> tuple[BellamyNet, TrainResult]:
        seed_everything(seed + member)
        tuned = copy.deepcopy(nets[member])
        for name, param in tuned.named_parameters():
            param.requires_grad_(name.split(".")[0] in parts)
        pulls = {"head": head_pull, "scale_out": SCALE_OUT_PULL}
        result = train(tuned, prep, train_batch, val_batch, tune_config, recon_weight=0.0,
                       pulls={part: pulls[part] for part in parts})
        for param in tuned.parameters():
            param.requires_grad_(True)
        return tuned, result

    candidates = HEAD_PULLS if val_batch is not None else HEAD_PULLS[:1]
    first = {pull: retrain(0, pull) for pull in candidates}
    head_pull = min(candidates, key=lambda pull: (first[pull][1].score, -pull))
    results = [first[head_pull]] + [retrain(m, head_pull) for m in range(1, len(nets))]
    info: dict[str, object] = {
        "rows": rows.height, "configurations": len(unique), "held_out_configurations": len(held),
        "retrained": parts, "head_pull": head_pull,
        "best_epochs": [result.epoch for _, result in results],
        "early_stopping": "validation" if held else "training loss"}
    if len(candidates) > 1:
        info["held_out_mape_by_head_pull"] = {pull: round(first[pull][1].score, 6)
                                              for pull in candidates}
    return [net for net, _ in results], info
