"""Ports and adapters of the partner service (Mongo, and in-memory twins for handler tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.partner.domain import BoundOrder, LedgerEntry
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository


class Ledger(Protocol):
    async def add(self, entry: LedgerEntry) -> None: ...


class PartnerUnitOfWork(UnitOfWork):
    orders: Repository[BoundOrder]
    ledger: Ledger

    async def order(self, order_id: str) -> BoundOrder:
        """The order's record, created empty on first sight (from whichever event came first)."""
        found = await self.orders.get(order_id)
        if found is None:
            found = BoundOrder(order_id=order_id)
            await self.orders.add(found)
        return found


class _MongoLedger:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.col, self.s = uow.db["ledger"], uow.session

    async def add(self, entry: LedgerEntry) -> None:
        await self.col.insert_one({"_id": entry.entry_id, **entry.model_dump()}, session=self.s)


class MongoPartnerUnitOfWork(MongoUnitOfWork, PartnerUnitOfWork):
    async def __aenter__(self) -> MongoPartnerUnitOfWork:
        await super().__aenter__()
        self.orders = MongoRepository(self.db["bound_orders"], BoundOrder, "order_id", self.session)
        self.ledger = _MongoLedger(self)
        return self


class _FakeLedger:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows = uow.table("ledger")

    async def add(self, entry: LedgerEntry) -> None:
        assert entry.entry_id not in self.rows, "duplicate ledger entry"
        self.rows[entry.entry_id] = entry.model_dump()


class FakePartnerUnitOfWork(FakeUnitOfWork, PartnerUnitOfWork):
    async def __aenter__(self) -> FakePartnerUnitOfWork:
        await super().__aenter__()
        self.orders = FakeRepository(self.table("bound_orders"), BoundOrder, "order_id")
        self.ledger = _FakeLedger(self)
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], PartnerUnitOfWork]:
    return lambda: MongoPartnerUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], PartnerUnitOfWork]:
    return lambda: FakePartnerUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["ledger"].create_index([("provider_id", 1), ("at", -1)])
