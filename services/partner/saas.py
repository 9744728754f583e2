"""The SaaS side of the events partner consumes (dossier §8.2): a paid SaaS or joint-operation order is a sale
whose lifecycle calls partner makes to the merchant: new purchase, renewal, upgrade (order.paid), release (an
approved refund), expiry (the order's validity end). A call is a durable document, built here in the event's
unit of work and attempted by the call worker (merchant.py). Also: an erased buyer's Kit calls lose its users'
contact data (account.erased)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from services.partner.calls import LIFECYCLE, MerchantCall, Sale, erase_contacts, timestamp_utc8
from services.partner.ordering import after_payment
from services.partner.store import PartnerUnitOfWork
from shared.schemas import AccountErased, OrderPaid, OrderStatusChanged, RefundDecided

log = logging.getLogger("partner.saas")
SAAS = {"saas_supervised", "saas_instant"}
# §8.2.5: released once "past the freeze/retention period". [I] The seed names 15 days with data retained for
# License products (depending on the customer's level) and no SaaS figure: 15 days here too.
FREEZE_DAYS = 15


async def lifecycle_call(
    uow: PartnerUnitOfWork, sale: Sale, order_type: str, original_order_id: str | None, now: datetime
) -> MerchantCall:
    """§8.2: the SaaS instance call an order causes; the call id is the idempotency key (one per order)."""
    activity, policy = LIFECYCLE[order_type]
    instance = None
    if original_order_id and (first := await uow.sales.get(original_order_id)) is not None:
        instance = first.instance_id
    body: dict[str, Any] = {
        "activity": activity,
        "orderId": sale.order_id,
        "orderLineId": f"{sale.order_id}-1",
        "businessId": uuid.uuid4().hex,
        "productId": sale.product_id,
        "testFlag": "0",
        "buyerInfo": {"customerId": sale.buyer_id},
        "timeStamp": timestamp_utc8(now),
    }
    if order_type != "new":
        body["instanceId"] = instance or original_order_id or sale.order_id
        if order_type == "renewal":
            body["scene"] = "RENEWAL"
    call = MerchantCall.of_sale(sale, f"{activity}:{sale.order_id}", activity, body, policy, now)
    await uow.calls.add(call)
    return call


async def expiry_call(uow: PartnerUnitOfWork, sale: Sale, ends_at: datetime) -> MerchantCall:
    """§8.2.4: the expiry call of the sale's instance, due when its validity ends. A durable timer: the call
    document waits with a future due time; a later validity end (a renewal) moves a still-pending one."""
    root = await uow.sales.root(sale)
    call_id = f"expireInstance:{root.order_id}"
    existing = await uow.calls.get(call_id)
    if existing is not None and existing.status == "pending" and not existing.attempts:
        existing.created_at = existing.due_at = ends_at
        existing.body["timeStamp"] = timestamp_utc8(ends_at)
        await uow.calls.save(existing)
        return existing
    if existing is not None:
        call_id = f"{call_id}:{int(ends_at.timestamp())}"
        if (again := await uow.calls.get(call_id)) is not None:
            return again
    body: dict[str, Any] = {
        "activity": "expireInstance",
        "instanceId": root.instance_id or root.order_id,
        "orderId": sale.order_id,
        "testFlag": "0",
        "timeStamp": timestamp_utc8(ends_at),
    }
    call = MerchantCall.of_sale(sale, call_id, "expireInstance", body, "short", ends_at, root.order_id)
    await uow.calls.add(call)
    return call


async def lapse_release(uow: PartnerUnitOfWork, sale: Sale, ends_at: datetime) -> MerchantCall | None:
    """§8.2.5: an instance expired and not renewed is released once its freeze period is over. The release is
    a durable timer like the expiry: a call due at the validity end plus the freeze period, which a renewal
    (a later validity end) moves, and an unsubscribe's release cancels. None once the instance is released."""
    root = await uow.sales.root(sale)
    if await uow.calls.get(f"releaseInstance:{root.order_id}") is not None:
        return None  # released by an unsubscribe already
    due = ends_at + timedelta(days=FREEZE_DAYS)
    call_id = f"releaseInstance:lapse:{root.order_id}"
    existing = await uow.calls.get(call_id)
    if existing is not None:
        if existing.status == "pending" and not existing.attempts:
            existing.created_at = existing.due_at = due
            existing.body["timeStamp"] = timestamp_utc8(due)
            await uow.calls.save(existing)
            return existing
        return None  # released (or being released): a renewal after that cannot bring it back
    body: dict[str, Any] = {
        "activity": "releaseInstance",
        "instanceId": root.instance_id or root.order_id,
        "orderId": root.order_id,
        "testFlag": "0",
        "timeStamp": timestamp_utc8(due),
    }
    call = MerchantCall.of_sale(root, call_id, "releaseInstance", body, "short", due, root.order_id)
    await uow.calls.add(call)
    return call


