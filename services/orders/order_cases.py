"""Use cases of an order's life: place it (from the catalogue, or through a provider's private link), pay it,
cancel it (the buyer, or the unpaid-order sweeper), record a credit repayment."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.orders import notices
from services.orders.aftersales import credit_repaid as repaid
from services.orders.catalogue import milestones_problem
from services.orders.commands import PayOrder, PlaceOrder
from services.orders.context import OrdersContext, change_order, correlation, load_order, own_profile
from services.orders.domain import Order
from services.orders.settings import OrdersSettings
from services.orders.store import OrdersUnitOfWork
from services.orders.upgrades import period_days, remaining_days, upgrade_fee
from shared.platform.auth import Principal
from shared.platform.errors import InvalidInput
from shared.platform.worker import Blocked
from shared.schemas import AccountRole, DeliveryType, Event, OrderStatus
from shared.schemas.links import LinkClaims, LinkError, verify

CENT = Decimal("0.01")


async def place_order(ctx: OrdersContext, buyer: Principal, cmd: PlaceOrder) -> Order:
    """A listed product at the catalogue's price, or a private link's (signed by partner, verified here)."""

    async def work(uow: OrdersUnitOfWork) -> Order:
        account = await own_profile(uow, buyer, AccountRole.BUYER)
        product = await uow.products.get(cmd.product_id)
        if product is None or product.status != "listed":
            raise InvalidInput(f"product {cmd.product_id} is not listed", field="product_id")
        spec = product.spec(cmd.spec_id)
        snapshot, amount, milestones = product.snapshot(spec), spec.price * cmd.quantity, spec.milestones
        claims = None
        if cmd.private_link is not None:
            claims = _verified_link(ctx.settings, cmd.private_link, buyer.account_id, snapshot.product_id)
            if claims.discount is not None:
                amount = (amount * (Decimal(1) - claims.discount)).quantize(CENT, ROUND_HALF_UP)
        problem = milestones_problem(
            milestones, snapshot.billing_mode, cmd.order_type, snapshot.delivery_type
        )
        if problem:
            raise InvalidInput(problem, field="order_type")
        if snapshot.delivery_type is DeliveryType.HARDWARE and cmd.delivery_contact is None:
            raise InvalidInput(
                "hardware is shipped: give the recipient's name, phone and address (dossier §2.4)",
                field="delivery_contact",
            )
        now = ctx.clock()
        if cmd.order_type == "upgrade":
            original = await _check_upgrade(uow, buyer.account_id, cmd.original_order_id, snapshot.product_id)
            if original.product.spec_id == snapshot.spec_id:
                # §8.2.6: an upgrade goes between SKUs of a spec.
                raise InvalidInput(
                    "an upgrade moves to another specification of the product", field="spec_id"
                )
            amount = _prorated(original, amount, now)
        order_id = Order.new_id(now)
        coupons = account.use_coupons(cmd.coupon_ids, order_id)
        verified = account.verified
        order = Order(
            order_id=order_id,
            order_type=cmd.order_type,
            original_order_id=cmd.original_order_id,
            buyer_account_id=buyer.account_id,
            merchant_account_id=product.merchant_account_id,
            provider_id=claims.provider_id if claims else None,
            product=snapshot,
            amount=amount,
            created_at=now,
            pay_by=now + timedelta(minutes=ctx.settings.unpaid_cancel_minutes),
            buyer_company=verified.company if verified else None,
            buyer_track=verified.track if verified else None,
            coupons=coupons,
            coupon_ids=list(dict.fromkeys(cmd.coupon_ids)),
            delivery_contact=cmd.delivery_contact,
            milestones=milestones,
            quantity=cmd.quantity,
            trial_days=spec.trial_days,
            offer_id=claims.offer_id if claims else None,
            private_link_id=claims.link_id if claims else None,
        )
        uow.emit(*order.placed(correlation()))
        await uow.orders.add(order)
        if coupons:
            await uow.accounts.save(account)
        await uow.commit()
        return order

    return await ctx.uow.run(work)


def _prorated(original: Order, new_price: Decimal, now: datetime) -> Decimal:
    """Dossier §8.2.6: a periodic order's upgrade costs the new SKU's price less the old one's, for the days
    left of the period it upgrades (services/orders/upgrades.py). An order with no period end (one-time) is
    charged the new SKU's price, as before."""
    months, ends = original.product.period_months, original.validity_ends_at
    if not months or ends is None:
        return new_price
    fee = upgrade_fee(original.amount, new_price, period_days(months), remaining_days(now, ends))
    if fee <= 0:
        raise InvalidInput(
            f"upgrading order {original.order_id} costs nothing: no days of its period are left, or the new "
            "specification is not dearer (dossier §8.2.6)",
            field="spec_id",
        )
    return fee


