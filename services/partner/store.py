"""Partner's repositories, one per aggregate, and its one unit of work.

Each repository is written once over a `Collection` (Mongo in a transaction, or memory in tests) and asks its
questions in the domain's words (`calls.due(now, limit, exclude)`, `ledger.of(provider)`); the Mongo filter
syntax stays in this module and in the read side (queries.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.partner.billing import Bill, BillRun
from services.partner.calls import MerchantCall, MerchantEndpoint, Sale
from services.partner.domain import BoundOrder, LedgerEntry, PaidOrder
from services.partner.license import LicenseCode, LicenseOrder
from services.partner.product_health import ProductHealth
from services.partner.programme import Application, CustomerAssociation, Demand, Offer, ProductTerms, Provider
from services.partner.usage import UsageRecord
from shared.platform.collection import Collection, Doc
from shared.platform.mongo import UnitOfWork
from shared.platform.repository import AggregateRepository
from shared.platform.uow import in_memory, on_mongo

R = TypeVar("R", bound=BaseModel)


class Records(AggregateRepository[R]):
    """Records an API replaces as a whole (a merchant's terms or endpoint, a customer's association, a
    provider approved again)."""

    async def replace(self, item: R) -> None:
        """The record over the stored one, whatever version that has: the last writer wins."""
        stored = await self.get(self.key(item))
        if stored is None:
            await self.add(item)
            return
        item.version = stored.version  # type: ignore[attr-defined]
        await self.save(item)


class BoundOrders(AggregateRepository[BoundOrder]):
    model = BoundOrder
    id_field = "order_id"

    async def of(self, order_id: str) -> BoundOrder:
        """The order's record, created empty on first sight (from whichever event came first)."""
        found = await self.get(order_id)
        if found is None:
            found = BoundOrder(order_id=order_id)
            await self.add(found)
        return found


class PaidOrders(AggregateRepository[PaidOrder]):
    model = PaidOrder
    id_field = "order_id"

    async def remember(self, order_id: str, paid_at: datetime) -> None:
        if await self.get(order_id) is None:
            await self.add(PaidOrder(order_id=order_id, paid_at=paid_at))


class Terms(Records[ProductTerms]):
    model = ProductTerms
    id_field = "product_id"

    async def of(self, product_ids: list[str]) -> list[ProductTerms]:
        """The terms on record of the products (of those that have some), in the products' order."""
        return [t for pid in product_ids if (t := await self.get(pid)) is not None]


class Sales(AggregateRepository[Sale]):
    model = Sale
    id_field = "order_id"

    async def root(self, sale: Sale) -> Sale:
        """The sale that made the instance: the order a renewal, upgrade or unsubscribe changes, or the
        sale."""
        return await self.get(sale.root_order_id) or sale

    async def saas_products(self) -> dict[str, str]:
        """Every SaaS product sold, with its merchant: product id → merchant id (the dial tests, §8.2.8)."""
        docs = await self.collection.find(
            {"delivery_type": {"$in": ["saas_supervised", "saas_instant"]}},
            projection={"_id": 0, "product_id": 1, "merchant_id": 1},
        )
        return {str(d["product_id"]): str(d["merchant_id"]) for d in docs}

    async def by_instance(self, instance_id: str) -> Sale | None:
        """The sale that made the instance (usage is pushed per instance, §8.2.9)."""
        found = await self._find({"instance_id": instance_id, "original_order_id": None}, limit=1)
        return found[0] if found else None


class Calls(AggregateRepository[MerchantCall]):
    model = MerchantCall
    id_field = "call_id"

    async def due(self, now: datetime, limit: int, exclude: frozenset[str]) -> list[str]:
        """The pending calls due by `now`, earliest due first, but those in `exclude`."""
        due = {"status": "pending", "due_at": {"$lte": now}}
        return await self._ids(due, sort=[("due_at", 1)], limit=limit, exclude=exclude)

    async def kit_calls_of(self, buyer_id: str) -> list[MerchantCall]:
        return await self._find({"buyer_id": buyer_id, "kind": "kit"})


class Ledger(AggregateRepository[LedgerEntry]):
    """Entries are only added, and marked with the bill that settled them; nothing is ever deleted."""

    model = LedgerEntry

    id_field = "entry_id"

    async def add(self, item: LedgerEntry) -> None:
        """An entry is written once: a second one of the same id is refused (DuplicateKeyError), never a race
        to rerun, so an earning or a reversal can never be booked twice."""
        await self.collection.insert_one({"_id": item.entry_id, **item.model_dump()})

    async def of(self, provider_id: str) -> list[LedgerEntry]:
        """The provider's entries, oldest first."""
        return await self._find({"provider_id": provider_id}, sort=[("at", 1)])

    async def mark_billed(self, entry_ids: list[str], bill_id: str) -> None:
        await self.collection.update_many({"_id": {"$in": entry_ids}}, {"$set": {"bill_id": bill_id}})

    async def providers(self) -> list[str]:
        """Every provider with an entry."""
        docs = await self.collection.find({}, projection={"_id": 0, "provider_id": 1})
        return sorted({str(d["provider_id"]) for d in docs})


