"""One collection interface over Mongo and over memory, so a repository or a query is written once.

A service's repositories (its `store.py`) and read side (its `queries.py`) are the only modules that write
Mongo's filter syntax. They talk to a `Collection`: `MongoCollection` in production (inside the unit of work's
transaction), `MemoryCollection` in unit and service tests. The memory one is the one generic in-memory fake
of the suite: it understands the part of the filter, update and sort syntax the stores use (equality on fields
and dotted paths, `$eq $ne $lt $lte $gt $gte $in $nin $exists`, `$and $or`; `$set $unset $inc $push $pull
$setOnInsert`), and refuses anything else loudly, so a store cannot use a query the tests do not really run.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict, Unpack

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]
Sort = list[tuple[str, int]]


class FindOptions(TypedDict, total=False):
    """A find's options: the order, which fields, how many to skip, how many at most (0: all)."""

    sort: Sort | None
    projection: Doc | None
    skip: int
    limit: int


class Collection(Protocol):
    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None: ...
    async def find(self, query: Doc, **options: Unpack[FindOptions]) -> list[Doc]: ...
    async def count(self, query: Doc) -> int: ...
    async def insert_one(self, doc: Doc) -> None: ...
    async def insert_many(self, docs: list[Doc]) -> None: ...
    async def replace_one(self, query: Doc, doc: Doc, *, upsert: bool = False) -> int: ...
    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> int: ...
    async def update_many(self, query: Doc, update: Doc) -> int: ...
    async def delete_one(self, query: Doc) -> int: ...
    async def delete_many(self, query: Doc) -> int: ...


class Collections(Protocol):
    """Where a read side finds its collections (outside any transaction)."""

    def collection(self, name: str) -> Collection: ...


class MongoCollection:
    """A Mongo collection, in a unit of work's transaction when `session` is given."""

    def __init__(self, col: AsyncCollection[Doc], session: AsyncClientSession | None = None) -> None:
        self.col, self.session = col, session

    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        return await self.col.find_one(query, projection, session=self.session)

    async def find(self, query: Doc, **options: Unpack[FindOptions]) -> list[Doc]:
        skip, limit = options.get("skip", 0), options.get("limit", 0)
        cursor = self.col.find(query, options.get("projection"), session=self.session, skip=skip, limit=limit)
        if sort := options.get("sort"):
            cursor = cursor.sort(sort)
        return await cursor.to_list(None)

    async def count(self, query: Doc) -> int:
        return await self.col.count_documents(query, session=self.session)

    async def insert_one(self, doc: Doc) -> None:
        await self.col.insert_one(doc, session=self.session)

    async def insert_many(self, docs: list[Doc]) -> None:
        if docs:
            await self.col.insert_many(docs, session=self.session)

    async def replace_one(self, query: Doc, doc: Doc, *, upsert: bool = False) -> int:
        result = await self.col.replace_one(query, doc, upsert=upsert, session=self.session)
        return result.matched_count or int(result.upserted_id is not None)

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> int:
        result = await self.col.update_one(query, update, upsert=upsert, session=self.session)
        return result.matched_count or int(result.upserted_id is not None)

    async def update_many(self, query: Doc, update: Doc) -> int:
        return (await self.col.update_many(query, update, session=self.session)).matched_count

    async def delete_one(self, query: Doc) -> int:
        return (await self.col.delete_one(query, session=self.session)).deleted_count

    async def delete_many(self, query: Doc) -> int:
        return (await self.col.delete_many(query, session=self.session)).deleted_count


class MongoCollections:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    def collection(self, name: str) -> Collection:
        return MongoCollection(self.db[name])


class MemoryCollection:
    """The in-memory twin: rows by `_id` (the row itself holds the other fields, as the fakes' tables always
    have), documents copied in and out as a database would."""

    def __init__(self, rows: dict[str, Doc]) -> None:
        self.rows = rows

    def _docs(self, query: Doc) -> list[Doc]:
        """The matching documents as the database holds them (`_id` included), not copied."""
        return [doc for doc in ({"_id": k, **r} for k, r in self.rows.items()) if matches(doc, query)]

    def _store(self, doc: Doc) -> None:
        self.rows[doc["_id"]] = {k: copy.deepcopy(v) for k, v in doc.items() if k != "_id"}

    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        found = await self.find(query, limit=1, projection=projection)
        return found[0] if found else None

    async def find(self, query: Doc, **options: Unpack[FindOptions]) -> list[Doc]:
        docs = self._docs(query)
        for field, direction in reversed(options.get("sort") or []):
            docs.sort(key=functools.partial(_sort_key, field), reverse=direction != ASCENDING)
        skip, limit = options.get("skip", 0), options.get("limit", 0)
        docs = docs[skip : skip + limit] if limit else docs[skip:]
        return [_project(copy.deepcopy(d), options.get("projection")) for d in docs]

    async def count(self, query: Doc) -> int:
        return len(self._docs(query))

    async def insert_one(self, doc: Doc) -> None:
        if doc["_id"] in self.rows:
            raise DuplicateKeyError(f"E11000 duplicate key: {doc['_id']}")
        self._store(doc)

    async def insert_many(self, docs: list[Doc]) -> None:
        for doc in docs:
            await self.insert_one(doc)

    async def replace_one(self, query: Doc, doc: Doc, *, upsert: bool = False) -> int:
        found = self._docs(query)[:1]
        if found:
            self._store({**doc, "_id": found[0]["_id"]})
            return 1
        if upsert:
            await self.insert_one({**_equalities(query), **doc})
            return 1
        return 0

    async def update_one(self, query: Doc, update: Doc, *, upsert: bool = False) -> int:
        found = self._docs(query)[:1]
        if found:
            _apply(found[0], update, inserting=False)
            self._store(found[0])
            return 1
        if upsert:
            doc = _equalities(query)
            _apply(doc, update, inserting=True)
            await self.insert_one(doc)
            return 1
        return 0

    async def update_many(self, query: Doc, update: Doc) -> int:
        found = self._docs(query)
        for doc in found:
            _apply(doc, update, inserting=False)
            self._store(doc)
        return len(found)

    async def delete_one(self, query: Doc) -> int:
        found = self._docs(query)[:1]
        for doc in found:
            del self.rows[doc["_id"]]
        return len(found)

    async def delete_many(self, query: Doc) -> int:
        found = self._docs(query)
        for doc in found:
            del self.rows[doc["_id"]]
        return len(found)


