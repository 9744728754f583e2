"""Orders domain: paying, completing after acceptance, order numbers, who may see an order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.domain import Order, OrderStatus
from shared.platform.errors import DomainError, Forbidden
from shared.schemas import DeliveryType, OrderPaid, ProductSnapshot
from tests.factories import parties, rid

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def order(delivery_type: DeliveryType = DeliveryType.MANUAL_SERVICE, status: OrderStatus = OrderStatus.PENDING_PAYMENT,
          provider: str | None = None) -> Order:
    p = parties(provider)
    product = ProductSnapshot(product_id=rid("p"), name="Data migration service", delivery_type=delivery_type,
                              provider_share_ratio=Decimal("0.10"))
    return Order(order_id=Order.new_id(NOW), buyer_account_id=p.buyer_account_id,
                 merchant_account_id=p.merchant_account_id, provider_id=p.provider_id, product=product,
                 amount=Decimal("120.50"), status=status, created_at=NOW - timedelta(hours=1))


# --- pay ----------------------------------------------------------------------------------------


def test_only_the_buyer_can_pay() -> None:
    o = order()
    with pytest.raises(Forbidden):
        o.pay(o.merchant_account_id, NOW, "corr")
    assert o.status is OrderStatus.PENDING_PAYMENT
    assert o.paid_at is None


@pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.PENDING_PAYMENT])
def test_only_a_pending_order_can_be_paid(status: OrderStatus) -> None:
    o = order(status=status)
    with pytest.raises(DomainError) as refused:
        o.pay(o.buyer_account_id, NOW, "corr")
    assert type(refused.value) is DomainError
    assert refused.value.field == "status"
    assert status.value in refused.value.message


def test_paying_a_supervised_order_moves_it_to_processing_and_emits_order_paid() -> None:
    o = order(provider=rid("prov"))

    events = o.pay(o.buyer_account_id, NOW, "corr-1")

    assert o.status is OrderStatus.PROCESSING
    assert o.paid_at == NOW
    assert o.completed_at is None
    assert [h.status for h in o.history] == [OrderStatus.PROCESSING]
    [paid] = events
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

    [paid] = o.pay(o.buyer_account_id, NOW, "corr")

    assert o.status is OrderStatus.COMPLETED
    assert o.completed_at == NOW
    assert [h.status for h in o.history] == [OrderStatus.COMPLETED]
    assert paid.payload.product.delivery_type is delivery_type


# --- complete_after_acceptance ------------------------------------------------------------------


def paid_order() -> Order:
    o = order()
    o.pay(o.buyer_account_id, NOW, "corr")
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