class BillRuns(AggregateRepository[BillRun]):
    model = BillRun
    id_field = "run_id"

    async def done(self, run_ids: list[str]) -> set[str]:
        return set(await self._ids({"_id": {"$in": run_ids}}))

    async def record(self, run_id: str, providers: int, at: datetime) -> None:
        """Once: a second replica recording the same run changes nothing."""
        run: Doc = {"run_id": run_id, "providers": providers, "at": at}
        await self.collection.update_one({"_id": run_id}, {"$setOnInsert": run}, upsert=True)


class LicenseCodes(AggregateRepository[LicenseCode]):
    model = LicenseCode
    id_field = "code"

    async def of(self, order_id: str) -> list[LicenseCode]:
        """The order's codes, in their order."""
        return await self._find({"order_id": order_id}, sort=[("seq", 1)])


class Nonces:
    """The nonces of the signed open-API calls (dossier §8.3: cache them to prevent replay)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def seen(self, merchant_id: str, nonce: str, at: datetime) -> bool:
        """Whether the merchant used the nonce before; remembers it if not (in the call's transaction)."""
        key = f"{merchant_id}:{nonce}"
        if await self.collection.find_one({"_id": key}) is not None:
            return True
        await self.collection.insert_one({"_id": key, "at": at})
        return False


class PartnerUnitOfWork(UnitOfWork):
    """One repository per aggregate: a class of its own where it has questions or rules of its own, else the
    shared repository on the aggregate's model and id."""

    orders: BoundOrders
    paid_orders: PaidOrders
    applications: AggregateRepository[Application]
    providers: Records[Provider]
    customers: Records[CustomerAssociation]
    terms: Terms
    offers: AggregateRepository[Offer]
    demands: AggregateRepository[Demand]
    bills: AggregateRepository[Bill]
    endpoints: Records[MerchantEndpoint]
    calls: Calls
    sales: Sales
    ledger: Ledger
    bill_runs: BillRuns
    product_health: AggregateRepository[ProductHealth]
    usage: AggregateRepository[UsageRecord]
    licenses: LicenseCodes
    license_orders: AggregateRepository[LicenseOrder]
    open_nonces: Nonces  # the signed open API's (usage push, License): one store, a nonce used once

    def bind(self) -> None:
        c = self.collection
        self.orders = BoundOrders(c("bound_orders"))
        self.paid_orders = PaidOrders(c("paid_orders"))
        self.applications = AggregateRepository(c("applications"), Application, "application_id")
        self.providers = Records(c("providers"), Provider, "provider_id")
        self.customers = Records(c("customers"), CustomerAssociation, "customer_id")
        self.terms = Terms(c("product_terms"))
        self.offers = AggregateRepository(c("offers"), Offer, "offer_id")
        self.demands = AggregateRepository(c("demands"), Demand, "demand_id")
        self.bills = AggregateRepository(c("bills"), Bill, "bill_id")
        self.endpoints = Records(c("merchant_endpoints"), MerchantEndpoint, "merchant_id")
        self.calls = Calls(c("merchant_calls"))
        self.sales = Sales(c("sales"))
        self.ledger = Ledger(c("ledger"))
        self.bill_runs = BillRuns(c("bill_runs"))
        self.product_health = AggregateRepository(c("product_health"), ProductHealth, "product_id")
        self.usage = AggregateRepository(c("usage_records"), UsageRecord, "key")
        self.licenses = LicenseCodes(c("licenses"))
        self.license_orders = AggregateRepository(c("license_orders"), LicenseOrder, "order_id")
        self.open_nonces = Nonces(c("open_nonces"))


mongo_uow = on_mongo(PartnerUnitOfWork)  # (client, db, on_commit) -> factory, for the composition root
fake_uow = in_memory(PartnerUnitOfWork)  # (FakeState) -> factory, for unit and service tests


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["ledger"].create_index([("provider_id", 1), ("at", -1)])
    await db["merchant_calls"].create_index([("status", 1), ("due_at", 1)])
    await db["merchant_calls"].create_index([("merchant_id", 1), ("created_at", -1)])
    await db["merchant_calls"].create_index([("buyer_id", 1)])
    await db["bills"].create_index([("provider_id", 1)])
    await db["demands"].create_index([("offer_id", 1)])
    # The lists (issue 15): each party's rows newest first, and operators' by status.
    await db["offers"].create_index([("issuer_id", 1), ("created_at", -1), ("offer_id", -1)])
    await db["offers"].create_index([("provider_id", 1), ("created_at", -1), ("offer_id", -1)])
    await db["offers"].create_index([("product_ids", 1), ("created_at", -1), ("offer_id", -1)])
    await db["offers"].create_index([("status", 1), ("created_at", -1), ("offer_id", -1)])
    await db["demands"].create_index([("provider_id", 1), ("created_at", -1), ("demand_id", -1)])
    await db["demands"].create_index([("merchant_id", 1), ("created_at", -1), ("demand_id", -1)])
    await db["demands"].create_index([("status", 1), ("created_at", -1), ("demand_id", -1)])
    await db["product_terms"].create_index([("merchant_id", 1)])
    await db["sales"].create_index([("instance_id", 1)])
    await db["sales"].create_index([("delivery_type", 1)])
    await db["usage_records"].create_index([("instance_id", 1), ("begin_time", 1)])
    # a nonce is refused for as long as its timestamp is accepted; kept a day, then dropped
    await db["open_nonces"].create_index([("at", 1)], expireAfterSeconds=24 * 3600)
    await db["licenses"].create_index([("order_id", 1), ("seq", 1)])
