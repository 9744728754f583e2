"""Refunds have one owner and one way in (issue 11): the buyer asks orders, the order's merchant decides at
orders, an appeal resolved with a refund is carried out by orders, and orders consumes no refund.decided. What
orders knows of the guarantee period and the freeze comes from supervision's acceptance.done, appeal.raised
and appeal.resolved, on the service's real subscribers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.orders import order_cases, refund_cases
from services.orders.commands import PlaceOrder, RefundDecision, RequestUnsubscribe
from services.orders.context import OrdersContext
from services.orders.domain import Order, OrderStatus
from services.orders.event_cases import EVENT_HANDLERS
from services.orders.progress import AgreedRecord
from services.orders.refunds import Frozen
from shared.platform.errors import DomainError, Forbidden
from shared.platform.http import status_of
from shared.schemas import (
    AccountRole,
    AppealOutcome,
    OrderStatusChanged,
    PartyRole,
    RefundDecided,
    Topic,
)
from tests.factories import acceptance_done
from tests.service.orders_support import (
    appeal_raised,
    appeal_resolved,
    listed,
    one_time,
    payment,
    person,
    principal,
)
from tests.service.rig import Rig

ASK = RequestUnsubscribe(amount=Decimal("40.00"), reason="plans changed")
AGREED = RefundDecision(approve=True, agreed_record=AgreedRecord(kind="evidence", ref="EV-1"))
REJECTED = RefundDecision(approve=False, opinion="delivered as agreed")


async def paid(ctx: OrdersContext) -> Order:
    """A supervised order, paid: processing, in its guarantee period."""
    buyer = await person(ctx, AccountRole.BUYER)
    merchant = await person(ctx, AccountRole.MERCHANT)
    pid = await listed(ctx, merchant, principal(AccountRole.OPERATOR), **one_time("100.00"))
    placed = await order_cases.place_order(ctx, buyer, PlaceOrder(product_id=pid))
    return await order_cases.pay(ctx, placed.order_id, payment(placed))


def stored(rig: Rig, order_id: str) -> Order:
    return Order.model_validate(rig.state.tables["orders"][order_id])


def decisions(rig: Rig) -> list[RefundDecided]:
    return [e for e in rig.state.outbox if isinstance(e, RefundDecided)]


async def test_orders_consumes_no_refund_decided(orders_rig: Rig) -> None:
    consumed = {
        t.name
        for sub in orders_rig.broker.subscribers
        for t in sub.topics  # type: ignore[attr-defined]
        if not t.name.endswith(".dlt")
    }
    assert consumed == {
        f"svc.{t}"
        for t in (
            Topic.ACCEPTANCE_DONE,
            Topic.MILESTONE_CONFIRMED,
            Topic.APPEAL_RAISED,
            Topic.APPEAL_RESOLVED,
            Topic.MERCHANT_CALL_FAILED,
            Topic.PRODUCT_FROZEN,
            Topic.SUPERVISION_OVERDUE,  # a legacy order unsubscribed by the platform (dossier §1.5)
        )
    }
    assert RefundDecided not in EVENT_HANDLERS
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        unsubscribed = await refund_cases.unsubscribe(
            rig.service, order.buyer_account_id, order.order_id, ASK
        )
        merchant = principal(AccountRole.MERCHANT, order.merchant_account_id)
        assert unsubscribed.refund is not None
        await refund_cases.decide_refund(
            rig.service, merchant, order.order_id, unsubscribed.refund.refund_id, AGREED
        )
        [own] = decisions(rig)
        before = (rig.state.tables["orders"][order.order_id], set(rig.state.processed), len(rig.state.outbox))

        await rig.publish(own)  # its own refund.decided, as the relay publishes it: nobody here reads it

    assert (rig.state.tables["orders"][order.order_id], rig.state.processed, len(rig.state.outbox)) == before
    assert rig.dead == []


async def test_only_the_orders_merchant_decides_its_refund(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        requested = await refund_cases.unsubscribe(rig.service, order.buyer_account_id, order.order_id, ASK)
        assert requested.refund is not None
        refund_id = requested.refund.refund_id
        outsiders = [
            principal(AccountRole.BUYER, order.buyer_account_id),
            await person(rig.service, AccountRole.MERCHANT),
        ]
        for outsider in outsiders:
            with pytest.raises(Forbidden) as refused:
                await refund_cases.decide_refund(
                    rig.service, outsider, order.order_id, refund_id, RefundDecision(approve=True)
                )
            assert refused.value.rule == "merchant_decides_refund"

    assert stored(rig, order.order_id).status is OrderStatus.PROCESSING
    assert decisions(rig) == []


async def test_a_request_once_the_service_order_is_accepted_is_a_409_citing_the_dossier(
    orders_rig: Rig,
) -> None:
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        await rig.publish(acceptance_done(order.parties, order.order_id))  # the guarantee period is over

        with pytest.raises(DomainError, match=r"guarantee period.*§1\.4") as refused:
            await refund_cases.unsubscribe(rig.service, order.buyer_account_id, order.order_id, ASK)

    assert status_of(refused.value) == 409
    assert stored(rig, order.order_id).refund is None
    assert rig.dead == []


async def test_a_request_or_a_decision_while_an_appeal_is_open_is_a_409_until_it_is_resolved(
    orders_rig: Rig,
) -> None:
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        requested = await refund_cases.unsubscribe(rig.service, order.buyer_account_id, order.order_id, ASK)
        assert requested.refund is not None
        merchant = principal(AccountRole.MERCHANT, order.merchant_account_id)
        await rig.publish(appeal_raised(order.parties, order.order_id))

        with pytest.raises(Frozen, match=r"§5\.3") as refused:
            await refund_cases.decide_refund(
                rig.service,
                merchant,
                order.order_id,
                requested.refund.refund_id,
                RefundDecision(approve=False, opinion="delivered"),
            )
        assert (status_of(refused.value), refused.value.code) == (409, "frozen_by_appeal")
        await rig.publish(appeal_resolved(order.parties, order.order_id, AppealOutcome.RESUME))
        rejected = await refund_cases.decide_refund(
            rig.service, merchant, order.order_id, requested.refund.refund_id, REJECTED
        )
        await rig.publish(appeal_raised(order.parties, order.order_id, appeal_id="AP-2"))
        with pytest.raises(Frozen):
            await refund_cases.unsubscribe(rig.service, order.buyer_account_id, order.order_id, ASK)

    assert rejected.refund is not None
    assert rejected.refund.state == "rejected"
    frozen = stored(rig, order.order_id)
    assert frozen.progress.appeal is not None
    assert (frozen.progress.appeal.appeal_id, frozen.progress.resolved_appeals) == ("AP-2", ["AP-1"])
    assert [d.payload.approved for d in decisions(rig)] == [False]
    assert rig.dead == []


async def test_an_appeal_resolved_with_a_refund_publishes_one_refund_decided_even_when_delivered_twice(
    orders_rig: Rig,
) -> None:
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        await rig.publish(appeal_raised(order.parties, order.order_id, reason="nothing delivered"))
        resolved = appeal_resolved(order.parties, order.order_id, AppealOutcome.REFUND, operator="op-9")

        await rig.publish(resolved)
        await rig.publish(resolved)  # redelivered: the inbox knows it
        again = resolved.model_copy(
            update={"event_id": appeal_raised(order.parties, order.order_id).event_id}
        )
        await rig.publish(again)  # the same resolution under another event id: refunded already

    refunded = stored(rig, order.order_id)
    assert refunded.status is OrderStatus.REFUNDED
    assert refunded.progress.appeal is None
    [decided] = decisions(rig)
    p = decided.payload
    assert (p.refund_id, p.approved, p.amount, p.reason) == (
        "RF-AP-1",
        True,
        Decimal("100.00"),
        "nothing delivered",
    )
    assert (p.decided_by_role, p.decided_by_account_id) == (PartyRole.OPERATOR, "op-9")
    assert (p.service_order_id, decided.correlation_id) == (f"SO-{order.order_id}", resolved.correlation_id)
    assert [e.payload.to_status for e in rig.state.outbox if isinstance(e, OrderStatusChanged)].count(
        OrderStatus.REFUNDED
    ) == 1
    assert f"orders:{resolved.event_id}" in rig.state.processed
    assert rig.dead == []


async def test_an_appeals_refund_settles_the_pending_unsubscribe_order(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order = await paid(rig.service)
        requested = await refund_cases.unsubscribe(rig.service, order.buyer_account_id, order.order_id, ASK)
        await rig.publish(appeal_raised(order.parties, order.order_id))
        await rig.publish(appeal_resolved(order.parties, order.order_id, AppealOutcome.REFUND))

    assert requested.unsubscribe_order_id is not None
    assert stored(rig, requested.unsubscribe_order_id).status is OrderStatus.COMPLETED
    refund = stored(rig, order.order_id).refund
    assert refund is not None
    assert refund.state == "approved"
    assert [d.payload.refund_id for d in decisions(rig)] == ["RF-AP-1"]
