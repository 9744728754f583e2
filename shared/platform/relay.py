"""The outbox relay: publishes committed outbox rows to Kafka, in order, then marks them published.

Only one relay per service publishes at a time (a lease document in Mongo), so several replicas do not race
each other into publishing the same rows twice. A crash between the broker's ack and the mark leaves the row
unpublished, so it is sent again after restart: delivery is at least once, and every consumer is idempotent by
event id, which makes the effect exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.platform.mongo import OUTBOX, Doc
from shared.platform.settings import ServiceSettings

log = logging.getLogger("relay")
LEASES = "leases"
BATCH = 200
RETENTION = timedelta(days=7)


class Lease:
    """A named, expiring lock in Mongo; the holder renews it each round."""

    def __init__(self, db: AsyncDatabase[Doc], name: str, ttl: float) -> None:
        self.db, self.name, self.ttl = db, name, timedelta(seconds=ttl)
        self.owner = uuid.uuid4().hex

    async def acquire(self) -> bool:
        now = datetime.now(UTC)
        try:
            doc = await self.db[LEASES].find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # someone else holds it and it has not expired
            return False
        return doc is not None and doc.get("owner") == self.owner

    async def release(self) -> None:
        await self.db[LEASES].delete_one({"_id": self.name, "owner": self.owner})


class OutboxRelay:
    def __init__(self, db: AsyncDatabase[Doc], broker: KafkaBroker, settings: ServiceSettings) -> None:
        self.db, self.broker, self.settings = db, broker, settings
        self.lease = Lease(db, f"outbox-relay:{settings.service_name}", settings.relay_lease_seconds)
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_cleanup = datetime.min.replace(tzinfo=UTC)
        self.published_total = 0

    def nudge(self) -> None:
        """Called after a commit that added outbox rows: publish now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                if await self.lease.acquire():
                    while await self.drain_once() == BATCH:
                        pass
                    await self._cleanup()
            except (TimeoutError, PyMongoError, OSError) as exc:
                log.warning("outbox relay round failed, will retry: %s", exc)
            except Exception:
                log.exception("outbox relay round failed, will retry")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.relay_poll_seconds)
            self._wake.clear()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def drain_once(self) -> int:
        rows = await self.db[OUTBOX].find({"published_at": None}).sort("seq", ASCENDING).to_list(BATCH)
        if not rows:
            return 0
        # Hand the whole batch to the producer in order, then wait for every ack: the idempotent producer
        # keeps per-partition order, and nothing is marked published before the broker has it.
        acks: list[asyncio.Future[Any]] = []
        for row in rows:
            ack = await self.broker.publish(
                row["body"].encode(), topic=self.settings.topic(row["topic"]), key=row["key"].encode(),
                headers={"content-type": "application/json", "event-type": row["event_type"],
                         "event-id": row["_id"]},
                no_confirm=True)
            acks.append(ack)
        await asyncio.gather(*acks)
        await self.db[OUTBOX].update_many({"_id": {"$in": [r["_id"] for r in rows]}},
                                          {"$set": {"published_at": datetime.now(UTC)}})
        self.published_total += len(rows)
        return len(rows)

    async def _cleanup(self) -> None:
        now = datetime.now(UTC)
        if now - self._last_cleanup < timedelta(hours=1):
            return
        self._last_cleanup = now
        await self.db[OUTBOX].delete_many({"published_at": {"$lt": now - RETENTION}})

    async def pending(self) -> int:
        return await self.db[OUTBOX].count_documents({"published_at": None})
