"""An in-memory stand-in for the few PyMongo calls notification's workers make: the shared leased worker (its
lease and its item records), the dispatcher's claims and marks, the parking's rows. Faults can be injected per
call. For service tests of the workers only; the integration tests run the same code on the real database."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]


def _get(doc: Doc, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "$in":
        return value in arg
    if op == "$nin":
        return value not in arg
    if op == "$ne":
        return bool(value != arg)
    if op == "$exists":
        return (value is not None) == bool(arg)
    if value is None or arg is None:
        return False
    return bool({"$lt": value < arg, "$lte": value <= arg, "$gt": value > arg, "$gte": value >= arg}[op])


def matches(doc: Doc, flt: Doc) -> bool:
    for key, cond in flt.items():
        if key == "$or":
            if not any(matches(doc, c) for c in cond):
                return False
        elif key == "$and":
            if not all(matches(doc, c) for c in cond):
                return False
        elif isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            if not all(_compare(_get(doc, key), op, arg) for op, arg in cond.items()):
                return False
        elif _get(doc, key) != cond:
            return False
    return True


def _apply(doc: Doc, update: Doc, inserting: bool) -> None:
    for op, fields in update.items():
        for key, value in fields.items():
            if op == "$set" or (op == "$setOnInsert" and inserting):
                doc[key] = copy.deepcopy(value)
            elif op == "$inc":
                doc[key] = doc.get(key, 0) + value
            elif op == "$push":
                doc.setdefault(key, []).append(copy.deepcopy(value))
            elif op == "$unset":
                doc.pop(key, None)


def _order(sort: Any) -> list[tuple[str, int]]:
    if sort is None:
        return []
    if isinstance(sort, str):
        return [(sort, 1)]
    return [(k, d) for k, d in sort]


def _sorted(docs: list[Doc], sort: Any) -> list[Doc]:
    for key, direction in reversed(_order(sort)):
        docs = sorted(docs, key=lambda d, k=key: (_get(d, k) is not None, _get(d, k)), reverse=direction < 0)
    return docs


@dataclass
class Result:
    matched_count: int = 0
    modified_count: int = 0
    deleted_count: int = 0
    upserted_id: Any = None


class MemCursor:
    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs

    def sort(self, key: Any, direction: int = 1) -> MemCursor:
        self.docs = _sorted(self.docs, [(key, direction)] if isinstance(key, str) else key)
        return self

    def limit(self, n: int) -> MemCursor:
        self.docs = self.docs[:n] if n else self.docs
        return self

    async def to_list(self, length: int | None = None) -> list[Doc]:
        return self.docs[:length] if length else list(self.docs)

    async def __aiter__(self) -> AsyncIterator[Doc]:
        for doc in self.docs:
            yield doc


class MemCollection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, Doc] = {}
        self.faults: dict[str, list[Exception]] = {}
        self.calls: dict[str, int] = {}

    def fail(self, op: str, times: int, exc: Exception) -> None:
        """The next `times` calls of `op` raise `exc` (a database that is down, say)."""
        self.faults.setdefault(op, []).extend([exc] * times)

    def _call(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.faults.get(op):
            raise self.faults[op].pop(0)

    def _matching(self, flt: Doc | None, sort: Any = None) -> list[Doc]:
        return _sorted([d for d in self.docs.values() if matches(d, flt or {})], sort)

    async def insert_one(self, doc: Doc, **_: Any) -> Result:
        self._call("insert_one")
        doc = copy.deepcopy(doc)
        doc.setdefault("_id", uuid.uuid4().hex)
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate _id {doc['_id']}")
        self.docs[doc["_id"]] = doc
        return Result(upserted_id=doc["_id"])

    async def insert_many(self, docs: list[Doc], **kw: Any) -> Result:
        for doc in docs:
            await self.insert_one(doc, **kw)
        return Result()

    async def find_one(self, flt: Doc | None = None, *_: Any, **__: Any) -> Doc | None:
        self._call("find_one")
        found = self._matching(flt)
        return copy.deepcopy(found[0]) if found else None

    def find(self, flt: Doc | None = None, *_: Any, **__: Any) -> MemCursor:
        self._call("find")
        return MemCursor([copy.deepcopy(d) for d in self._matching(flt)])

    async def find_one_and_update(self, flt: Doc, update: Doc, *, upsert: bool = False, sort: Any = None,
                                  return_document: Any = ReturnDocument.BEFORE, **_: Any) -> Doc | None:
        self._call("find_one_and_update")
        found = self._matching(flt, sort)
        if found:
            doc = found[0]
            before = copy.deepcopy(doc)
            _apply(doc, update, inserting=False)
            return copy.deepcopy(doc) if return_document == ReturnDocument.AFTER else before
        if not upsert:
            return None
        doc = self._upsert(flt, update)
        return copy.deepcopy(doc) if return_document == ReturnDocument.AFTER else None

    def _upsert(self, flt: Doc, update: Doc) -> Doc:
        doc = {k: copy.deepcopy(v) for k, v in flt.items() if not k.startswith("$") and not isinstance(v, dict)}
        _apply(doc, update, inserting=True)
        doc.setdefault("_id", uuid.uuid4().hex)
        if doc["_id"] in self.docs:  # the filter did not match, but the id is taken: as Mongo answers
            raise DuplicateKeyError(f"duplicate _id {doc['_id']}")
        self.docs[doc["_id"]] = doc
        return doc

    async def update_one(self, flt: Doc, update: Doc, *, upsert: bool = False, **_: Any) -> Result:
        self._call("update_one")
        found = self._matching(flt)
        if found:
            _apply(found[0], update, inserting=False)
            return Result(matched_count=1, modified_count=1)
        if upsert:
            return Result(upserted_id=self._upsert(flt, update)["_id"])
        return Result()

    async def update_many(self, flt: Doc, update: Doc, **_: Any) -> Result:
        self._call("update_many")
        found = self._matching(flt)
        for doc in found:
            _apply(doc, update, inserting=False)
        return Result(matched_count=len(found), modified_count=len(found))

    async def delete_one(self, flt: Doc, **_: Any) -> Result:
        self._call("delete_one")
        found = self._matching(flt)
        if found:
            del self.docs[found[0]["_id"]]
        return Result(deleted_count=len(found[:1]))


class MemDatabase:
    def __init__(self, name: str = "notification") -> None:
        self.name = name
        self.collections: dict[str, MemCollection] = {}

    def __getitem__(self, name: str) -> MemCollection:
        return self.collections.setdefault(name, MemCollection(name))
