"""Many conditional single-document writes in one round trip: an unordered bulk write on Mongo.

The shared `Collection` port has no bulk write, so the dispatcher's stores reach through it here: on a
`MongoCollection` the writes go as one `bulk_write(ordered=False)`; on any other collection (the in-memory one
of unit and service tests) one by one, with the same result. A collection may also offer `write_each` itself
(the service tests' faulty collection does, to count and fail bulk writes as the database would).

Each write stays what it was alone: conditional on its own filter, matching at most one document. A write
whose filter no longer matches (another dispatcher took the row, an erasure cancelled it) changes nothing, as
its `update_one` would have; a duplicate `_id` on an insert is skipped, as a lost race for that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.platform.collection import Collection, Doc, MongoCollection

DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Update:
    query: Doc
    update: Doc


@dataclass(frozen=True)
class Insert:
    doc: Doc


Write = Update | Insert


@runtime_checkable
class WritesEach(Protocol):
    async def write_each(self, writes: Sequence[Write]) -> None: ...


async def write_each(collection: Collection, writes: Sequence[Write]) -> None:
    """Apply every write (unordered); duplicate-key inserts are skipped, any other error raises."""
    if not writes:
        return
    if isinstance(collection, WritesEach):
        await collection.write_each(writes)
    elif isinstance(collection, MongoCollection):
        ops = [UpdateOne(w.query, w.update) if isinstance(w, Update) else InsertOne(w.doc) for w in writes]
        try:
            await collection.col.bulk_write(ops, ordered=False, session=collection.session)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others or exc.details.get("writeConcernErrors"):
                raise
    else:
        await one_by_one(collection, writes)


async def one_by_one(collection: Collection, writes: Sequence[Write]) -> None:
    """The writes as single calls (the in-memory collections)."""
    for w in writes:
        if isinstance(w, Update):
            await collection.update_one(w.query, w.update)
            continue
        try:
            await collection.insert_one(w.doc)
        except DuplicateKeyError:
            continue
