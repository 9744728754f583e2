"""An in-memory database for service tests of notification's workers, on the suite's one in-memory collection
(`shared.platform.collection.MemoryCollection`), with faults injected per call.

Two views of the same rows: `db[name]` speaks the few PyMongo calls the shared leased worker, its lease and the
parking make (they take a database), and `db.collection(name)` is a `Collection`, as the notification
repositories take it. The integration tests run the same code on the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import ReturnDocument

from services.notification.store.bulk import Write, one_by_one
from shared.platform.collection import Collection, Doc, MemoryCollection, Sort


@dataclass
class Faults:
    """The next calls of an operation that raise (a database that is down, say), and every call counted."""

    pending: dict[str, list[tuple[Exception, Callable[[Doc], bool]]]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def fail(self, op: str, times: int, exc: Exception, when: Callable[[Doc], bool] = lambda _: True) -> None:
        """The next `times` calls of `op` whose filter satisfies `when` raise `exc`."""
        self.pending.setdefault(op, []).extend([(exc, when)] * times)

    def call(self, op: str, query: Doc) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        for i, (exc, when) in enumerate(self.pending.get(op, [])):
            if when(query):
                del self.pending[op][i]
                raise exc


@dataclass
class Result:
    matched_count: int = 0
    modified_count: int = 0
    deleted_count: int = 0
    upserted_id: Any = None


class MemCursor:
    def __init__(self, col: MemoryCollection, query: Doc, projection: Doc | None) -> None:
        self.col, self.query, self.projection = col, query, projection
        self.order: Sort = []
        self.most = 0

    def sort(self, key: Any, direction: int = 1) -> MemCursor:
        self.order = [(key, direction)] if isinstance(key, str) else list(key)
        return self

    def limit(self, n: int) -> MemCursor:
        self.most = n
        return self

    async def to_list(self, length: int | None = None) -> list[Doc]:
        found = await self.col.find(self.query, sort=self.order, limit=self.most, projection=self.projection)
        return found[:length] if length else found

    async def __aiter__(self) -> AsyncIterator[Doc]:
        for doc in await self.to_list():
            yield doc


class MemCollection:
    """The PyMongo view (as far as the shared worker, lease and parking use it)."""

    def __init__(self, rows: dict[str, Doc], faults: Faults) -> None:
        self.docs, self.faults = rows, faults
        self.col = MemoryCollection(rows)

    def fail(self, op: str, times: int, exc: Exception, when: Callable[[Doc], bool] = lambda _: True) -> None:
        self.faults.fail(op, times, exc, when)

    @property
    def calls(self) -> dict[str, int]:
        return self.faults.calls

    async def insert_one(self, doc: Doc, **_: Any) -> Result:
        self.faults.call("insert_one", doc)
        await self.col.insert_one(doc)
        return Result(upserted_id=doc["_id"])

    async def insert_many(self, docs: list[Doc], **_: Any) -> Result:
        for doc in docs:
            await self.insert_one(doc)
        return Result()

    async def find_one(self, query: Doc | None = None, projection: Doc | None = None, **_: Any) -> Doc | None:
        self.faults.call("find_one", query or {})
        return await self.col.find_one(query or {}, projection)

    def find(self, query: Doc | None = None, projection: Doc | None = None, **_: Any) -> MemCursor:
        self.faults.call("find", query or {})
        return MemCursor(self.col, query or {}, projection)

    async def find_one_and_update(
        self,
        query: Doc,
        update: Doc,
        *,
        upsert: bool = False,
        sort: Sort | None = None,
        return_document: Any = ReturnDocument.BEFORE,
        **_: Any,
    ) -> Doc | None:
        self.faults.call("find_one_and_update", query)
        [before] = await self.col.find(query, sort=sort, limit=1) or [None]
        if before is None and not upsert:
            return None
        at = {"_id": before["_id"]} if before is not None else query
        await self.col.update_one(at, update, upsert=upsert)
        if return_document != ReturnDocument.AFTER:
            return before
        return await self.col.find_one({"_id": before["_id"]} if before is not None else _ids(query))

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False, **_: Any) -> Result:
        self.faults.call("update_one", query)
        matched = await self.col.update_one(query, update, upsert=upsert)
        return Result(matched_count=matched, modified_count=matched)

    async def update_many(self, query: Doc, update: Doc, **_: Any) -> Result:
        self.faults.call("update_many", query)
        matched = await self.col.update_many(query, update)
        return Result(matched_count=matched, modified_count=matched)

    async def delete_one(self, query: Doc, **_: Any) -> Result:
        self.faults.call("delete_one", query)
        return Result(deleted_count=await self.col.delete_one(query))

    async def delete_many(self, query: Doc, **_: Any) -> Result:
        self.faults.call("delete_many", query)
        return Result(deleted_count=await self.col.delete_many(query))


def _ids(query: Doc) -> Doc:
    return {"_id": query["_id"]}


class FaultyCollection:
    """The `Collection` view, failing where the faults say."""

    def __init__(self, rows: dict[str, Doc], faults: Faults) -> None:
        self.col, self.faults = MemoryCollection(rows), faults

    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        self.faults.call("find_one", query)
        return await self.col.find_one(query, projection)

    async def find(
        self,
        query: Doc,
        *,
        sort: Sort | None = None,
        limit: int = 0,
        projection: Doc | None = None,
        skip: int = 0,
    ) -> list[Doc]:
        self.faults.call("find", query)
        return await self.col.find(query, sort=sort, limit=limit, projection=projection, skip=skip)

    async def count(self, query: Doc) -> int:
        self.faults.call("count", query)
        return await self.col.count(query)

    async def insert_one(self, doc: Doc) -> None:
        self.faults.call("insert_one", doc)
        await self.col.insert_one(doc)

    async def insert_many(self, docs: list[Doc]) -> None:
        self.faults.call("insert_many", {})
        await self.col.insert_many(docs)

    async def replace_one(self, query: Doc, doc: Doc, *, upsert: bool = False) -> int:
        self.faults.call("replace_one", query)
        return await self.col.replace_one(query, doc, upsert=upsert)

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> int:
        self.faults.call("update_one", query)
        return await self.col.update_one(query, update, upsert=upsert)

    async def update_many(self, query: Doc, update: Doc) -> int:
        self.faults.call("update_many", query)
        return await self.col.update_many(query, update)

    async def delete_one(self, query: Doc) -> int:
        self.faults.call("delete_one", query)
        return await self.col.delete_one(query)

    async def delete_many(self, query: Doc) -> int:
        self.faults.call("delete_many", query)
        return await self.col.delete_many(query)

    async def write_each(self, writes: Sequence[Write]) -> None:
        """A bulk write (store/bulk.py): one call, as one round trip to the database."""
        self.faults.call("write_each", {})
        await one_by_one(self.col, writes)


class MemDatabase:
    def __init__(self, name: str = "notification") -> None:
        self.name = name
        self.rows: dict[str, dict[str, Doc]] = {}
        self.faults: dict[str, Faults] = {}

    def table(self, name: str) -> dict[str, Doc]:
        """A collection's rows by `_id` (each row holds the other fields)."""
        return self.rows.setdefault(name, {})

    def faults_of(self, name: str) -> Faults:
        return self.faults.setdefault(name, Faults())

    def __getitem__(self, name: str) -> MemCollection:
        return MemCollection(self.table(name), self.faults_of(name))

    def collection(self, name: str) -> Collection:
        return FaultyCollection(self.table(name), self.faults_of(name))
