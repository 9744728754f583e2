"""Typed payloads and the concrete event classes (topic == event type)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.schemas.enums import AccountRole, AppealOutcome, BillingMode, DeliveryType, PartyRole, SaleMode
from shared.schemas.envelope import Event, Money
from shared.schemas.topics import Topic


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Parties(_Payload):
    """The accounts an order concerns; carried on supervision events so consumers need no lookup."""

    buyer_account_id: str
    merchant_account_id: str
    provider_id: str | None = None


# --- account.registered -------------------------------------------------------------------------


class AccountRegisteredPayload(_Payload):
    account_id: str
    role: AccountRole
    display_name: str
    bound_email: str
    bound_phone: str  # E.164
    locale: Literal["zh-CN", "en-US"] = "zh-CN"


class AccountRegistered(Event):
    topic: ClassVar[str] = Topic.ACCOUNT_REGISTERED
    event_type: Literal["account.registered"] = "account.registered"
    payload: AccountRegisteredPayload

    @property
    def partition_key(self) -> str:
        return self.payload.account_id


# --- order.paid ---------------------------------------------------------------------------------


class ProductSnapshot(_Payload):
    """The product as it was sold: what supervision and settlement need, frozen at purchase time."""

    product_id: str
    name: str
    delivery_type: DeliveryType
    sale_mode: SaleMode = SaleMode.GENERAL
    billing_mode: BillingMode = BillingMode.ONE_TIME
    flow_template: str | None = None
    provider_share_ratio: Annotated[Money, Field(ge=0, le=1)] | None = None


class OrderPaidPayload(_Payload):
    order_id: str
    order_type: Literal["new", "renewal", "upgrade", "unsubscribe"] = "new"
    parties: Parties
    product: ProductSnapshot
    amount: Money
    currency: str = "CNY"
    paid_at: AwareDatetime


class OrderPaid(Event):
    topic: ClassVar[str] = Topic.ORDER_PAID
    event_type: Literal["order.paid"] = "order.paid"
    payload: OrderPaidPayload


# --- milestone.confirmed ------------------------------------------------------------------------


class MilestoneConfirmedPayload(_Payload):
    """A supervision node confirmed by its actor (request confirmed, service delivered, milestone accepted)."""

    service_order_id: str
    order_id: str
    node: str
    next_node: str | None
    actor_role: PartyRole
    actor_account_id: str | None
    parties: Parties
    milestone_id: str | None = None
    confirmed_at: AwareDatetime


class MilestoneConfirmed(Event):
    topic: ClassVar[str] = Topic.MILESTONE_CONFIRMED
    event_type: Literal["milestone.confirmed"] = "milestone.confirmed"
    payload: MilestoneConfirmedPayload


# --- appeal.raised / appeal.resolved ------------------------------------------------------------


class AppealRaisedPayload(_Payload):
    appeal_id: str
    service_order_id: str
    order_id: str
    raised_by_role: PartyRole
    raised_by_account_id: str
    node: str
    reason: str
    demands: str
    attachments: list[str] = Field(default_factory=list)
    parties: Parties
    raised_at: AwareDatetime
    respond_by: AwareDatetime | None = None


class AppealRaised(Event):
    topic: ClassVar[str] = Topic.APPEAL_RAISED
    event_type: Literal["appeal.raised"] = "appeal.raised"
    payload: AppealRaisedPayload


class AppealResolvedPayload(_Payload):
    appeal_id: str
    service_order_id: str
    order_id: str
    outcome: AppealOutcome
    resumed_node: str | None = None
    resolved_by_account_id: str
    note: str = ""
    parties: Parties
    resolved_at: AwareDatetime


class AppealResolved(Event):
    topic: ClassVar[str] = Topic.APPEAL_RESOLVED
    event_type: Literal["appeal.resolved"] = "appeal.resolved"
    payload: AppealResolvedPayload


# --- acceptance.done ----------------------------------------------------------------------------


class AcceptanceDonePayload(_Payload):
    service_order_id: str
    order_id: str
    accepted_by: PartyRole  # buyer, or system for automatic acceptance
    accepted_at: AwareDatetime
    actual_activation_time: AwareDatetime | None = None
    parties: Parties


class AcceptanceDone(Event):
    topic: ClassVar[str] = Topic.ACCEPTANCE_DONE
    event_type: Literal["acceptance.done"] = "acceptance.done"
    payload: AcceptanceDonePayload


EVENT_TYPES: dict[str, type[Event]] = {
    cls.topic: cls
    for cls in (AccountRegistered, OrderPaid, MilestoneConfirmed, AppealRaised, AppealResolved, AcceptanceDone)
}

