"""orders on refund.decided for an unsubscribe: both the purchased order and its unsubscribe order follow the
decision, once, however often the decision is delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.orders.commands import RequestUnsubscribe
from services.orders.domain import Order, OrderStatus
from services.orders.services import OrdersService, PlaceOrder
from shared.schemas import (
    AccountRole,
    DeliveryType,
    OrderPaid,
    OrderStatusChanged,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
    RefundRequested,
)
from tests.factories import rid
from tests.service.orders_support import listed, one_time, payment, person, principal
from tests.service.rig import Rig


async def unsubscribed(svc: OrdersService, delivery: DeliveryType = DeliveryType.MANUAL_SERVICE) -> Order:
    """A paid order of a listed product whose buyer asked to unsubscribe, through the service's own use cases."""
    buyer = await person(svc, AccountRole.BUYER, display_name="b")
    merchant = await person(svc, AccountRole.MERCHANT, display_name="m", phone="+8613800005678")
    pid = await listed(svc, merchant, principal(AccountRole.OPERATOR), **one_time(
        "100.00", name="Migration", delivery_type=delivery.value,
        flow_template="standard" if delivery.supervised else None))
    placed = await svc.place_order(buyer, PlaceOrder(product_id=pid))
    await svc.pay(placed.order_id, payment(placed))
    return await svc.unsubscribe(buyer.account_id, placed.order_id,
                                 RequestUnsubscribe(amount=Decimal("40.00"), reason="plans changed"))


def stored(rig: Rig, order_id: str) -> Order:
    return Order.model_validate(rig.state.tables["orders"][order_id])


def changes(rig: Rig, order_id: str) -> list[tuple[OrderStatus | None, OrderStatus]]:
    return [(e.payload.from_status, e.payload.to_status) for e in rig.state.outbox
            if isinstance(e, OrderStatusChanged) and e.order_id == order_id]


def decided(order: Order, approved: bool) -> RefundDecided:
    assert order.refund is not None
    return RefundDecided(producer="supervision", correlation_id=rid("corr"), order_id=order.order_id,
                         payload=RefundDecidedPayload(
                             refund_id=order.refund.refund_id, order_id=order.order_id, approved=approved,
                             amount=order.refund.amount, reason="plans changed", opinion="ok" if approved else "no",
                             decided_by_role=PartyRole.MERCHANT, parties=order.parties,
                             decided_at=datetime.now(UTC)))


@pytest.mark.parametrize(("approved", "original_status", "unsub_status"), [
    (True, OrderStatus.REFUNDED, OrderStatus.COMPLETED),
    (False, OrderStatus.PROCESSING, OrderStatus.CANCELLED)])
async def test_a_refund_decision_settles_both_orders_once(orders_rig: Rig, approved: bool,
                                                          original_status: OrderStatus,
                                                          unsub_status: OrderStatus) -> None:
    async with orders_rig.running() as rig:
        original = await unsubscribed(rig.service)
        unsub_id = original.unsubscribe_order_id
        assert unsub_id is not None
        pending = await rig.service.get_order(unsub_id, principal(AccountRole.BUYER, original.buyer_account_id))
        assert (pending.order_type, pending.status, pending.amount) == (
            "unsubscribe", OrderStatus.PROCESSING, Decimal("40.00"))
        assert await rig.service.get_order(
            unsub_id, principal(AccountRole.MERCHANT, original.merchant_account_id)) == pending
        event = decided(original, approved)
        await rig.publish(event)
        await rig.publish(event)  # redelivered
        await rig.publish(decided(stored(rig, original.order_id), approved))  # decided again under a new id

    assert stored(rig, original.order_id).status is original_status
    unsub = stored(rig, unsub_id)
    assert unsub.status is unsub_status
    assert unsub.original_order_id == original.order_id
    assert changes(rig, unsub_id) == [(None, OrderStatus.PROCESSING), (OrderStatus.PROCESSING, unsub_status)]
    assert [e.payload.to_status for e in rig.state.outbox if isinstance(e, OrderStatusChanged)
            and e.order_id == original.order_id].count(OrderStatus.REFUNDED) == (1 if approved else 0)
    [requested] = [e for e in rig.state.outbox if isinstance(e, RefundRequested)]
    assert requested.payload.order_id == original.order_id  # supervision finds the service order by it
    assert [e.order_id for e in rig.state.outbox if isinstance(e, OrderPaid)] == [original.order_id]
    assert rig.dead == []


async def test_the_no_reason_refund_completes_its_unsubscribe_order_at_once(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        original = await unsubscribed(rig.service, DeliveryType.SAAS_INSTANT)
        assert original.status is OrderStatus.REFUNDED
        assert original.unsubscribe_order_id is not None
        purchased = await rig.service.purchased(original.buyer_account_id)
        listed = await rig.service.purchased(original.buyer_account_id, order_type="unsubscribe")
        # orders' own refund.decided comes back to it: nothing changes a second time
        [own] = [e for e in rig.state.outbox if isinstance(e, RefundDecided)]
        await rig.publish(own)

    unsub = stored(rig, original.unsubscribe_order_id)
    assert (unsub.status, unsub.amount) == (OrderStatus.COMPLETED, Decimal("100.00"))
    assert changes(rig, unsub.order_id) == [(None, OrderStatus.PROCESSING),
                                            (OrderStatus.PROCESSING, OrderStatus.COMPLETED)]
    assert own.payload.order_id == original.order_id
    assert [o.order_id for o in purchased] == [original.order_id]
    assert [o.order_id for o in listed] == [unsub.order_id]
    assert rig.dead == []
