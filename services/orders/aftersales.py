"""After the sale: unsubscribe (退订) requests, the buyer's rating, credit repayment. Pure rules on an Order."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from services.orders.domain import PRODUCER, Order
from services.orders.progress import Rating, RefundRequest, self_service_refund_allowed
from shared.platform.errors import DomainError, InvalidInput
from shared.schemas import Event, OrderStatus, RefundRequested, RefundRequestedPayload


def request_unsubscribe(order: Order, buyer: str, amount: Decimal | None, reason: str, now: datetime,
                        refunds_used_this_year: int, correlation_id: str) -> list[Event]:
    """Supervised: a negotiated refund in the guarantee period, decided by the merchant through supervision
    (refund.requested, dossier §1.4). Unsupervised: the 5-day no-reason full refund within the yearly quota,
    refunded at once, else no refund (§1.4)."""
    order.owned_by(buyer)
    if order.refund is not None and order.refund.state == "requested":
        raise DomainError(f"an unsubscribe of order {order.order_id} is already waiting for the merchant",
                          field="order_id")
    asked = amount if amount is not None else order.amount
    if asked > order.amount:
        raise InvalidInput(f"the refund {asked} exceeds the amount paid {order.amount}", field="amount")
    refund = RefundRequest(refund_id=f"RF-{uuid.uuid4().hex[:12]}", amount=asked, reason=reason, requested_at=now)
    if order.supervised:
        if order.status is not OrderStatus.PROCESSING:
            raise DomainError(f"order {order.order_id} is {order.status.value}: a negotiated unsubscribe is only "
                              "possible in the transaction guarantee period, before supervision completes; no "
                              "full refund outside it (dossier §1.4)", field="status")
        order.refund = refund
        return [RefundRequested(producer=PRODUCER, correlation_id=correlation_id, order_id=order.order_id,
                                payload=RefundRequestedPayload(refund_id=refund.refund_id, order_id=order.order_id,
                                                               amount=asked, reason=reason, parties=order.parties,
                                                               requested_at=now))]
    if order.status is not OrderStatus.COMPLETED or order.paid_at is None:
        raise DomainError(f"order {order.order_id} is {order.status.value}; only a paid order can be "
                          "unsubscribed", field="status")
    self_service_refund_allowed(order.paid_at, now, refunds_used_this_year)
    # The no-reason refund is always the full amount (dossier §1.4 "5-day no-reason full refund").
    order.refund = refund.model_copy(update={"amount": order.amount})
    return order.refunded_by_platform(now, "5-day no-reason full refund (dossier §1.4)", correlation_id)


def refund_decided(order: Order, approved: bool, opinion: str, reason: str, now: datetime,
                   correlation_id: str) -> list[Event]:
    """The merchant (or an appeal resolution) decided the unsubscribe: approved → refunded."""
    if approved:
        if order.refund is not None:
            order.refund = order.refund.model_copy(update={"opinion": opinion})
        return list(order.refunded(now, reason or "refund approved", correlation_id))
    if order.refund is not None and order.refund.state == "requested":
        order.refund = order.refund.model_copy(update={"state": "rejected", "decided_at": now, "opinion": opinion})
    return []


def rate(order: Order, buyer: str, rating: Rating, now: datetime) -> None:
    """A rating after completion (dossier §9.2), once, by the buyer only; an unsubscribe order is not rated."""
    order.owned_by(buyer)
    if order.order_type == "unsubscribe":
        raise DomainError(f"order {order.order_id} is an unsubscribe order; rate the order it unsubscribed",
                          field="order_id")
    if order.status is not OrderStatus.COMPLETED:
        raise DomainError(f"order {order.order_id} is {order.status.value}; rate it once it is completed",
                          field="status")
    if order.rating is not None:
        raise DomainError(f"order {order.order_id} is already rated", field="order_id")
    order.rating = rating.model_copy(update={"rated_at": now})


def credit_repaid(order: Order, now: datetime) -> None:
    """The customer repaid the credit used for the order (后付费客户还款状态 = 已还款, dossier §4.3)."""
    if not order.credit_used:
        raise DomainError(f"order {order.order_id} was not paid with credit", field="order_id")
    if order.credit_repaid_at is None:
        order.credit_repaid_at = now
