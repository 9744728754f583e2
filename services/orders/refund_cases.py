"""Use cases of refunds, which the orders service alone decides (rules: refunds.py): the buyer's unsubscribe
request and the merchant's decision. An appeal resolved with a refund and a provisioning given up are refunded
by the event handlers (event_cases.py), which settle the unsubscribe order the same way."""

from __future__ import annotations

from datetime import datetime

from services.orders import refunds, returns
from services.orders.commands import RefundDecision, RequestUnsubscribe, ReturnAcceptance, ShipReturn
from services.orders.context import OrdersContext, change_order, correlation, load_order
from services.orders.domain import Order
from services.orders.store import OrdersUnitOfWork
from services.orders.unsubscribe import not_an_unsubscribe, settle_unsubscribe, unsubscribe_requested
from shared.platform.auth import Principal
from shared.platform.worker import Blocked
from shared.schemas import Event, OrderStatus


async def unsubscribe(ctx: OrdersContext, buyer: str, order_id: str, cmd: RequestUnsubscribe) -> Order:
    """The refund is recorded on the purchased order (which stays the one supervision and partner know) and an
    unsubscribe order is opened for it; the answer is the purchased order, whose `unsubscribe_order_id` names
    the new unsubscribe order. A supervised one publishes refund.requested (the merchant decides, dossier
    §1.4); a no-reason refund is refunded at once and counts against the buyer's yearly quota."""

    async def work(uow: OrdersUnitOfWork) -> Order:
        order = await load_order(uow, order_id)
        not_an_unsubscribe(order, "unsubscribed")
        now, cid = ctx.clock(), correlation()
        used = await uow.quotas.used(buyer, now.year)
        calendar = ctx.settings.workday_calendar()
        uow.emit(
            *refunds.request_refund(
                order, buyer, cmd.amount, cmd.reason, now, used, cid, calendar, cmd.return_goods
            )
        )
        unsubscribe_order, opened = unsubscribe_requested(order, now, cid)
        uow.emit(*opened)
        await uow.orders.add(unsubscribe_order)
        if order.status is OrderStatus.REFUNDED:  # a self-service refund used one of the year's quota
            await uow.quotas.use_one(buyer, now.year)
        await uow.orders.save(order)
        await uow.commit()
        return order

    return await ctx.uow.run(work)


async def decide_refund(
    ctx: OrdersContext, merchant: Principal, order_id: str, refund_id: str, cmd: RefundDecision
) -> Order:
    """The order's merchant approves (the order is refunded) or rejects the buyer's request; refund.decided
    either way, and the unsubscribe order follows (completed or cancelled)."""

    async def decided(uow: OrdersUnitOfWork, order: Order) -> list[Event]:
        now, cid = ctx.clock(), correlation()
        events = refunds.decide_refund(
            order, merchant.account_id, refund_id, cmd.approve, cmd.opinion, now, cid, cmd.agreed_record
        )
        return [*events, *await settle(uow, order, now, cid)]

    return await change_order(ctx, order_id, decided)


async def ship_return(
    ctx: OrdersContext, buyer: str, order_id: str, refund_id: str, cmd: ShipReturn
) -> Order:
    """The buyer shipped the hardware goods back: pending acceptance (待验收) for 15 days (returns.py)."""

    async def shipped(_: OrdersUnitOfWork, order: Order) -> list[Event]:
        returns.ship(order, buyer, refund_id, cmd.carrier, cmd.tracking_no, ctx.clock())
        return []

    return await change_order(ctx, order_id, shipped)


async def accept_return(
    ctx: OrdersContext, merchant: Principal, order_id: str, refund_id: str, cmd: ReturnAcceptance
) -> Order:
    """The merchant confirms the returned goods (the unsubscribe is executed) or reports an exception."""

    async def accepted(uow: OrdersUnitOfWork, order: Order) -> list[Event]:
        now, cid = ctx.clock(), correlation()
        events = returns.accept(order, merchant.account_id, refund_id, cmd.accept, cmd.note, now, cid)
        return [*events, *await settle(uow, order, now, cid)]

    return await change_order(ctx, order_id, accepted)


async def run_clock(ctx: OrdersContext, order_id: str) -> Order:
    """The return clocks of one order that have come (the return-clock worker's item): once each."""

    async def fired(uow: OrdersUnitOfWork, order: Order) -> list[Event]:
        now, cid = ctx.clock(), correlation()
        events = returns.on_clock(order, now, cid)
        return [*events, *await settle(uow, order, now, cid)]

    return await change_order(ctx, order_id, fired)


async def clocks_due(ctx: OrdersContext, now: datetime, limit: int, blocked: Blocked) -> list[str]:
    """Orders whose unsubscribe has a clock that has come, earliest first (but the blocked ones)."""
    async with ctx.uow() as uow:
        return await uow.orders.clocks_due(now, limit, blocked.all)


async def settle(uow: OrdersUnitOfWork, order: Order, at: datetime, correlation_id: str) -> list[Event]:
    """The unsubscribe order follows its refund: approved → completed, rejected → cancelled (nothing when it
    is settled already, or while the refund is still requested). Saves it; answers its events."""
    refund = order.refund
    if refund is None or refund.unsubscribe_order_id is None or refund.state == "requested":
        return []
    unsubscribe_order = await uow.orders.get(refund.unsubscribe_order_id)
    if unsubscribe_order is None:
        return []  # [I] opened in the same unit of work as the request, so this only happens on lost data
    changed = settle_unsubscribe(unsubscribe_order, refund, refund.decided_at or at, correlation_id)
    if changed:
        await uow.orders.save(unsubscribe_order)
    return list(changed)
