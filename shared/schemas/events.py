"""Typed payloads and the concrete event classes (topic == event type)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.schemas.enums import (
    AccountRole,
    AppealOutcome,
    BillingMode,
    BuyerTrack,
    CouponKind,
    DeadlineKind,
    DeliveryType,
    NoticeKind,
    OrderStatus,
    PartyRole,
    SaleMode,
)
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


# --- account.erased -----------------------------------------------------------------------------


class AccountErasedPayload(_Payload):
    """The account's owner asked for its contact data to be erased. Each service erases what it holds; what a
    record must keep (an order's parties, the supervision timeline's evidence) is kept, masked where it can
    be."""

    account_id: str
    role: AccountRole
    erased_at: AwareDatetime


class AccountErased(Event):
    topic: ClassVar[str] = Topic.ACCOUNT_ERASED
    event_type: Literal["account.erased"] = "account.erased"
    payload: AccountErasedPayload

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
    spec_id: str | None = None
    spec_name: str | None = None  # checked against the acceptance document (dossier §3.2, element 3)
    period_months: int | None = Field(default=None, ge=1)  # periodic billing: the length of one period
    promised_delivery_days: int | None = Field(default=None, ge=1)
    acceptance_standard: str | None = None
    merchant_name: str | None = None


class Coupon(_Payload):
    kind: CouponKind
    amount: Money


class DeliveryContact(_Payload):
    """Where hardware goes; the phone decides whether courier sign-off can be tracked (dossier §2.4)."""

    name: str
    phone: str
    address: str


class Milestone(_Payload):
    """One stage of a milestone offer (dossier §4.2): its share of the whole order."""

    milestone_id: str
    title: str
    proportion: Annotated[Money, Field(gt=0, le=1)]


OrderType = Literal["new", "renewal", "upgrade", "unsubscribe"]


class OrderPaidPayload(_Payload):
    order_id: str
    order_type: OrderType = "new"
    original_order_id: str | None = None  # the order a renewal / upgrade / unsubscribe order refers to
    parties: Parties
    product: ProductSnapshot
    amount: Money
    currency: str = "CNY"
    paid_at: AwareDatetime
    buyer_company: str | None = None  # full company name (acceptance element 2)
    buyer_track: BuyerTrack | None = None
    coupons: list[Coupon] = Field(default_factory=list)
    delivery_contact: DeliveryContact | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    offer_id: str | None = None  # an exclusive / private offer the order was placed with
    private_link_id: str | None = None  # the provider's private link the order came through
    quantity: int = Field(default=1, ge=1, le=1000)  # License resources: one code each (dossier §2.2.a)


class OrderPaid(Event):
    topic: ClassVar[str] = Topic.ORDER_PAID
    event_type: Literal["order.paid"] = "order.paid"
    payload: OrderPaidPayload


# --- milestone.confirmed ------------------------------------------------------------------------


class MilestoneConfirmedPayload(_Payload):
    """A supervision node confirmed by its actor (request confirmed, service delivered, milestone
    accepted)."""

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


# --- supervision.overdue -------------------------------------------------------------------------


class SupervisionOverduePayload(_Payload):
    """Dossier §1.5, the old rule, kept for legacy orders: supervision ran 365 days without acceptance, and
    the system unsubscribes the order (a full refund, which the orders service carries out)."""

    service_order_id: str
    order_id: str
    parties: Parties
    overdue_at: AwareDatetime
    reason: str


class SupervisionOverdue(Event):
    topic: ClassVar[str] = Topic.SUPERVISION_OVERDUE
    event_type: Literal["supervision.overdue"] = "supervision.overdue"
    payload: SupervisionOverduePayload


# --- order.status_changed ------------------------------------------------------------------------


class OrderStatusChangedPayload(_Payload):
    """Every change of a purchase order's status, with the reason; the order's history is these in order."""

    order_id: str
    order_type: OrderType = "new"
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str
    parties: Parties
    amount: Money
    currency: str = "CNY"
    validity_starts_at: AwareDatetime | None = None
    validity_ends_at: AwareDatetime | None = None
    changed_at: AwareDatetime


class OrderStatusChanged(Event):
    topic: ClassVar[str] = Topic.ORDER_STATUS_CHANGED
    event_type: Literal["order.status_changed"] = "order.status_changed"
    payload: OrderStatusChangedPayload


# --- refund.requested / refund.decided ----------------------------------------------------------


class RefundRequestedPayload(_Payload):
    """The buyer asks for a negotiated refund in the guarantee period (dossier §1.4), e.g. from the
    purchased-services page of the orders service; supervision owns the merchant's decision."""

    refund_id: str
    order_id: str
    amount: Money
    reason: str
    parties: Parties
    requested_at: AwareDatetime


class RefundRequested(Event):
    topic: ClassVar[str] = Topic.REFUND_REQUESTED
    event_type: Literal["refund.requested"] = "refund.requested"
    payload: RefundRequestedPayload


class RefundDecidedPayload(_Payload):
    """A refund was approved (by the merchant, or by the operator resolving an appeal, or by the platform
    after a failed provisioning) or rejected. Approved: the order is refunded and earnings on it reverse."""

    refund_id: str
    order_id: str
    service_order_id: str | None = None
    approved: bool
    amount: Money
    currency: str = "CNY"
    reason: str
    opinion: str = ""
    decided_by_role: PartyRole
    decided_by_account_id: str | None = None
    parties: Parties
    decided_at: AwareDatetime


class RefundDecided(Event):
    topic: ClassVar[str] = Topic.REFUND_DECIDED
    event_type: Literal["refund.decided"] = "refund.decided"
    payload: RefundDecidedPayload


# --- deadline.scheduled / deadline.cleared ------------------------------------------------------


