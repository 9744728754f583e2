"""Orders and accounts: pure state and rules. A transition returns the events it caused or raises.

Order statuses follow the marketplace's purchase-order statuses (dossier §1.3): 待付款 pending payment,
处理中 processing (paid, supervision not finished), 已完成 completed, 已取消 cancelled; refunded is ours for a
negotiated refund in the guarantee period (§1.4). Order types: new, renewal, upgrade and unsubscribe (§1.3);
an unsubscribe order is opened by a refund request (services/orders/unsubscribe.py) and is never paid. Who may
refund an order, and when, is in services/orders/refunds.py; `refunded` here is only the status change.
Every change is one `StatusChange` in the order's history and one `order.status_changed` event with the same
content, creation included (None → pending_payment; None → processing for an unsubscribe order).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.orders import reminders
from services.orders.accounts import Account
from services.orders.progress import Progress, Rating, RefundRequest, add_months
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    BillingMode,
    BuyerTrack,
    Coupon,
    DeliveryContact,
    Milestone,
    Money,
    OrderPaid,
    OrderPaidPayload,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    Parties,
    ProductSnapshot,
)
from shared.schemas.events import OrderType

PRODUCER = "orders"
__all__ = ["PRODUCER", "Account", "Order", "OrderStatus", "StatusChange"]
PERIODIC = {BillingMode.PERIODIC_YEARLY, BillingMode.PERIODIC_MONTHLY}
# What an order's events copy from it: order.paid the order as sold, order.status_changed its terms.
SOLD = {
    "order_id",
    "order_type",
    "original_order_id",
    "product",
    "amount",
    "currency",
    "buyer_company",
    "buyer_track",
    "coupons",
    "delivery_contact",
    "milestones",
    "offer_id",
    "private_link_id",
    "quantity",  # how many resources: a License order gets a code for each (dossier §2.2)
}
STATUS_TERMS = {"order_id", "order_type", "amount", "currency", "validity_starts_at", "validity_ends_at"}
# What a renewal or an unsubscribe order keeps of the order it follows.
KEPT_BY_FOLLOW_UPS = {
    "buyer_account_id",
    "merchant_account_id",
    "provider_id",
    "currency",
    "buyer_company",
    "buyer_track",
    "quantity",  # a renewal renews as many resources as the order had
}


class StatusChange(BaseModel):
    from_status: OrderStatus | None = None
    status: OrderStatus
    at: AwareDatetime
    reason: str


class Order(BaseModel):
    order_id: str
    order_type: OrderType = "new"
    original_order_id: str | None = None
    buyer_account_id: str
    merchant_account_id: str
    provider_id: str | None = None
    product: ProductSnapshot
    # Positive, but for an unsubscribe order in a renewal period, which carries its negative amount
    # (dossier §8.2.3: orderAmount "negative for renewal refund"; unsubscribe.py).
    amount: Money
    currency: str = "CNY"
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    created_at: AwareDatetime
    pay_by: AwareDatetime | None = None  # unpaid past this: cancelled by the sweeper
    paid_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    validity_starts_at: AwareDatetime | None = None
    validity_ends_at: AwareDatetime | None = None
    buyer_company: str | None = None
    buyer_track: BuyerTrack | None = None
    coupons: list[Coupon] = Field(default_factory=list)
    delivery_contact: DeliveryContact | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    offer_id: str | None = None
    private_link_id: str | None = None
    coupon_ids: list[str] = Field(default_factory=list)  # the buyer's wallet coupons this order uses
    payment_id: str | None = None  # the payment system's transaction that paid it
    credit_used: bool = False  # paid with credit / a credit coupon (信控, dossier §4.3)
    credit_repaid_at: AwareDatetime | None = None
    progress: Progress = Field(default_factory=Progress)
    refund: RefundRequest | None = None
    unsubscribe_order_id: str | None = None  # the latest unsubscribe order opened for this order
    rating: Rating | None = None
    quantity: int = Field(1, ge=1)  # a milestone offer's fixed quantity (dossier §4.2); 1 from the catalogue
    trial_days: int | None = None  # a trial specification's period (then trial → commercial reminders)
    reminded_at: AwareDatetime | None = None  # the buyer's latest reminder to the merchant (催促)
    expiry_reminders: list[int] = Field(default_factory=list)  # days-left reminders sent (or skipped)
    next_reminder_at: AwareDatetime | None = None  # the next expiry reminder's time; None: none left
    renewed_by: str | None = None  # the paid renewal order that continues this one
    history: list[StatusChange] = Field(default_factory=list)
    version: int = 0

    @model_validator(mode="after")
    def _signed(self) -> Order:
        if self.amount > 0 or (self.amount < 0 and self.order_type == "unsubscribe"):
            return self
        raise ValueError(
            f"amount {self.amount}: an order's amount is positive; only an unsubscribe order in a renewal "
            "period is negative"
        )

    @staticmethod
    def new_id(now: datetime) -> str:
        """Marketplace order numbers start with "CS" (dossier §3.2, acceptance element 1)."""
        return f"CS{now:%y%m%d%H%M%S}{secrets.token_hex(4).upper()}"

    def envelope(self, correlation_id: str) -> dict[str, str]:
        """What every event about this order carries besides its payload (who produced it, its correlation,
        the order it is keyed by)."""
        return {"producer": PRODUCER, "correlation_id": correlation_id, "order_id": self.order_id}

    def follow_up(
        self, order_type: OrderType, now: datetime, product: ProductSnapshot, amount: Decimal, **more: Any
    ) -> Order:
        """A new order of this order's buyer, merchant and provider that refers to it (a renewal, an
        unsubscribe order), with the buyer's verified company and track as they were on it."""
        kept = self.model_dump(include=KEPT_BY_FOLLOW_UPS)
        return Order(
            order_id=Order.new_id(now),
            order_type=order_type,
            original_order_id=self.order_id,
            product=product,
            amount=amount,
            created_at=now,
            **kept,
            **more,
        )

    @property
    def parties(self) -> Parties:
        return Parties(
            buyer_account_id=self.buyer_account_id,
            merchant_account_id=self.merchant_account_id,
            provider_id=self.provider_id,
        )

    @property
    def supervised(self) -> bool:
        """A service order exists only for a supervised new purchase; a renewal creates none (dossier §1.6).
        [I] An upgrade changes the specification of a delivered order, so it opens none either."""
        return self.product.delivery_type.supervised and self.order_type == "new"

    @property
    def credit_repaid(self) -> bool:
        return not self.credit_used or self.credit_repaid_at is not None

    def visible_to(self, account_id: str) -> None:
        if account_id not in {self.buyer_account_id, self.merchant_account_id}:
            raise Forbidden(
                f"account {account_id} is not a party of order {self.order_id}", rule="parties_only"
            )

    def owned_by(self, account_id: str) -> None:
        """Buyers see and act on only their own purchased services."""
        if account_id != self.buyer_account_id:
            raise Forbidden(
                f"order {self.order_id} is not one of account {account_id}'s purchases",
                rule="own_purchases_only",
            )

    def move(
        self, status: OrderStatus, at: datetime, reason: str, correlation_id: str, initial: bool = False
    ) -> OrderStatusChanged:
        """The one way a status changes: the history entry and its order.status_changed, with the same
        content."""
        before = None if initial else self.status
        self.status = status
        self.history.append(StatusChange(from_status=before, status=status, at=at, reason=reason))
        return OrderStatusChanged(
            **self.envelope(correlation_id),
            payload=OrderStatusChangedPayload(
                **self.model_dump(include=STATUS_TERMS),
                from_status=before,
                to_status=status,
                reason=reason,
                parties=self.parties,
                changed_at=at,
            ),
        )

    def placed(self, correlation_id: str) -> list[OrderStatusChanged]:
        """The creation is a status change too: None → pending_payment."""
        return [
            self.move(
                OrderStatus.PENDING_PAYMENT,
                self.created_at,
                f"{self.order_type} order placed",
                correlation_id,
                initial=True,
            )
        ]

    def _validity(self, start: datetime) -> None:
        """Validity starts at `start`; periodic products end after their period (dossier §10)."""
        self.validity_starts_at = start
        months = self.product.period_months
        if self.trial_days:
            self.validity_ends_at = start + timedelta(days=self.trial_days)
        elif self.product.billing_mode in PERIODIC and months:
            self.validity_ends_at = add_months(start, months)
        if self.validity_ends_at is not None:  # its expiry reminders (dossier §6.3)
            self.next_reminder_at = reminders.next_at(self.validity_ends_at, self.expiry_reminders)

    def remind_merchant(self, buyer: str, now: datetime) -> None:
        """The buyer reminds the merchant (催促, dossier §9.2): its own order in progress, once a day."""
        self.owned_by(buyer)
        reminders.check_reminder(self.order_id, self.status, self.reminded_at, now)
        self.reminded_at = now

    def expiry_reminder_due(self, now: datetime) -> int | None:
        """The days-left reminder to send now, if any (recorded as sent, with the earlier ones it makes
        pointless), and when the next one is due. A renewed order is not reminded: its renewal continues
        it."""
        if self.validity_ends_at is None or self.renewed_by is not None:
            self.next_reminder_at = None
            return None
        days, skipped = reminders.due(self.validity_ends_at, self.expiry_reminders, now)
        if days is not None:
            self.expiry_reminders = sorted({*self.expiry_reminders, days, *skipped}, reverse=True)
        self.next_reminder_at = reminders.next_at(self.validity_ends_at, self.expiry_reminders)
        if self.next_reminder_at is not None and now >= self.validity_ends_at:
            self.next_reminder_at = None
        return days

    def renewed(self, renewal_id: str) -> None:
        """A paid renewal continues this order: its own expiry reminders stop."""
        self.renewed_by, self.next_reminder_at = renewal_id, None

    def pay(
        self,
        payment_id: str,
        amount: Decimal,
        now: datetime,
        correlation_id: str,
        *,
        credit: bool = False,
        renewal_starts: datetime | None = None,
    ) -> list[OrderPaid | OrderStatusChanged]:
        """The payment system confirmed `payment_id` for `amount`. The same confirmation again changes
        nothing; a payment of another amount is refused (it is not this order's price)."""
        if amount != self.amount:
            raise InvalidInput(
                f"order {self.order_id} costs {self.amount} {self.currency}; a payment of {amount} "
                "does not pay it",
                field="amount",
            )
        if self.payment_id is not None and self.payment_id == payment_id:
            return []
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise DomainError(
                f"order {self.order_id} is {self.status.value}; only a pending order can be paid",
                field="status",
            )
        if self.pay_by is not None and now > self.pay_by:
            raise DomainError(
                f"order {self.order_id} was not paid by {self.pay_by.isoformat()}; it is being cancelled",
                field="status",
            )
        self.paid_at, self.credit_used, self.payment_id = now, credit, payment_id
        if self.supervised:
            # Paid and supervised: 处理中 until supervision completes (dossier §1.3).
            moved = self.move(
                OrderStatus.PROCESSING, now, "paid; waiting for the service order to complete", correlation_id
            )
        else:
            # Unsupervised, or a renewal (no new service order, dossier §1.6): effective on payment; a renewal
            # continues from the original's expiry (§1.6, renewal in the grace period).
            self._validity(renewal_starts if renewal_starts and renewal_starts > now else now)
            self.completed_at = now
            why = (
                "paid; the product is not supervised"
                if self.order_type == "new"
                else f"{self.order_type} paid; no new service order"
            )
            moved = self.move(OrderStatus.COMPLETED, now, why, correlation_id)
        # order.paid carries the order as sold: its terms, frozen on it when it was placed
        sold = self.model_dump(include=SOLD)
        payload = OrderPaidPayload(**sold, parties=self.parties, paid_at=now)
        return [
            OrderPaid(**self.envelope(correlation_id), payload=payload),
            moved,
        ]

    def complete_after_acceptance(
        self, accepted_at: datetime, activation: datetime | None, correlation_id: str = ""
    ) -> list[OrderStatusChanged]:
        """Supervision finished: the order is 已完成 (the marketplace allows 3 h; we do it on the event).

        Validity starts at the merchant's actual activation time, else at acceptance (dossier §10)."""
        self.progress = self.progress.accepted(accepted_at)
        if self.status is OrderStatus.COMPLETED:
            return []
        if self.status is not OrderStatus.PROCESSING:
            raise DomainError(f"order {self.order_id} is {self.status.value}; cannot complete it")
        self.completed_at = accepted_at
        self._validity(activation or accepted_at)
        return [self.move(OrderStatus.COMPLETED, accepted_at, "service order accepted", correlation_id)]

    def cancel_unpaid(
        self, now: datetime, window_minutes: float, correlation_id: str
    ) -> list[OrderStatusChanged]:
        """待付款 → 已取消 by the system when unpaid past the window (dossier §1.3); no-op once paid."""
        if self.status is not OrderStatus.PENDING_PAYMENT or self.pay_by is None or now < self.pay_by:
            return []
        return [
            self.move(
                OrderStatus.CANCELLED, now, f"not paid within {window_minutes:g} minutes", correlation_id
            )
        ]

    def cancel_by_buyer(self, buyer: str, now: datetime, correlation_id: str) -> list[OrderStatusChanged]:
        """The user may cancel an unpaid order (dossier §1.3)."""
        self.owned_by(buyer)
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise DomainError(
                f"order {self.order_id} is {self.status.value}; only an unpaid order can be cancelled",
                field="status",
            )
        return [self.move(OrderStatus.CANCELLED, now, "cancelled by the buyer", correlation_id)]

    def refunded(self, now: datetime, reason: str, correlation_id: str) -> list[OrderStatusChanged]:
        """An approved refund (merchant, appeal resolution, failed provisioning): idempotent once refunded."""
        if self.status is OrderStatus.REFUNDED:
            return []
        if self.status not in {OrderStatus.PROCESSING, OrderStatus.COMPLETED}:
            raise DomainError(
                f"order {self.order_id} is {self.status.value}; only a paid order can be refunded",
                field="status",
            )
        if self.refund is not None and self.refund.state == "requested":  # the request this refund grants
            self.refund = self.refund.model_copy(update={"state": "approved", "decided_at": now})
        return [self.move(OrderStatus.REFUNDED, now, reason, correlation_id)]
