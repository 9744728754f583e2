"""The unsubscribe order (dossier §1.3): opened by an unsubscribe request, completed when the refund is
approved, cancelled when it is rejected, completed at once for the 5-day no-reason refund."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.aftersales import rate
from services.orders.billing import Period, eligibility
from services.orders.domain import Order
from services.orders.progress import AgreedRecord, Rating
from services.orders.refunds import decide_refund, request_refund
from services.orders.unsubscribe import not_an_unsubscribe, settle_unsubscribe, unsubscribe_requested
from shared.platform.errors import DomainError
from shared.schemas import DeliveryType, OrderPaid, OrderStatus, ProductSnapshot

NOW = datetime(2026, 11, 10, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
RECORD = AgreedRecord(kind="evidence", ref="EV-1")


def paid(delivery: DeliveryType = DeliveryType.MANUAL_SERVICE) -> Order:
    o = Order(
        order_id="CS1",
        buyer_account_id="b",
        merchant_account_id="m",
        provider_id="prov",
        amount=Decimal("100.00"),
        product=ProductSnapshot(product_id="p", name="x", delivery_type=delivery),
        created_at=NOW,
    )
    o.pay("pay-1", o.amount, NOW, "c")
    return o


def requested(amount: Decimal | None = Decimal("60.00")) -> tuple[Order, Order, list[object]]:
    original = paid()
    request_refund(original, "b", amount, "not needed", NOW, 0, "c")
    unsub, events = unsubscribe_requested(original, NOW, "c")
    return original, unsub, list(events)


def test_a_supervised_request_opens_a_processing_unsubscribe_order_linked_both_ways() -> None:
    original, unsub, events = requested()
    assert (unsub.order_type, unsub.status, unsub.amount) == (
        "unsubscribe",
        OrderStatus.PROCESSING,
        Decimal("60.00"),
    )
    assert unsub.original_order_id == original.order_id
    assert unsub.parties == original.parties
    assert unsub.product == original.product
    assert original.unsubscribe_order_id == unsub.order_id
    assert original.refund is not None
    assert original.refund.unsubscribe_order_id == unsub.order_id
    assert original.status is OrderStatus.PROCESSING
    assert [(h.from_status, h.status) for h in unsub.history] == [(None, OrderStatus.PROCESSING)]
    [changed] = events
    assert not isinstance(changed, OrderPaid)
    assert changed.payload.order_type == "unsubscribe"  # type: ignore[attr-defined]
    assert settle_unsubscribe(unsub, original.refund, LATER, "c") == []  # still waiting for the merchant


@pytest.mark.parametrize(
    ("approved", "original_status", "unsub_status"),
    [
        (True, OrderStatus.REFUNDED, OrderStatus.COMPLETED),
        (False, OrderStatus.PROCESSING, OrderStatus.CANCELLED),
    ],
)
def test_the_decision_settles_the_unsubscribe_order(
    approved: bool, original_status: OrderStatus, unsub_status: OrderStatus
) -> None:
    original, unsub, _ = requested()
    assert original.refund is not None
    decide_refund(original, "m", original.refund.refund_id, approved, "seen", LATER, "c", RECORD)
    [changed] = settle_unsubscribe(unsub, original.refund, LATER, "c2")
    assert (original.status, unsub.status) == (original_status, unsub_status)
    assert (changed.payload.from_status, changed.payload.to_status) == (OrderStatus.PROCESSING, unsub_status)
    assert unsub.history[-1].status is unsub_status
    assert (unsub.completed_at is not None) is approved
    assert settle_unsubscribe(unsub, original.refund, LATER, "c3") == []  # idempotent once settled


def test_the_five_day_no_reason_refund_completes_the_unsubscribe_order_at_once() -> None:
    original = paid(DeliveryType.SAAS_INSTANT)
    request_refund(original, "b", Decimal("1.00"), "changed my mind", NOW + timedelta(days=1), 0, "c")
    unsub, events = unsubscribe_requested(original, NOW + timedelta(days=1), "c")
    assert original.status is OrderStatus.REFUNDED
    assert unsub.amount == Decimal("100.00")  # the no-reason refund is always the full amount (dossier §1.4)
    assert unsub.status is OrderStatus.COMPLETED
    assert [(e.payload.from_status, e.payload.to_status) for e in events] == [
        (None, OrderStatus.PROCESSING),
        (OrderStatus.PROCESSING, OrderStatus.COMPLETED),
    ]


def test_an_unsubscribe_order_is_not_a_purchase() -> None:
    _, unsub, _ = requested()
    with pytest.raises(DomainError):
        not_an_unsubscribe(unsub, "renewed")
    unsub.status = OrderStatus.COMPLETED
    with pytest.raises(DomainError):
        rate(unsub, "b", Rating(quality=5, after_sales=5, delivery_speed=5), NOW)
    verdict = eligibility(unsub, Period.of(NOW))
    assert not verdict.billable
    assert "unsubscribe" in verdict.reasons[0]
    not_an_unsubscribe(paid(), "renewed")  # a purchase passes
