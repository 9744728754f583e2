"""After the sale: the buyer's rating and credit repayment. Pure rules on an Order (refunds: refunds.py)."""

from __future__ import annotations

from datetime import datetime

from services.orders.domain import Order
from services.orders.progress import Rating
from shared.platform.errors import DomainError
from shared.schemas import OrderStatus


def rate(order: Order, buyer: str, rating: Rating, now: datetime) -> None:
    """A rating after completion (dossier §9.2), once, by the buyer only; an unsubscribe order is not
    rated."""
    order.owned_by(buyer)
    if order.order_type == "unsubscribe":
        raise DomainError(
            f"order {order.order_id} is an unsubscribe order; rate the order it unsubscribed",
            field="order_id",
        )
    if order.status is not OrderStatus.COMPLETED:
        raise DomainError(
            f"order {order.order_id} is {order.status.value}; rate it once it is completed", field="status"
        )
    if order.rating is not None:
        raise DomainError(f"order {order.order_id} is already rated", field="order_id")
    order.rating = rating.model_copy(update={"rated_at": now})


def credit_repaid(order: Order, now: datetime) -> None:
    """The customer repaid the credit used for the order (后付费客户还款状态 = 已还款, dossier §4.3)."""
    if not order.credit_used:
        raise DomainError(f"order {order.order_id} was not paid with credit", field="order_id")
    if order.credit_repaid_at is None:
        order.credit_repaid_at = now
