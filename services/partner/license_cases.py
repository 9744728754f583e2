"""The License side of the events partner consumes (dossier §2.2), in the event's unit of work (services.py's
EVENT_HANDLERS): a paid License 2.0 order gets one authorization code per resource, a License 1.0 order waits
for the buyer's identifier; the order's validity (acceptance, renewal) moves the codes' validity; an approved
refund (unsubscribe) releases them. Also the buyer's identifier and the getLicense call it causes."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.partner import license_calls
from services.partner.calls import MerchantCall, timestamp_utc8
from services.partner.deps import Deps
from services.partner.license import GRACE_DAYS, IdentifierKind, LicenseCode, LicenseOrder, new_code
from services.partner.ordering import after_payment
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import NotFound
from shared.schemas import DeliveryType, OrderPaid, OrderStatusChanged, RefundDecided

log = logging.getLogger("partner.license")
KINDS = {DeliveryType.LICENSE_CODE: "code", DeliveryType.LICENSE_IDENTIFIER: "identifier"}
# [I] The dossier names getLicense (§2.2.e, §8.2.8) but not its path; the call goes to the merchant's
# production endpoint like the SaaS calls, on a path of its own.
GET_LICENSE_PATH = "/license/v2/getLicense"


# --- order.paid -------------------------------------------------------------------------------------------
async def sold_as_license(uow: PartnerUnitOfWork, event: OrderPaid) -> bool:
    p = event.payload
    return p.product.delivery_type in KINDS and p.order_type in {"new", "renewal"}


async def open_license(uow: PartnerUnitOfWork, event: OrderPaid, now: datetime) -> list[LicenseCode]:
    """A new License 2.0 order: one code per purchased resource (§2.2.a), each unique (the code is the
    document's id; a clash with an existing code draws again). A License 1.0 order: its record, waiting for
    the identifier (§2.2.b). A renewal: the order it renews, so its validity end reaches the codes."""
    p = event.payload
    if await uow.license_orders.get(p.order_id) is not None:
        return []
    root = p.original_order_id if p.order_type == "renewal" and p.original_order_id else p.order_id
    order = LicenseOrder(
        order_id=p.order_id,
        kind="code" if p.product.delivery_type is DeliveryType.LICENSE_CODE else "identifier",
        root_order_id=root,
        buyer_id=p.parties.buyer_account_id,
        merchant_id=p.parties.merchant_account_id,
        product_id=p.product.product_id,
        quantity=p.quantity,
    )
    await uow.license_orders.add(order)
    if order.kind != "code" or root != p.order_id:
        return []
    codes = []
    for seq in range(1, p.quantity + 1):
        code = new_code()
        while await uow.licenses.get(code) is not None:  # 120 random bits: practically never
            code = new_code()
        item = LicenseCode(
            code=code,
            order_id=p.order_id,
            seq=seq,
            buyer_id=order.buyer_id,
            merchant_id=order.merchant_id,
            product_id=order.product_id,
            issued_at=now,
        )
        await uow.licenses.add(item)
        codes.append(item)
    return codes


# --- order.status_changed ---------------------------------------------------------------------------------
async def license_validity(uow: PartnerUnitOfWork, event: OrderStatusChanged) -> bool:
    return event.payload.validity_ends_at is not None and (
        await uow.license_orders.get(event.payload.order_id) is not None
        or not await uow.paid_orders.get(event.payload.order_id)  # not seen yet: it may be a License order
    )


async def extend_validity(uow: PartnerUnitOfWork, event: OrderStatusChanged, now: datetime) -> int:
    """The order's validity end (its acceptance, §10; a renewal, whose period orders starts at the original
    expiry, §1.6) becomes its codes' validity: a frozen code is unfrozen by a renewal within the grace period.
    It waits for the order's order.paid (orders publishes both at once). How many codes changed."""
    p = event.payload
    assert p.validity_ends_at is not None
    await after_payment(uow, p.order_id, f"order {p.order_id}'s validity end came before its order.paid")
    order = await uow.license_orders.get(p.order_id)
    if order is None:
        return 0
    codes, unfrozen = await uow.licenses.of(order.root_order_id), False
    for code in codes:
        before, after = code.extend(p.validity_ends_at, now, GRACE_DAYS)
        await uow.licenses.save(code)
        unfrozen |= before == "frozen" and after in ("issued", "active")
        if before != after:
            log.info("code of order %s: %s -> %s (%s)", code.order_id, before, after, p.order_type)
    live = [c for c in codes if c.state(now, GRACE_DAYS) != "released"]
    await license_calls.validity_changed(uow, live, p.validity_ends_at, unfrozen, now, GRACE_DAYS)
    return len(codes)