class DeadlineScheduledPayload(_Payload):
    """Something happens at `due_at` unless `party` acts first; notification escalates reminders toward it."""

    deadline_id: str
    kind: DeadlineKind
    service_order_id: str
    order_id: str
    node: str | None = None
    party: PartyRole  # who is expected to act before the deadline
    due_at: AwareDatetime
    consequence: str  # what happens when it passes, in words ("the system accepts the delivery")
    parties: Parties


class DeadlineScheduled(Event):
    topic: ClassVar[str] = Topic.DEADLINE_SCHEDULED
    event_type: Literal["deadline.scheduled"] = "deadline.scheduled"
    payload: DeadlineScheduledPayload


class DeadlineClearedPayload(_Payload):
    deadline_id: str
    kind: DeadlineKind
    service_order_id: str
    order_id: str
    reason: Literal["acted", "expired", "paused", "cancelled"]
    remaining_seconds: float | None = None  # paused: what is left when it resumes
    parties: Parties
    cleared_at: AwareDatetime


class DeadlineCleared(Event):
    topic: ClassVar[str] = Topic.DEADLINE_CLEARED
    event_type: Literal["deadline.cleared"] = "deadline.cleared"
    payload: DeadlineClearedPayload


# --- merchant_call.failed -----------------------------------------------------------------------


class MerchantCallFailedPayload(_Payload):
    """A call to a merchant's production endpoint failed (dossier §8); the merchant is told by SMS and email.
    `final` with consequence "refund" means a new purchase is given up and must be refunded (§8.2.2)."""

    call_id: str
    merchant_account_id: str
    endpoint: str  # e.g. tenantSync, applicationSync, authSync, singleOrgSync, allOrgSync, newInstance ...
    order_id: str | None = None
    attempt: int = Field(ge=1)
    final: bool
    consequence: Literal["refund", "none"] = "none"
    error: str
    failed_at: AwareDatetime
    parties: Parties | None = None


class MerchantCallFailed(Event):
    topic: ClassVar[str] = Topic.MERCHANT_CALL_FAILED
    event_type: Literal["merchant_call.failed"] = "merchant_call.failed"
    payload: MerchantCallFailedPayload

    @property
    def partition_key(self) -> str:
        return self.order_id or self.payload.merchant_account_id


# --- notice.requested ---------------------------------------------------------------------------


class NoticeRecipient(_Payload):
    """Who is told: one account in a role, or, for operators with no account named, every operator."""

    role: AccountRole
    account_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _named(self) -> NoticeRecipient:
        if self.account_id is None and self.role is not AccountRole.OPERATOR:
            raise ValueError(
                f"a {self.role.value} recipient needs its account_id (only operators are a group)"
            )
        return self


class NoticeRequestedPayload(_Payload):
    """A service asks notification to tell people something its own flow decided (a statement was sent, a
    product was frozen). `notice_id` is the producer's stable key for the fact (e.g. `statement:S1:sent`):
    the same fact told twice is one notice. `params` fill the message type's template."""

    notice_id: str = Field(min_length=1, max_length=200)
    kind: NoticeKind
    recipients: list[NoticeRecipient] = Field(min_length=1)
    subject_id: str = Field(min_length=1)  # what it is about: an order, a product, a statement, a bill
    params: dict[str, str] = Field(default_factory=dict)
    parties: Parties | None = None


class NoticeRequested(Event):
    topic: ClassVar[str] = Topic.NOTICE_REQUESTED
    event_type: Literal["notice.requested"] = "notice.requested"
    payload: NoticeRequestedPayload

    @property
    def partition_key(self) -> str:
        return self.order_id or self.payload.subject_id


# --- product.frozen -----------------------------------------------------------------------------


class ProductFrozenPayload(_Payload):
    """Partner judged a SaaS product's interfaces unfit to trade (dossier §8.2.2: more than 5 orders failed
    in a month from interface failures → delisted; §8.2.8: 5 consecutive days of failed dial tests → trading
    frozen and the product hidden). Orders owns the catalogue and applies the measure; either stops new
    purchases."""

    product_id: str
    merchant_account_id: str
    measure: Literal["frozen", "delisted"]
    cause: Literal["interface_failures", "dial_tests"]
    detail: str = ""
    decided_at: AwareDatetime


class ProductFrozen(Event):
    topic: ClassVar[str] = Topic.PRODUCT_FROZEN
    event_type: Literal["product.frozen"] = "product.frozen"
    payload: ProductFrozenPayload

    @property
    def partition_key(self) -> str:
        return self.payload.product_id


# --- license.activated --------------------------------------------------------------------------


class LicenseActivatedPayload(_Payload):
    """The merchant's software activated a License 2.0 authorization code through the signed open API
    (dossier §2.2.a node 3): supervision passes the activation node, and the activation time is the actual
    activation time (§10)."""

    order_id: str
    code_id: str  # the code's public reference (never the code itself, which is a credential)
    activated_at: AwareDatetime
    device_id: str
    parties: Parties


class LicenseActivated(Event):
    topic: ClassVar[str] = Topic.LICENSE_ACTIVATED
    event_type: Literal["license.activated"] = "license.activated"
    payload: LicenseActivatedPayload


EVENT_TYPES: dict[str, type[Event]] = {
    cls.topic: cls
    for cls in (
        AccountRegistered,
        AccountErased,
        OrderPaid,
        MilestoneConfirmed,
        AppealRaised,
        AppealResolved,
        AcceptanceDone,
        OrderStatusChanged,
        RefundRequested,
        RefundDecided,
        DeadlineScheduled,
        DeadlineCleared,
        MerchantCallFailed,
        NoticeRequested,
        ProductFrozen,
        SupervisionOverdue,
        LicenseActivated,
    )
}
