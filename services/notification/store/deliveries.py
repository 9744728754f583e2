"""Deliveries (the queue and the delivery log) and the in-site inbox.

The same repository serves the use cases (in the unit of work's transaction) and the dispatcher, whose claims
and results are conditional writes outside any transaction (store/__init__.py says why), a round's at a time.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_random_exponential

from services.notification.catalogue import Channel
from services.notification.domain import Delivery, DeliveryStatus, replaced_by
from services.notification.inbox import InboxMessage
from services.notification.store.bulk import Update, write_each
from shared.platform import tracing
from shared.platform.collection import Collection, Doc
from shared.platform.deadletter import is_transient
from shared.platform.repository import AggregateRepository

log = logging.getLogger("notification.dispatcher")
ADDRESSED = [Channel.EMAIL, Channel.SMS]  # the channels whose deliveries hold an address
ERASED_FIELDS = {"address", "trace", "last_error", "body", "html", "status"}  # what `domain.erased` changes


@dataclass(frozen=True)
class ProviderStatus:
    """One status callback of the SMS provider for one delivery."""

    delivery_id: str
    status: str
    ref: str
    note: str


@dataclass(frozen=True)
class Result:
    """What became of one claimed delivery, to be written while its row is still `sending`."""

    delivery_id: str
    fields: Doc
    uncount: bool = False  # not an attempt: the attempt it was claimed for is given back

    @classmethod
    def sent(cls, delivery_id: str, ref: str, provider: str, at: datetime) -> Result:
        return cls(
            delivery_id,
            {
                "status": DeliveryStatus.SENT,
                "sent_at": at,
                "provider_ref": ref,
                "provider": provider,
                "last_error": None,
            },
        )

    @classmethod
    def deferred(cls, delivery_id: str, until: datetime, why: str) -> Result:
        """Back to the queue until `until`, and the attempt it was claimed for not counted."""
        return cls(
            delivery_id,
            {"status": DeliveryStatus.PENDING, "next_attempt_at": until, "last_error": why},
            uncount=True,
        )

    @classmethod
    def failed(
        cls, delivery_id: str, status: DeliveryStatus, error: str, next_attempt_at: datetime
    ) -> Result:
        return cls(delivery_id, {"status": status, "last_error": error, "next_attempt_at": next_attempt_at})


# The dispatcher looks for rows whose sender died (their lease ran out) at most this often; for the due ones,
# every round. A lapsed row has waited out a lease of a minute already: a second more is nothing, and a round
# per queued delivery no longer pays a query for rows that almost never exist.
LAPSED_EVERY = timedelta(seconds=1)


class Deliveries(AggregateRepository[Delivery]):
    model = Delivery
    id_field = "delivery_id"

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self._lapsed_looked: datetime | None = None  # when claim_due last looked for lapsed rows

    async def add_all(self, deliveries: list[Delivery]) -> None:
        # The trace of the event that planned them: the dispatcher's send continues it (tracing.py).
        trace = tracing.fields()
        await self.collection.insert_many(
            [{"_id": d.delivery_id, **d.model_dump(), **trace} for d in deliveries]
        )

    # --- the dispatcher: claims and results, a round at a time -------------------------------------------
    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[Doc]:
        """Claim up to `limit` deliveries (`sending` until `lease_until`, one more attempt): due ones first,
        then those whose sender died (their lease ran out), leaving out `exclude` (the worker's). The rows
        come as stored after the claim, for the dispatcher to read one by one (a row that does not load is one
        failed item).

        A few round trips per round, however many rows: the candidates' ids by two plain indexed queries
        (rather than one `$or`: the `$or` with a sort scanned the whole collection on every claim and every
        idle poll, make bench), then a conditional `update_many` (one per query that found some) that claims
        those still due and stamps them with this round's token, then the rows read back by id and token. A
        row another dispatcher took between the query and the claim no longer matches the claim's condition,
        so it is left to it.

        A database error before the claim fails the round (the worker backs off). One during the claim may
        still have claimed rows: they are read back (by their token) and sent now rather than left `sending`
        until their lease runs out; the error is raised only if none were."""
        due = {"status": DeliveryStatus.PENDING, "next_attempt_at": {"$lte": now}}
        lapsed = {"status": DeliveryStatus.SENDING, "lease_until": {"$lt": now}}
        skip = {"_id": {"$nin": sorted(exclude)}} if exclude else {}
        found: list[tuple[Doc, list[str]]] = []  # each query with the ids it found
        ids: list[str] = []
        for query, order in ((due, "next_attempt_at"), (lapsed, "lease_until")):
            if len(ids) >= limit:
                break
            if query is lapsed:
                if self._lapsed_looked is not None and now - self._lapsed_looked < LAPSED_EVERY:
                    break
                self._lapsed_looked = now
            rows = await self.collection.find(
                {**query, **skip}, sort=[(order, 1)], limit=limit - len(ids), projection={"_id": 1}
            )
            found.append((query, [str(r["_id"]) for r in rows]))
            ids += found[-1][1]
        if not ids:
            return []
        token = uuid.uuid4().hex
        failure: PyMongoError | None = None
        try:
            # One claim per query that found rows (almost always the due one alone), each on its own
            # condition: an `$or` of the two would leave the `_id` index unused on SecantusDB (a scan of every
            # delivery per round, make bench).
            for query, some in found:
                if some:
                    await self.collection.update_many(
                        {"_id": {"$in": some}, **query},
                        {
                            "$set": {
                                "status": DeliveryStatus.SENDING,
                                "lease_until": lease_until,
                                "claim": token,
                            },
                            "$inc": {"attempts": 1},
                        },
                    )
        except PyMongoError as exc:  # it may have been applied all the same: look
            failure = exc
        try:
            claimed = await self._claimed(ids, token)
        except PyMongoError:
            if failure is not None:
                raise failure from None
            raise
        if failure is not None and not claimed:
            raise failure
        if failure is not None:
            log.warning("dispatcher: the claim answered %s; %d claimed all the same", failure, len(claimed))
        place = {delivery_id: i for i, delivery_id in enumerate(ids)}
        return sorted(claimed, key=lambda row: place[row["_id"]])

    async def _claimed(self, ids: list[str], token: str) -> list[Doc]:
        """This round's claimed rows, read again while the database is briefly away: they are `sending`
        now, and rows left unread would wait out their whole lease before anyone sent them."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            reraise=True,
            stop=stop_after_delay(5.0),
            wait=wait_random_exponential(multiplier=0.1, max=1.0),
        ):
            with attempt:
                return await self.collection.find({"_id": {"$in": ids}, "claim": token})
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")  # pragma: no cover

    async def record(self, results: list[Result]) -> None:
        """The results of a round's sends, in one round trip: each written only while its row is still
        `sending` (an erasure may have cancelled it meanwhile). Writing a result again is harmless: the row
        is no longer `sending`, so the second write matches nothing."""
        await write_each(
            self.collection,
            [
                Update(
                    {"_id": r.delivery_id, "status": DeliveryStatus.SENDING},
                    {"$set": r.fields, **({"$inc": {"attempts": -1}} if r.uncount else {})},
                )
                for r in results
            ],
        )

    # --- after the fact: provider callbacks, an operator's replay ------------------------------------------
    async def record_provider_statuses(self, statuses: list[ProviderStatus]) -> None:
        """The SMS provider's statuses, in one write: each applies if the delivery's current status is one it
        replaces (or there is none yet), so their order within the write does not matter (a `sent` after
        `delivered` matches nothing)."""
        await write_each(
            self.collection,
            [
                Update(
                    {
                        "_id": s.delivery_id,
                        "channel": Channel.SMS.value,
                        # `$in` with None rather than an `$or`: on SecantusDB a top-level `$or` leaves the
                        # `_id` index unused (a scan of every delivery per callback, make bench).
                        "provider_status": {"$in": [None, *replaced_by(s.status)]},
                    },
                    {
                        "$set": {"provider_status": s.status, "provider_ref": s.ref},
                        "$push": {"trace": s.note},
                    },
                )
                for s in statuses
            ],
        )

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

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self.added: set[str] = set()  # the accounts given a message in this unit of work (app.py wakes them)

    async def add(self, item: InboxMessage) -> None:
        await super().add(item)
        self.added.add(item.account_id)

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
