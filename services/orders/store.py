"""Persistence: one repository per aggregate, its queries in the domain's words, and the unit of work that
binds them. With queries.py and app.py, the only modules that know the database; Mongo's filter syntax is
written here.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.orders.accounts import Account
from services.orders.catalogue import Asset, Certification, Favourite, Product
from services.orders.domain import Order
from services.orders.invoices import InvoiceRequest
from services.orders.lists import EPOCH, OrderFilter, Position, ReviewFilter
from services.orders.offers import MilestoneOffer
from services.orders.progress import RefundQuota
from services.orders.statements import Statement, StatementRun
from shared.platform.collection import Doc
from shared.platform.mongo import UnitOfWork
from shared.platform.repository import AggregateRepository
from shared.platform.uow import in_memory, on_mongo
from shared.schemas import DeliveryType, OrderStatus
from shared.schemas.events import OrderType

OLDEST_FIRST = 1
NEWEST_FIRST = -1
PURCHASED = [OrderStatus.PROCESSING.value, OrderStatus.COMPLETED.value, OrderStatus.REFUNDED.value]


class Orders(AggregateRepository[Order]):
    model = Order
    id_field = "order_id"

    async def overdue(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Unpaid orders past their due time, earliest first, but for `exclude`. Ids only: an order that no
        longer loads is still listed, so the sweeper sees it fail as one item, not as a failed listing."""
        query = {"status": OrderStatus.PENDING_PAYMENT.value, "pay_by": {"$lte": now}}
        return await self._ids(query, sort=[("pay_by", OLDEST_FIRST)], limit=limit, exclude=exclude)

    async def clocks_due(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Orders whose unsubscribe has a clock that has come (returns.py), earliest first, but `exclude`."""
        query = {"refund.next_clock_at": {"$lte": now}}
        return await self._ids(
            query, sort=[("refund.next_clock_at", OLDEST_FIRST)], limit=limit, exclude=exclude
        )

    async def of_buyer(self, buyer: str, limit: int) -> list[Order]:
        """The buyer's orders, newest first."""
        return await self._find({"buyer_account_id": buyer}, sort=[("created_at", NEWEST_FIRST)], limit=limit)

    async def purchased_by(
        self,
        buyer: str,
        status: OrderStatus | None,
        order_type: OrderType | None,
        delivery_type: DeliveryType | None,
        product_id: str | None,
    ) -> list[Order]:
        """已购买的服务: paid orders unless `status` says otherwise, and no unsubscribe orders unless
        `order_type` asks for them; newest first, the newest 1,000."""
        query: Doc = {
            "buyer_account_id": buyer,
            "status": status.value if status else {"$in": PURCHASED},
            "order_type": order_type or {"$ne": "unsubscribe"},
        }
        if delivery_type is not None:
            query["product.delivery_type"] = delivery_type.value
        if product_id is not None:
            query["product.product_id"] = product_id
        return await self._find(query, sort=[("created_at", NEWEST_FIRST)], limit=1000)

    async def page(
        self, party: tuple[str, str] | None, f: OrderFilter, after: Position | None, limit: int
    ) -> list[Order]:
        """A page of orders, newest first (ties by id), strictly after `after`; `party` is the (field,
        account) the viewer sees its own orders by, None for operators. `limit + 1` rows: the extra one says
        whether another page follows."""
        query: Doc = {}
        if party is not None:
            query[party[0]] = party[1]
        for field, value in (
            ("status", f.status.value if f.status else None),
            ("order_type", f.order_type),
            ("product.product_id", f.product_id),
            ("order_id", f.order_id),
        ):
            if value is not None:
                query[field] = value
        placed: Doc = {}
        if f.placed_from is not None:
            placed["$gte"] = f.placed_from
        if f.placed_to is not None:
            placed["$lt"] = f.placed_to
        if placed:
            query["created_at"] = placed
        if after is not None:
            query["$or"] = [
                {"created_at": {"$lt": after.at}},
                {"created_at": after.at, "order_id": {"$lt": after.id}},
            ]
        sort = [("created_at", NEWEST_FIRST), ("order_id", NEWEST_FIRST)]
        return await self._find(query, sort=sort, limit=limit + 1)

    async def reminders_due(
        self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[str]:
        """Orders whose next expiry reminder is due, earliest first (ids only, as `overdue`)."""
        query = {"next_reminder_at": {"$lte": now}}
        return await self._ids(query, sort=[("next_reminder_at", OLDEST_FIRST)], limit=limit, exclude=exclude)

    async def placed_before(self, cut: datetime, merchant: str | None) -> list[Order]:
        """Orders created before `cut` (all merchants', or one merchant's), oldest first, at most 10,000."""
        query: Doc = {"created_at": {"$lt": cut}}
        if merchant is not None:
            query["merchant_account_id"] = merchant
        return await self._find(query, sort=[("created_at", OLDEST_FIRST)], limit=10_000)


class Products(AggregateRepository[Product]):
    model = Product
    id_field = "product_id"

    async def listed(self) -> list[Product]:
        """The catalogue's products on sale (at most 500)."""
        return await self._find({"status": "listed"}, limit=500)

    async def awaiting_review(self, f: ReviewFilter, after: Position | None, limit: int) -> list[Product]:
        """The review queue: products pending review, the longest waiting first (ties by id), strictly after
        `after`; `limit + 1` rows."""
        query: Doc = {"status": "pending_review"}
        if f.delivery_type is not None:
            query["delivery_type"] = f.delivery_type.value
        if f.merchant_account_id is not None:
            query["merchant_account_id"] = f.merchant_account_id
        if after is not None:
            # a product without submitted_at (published before it was recorded) sorts first, as at EPOCH
            at = None if after.at == EPOCH else after.at
            query["$or"] = [
                {"submitted_at": {"$gt": after.at}},
                {"submitted_at": at, "product_id": {"$gt": after.id}},
            ]
        sort = [("submitted_at", OLDEST_FIRST), ("product_id", OLDEST_FIRST)]
        return await self._find(query, sort=sort, limit=limit + 1)


class MilestoneOffers(AggregateRepository[MilestoneOffer]):
    model = MilestoneOffer
    id_field = "offer_id"

    async def named(self, merchant: str, name: str) -> MilestoneOffer | None:
        found = await self._find({"merchant_account_id": merchant, "name": name}, limit=1)
        return found[0] if found else None

    async def of(self, field: str, account: str) -> list[MilestoneOffer]:
        """A merchant's offers (field merchant_account_id) or those made to a customer (buyer_account_id),
        newest first, at most 500."""
        return await self._find({field: account}, sort=[("created_at", NEWEST_FIRST)], limit=500)


class Certifications(AggregateRepository[Certification]):
    model = Certification
    id_field = "certification_id"

    async def of(self, merchant: str, product_id: str) -> Certification | None:
        return await self.get(Certification.key(merchant, product_id))


class Favourites(AggregateRepository[Favourite]):
    model = Favourite
    id_field = "favourite_id"

    async def of(self, buyer: str) -> list[Favourite]:
        """The buyer's favourites, the oldest first (at most 500)."""
        return await self._find({"buyer_account_id": buyer}, sort=[("added_at", OLDEST_FIRST)], limit=500)


class RefundQuotas(AggregateRepository[RefundQuota]):
    model = RefundQuota
    id_field = "quota_id"

    async def used(self, buyer: str, year: int) -> int:
        quota = await self.get(RefundQuota.key(buyer, year))
        return quota.used if quota else 0

    async def use_one(self, buyer: str, year: int) -> None:
        quota = await self.get(RefundQuota.key(buyer, year))
        if quota is None:
            await self.add(RefundQuota(quota_id=RefundQuota.key(buyer, year), used=1))
        else:
            quota.used += 1
            await self.save(quota)


class Statements(AggregateRepository[Statement]):
    model = Statement
    id_field = "statement_id"

    async def listed(self, merchant: str | None, period: str | None, state: str | None) -> list[Statement]:
        """Statements (one merchant's, or everyone's), newest period first, at most 500."""
        query: Doc = {}
        if merchant is not None:
            query["merchant_account_id"] = merchant
        if period is not None:
            query["period"] = period
        if state is not None:
            query["state"] = state
        return await self._find(query, sort=[("period", NEWEST_FIRST)], limit=500)


class OrdersUnitOfWork(UnitOfWork):
    orders: Orders
    accounts: AggregateRepository[Account]
    products: Products
    assets: AggregateRepository[Asset]
    certifications: Certifications
    favourites: Favourites
    quotas: RefundQuotas
    offers: MilestoneOffers
    invoice_requests: AggregateRepository[InvoiceRequest]
    statements: Statements
    statement_runs: AggregateRepository[StatementRun]

    def bind(self) -> None:
        self.orders = Orders(self.collection("orders"))
        self.accounts = AggregateRepository(self.collection("accounts"), Account, "account_id")
        self.products = Products(self.collection("products"))
        self.assets = AggregateRepository(self.collection("assets"), Asset, "asset_id")
        self.certifications = Certifications(self.collection("certifications"))
        self.favourites = Favourites(self.collection("favourites"))
        self.quotas = RefundQuotas(self.collection("quotas"))
        self.offers = MilestoneOffers(self.collection("milestone_offers"))
        self.invoice_requests = AggregateRepository(
            self.collection("invoice_requests"), InvoiceRequest, "request_id"
        )
        self.statements = Statements(self.collection("statements"))
        self.statement_runs = AggregateRepository(self.collection("statement_runs"), StatementRun, "run_id")


mongo_uow = on_mongo(OrdersUnitOfWork)
fake_uow = in_memory(OrdersUnitOfWork)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["orders"].create_index([("buyer_account_id", 1), ("created_at", -1)])
    await db["orders"].create_index([("status", 1), ("pay_by", 1)])  # the unpaid-order sweeper's due times
    await db["orders"].create_index([("merchant_account_id", 1)])
    # the order lists: newest first, ties by id (keyset pages), per party and for operators
    await db["orders"].create_index([("buyer_account_id", 1), ("created_at", -1), ("order_id", -1)])
    await db["orders"].create_index([("merchant_account_id", 1), ("created_at", -1), ("order_id", -1)])
    await db["orders"].create_index([("created_at", -1), ("order_id", -1)])
    await db["orders"].create_index([("next_reminder_at", 1)])  # the expiry reminders' due times
    await db["products"].create_index([("status", 1), ("submitted_at", 1), ("product_id", 1)])
    # an offer's name is unique among its merchant's offers (dossier §4.2)
    await db["milestone_offers"].create_index([("merchant_account_id", 1), ("name", 1)], unique=True)
    await db["milestone_offers"].create_index([("buyer_account_id", 1), ("created_at", -1)])
    await db["orders"].create_index([("refund.next_clock_at", 1)], sparse=True)  # the return clocks
    await db["products"].create_index([("status", 1)])
    await db["favourites"].create_index([("buyer_account_id", 1)])
    await db["statements"].create_index([("merchant_account_id", 1), ("period", -1)])
