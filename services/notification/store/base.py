"""What the notification repositories share."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from shared.platform.repository import AggregateRepository

M = TypeVar("M", bound=BaseModel)


class WrittenWhole(AggregateRepository[M]):
    """An aggregate written whole, inside the unit of work's transaction. It has no version field: two
    transactions writing the same document make the database report a write conflict, and one reruns."""

    async def put(self, item: M) -> None:
        await self.collection.replace_one({"_id": self.key(item)}, item.model_dump(), upsert=True)
