"""Value objects of a purchased service: the service order's progress (with the appeal that freezes it), a
refund request, the buyer's rating, and the no-reason refund rule for unsupervised products with its yearly
quota. Pure."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, computed_field

from shared.platform.errors import DomainError
from shared.schemas import Money

SELF_SERVICE_REFUND_DAYS = 5  # 5-day no-reason full refund (dossier §1.4)
SELF_SERVICE_REFUNDS_PER_YEAR = 10  # per account per natural year (dossier §1.4)


def add_months(start: datetime, months: int) -> datetime:
    """Same day `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


class OpenAppeal(BaseModel):
    """An appeal (申诉) on the service order, as appeal.raised told it: the flow is frozen until the platform
    operator resolves it (dossier §5.3)."""

    appeal_id: str
    reason: str
    raised_at: AwareDatetime


class Progress(BaseModel):
    """The service order's progress as told by supervision's events (orders never reads its database):
    milestone.confirmed moves the node, acceptance.done ends it, appeal.raised / appeal.resolved freeze it."""

    service_order_id: str | None = None
    current_node: str | None = None
    confirmed_nodes: list[str] = Field(default_factory=list)
    updated_at: AwareDatetime | None = None
    accepted_at: AwareDatetime | None = None
    appeal: OpenAppeal | None = None  # open: the flow is frozen (dossier §5.3)
    resolved_appeals: list[str] = Field(default_factory=list)

    def confirmed(self, service_order_id: str, node: str, next_node: str | None, at: datetime) -> Progress:
        nodes = self.confirmed_nodes if node in self.confirmed_nodes else [*self.confirmed_nodes, node]
        moved: dict[str, object] = {"confirmed_nodes": nodes, "service_order_id": service_order_id}
        if self.accepted_at is None:  # an out-of-order confirmation never reopens an accepted order
            moved |= {"current_node": next_node, "updated_at": at}
        return self.model_copy(update=moved)

    def accepted(self, at: datetime) -> Progress:
        return self.model_copy(
            update={"current_node": "service_complete", "accepted_at": at, "updated_at": at}
        )

    def appeal_raised(self, service_order_id: str, appeal_id: str, reason: str, at: datetime) -> Progress:
        """Frozen until the appeal is resolved. appeal.raised and appeal.resolved are two topics, read in any
        order: an appeal whose resolution came first stays resolved."""
        if appeal_id in self.resolved_appeals:
            return self
        appeal = OpenAppeal(appeal_id=appeal_id, reason=reason, raised_at=at)
        return self.model_copy(update={"service_order_id": service_order_id, "appeal": appeal})

    def appeal_resolved(self, service_order_id: str, appeal_id: str) -> Progress:
        """The operator resolved the appeal: operable again (dossier §5.3). Idempotent."""
        still_open = None if self.appeal is not None and self.appeal.appeal_id == appeal_id else self.appeal
        resolved = list(dict.fromkeys([*self.resolved_appeals, appeal_id]))
        return self.model_copy(
            update={"service_order_id": service_order_id, "appeal": still_open, "resolved_appeals": resolved}
        )


class AgreedRecord(BaseModel):
    """The agreed record the merchant attaches when it agrees to an unsubscribe (dossier §1.4: "uploads the
    agreed communication record or an unsubscribe confirmation attachment"): an evidence file stored on the
    service order, or a reference to a document kept elsewhere (a contract, a ticket)."""

    kind: Literal["evidence", "document", "returned_goods"]
    ref: str = Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")


class GoodsReturn(BaseModel):
    """Hardware goods the buyer sends back before its unsubscribe is refunded (退货, dossier §1.4): shipped →
    待验收 pending acceptance until the merchant confirms them or reports an exception, or the system accepts
    them after 15 days."""

    state: Literal["awaiting_shipment", "pending_acceptance", "accepted", "exception"] = "awaiting_shipment"
    carrier: str | None = None
    tracking_no: str | None = None
    shipped_at: AwareDatetime | None = None
    accept_by: AwareDatetime | None = None
    decided_at: AwareDatetime | None = None
    decided_by_system: bool = False
    note: str = ""


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
    agreed_record: AgreedRecord | None = None  # what the merchant's agreement rests on (dossier §1.4)
    goods_return: GoodsReturn | None = None  # hardware goods sent back before the refund (returns.py)
    review_by: AwareDatetime | None = None  # hardware: the merchant reviews by then (7 working days)
    review_overdue_at: AwareDatetime | None = None  # when the buyer was told it may contact the merchant
    next_clock_at: AwareDatetime | None = None  # the earliest open clock of the request (returns.py)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def buyer_may_contact_merchant(self) -> bool:
        """Hardware (dossier §1.4): the merchant did not review within 7 working days, so the buyer may
        contact it."""
        return self.state == "requested" and self.review_overdue_at is not None


class Rating(BaseModel):
    """The buyer's evaluation after completion (dossier §9.2: quality, after-sales, delivery speed)."""

    quality: int = Field(ge=1, le=5)
    after_sales: int = Field(ge=1, le=5)
    delivery_speed: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=10)
    text: str = Field("", max_length=2000)
    rated_at: AwareDatetime | None = None


class RefundQuota(BaseModel):
    """No-reason refunds an account used in one natural year (dossier §1.4)."""

    quota_id: str  # "<buyer>:<year>"
    used: int = 0
    version: int = 0

    @staticmethod
    def key(buyer: str, year: int) -> str:
        return f"{buyer}:{year}"


def self_service_refund_allowed(paid_at: datetime, now: datetime, used_this_year: int) -> None:
    """Unsupervised products (dossier §1.4): a no-reason full refund within 5 days of payment, at most 10 per
    account per natural year; otherwise no refund. [?] The dossier says which applies "depends on product
    type" without the table, so every unsupervised product gets the 5-day rule here, which is what buyers
    expect."""
    if now - paid_at > timedelta(days=SELF_SERVICE_REFUND_DAYS):
        raise DomainError(
            f"the 5-day no-reason refund period ended on "
            f"{(paid_at + timedelta(days=SELF_SERVICE_REFUND_DAYS)).isoformat()}; this product "
            "gives no refund after it (dossier §1.4)",
            field="order_id",
        )
    if used_this_year >= SELF_SERVICE_REFUNDS_PER_YEAR:
        raise DomainError(
            f"the yearly quota of {SELF_SERVICE_REFUNDS_PER_YEAR} no-reason refunds is used up "
            "(dossier §1.4)",
            field="order_id",
        )
