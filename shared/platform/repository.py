"""Aggregate persistence with optimistic concurrency, in Mongo and in memory.

`save` writes only if the stored version is the one that was loaded, so two concurrent use cases on the same
aggregate cannot both win; the loser gets a conflict and its whole transaction is rerun or refused.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from shared.platform.errors import DomainError

M = TypeVar("M", bound=BaseModel)


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"
    transient = True


class Repository(Protocol[M]):
    async def get(self, key: str) -> M | None: ...
    async def add(self, item: M) -> None: ...
    async def save(self, item: M) -> None: ...


def _key(item: BaseModel, id_field: str) -> str:
    return str(getattr(item, id_field))


class MongoRepository(Generic[M]):
    def __init__(self, collection: AsyncCollection[dict[str, Any]], model: type[M], id_field: str,
                 session: AsyncClientSession) -> None:
        self.collection, self.model, self.id_field, self.session = collection, model, id_field, session

    async def get(self, key: str) -> M | None:
        doc = await self.collection.find_one({"_id": key}, session=self.session)
        if doc is None:
            return None
        doc.pop("_id")
        return self.model.model_validate(doc)

    async def add(self, item: M) -> None:
        await self.collection.insert_one({"_id": _key(item, self.id_field), **item.model_dump()},
                                         session=self.session)

    async def save(self, item: M) -> None:
        loaded = item.version  # type: ignore[attr-defined]
        item.version = loaded + 1  # type: ignore[attr-defined]
        result = await self.collection.replace_one(
            {"_id": _key(item, self.id_field), "version": loaded}, item.model_dump(), session=self.session)
        if result.matched_count != 1:
            raise ConcurrentUpdate(f"{self.model.__name__} {_key(item, self.id_field)} changed meanwhile; retry")


class FakeRepository(Generic[M]):
    """Dict-backed twin of MongoRepository over a fake unit of work's staged table."""

    def __init__(self, rows: dict[str, Any], model: type[M], id_field: str) -> None:
        self.rows, self.model, self.id_field = rows, model, id_field

    async def get(self, key: str) -> M | None:
        row = self.rows.get(key)
        return None if row is None else self.model.model_validate(row)

    async def add(self, item: M) -> None:
        key = _key(item, self.id_field)
        if key in self.rows:
            raise ConcurrentUpdate(f"{self.model.__name__} {key} exists")
        self.rows[key] = item.model_dump()

    async def save(self, item: M) -> None:
        key = _key(item, self.id_field)
        if self.rows[key].get("version") != item.version:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(f"{self.model.__name__} {key} changed meanwhile; retry")
        item.version += 1  # type: ignore[attr-defined]
        self.rows[key] = item.model_dump()
