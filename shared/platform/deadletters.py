"""Dead letters you can act on: each service keeps the dead letters of the topics it produces, and an operator
replays them.

Consumers write what they give up on to `<topic>.dlt` (shared/platform/deadletter.py). The service that
produces `<topic>` reads `<topic>.dlt` (consumer group `<service>.dead-letters`) into its `dead_letters`
collection: the original key, body and headers, the reason, the consumer group that gave up, first and last
seen. An operator lists them and replays one, or a filtered set, back to the original topic. The replay is
published by the producing service, with its own Kafka identity: the per-service topic permissions hold, and
no consumer may write a topic it only reads. A replay goes to every consumer group of the topic; the groups
that had handled the event ignore it (their inbox knows its id), so a replay changes nothing twice.

Parked events ("not yet known", shared/platform/parking.py) are listed beside them.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel, Field
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.auth import Operator
from shared.platform.errors import NotFound
from shared.platform.mongo import Doc
from shared.platform.settings import ServiceSettings
from shared.schemas import Topic, dead_letter

log = logging.getLogger("dead-letters")
DEAD = "dead_letters"
STORE = "dead_letter_store"


class DeadLetter(BaseModel):
    dead_letter_id: str
    topic: str
    key: str
    consumer_group: str
    reason: str
    exception: str
    event_type: str | None
    event_id: str | None
    first_seen: datetime
    last_seen: datetime
    seen: int
    replays: int = 0
    replayed_at: datetime | None = None
    replayed_by: str | None = None


class ReplayFilter(BaseModel):
    topic: str | None = Field(None, min_length=1, max_length=255)
    consumer_group: str | None = Field(None, min_length=1, max_length=255)
    reason_contains: str | None = Field(None, min_length=1, max_length=255)
    not_replayed_only: bool = True
    limit: int = Field(100, ge=1, le=1000)


def _headers(raw: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in (raw or [])}


class DeadLetterStore:
    def __init__(self, db: AsyncDatabase[Doc], broker: KafkaBroker, settings: ServiceSettings) -> None:
        self.col, self.broker, self.settings = db[DEAD], broker, settings

    async def record(self, msg: KafkaMessage) -> None:
        """Keep a dead letter once: the same record dead-lettered twice (a retried write) counts as seen
        twice."""
        raw: Any = msg.raw_message  # one ConsumerRecord (not a batch subscriber)
        headers = _headers(raw.headers)
        topic = headers.get("x-original-topic", raw.topic.removesuffix(".dlt"))
        group = headers.get("x-consumer-group", "")
        ident = f"{topic}|{headers.get('x-original-partition')}|{headers.get('x-original-offset')}|{group}"
        now = datetime.now(UTC)
        await self.col.update_one(
            {"_id": ident},
            {
                "$set": {
                    "last_seen": now,
                    "reason": headers.get("x-reason", ""),
                    "exception": headers.get("x-exception", ""),
                },
                "$inc": {"seen": 1},
                "$setOnInsert": {
                    "topic": topic,
                    "key": (raw.key or b"").decode(errors="replace"),
                    "consumer_group": group,
                    "body": raw.value or b"",
                    "headers": headers,
                    "event_type": headers.get("event-type"),
                    "event_id": headers.get("event-id"),
                    "first_seen": now,
                    "replays": 0,
                    "replayed_at": None,
                    "replayed_by": None,
                },
            },
            upsert=True,
        )

    @staticmethod
    def _view(doc: Doc) -> DeadLetter:
        return DeadLetter(
            dead_letter_id=doc["_id"],
            **{k: doc.get(k) for k in DeadLetter.model_fields if k != "dead_letter_id" and k in doc},
        )

    async def listing(self, f: ReplayFilter) -> list[DeadLetter]:
        return [
            self._view(d)
            for d in await self.col.find(self._query(f)).sort("first_seen", DESCENDING).to_list(f.limit)
        ]

    @staticmethod
    def _query(f: ReplayFilter) -> Doc:
        query: Doc = {}
        if f.topic:
            query["topic"] = f.topic
        if f.consumer_group:
            query["consumer_group"] = f.consumer_group
        if f.reason_contains:
            query["reason"] = {"$regex": re.escape(f.reason_contains)}
        if f.not_replayed_only:
            query["replays"] = 0
        return query

    async def replay(self, ident: str, operator: str) -> DeadLetter:
        doc = await self.col.find_one({"_id": ident})
        if doc is None:
            raise NotFound(f"no dead letter {ident}", field="dead_letter_id")
        return await self._replay(doc, operator)

    async def replay_many(self, f: ReplayFilter, operator: str) -> list[DeadLetter]:
        return [
            await self._replay(doc, operator)
            for doc in await self.col.find(self._query(f)).sort("first_seen", 1).to_list(f.limit)
        ]

    async def _replay(self, doc: Doc, operator: str) -> DeadLetter:
        """Back to the original topic with its key, body and event headers (not the dead-letter ones)."""
        headers = {k: v for k, v in doc.get("headers", {}).items() if not k.startswith("x-")}
        now = datetime.now(UTC)
        headers.update(
            {"x-replayed-from": doc["_id"], "x-replayed-at": now.isoformat(), "x-replayed-by": operator}
        )
        await self.broker.publish(
            bytes(doc["body"]), topic=doc["topic"], key=doc["key"].encode(), headers=headers
        )
        updated = await self.col.find_one_and_update(
            {"_id": doc["_id"]},
            {"$inc": {"replays": 1}, "$set": {"replayed_at": now, "replayed_by": operator}},
            return_document=ReturnDocument.AFTER,
        )
        log.info("dead letter replayed", extra={"topic": doc["topic"], "reason": doc.get("reason", "")})
        return self._view(updated or doc)


def register_dead_letters(broker: KafkaBroker, settings: ServiceSettings, produced: list[Topic]) -> None:
    """Read the dead-letter twins of the topics this service produces into its dead-letter store."""
    if not produced:
        return

    topics = [settings.topic(dead_letter(t)) for t in produced]

    @broker.subscriber(
        *topics,
        group_id=f"{settings.group_id}.dead-letters",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        decoder=lambda msg: msg.body,
        title=f"{settings.service_name}:dead-letters",
        description="Keep the dead letters of the topics this service produces, for operators to "
        "read and replay.",
    )
    async def keep(msg: KafkaMessage, store: DeadLetterStore = Context(STORE)) -> None:
        await store.record(msg)


router = APIRouter(prefix="/operator", tags=["operator"])
Ident = Annotated[str, Path(min_length=1, max_length=512)]


def _store(request: Request) -> DeadLetterStore:
    store: DeadLetterStore = request.app.state.dead_letter_store
    return store


@router.get("/dead-letters")
async def dead_letters(
    request: Request,
    _: Operator,
    topic: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    consumer_group: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    reason_contains: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    not_replayed_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    """Dead letters of the topics this service produces, newest first (operators only)."""
    return await _store(request).listing(
        ReplayFilter(
            topic=topic,
            consumer_group=consumer_group,
            limit=limit,
            reason_contains=reason_contains,
            not_replayed_only=not_replayed_only,
        )
    )


@router.post("/dead-letters/{dead_letter_id}/replay")
async def replay_one(dead_letter_id: Ident, request: Request, operator: Operator) -> DeadLetter:
    """Publish one dead letter back to its topic, as this service (consumers ignore what they had handled)."""
    return await _store(request).replay(dead_letter_id, operator.account_id)


@router.post("/dead-letters/replay")
async def replay_filtered(body: ReplayFilter, request: Request, operator: Operator) -> list[DeadLetter]:
    """Publish a filtered set of dead letters back to their topics (by default those never replayed)."""
    return await _store(request).replay_many(body, operator.account_id)


parked_router = APIRouter(prefix="/operator", tags=["operator"])


@parked_router.get("/parked")
async def parked(
    request: Request, _: Operator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Events parked until what they are about arrives ("not yet known"), oldest first (operators only)."""
    parking = request.app.state.runtime.parking
    return await parking.listing(limit) if parking is not None else []
