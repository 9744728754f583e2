"""Use cases of milestone offers (dossier §4.2): the merchant makes one to a customer or withdraws it; the
customer orders it, once, within its validity. The order carries the offer's id and milestones, and its
order.paid takes them to supervision, which opens the service order with one stage per milestone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.orders.commands import MakeMilestoneOffer
from services.orders.context import OrdersContext, change, correlation, own_profile
from services.orders.domain import Order
from services.orders.offers import MilestoneOffer
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, InvalidInput, NotFound
from shared.schemas import AccountRole, Event


async def make_offer(ctx: OrdersContext, merchant: Principal, cmd: MakeMilestoneOffer) -> MilestoneOffer:
    """An offer on one of the merchant's own listed products, to one registered buyer account."""

    async def work(uow: OrdersUnitOfWork) -> MilestoneOffer:
        await own_profile(uow, merchant, AccountRole.MERCHANT)
        now = ctx.clock()
        product = await uow.products.get(cmd.product_id)
        if product is None:
            raise InvalidInput(f"product {cmd.product_id} does not exist", field="product_id")
        product.owned_by(merchant.account_id)
        spec = product.spec(cmd.spec_id)
        MilestoneOffer.check_terms(product, spec, cmd.milestones)
        buyer = await uow.accounts.get(cmd.buyer_account_id)
        if buyer is None or buyer.role is not AccountRole.BUYER:
            raise InvalidInput(
                f"account {cmd.buyer_account_id} is not a registered buyer", field="buyer_account_id"
            )
        valid_from = cmd.valid_from or now
        if cmd.valid_until <= max(valid_from, now):
            raise InvalidInput("valid_until must be after valid_from and in the future", field="valid_until")
        if await uow.offers.named(merchant.account_id, cmd.name) is not None:
            raise DomainError(f"you already have an offer named {cmd.name!r} (dossier §4.2)", field="name")
        offer = MilestoneOffer(
            offer_id=MilestoneOffer.new_id(),
            merchant_account_id=merchant.account_id,
            buyer_account_id=cmd.buyer_account_id,
            name=cmd.name,
            product_id=product.product_id,
            spec_id=spec.spec_id,
            quantity=cmd.quantity,
            amount=cmd.amount or spec.price * Decimal(cmd.quantity),
            milestones=cmd.milestones,
            valid_from=valid_from,
            valid_until=cmd.valid_until,
            created_at=now,
        )
        await uow.offers.add(offer)
        await uow.commit()
        return offer

    return await ctx.uow.run(work)


async def withdraw(ctx: OrdersContext, merchant: Principal, offer_id: str) -> MilestoneOffer:
    async def withdrawn(_: OrdersUnitOfWork, offer: MilestoneOffer) -> list[Event]:
        offer.visible_to(merchant.account_id)
        offer.withdraw(merchant.account_id, ctx.clock())
        return []

    return await change(ctx, lambda uow: uow.offers, offer_id, "offer", withdrawn)


async def order_offer(ctx: OrdersContext, buyer: Principal, offer_id: str) -> Order:
    """The offer's customer places its one order: the offered specification, quantity and price, with the
    offer's milestones; the offer is used in the same transaction, so a second order is refused."""

    async def work(uow: OrdersUnitOfWork) -> Order:
        account = await own_profile(uow, buyer, AccountRole.BUYER)
        offer = await uow.offers.get(offer_id)
        if offer is None:
            raise NotFound(f"milestone offer {offer_id} does not exist", field="offer_id")
        now = ctx.clock()
        order_id = Order.new_id(now)
        offer.take(buyer.account_id, order_id, now)
        product = await uow.products.get(offer.product_id)
        if product is None or product.status != "listed":
            raise DomainError(f"product {offer.product_id} is no longer listed", field="product_id")
        spec = product.spec(offer.spec_id)
        verified = account.verified
        order = Order(
            order_id=order_id,
            buyer_account_id=buyer.account_id,
            merchant_account_id=offer.merchant_account_id,
            product=product.snapshot(spec),
            amount=offer.amount,
            quantity=offer.quantity,
            created_at=now,
            pay_by=now + timedelta(minutes=ctx.settings.unpaid_cancel_minutes),
            buyer_company=verified.company if verified else None,
            buyer_track=verified.track if verified else None,
            milestones=offer.milestones,
            offer_id=offer.offer_id,
        )
        uow.emit(*order.placed(correlation()))
        await uow.orders.add(order)
        await uow.offers.save(offer)
        await uow.commit()
        return order

    return await ctx.uow.run(work)
