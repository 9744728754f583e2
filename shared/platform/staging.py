"""Write-behind for a batch of events in one transaction: aggregates loaded in one query, saved in one write.

A batch consumer (shared/platform/batching.py) handles many events in one unit of work. Written naively, each
event still costs its own round trips: a `find_one` to load its aggregate, a `replace_one` to save it. On a
database that does a couple of thousand operations a second, those round trips are the pipeline's cost
(make bench). `StagedCollection` wraps the transaction's `MongoCollection` so that:

- `prefetch(ids)` loads the batch's aggregates with one `$in` query, and `find_one({"_id": id})` answers from
  what this transaction already knows (loaded, or saved by an earlier event of the batch);
- a versioned save (`replace_one({"_id": id, "version": v}, doc)`, AggregateRepository.save) of a document it
  knows is checked against the version it knows and kept (and so is a document written whole by id,
  `replace_one({"_id": id}, doc, upsert=True)`, which becomes an upsert in the same bulk write); the kept
  saves go out as one `bulk_write` before the transaction commits, each still conditional on the version it
  was loaded at (a concurrent writer makes it match nothing, which raises `StagedSaveLost`, and the whole
  batch is rerun, as a single save would be);
- inserts are kept too, and written as one `insert_many` (a duplicate fails the batch, whose events are then
  handled one by one, each seeing its own duplicate-key error where it inserts);
- any other operation on the collection first writes what is kept (so every query reads this transaction's
  own writes, as without staging) and then forgets what it knew, since that operation may have changed it.
"""

from __future__ import annotations

import copy
from typing import Any, Unpack

from pymongo import ReplaceOne

from shared.platform.collection import Doc, FindOptions, MongoCollection
from shared.platform.errors import DomainError


class StagedSaveLost(DomainError):
    """A kept save matched nothing when written: another transaction changed the document meanwhile."""

    code = "concurrent_update"
    transient = True


def _id_only(query: Doc) -> Any | None:
    """The id of a query that names only an `_id` (no operators), else None."""
    if set(query) == {"_id"} and not isinstance(query["_id"], dict):
        return query["_id"]
    return None


def _versioned(query: Doc) -> tuple[Any, Any] | None:
    """(id, version) of a versioned save's filter, else None."""
    if set(query) == {"_id", "version"} and not isinstance(query["_id"], dict):
        return query["_id"], query["version"]
    return None


class StagedCollection:
    """A `Collection` over one transaction's `MongoCollection`, with the batch's loads and saves grouped."""

    def __init__(self, inner: MongoCollection) -> None:
        self.inner = inner
        self.known: dict[
            Any, Doc | None
        ] = {}  # _id -> the document as this transaction sees it; None: absent
        self.kept: dict[Any, tuple[Doc, Doc]] = {}  # _id -> (the filter it was loaded at, the new document)
        self.inserted: list[Doc] = []  # new documents, in order
        self.round_trips = 0  # what reached the database, for tests and the bench

    async def prefetch(self, ids: list[Any]) -> None:
        missing = sorted({i for i in ids if i not in self.known}, key=str)
        if not missing:
            return
        await self.flush()
        self.round_trips += 1
        found = {d["_id"]: d for d in await self.inner.find({"_id": {"$in": missing}})}
        for i in missing:
            self.known[i] = found.get(i)

    async def flush(self) -> None:
        """Write the kept saves (one `bulk_write`), each conditional on the version it was loaded at."""
        if self.inserted:
            inserted, self.inserted = self.inserted, []
            self.round_trips += 1
            await self.inner.insert_many(inserted)
        if not self.kept:
            return
        kept, self.kept = self.kept, {}
        ops = [
            ReplaceOne(query, {k: v for k, v in doc.items() if k != "_id"}, upsert="version" not in query)
            for query, doc in kept.values()
        ]
        self.round_trips += 1
        result = await self.inner.col.bulk_write(ops, ordered=True, session=self.inner.session)
        if result.matched_count + result.upserted_count != len(ops):
            self.known.clear()
            raise StagedSaveLost(
                f"{len(ops) - result.matched_count} of {len(ops)} documents in {self.inner.col.name} "
                "changed meanwhile; retry"
            )

    async def _through(self) -> MongoCollection:
        """Before any other operation: write what is kept, forget what is known."""
        await self.flush()
        self.known.clear()
        self.round_trips += 1
        return self.inner

    # --- Collection --------------------------------------------------------------------------------------
    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        key = _id_only(query)
        if key is not None and projection is None and key in self.known:
            doc = self.known[key]
            return None if doc is None else copy.deepcopy(doc)
        await self.flush()  # a read: what it knows stays true
        self.round_trips += 1
        return await self.inner.find_one(query, projection)

    async def find(self, query: Doc, **options: Unpack[FindOptions]) -> list[Doc]:
        await self.flush()
        self.round_trips += 1
        return await self.inner.find(query, **options)

    async def count(self, query: Doc) -> int:
        await self.flush()
        self.round_trips += 1
        return await self.inner.count(query)

    async def replace_one(self, query: Doc, doc: Doc, *, upsert: bool = False) -> int:
        versioned = _versioned(query)
        if versioned is not None and not upsert:
            key, version = versioned
            current = self.known.get(key)
            if current is not None:
                if current.get("version") != version:
                    return 0  # as the database would answer: the filter matches nothing
                new = {"_id": key, **copy.deepcopy(doc)}
                loaded_at = self.kept[key][0] if key in self.kept else dict(query)
                self.kept[key] = (loaded_at, new)
                self.known[key] = new
                return 1
        key = _id_only(query)
        if key is not None and upsert:  # a document written whole (WrittenWhole.put): kept, upserted
            new = {"_id": key, **copy.deepcopy(doc)}
            self.kept[key] = (dict(query), new)
            self.known[key] = new
            return 1
        return await (await self._through()).replace_one(query, doc, upsert=upsert)

    async def insert_one(self, doc: Doc) -> None:
        await self.insert_many([doc])

    async def insert_many(self, docs: list[Doc]) -> None:
        """Kept, and written with the saves: one insert for the batch's new documents. A duplicate `_id`
        then fails the flush, not this call; the batch fails with it and its events are handled one by one,
        where the caller sees the error at its own insert (batching.py)."""
        for doc in docs:
            if "_id" not in doc:
                raise ValueError("a staged insert names its _id")
            kept = copy.deepcopy(doc)
            self.inserted.append(kept)
            self.known[doc["_id"]] = kept

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> int:
        return await (await self._through()).update_one(query, update, upsert=upsert)

    async def update_many(self, query: Doc, update: Doc) -> int:
        return await (await self._through()).update_many(query, update)

    async def delete_one(self, query: Doc) -> int:
        return await (await self._through()).delete_one(query)

    async def delete_many(self, query: Doc) -> int:
        return await (await self._through()).delete_many(query)
