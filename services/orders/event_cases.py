"""Use cases driven by other services' events, and the table of which handlers each event runs.

`handle` runs every handler of an event in one unit of work, through the shared runner's `handle`, which
claims the event's id in that same unit of work (the inbox): a redelivered event changes nothing. The
subscribers take batches (`handle_all`: many events, one unit of work) and fall back to `handle` per event. A
handler gets the unit of work and the event (as in cosmicpython); it loads, decides (domain) and saves, and
the runner commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.orders import product_holds, refunds
from services.orders.context import CONSUMER, OrdersContext, known_order
from services.orders.progress import Progress
from services.orders.refund_cases import settle
from services.orders.store import OrdersUnitOfWork
from shared.schemas import (
    AcceptanceDone,
    AppealRaised,
    AppealResolved,
    Event,
    MerchantCallFailed,
    MilestoneConfirmed,
    ProductFrozen,
    SupervisionOverdue,
)

Handler = Callable[[OrdersUnitOfWork, Any], Awaitable[None]]


async def complete_order(uow: OrdersUnitOfWork, event: AcceptanceDone) -> None:
    """Complete the order once its service order is accepted.

    Its guarantee period is over then (dossier §1.4); validity runs from the actual activation time, else from
    the acceptance (§10)."""
    p = event.payload
    order = await known_order(uow, p.order_id)
    uow.emit(*order.complete_after_acceptance(p.accepted_at, p.actual_activation_time, event.correlation_id))
    await uow.orders.save(order)


async def _progress(uow: OrdersUnitOfWork, order_id: str, step: Callable[[Progress], Progress]) -> None:
    order = await known_order(uow, order_id)
    order.progress = step(order.progress)
    await uow.orders.save(order)


async def record_progress(uow: OrdersUnitOfWork, event: MilestoneConfirmed) -> None:
    """Keep the service order's progress on the order.

    The buyer's purchased services show it (dossier §9.2), and License 2.0's claimed code ends its negotiated
    refunds (§1.4, refunds.py)."""
    p = event.payload
    await _progress(
        uow, p.order_id, lambda s: s.confirmed(p.service_order_id, p.node, p.next_node, p.confirmed_at)
    )


async def freeze(uow: OrdersUnitOfWork, event: AppealRaised) -> None:
    """Freeze the order's refunds while the appeal is open (dossier §5.3)."""
    p = event.payload
    await _progress(
        uow, p.order_id, lambda s: s.appeal_raised(p.service_order_id, p.appeal_id, p.reason, p.raised_at)
    )


async def resolve_appeal(uow: OrdersUnitOfWork, event: AppealResolved) -> None:
    """Unfreeze the order; an appeal resolved with a refund refunds it in full (dossier §5.3).

    The refund is the operator's decision: refund.decided names the operator who resolved the appeal."""
    p = event.payload
    order = await known_order(uow, p.order_id)
    cid = event.correlation_id
    uow.emit(
        *refunds.appeal_resolved(
            order,
            p.service_order_id,
            p.appeal_id,
            p.outcome,
            p.resolved_by_account_id,
            p.note,
            p.resolved_at,
            cid,
        )
    )
    await uow.orders.save(order)
    uow.emit(*await settle(uow, order, p.resolved_at, cid))


async def refund_failed_provisioning(uow: OrdersUnitOfWork, event: MerchantCallFailed) -> None:
    """Refund a new purchase whose provisioning finally failed (dossier §8.2.2).

    Only a final failure whose consequence is a refund; the platform decides it (refund.decided, system)."""
    p = event.payload
    if not (p.final and p.consequence == "refund" and p.order_id):
        return
    order = await known_order(uow, p.order_id)
    why = f"provisioning failed ({p.endpoint}: {p.error}); refunded (dossier §8.2.2)"
    uow.emit(*refunds.refund_by_platform(order, p.failed_at, why, event.correlation_id))
    await uow.orders.save(order)
    uow.emit(*await settle(uow, order, p.failed_at, event.correlation_id))


async def unsubscribe_overdue(uow: OrdersUnitOfWork, event: SupervisionOverdue) -> None:
    """Refund a legacy order whose supervision ran past 365 days without acceptance (dossier §1.5).

    Supervision decided it (the old rule, kept for legacy orders); the platform refunds in full, once."""
    p = event.payload
    order = await known_order(uow, p.order_id)
    uow.emit(*refunds.refund_by_platform(order, p.overdue_at, p.reason, event.correlation_id))
    await uow.orders.save(order)
    uow.emit(*await settle(uow, order, p.overdue_at, event.correlation_id))


# What each event this service consumes runs (one unit of work, one inbox claim per event). The first
# paragraph of a handler's docstring describes its subscription (handlers.py). Orders no longer consumes
# refund.decided: it decides every refund itself (refund_cases.py, refunds.py).
EVENT_HANDLERS: dict[type[Event], list[Handler]] = {
    AcceptanceDone: [complete_order],
    MilestoneConfirmed: [record_progress],
    AppealRaised: [freeze],
    AppealResolved: [resolve_appeal],
    MerchantCallFailed: [refund_failed_provisioning],
    ProductFrozen: [product_holds.hold_product],
    SupervisionOverdue: [unsubscribe_overdue],
}


async def handle(ctx: OrdersContext, event: Event) -> bool:
    """Every handler of `event` in one unit of work; False when the event was handled before."""
    handlers = EVENT_HANDLERS[type(event)]

    async def work(uow: OrdersUnitOfWork) -> bool:
        for handler in handlers:
            await handler(uow, event)
        return True

    return bool(await ctx.uow.handle(CONSUMER, event, work))


async def handle_all(ctx: OrdersContext, events: list[Event]) -> list[bool]:
    """A batch of events in one unit of work (the shared runner's `handle_batch`): their orders loaded in one
    query, saved in one write; False for each event handled before."""

    async def work(uow: OrdersUnitOfWork, event: Event) -> bool:
        for handler in EVENT_HANDLERS[type(event)]:
            await handler(uow, event)
        return True

    async def prefetch(uow: OrdersUnitOfWork, fresh: list[Event]) -> None:
        await uow.prefetch("orders", [e.order_id for e in fresh if e.order_id is not None])

    return [bool(r) for r in await ctx.uow.handle_batch(CONSUMER, events, work, prefetch)]