# --- order.paid -------------------------------------------------------------------------------------------
async def sold_as_saas(uow: PartnerUnitOfWork, event: OrderPaid) -> bool:
    return event.payload.product.delivery_type in SAAS


async def open_sale(uow: PartnerUnitOfWork, event: OrderPaid, now: datetime) -> None:
    """Remember the sale (its buyer, merchant and product, for the Kit syncs and the later lifecycle calls)
    and queue the instance call the order causes (§8.2.2 new purchase, §8.2.3 renewal, §8.2.6 upgrade)."""
    p = event.payload
    if await uow.sales.get(p.order_id) is not None:
        return
    sale = Sale(
        order_id=p.order_id,
        buyer_id=p.parties.buyer_account_id,
        merchant_id=p.parties.merchant_account_id,
        product_id=p.product.product_id,
        product_name=p.product.name,
        delivery_type=p.product.delivery_type,
        sale_mode=p.product.sale_mode,
        original_order_id=p.original_order_id,
        billing_mode=p.product.billing_mode,
        amount=p.amount,
        period_months=p.product.period_months,
    )
    await uow.sales.add(sale)
    if p.order_type in LIFECYCLE:
        call = await lifecycle_call(uow, sale, p.order_type, p.original_order_id, now)
        if p.order_type == "upgrade":
            # §8.2.6: the upgrade order's amount is the prorated fee (orders prices it, services/orders/
            # upgrades.py); §8.2.3 style: the amount actually paid, 3 decimals.
            call.body["orderAmount"] = f"{p.amount:.3f}"
            await uow.calls.save(call)


# --- refund.decided ---------------------------------------------------------------------------------------
async def release_instance(uow: PartnerUnitOfWork, event: RefundDecided, now: datetime) -> None:
    """A successful unsubscribe releases the SaaS instance (dossier §8.2.5); the unsubscribe order itself
    publishes no order.paid, so the approved refund is what tells us. It waits for the order's order.paid,
    which makes the sale it releases."""
    p = event.payload
    await after_payment(
        uow, p.order_id, f"refund {p.refund_id} of order {p.order_id} came before the order's order.paid"
    )
    sale = await uow.sales.get(p.order_id)
    if sale is not None and await uow.calls.get(f"releaseInstance:{sale.order_id}") is None:
        await lifecycle_call(uow, sale, "unsubscribe", sale.order_id, now)
        lapse = await uow.calls.get(f"releaseInstance:lapse:{sale.order_id}")
        if lapse is not None and lapse.cancel():  # released now: the lapse release is not wanted any more
            await uow.calls.save(lapse)


# --- order.status_changed ---------------------------------------------------------------------------------
def has_validity_end(event: OrderStatusChanged) -> bool:
    return event.payload.validity_ends_at is not None


async def validity_ends(uow: PartnerUnitOfWork, event: OrderStatusChanged) -> bool:
    return has_validity_end(event)


async def schedule_expiry(uow: PartnerUnitOfWork, event: OrderStatusChanged, now: datetime) -> None:
    """A SaaS order's validity end schedules the instance's expiry call (§8.2.4); a renewal moves it. It waits
    for the order's order.paid: orders publishes both at once, and the expiry call needs the sale it makes."""
    p = event.payload
    assert p.validity_ends_at is not None
    await after_payment(uow, p.order_id, f"order {p.order_id}'s validity end came before its order.paid")
    sale = await uow.sales.get(p.order_id)
    if sale is not None:
        root = await uow.sales.root(sale)
        moved = root.validity_ends_at != p.validity_ends_at
        if moved:
            root.validity_ends_at = p.validity_ends_at
            await uow.sales.save(root)
        if moved or await uow.calls.get(f"expireInstance:{root.order_id}") is None:
            await expiry_call(uow, sale, p.validity_ends_at)
            await lapse_release(uow, sale, p.validity_ends_at)


# --- account.erased ---------------------------------------------------------------------------------------
async def erase_kit_contacts(uow: PartnerUnitOfWork, event: AccountErased, now: datetime) -> int:
    """The buyer's enterprise users' contact data in its Kit calls is masked (the calls themselves stay, for
    the merchant's console); a masked call is never sent again. How many calls changed."""
    changed = 0
    for call in await uow.calls.kit_calls_of(event.payload.account_id):
        if erase_contacts(call, event.payload.erased_at):
            await uow.calls.save(call)
            changed += 1
    log.info(
        "erased contact data from %d merchant calls",
        changed,
        extra={"event_id": event.event_id, "event_type": event.event_type},
    )
    return changed
