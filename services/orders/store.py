"""Ports and adapters: the orders unit of work over Mongo, and its in-memory twin for tests."""

from __future__ import annotations

from collections.abc import Callable

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.orders.domain import Account, Order
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository


class OrdersUnitOfWork(UnitOfWork):
    orders: Repository[Order]
    accounts: Repository[Account]


class MongoOrdersUnitOfWork(MongoUnitOfWork, OrdersUnitOfWork):
    async def __aenter__(self) -> MongoOrdersUnitOfWork:
        await super().__aenter__()
        self.orders = MongoRepository(self.db["orders"], Order, "order_id", self.session)
        self.accounts = MongoRepository(self.db["accounts"], Account, "account_id", self.session)
        return self


class FakeOrdersUnitOfWork(FakeUnitOfWork, OrdersUnitOfWork):
    async def __aenter__(self) -> FakeOrdersUnitOfWork:
        await super().__aenter__()
        self.orders = FakeRepository(self.table("orders"), Order, "order_id")
        self.accounts = FakeRepository(self.table("accounts"), Account, "account_id")
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], OrdersUnitOfWork]:
    return lambda: MongoOrdersUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], OrdersUnitOfWork]:
    return lambda: FakeOrdersUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["orders"].create_index([("buyer_account_id", 1), ("created_at", -1)])
