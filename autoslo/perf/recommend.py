"""A cost-aware scale-out choice: the cheapest size whose predicted runtime plus its uncertainty
margin meets a deadline (the fastest size when none does), not merely the fastest size."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from autoslo.errors import InputError
from autoslo.perf._rows import PROPERTY_NAMES, context_ids


@dataclass(frozen=True)
class Choice:
    """The chosen size, whether it meets the deadline, and every candidate's numbers."""

    size: float
    meets_deadline: bool
    candidates: pl.DataFrame


def parse_sizes(text: str) -> list[float]:
    """``MIN..MAX`` (whole sizes, both included) or a comma-separated list."""
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split("..", 1))
            sizes = [float(s) for s in range(low, high + 1)]
        else:
            sizes = [float(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--sizes must be MIN..MAX or a comma-separated list of numbers, "
                         f"got {text!r}") from None
    if not sizes or min(sizes) <= 0:
        raise InputError(f"--sizes must name at least one size, all > 0, got {text!r}")
    return sizes


def recommend(model: object, context: pl.DataFrame, sizes: list[float], price: float,
              deadline_s: float) -> Choice:
    """Price each size (price per size unit and hour x size x predicted runtime) and choose."""
    from autoslo.perf.bellamy import BellamyModel

    assert isinstance(model, BellamyModel)
    if price <= 0 or deadline_s <= 0:
        raise InputError(f"--price and --deadline must be > 0, got {price} and {deadline_s}")
    if context.height == 0 or context_ids(context).n_unique() != 1:
        raise InputError(f"the data must describe exactly one context, got "
                         f"{context_ids(context).n_unique()}")
    first = context.select(PROPERTY_NAMES).head(1)
    rows = pl.concat([first] * len(sizes)).with_columns(pl.Series("scale_out", sizes))
    predicted = model.predict(rows)
    table = pl.DataFrame({"size": sizes}).hstack(predicted).with_columns(
        (pl.col("size") * pl.col("predicted_runtime") / 3600 * price).alias("cost"),
        (pl.col("upper") <= deadline_s).alias("meets_deadline"))
    feasible = table.filter(pl.col("meets_deadline"))
    if feasible.height:
        best = feasible.sort(["cost", "size"]).row(0, named=True)
    else:
        best = table.sort(["upper", "size"]).row(0, named=True)
    return Choice(float(best["size"]), bool(best["meets_deadline"]), table)
