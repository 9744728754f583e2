"""The outbox relay: publishes committed outbox rows to Kafka, in order, then marks them published.

It is a source of the shared leased worker (shared/platform/worker.py): one replica publishes at a time under
a lease renewed while it works, it wakes on the outbox's change stream (and on a nudge after a local commit),
and a row that cannot be published (too large for the broker, say) is retried with backoff and then
quarantined instead of blocking the outbox for good. While a row backs off, the later rows of its key wait
(Kafka keeps a key's order only if we do); once it is quarantined they go on, and the quarantined row is
reported in /readyz.

A crash between the broker's ack and the mark leaves the row unpublished, so it is sent again after restart:
delivery is at least once, and every consumer is idempotent by event id, which makes the effect exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform import tracing
from shared.platform.lease import LEASES, Lease
from shared.platform.mongo import OUTBOX, Doc
from shared.platform.settings import ServiceSettings
from shared.platform.worker import Blocked, LeasedWorker, WorkerSettings

__all__ = ["BATCH", "LEASES", "Lease", "OutboxRelay"]
log = logging.getLogger("relay")
BATCH = 200
RETENTION = timedelta(days=7)


class OutboxSource:
    """The unpublished rows, oldest first (`seq` is strictly increasing per key, see
    mongo.outbox_document)."""

    name: str

    def __init__(self, db: AsyncDatabase[Doc], broker: KafkaBroker, settings: ServiceSettings) -> None:
        self.db, self.broker, self.settings = db, broker, settings
        self.name = f"outbox-relay:{settings.service_name}"
        self.published_total = 0
        self._last_cleanup = datetime.min.replace(tzinfo=UTC)

    def key(self, item: Doc) -> str:
        return str(item["_id"])

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        await self._cleanup(now)
        rows = await self.db[OUTBOX].find({"published_at": None}).sort("seq", ASCENDING).to_list(limit)
        if not blocked.backing_off:
            return [r for r in rows if r["_id"] not in blocked.quarantined]
        # A key whose row backs off keeps its later rows back too (order per key); quarantined rows are
        # skipped.
        held = {
            r["key"]
            for r in await self.db[OUTBOX]
            .find({"_id": {"$in": sorted(blocked.backing_off)}}, {"key": 1})
            .to_list(None)
        }
        return [r for r in rows if r["_id"] not in blocked.all and r["key"] not in held]

    async def process(self, item: Doc) -> None:
        failed = await self.process_batch([item])
        if failed:
            raise next(iter(failed.values()))

    async def process_batch(self, rows: list[Doc]) -> dict[str, BaseException]:
        """Hand the batch to the producer in order, then wait for every ack: the idempotent producer keeps
        per-partition order, and nothing is marked published before the broker has it. A row that fails holds
        back the later rows of its key in this batch."""
        acks: list[tuple[Doc, asyncio.Future[Any]]] = []
        failed: dict[str, BaseException] = {}
        stuck: set[str] = set()
        for row in rows:
            if row["key"] in stuck:
                continue
            try:
                # In the trace of what emitted the row: the publish span (FastStream's telemetry middleware)
                # is its child, and its `traceparent` goes in the headers for the consumer to continue.
                with tracing.attached(row.get(tracing.TRACEPARENT)):
                    ack = await self.broker.publish(
                        row["body"].encode(),
                        topic=self.settings.topic(row["topic"]),
                        key=row["key"].encode(),
                        headers={
                            "content-type": "application/json",
                            "event-type": row["event_type"],
                            "event-id": row["_id"],
                            **tracing.carried(row),
                        },
                        no_confirm=True,
                    )
            except Exception as exc:  # refused before it left (too large, unknown topic): this row only
                failed[row["_id"]] = exc
                stuck.add(row["key"])
                continue
            acks.append((row, ack))
        results = await asyncio.gather(*(ack for _, ack in acks), return_exceptions=True)
        published = []
        for (row, _), result in zip(acks, results, strict=True):
            if isinstance(result, BaseException):
                failed[row["_id"]] = result
            else:
                published.append(row["_id"])
        if published:
            await self.db[OUTBOX].update_many(
                {"_id": {"$in": published}}, {"$set": {"published_at": datetime.now(UTC)}}
            )
            self.published_total += len(published)
        return failed

    async def _cleanup(self, now: datetime) -> None:
        if now - self._last_cleanup < timedelta(hours=1):
            return
        self._last_cleanup = now
        await self.db[OUTBOX].delete_many({"published_at": {"$lt": now - RETENTION}})


class OutboxRelay:
    def __init__(self, db: AsyncDatabase[Doc], broker: KafkaBroker, settings: ServiceSettings) -> None:
        self.db = db
        self.source = OutboxSource(db, broker, settings)
        self.worker: LeasedWorker[Doc] = LeasedWorker(
            db,
            self.source,
            WorkerSettings(
                poll_seconds=settings.relay_poll_seconds,
                lease_seconds=settings.relay_lease_seconds,
                batch=BATCH,
                max_attempts=5,
                backoff_seconds=1.0,
                backoff_max_seconds=60.0,
                watch=OUTBOX,
            ),
        )

    @property
    def published_total(self) -> int:
        return self.source.published_total

    def nudge(self) -> None:
        """Called after a commit that added outbox rows: publish now instead of at the next poll."""
        self.worker.nudge()

    async def drain_once(self) -> int:
        """Publish what is pending now, lease or not (shutdown: this replica's last commits go out)."""
        rows = await self.source.due(datetime.now(UTC), BATCH, Blocked())
        failed = await self.source.process_batch(rows) if rows else {}
        return len(rows) - len(failed)

    async def pending(self) -> int:
        return await self.db[OUTBOX].count_documents({"published_at": None})
