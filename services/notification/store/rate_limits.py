"""Per-address rate limit (flood protection): at most `limit` messages per channel and address per window.

Each (channel, address) has `limit` slots, one document each (`<key>#<n>`), holding when it frees up again
(`until`). A message takes a free slot (one never used, or one whose `until` passed) and holds it for one
window, so no window ever sees more than `limit` messages to one address. A slot is taken atomically: a new
one by an insert (a second insert of the same slot fails), a used one by a write conditional on the `until`
it was read with. So concurrent dispatchers and replicas cannot overshoot; this round's token on the slots it
took says which of its writes won. A message over the limit is deferred to when the first slot frees up; it is
never dropped. A taken slot counts even if the provider then fails: the limit protects the person holding the
phone, and a failed attempt may still have reached them.

A dispatcher round reserves for all its messages of a channel at once: the slots read in one query, taken in
one bulk write, the winners read back in one query, however many messages the round holds. A limit of 0 is
off and costs nothing (the dispatcher does not call).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from services.notification.store.bulk import Insert, Update, Write, write_each
from shared.platform.collection import Collection


class RateLimits:
    def __init__(self, collection: Collection, window_seconds: float = 60.0) -> None:
        self.collection, self.window = collection, timedelta(seconds=window_seconds)

    @staticmethod
    def key(channel: str, address: str) -> str:
        """The address's slots' common key (it holds the address: an account's erasure deletes them)."""
        return f"{channel}|{address.lower()}"

    async def reserve(self, channel: str, address: str, limit: int, now: datetime) -> datetime | None:
        """None: a slot is reserved, send now. Otherwise: when to try again."""
        [free_at] = await self.reserve_all(channel, [address], limit, now)
        return free_at

    async def reserve_all(
        self, channel: str, addresses: list[str], limit: int, now: datetime
    ) -> list[datetime | None]:
        """A slot for each message to `addresses` (in order, an address once per message): None where one
        was taken (send now), otherwise when to try again."""
        if limit <= 0:
            return [None] * len(addresses)
        keys = [self.key(channel, a) for a in addresses]
        wanted = Counter(keys)
        ids = [f"{k}#{n}" for k in wanted for n in range(limit)]
        slots = {str(d["_id"]): d for d in await self.collection.find({"_id": {"$in": ids}})}
        token, until = uuid.uuid4().hex, now + self.window
        writes: list[Write] = []
        tried: list[str] = []
        frees: dict[str, list[datetime]] = {k: [] for k in wanted}
        for k, count in wanted.items():
            trying = 0
            for n in range(limit):
                slot_id = f"{k}#{n}"
                slot = slots.get(slot_id)
                held = None if slot is None else _aware(slot["until"])
                if held is not None and held > now:
                    frees[k].append(held)
                elif trying < count:
                    trying += 1
                    tried.append(slot_id)
                    taken = {"until": until, "holder": token}
                    writes.append(
                        Insert({"_id": slot_id, "key": k, **taken})
                        if slot is None
                        else Update({"_id": slot_id, "until": slot["until"]}, {"$set": taken})
                    )
        await write_each(self.collection, writes)
        won = Counter(
            str(d["key"])
            for d in (await self.collection.find({"_id": {"$in": tried}, "holder": token}) if tried else [])
        )
        answers: list[datetime | None] = []
        for k in keys:
            if won[k] > 0:
                won[k] -= 1
                answers.append(None)
            else:  # over the limit, or another dispatcher took the slot first: when the first one frees up
                answers.append(min(frees[k], default=until))
        return answers

    async def forget(self, channel_addresses: set[tuple[str, str]]) -> None:
        """Delete the slots of these (channel, address) pairs (an account's erasure)."""
        keys = sorted({self.key(channel, address) for channel, address in channel_addresses})
        if keys:
            await self.collection.delete_many({"key": {"$in": keys}})
            await self.collection.delete_many({"_id": {"$in": keys}})  # a window kept the older way


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
