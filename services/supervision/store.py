"""Ports and adapters: the supervision unit of work over Mongo, and its in-memory twin for tests.

Besides the service orders it keeps three small collections, written in the same transaction:
- `timers`: one row per running deadline of a service order (due_at, kind), rewritten on every save, so the
  timer worker finds what is due with one indexed query and a restart loses nothing;
- `operators`: accounts registered with the operator role (from account.registered);
- `evidence_files`: uploaded attachments with their SHA-256 (a document each; the size limit keeps them far
  below BSON's 16 MB).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bson import Binary
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.supervision.domain import ServiceOrder
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.platform.repository import FakeRepository, MongoRepository, Repository


def timer_rows(so: ServiceOrder) -> list[Doc]:
    return [{"_id": d.deadline_id, "service_order_id": so.service_order_id, "kind": d.kind.value,
             "due_at": d.due_at} for d in so.deadlines if d.running]


class Timers(Protocol):
    async def sync(self, so: ServiceOrder) -> None: ...
    async def due(self, now: datetime, limit: int) -> list[Doc]: ...


class Operators(Protocol):
    async def add(self, account_id: str) -> None: ...
    async def is_operator(self, account_id: str) -> bool: ...


class Files(Protocol):
    async def add(self, doc: Doc) -> None: ...
    async def get(self, file_id: str) -> Doc | None: ...
    async def of(self, service_order_id: str) -> list[Doc]: ...


class Unsupervised(Protocol):
    """Orders for products that are not supervised (dossier §1.2), so a lookup can say why there is none."""

    async def add(self, order_id: str, doc: Doc) -> None: ...
    async def get(self, order_id: str) -> Doc | None: ...


class SupervisionUnitOfWork(UnitOfWork):
    service_orders: Repository[ServiceOrder]
    timers: Timers
    operators: Operators
    files: Files
    unsupervised: Unsupervised


class MongoSupervisionUnitOfWork(MongoUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> MongoSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = MongoRepository(self.db["service_orders"], ServiceOrder, "service_order_id",
                                              self.session)
        self.timers = _MongoTimers(self)
        self.operators = _MongoOperators(self)
        self.files = _MongoFiles(self)
        self.unsupervised = _MongoUnsupervised(self)
        return self


class _MongoUnsupervised:
    def __init__(self, uow: MongoSupervisionUnitOfWork) -> None:
        self.c, self.s = uow.db["unsupervised_orders"], uow.session

    async def add(self, order_id: str, doc: Doc) -> None:
        await self.c.replace_one({"_id": order_id}, {**doc, "_id": order_id}, upsert=True, session=self.s)

    async def get(self, order_id: str) -> Doc | None:
        return await self.c.find_one({"_id": order_id}, session=self.s)


class _MongoTimers:
    def __init__(self, uow: MongoSupervisionUnitOfWork) -> None:
        self.c, self.s = uow.db["timers"], uow.session

    async def sync(self, so: ServiceOrder) -> None:
        await self.c.delete_many({"service_order_id": so.service_order_id}, session=self.s)
        if rows := timer_rows(so):
            await self.c.insert_many(rows, session=self.s)

    async def due(self, now: datetime, limit: int) -> list[Doc]:
        return await self.c.find({"due_at": {"$lte": now}}, session=self.s).sort("due_at", 1).to_list(limit)


class _MongoOperators:
    def __init__(self, uow: MongoSupervisionUnitOfWork) -> None:
        self.c, self.s = uow.db["operators"], uow.session

    async def add(self, account_id: str) -> None:
        await self.c.replace_one({"_id": account_id}, {"_id": account_id}, upsert=True, session=self.s)

    async def is_operator(self, account_id: str) -> bool:
        return await self.c.find_one({"_id": account_id}, session=self.s) is not None


class _MongoFiles:
    def __init__(self, uow: MongoSupervisionUnitOfWork) -> None:
        self.c, self.s = uow.db["evidence_files"], uow.session

    async def add(self, doc: Doc) -> None:
        await self.c.insert_one({**doc, "_id": doc["file_id"], "data": Binary(doc["data"])}, session=self.s)

    async def get(self, file_id: str) -> Doc | None:
        doc = await self.c.find_one({"_id": file_id}, session=self.s)
        if doc is not None:
            doc["data"] = bytes(doc["data"])
        return doc

    async def of(self, service_order_id: str) -> list[Doc]:
        docs = await self.c.find({"service_order_id": service_order_id}, session=self.s).sort("uploaded_at", 1) \
            .to_list(None)
        for doc in docs:
            doc["data"] = bytes(doc["data"])
        return docs


class FakeSupervisionUnitOfWork(FakeUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> FakeSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = FakeRepository(self.table("service_orders"), ServiceOrder, "service_order_id")
        self.timers = _FakeTimers(self.table("timers"))
        self.operators = _FakeOperators(self.table("operators"))
        self.files = _FakeFiles(self.table("evidence_files"))
        self.unsupervised = _FakeUnsupervised(self.table("unsupervised_orders"))
        return self


class _FakeUnsupervised:
    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    async def add(self, order_id: str, doc: Doc) -> None:
        self.rows[order_id] = dict(doc)

    async def get(self, order_id: str) -> Doc | None:
        return self.rows.get(order_id)


class _FakeTimers:
    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    async def sync(self, so: ServiceOrder) -> None:
        for key in [k for k, r in self.rows.items() if r["service_order_id"] == so.service_order_id]:
            del self.rows[key]
        self.rows.update({r["_id"]: r for r in timer_rows(so)})

    async def due(self, now: datetime, limit: int) -> list[Doc]:
        return sorted((r for r in self.rows.values() if r["due_at"] <= now), key=lambda r: r["due_at"])[:limit]


class _FakeOperators:
    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    async def add(self, account_id: str) -> None:
        self.rows[account_id] = {"_id": account_id}

    async def is_operator(self, account_id: str) -> bool:
        return account_id in self.rows


class _FakeFiles:
    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    async def add(self, doc: Doc) -> None:
        self.rows[doc["file_id"]] = dict(doc)

    async def get(self, file_id: str) -> Doc | None:
        return self.rows.get(file_id)

    async def of(self, service_order_id: str) -> list[Doc]:
        return [r for r in self.rows.values() if r["service_order_id"] == service_order_id]


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], SupervisionUnitOfWork]:
    return lambda: MongoSupervisionUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], SupervisionUnitOfWork]:
    return lambda: FakeSupervisionUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["service_orders"].create_index("order_id", unique=True)
    await db["timers"].create_index("due_at")
    await db["timers"].create_index("service_order_id")
    await db["evidence_files"].create_index("service_order_id")
