"""Ports and adapters: the orders unit of work over Mongo, and its in-memory twin for tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.orders.catalogue import Asset, Certification, Product
from services.orders.domain import Account, Order
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository

M = TypeVar("M", bound=BaseModel)


class Favourite(BaseModel):
    """我的收藏 (dossier §9.2): one product a buyer keeps for later."""

    favourite_id: str  # "<buyer>:<product>"
    buyer_account_id: str
    product_id: str
    added_at: AwareDatetime
    version: int = 0


class RefundQuota(BaseModel):
    """No-reason refunds an account used in one natural year (dossier §1.4)."""

    quota_id: str  # "<buyer>:<year>"
    used: int = 0
    version: int = 0


class Finder(Protocol[M]):
    """Queries with Mongo's filter syntax (equality, $lte, $gte, $lt, $in, $ne on top-level fields); `sort` is a
    field name, "-field" for descending."""

    async def find(self, query: Doc, limit: int = 500, sort: str | None = None) -> list[M]: ...
    async def remove(self, key: str) -> None: ...

    async def keys(self, query: Doc, limit: int, sort: str | None = None,
                   exclude: frozenset[str] = frozenset()) -> list[str]:
        """The ids of the matching documents but `exclude`, without loading them (one that no longer loads is
        still listed, so a worker sees it fail as one item instead of failing a whole listing)."""
        ...


def _sort(sort: str | None) -> list[tuple[str, int]] | None:
    return [(sort.lstrip("-"), DESCENDING if sort.startswith("-") else ASCENDING)] if sort else None


class MongoFinder(MongoRepository[M], Generic[M]):
    async def find(self, query: Doc, limit: int = 500, sort: str | None = None) -> list[M]:
        return await self._find(query, sort=_sort(sort), limit=limit)

    async def keys(self, query: Doc, limit: int, sort: str | None = None,
                   exclude: frozenset[str] = frozenset()) -> list[str]:
        return await self._ids(query, sort=_sort(sort), limit=limit, exclude=exclude)


class FakeFinder(FakeRepository[M], Generic[M]):
    async def find(self, query: Doc, limit: int = 500, sort: str | None = None) -> list[M]:
        return await self._find(query, sort=_sort(sort), limit=limit)

    async def keys(self, query: Doc, limit: int, sort: str | None = None,
                   exclude: frozenset[str] = frozenset()) -> list[str]:
        return await self._ids(query, sort=_sort(sort), limit=limit, exclude=exclude)


class Store(Repository[M], Finder[M], Protocol[M]):
    pass


class OrdersUnitOfWork(UnitOfWork):
    orders: Store[Order]
    accounts: Repository[Account]
    products: Store[Product]
    assets: Repository[Asset]
    certifications: Repository[Certification]
    favourites: Store[Favourite]
    quotas: Repository[RefundQuota]


TABLES: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("orders", Order, "order_id"), ("accounts", Account, "account_id"), ("products", Product, "product_id"),
    ("assets", Asset, "asset_id"), ("certifications", Certification, "certification_id"),
    ("favourites", Favourite, "favourite_id"), ("quotas", RefundQuota, "quota_id"))


class MongoOrdersUnitOfWork(MongoUnitOfWork, OrdersUnitOfWork):
    async def __aenter__(self) -> MongoOrdersUnitOfWork:
        await super().__aenter__()
        for name, model, key in TABLES:
            setattr(self, name, MongoFinder(self.db[name], model, key, self.session))
        return self


class FakeOrdersUnitOfWork(FakeUnitOfWork, OrdersUnitOfWork):
    async def __aenter__(self) -> FakeOrdersUnitOfWork:
        await super().__aenter__()
        for name, model, key in TABLES:
            setattr(self, name, FakeFinder(self.table(name), model, key))
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], OrdersUnitOfWork]:
    return lambda: MongoOrdersUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], OrdersUnitOfWork]:
    return lambda: FakeOrdersUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["orders"].create_index([("buyer_account_id", 1), ("created_at", -1)])
    await db["orders"].create_index([("status", 1), ("pay_by", 1)])  # the unpaid-order sweeper's due times
    await db["orders"].create_index([("merchant_account_id", 1)])
    await db["products"].create_index([("status", 1)])
    await db["favourites"].create_index([("buyer_account_id", 1)])
