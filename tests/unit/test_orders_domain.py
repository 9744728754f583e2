"""Orders domain: paying, completing after acceptance, order numbers, who may see an order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.domain import Order, OrderStatus
from services.orders.progress import add_months
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import BillingMode, DeliveryType, OrderPaid, OrderStatusChanged, ProductSnapshot
from tests.factories import parties, rid

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def order(
    delivery_type: DeliveryType = DeliveryType.MANUAL_SERVICE,
    status: OrderStatus = OrderStatus.PENDING_PAYMENT,
    provider: str | None = None,
) -> Order:
    p = parties(provider)
    product = ProductSnapshot(
        product_id=rid("p"),
        name="Data migration service",
        delivery_type=delivery_type,
        provider_share_ratio=Decimal("0.10"),
    )
    return Order(
        order_id=Order.new_id(NOW),
        buyer_account_id=p.buyer_account_id,
        merchant_account_id=p.merchant_account_id,
        provider_id=p.provider_id,
        product=product,
        amount=Decimal("120.50"),
        status=status,
        created_at=NOW - timedelta(hours=1),
    )


# --- pay ----------------------------------------------------------------------------------------


def test_a_payment_of_another_amount_does_not_pay_the_order() -> None:
    o = order()
    with pytest.raises(InvalidInput) as refused:
        o.pay("pay-1", o.amount - Decimal("0.01"), NOW, "corr")
    assert refused.value.field == "amount"
    assert o.status is OrderStatus.PENDING_PAYMENT
    assert o.paid_at is None


def test_the_same_payment_confirmed_again_changes_nothing() -> None:
    o = order()
    first = o.pay("pay-1", o.amount, NOW, "corr")
    again = o.pay("pay-1", o.amount, NOW + timedelta(seconds=5), "corr-2")
    assert len(first) == 2
    assert again == []
    assert (o.payment_id, o.paid_at, len(o.history)) == ("pay-1", NOW, 1)
    with pytest.raises(DomainError):  # another payment of a paid order is refused
        o.pay("pay-2", o.amount, NOW, "corr-3")


@pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.PENDING_PAYMENT])
def test_only_a_pending_order_can_be_paid(status: OrderStatus) -> None:
    o = order(status=status)
    with pytest.raises(DomainError) as refused:
        o.pay("pay-1", o.amount, NOW, "corr")
    assert type(refused.value) is DomainError
    assert refused.value.field == "status"
    assert status.value in refused.value.message


def test_paying_a_supervised_order_moves_it_to_processing_and_emits_order_paid() -> None:
    o = order(provider=rid("prov"))

    events = o.pay("pay-1", o.amount, NOW, "corr-1")

    assert o.status is OrderStatus.PROCESSING
    assert o.paid_at == NOW
    assert o.completed_at is None
    assert [h.status for h in o.history] == [OrderStatus.PROCESSING]
    paid, changed = events
    assert isinstance(changed, OrderStatusChanged)
    assert (changed.payload.from_status, changed.payload.to_status) == (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PROCESSING,
    )
    assert changed.order_id == o.order_id
    assert isinstance(paid, OrderPaid)
    assert paid.order_id == o.order_id
    assert paid.partition_key == o.order_id
    assert paid.correlation_id == "corr-1"
    assert paid.producer == "orders"
    assert paid.payload.order_id == o.order_id
    assert paid.payload.parties == o.parties
    assert paid.payload.parties.provider_id == o.provider_id
    assert paid.payload.product == o.product
    assert paid.payload.amount == Decimal("120.50")
    assert paid.payload.currency == "CNY"
    assert paid.payload.paid_at == NOW


@pytest.mark.parametrize("delivery_type", [DeliveryType.IMAGE, DeliveryType.API, DeliveryType.SAAS_INSTANT])
def test_paying_an_unsupervised_product_completes_the_order_at_once(delivery_type: DeliveryType) -> None:
    o = order(delivery_type)

    paid, changed = o.pay("pay-1", o.amount, NOW, "corr")

    assert isinstance(changed, OrderStatusChanged)
    assert changed.payload.to_status is OrderStatus.COMPLETED
    assert o.status is OrderStatus.COMPLETED
    assert o.completed_at == NOW
    assert [h.status for h in o.history] == [OrderStatus.COMPLETED]
    assert paid.payload.product.delivery_type is delivery_type


# --- complete_after_acceptance ------------------------------------------------------------------


def paid_order() -> Order:
    o = order()
    o.pay("pay-1", o.amount, NOW, "corr")
    return o


def test_validity_starts_at_the_actual_activation_time_when_the_merchant_filled_it() -> None:
    o = paid_order()
    activated, accepted = NOW + timedelta(days=1), NOW + timedelta(days=30)

    o.complete_after_acceptance(accepted, activated)

    assert o.status is OrderStatus.COMPLETED
    assert o.completed_at == accepted
    assert o.validity_starts_at == activated
    assert [h.status for h in o.history] == [OrderStatus.PROCESSING, OrderStatus.COMPLETED]


def test_validity_starts_at_acceptance_without_an_activation_time() -> None:
    o = paid_order()
    accepted = NOW + timedelta(days=30)

    o.complete_after_acceptance(accepted, None)

    assert o.validity_starts_at == accepted
    assert o.completed_at == accepted


def test_completing_a_completed_order_changes_nothing() -> None:
    o = paid_order()
    first = NOW + timedelta(days=2)
    o.complete_after_acceptance(first, None)

    o.complete_after_acceptance(NOW + timedelta(days=9), NOW + timedelta(days=8))

    assert o.completed_at == first
    assert o.validity_starts_at == first
    assert len(o.history) == 2


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.REFUNDED])
def test_only_a_processing_order_can_be_completed(status: OrderStatus) -> None:
    o = order(status=status)
    with pytest.raises(DomainError, match=status.value):
        o.complete_after_acceptance(NOW, None)
    assert o.status is status
    assert o.validity_starts_at is None


# --- ids and visibility -------------------------------------------------------------------------


def test_order_numbers_start_with_cs_then_the_second_then_32_random_bits() -> None:
    ids = {Order.new_id(NOW) for _ in range(20)}
    assert all(re.fullmatch(r"CS260301093000[0-9A-F]{8}", i) for i in ids), ids
    assert len(ids) > 1


def test_buyer_and_merchant_can_see_the_order_nobody_else() -> None:
    o = order(provider=rid("prov"))
    o.visible_to(o.buyer_account_id)
    o.visible_to(o.merchant_account_id)
    with pytest.raises(Forbidden):
        o.visible_to(rid("buyer"))


# --- every status change: history and order.status_changed, the same entries -----------------------


def test_placing_an_order_records_the_creation_as_a_status_change() -> None:
    o = order()

    [created] = o.placed("corr")

    assert created.payload.from_status is None
    assert created.payload.to_status is OrderStatus.PENDING_PAYMENT
    assert created.partition_key == o.order_id
    assert [(h.from_status, h.status) for h in o.history] == [(None, OrderStatus.PENDING_PAYMENT)]


def test_history_and_published_changes_carry_the_same_entries_through_the_lifecycle() -> None:
    o = order()
    events = list(o.placed("c"))
    events += [e for e in o.pay("pay-1", o.amount, NOW, "c") if isinstance(e, OrderStatusChanged)]
    events += o.complete_after_acceptance(NOW + timedelta(days=3), None, "c")

    published = [
        (e.payload.from_status, e.payload.to_status, e.payload.reason, e.payload.changed_at) for e in events
    ]
    assert published == [(h.from_status, h.status, h.reason, h.at) for h in o.history]
    assert [h.status for h in o.history] == [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PROCESSING,
        OrderStatus.COMPLETED,
    ]
    assert events[-1].payload.validity_starts_at == NOW + timedelta(days=3)


# --- unpaid auto-cancel --------------------------------------------------------------------------


def unpaid(window: timedelta = timedelta(minutes=30)) -> Order:
    o = order()
    o.pay_by = o.created_at + window
    o.placed("c")
    return o


def test_an_unpaid_order_past_its_due_time_is_cancelled_with_the_window_as_reason() -> None:
    o = unpaid()

    [cancelled] = o.cancel_unpaid(o.created_at + timedelta(minutes=30), 30, "c")

    assert o.status is OrderStatus.CANCELLED
    assert cancelled.payload.from_status is OrderStatus.PENDING_PAYMENT
    assert cancelled.payload.to_status is OrderStatus.CANCELLED
    assert cancelled.payload.reason == "not paid within 30 minutes"


def test_an_unpaid_order_before_its_due_time_stays_pending() -> None:
    o = unpaid()
    assert o.cancel_unpaid(o.created_at + timedelta(minutes=29), 30, "c") == []
    assert o.status is OrderStatus.PENDING_PAYMENT


def test_a_paid_order_is_never_cancelled_by_the_sweeper() -> None:
    o = unpaid()
    o.pay("pay-1", o.amount, o.created_at + timedelta(minutes=1), "c")
    assert o.cancel_unpaid(o.created_at + timedelta(hours=2), 30, "c") == []
    assert o.status is OrderStatus.PROCESSING


def test_paying_after_the_due_time_is_refused() -> None:
    o = unpaid()
    with pytest.raises(DomainError, match="not paid by"):
        o.pay("pay-1", o.amount, o.created_at + timedelta(minutes=31), "c")
    assert o.status is OrderStatus.PENDING_PAYMENT


def test_the_buyer_may_cancel_an_unpaid_order_but_not_a_paid_one() -> None:
    o = unpaid()
    with pytest.raises(Forbidden):
        o.cancel_by_buyer(o.merchant_account_id, NOW, "c")
    [cancelled] = o.cancel_by_buyer(o.buyer_account_id, NOW, "c")
    assert cancelled.payload.reason == "cancelled by the buyer"
    paid = paid_order()
    with pytest.raises(DomainError, match="only an unpaid order"):
        paid.cancel_by_buyer(paid.buyer_account_id, NOW, "c")


# --- refunds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("completed", [False, True])
def test_an_approved_refund_refunds_a_paid_order_once(completed: bool) -> None:
    o = paid_order()
    if completed:
        o.complete_after_acceptance(NOW, None)

    [refunded] = o.refunded(NOW + timedelta(days=1), "approved by the merchant", "c")

    assert o.status is OrderStatus.REFUNDED
    assert refunded.payload.to_status is OrderStatus.REFUNDED
    assert refunded.payload.reason == "approved by the merchant"
    assert o.refunded(NOW + timedelta(days=2), "again", "c") == []
    assert o.history[-1].status is OrderStatus.REFUNDED


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED])
def test_an_unpaid_order_cannot_be_refunded(status: OrderStatus) -> None:
    o = order(status=status)
    with pytest.raises(DomainError, match="only a paid order"):
        o.refunded(NOW, "x", "c")


# --- renewal and validity ------------------------------------------------------------------------


def periodic(order_type: str = "new", months: int = 12) -> Order:
    o = order()
    product = o.product.model_copy(
        update={"billing_mode": BillingMode.PERIODIC_YEARLY, "period_months": months}
    )
    return o.model_copy(update={"product": product, "order_type": order_type})


def test_a_periodic_product_is_valid_for_its_period_from_the_activation_time() -> None:
    o = periodic()
    o.pay("pay-1", o.amount, NOW, "c")
    activated = datetime(2026, 1, 31, tzinfo=UTC)

    o.complete_after_acceptance(NOW + timedelta(days=40), activated)

    assert o.validity_starts_at == activated
    assert o.validity_ends_at == datetime(2027, 1, 31, tzinfo=UTC)


def test_a_renewal_completes_on_payment_without_a_service_order_and_continues_the_original_period() -> None:
    o = periodic("renewal", months=1)
    original_ends = NOW + timedelta(days=10)

    paid, changed = o.pay("pay-1", o.amount, NOW, "c", renewal_starts=original_ends)

    assert not o.supervised
    assert o.status is OrderStatus.COMPLETED
    assert isinstance(paid, OrderPaid)
    assert paid.payload.order_type == "renewal"
    assert changed.payload.reason == "renewal paid; no new service order"
    assert o.validity_starts_at == original_ends
    assert o.validity_ends_at == original_ends.replace(month=4)


def test_add_months_clamps_to_the_last_day_of_the_month() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)
