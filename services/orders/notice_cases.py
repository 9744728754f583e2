"""Use cases that tell people something about an order (dossier §6.3, §9.2): the buyer's reminder to the
merchant (催促), the buyer's invoice request, and the expiry / trial → commercial reminders the sweeper sends.
Each writes its `notice.requested` in the same transaction as the fact it tells."""

from __future__ import annotations

from datetime import datetime

from services.orders import notices
from services.orders.commands import RemindSeller, RequestInvoice
from services.orders.context import OrdersContext, change_order, correlation, load_order
from services.orders.domain import Order
from services.orders.invoices import InvoiceRequest, check_invoiceable
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import DomainError
from shared.platform.worker import Blocked
from shared.schemas import Event


async def remind_merchant(ctx: OrdersContext, buyer: Principal, order_id: str, cmd: RemindSeller) -> Order:
    """The order's buyer reminds its merchant, at most once a day per order (a 429 with Retry-After
    otherwise). Two reminders at once: the order's version lets one commit; the other reruns, is refused."""

    async def reminded(_: OrdersUnitOfWork, order: Order) -> list[Event]:
        now = ctx.clock()
        order.remind_merchant(buyer.account_id, now)
        return [notices.order_reminder(order, now, cmd.message, correlation())]

    return await change_order(ctx, order_id, reminded)


async def request_invoice(
    ctx: OrdersContext, buyer: Principal, order_id: str, cmd: RequestInvoice
) -> InvoiceRequest:
    """The buyer of a paid order asks its merchant for an invoice; kept, and the merchant told (one per
    order)."""

    async def work(uow: OrdersUnitOfWork) -> InvoiceRequest:
        order = await load_order(uow, order_id)
        check_invoiceable(order, buyer.account_id)
        key = InvoiceRequest.key(order_id)
        if await uow.invoice_requests.get(key) is not None:
            raise DomainError(f"an invoice was already requested for order {order_id}", field="order_id")
        request = InvoiceRequest(
            request_id=key,
            order_id=order_id,
            buyer_account_id=order.buyer_account_id,
            merchant_account_id=order.merchant_account_id,
            title=cmd.title,
            tax_id=cmd.tax_id,
            requested_at=ctx.clock(),
        )
        await uow.invoice_requests.add(request)
        uow.emit(notices.invoice_requested(order, key, cmd.title, correlation()))
        await uow.commit()
        return request

    return await ctx.uow.run(work)


# --- the expiry reminder sweeper's use cases (its source: services/orders/sweeper.py) ------------------


async def reminders_due(ctx: OrdersContext, now: datetime, limit: int, blocked: Blocked) -> list[str]:
    async with ctx.uow() as uow:
        return await uow.orders.reminders_due(now, limit, blocked.all)


async def send_expiry_reminder(ctx: OrdersContext, order_id: str) -> int | None:
    """The due days-left reminder of one order, recorded on it with its notice in one unit of work (its
    notice id `expiry:{order}:{days}` makes a replay one notice). None when nothing was due any more."""

    async def work(uow: OrdersUnitOfWork) -> int | None:
        order = await load_order(uow, order_id)
        days = order.expiry_reminder_due(ctx.clock())
        if days is not None:
            uow.emit(notices.expiry_reminder(order, days, correlation()))
        await uow.orders.save(order)
        await uow.commit()
        return days

    return await ctx.uow.run(work)