async def _check_upgrade(
    uow: OrdersUnitOfWork, buyer: str, original_id: str | None, product_id: str
) -> Order:
    """An upgrade (升级, dossier §8.2.6) changes the specification of the buyer's own completed order."""
    if original_id is None:
        raise InvalidInput("an upgrade names the order it upgrades", field="original_order_id")
    original = await uow.orders.get(original_id)
    if original is None or original.buyer_account_id != buyer:
        raise InvalidInput(f"order {original_id} is not one of your orders", field="original_order_id")
    completed = original.order_type != "unsubscribe" and original.status is OrderStatus.COMPLETED
    if not completed or original.product.product_id != product_id:
        raise InvalidInput(
            f"order {original_id} is not a completed order of product {product_id}", field="original_order_id"
        )
    return original


def _verified_link(settings: OrdersSettings, token: str, buyer: str, product_id: str) -> LinkClaims:
    """A provider's private link (dossier §7.5): signed, unexpired, for this product and customer."""
    key = settings.private_link_public_key
    if not key:
        raise InvalidInput("private links are not accepted here (no verification key)", field="private_link")
    try:
        claims = verify(token, key)
    except (LinkError, ValueError) as exc:
        raise InvalidInput(f"invalid private link: {exc}", field="private_link") from exc
    if claims.product_id is not None and claims.product_id != product_id:
        raise InvalidInput(
            f"the private link is for product {claims.product_id}, not {product_id}", field="private_link"
        )
    if claims.customer_account_id is not None and claims.customer_account_id != buyer:
        raise InvalidInput("the private link is for another customer", field="private_link")
    return claims


async def pay(ctx: OrdersContext, order_id: str, cmd: PayOrder) -> Order:
    """The payment system confirms a payment (its service identity; the route checks it). A repeated
    confirmation of the same payment answers the order unchanged (nothing saved)."""

    async def work(uow: OrdersUnitOfWork) -> Order:
        order = await load_order(uow, order_id)
        starts, original = None, None
        if order.order_type == "renewal" and order.original_order_id:
            original = await uow.orders.get(order.original_order_id)
            starts = original.validity_ends_at if original else None
        corr = correlation()
        events: list[Event] = list(
            order.pay(cmd.payment_id, cmd.amount, ctx.clock(), corr, credit=cmd.credit, renewal_starts=starts)
        )
        if not events:
            return order
        if order.order_type == "renewal":
            events.append(notices.renewal(order, corr))  # dossier §6.3 "user renewed a periodic product"
            if original is not None:  # its expiry reminders stop: the renewal continues it
                original.renewed(order.order_id)
                await uow.orders.save(original)
        uow.emit(*events)
        await uow.orders.save(order)
        await uow.commit()
        return order

    return await ctx.uow.run(work)


async def cancel(ctx: OrdersContext, order_id: str, buyer: Principal) -> Order:
    """The buyer cancels its unpaid order (dossier §1.3); the coupons it used come back."""

    async def cancelled(uow: OrdersUnitOfWork, order: Order) -> list[Event]:
        events = order.cancel_by_buyer(buyer.account_id, ctx.clock(), correlation())
        await _release_coupons(uow, order)
        return list(events)

    return await change_order(ctx, order_id, cancelled)


async def credit_repaid(ctx: OrdersContext, order_id: str) -> Order:
    """Finance (an operator; the route admits operators only) records that the customer repaid the credit
    (dossier §4.3)."""

    async def recorded(_: OrdersUnitOfWork, order: Order) -> list[Event]:
        repaid(order, ctx.clock())
        return []

    return await change_order(ctx, order_id, recorded)


async def _release_coupons(uow: OrdersUnitOfWork, order: Order) -> None:
    if order.coupon_ids:
        account = await uow.accounts.get(order.buyer_account_id)
        if account is not None:
            account.release_coupons(order.order_id)
            await uow.accounts.save(account)


# --- the unpaid-order sweeper's use cases (its source: services/orders/sweeper.py) ---------------------


async def overdue(ctx: OrdersContext, now: datetime, limit: int, blocked: Blocked) -> list[str]:
    """Ids of unpaid orders past their due time, earliest first, but for the blocked ones (backing off or
    quarantined)."""
    async with ctx.uow() as uow:
        return await uow.orders.overdue(now, limit, blocked.all)


async def cancel_unpaid(ctx: OrdersContext, order_id: str) -> bool:
    """Cancel one unpaid order past its due time, with its order.status_changed, in one unit of work; False
    when it was paid (or cancelled) meanwhile."""

    async def work(uow: OrdersUnitOfWork) -> bool:
        order = await load_order(uow, order_id)
        events = order.cancel_unpaid(ctx.clock(), ctx.settings.unpaid_cancel_minutes, correlation())
        if not events:
            return False
        uow.emit(*events)
        await _release_coupons(uow, order)
        await uow.orders.save(order)
        await uow.commit()
        return True

    return await ctx.uow.run(work)
