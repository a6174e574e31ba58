"""Cluster shapes: a cluster's kind and size (Serverless RPU, or provisioned node type and count).

Shared by the execution config's clusters, the SLO spec's and the workload's reference cluster,
and the price table (which node types exist). Limits come from ../shared/notes/redshift.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from autoslo.config._base import RuleError, StrictModel

NodeType = Literal[
    "dc2.large", "dc2.8xlarge", "ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge",
    "rg.xlarge", "rg.4xlarge",
]
# Node-count limits per node type (Redshift API: 1-100; narrower per type where documented).
NODE_LIMITS: dict[str, tuple[int, int]] = {
    "dc2.large": (1, 32), "ra3.xlplus": (1, 16), "ra3.4xlarge": (2, 32), "ra3.16xlarge": (2, 128),
}
DEFAULT_NODE_LIMITS = (1, 100)


def _check_rpu(value: int) -> int:
    if value == 4 or (8 <= value <= 1024 and value % 8 == 0):
        return value
    raise ValueError(f"must be 4 or a multiple of 8 between 8 and 1024 (Serverless base "
                     f"capacity in RPU), got {value}")


class ServerlessShape(StrictModel):
    """A Serverless workgroup's size: base capacity in RPU (1 RPU = 16 GB memory)."""

    kind: Literal["serverless"]
    rpu: Annotated[int, AfterValidator(_check_rpu)]

    @property
    def size(self) -> int:
        return self.rpu

    @property
    def shape_key(self) -> str:
        """What a size is counted in: ``serverless`` (RPU), the key latency models index by."""
        return "serverless"


class ProvisionedShape(StrictModel):
    """A provisioned cluster's size: node type and number of nodes."""

    kind: Literal["provisioned"]
    node_type: NodeType
    nodes: int

    @model_validator(mode="after")
    def _nodes_in_range(self) -> ProvisionedShape:
        low, high = NODE_LIMITS.get(self.node_type, DEFAULT_NODE_LIMITS)
        if not low <= self.nodes <= high:
            raise RuleError("nodes", f"must be between {low} and {high} for node_type "
                             f"{self.node_type}, got {self.nodes}")
        return self

    @property
    def size(self) -> int:
        return self.nodes

    @property
    def shape_key(self) -> str:
        """What a size is counted in: ``provisioned:<node_type>`` (nodes of that type)."""
        return f"provisioned:{self.node_type}"


ClusterShape = Annotated[ServerlessShape | ProvisionedShape, Field(discriminator="kind")]
