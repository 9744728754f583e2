"""The read side: lists and detail views that change nothing, read outside any transaction through the same
repositories the use cases write with (so the filters are written once, in store.py), with who may read what.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pydantic import BaseModel

from services.orders.accounts import Account
from services.orders.billing import Eligibility, Period, eligibility
from services.orders.catalogue import Favourite, Product
from services.orders.domain import Order
from services.orders.lists import (
    EPOCH,
    OrderFilter,
    OrderRow,
    Page,
    ReviewFilter,
    ReviewRow,
    check_limit,
    cut,
    decode_cursor,
    encode_cursor,
)
from services.orders.offers import MilestoneOffer
from services.orders.progress import Progress
from services.orders.store import Favourites, MilestoneOffers, Orders, Products
from shared.platform.auth import Principal, require_party
from shared.platform.collection import Collections
from shared.platform.errors import NotFound
from shared.platform.repository import AggregateRepository
from shared.schemas import AccountRole, DeliveryType, OrderStatus
from shared.schemas.events import OrderType


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


class OrdersQueries:
    def __init__(self, collections: Collections) -> None:
        self.collections = collections

    # The repositories are made per read: a collection is a view of the data as it is when it is asked for.
    @property
    def orders(self) -> Orders:
        return Orders(self.collections.collection("orders"))

    @property
    def accounts(self) -> AggregateRepository[Account]:
        return AggregateRepository(self.collections.collection("accounts"), Account, "account_id")

    @property
    def products(self) -> Products:
        return Products(self.collections.collection("products"))

    @property
    def offers(self) -> MilestoneOffers:
        return MilestoneOffers(self.collections.collection("milestone_offers"))

    @property
    def favourites(self) -> Favourites:
        return Favourites(self.collections.collection("favourites"))

    async def order(self, order_id: str, viewer: Principal) -> Order:
        """Its buyer and merchant, and operators (appeals and refunds are theirs to review, dossier §5.3)."""
        order = await self._order(order_id)
        require_party(
            viewer,
            order.buyer_account_id,
            order.merchant_account_id,
            what=f"order {order_id}",
            operators=True,
        )
        return order

    async def _order(self, order_id: str) -> Order:
        order = await self.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist", field="order_id")
        return order

    async def account(self, account_id: str, caller: Principal) -> Account:
        """The owner, and operators (they verify appeals with the parties by email or phone, dossier §5.3)."""
        require_party(caller, account_id, what=f"account {account_id}", operators=True)
        account = await self.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} does not exist", field="account_id")
        return account

    async def export(self, caller: Principal) -> dict[str, Any]:
        """The contact data this service holds for the caller: its profile and the delivery contacts it gave
        on its orders (bounded: the newest 1,000 orders)."""
        account = await self.accounts.get(caller.account_id)
        if account is None:
            raise NotFound(f"account {caller.account_id} has no profile", field="account")
        contacts = [
            {"order_id": o.order_id, "delivery_contact": o.delivery_contact.model_dump()}
            for o in await self.orders.of_buyer(caller.account_id, limit=1000)
            if o.delivery_contact is not None
        ]
        return {"account": account.model_dump(mode="json"), "delivery_contacts": contacts}

    async def product(self, product_id: str, viewer: Principal | None) -> Product:
        """A listed product is public; an unlisted one is its merchant's and the reviewing operators'."""
        product = await self.products.get(product_id)
        if product is None:
            raise NotFound(f"product {product_id} does not exist", field="product_id")
        insider = viewer is not None and (
            viewer.account_id == product.merchant_account_id or viewer.is_operator
        )
        if product.status != "listed" and not insider:
            raise NotFound(f"product {product_id} is not listed", field="product_id")
        return product

    async def listed_products(self) -> list[Product]:
        return await self.products.listed()

    async def favourites_of(self, buyer: str) -> list[Favourite]:
        return await self.favourites.of(buyer)

    async def purchased(
        self,
        buyer: str,
        status: OrderStatus | None = None,
        delivery_type: DeliveryType | None = None,
        order_type: OrderType | None = None,
        product_id: str | None = None,
        name: str | None = None,
    ) -> list[Order]:
        """已购买的服务: paid orders by default (not the unpaid or cancelled ones), newest first. Unsubscribe
        orders are refunds, not purchases: listed only when asked for with order_type=unsubscribe."""
        orders = await self.orders.purchased_by(buyer, status, order_type, delivery_type, product_id)
        return [o for o in orders if name is None or name.lower() in o.product.name.lower()]

    async def details(self, buyer: str, order_id: str) -> ResourceDetails:
        """Buyers see their own purchased services only."""
        order = await self._order(order_id)
        order.owned_by(buyer)
        merchant = await self.accounts.get(order.merchant_account_id)
        contact = (
            None
            if merchant is None
            else MerchantContact(
                account_id=merchant.account_id,
                display_name=merchant.display_name,
                email=merchant.bound_email,
                phone=merchant.bound_phone,
            )
        )
        return ResourceDetails(order=order, merchant=contact, progress=order.progress)

    async def orders_page(
        self, viewer: Principal, f: OrderFilter, cursor: str | None, limit: int
    ) -> Page[OrderRow]:
        """A buyer's own orders, a merchant's own orders, every order for operators; newest first, keyset
        pages (dossier §9.2, §2.1)."""
        f.check()
        check_limit(limit)
        party = None
        if not viewer.is_operator:
            field = "merchant_account_id" if viewer.role is AccountRole.MERCHANT else "buyer_account_id"
            party = (field, viewer.account_id)
        rows, more = cut(await self.orders.page(party, f, decode_cursor(cursor), limit), limit)
        last = rows[-1] if rows and more else None
        return Page[OrderRow](
            items=[OrderRow.of(o) for o in rows],
            next_cursor=encode_cursor(last.created_at, last.order_id) if last else None,
        )

    async def review_queue(self, f: ReviewFilter, cursor: str | None, limit: int) -> Page[ReviewRow]:
        """Products awaiting the listing review, the longest waiting first (operators; the route checks)."""
        check_limit(limit)
        found = await self.products.awaiting_review(f, decode_cursor(cursor), limit)
        rows, more = cut([ReviewRow.of(p) for p in found], limit)
        last = rows[-1] if rows and more else None
        return Page[ReviewRow](
            items=rows,
            next_cursor=encode_cursor(last.submitted_at or EPOCH, last.product_id) if last else None,
        )

    async def offer(self, offer_id: str, viewer: Principal) -> MilestoneOffer:
        """Its merchant and its customer, and operators; anyone else is refused."""
        offer = await self.offers.get(offer_id)
        if offer is None:
            raise NotFound(f"milestone offer {offer_id} does not exist", field="offer_id")
        offer.visible_to(viewer.account_id, operator=viewer.is_operator)
        return offer

    async def offers_of(self, viewer: Principal) -> list[MilestoneOffer]:
        """A merchant's own offers; a buyer's, those made to it."""
        field = "merchant_account_id" if viewer.role is AccountRole.MERCHANT else "buyer_account_id"
        return await self.offers.of(field, viewer.account_id)

    async def billing_eligibility(self, viewer: Principal, period_text: str) -> list[Eligibility]:
        """Operators see every order; a merchant sees its own (dossier §4.3)."""
        period = Period.parse(period_text)
        merchant = None if viewer.is_operator else viewer.account_id
        orders = await self.orders.placed_before(period.cut.astimezone(UTC), merchant)
        return [eligibility(o, period) for o in orders]
