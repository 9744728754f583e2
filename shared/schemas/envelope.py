"""The envelope every event travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

# Money travels as a decimal string ("120.50"): never a float, so no rounding on the way.
Money = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="always")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope fields shared by every event.

    `order_id` is the partition key wherever an order is involved, so one order's events stay in order.
    Events that concern no order (an account registering) name their key through `partition_key`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[str]
    event_type: str
    event_id: UUID = Field(default_factory=uuid4)
    schema_version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    order_id: str | None = None
    payload: Any

    @property
    def partition_key(self) -> str:
        if self.order_id is None:
            raise ValueError(f"{self.event_type} has no order id and no other partition key")
        return self.order_id

    def caused(self) -> dict[str, str]:
        """Envelope fields for an event this one causes: same correlation, causation = this event."""
        return {"correlation_id": self.correlation_id, "causation_id": str(self.event_id)}
