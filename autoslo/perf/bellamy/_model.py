"""A trained neural runtime model on disk and in memory: weights, preprocessing, uncertainty band.

Folder: ``model.yml`` (kind: bellamy, format_version, data, split, search, scores, command),
``preprocessing.json``, ``weights.pt`` (a list of state dicts, one per ensemble member) and, for
a model fine-tuned on a calibration table, ``templates.csv`` (template_id, job, arg1..arg3: the
runtime-row properties of each template, so the simulator can ask by template id).
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
import yaml

from autoslo.atomic import replace_dir
from autoslo.datatree import display_path
from autoslo.errors import InputError
from autoslo.perf._interface import LatencyModel
from autoslo.perf._rows import conform
from autoslo.perf.bellamy._features import Preprocessing
from autoslo.perf.bellamy._network import BellamyNet
from autoslo.perf.bellamy._train import ensemble_log, make_batch

FORMAT_VERSION = 2  # the folder format: 2 holds an ensemble of networks, 1 held one
EXTRAPOLATION_WIDENING = 2.0  # the band is this many times wider outside the trained range
SPREAD_Z = 1.645  # the members' spread widens each side of the 90 % band by this many sd


@dataclass
class BellamyModel:
    """The networks (an ensemble averaging log runtime), their preprocessing, the log-residual
    band (q05, q95) and the model's description."""

    nets: list[BellamyNet]
    prep: Preprocessing
    band: tuple[float, float]
    meta: dict[str, Any] = field(default_factory=dict)
    templates: pl.DataFrame | None = None
    trained_range: tuple[float, float] | None = None  # scale-outs seen; default: pretraining's

    @property
    def scale_out_range(self) -> tuple[float, float]:
        """The scale-outs this model was trained on; predictions outside are flagged."""
        return self.trained_range or self.prep.scale_out_range

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        """predicted_runtime, lower, upper (seconds) and extrapolated, one row per input row.

        The band is the residual band (twice as wide outside the trained scale-outs), widened
        further where the members disagree, as they do far from the data they saw.
        """
        rows = conform(rows)
        log_pred, spread = ensemble_log(self.nets, self.prep, make_batch(self.prep, rows))
        n = rows["scale_out"].to_numpy()
        low, high = self.scale_out_range
        outside = (n < low) | (n > high)
        widen = np.where(outside, EXTRAPOLATION_WIDENING, 1.0)
        return pl.DataFrame({
            "predicted_runtime": np.exp(log_pred),
            "lower": np.exp(log_pred + self.band[0] * widen - SPREAD_Z * spread),
            "upper": np.exp(log_pred + self.band[1] * widen + SPREAD_Z * spread),
            "extrapolated": outside,
        })

    def save(self, folder: Path) -> None:
        """Write the folder atomically (a reader sees the old model or the new one)."""
        buffer = io.BytesIO()
        torch.save([net.state_dict() for net in self.nets], buffer)
        first = self.nets[0]
        meta = {"kind": "bellamy", "format_version": FORMAT_VERSION, **self.meta,
                "network": {"width": first.width, "dropout": first.dropout,
                            "members": len(self.nets)},
                "band": {"log_q05": float(self.band[0]), "log_q95": float(self.band[1])},
                "trained_scale_out_range": [float(v) for v in self.scale_out_range]}
        with replace_dir(folder) as tmp:
            tmp.chmod(0o755)  # a model folder is shared, like the rest of data/
            (tmp / "weights.pt").write_bytes(buffer.getvalue())
            (tmp / "preprocessing.json").write_text(json.dumps(self.prep.to_dict(), indent=1),
                                                    encoding="utf-8")
            (tmp / "model.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
            if self.templates is not None:
                self.templates.write_csv(tmp / "templates.csv")


def load_bellamy(folder: Path, meta: dict[str, Any]) -> BellamyModel:
    """Read a bellamy model folder whose model.yml (`meta`) was already checked."""
    source = display_path(folder)
    for name in ("weights.pt", "preprocessing.json"):
        if not (folder / name).is_file():
            raise InputError(f"{name} is missing (a bellamy model needs it)", source=source)
    try:
        prep = Preprocessing.from_dict(json.loads((folder / "preprocessing.json").read_text()))
        network = meta.get("network", {})
        states = _load_weights(folder / "weights.pt")
        if not isinstance(states, list) or len(states) != int(network["members"]):
            raise ValueError(f"weights.pt holds no list of {network['members']} state dicts")
        nets = []
        for state in states:
            net = BellamyNet(width=int(network["width"]), dropout=float(network["dropout"]))
            net.load_state_dict(state)
            nets.append(net)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise InputError(f"is not a readable bellamy model of format {FORMAT_VERSION} "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0]})",
                         source=source) from None
    band = meta.get("band", {})
    templates = None
    if (folder / "templates.csv").is_file():
        templates = pl.read_csv(folder / "templates.csv", schema_overrides={
            "template_id": pl.String, "job": pl.String})
    return BellamyModel(nets, prep, (float(band.get("log_q05", -0.1)),
                                    float(band.get("log_q95", 0.1))),
                        {k: v for k, v in meta.items() if k not in (
                            "kind", "format_version", "network", "band",
                            "trained_scale_out_range")}, templates,
                        trained_range=tuple(meta["trained_scale_out_range"])  # type: ignore[arg-type]
                        if "trained_scale_out_range" in meta else None)


def _load_weights(path: Path) -> Any:
    """The ensemble's state dicts; a truncated or foreign file is an InputError naming it."""
    try:
        return torch.load(path, weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "no detail"
        raise InputError(f"is not a readable torch file of state dicts ({type(exc).__name__}: "
                         f"{detail[:120]}); re-create the model with `autoslo model pretrain` "
                         "or `autoslo model finetune`", source=display_path(path)) from None


def residual_band(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """The 5 % and 95 % quantiles of log(actual / predicted), at least +-1 % wide."""
    residual = np.log(actual / predicted)
    return (min(float(np.quantile(residual, 0.05)), -0.01),
            max(float(np.quantile(residual, 0.95)), 0.01))


class BellamyLatencyModel(LatencyModel):
    """A model fine-tuned on a calibration table, answering the simulator by template id."""

    def __init__(self, model: BellamyModel, name: str, source: str) -> None:
        if model.templates is None:
            raise InputError("has no templates.csv: fine-tune it on a calibration table "
                             "(autoslo model finetune --data calibration.csv) before the "
                             "simulator can use it", source=source)
        self.model = model
        self.name = name
        self._features = {row["template_id"]: row for row in model.templates.iter_rows(named=True)}

    def known_templates(self) -> set[str]:
        return set(self._features)

    def _rows(self, template_ids: Sequence[str], shape: str, size: int) -> pl.DataFrame:
        missing = sorted(set(template_ids) - set(self._features))
        if missing:
            raise InputError(f"latency model {self.name!r} has no entry for template {missing[0]!r}")
        return pl.DataFrame({
            "job": [self._features[t]["job"] for t in template_ids],
            "machine_type": [shape] * len(template_ids),
            **{a: [float(self._features[t][a]) for t in template_ids]
               for a in ("arg1", "arg2", "arg3")},
            "scale_out": [float(size)] * len(template_ids),
        })

    def predict(self, template_ids: Sequence[str], shape: str, size: int) -> np.ndarray:
        return self.predict_interval(template_ids, shape, size)[0]

    def predict_interval(self, template_ids: Sequence[str], shape: str,
                         size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self.model.predict(self._rows(list(template_ids), shape, size))
        return (out["predicted_runtime"].to_numpy(), out["lower"].to_numpy(),
                out["upper"].to_numpy())
