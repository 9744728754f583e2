"""Ports and adapters of the partner service (Mongo, and in-memory twins for handler tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.partner.billing import Bill
from services.partner.calls import MerchantCall, MerchantEndpoint, Sale
from services.partner.domain import BoundOrder, LedgerEntry, PaidOrder
from services.partner.programme import (
    Application,
    CustomerAssociation,
    Demand,
    Offer,
    ProductTerms,
    Provider,
)
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository

# attribute → (collection, model, id field)
REPOS: dict[str, tuple[str, type[BaseModel], str]] = {
    "orders": ("bound_orders", BoundOrder, "order_id"),
    "applications": ("applications", Application, "application_id"),
    "providers": ("providers", Provider, "provider_id"),
    "customers": ("customers", CustomerAssociation, "customer_id"),
    "terms": ("product_terms", ProductTerms, "product_id"), "offers": ("offers", Offer, "offer_id"),
    "demands": ("demands", Demand, "demand_id"), "bills": ("bills", Bill, "bill_id"),
    "endpoints": ("merchant_endpoints", MerchantEndpoint, "merchant_id"),
    "calls": ("merchant_calls", MerchantCall, "call_id"), "sales": ("sales", Sale, "order_id"),
    "paid_orders": ("paid_orders", PaidOrder, "order_id"),
}


class Ledger(Protocol):
    async def add(self, entry: LedgerEntry) -> None: ...
    async def of(self, provider_id: str) -> list[LedgerEntry]: ...
    async def mark_billed(self, entry_ids: list[str], bill_id: str) -> None: ...
    async def providers(self) -> list[str]: ...  # every provider with an entry


class Lists(Protocol):
    """The few queries the API and the workers read by something other than an id."""

    async def bills_of(self, provider_id: str) -> list[Bill]: ...
    async def calls_of(self, merchant_id: str) -> list[MerchantCall]: ...  # newest first
    async def kit_calls_of_buyer(self, buyer_id: str) -> list[MerchantCall]: ...
    # the pending calls due by `now`, earliest due first, leaving out the ids in `leave_out`
    async def due_calls(self, now: datetime, limit: int, leave_out: frozenset[str]) -> list[str]: ...


class BillRuns(Protocol):
    """The scheduled bill runs done so far (bill_runs.py): `basic:<yyyymm>`, `performance:<yyyy>Q<n>`."""

    async def done(self, run_ids: list[str]) -> set[str]: ...
    async def record(self, run_id: str, providers: int, at: datetime) -> None: ...


class PartnerUnitOfWork(UnitOfWork):
    orders: Repository[BoundOrder]
    applications: Repository[Application]
    providers: Repository[Provider]
    customers: Repository[CustomerAssociation]
    terms: Repository[ProductTerms]
    offers: Repository[Offer]
    demands: Repository[Demand]
    bills: Repository[Bill]
    endpoints: Repository[MerchantEndpoint]
    calls: Repository[MerchantCall]
    sales: Repository[Sale]
    paid_orders: Repository[PaidOrder]
    ledger: Ledger
    lists: Lists
    bill_runs: BillRuns

    async def order(self, order_id: str) -> BoundOrder:
        """The order's record, created empty on first sight (from whichever event came first)."""
        found = await self.orders.get(order_id)
        if found is None:
            found = BoundOrder(order_id=order_id)
            await self.orders.add(found)
        return found

    async def remember_paid(self, order_id: str, paid_at: datetime) -> None:
        if await self.paid_orders.get(order_id) is None:
            await self.paid_orders.add(PaidOrder(order_id=order_id, paid_at=paid_at))

    async def known_paid(self, order_id: str) -> bool:
        """Whether order.paid of the order was handled. Orders paid before partner remembered every payment are
        known by what order.paid left: the SaaS sale, or the amount on the provider-bound order."""
        if await self.paid_orders.get(order_id) is not None or await self.sales.get(order_id) is not None:
            return True
        bound = await self.orders.get(order_id)
        return bound is not None and bound.amount is not None

    async def upsert(self, repo: Repository[Any], item: Any) -> None:
        """Add or save, for records an API replaces as a whole."""
        if await repo.get(str(getattr(item, REPOS_ID[type(item)]))) is None:
            await repo.add(item)
        else:
            await repo.save(item)


REPOS_ID = {model: id_field for _, model, id_field in REPOS.values()}


class _MongoLedger:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.col, self.s = uow.db["ledger"], uow.session

    async def add(self, entry: LedgerEntry) -> None:
        await self.col.insert_one({"_id": entry.entry_id, **entry.model_dump()}, session=self.s)

    async def of(self, provider_id: str) -> list[LedgerEntry]:
        docs = await self.col.find({"provider_id": provider_id}, session=self.s).sort("at", 1).to_list(None)
        return [LedgerEntry.model_validate(d) for d in docs]

    async def mark_billed(self, entry_ids: list[str], bill_id: str) -> None:
        await self.col.update_many({"_id": {"$in": entry_ids}}, {"$set": {"bill_id": bill_id}}, session=self.s)

    async def providers(self) -> list[str]:
        return sorted(await self.col.distinct("provider_id", session=self.s))


