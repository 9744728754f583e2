"""Ports and adapters: the supervision unit of work over Mongo, and its in-memory twin for tests.

Besides the service orders it keeps small collections, written in the same transaction:
- `timers`: one row per running deadline of a service order (due_at, kind), rewritten on every save, so the
  timer worker (a source of the shared leased worker, services/supervision/worker.py) finds what is due with one
  indexed query and a restart loses nothing;
- `evidence_files`: uploaded attachments with their SHA-256 (a document each; the size limit keeps them far
  below BSON's 16 MB);
- `erased_accounts`: accounts whose owner had their contact data erased (account.erased), so a service order
  opened later from an older order.paid is masked at once.
Who is an operator is no longer kept here: the caller's verified token says it.
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

    async def due(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[Doc]:
        """The rows due at `now`, earliest first, but for the deadline ids in `exclude`."""
        ...


class Files(Protocol):
    async def add(self, doc: Doc) -> None: ...
    async def get(self, file_id: str) -> Doc | None: ...
    async def of(self, service_order_id: str) -> list[Doc]:
        """The files of a service order in upload order: their metadata, without the bytes."""
        ...


class Erasures(Protocol):
    """Where an account's contact data lies, and which accounts had it erased."""

    async def holding_contact(self, buyer_account_id: str) -> list[str]:
        """Ids of the buyer's service orders that still hold a delivery contact."""
        ...

    async def record(self, account_id: str, erased_at: datetime) -> None: ...
    async def erased(self, account_id: str) -> bool: ...


class Unsupervised(Protocol):
    """Orders for products that are not supervised (dossier §1.2), so a lookup can say why there is none."""

    async def add(self, order_id: str, doc: Doc) -> None: ...
    async def get(self, order_id: str) -> Doc | None: ...


class SupervisionUnitOfWork(UnitOfWork):
    service_orders: Repository[ServiceOrder]
    timers: Timers
    files: Files
    unsupervised: Unsupervised
    erasures: Erasures


class MongoSupervisionUnitOfWork(MongoUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> MongoSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = MongoRepository(self.db["service_orders"], ServiceOrder, "service_order_id",
                                              self.session)
        self.timers = _MongoTimers(self)
        self.files = _MongoFiles(self)
        self.unsupervised = _MongoUnsupervised(self)
        self.erasures = _MongoErasures(self)
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

    async def due(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[Doc]:
        query: Doc = {"due_at": {"$lte": now}, **({"_id": {"$nin": sorted(exclude)}} if exclude else {})}
        return await self.c.find(query, session=self.s).sort("due_at", 1).to_list(limit)


class _MongoErasures:
    def __init__(self, uow: MongoSupervisionUnitOfWork) -> None:
        self.orders, self.c, self.s = uow.db["service_orders"], uow.db["erased_accounts"], uow.session

    async def holding_contact(self, buyer_account_id: str) -> list[str]:
        docs = await self.orders.find({"parties.buyer_account_id": buyer_account_id, "contact_erased_at": None,
                                       "delivery_phone": {"$ne": None}}, {"_id": 1}, session=self.s).to_list(None)
        return [str(d["_id"]) for d in docs]

    async def record(self, account_id: str, erased_at: datetime) -> None:
        await self.c.replace_one({"_id": account_id}, {"_id": account_id, "erased_at": erased_at}, upsert=True,
                                 session=self.s)

    async def erased(self, account_id: str) -> bool:
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
        # Metadata only: an export then reads the files one at a time, never all of them at once.
        return await self.c.find({"service_order_id": service_order_id}, {"data": 0}, session=self.s) \
            .sort("uploaded_at", 1).to_list(None)


class FakeSupervisionUnitOfWork(FakeUnitOfWork, SupervisionUnitOfWork):
    async def __aenter__(self) -> FakeSupervisionUnitOfWork:
        await super().__aenter__()
        self.service_orders = FakeRepository(self.table("service_orders"), ServiceOrder, "service_order_id")
        self.timers = _FakeTimers(self.table("timers"))
        self.files = _FakeFiles(self.table("evidence_files"))
        self.unsupervised = _FakeUnsupervised(self.table("unsupervised_orders"))
        self.erasures = _FakeErasures(self.table("service_orders"), self.table("erased_accounts"))
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

    async def due(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[Doc]:
        rows = (r for r in self.rows.values() if r["due_at"] <= now and r["_id"] not in exclude)
        return sorted(rows, key=lambda r: r["due_at"])[:limit]


class _FakeErasures:
    def __init__(self, orders: dict[str, Any], rows: dict[str, Any]) -> None:
        self.orders, self.rows = orders, rows

    async def holding_contact(self, buyer_account_id: str) -> list[str]:
        return [k for k, r in self.orders.items() if r["parties"]["buyer_account_id"] == buyer_account_id
                and r.get("contact_erased_at") is None and r.get("delivery_phone") is not None]

    async def record(self, account_id: str, erased_at: datetime) -> None:
        self.rows[account_id] = {"_id": account_id, "erased_at": erased_at}

    async def erased(self, account_id: str) -> bool:
        return account_id in self.rows


class _FakeFiles:
    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows

    async def add(self, doc: Doc) -> None:
        self.rows[doc["file_id"]] = dict(doc)

    async def get(self, file_id: str) -> Doc | None:
        return self.rows.get(file_id)

    async def of(self, service_order_id: str) -> list[Doc]:
        return [{k: v for k, v in r.items() if k != "data"} for r in self.rows.values()
                if r["service_order_id"] == service_order_id]


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
    await db["service_orders"].create_index("parties.buyer_account_id")  # account.erased finds the buyer's
