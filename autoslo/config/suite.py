"""Template suite metadata (data/templates/<suite>/suite.yml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from autoslo.config._base import StrictModel, at_least

NonNegative = Annotated[int, AfterValidator(at_least(0))]


class TemplateMeta(StrictModel):
    """One template: its SQL file and the features the runtime models can use."""

    file: str | None = Field(default=None, description="SQL file in the suite folder")
    query_group: str | None = None
    tables: list[str] = []
    joins: NonNegative = 0
    scans: NonNegative = 0
    aggregations: NonNegative = 0
    description: str = ""


class SuiteMeta(StrictModel):
    """suite.yml: the suite's templates and where its data comes from."""

    name: str
    description: str = ""
    dialect: str = "postgresql"
    templates: Annotated[dict[str, TemplateMeta], Field(min_length=1)]

    def summary(self) -> str:
        """How many templates the suite holds."""
        return f"{len(self.templates)} template(s)"
