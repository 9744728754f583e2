"""The buyer's side (My KooGallery, dossier §9.2): favourites, renewal and ratings of purchased services
(unsubscribe requests: refund_cases.py; lists and details: queries.py). Buyers act on their own only."""

from __future__ import annotations

from datetime import timedelta

from services.orders import aftersales
from services.orders.catalogue import Favourite
from services.orders.commands import BuyFavourite, PlaceOrder, Rate, Renew
from services.orders.context import OrdersContext, change_order, correlation, load_order
from services.orders.domain import PERIODIC, Order
from services.orders.order_cases import place_order
from services.orders.store import OrdersUnitOfWork
from services.orders.unsubscribe import not_an_unsubscribe
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, InvalidInput, NotFound
from shared.schemas import Event, OrderStatus


async def add_favourite(ctx: OrdersContext, buyer: str, product_id: str) -> Favourite:
    """A listed product, kept once (adding it again answers the favourite as it is)."""

    async def work(uow: OrdersUnitOfWork) -> Favourite:
        product = await uow.products.get(product_id)
        if product is None or product.status != "listed":
            raise InvalidInput(f"product {product_id} is not listed", field="product_id")
        existing = await uow.favourites.get(Favourite.key(buyer, product_id))
        if existing is not None:
            return existing
        favourite = Favourite(
            favourite_id=Favourite.key(buyer, product_id),
            buyer_account_id=buyer,
            product_id=product_id,
            added_at=ctx.clock(),
        )
        await uow.favourites.add(favourite)
        await uow.commit()
        return favourite

    return await ctx.uow.run(work)


async def remove_favourite(ctx: OrdersContext, buyer: str, product_id: str) -> None:
    async def work(uow: OrdersUnitOfWork) -> None:
        await _favourite(uow, buyer, product_id)
        await uow.favourites.remove(Favourite.key(buyer, product_id))
        await uow.commit()

    await ctx.uow.run(work)


async def buy_favourite(ctx: OrdersContext, buyer: Principal, product_id: str, cmd: BuyFavourite) -> Order:
    async with ctx.uow() as uow:
        await _favourite(uow, buyer.account_id, product_id)
    return await place_order(ctx, buyer, PlaceOrder(product_id=product_id, **cmd.model_dump()))


async def _favourite(uow: OrdersUnitOfWork, buyer: str, product_id: str) -> Favourite:
    favourite = await uow.favourites.get(Favourite.key(buyer, product_id))
    if favourite is None:
        raise NotFound(f"product {product_id} is not in the favourites", field="product_id")
    return favourite


async def renew(ctx: OrdersContext, buyer: str, order_id: str, cmd: Renew) -> Order:
    """A renewal order (续费): the same product for another period; its supervision already completed, so no
    new service order follows (dossier §1.6). It waits for payment like any order."""

    async def work(uow: OrdersUnitOfWork) -> Order:
        original = await load_order(uow, order_id)
        original.owned_by(buyer)
        not_an_unsubscribe(original, "renewed")
        if original.status is not OrderStatus.COMPLETED:
            raise DomainError(
                f"order {order_id} is {original.status.value}; renew it once it is completed (dossier §1.6)",
                field="status",
            )
        if original.product.billing_mode not in PERIODIC:
            raise DomainError(
                f"only yearly/monthly products are renewed; this one is "
                f"{original.product.billing_mode.value}",
                field="order_id",
            )
        snapshot, amount = original.product, original.amount
        product = await uow.products.get(original.product.product_id)
        if product is not None and product.status == "listed":  # today's price of the specification
            spec = product.spec(cmd.spec_id or original.product.spec_id)
            snapshot, amount = product.snapshot(spec), spec.price
        now = ctx.clock()
        pay_by = now + timedelta(minutes=ctx.settings.unpaid_cancel_minutes)
        renewal = original.follow_up(
            "renewal", now, snapshot, amount, delivery_contact=original.delivery_contact, pay_by=pay_by
        )
        uow.emit(*renewal.placed(correlation()))
        await uow.orders.add(renewal)
        await uow.commit()
        return renewal

    return await ctx.uow.run(work)


async def rate(ctx: OrdersContext, buyer: str, order_id: str, cmd: Rate) -> Order:
    """The buyer rates a completed service, once (dossier §9.2)."""

    async def rated(_: OrdersUnitOfWork, order: Order) -> list[Event]:
        aftersales.rate(order, buyer, cmd, ctx.clock())
        return []

    return await change_order(ctx, order_id, rated)
