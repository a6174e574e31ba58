"""Price tables (data/prices/<name>.yml): prices live in data with their date and source."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from autoslo.config._base import IsoDate, RuleError, StrictModel, at_least, positive
from autoslo.config.shapes import NodeType

Usd = Annotated[float, AfterValidator(at_least(0))]


class PriceTable(StrictModel):
    """On-demand prices for one region, as of a date, from a named source."""

    region: Annotated[str, Field(min_length=1)]
    as_of: IsoDate
    source: Annotated[str, Field(min_length=1)]
    serverless_usd_per_rpu_hour: Usd
    serverless_min_billed_s: Annotated[float, AfterValidator(positive)] = 60.0
    provisioned_usd_per_node_hour: dict[str, Usd]
    concurrency_scaling_free_s_per_day: Annotated[float, AfterValidator(at_least(0))] = 3600.0
    concurrency_scaling_max_free_s: Annotated[float, AfterValidator(at_least(0))] = 108_000.0

    @model_validator(mode="after")
    def _known_node_types(self) -> PriceTable:
        known = set(NodeType.__args__)
        unknown = sorted(set(self.provisioned_usd_per_node_hour) - known)
        if unknown:
            raise RuleError("provisioned_usd_per_node_hour", f"unknown node_type {unknown[0]!r} "
                             f"(known: {', '.join(sorted(known))})")
        return self

    def summary(self) -> str:
        """The region, the date and the Serverless price."""
        return f"{self.region} as of {self.as_of}; {self.serverless_usd_per_rpu_hour} USD/RPU-h"
