"""The service order's state (服务监管单): what it keeps, who its parties are, whether it can still be
operated. The rules that change it are in flow.py, disputes.py and refunds.py; `ServiceOrder` (aggregate.py)
is their one entry point."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from services.supervision.flows import FlowTemplate
from services.supervision.rules import AcceptanceRule
from services.supervision.service_order.deadlines import Deadlines
from services.supervision.service_order.records import (
    Appeal,
    Deadline,
    Evidence,
    MilestoneState,
    Refund,
    TimelineEntry,
)
from services.supervision.service_order.timeline import Timeline
from shared.platform.errors import DomainError, Forbidden
from shared.schemas import Money, Parties, PartyRole, ProductSnapshot

PRODUCER = "supervision"


class Status(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"  # an appeal is open: every transition is refused (dossier §5.3)
    # An operator resolved an appeal with a refund (dossier §5.3): the orders service, which owns refunds,
    # carries it out; the flow stays stopped until its refund.decided arrives.
    REFUNDING = "refunding"
    COMPLETED = "completed"
    REFUNDED = "refunded"  # a negotiated refund or an appeal's refund outcome (dossier §1.4, §2.7)


class Frozen(DomainError):
    code = "frozen_by_appeal"


def masked_phone(phone: str) -> str:
    """`+8613811110001` -> `***01`: enough for a person to recognise, too little to call."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"***{digits[-2:]}"


class ServiceOrderState(BaseModel):
    # The fields in the order of the stored document and of the API's schema.
    service_order_id: str
    order_id: str
    parties: Parties
    node: str | None
    deadlines: list[Deadline] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    product: ProductSnapshot
    template: FlowTemplate
    status: Status = Status.ACTIVE
    acceptance_rule: AcceptanceRule = AcceptanceRule.MERCHANT_CUSTOM
    amount: Money = Decimal(0)
    currency: str = "CNY"
    buyer_company: str | None = None
    delivery_phone: str | None = None  # of the hardware delivery contact; masked once the buyer erases it
    contact_erased_at: AwareDatetime | None = None
    open_appeal: Appeal | None = None
    appeals: list[Appeal] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    milestones: list[MilestoneState] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    rejections: int = 0
    idle_expired: bool = False  # the current node's actor let the idle deadline pass
    node_entered_at: AwareDatetime | None = None
    actual_activation_time: AwareDatetime | None = None
    code_claimed_at: AwareDatetime | None = None
    created_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    validity_starts_at: AwareDatetime | None = None
    version: int = 0

    @property
    def clocks(self) -> Deadlines:
        """Its deadlines, with the events that announce each change."""
        return Deadlines(self)

    @property
    def where(self) -> str:
        """The node an operation happens at, for the timeline: the current one, else the status."""
        return self.node or self.status.value

    @property
    def log(self) -> Timeline:
        """Its timeline, to put an operation on record."""
        return Timeline(self.timeline)

    def envelope(self, corr: str) -> dict[str, str]:
        """The envelope fields of every event this service order causes."""
        return {"producer": PRODUCER, "correlation_id": corr, "order_id": self.order_id}

    def about(self) -> dict[str, Any]:
        """The fields every event payload about this service order carries."""
        return {"service_order_id": self.service_order_id, "order_id": self.order_id, "parties": self.parties}

    def role_of(self, account_id: str, operator: bool = False) -> PartyRole:
        """The caller's part in this service order. `operator`: the caller is a platform operator (its
        verified token says so) and the step admits operators; operators never stand in for the buyer or the
        merchant."""
        if account_id == self.parties.buyer_account_id:
            return PartyRole.BUYER
        if account_id == self.parties.merchant_account_id:
            return PartyRole.MERCHANT
        if operator:
            return PartyRole.OPERATOR
        raise Forbidden(
            f"account {account_id} is not a party of service order {self.service_order_id}",
            rule="parties_only",
        )

    def guard_operable(self) -> None:
        """Refuse any step unless the flow is active at a node."""
        if self.status is Status.FROZEN:
            assert self.open_appeal is not None
            raise Frozen(
                f"service order {self.service_order_id} is frozen by appeal "
                f"{self.open_appeal.appeal_id} until the platform operator resolves it"
            )
        if self.status is Status.REFUNDING:
            raise DomainError(
                f"service order {self.service_order_id} is being refunded: an appeal was resolved with a "
                "refund, which the orders service carries out"
            )
        if self.status is Status.REFUNDED:
            raise DomainError(f"service order {self.service_order_id} was refunded")
        if self.status is Status.COMPLETED or self.node is None:
            raise DomainError(f"service order {self.service_order_id} is already completed")
