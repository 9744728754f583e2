"""Deliveries (the queue and the delivery log) and the in-site inbox.

The same repository serves the use cases (in the unit of work's transaction) and the dispatcher, whose claims
and marks are single-document writes outside any transaction (store/__init__.py says why).
"""

from __future__ import annotations

import logging
from datetime import datetime

from pymongo.errors import PyMongoError

from services.notification.catalogue import Channel
from services.notification.domain import Delivery, DeliveryStatus
from services.notification.inbox import InboxMessage
from shared.platform.collection import Doc
from shared.platform.repository import AggregateRepository

log = logging.getLogger("notification.dispatcher")
ADDRESSED = [Channel.EMAIL, Channel.SMS]  # the channels whose deliveries hold an address
ERASED_FIELDS = {"address", "trace", "last_error", "body", "html", "status"}  # what `domain.erased` changes


class Deliveries(AggregateRepository[Delivery]):
    model = Delivery
    id_field = "delivery_id"

    async def add_all(self, deliveries: list[Delivery]) -> None:
        await self.collection.insert_many([{"_id": d.delivery_id, **d.model_dump()} for d in deliveries])

    # --- the dispatcher: claims and results, one document at a time ---------------------------------------
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[Doc]:
        """Claim up to `limit` deliveries (`sending` until `lease_until`, one more attempt): due ones first,
        then those whose sender died (their lease ran out), leaving out `exclude` (the worker's). The rows
        come as stored, for the dispatcher to read one by one (a row that does not load is one failed item).

        Two plain indexed queries rather than one `$or`: the `$or` with a sort scanned the whole collection
        on every claim and every idle poll, and claims slowed down as the delivery log grew (make bench). Each
        candidate is claimed by a conditional write, so a row another dispatcher took meanwhile is left to it.
        A database error before anything was claimed fails the round (the worker backs off); after some were
        claimed, those are sent now rather than left `sending` until their lease runs out."""
        claim = {
            "$set": {"status": DeliveryStatus.SENDING, "lease_until": lease_until},
            "$inc": {"attempts": 1},
        }
        skip = {"_id": {"$nin": sorted(exclude)}} if exclude else {}
        claimed: list[Doc] = []
        try:
            for query, order in (
                ({"status": DeliveryStatus.PENDING, "next_attempt_at": {"$lte": now}}, "next_attempt_at"),
                ({"status": DeliveryStatus.SENDING, "lease_until": {"$lt": now}}, "lease_until"),
            ):
                if len(claimed) >= limit:
                    break
                for row in await self.collection.find(
                    {**query, **skip}, sort=[(order, 1)], limit=limit - len(claimed)
                ):
                    if await self.collection.update_one({"_id": row["_id"], **query}, claim):
                        claimed.append(
                            {
                                **row,
                                "status": DeliveryStatus.SENDING,
                                "lease_until": lease_until,
                                "attempts": row.get("attempts", 0) + 1,
                            }
                        )
        except PyMongoError as exc:
            if not claimed:
                raise
            log.warning("dispatcher: claiming stopped after %d deliveries: %s", len(claimed), exc)
        return claimed

    async def mark_sent(self, delivery_id: str, ref: str, provider: str, at: datetime) -> None:
        await self._settle(
            delivery_id,
            {
                "status": DeliveryStatus.SENT,
                "sent_at": at,
                "provider_ref": ref,
                "provider": provider,
                "last_error": None,
            },
        )

    async def defer(self, delivery_id: str, until: datetime, why: str) -> None:
        """Back to the queue until `until`, and the attempt it was claimed for not counted."""
        await self._settle(
            delivery_id,
            {"status": DeliveryStatus.PENDING, "next_attempt_at": until, "last_error": why},
            uncount=True,
        )

    async def failed(
        self, delivery_id: str, status: DeliveryStatus, error: str, next_attempt_at: datetime
    ) -> None:
        await self._settle(
            delivery_id, {"status": status, "last_error": error, "next_attempt_at": next_attempt_at}
        )

    async def _settle(self, delivery_id: str, fields: Doc, *, uncount: bool = False) -> None:
        """The result of a claimed send: written only while the row is still `sending` (an erasure may have
        cancelled it meanwhile)."""
        update: Doc = {"$set": fields, **({"$inc": {"attempts": -1}} if uncount else {})}
        await self.collection.update_one({"_id": delivery_id, "status": DeliveryStatus.SENDING}, update)

    # --- after the fact: provider callbacks, an operator's replay ------------------------------------------
    async def record_provider_status(
        self, delivery_id: str, status: str, ref: str, replaces: list[str], note: str
    ) -> bool:
        """The SMS provider's status, if the delivery's current one is in `replaces` (or none yet)."""
        matched = await self.collection.update_one(
            {
                "_id": delivery_id,
                "channel": Channel.SMS.value,
                "$or": [{"provider_status": None}, {"provider_status": {"$in": replaces}}],
            },
            {"$set": {"provider_status": status, "provider_ref": ref}, "$push": {"trace": note}},
        )
        return matched == 1

    async def replay(self, delivery_id: str, now: datetime, note: str) -> bool:
        """A dead (or refused) delivery back in the queue with fresh attempts; False if it was neither."""
        matched = await self.collection.update_one(
            {"_id": delivery_id, "status": {"$in": [DeliveryStatus.DEAD, DeliveryStatus.FAILED]}},
            {
                "$set": {"status": DeliveryStatus.PENDING, "attempts": 0, "next_attempt_at": now},
                "$inc": {"replays": 1},
                "$push": {"trace": note},
            },
        )
        return matched == 1

    async def status(self, delivery_id: str) -> str | None:
        doc = await self.collection.find_one({"_id": delivery_id}, projection={"status": 1})
        return None if doc is None else str(doc["status"])

    # --- an account's contact data ------------------------------------------------------------------------
    async def addressed_to(self, account_id: str) -> list[Delivery]:
        """The account's e-mail and SMS deliveries (those that hold an address)."""
        return await self._find({"account_id": account_id, "channel": {"$in": ADDRESSED}})

    async def save_erased(self, delivery: Delivery) -> None:
        await self.collection.update_one(
            {"_id": delivery.delivery_id}, {"$set": delivery.model_dump(include=ERASED_FIELDS)}
        )

    async def addresses(self, account_id: str, channel: Channel, limit: int) -> list[str]:
        """The distinct addresses the account's deliveries on `channel` went to (at most `limit`)."""
        docs = await self.collection.find(
            {"account_id": account_id, "channel": channel}, projection={"address": 1, "_id": 0}
        )
        return sorted({str(d["address"]) for d in docs})[:limit]


class Inbox(AggregateRepository[InboxMessage]):
    model = InboxMessage
    id_field = "message_id"

    async def holds(self, account_id: str, message_id: str) -> bool:
        return await self.collection.count({"_id": message_id, "account_id": account_id}) > 0

    async def mark_read(self, account_id: str, message_id: str | None) -> int:
        """Mark one message (or all) of the account read; how many were unread."""
        query: Doc = {"account_id": account_id, "read": False}
        if message_id is not None:
            query["_id"] = message_id
        return await self.collection.update_many(query, {"$set": {"read": True}})

    async def delete(self, account_id: str, message_id: str) -> bool:
        return await self.collection.delete_one({"_id": message_id, "account_id": account_id}) == 1
