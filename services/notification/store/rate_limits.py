"""Per-address rate limit (flood protection): at most `limit` messages per channel and address per window.

One document per (channel, address) holds the send times inside the window. A slot is reserved atomically
(the conditional `$push` matches only while fewer than `limit` stamps remain), so concurrent dispatchers and
replicas cannot overshoot. A message over the limit is deferred to when the oldest stamp leaves the window;
it is never dropped. A reserved slot counts even if the provider then fails: the limit protects the person
holding the phone, and a failed attempt may still have reached them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from shared.platform.collection import Collection


class RateLimits:
    def __init__(self, collection: Collection, window_seconds: float = 60.0) -> None:
        self.collection, self.window = collection, timedelta(seconds=window_seconds)

    @staticmethod
    def key(channel: str, address: str) -> str:
        """The window's document id (it holds the address: an account's erasure deletes it)."""
        return f"{channel}|{address.lower()}"

    async def reserve(self, channel: str, address: str, limit: int, now: datetime) -> datetime | None:
        """None: a slot is reserved, send now. Otherwise: when to try again."""
        if limit <= 0:
            return None
        key = self.key(channel, address)
        await self.collection.update_one({"_id": key}, {"$pull": {"stamps": {"$lte": now - self.window}}})
        stamps: list[datetime] = []
        for _ in range(3):  # a duplicate key can also mean two first upserts raced: then simply try again
            try:
                await self.collection.update_one(
                    {"_id": key, f"stamps.{limit - 1}": {"$exists": False}},
                    {"$push": {"stamps": now}},
                    upsert=True,
                )
                return None
            except DuplicateKeyError:  # the document exists and is full: no upsert possible, no slot
                doc = await self.collection.find_one({"_id": key})
                stamps = sorted(s.replace(tzinfo=UTC) for s in (doc or {}).get("stamps", []))
                if len(stamps) >= limit:
                    break
        free_at: datetime = (stamps[0] if stamps else now) + self.window
        return free_at

    async def forget(self, channel_addresses: set[tuple[str, str]]) -> None:
        """Delete the windows of these (channel, address) pairs (an account's erasure)."""
        keys = sorted({self.key(channel, address) for channel, address in channel_addresses})
        if keys:
            await self.collection.delete_many({"_id": {"$in": keys}})
