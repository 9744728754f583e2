"""A service's unit of work, on Mongo or in memory, from one class that names its repositories.

    class OrdersUnitOfWork(UnitOfWork):
        orders: Orders
        def bind(self) -> None:
            self.orders = Orders(self.collection("orders"))

    mongo_uow = on_mongo(OrdersUnitOfWork)      # (client, db, on_commit) -> factory, for the app
    fake_uow = in_memory(OrdersUnitOfWork)      # (FakeState) -> factory, for unit and service tests

The transaction, the inbox claim, the outbox and the effect markers come from `MongoUnitOfWork`; staging and
commit in memory from `FakeUnitOfWork`; the repositories are the same classes on either's collections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.collection import Doc
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import MongoUnitOfWork, UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


def on_mongo(
    kind: type[U],
) -> Callable[[AsyncMongoClient[Doc], AsyncDatabase[Doc], Callable[[], None]], Callable[[], U]]:
    cls = type(f"Mongo{kind.__name__}", (MongoUnitOfWork, kind), {})

    def factory(
        client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc], on_commit: Callable[[], None]
    ) -> Callable[[], U]:
        return lambda: cast(U, cls(client, db, on_commit))

    return factory


def in_memory(kind: type[U]) -> Callable[[FakeState], Callable[[], U]]:
    cls = type(f"Fake{kind.__name__}", (FakeUnitOfWork, kind), {})

    def factory(state: FakeState) -> Callable[[], U]:
        return lambda: cast(U, cls(state))

    return factory
