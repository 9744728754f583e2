"""Partner's judgement of a SaaS product's merchant interfaces, applied to the catalogue (dossier §8.2.2: more
than 5 orders failed in a month from interface failures → delisted; §8.2.8: 5 consecutive days of failed dial
tests → trading frozen and the product hidden). Orders owns the catalogue, so partner tells it by
`product.frozen` and this handler changes the product's status: a frozen or delisted product is no longer
listed, so it is hidden from the public catalogue and a new purchase of it is refused (order_cases.place_order
orders only listed products). Bringing it back is the listing review's (publish again, an operator
lists it)."""

from __future__ import annotations

import logging

from services.orders.store import OrdersUnitOfWork
from shared.schemas import ProductFrozen

log = logging.getLogger("orders.product_holds")
SEVERITY = {"listed": 0, "frozen": 1, "delisted": 2}


async def hold_product(uow: OrdersUnitOfWork, event: ProductFrozen) -> None:
    """Freeze or delist a SaaS product whose merchant interfaces failed, so it can no longer be bought.

    A measure never weakens one already applied (a delisted product stays delisted); a product not listed
    (a draft, one in review) keeps its status: it cannot be bought anyway."""
    p = event.payload
    product = await uow.products.get(p.product_id)
    if product is None or product.status not in SEVERITY:
        log.info("product.frozen for product %s: not listed here, nothing to hold", p.product_id)
        return
    if SEVERITY[p.measure] <= SEVERITY[product.status]:
        return
    product.status = p.measure
    product.review_note = p.detail
    await uow.products.save(product)
