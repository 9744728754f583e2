"""A named, expiring lock in Mongo: one replica holds it and renews it; another takes it once it expired."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.platform.mongo import Doc

LEASES = "leases"


class Lease:
    def __init__(self, db: AsyncDatabase[Doc], name: str, ttl: float) -> None:
        self.db, self.name, self.ttl = db, name, timedelta(seconds=ttl)
        self.owner = uuid.uuid4().hex

    async def acquire(self) -> bool:
        """Take it if free or expired, renew it if ours; False while another replica holds it."""
        now = datetime.now(UTC)
        try:
            doc = await self.db[LEASES].find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # someone else holds it and it has not expired
            return False
        return doc is not None and doc.get("owner") == self.owner

    async def release(self) -> None:
        await self.db[LEASES].delete_one({"_id": self.name, "owner": self.owner})
