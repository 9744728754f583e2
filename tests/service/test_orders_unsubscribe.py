"""An unsubscribe and its decision: both the purchased order and its unsubscribe order follow the merchant's
decision, once, however often it is asked for; the no-reason refund settles both at once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.orders import order_cases, refund_cases
from services.orders.commands import PlaceOrder, RefundDecision, RequestUnsubscribe
from services.orders.context import OrdersContext
from services.orders.domain import Order, OrderStatus
from services.orders.progress import AgreedRecord
from shared.platform.errors import DomainError
from shared.schemas import (
    AccountRole,
    DeliveryType,
    OrderPaid,
    OrderStatusChanged,
    PartyRole,
    RefundDecided,
    RefundRequested,
)
from tests.service.orders_support import listed, one_time, payment, person, principal
from tests.service.rig import Rig


async def unsubscribed(ctx: OrdersContext, delivery: DeliveryType = DeliveryType.MANUAL_SERVICE) -> Order:
    """A paid order of a listed product whose buyer asked to unsubscribe, through the service's own use
    cases."""
    buyer = await person(ctx, AccountRole.BUYER, display_name="b")
    merchant = await person(ctx, AccountRole.MERCHANT, display_name="m", phone="+8613800005678")
    pid = await listed(
        ctx,
        merchant,
        principal(AccountRole.OPERATOR),
        **one_time(
            "100.00",
            name="Migration",
            delivery_type=delivery.value,
            flow_template="standard" if delivery.supervised else None,
        ),
    )
    placed = await order_cases.place_order(ctx, buyer, PlaceOrder(product_id=pid))
    await order_cases.pay(ctx, placed.order_id, payment(placed))
    return await refund_cases.unsubscribe(
        ctx,
        buyer.account_id,
        placed.order_id,
        RequestUnsubscribe(amount=Decimal("40.00"), reason="plans changed"),
    )


def stored(rig: Rig, order_id: str) -> Order:
    return Order.model_validate(rig.state.tables["orders"][order_id])


def changes(rig: Rig, order_id: str) -> list[tuple[OrderStatus | None, OrderStatus]]:
    return [
        (e.payload.from_status, e.payload.to_status)
        for e in rig.state.outbox
        if isinstance(e, OrderStatusChanged) and e.order_id == order_id
    ]


@pytest.mark.parametrize(
    ("approved", "original_status", "unsub_status"),
    [
        (True, OrderStatus.REFUNDED, OrderStatus.COMPLETED),
        (False, OrderStatus.PROCESSING, OrderStatus.CANCELLED),
    ],
)
async def test_the_merchants_decision_settles_both_orders_once(
    orders_rig: Rig, approved: bool, original_status: OrderStatus, unsub_status: OrderStatus
) -> None:
    async with orders_rig.running() as rig:
        ctx: OrdersContext = rig.service
        original = await unsubscribed(ctx)
        unsub_id = original.unsubscribe_order_id
        assert unsub_id is not None
        assert original.refund is not None
        pending = await ctx.queries.order(unsub_id, principal(AccountRole.BUYER, original.buyer_account_id))
        assert (pending.order_type, pending.status, pending.amount) == (
            "unsubscribe",
            OrderStatus.PROCESSING,
            Decimal("40.00"),
        )
        merchant = principal(AccountRole.MERCHANT, original.merchant_account_id)
        assert await ctx.queries.order(unsub_id, merchant) == pending
        decision = RefundDecision(
            approve=approved,
            opinion="ok" if approved else "no",
            agreed_record=AgreedRecord(kind="document", ref="call notes") if approved else None,
        )

        decided = await refund_cases.decide_refund(
            ctx, merchant, original.order_id, original.refund.refund_id, decision
        )
        with pytest.raises(DomainError, match="was already"):  # decided again: refused, nothing changes
            await refund_cases.decide_refund(
                ctx, merchant, original.order_id, original.refund.refund_id, decision
            )

    assert decided == stored(rig, original.order_id)
    assert decided.status is original_status
    assert decided.refund is not None
    assert (decided.refund.state, decided.refund.opinion) == (
        "approved" if approved else "rejected",
        decision.opinion,
    )
    unsub = stored(rig, unsub_id)
    assert unsub.status is unsub_status
    assert unsub.original_order_id == original.order_id
    assert changes(rig, unsub_id) == [(None, OrderStatus.PROCESSING), (OrderStatus.PROCESSING, unsub_status)]
    assert [
        e.payload.to_status
        for e in rig.state.outbox
        if isinstance(e, OrderStatusChanged) and e.order_id == original.order_id
    ].count(OrderStatus.REFUNDED) == (1 if approved else 0)
    [requested] = [e for e in rig.state.outbox if isinstance(e, RefundRequested)]
    assert requested.payload.order_id == original.order_id  # notification tells the merchant by it
    [outcome] = [e for e in rig.state.outbox if isinstance(e, RefundDecided)]
    assert (outcome.payload.refund_id, outcome.payload.approved, outcome.payload.amount) == (
        original.refund.refund_id,
        approved,
        Decimal("40.00"),
    )
    assert (outcome.payload.decided_by_role, outcome.payload.decided_by_account_id) == (
        PartyRole.MERCHANT,
        merchant.account_id,
    )
    assert [e.order_id for e in rig.state.outbox if isinstance(e, OrderPaid)] == [original.order_id]
    assert rig.dead == []


async def test_the_no_reason_refund_completes_its_unsubscribe_order_at_once(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        original = await unsubscribed(rig.service, DeliveryType.SAAS_INSTANT)
        assert original.status is OrderStatus.REFUNDED
        assert original.unsubscribe_order_id is not None
        purchased = await rig.service.queries.purchased(original.buyer_account_id)
        listed = await rig.service.queries.purchased(original.buyer_account_id, order_type="unsubscribe")

    unsub = stored(rig, original.unsubscribe_order_id)
    assert (unsub.status, unsub.amount) == (OrderStatus.COMPLETED, Decimal("100.00"))
    assert changes(rig, unsub.order_id) == [
        (None, OrderStatus.PROCESSING),
        (OrderStatus.PROCESSING, OrderStatus.COMPLETED),
    ]
    # published once, as refund.decided (orders no longer consumes it: tests/service/test_orders_refunds.py)
    [own] = [e for e in rig.state.outbox if isinstance(e, RefundDecided)]
    assert (own.payload.order_id, own.payload.decided_by_role) == (original.order_id, PartyRole.SYSTEM)
    assert [o.order_id for o in purchased] == [original.order_id]
    assert [o.order_id for o in listed] == [unsub.order_id]
    assert rig.dead == []
