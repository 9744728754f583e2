"""Value objects of a purchased service: the service order's progress, a refund request, the buyer's rating,
and the unsubscribe rule for unsupervised products. Pure."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError
from shared.schemas import Money

SELF_SERVICE_REFUND_DAYS = 5  # 5-day no-reason full refund (dossier §1.4)
SELF_SERVICE_REFUNDS_PER_YEAR = 10  # per account per natural year (dossier §1.4)


def add_months(start: datetime, months: int) -> datetime:
    """Same day `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


class Progress(BaseModel):
    """The service order's progress as told by supervision's events (orders never reads its database)."""

    service_order_id: str | None = None
    current_node: str | None = None
    confirmed_nodes: list[str] = Field(default_factory=list)
    updated_at: AwareDatetime | None = None
    accepted_at: AwareDatetime | None = None

    def confirmed(self, service_order_id: str, node: str, next_node: str | None, at: datetime) -> Progress:
        nodes = self.confirmed_nodes if node in self.confirmed_nodes else [*self.confirmed_nodes, node]
        if self.accepted_at is not None:  # an out-of-order confirmation never reopens an accepted order
            return self.model_copy(update={"confirmed_nodes": nodes, "service_order_id": service_order_id})
        return Progress(service_order_id=service_order_id, current_node=next_node, confirmed_nodes=nodes,
                        updated_at=at)

    def accepted(self, at: datetime) -> Progress:
        return self.model_copy(update={"current_node": "service_complete", "accepted_at": at, "updated_at": at})


class RefundRequest(BaseModel):
    """An unsubscribe (退订) the buyer asked for; a supervised one waits for the merchant (dossier §1.4)."""

    refund_id: str
    amount: Money
    reason: str
    requested_at: AwareDatetime
    state: Literal["requested", "approved", "rejected"] = "requested"
    decided_at: AwareDatetime | None = None
    opinion: str = ""
    unsubscribe_order_id: str | None = None  # the unsubscribe order this request opened


class Rating(BaseModel):
    """The buyer's evaluation after completion (dossier §9.2: quality, after-sales, delivery speed)."""

    quality: int = Field(ge=1, le=5)
    after_sales: int = Field(ge=1, le=5)
    delivery_speed: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=10)
    text: str = Field("", max_length=2000)
    rated_at: AwareDatetime | None = None


def self_service_refund_allowed(paid_at: datetime, now: datetime, used_this_year: int) -> None:
    """Unsupervised products (dossier §1.4): a no-reason full refund within 5 days of payment, at most 10 per
    account per natural year; otherwise no refund. [?] The dossier says which applies "depends on product type"
    without the table, so every unsupervised product gets the 5-day rule here, which is what buyers expect."""
    if now - paid_at > timedelta(days=SELF_SERVICE_REFUND_DAYS):
        raise DomainError(f"the 5-day no-reason refund period ended on "
                          f"{(paid_at + timedelta(days=SELF_SERVICE_REFUND_DAYS)).isoformat()}; this product "
                          "gives no refund after it (dossier §1.4)", field="order_id")
    if used_this_year >= SELF_SERVICE_REFUNDS_PER_YEAR:
        raise DomainError(f"the yearly quota of {SELF_SERVICE_REFUNDS_PER_YEAR} no-reason refunds is used up "
                          "(dossier §1.4)", field="order_id")