class _MongoLists:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.db, self.s = uow.db, uow.session

    async def bills_of(self, provider_id: str) -> list[Bill]:
        docs = await self.db["bills"].find({"provider_id": provider_id}, session=self.s).to_list(None)
        return [Bill.model_validate(d) for d in docs]

    async def calls_of(self, merchant_id: str) -> list[MerchantCall]:
        docs = await self.db["merchant_calls"].find({"merchant_id": merchant_id}, session=self.s
                                                    ).sort("created_at", -1).to_list(None)
        return [MerchantCall.model_validate(d) for d in docs]

    async def kit_calls_of_buyer(self, buyer_id: str) -> list[MerchantCall]:
        docs = await self.db["merchant_calls"].find({"buyer_id": buyer_id, "kind": "kit"}, session=self.s
                                                    ).to_list(None)
        return [MerchantCall.model_validate(d) for d in docs]

    async def due_calls(self, now: datetime, limit: int, leave_out: frozenset[str]) -> list[str]:
        query: Doc = {"status": "pending", "due_at": {"$lte": now}}
        if leave_out:
            query["_id"] = {"$nin": sorted(leave_out)}
        docs = await self.db["merchant_calls"].find(query, {"_id": 1}, session=self.s).sort("due_at", 1
                                                                                           ).to_list(limit)
        return [str(d["_id"]) for d in docs]


class _MongoBillRuns:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.col, self.s = uow.db["bill_runs"], uow.session

    async def done(self, run_ids: list[str]) -> set[str]:
        return {str(d["_id"]) async for d in self.col.find({"_id": {"$in": run_ids}}, {"_id": 1}, session=self.s)}

    async def record(self, run_id: str, providers: int, at: datetime) -> None:
        await self.col.update_one({"_id": run_id}, {"$setOnInsert": {"providers": providers, "at": at}},
                                  upsert=True, session=self.s)


class MongoPartnerUnitOfWork(MongoUnitOfWork, PartnerUnitOfWork):
    async def __aenter__(self) -> MongoPartnerUnitOfWork:
        await super().__aenter__()
        for attr, (col, model, id_field) in REPOS.items():
            setattr(self, attr, MongoRepository(self.db[col], model, id_field, self.session))
        self.ledger = _MongoLedger(self)
        self.lists = _MongoLists(self)
        self.bill_runs = _MongoBillRuns(self)
        return self


class _FakeLedger:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows = uow.table("ledger")

    async def add(self, entry: LedgerEntry) -> None:
        assert entry.entry_id not in self.rows, "duplicate ledger entry"
        self.rows[entry.entry_id] = entry.model_dump()

    async def of(self, provider_id: str) -> list[LedgerEntry]:
        entries = [LedgerEntry.model_validate(r) for r in self.rows.values() if r["provider_id"] == provider_id]
        return sorted(entries, key=lambda e: e.at)

    async def mark_billed(self, entry_ids: list[str], bill_id: str) -> None:
        for i in entry_ids:
            self.rows[i] = {**self.rows[i], "bill_id": bill_id}

    async def providers(self) -> list[str]:
        return sorted({r["provider_id"] for r in self.rows.values()})


class _FakeLists:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def bills_of(self, provider_id: str) -> list[Bill]:
        return [Bill.model_validate(r) for r in self.uow.table("bills").values() if r["provider_id"] == provider_id]

    async def calls_of(self, merchant_id: str) -> list[MerchantCall]:
        calls = [MerchantCall.model_validate(r) for r in self.uow.table("merchant_calls").values()
                 if r["merchant_id"] == merchant_id]
        return sorted(calls, key=lambda c: c.created_at, reverse=True)

    async def kit_calls_of_buyer(self, buyer_id: str) -> list[MerchantCall]:
        return [MerchantCall.model_validate(r) for r in self.uow.table("merchant_calls").values()
                if r.get("buyer_id") == buyer_id and r["kind"] == "kit"]

    async def due_calls(self, now: datetime, limit: int, leave_out: frozenset[str]) -> list[str]:
        due = [(r["due_at"], key) for key, r in self.uow.table("merchant_calls").items()
               if r.get("status") == "pending" and r.get("due_at") is not None and r["due_at"] <= now
               and key not in leave_out]
        return [key for _, key in sorted(due)][:limit]


class _FakeBillRuns:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows = uow.table("bill_runs")

    async def done(self, run_ids: list[str]) -> set[str]:
        return {i for i in run_ids if i in self.rows}

    async def record(self, run_id: str, providers: int, at: datetime) -> None:
        self.rows.setdefault(run_id, {"providers": providers, "at": at})


class FakePartnerUnitOfWork(FakeUnitOfWork, PartnerUnitOfWork):
    async def __aenter__(self) -> FakePartnerUnitOfWork:
        await super().__aenter__()
        for attr, (col, model, id_field) in REPOS.items():
            setattr(self, attr, FakeRepository(self.table(col), model, id_field))
        self.ledger = _FakeLedger(self)
        self.lists = _FakeLists(self)
        self.bill_runs = _FakeBillRuns(self)
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], PartnerUnitOfWork]:
    return lambda: MongoPartnerUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], PartnerUnitOfWork]:
    return lambda: FakePartnerUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["ledger"].create_index([("provider_id", 1), ("at", -1)])
    await db["merchant_calls"].create_index([("status", 1), ("due_at", 1)])
    await db["merchant_calls"].create_index([("merchant_id", 1), ("created_at", -1)])
    await db["merchant_calls"].create_index([("buyer_id", 1)])
    await db["bills"].create_index([("provider_id", 1)])
    await db["demands"].create_index([("offer_id", 1)])
