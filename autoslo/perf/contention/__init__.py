"""Contention models: how concurrent queries slow each other on one cluster.

The law is weighted processor sharing (`_law.py`, run inside the simulator's engine); its
parameters are the `SharingLaw` of the execution config. A fitted model folder
(`data/models/<name>/model.yml`, kind `contention`) holds the parameters fitted from live runs
(`autoslo model fit-contention`), the fit's own figures and a bootstrap sample of parameter sets
that says how well the log determined them; the simulator can run any of those samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from autoslo.atomic import replace_dir
from autoslo.config.execution import SharingLaw
from autoslo.datatree import display_path
from autoslo.errors import InputError

KIND = "contention"
FORMAT_VERSION = 1
PARAMETERS = ("capacity", "weight_exponent", "slowdown_exponent", "cold_fraction", "warmup_s",
              "memory_exponent", "memory_budget", "memory_admission", "spill_exponent")


@dataclass(frozen=True)
class ContentionModel:
    """A fitted sharing law, the bootstrap samples around it and what the fit measured."""

    law: SharingLaw
    samples: tuple[SharingLaw, ...] = ()
    fit: dict[str, Any] = field(default_factory=dict)

    def sample(self, index: int) -> SharingLaw:
        """Bootstrap sample `index` (0 = the fitted law itself, 1.. = the samples)."""
        if index == 0:
            return self.law
        if not 1 <= index <= len(self.samples):
            raise InputError(f"must be between 0 and {len(self.samples)} (the model's bootstrap "
                             f"samples), got {index}", field="contention.sample")
        return self.samples[index - 1]


def law_dict(law: SharingLaw) -> dict[str, Any]:
    """The law's parameters as plain YAML values (memory_budget null = no memory admission)."""
    return {name: getattr(law, name) for name in PARAMETERS}


def save_contention_model(folder: Path, model: ContentionModel) -> None:
    """Write the model folder in one rename (model.yml with kind, format, parameters, fit)."""
    meta = {"kind": KIND, "format_version": FORMAT_VERSION, "parameters": law_dict(model.law),
            "fit": model.fit, "bootstrap": [law_dict(s) for s in model.samples]}
    with replace_dir(folder) as tmp:
        (tmp / "model.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def load_contention_model(folder: Path) -> ContentionModel:
    """Read a contention model folder; another kind or format version is refused in one line."""
    path = folder / "model.yml"
    source = display_path(path)
    if not path.is_file():
        raise InputError("does not exist (a contention model folder needs a model.yml; make one "
                         "with autoslo model fit-contention)", source=source)
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"is not valid YAML ({str(exc).splitlines()[0]})", source=source) from None
    if not isinstance(meta, dict):
        raise InputError("must be a mapping of keys to values", source=source)
    if meta.get("kind") != KIND:
        raise InputError(f"must be {KIND} for a contention model, got {meta.get('kind')!r}",
                         source=source, field="kind")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"this contention model has format version {meta.get('format_version')!r}"
                         f", but this autoslo reads format {FORMAT_VERSION}; refit it with "
                         "autoslo model fit-contention", source=source, field="format_version")
    law = _parse_law(meta.get("parameters"), source, "parameters")
    samples = meta.get("bootstrap") or []
    if not isinstance(samples, list):
        raise InputError("must be a list of parameter sets", source=source, field="bootstrap")
    return ContentionModel(
        law=law, samples=tuple(_parse_law(s, source, f"bootstrap[{i}]") for i, s in enumerate(samples)),
        fit=meta.get("fit") or {})


def _parse_law(values: object, source: str, where: str) -> SharingLaw:
    if not isinstance(values, dict):
        raise InputError("must be a mapping of parameter names to values", source=source,
                         field=where)
    try:
        return SharingLaw.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{first['msg']}, got {first.get('input')!r}", source=source,
                         field=f"{where}.{loc}") from None
