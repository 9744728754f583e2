"""Parked events: consumed before what they are about (an order's refund request before its payment, a
deadline's clearing before its scheduling), kept here and handled again, never dead-lettered as poison.

The middleware parks the record (its topic, key, body, headers, where it came from, the aggregate it waits
for) and commits it, so the partition flows on. The parking worker, a source of the shared leased worker,
handles it again through the same handler: at once when the service says the aggregate arrived (`arrived`),
otherwise with backoff (1 s doubling to a minute). While nothing is parked at all, `arrived` writes nothing
(QUIET_SECONDS). It dead-letters the event, with the reason, once it has waited longer than
`park_bound_seconds` (a day by default). Handlers are idempotent by event id, so handling again is safe.
"""

from __future__ import annotations

import inspect
import logging
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.deadletter import DeadLetterPolicy, is_permanent, is_transient, reason
from shared.platform.errors import NotYetKnown
from shared.platform.mongo import Doc
from shared.platform.worker import Blocked, not_blocked

log = logging.getLogger("parking")
PARKED = "parked_events"


@dataclass(frozen=True)
class ParkedRecord:
    """What the dead-letter publisher needs of a record, rebuilt from a parked document."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def _id(record: Any, group: str) -> str:
    return f"{group}|{record.topic}|{record.partition}|{record.offset}"


# After a look found nothing parked at all, `arrived` writes nothing for this long. An event another replica
# parks meanwhile is tried again by the worker one second after it was parked, as it would be if its aggregate
# had arrived just before its parking; so the quiet costs such an event at most its first backoff step, and
# spares every handled event a write while nothing waits (the usual case: one update per event per service).
QUIET_SECONDS = 1.0


class MongoParking:
    def __init__(
        self,
        db: AsyncDatabase[Doc],
        policy: DeadLetterPolicy,
        bound_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.col, self.policy, self.bound = db[PARKED], policy, timedelta(seconds=bound_seconds)
        self.name = f"parked-events:{policy.settings.service_name}"
        self.on_parked: list[Any] = []
        self.clock = clock
        self._quiet_until = 0.0  # until then, nothing is known to be parked (see QUIET_SECONDS)

    async def park(self, record: Any, exc: NotYetKnown, group: str) -> None:
        self._quiet_until = 0.0  # something waits now: arrivals are told again
        now = datetime.now(UTC)
        await self.col.update_one(
            {"_id": _id(record, group)},
            {
                "$set": {"reason": reason(exc), "last_seen": now},
                "$setOnInsert": {
                    "group": group,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key,
                    "value": record.value or b"",
                    "headers": [[k, v] for k, v in (record.headers or [])],
                    "aggregate": exc.aggregate,
                    "first_seen": now,
                    "attempts": 0,
                    "next_try_at": now + timedelta(seconds=1),
                },
            },
            upsert=True,
        )
        log.info(
            "parked an event until %s arrives",
            exc.aggregate,
            extra={"topic": record.topic, "offset": record.offset, "reason": reason(exc)},
        )
        for wake in self.on_parked:
            wake()

    async def arrived(self, *aggregates: str) -> None:
        """These aggregates now exist: their parked events are tried again at once (one write for a batch's
        many)."""
        if not aggregates or self.clock() < self._quiet_until:
            return
        query = {"aggregate": aggregates[0] if len(aggregates) == 1 else {"$in": sorted(set(aggregates))}}
        result = await self.col.update_many(query, {"$set": {"next_try_at": datetime.now(UTC)}})
        if result.modified_count:
            for wake in self.on_parked:
                wake()
        elif await self.col.find_one({}, {"_id": 1}) is None:
            self._quiet_until = self.clock() + QUIET_SECONDS  # nothing parked at all

    async def listing(self, limit: int) -> list[Doc]:
        docs = (
            await self.col.find({}, {"value": 0, "headers": 0}).sort("first_seen", ASCENDING).to_list(limit)
        )
        return [
            {**d, "parked_id": d.pop("_id"), "key": (d.get("key") or b"").decode(errors="replace")}
            for d in docs
        ]

    # --- the worker's source ------------------------------------------------------------------------------
    def key(self, item: Doc) -> str:
        return str(item["_id"])

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        query = {"next_try_at": {"$lte": now}, **not_blocked(blocked)}
        return await self.col.find(query).sort("next_try_at", ASCENDING).to_list(limit)

    async def process(self, doc: Doc) -> None:
        record = ParkedRecord(
            doc["topic"],
            doc["partition"],
            doc["offset"],
            doc.get("key"),
            doc["value"],
            [(k, bytes(v)) for k, v in doc.get("headers", [])],
        )
        try:
            await self.handle(record)
        except NotYetKnown as exc:
            now = datetime.now(UTC)
            if now - doc["first_seen"].replace(tzinfo=UTC) >= self.bound:
                await self._give_up(doc, record, exc)
                return
            attempts = int(doc.get("attempts", 0)) + 1
            delay = min(60.0, 2.0**attempts)
            await self.col.find_one_and_update(
                {"_id": doc["_id"]},
                {
                    "$set": {
                        "attempts": attempts,
                        "reason": reason(exc),
                        "last_seen": now,
                        "next_try_at": now + timedelta(seconds=delay),
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
            return
        except Exception as exc:
            if is_transient(exc):
                raise  # the worker backs off and tries again; the event stays parked
            if not is_permanent(exc):
                raise  # a bug: the worker records it, retries and finally quarantines it (visible)
            await self._give_up(doc, record, exc)
            return
        await self.col.delete_one({"_id": doc["_id"]})

    async def _give_up(self, doc: Doc, record: ParkedRecord, exc: BaseException) -> None:
        await self.policy.publish(record, exc, int(doc.get("attempts", 0)) + 1)
        await self.col.delete_one({"_id": doc["_id"]})

    async def handle(self, record: ParkedRecord) -> None:
        """The subscriber's own handler, called as FastStream would: the event parsed into the handler's
        model, the services it asks for from the broker's context."""
        handler = self.policy.handlers.get(self.policy.base(record.topic))
        if handler is None:
            raise RuntimeError(f"no handler for {record.topic}")
        hints = typing.get_type_hints(handler)
        first = next(iter(inspect.signature(handler).parameters))
        await self.policy.invoke(handler, hints[first].model_validate_json(record.value))