class MemoryCollections:
    def __init__(self, tables: Callable[[str], dict[str, Doc]]) -> None:
        self.tables = tables

    def collection(self, name: str) -> Collection:
        return MemoryCollection(self.tables(name))


# --- the filter subset --------------------------------------------------------------------------------------
_MISSING = object()


def _get(row: Doc, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else _MISSING
        elif isinstance(value, list):  # a path through an array: any element's value
            values = [v.get(part, _MISSING) for v in value if isinstance(v, dict)]
            value = [v for v in values if v is not _MISSING] or _MISSING
        else:
            return _MISSING
    return value


def _candidates(value: Any) -> Iterable[Any]:
    """A field holding an array matches a condition when the array or one of its elements does (as in
    Mongo)."""
    yield value
    if isinstance(value, list):
        yield from value


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    if op == "$ne":
        return not _compare(value, "$eq", arg)
    if op == "$nin":
        return not _compare(value, "$in", arg)
    present = None if value is _MISSING else value
    if op == "$eq":
        return any(v == arg for v in _candidates(present))
    if op == "$in":
        return any(v in arg for v in _candidates(present))
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
    }
    if op not in comparisons:
        raise NotImplementedError(f"the in-memory collection does not know {op}")
    return any(
        v is not None and _comparable(v, arg) and comparisons[op](v, arg) for v in _candidates(present)
    )


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (
        (isinstance(a, numbers) and isinstance(b, numbers))
        or type(a) is type(b)
        or (isinstance(a, datetime) and isinstance(b, datetime))
    )


def matches(row: Doc, query: Doc) -> bool:
    for key, cond in query.items():
        if key == "$and":
            if not all(matches(row, q) for q in cond):
                return False
        elif key == "$or":
            if not any(matches(row, q) for q in cond):
                return False
        elif key.startswith("$"):
            raise NotImplementedError(f"the in-memory collection does not know {key}")
        elif isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            if not all(_compare(_get(row, key), op, arg) for op, arg in cond.items()):
                return False
        elif not _compare(_get(row, key), "$eq", cond):
            return False
    return True


def _sort_key(field: str, row: Doc) -> tuple[int, Any]:
    value = _get(row, field)
    if value is _MISSING or value is None:
        return (0, 0)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (1, value)


def _project(row: Doc, projection: Doc | None) -> Doc:
    if not projection:
        return row
    if any(v for k, v in projection.items() if k != "_id"):
        keep = {k for k, v in projection.items() if v}
        if projection.get("_id", 1):
            keep.add("_id")
        return {k: v for k, v in row.items() if k in keep}
    return {k: v for k, v in row.items() if projection.get(k, 1)}


def _equalities(query: Doc) -> Doc:
    return {
        k: copy.deepcopy(v)
        for k, v in query.items()
        if not k.startswith("$") and not (isinstance(v, dict) and any(op.startswith("$") for op in v))
    }


def _set(row: Doc, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        row = row.setdefault(part, {})
    row[last] = copy.deepcopy(value)


def _apply(row: Doc, update: Doc, *, inserting: bool) -> None:
    for op, fields in update.items():
        for path, value in fields.items():
            if op == "$set" or (op == "$setOnInsert" and inserting):
                _set(row, path, value)
            elif op == "$setOnInsert":
                continue
            elif op == "$unset":
                *parents, last = path.split(".")
                target = row
                for part in parents:
                    target = target.get(part, {})
                target.pop(last, None)
            elif op == "$inc":
                current = _get(row, path)
                _set(row, path, (0 if current is _MISSING else current) + value)
            elif op == "$push":
                current = _get(row, path)
                _set(row, path, ([] if current is _MISSING else list(current)) + [value])
            elif op == "$pull":  # the elements equal to `value`, or matching its conditions ({"$lte": ...})
                current = _get(row, path)
                if isinstance(current, list):
                    _set(row, path, [v for v in current if not matches({"v": v}, {"v": value})])
            else:
                raise NotImplementedError(f"the in-memory collection does not know {op}")
