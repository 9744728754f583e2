"""The buyer's side (My KooGallery, dossier §9.2): favourites, purchased services with their details and the
service order's progress, renewal, unsubscribe requests and ratings. Buyers see and act on their own only."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from services.orders.aftersales import credit_repaid, rate, request_unsubscribe
from services.orders.base import Base, correlation
from services.orders.commands import BuyFavourite, PlaceOrder, Rate, Renew, RequestUnsubscribe
from services.orders.domain import PERIODIC, Order
from services.orders.progress import Progress
from services.orders.store import Favourite, OrdersUnitOfWork, RefundQuota
from services.orders.unsubscribe import not_an_unsubscribe, unsubscribe_requested
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, InvalidInput, NotFound
from shared.schemas import OrderStatus


class MerchantContact(BaseModel):
    account_id: str
    display_name: str
    email: str
    phone: str


class ResourceDetails(BaseModel):
    """资源详情: the order, the merchant's contacts and the service order's progress."""

    order: Order
    merchant: MerchantContact | None
    progress: Progress


class BuyerCases(Base):
    async def place_order(self, buyer: Principal, cmd: PlaceOrder) -> Order:  # provided by OrdersService
        raise NotImplementedError

    # --- favourites ---------------------------------------------------------------------------------
    async def add_favourite(self, buyer: str, product_id: str) -> Favourite:
        async def work(uow: OrdersUnitOfWork) -> Favourite:
            product = await uow.products.get(product_id)
            if product is None or product.status != "listed":
                raise InvalidInput(f"product {product_id} is not listed", field="product_id")
            key = f"{buyer}:{product_id}"
            existing = await uow.favourites.get(key)
            if existing is not None:
                return existing
            fav = Favourite(favourite_id=key, buyer_account_id=buyer, product_id=product_id, added_at=self.clock())
            await uow.favourites.add(fav)
            await uow.commit()
            return fav

        return await self.uow.run(work)

    async def list_favourites(self, buyer: str) -> list[Favourite]:
        async with self.uow() as uow:
            return await uow.favourites.find({"buyer_account_id": buyer}, sort="added_at")

    async def remove_favourite(self, buyer: str, product_id: str) -> None:
        async def work(uow: OrdersUnitOfWork) -> None:
            if await uow.favourites.get(f"{buyer}:{product_id}") is None:
                raise NotFound(f"product {product_id} is not in the favourites", field="product_id")
            await uow.favourites.remove(f"{buyer}:{product_id}")
            await uow.commit()

        await self.uow.run(work)

    async def buy_favourite(self, buyer: Principal, product_id: str, cmd: BuyFavourite) -> Order:
        async with self.uow() as uow:
            if await uow.favourites.get(f"{buyer.account_id}:{product_id}") is None:
                raise NotFound(f"product {product_id} is not in the favourites", field="product_id")
        return await self.place_order(buyer, PlaceOrder(product_id=product_id, **cmd.model_dump()))

    # --- purchased services -------------------------------------------------------------------------
    async def purchased(self, buyer: str, status: OrderStatus | None = None, delivery_type: str | None = None,
                        order_type: str | None = None, product_id: str | None = None,
                        name: str | None = None) -> list[Order]:
        """已购买的服务: paid orders by default (not the unpaid or cancelled ones), newest first. Unsubscribe
        orders are refunds, not purchases: listed only when asked for with order_type=unsubscribe."""
        query: dict[str, object] = {"buyer_account_id": buyer}
        query["status"] = status.value if status else {"$in": ["processing", "completed", "refunded"]}
        query["order_type"] = order_type if order_type else {"$ne": "unsubscribe"}
        async with self.uow() as uow:
            orders = await uow.orders.find(query, limit=1000, sort="-created_at")
        orders = [o for o in orders if (delivery_type is None or o.product.delivery_type == delivery_type)
                  and (product_id is None or o.product.product_id == product_id)
                  and (name is None or name.lower() in o.product.name.lower())]
        return orders

    async def details(self, buyer: str, order_id: str) -> ResourceDetails:
        async with self.uow() as uow:
            order = await self._load(uow, order_id)
            order.owned_by(buyer)
            merchant = await uow.accounts.get(order.merchant_account_id)
        contact = None if merchant is None else MerchantContact(
            account_id=merchant.account_id, display_name=merchant.display_name, email=merchant.bound_email,
            phone=merchant.bound_phone)
        return ResourceDetails(order=order, merchant=contact, progress=order.progress)

    async def renew(self, buyer: str, order_id: str, cmd: Renew) -> Order:
        """A renewal order (续费): the same product for another period; its supervision already completed, so
        no new service order follows (dossier §1.6). It waits for payment like any order."""

        async def work(uow: OrdersUnitOfWork) -> Order:
            original = await self._load(uow, order_id)
            original.owned_by(buyer)
            not_an_unsubscribe(original, "renewed")
            if original.status is not OrderStatus.COMPLETED:
                raise DomainError(f"order {order_id} is {original.status.value}; renew it once it is completed "
                                  "(dossier §1.6)", field="status")
            if original.product.billing_mode not in PERIODIC:
                raise DomainError(f"only yearly/monthly products are renewed; this one is "
                                  f"{original.product.billing_mode.value}", field="order_id")
            snapshot, amount = original.product, original.amount
            product = await uow.products.get(original.product.product_id)
            if product is not None and product.status == "listed":  # today's price of the specification
                spec = product.spec(cmd.spec_id or original.product.spec_id)
                snapshot, amount = product.snapshot(spec), spec.price
            now = self.clock()
            renewal = Order(order_id=Order.new_id(now), order_type="renewal", original_order_id=order_id,
                            buyer_account_id=buyer, merchant_account_id=original.merchant_account_id,
                            provider_id=original.provider_id, product=snapshot, amount=amount,
                            currency=original.currency, created_at=now, buyer_company=original.buyer_company,
                            buyer_track=original.buyer_track, delivery_contact=original.delivery_contact,
                            pay_by=now + timedelta(minutes=self.settings.unpaid_cancel_minutes))
            uow.emit(*renewal.placed(correlation()))
            await uow.orders.add(renewal)
            await uow.commit()
            return renewal

        return await self.uow.run(work)

    async def unsubscribe(self, buyer: str, order_id: str, cmd: RequestUnsubscribe) -> Order:
        """The refund is recorded on the purchased order (which stays the one supervision and partner know) and
        an unsubscribe order is opened for it; the answer is the purchased order, whose
        `unsubscribe_order_id` names the new unsubscribe order."""

        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            not_an_unsubscribe(order, "unsubscribed")
            now = self.clock()
            quota_key = f"{buyer}:{now.year}"
            quota = await uow.quotas.get(quota_key)
            used = quota.used if quota else 0
            cid = correlation()
            uow.emit(*request_unsubscribe(order, buyer, cmd.amount, cmd.reason, now, used, cid))
            unsubscribe_order, opened = unsubscribe_requested(order, now, cid)
            uow.emit(*opened)
            await uow.orders.add(unsubscribe_order)
            if order.status is OrderStatus.REFUNDED:  # a self-service refund used one of the year's quota
                if quota is None:
                    await uow.quotas.add(RefundQuota(quota_id=quota_key, used=1))
                else:
                    quota.used += 1
                    await uow.quotas.save(quota)
            await uow.orders.save(order)
            await uow.commit()
            return order

        return await self.uow.run(work)

    async def rate(self, buyer: str, order_id: str, cmd: Rate) -> Order:
        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            rate(order, buyer, cmd, self.clock())
            await uow.orders.save(order)
            await uow.commit()
            return order

        return await self.uow.run(work)

    async def credit_repaid(self, order_id: str) -> Order:
        """Finance (an operator; the route admits operators only) records that the customer repaid the credit
        (dossier §4.3)."""

        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            credit_repaid(order, self.clock())
            await uow.orders.save(order)
            await uow.commit()
            return order

        return await self.uow.run(work)
