"""Aggregate persistence with optimistic concurrency, written once over a `Collection` (Mongo or memory).

A service's store (`store.py`) has one repository per aggregate, a subclass of `AggregateRepository` whose
query methods speak the domain's words (`orders.overdue(now)`, `timers.due(now, limit)`); the filter syntax
stays inside them. `save` writes only if the stored version is the one that was loaded, so two concurrent use
cases on the same aggregate cannot both win; the loser gets a conflict and its whole transaction is rerun.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.platform.collection import Collection, Doc, MemoryCollection, MongoCollection, Sort
from shared.platform.errors import DomainError

M = TypeVar("M", bound=BaseModel)


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"
    transient = True


class Repository(Protocol[M]):
    async def get(self, key: str) -> M | None: ...
    async def add(self, item: M) -> None: ...
    async def save(self, item: M) -> None: ...


class AggregateRepository(Generic[M]):
    """get / add / save (versioned) / remove for one aggregate type; subclasses add the domain's queries."""

    model: type[M]
    id_field: str

    def __init__(
        self, collection: Collection, model: type[M] | None = None, id_field: str | None = None
    ) -> None:
        self.collection = collection
        if model is not None:
            self.model = model
        if id_field is not None:
            self.id_field = id_field

    def key(self, item: M) -> str:
        return str(getattr(item, self.id_field))

    def load(self, doc: Doc) -> M:
        return self.model.model_validate({k: v for k, v in doc.items() if k != "_id"})

    async def get(self, key: str) -> M | None:
        doc = await self.collection.find_one({"_id": key})
        return None if doc is None else self.load(doc)

    async def add(self, item: M) -> None:
        try:
            await self.collection.insert_one({"_id": self.key(item), **item.model_dump()})
        except DuplicateKeyError as exc:
            raise ConcurrentUpdate(f"{self.model.__name__} {self.key(item)} exists") from exc

    async def save(self, item: M) -> None:
        loaded = item.version  # type: ignore[attr-defined]
        item.version = loaded + 1  # type: ignore[attr-defined]
        matched = await self.collection.replace_one(
            {"_id": self.key(item), "version": loaded}, item.model_dump()
        )
        if matched != 1:
            item.version = loaded  # type: ignore[attr-defined]
            raise ConcurrentUpdate(f"{self.model.__name__} {self.key(item)} changed meanwhile; retry")

    async def remove(self, key: str) -> None:
        await self.collection.delete_one({"_id": key})

    async def _find(self, query: Doc, *, sort: Sort | None = None, limit: int = 0) -> list[M]:
        return [self.load(d) for d in await self.collection.find(query, sort=sort, limit=limit)]

    async def _ids(
        self, query: Doc, *, sort: Sort | None = None, limit: int = 0, exclude: frozenset[str] = frozenset()
    ) -> list[str]:
        """The ids of the matching documents but `exclude`, without loading them (a document that no longer
        loads is still listed, so a worker sees it fail as one item rather than failing a whole listing)."""
        full = {**query, **({"_id": {"$nin": sorted(exclude)}} if exclude else {})}
        return [
            str(d["_id"])
            for d in await self.collection.find(full, sort=sort, limit=limit, projection={"_id": 1})
        ]


class MongoRepository(AggregateRepository[M], Generic[M]):
    """An AggregateRepository on a Mongo collection in a transaction (the shape stores used before)."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        model: type[M],
        id_field: str,
        session: AsyncClientSession,
    ) -> None:
        super().__init__(MongoCollection(collection, session), model, id_field)


class FakeRepository(AggregateRepository[M], Generic[M]):
    """An AggregateRepository on a fake unit of work's staged table."""

    def __init__(self, rows: dict[str, Any], model: type[M], id_field: str) -> None:
        super().__init__(MemoryCollection(rows), model, id_field)
        self.rows = rows