# --- refund.decided ---------------------------------------------------------------------------------------
async def license_refunded(uow: PartnerUnitOfWork, event: RefundDecided) -> bool:
    p = event.payload
    return p.approved and await uow.license_orders.get(p.order_id) is not None


async def release_codes(uow: PartnerUnitOfWork, event: RefundDecided, now: datetime) -> int:
    """A successful unsubscribe of the order releases its codes at once (§2.2.a, §8.2.5). An unsubscribe in a
    renewal period is a refund of the renewal order: orders moves the validity back, the codes stay."""
    order = await uow.license_orders.get(event.payload.order_id)
    if order is None or order.root_order_id != order.order_id:
        return 0
    released = []
    for code in await uow.licenses.of(order.order_id):
        if code.release(now, "unsubscribed"):
            await uow.licenses.save(code)
            released.append(code)
    await license_calls.released(uow, released, now)
    return len(released)


# --- the buyer: License 1.0 identifier, and getLicense ----------------------------------------------------
async def submit_identifier(
    deps: Deps, caller: Principal, order_id: str, kind: IdentifierKind, hardware: str | None
) -> LicenseOrder:
    """The order's buyer submits the hardware identifier, or has the system generate one (§2.2.b); then
    partner asks the merchant for the License (getLicense, retried hourly for 3 hours by the call worker,
    §8.2.8). The call id is the request id: a repeated submission asks nothing twice."""

    async def work(uow: PartnerUnitOfWork) -> LicenseOrder:
        order = await uow.license_orders.get(order_id)
        if order is None:
            raise NotFound(f"no License order {order_id}", field="order_id")
        require_party(caller, order.buyer_id, what=f"order {order_id}")
        now = deps.clock()
        if order.submit_identifier(kind, hardware, now):
            await uow.license_orders.save(order)
            await uow.calls.add(get_license_call(order, now))
            await uow.commit()
        return order

    order = await deps.uow.run(work)
    deps.nudge()
    return order


def get_license_call(order: LicenseOrder, now: datetime) -> MerchantCall:
    """§2.2.e/§8.2.8: "async apply License", as a durable merchant call on the "long" policy (hourly for 3
    hours, then the merchant restarts it or delivers in supervision). The merchant answers with the License,
    or with 000004 (processing) and delivers it later through the open API (license_open.deliver)."""
    assert order.request_id is not None
    assert order.identifier is not None
    body: dict[str, Any] = {
        "activity": "getLicense",
        "requestId": order.request_id,
        "orderId": order.order_id,
        "productId": order.product_id,
        "identifierType": order.identifier_kind,
        "identifier": order.identifier,
        "testFlag": "0",  # §8.2.7: getLicense 1 debug / 0 non-debug
        "timeStamp": timestamp_utc8(now),
    }
    return MerchantCall(
        call_id=f"getLicense:{order.order_id}",
        merchant_id=order.merchant_id,
        endpoint="getLicense",
        kind="saas",  # signed in the URL like the SaaS calls (§8.3 V2)
        path=GET_LICENSE_PATH,
        body=body,
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        policy="long",
        created_at=now,
        due_at=now,
    )
