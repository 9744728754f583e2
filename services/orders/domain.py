"""Orders and accounts: pure state and rules. A transition returns the events it caused or raises.

Order statuses follow the marketplace's purchase-order statuses (dossier §1.3): 待付款 pending payment,
处理中 processing (paid, supervision not finished), 已完成 completed, 已取消 cancelled; refunded is ours for a
negotiated refund in the guarantee period (§1.4).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError, Forbidden
from shared.schemas import (
    AccountRegistered,
    AccountRegisteredPayload,
    AccountRole,
    Money,
    OrderPaid,
    OrderPaidPayload,
    OrderStatus,
    Parties,
    ProductSnapshot,
)

PRODUCER = "orders"


class Account(BaseModel):
    account_id: str
    role: AccountRole
    display_name: str
    bound_email: str
    bound_phone: str
    locale: Literal["zh-CN", "en-US"] = "zh-CN"
    created_at: AwareDatetime

    def registered(self, correlation_id: str) -> AccountRegistered:
        return AccountRegistered(producer=PRODUCER, correlation_id=correlation_id,
                                 payload=AccountRegisteredPayload(**self.model_dump(exclude={"created_at"})))


class StatusChange(BaseModel):
    status: OrderStatus
    at: AwareDatetime
    reason: str


class Order(BaseModel):
    order_id: str
    buyer_account_id: str
    merchant_account_id: str
    provider_id: str | None = None
    product: ProductSnapshot
    amount: Money = Field(gt=Decimal(0))
    currency: str = "CNY"
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    created_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    validity_starts_at: AwareDatetime | None = None
    history: list[StatusChange] = Field(default_factory=list)
    version: int = 0

    @staticmethod
    def new_id(now: datetime) -> str:
        """Marketplace order numbers start with "CS" (dossier §3.2, acceptance element 1)."""
        return f"CS{now:%y%m%d%H%M%S}{secrets.token_hex(4).upper()}"

    @property
    def parties(self) -> Parties:
        return Parties(buyer_account_id=self.buyer_account_id, merchant_account_id=self.merchant_account_id,
                       provider_id=self.provider_id)

    def visible_to(self, account_id: str) -> None:
        if account_id not in {self.buyer_account_id, self.merchant_account_id}:
            raise Forbidden(f"account {account_id} is not a party of order {self.order_id}")

    def _move(self, status: OrderStatus, at: datetime, reason: str) -> None:
        self.status = status
        self.history.append(StatusChange(status=status, at=at, reason=reason))

    def pay(self, payer: str, now: datetime, correlation_id: str) -> list[OrderPaid]:
        if payer != self.buyer_account_id:
            raise Forbidden("only the buyer can pay for the order")
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise DomainError(f"order {self.order_id} is {self.status.value}; only a pending order can be paid",
                              field="status")
        self.paid_at = now
        if self.product.delivery_type.supervised:
            # Paid and supervised: 处理中 until supervision completes (dossier §1.3).
            self._move(OrderStatus.PROCESSING, now, "paid; waiting for the service order to complete")
        else:
            self._move(OrderStatus.COMPLETED, now, "paid; the product is not supervised")
            self.completed_at = now
        payload = OrderPaidPayload(order_id=self.order_id, parties=self.parties, product=self.product,
                                   amount=self.amount, currency=self.currency, paid_at=now)
        return [OrderPaid(producer=PRODUCER, correlation_id=correlation_id, order_id=self.order_id,
                          payload=payload)]

    def complete_after_acceptance(self, accepted_at: datetime, activation: datetime | None) -> None:
        """Supervision finished: the order is 已完成 (the marketplace allows 3 h; we do it on the event).

        Validity starts at the merchant's actual activation time, else at acceptance (dossier §10)."""
        if self.status is OrderStatus.COMPLETED:
            return
        if self.status is not OrderStatus.PROCESSING:
            raise DomainError(f"order {self.order_id} is {self.status.value}; cannot complete it")
        self.completed_at = accepted_at
        self.validity_starts_at = activation or accepted_at
        self._move(OrderStatus.COMPLETED, accepted_at, "service order accepted")
