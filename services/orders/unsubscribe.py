"""The unsubscribe order (退订订单): the fourth order type of the marketplace (dossier §1.3: "New / upgrade
(change) / renewal / unsubscribe order has completed its whole flow"). Pure.

An unsubscribe order is opened when the buyer asks for a refund of a purchased order: same parties and
product, `original_order_id` = the purchased order, amount = the refund asked (the full amount for the 5-day
no-reason refund, dossier §1.4), negative when a renewal order is unsubscribed (a renewal period, §8.2.3:
`signed_amount`). Nothing is paid for it, so it never publishes order.paid (no service order,
no earning). [I] The dossier gives the type, not its statuses: we use 处理中 processing while the refund is
being decided, 已完成 completed once it is approved, 已取消 cancelled when it is rejected — what a buyer
reading the order list expects. Its creation is one status change None → processing, like every other
order's creation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.orders.domain import Order
from services.orders.progress import RefundRequest
from shared.platform.errors import DomainError
from shared.schemas import OrderStatus, OrderStatusChanged


def open_unsubscribe(
    original: Order, refund: RefundRequest, now: datetime, correlation_id: str
) -> tuple[Order, list[OrderStatusChanged]]:
    """A new unsubscribe order for `refund` of `original`, processing until the refund is decided."""
    order = original.follow_up("unsubscribe", now, original.product, signed_amount(original, refund.amount))
    moved = order.move(
        OrderStatus.PROCESSING,
        now,
        f"unsubscribe of order {original.order_id} requested (refund {refund.refund_id}: {refund.reason})",
        correlation_id,
        initial=True,
    )
    return order, [moved]


def signed_amount(original: Order, refund: Decimal) -> Decimal:
    """The unsubscribe order's amount. In a renewal period, i.e. the renewal order is what is unsubscribed, it
    is negative and refers to that renewal order (dossier §8.2.3: the V2 scene UNSUBSCRIBE_RENEWAL_PERIOD
    names "the renewal order being unsubscribed", and its orderAmount is "negative for renewal refund").
    [I] Other unsubscribe orders keep the positive refund amount they always had (§1.3 gives no sign)."""
    return -refund if original.order_type == "renewal" else refund


def settle_unsubscribe(
    order: Order, refund: RefundRequest, now: datetime, correlation_id: str
) -> list[OrderStatusChanged]:
    """Follow the refund's decision: approved → completed, rejected → cancelled; nothing while it is still
    requested, and nothing once the unsubscribe order is settled (a redelivered decision is a no-op)."""
    if order.order_type != "unsubscribe":
        raise DomainError(f"order {order.order_id} is a {order.order_type} order, not an unsubscribe")
    if order.status is not OrderStatus.PROCESSING or refund.state == "requested":
        return []
    if refund.state == "approved":
        order.completed_at = now
        return [
            order.move(
                OrderStatus.COMPLETED,
                now,
                f"refund {refund.refund_id} approved; order {order.original_order_id} refunded",
                correlation_id,
            )
        ]
    opinion = f": {refund.opinion}" if refund.opinion else ""
    return [
        order.move(OrderStatus.CANCELLED, now, f"refund {refund.refund_id} rejected{opinion}", correlation_id)
    ]


def unsubscribe_requested(
    original: Order, now: datetime, correlation_id: str
) -> tuple[Order, list[OrderStatusChanged]]:
    """After `refunds.request_refund` recorded the refund on `original`: open its unsubscribe order and link
    both ways. The 5-day no-reason refund is approved by the platform at once (dossier §1.4), so its
    unsubscribe order completes at once; a supervised one stays processing until the refund is decided
    (refunds.py)."""
    refund = original.refund
    if refund is None:
        raise DomainError(f"order {original.order_id} has no unsubscribe request", field="order_id")
    order, events = open_unsubscribe(original, refund, now, correlation_id)
    original.refund = refund.model_copy(update={"unsubscribe_order_id": order.order_id})
    original.unsubscribe_order_id = order.order_id
    return order, [*events, *settle_unsubscribe(order, refund, now, correlation_id)]


def not_an_unsubscribe(order: Order, action: str) -> None:
    """An unsubscribe order is a refund, not a purchase: it cannot be renewed, upgraded, unsubscribed or
    rated."""
    if order.order_type == "unsubscribe":
        raise DomainError(
            f"order {order.order_id} is an unsubscribe order; it cannot be {action}", field="order_id"
        )
