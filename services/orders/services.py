"""Use cases of the order lifecycle: load, decide (domain), save state and outgoing events in one unit of work.

`OrdersService` gathers every group of use cases (catalogue, buyer side, events, billing) in one object that
the handlers and routes share.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.orders.account_cases import AccountCases
from services.orders.base import correlation
from services.orders.billing import Eligibility, Period, eligibility
from services.orders.buyer_cases import BuyerCases
from services.orders.catalogue import milestones_problem
from services.orders.catalogue_cases import CatalogueCases
from services.orders.commands import PayOrder, PlaceOrder, RegisterAccount
from services.orders.domain import Order
from services.orders.event_cases import EventCases
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import InvalidInput
from shared.schemas import AccountRole, DeliveryType, OrderStatus
from shared.schemas.links import LinkClaims, LinkError, verify

__all__ = ["OrdersService", "PayOrder", "PlaceOrder", "RegisterAccount"]
CENT = Decimal("0.01")


class OrdersService(AccountCases, CatalogueCases, BuyerCases, EventCases):
    async def place_order(self, buyer: Principal, cmd: PlaceOrder) -> Order:
        """A listed product at the catalogue's price, or a private link's (signed by partner, verified here)."""

        async def work(uow: OrdersUnitOfWork) -> Order:
            account = await self._profile(uow, buyer, AccountRole.BUYER)
            product = await uow.products.get(cmd.product_id)
            if product is None or product.status != "listed":
                raise InvalidInput(f"product {cmd.product_id} is not listed", field="product_id")
            spec = product.spec(cmd.spec_id)
            snapshot, amount, milestones = product.snapshot(spec), spec.price, spec.milestones
            provider_id, link_id, offer_id = None, None, None
            if cmd.private_link is not None:
                claims = self._verify_link(cmd.private_link, buyer.account_id, snapshot.product_id)
                provider_id, link_id, offer_id = claims.provider_id, claims.link_id, claims.offer_id
                if claims.discount is not None:
                    amount = (amount * (Decimal(1) - claims.discount)).quantize(CENT, ROUND_HALF_UP)
            problem = milestones_problem(milestones, snapshot.billing_mode, cmd.order_type, snapshot.delivery_type)
            if problem:
                raise InvalidInput(problem, field="order_type")
            if snapshot.delivery_type is DeliveryType.HARDWARE and cmd.delivery_contact is None:
                raise InvalidInput("hardware is shipped: give the recipient's name, phone and address "
                                   "(dossier §2.4)", field="delivery_contact")
            if cmd.order_type == "upgrade":
                await self._check_upgrade(uow, buyer.account_id, cmd.original_order_id, snapshot.product_id)
            now = self.clock()
            order_id = Order.new_id(now)
            coupons = account.use_coupons(cmd.coupon_ids, order_id)
            verified = account.verified
            order = Order(order_id=order_id, order_type=cmd.order_type, original_order_id=cmd.original_order_id,
                          buyer_account_id=buyer.account_id, merchant_account_id=product.merchant_account_id,
                          provider_id=provider_id, product=snapshot, amount=amount, created_at=now,
                          pay_by=now + timedelta(minutes=self.settings.unpaid_cancel_minutes),
                          buyer_company=verified.company if verified else None,
                          buyer_track=verified.track if verified else None, coupons=coupons,
                          coupon_ids=list(dict.fromkeys(cmd.coupon_ids)), delivery_contact=cmd.delivery_contact,
                          milestones=milestones, offer_id=offer_id, private_link_id=link_id)
            uow.emit(*order.placed(correlation()))
            await uow.orders.add(order)
            if coupons:
                await uow.accounts.save(account)
            await uow.commit()
            return order

        return await self.uow.run(work)

    async def _check_upgrade(self, uow: OrdersUnitOfWork, buyer: str, original_id: str | None,
                             product_id: str) -> None:
        """An upgrade (升级, dossier §8.2.6) changes the specification of the buyer's own completed order."""
        if original_id is None:
            raise InvalidInput("an upgrade names the order it upgrades", field="original_order_id")
        original = await uow.orders.get(original_id)
        if original is None or original.buyer_account_id != buyer:
            raise InvalidInput(f"order {original_id} is not one of your orders", field="original_order_id")
        if original.order_type == "unsubscribe" or original.status is not OrderStatus.COMPLETED \
                or original.product.product_id != product_id:
            raise InvalidInput(f"order {original_id} is not a completed order of product {product_id}",
                               field="original_order_id")

    def _verify_link(self, token: str, buyer: str, product_id: str) -> LinkClaims:
        """A provider's private link (dossier §7.5): signed, unexpired, for this product and customer."""
        key = self.settings.private_link_public_key
        if not key:
            raise InvalidInput("private links are not accepted here (no verification key)", field="private_link")
        try:
            claims = verify(token, key)
        except (LinkError, ValueError) as exc:
            raise InvalidInput(f"invalid private link: {exc}", field="private_link") from exc
        if claims.product_id is not None and claims.product_id != product_id:
            raise InvalidInput(f"the private link is for product {claims.product_id}, not {product_id}",
                               field="private_link")
        if claims.customer_account_id is not None and claims.customer_account_id != buyer:
            raise InvalidInput("the private link is for another customer", field="private_link")
        return claims

    async def pay(self, order_id: str, cmd: PayOrder) -> Order:
        """The payment system confirms a payment (its service identity; the route checks it). A repeated
        confirmation of the same payment answers the order unchanged."""

        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            starts = None
            if order.order_type == "renewal" and order.original_order_id:
                original = await uow.orders.get(order.original_order_id)
                starts = original.validity_ends_at if original else None
            events = order.pay(cmd.payment_id, cmd.amount, self.clock(), correlation(), credit=cmd.credit,
                               renewal_starts=starts)
            if events:
                uow.emit(*events)
                await uow.orders.save(order)
                await uow.commit()
            return order

        return await self.uow.run(work)

    async def get_order(self, order_id: str, viewer: Principal) -> Order:
        """Its buyer and merchant, and operators (appeals and refunds are theirs to review, dossier §5.3)."""
        async with self.uow() as uow:
            order = await self._load(uow, order_id)
        require_party(viewer, order.buyer_account_id, order.merchant_account_id, what=f"order {order_id}",
                      operators=True)
        return order

    async def cancel(self, order_id: str, buyer: Principal) -> Order:
        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            uow.emit(*order.cancel_by_buyer(buyer.account_id, self.clock(), correlation()))
            await self._release_coupons(uow, order)
            await uow.orders.save(order)
            await uow.commit()
            return order

        return await self.uow.run(work)

    @staticmethod
    async def _release_coupons(uow: OrdersUnitOfWork, order: Order) -> None:
        if order.coupon_ids:
            account = await uow.accounts.get(order.buyer_account_id)
            if account is not None:
                account.release_coupons(order.order_id)
                await uow.accounts.save(account)

    async def billing_eligibility(self, viewer: Principal, period_text: str) -> list[Eligibility]:
        """Operators see every order; a merchant sees its own (dossier §4.3)."""
        period = Period.parse(period_text)
        async with self.uow() as uow:
            query: dict[str, object] = {"created_at": {"$lt": period.cut.astimezone(UTC)}}
            if not viewer.is_operator:
                query["merchant_account_id"] = viewer.account_id
            orders = await uow.orders.find(query, limit=10_000, sort="created_at")
        return [eligibility(o, period) for o in orders]

    # --- the unpaid-order sweeper's use cases (its source: services/orders/sweeper.py) -----------------------

    async def overdue(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Ids of unpaid orders past their due time, earliest first, but for `exclude` (backing off or
        quarantined). Ids only: an order that does not load fails as its own item, not the whole listing."""
        async with self.uow() as uow:
            return await uow.orders.keys({"status": "pending_payment", "pay_by": {"$lte": now}}, limit,
                                         sort="pay_by", exclude=exclude)

    async def cancel_unpaid(self, order_id: str) -> bool:
        """Cancel one unpaid order past its due time, with its order.status_changed, in one unit of work; False
        when it was paid (or cancelled) meanwhile."""

        async def work(uow: OrdersUnitOfWork) -> bool:
            order = await self._load(uow, order_id)
            events = order.cancel_unpaid(self.clock(), self.settings.unpaid_cancel_minutes, correlation())
            if not events:
                return False
            uow.emit(*events)
            await self._release_coupons(uow, order)
            await uow.orders.save(order)
            await uow.commit()
            return True

        return await self.uow.run(work)
