"""Unsubscribe requests (dossier §1.4), refund decisions, ratings (§9.2), credit repayment (§4.3), progress.
(The rules that moved here from supervision, the guarantee period, the freeze and appeals:
tests/unit/test_orders_refunds.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.aftersales import credit_repaid, rate
from services.orders.domain import Order
from services.orders.progress import AgreedRecord, Progress, Rating
from services.orders.refunds import decide_refund, refund_by_platform, request_refund
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    DeliveryType,
    OrderStatus,
    OrderStatusChanged,
    PartyRole,
    ProductSnapshot,
    RefundDecided,
    RefundRequested,
)

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def paid(delivery: DeliveryType = DeliveryType.MANUAL_SERVICE, at: datetime = NOW) -> Order:
    o = Order(
        order_id="CS1",
        buyer_account_id="b",
        merchant_account_id="m",
        amount=Decimal("100.00"),
        product=ProductSnapshot(product_id="p", name="x", delivery_type=delivery),
        created_at=at,
    )
    o.pay("pay-1", o.amount, at, "c")
    return o


RECORD = AgreedRecord(kind="evidence", ref="EV-42")


def test_a_supervised_unsubscribe_in_the_guarantee_period_asks_the_merchant() -> None:
    o = paid()
    # refund.requested is what tells the merchant (notification's catalogue): one event, no notice besides
    [event] = request_refund(o, "b", Decimal("60"), "not needed", NOW, 0, "c")
    assert isinstance(event, RefundRequested)
    assert (event.payload.amount, event.payload.reason, event.order_id) == (
        Decimal("60"),
        "not needed",
        "CS1",
    )
    assert o.status is OrderStatus.PROCESSING
    assert o.refund is not None
    assert o.refund.state == "requested"
    with pytest.raises(DomainError, match="already waiting"):
        request_refund(o, "b", None, "again", NOW, 0, "c")


def test_a_supervised_unsubscribe_after_completion_is_refused() -> None:
    o = paid()
    o.complete_after_acceptance(NOW, None)
    with pytest.raises(DomainError, match=r"guarantee period.*§1\.4"):
        request_refund(o, "b", None, "late", NOW, 0, "c")


def test_only_the_buyer_unsubscribes_and_never_more_than_paid() -> None:
    o = paid()
    with pytest.raises(Forbidden):
        request_refund(o, "m", None, "x", NOW, 0, "c")
    with pytest.raises(InvalidInput):
        request_refund(o, "b", Decimal("100.01"), "x", NOW, 0, "c")


@pytest.mark.parametrize("delivery", [DeliveryType.IMAGE, DeliveryType.API, DeliveryType.SAAS_INSTANT])
def test_an_unsupervised_product_is_refunded_in_full_within_five_days(delivery: DeliveryType) -> None:
    o = paid(delivery)
    [event, decided] = request_refund(
        o, "b", Decimal("1"), "changed my mind", NOW + timedelta(days=5), 3, "c"
    )
    assert isinstance(event, OrderStatusChanged)
    assert event.payload.to_status is OrderStatus.REFUNDED
    assert o.refund is not None
    assert o.refund.amount == Decimal("100.00")
    # the refund travels as refund.decided too, so the provider's earning on the order is reversed
    assert isinstance(decided, RefundDecided)
    assert decided.payload.approved
    assert decided.payload.amount == Decimal("100.00")
    assert decided.payload.refund_id == o.refund.refund_id
    assert decided.payload.decided_by_role is PartyRole.SYSTEM


def test_a_platform_refund_is_published_once() -> None:
    o = paid(DeliveryType.IMAGE)
    assert len(refund_by_platform(o, NOW, "provisioning given up", "c")) == 2
    assert refund_by_platform(o, NOW, "provisioning given up", "c") == []


def test_an_unsupervised_product_after_five_days_gets_no_refund() -> None:
    o = paid(DeliveryType.IMAGE)
    with pytest.raises(DomainError, match="5-day"):
        request_refund(o, "b", None, "x", NOW + timedelta(days=5, seconds=1), 0, "c")
    assert o.status is OrderStatus.COMPLETED


def test_the_yearly_quota_of_ten_no_reason_refunds() -> None:
    o = paid(DeliveryType.IMAGE)
    with pytest.raises(DomainError, match="quota of 10"):
        request_refund(o, "b", None, "x", NOW, 10, "c")


def test_an_approved_decision_refunds_and_a_rejected_one_keeps_the_order() -> None:
    o = paid()
    request_refund(o, "b", None, "x", NOW, 0, "c")
    assert o.refund is not None
    [rejected] = decide_refund(o, "m", o.refund.refund_id, False, "delivered already", NOW, "c")
    assert isinstance(rejected, RefundDecided)
    assert (rejected.payload.approved, rejected.payload.opinion) == (False, "delivered already")
    assert (o.refund.state, o.status) == ("rejected", OrderStatus.PROCESSING)

    request_refund(o, "b", None, "x", NOW, 0, "c")
    [changed, approved] = decide_refund(o, "m", o.refund.refund_id, True, "ok", NOW, "c", RECORD)
    assert isinstance(changed, OrderStatusChanged)
    assert changed.payload.to_status is OrderStatus.REFUNDED
    assert "approved by the merchant" in changed.payload.reason
    assert isinstance(approved, RefundDecided)
    assert (approved.payload.approved, approved.payload.decided_by_role) == (True, PartyRole.MERCHANT)
    assert o.refund.state == "approved"


def test_a_rating_needs_completion_and_happens_once() -> None:
    o = paid()
    r = Rating(quality=5, after_sales=4, delivery_speed=3, tags=["on time"], text="good")
    with pytest.raises(DomainError, match="once it is completed"):
        rate(o, "b", r, NOW)
    o.complete_after_acceptance(NOW, None)
    with pytest.raises(Forbidden):
        rate(o, "m", r, NOW)
    rate(o, "b", r, NOW)
    assert o.rating is not None
    assert (o.rating.quality, o.rating.rated_at) == (5, NOW)
    with pytest.raises(DomainError, match="already rated"):
        rate(o, "b", r, NOW)


def test_credit_repayment_is_recorded_once_and_only_for_credit_orders() -> None:
    o = paid()
    with pytest.raises(DomainError):
        credit_repaid(o, NOW)
    o.credit_used = True
    assert not o.credit_repaid
    credit_repaid(o, NOW)
    credit_repaid(o, NOW + timedelta(days=1))
    assert o.credit_repaid_at == NOW


def test_progress_follows_confirmed_nodes_and_stays_complete_after_acceptance() -> None:
    p = Progress().confirmed("SO1", "submit_request", "confirm_request", NOW)
    p = p.confirmed("SO1", "confirm_request", "deliver", NOW)
    assert (p.current_node, p.confirmed_nodes) == ("deliver", ["submit_request", "confirm_request"])
    p = p.accepted(NOW).confirmed("SO1", "deliver", "accept", NOW)  # a late confirmation
    assert p.current_node == "service_complete"
    assert p.accepted_at == NOW
