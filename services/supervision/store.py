"""Ports and adapters: the supervision unit of work over Mongo, and its in-memory twin for tests."""

from __future__ import annotations

from collections.abc import Callable

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.supervision.domain import ServiceOrder
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository


class SupervisionUnitOfWork(UnitOfWork):
    service_orders: Repository[ServiceOrder]


class MongoSupervisionUnitOfWork(MongoUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> MongoSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = MongoRepository(self.db["service_orders"], ServiceOrder, "service_order_id",
                                              self.session)
        return self


class FakeSupervisionUnitOfWork(FakeUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> FakeSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = FakeRepository(self.table("service_orders"), ServiceOrder, "service_order_id")
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], SupervisionUnitOfWork]:
    return lambda: MongoSupervisionUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], SupervisionUnitOfWork]:
    return lambda: FakeSupervisionUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["service_orders"].create_index("order_id", unique=True)
