"""Types shared by every kind: conditions, references, the base model with camelCase wire names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ConditionStatus = Literal["True", "False", "Unknown"]
DeletionPolicy = Literal["Delete", "Retain"]

# The kstatus condition types every kind carries.
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


class ApiModel(BaseModel):
    """A Kubernetes-facing model: camelCase on the wire, snake_case in Python, unknown keys ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, object]:
        """The object as Kubernetes stores it: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def to_patch(self) -> dict[str, object]:
        """A JSON merge patch of the fields set on this model: a field set to None is removed.

        Unset fields stay out, so a partial status names only what it changes; nested values are
        written as :meth:`to_wire` writes them.
        """
        wire = self.to_wire()
        fields = type(self).model_fields
        keys = (fields[name].alias or name for name in self.model_fields_set)
        return {key: wire.get(key) for key in sorted(keys)}


class Condition(ApiModel):
    """One kstatus condition."""

    type: str = Field(description="Condition type: Ready, Reconciling or Stalled.", max_length=64)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="Why the condition has this status, in CamelCase.", max_length=128)
    message: str = Field("", description="Human-readable details.", max_length=4096)
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).", max_length=64)
    observed_generation: int | None = Field(
        None, description="The metadata.generation this condition was computed from."
    )


CONDITIONS_FIELD = Field(
    None,
    description="kstatus conditions: Ready, Reconciling and Stalled.",
    max_length=8,
    json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
)


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace."""

    name: str = Field(
        description="Name of the object, in this object's namespace.", min_length=1, max_length=253
    )
