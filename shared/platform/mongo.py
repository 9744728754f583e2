"""Mongo access: the client, and a unit of work that commits state, outbox and inbox in one transaction.

The unit of work is the only way a use case writes. It gives three guarantees the delivery design rests on:
- *inbox*: the id of the consumed event is inserted (unique) in the same transaction as its effect, so a
  redelivered event finds its id taken and changes nothing;
- *outbox*: events the use case emits are stored in the same transaction as the state that caused them and
  published afterwards by the relay, so no event is published for a change that did not commit, and none is
  lost for a change that did;
- *retry*: transient transaction errors (write conflicts, primary changes) rerun the whole use case.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from shared.platform import effects, metrics, tracing
from shared.platform.collection import Collection, MongoCollection
from shared.platform.errors import DomainError
from shared.platform.staging import StagedCollection
from shared.schemas import Event

Doc = dict[str, Any]
T = TypeVar("T")
U = TypeVar("U", bound="UnitOfWork")

log = logging.getLogger("uow")
OUTBOX = "outbox"
OUTBOX_KEYS = "outbox_keys"  # the last sequence number of each partition key
INBOX = "processed_events"


# Connections per client (PyMongo's default is 100). A burst of requests then queues for a connection in the
# service instead of opening that many transactions at once on the database, where they only slow each other:
# make bench's 100 accepts at once completed with p99 520-660 ms at 16 against 650-1,000 ms at 100. A change
# stream holds one while it waits (a service has up to four); a transaction takes one per command, not for its
# whole length. MONGODB_MAX_POOL_SIZE sets it per service; a `maxPoolSize` in the URI wins.
MAX_POOL_SIZE = 16


def connect(uri: str, max_pool_size: int = MAX_POOL_SIZE) -> AsyncMongoClient[Doc]:
    """Create the client inside the running event loop (PyMongo's async client must not cross loops)."""
    named = {key.lower() for key in parse_qs(urlsplit(uri).query)}  # the URI's options (case-insensitive)
    options: dict[str, Any] = {} if "maxpoolsize" in named else {"maxPoolSize": max_pool_size}
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5000,
        appname="koo-suite",
        **options,
    )


def outbox_document(event: Event, seq: int, traceparent: str | None = None) -> Doc:
    """The row the relay publishes; `traceparent` (the trace of what emitted the event) goes into the record's
    headers, so the consumer continues that trace (tracing.py)."""
    return {
        "_id": str(event.event_id),
        "seq": seq,
        "topic": event.topic,
        "key": event.partition_key,
        "event_type": event.event_type,
        "body": event.model_dump_json(),
        "created_at": datetime.now(UTC),
        "published_at": None,
        **({tracing.TRACEPARENT: traceparent} if traceparent else {}),
    }


class UnitOfWork:
    """What use cases see. Subclasses add the service's repositories."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.committed = False
        self.effect_marker: str | None = None  # set by the runner for a request with an Idempotency-Key
        self.batched = False  # set by the runner for a batch of events: loads and saves grouped (staging.py)
        # False (set by the runner): a use case whose one write is a conditional update of one document,
        # atomic by itself; it runs without a transaction and may emit nothing.
        self.transactional = True
        # Per consumer, the events found already claimed (redeliveries): counted once the work succeeds.
        self.duplicates: dict[str, int] = {}
        self.traces: dict[str, str] = {}  # event id -> the trace it was emitted in (tracing on only)

    def found_claimed(self, consumer: str, count: int = 1) -> None:
        if count > 0:
            self.duplicates[consumer] = self.duplicates.get(consumer, 0) + count

    def emit(self, *events: Event) -> None:
        self.pending.extend(events)
        if traceparent := tracing.current_traceparent():
            self.traces.update((str(e.event_id), traceparent) for e in events)

    async def claim(self, consumer: str, event: Event) -> bool:
        """Record that `consumer` processed `event`; False if it already had (then do nothing)."""
        raise NotImplementedError

    async def claim_all(self, consumer: str, events: list[Event]) -> list[Event]:
        """Claim a batch's events; those `consumer` had not processed yet, in order (a repeat once)."""
        return [e for e in events if await self.claim(consumer, e)]

    async def unclaimed(self, consumer: str, events: list[Event]) -> set[str]:
        """The ids of these events `consumer` has not processed yet (nothing is claimed): for a batch that
        claims only some of its events, one by one, without provoking a duplicate-key error (which aborts a
        transaction on MongoDB)."""
        raise NotImplementedError

    async def prefetch(self, name: str, ids: list[str]) -> None:
        """Load these documents of collection `name` in one query, for a batch (staging.py); a hint only."""

    async def commit(self) -> None:
        raise NotImplementedError

    def collection(self, name: str) -> Collection:
        """A collection in this unit of work (its transaction, or its staged tables in memory)."""
        raise NotImplementedError

    def bind(self) -> None:
        """Attach the service's repositories, once the unit of work has begun (a service's unit of work says
        which: `self.orders = Orders(self.collection("orders"))`)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class MongoUnitOfWork(UnitOfWork):
    def __init__(
        self,
        client: AsyncMongoClient[Doc],
        db: AsyncDatabase[Doc],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self.client, self.db, self._on_commit = client, db, on_commit
        self.session: AsyncClientSession
        self._staged: dict[str, StagedCollection] = {}

    async def __aenter__(self) -> Self:
        self.session = self.client.start_session()
        if self.transactional:
            await self.session.start_transaction()
        self.bind()
        return self

    def collection(self, name: str) -> Collection:
        if not self.batched:
            return MongoCollection(self.db[name], self.session)
        if name not in self._staged:
            self._staged[name] = StagedCollection(MongoCollection(self.db[name], self.session))
        return self._staged[name]

    async def prefetch(self, name: str, ids: list[str]) -> None:
        staged = self.collection(name)
        if isinstance(staged, StagedCollection):
            await staged.prefetch(ids)

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.session.in_transaction:
                await self.session.abort_transaction()
        finally:
            await self.session.end_session()

    async def claim(self, consumer: str, event: Event) -> bool:
        try:
            await self.db[INBOX].insert_one(
                {
                    "_id": f"{consumer}:{event.event_id}",
                    "event_type": event.event_type,
                    "processed_at": datetime.now(UTC),
                },
                session=self.session,
            )
        except DuplicateKeyError:
            self.found_claimed(consumer)
            return False
        return True

    async def claim_all(self, consumer: str, events: list[Event]) -> list[Event]:
        """Two round trips for the batch: which ids are taken, then one insert of the others. (A failed
        insert inside a transaction aborts it on MongoDB, so duplicates are looked up, not provoked.) An id
        taken meanwhile by another consumer fails the insert, and the batch is rerun or handled one by one."""
        fresh: dict[str, Event] = {}
        for e in events:
            fresh.setdefault(f"{consumer}:{e.event_id}", e)
        taken = {
            d["_id"]
            for d in await self.db[INBOX]
            .find({"_id": {"$in": sorted(fresh)}}, {"_id": 1}, session=self.session)
            .to_list(None)
        }
        now = datetime.now(UTC)
        rows = [
            {"_id": key, "event_type": e.event_type, "processed_at": now}
            for key, e in fresh.items()
            if key not in taken
        ]
        if rows:
            await self.db[INBOX].insert_many(rows, session=self.session)
        claimed = [e for key, e in fresh.items() if key not in taken]
        self.found_claimed(consumer, len(events) - len(claimed))  # a repeat within the batch as well
        return claimed

    async def unclaimed(self, consumer: str, events: list[Event]) -> set[str]:
        keys = {f"{consumer}:{e.event_id}": str(e.event_id) for e in events}
        taken = {
            d["_id"]
            for d in await self.db[INBOX]
            .find({"_id": {"$in": sorted(keys)}}, {"_id": 1}, session=self.session)
            .to_list(None)
        }
        unclaimed = {event_id for key, event_id in keys.items() if key not in taken}
        self.found_claimed(consumer, len(events) - len(unclaimed))
        return unclaimed

    async def _sequences(self, events: list[Event]) -> list[int]:
        """Each event's outbox sequence number: strictly after the last one of its partition key, whatever the
        replicas' clocks say (the relay publishes in this order, and Kafka keeps a key's order only if we do),
        and close to the wall clock otherwise. A key's `last` becomes max(last + k, now) for its k events, and
        they take the k numbers ending there: one round trip for one key, two for a batch's many (a read and
        one bulk write). Two transactions on one key conflict here, and one is rerun."""
        counts: dict[str, int] = {}
        for e in events:
            counts[e.partition_key] = counts.get(e.partition_key, 0) + 1
        now = time.time_ns()  # fits BSON's int64 until 2262
        last: dict[str, int] = {}
        if len(counts) == 1:
            ((key, k),) = counts.items()
            doc = await self.db[OUTBOX_KEYS].find_one_and_update(
                {"_id": key},
                [{"$set": {"last": {"$max": [{"$add": [{"$ifNull": ["$last", 0]}, k]}, now]}}}],
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=self.session,
            )
            assert doc is not None  # upserted
            last[key] = int(doc["last"])
        else:  # a batch's many keys: one read and one write for all of them
            stored = {
                d["_id"]: int(d["last"])
                for d in await self.db[OUTBOX_KEYS]
                .find({"_id": {"$in": sorted(counts)}}, session=self.session)
                .to_list(None)
            }
            last = {key: max(stored.get(key, 0) + k, now) for key, k in counts.items()}
            await self.db[OUTBOX_KEYS].bulk_write(
                [UpdateOne({"_id": key}, {"$set": {"last": v}}, upsert=True) for key, v in last.items()],
                ordered=False,
                session=self.session,
            )
        next_of = {key: last[key] - k + 1 for key, k in counts.items()}
        seqs = []
        for e in events:
            seqs.append(next_of[e.partition_key])
            next_of[e.partition_key] += 1
        return seqs

    async def commit(self) -> None:
        if self.pending and not self.transactional:
            raise RuntimeError("a use case that emits events runs in a transaction")
        for staged in self._staged.values():
            await staged.flush()
        if self.pending:
            seqs = await self._sequences(self.pending)
            rows = [
                outbox_document(e, seq, self.traces.get(str(e.event_id)))
                for e, seq in zip(self.pending, seqs, strict=True)
            ]
            await self.db[OUTBOX].insert_many(rows, session=self.session)
        self.committed = True
        if self.effect_marker is None:
            await self.finish()
        # else: a keyed request's use case; the runner commits once it has its result, kept with the effect
        # marker in this same transaction (effects.py)

    async def finish(self) -> None:
        """Commit the transaction for real."""
        if not self.transactional:
            return
        await self.session.commit_transaction()
        if self.pending:
            self._on_commit()


class UnitOfWorkFactory(Generic[U]):
    """The one transaction runner of every use case: a unit of work per attempt, rerun on conflicts.

    `run(work)` is a command: open a unit of work, let `work` load, decide and save (state and outbox),
    commit. `handle(consumer, event, work)` is the same for a consumed event, with the event's id claimed in
    the same transaction (the inbox): a redelivered event finds its id taken and changes nothing (None).
    `handle_batch` claims and handles several events in one transaction (one commit for the batch).

    Reruns (tenacity) pause with jittered exponential backoff, so concurrent writers of one document fall out
    of lockstep, for `patience` seconds: longer than the database's transaction lifetime (60 s in mongod and
    SecantusDB) on purpose, since a replica killed in the middle of a transaction leaves its writes locked
    until the server reaps that transaction. Only conflicts are rerun here; an outage (the database
    unreachable) is the consumer's to wait out (shared/platform/deadletter.py), and `attempts` caps the reruns
    in tests.
    """

    def __init__(
        self,
        make: Callable[[], U],
        attempts: int | None = None,
        patience: float = 75.0,
        service: str | None = None,
    ) -> None:
        self._make, self._attempts, self._patience = make, attempts, patience
        self.service = service  # the metrics' `service` label; else the consumer's name (it is the service's)
        self._committed: list[Callable[[U], None]] = []

    def on_commit(self, listener: Callable[[U], None]) -> None:
        """Call `listener(uow)` after each unit of work whose commit went through (never for an attempt that
        was rerun or failed): in-process news of what was written, e.g. waking the reads waiting for it. A
        listener that raises is logged; the use case still returns its result, since its commit stands."""
        self._committed.append(listener)

    def __call__(self) -> U:
        return self._make()

    async def run(
        self, work: Callable[[U], Awaitable[T]], *, batched: bool = False, transaction: bool = True
    ) -> T:
        """`transaction=False`: the use case's one write is a conditional update of one document (atomic by
        itself, as the dispatcher's marks are); it saves the transaction's two extra round trips. A keyed
        request (Idempotency-Key) always runs in a transaction, with its effect marker."""
        request = effects.REQUEST.get()
        transaction = transaction or request is not None
        marker = request.next_marker() if request is not None else None
        stop = (
            stop_after_attempt(self._attempts)
            if self._attempts is not None
            else stop_after_delay(self._patience)
        )
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop,
            reraise=True,
            wait=wait_random_exponential(multiplier=0.01, max=2.0),
            before_sleep=_rerun_logged,
        ):
            with attempt:
                fresh = self._make()
                fresh.batched, fresh.transactional = batched, transaction
                async with fresh as uow:
                    db = uow.db if isinstance(uow, MongoUnitOfWork) else None  # fakes mark nothing
                    again = request is not None and (
                        request.taken_over or attempt.retry_state.attempt_number > 1
                    )
                    if db is not None and marker is not None and again:
                        first = await effects.recall(db, marker)  # what a dead replica's attempt committed
                        if not effects.missing(first):
                            return cast(T, first)
                    uow.effect_marker = marker if db is not None else None
                    result = await work(uow)
                    if uow.pending and not uow.committed:
                        raise RuntimeError("a use case emitted events without committing them")
                    if db is not None and marker is not None and uow.committed:
                        mongo = cast(MongoUnitOfWork, uow)
                        await effects.mark(db, mongo.session, marker, result)  # in the same transaction
                        await mongo.finish()
                    for consumer, count in uow.duplicates.items():  # this attempt's, the one that counts
                        metrics.inbox_duplicates(self.service or consumer, consumer, count)
                if fresh.committed:
                    for listener in self._committed:
                        try:
                            listener(fresh)
                        except Exception:  # the commit went through: news that fails is logged, not raised
                            log.exception("a commit listener failed (the commit stands)")
                return result
        raise AssertionError("unreachable")

    async def handle(self, consumer: str, event: Event, work: Callable[[U], Awaitable[T]]) -> T | None:
        """Claim → load → decide → save state and outbox → commit; None when the event was handled before."""

        async def claimed(uow: U) -> T | None:
            if not await uow.claim(consumer, event):
                return None
            result = await work(uow)
            if not uow.committed:
                await uow.commit()
            return result

        return await self.run(claimed)

    async def handle_batch(
        self,
        consumer: str,
        events: list[Event],
        work: Callable[[U, Event], Awaitable[T]],
        prefetch: Callable[[U, list[Event]], Awaitable[None]] | None = None,
    ) -> list[T | None]:
        """A batch of events in one transaction: the ids claimed in two round trips, `prefetch` loading what
        the batch's handlers will read (`uow.prefetch(collection, ids)`), each event handled in order, the
        saves written together and one commit for all (staging.py). A result per event; None for one handled
        before. A failure reruns the whole batch (conflicts) or fails it; the batch consumer then handles its
        events one by one (batching.py), so one bad event costs the others nothing."""

        async def claimed(uow: U) -> list[T | None]:
            fresh = await uow.claim_all(consumer, events)
            if prefetch is not None and fresh:
                await prefetch(uow, fresh)
            results: dict[str, T] = {}
            for e in fresh:
                with tracing.handling(str(e.event_id), e.event_type):  # in the event's own trace
                    results[str(e.event_id)] = await work(uow, e)
            await uow.commit()
            first: set[str] = set()  # a repeat of an event within the batch is a duplicate, as redelivered
            out: list[T | None] = []
            for e in events:
                key = str(e.event_id)
                out.append(results[key] if key in results and key not in first else None)
                first.add(key)
            return out

        return await self.run(claimed, batched=True)


def _rerun_logged(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.info(
        "transaction rerun (attempt %d failed): %s",
        state.attempt_number,
        f"{type(exc).__name__}: {exc}"[:300],
    )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, DomainError):
        return exc.transient
    return isinstance(exc, PyMongoError) and (
        exc.has_error_label("TransientTransactionError")
        or exc.has_error_label("UnknownTransactionCommitResult")
    )


async def ensure_platform_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[OUTBOX].create_index([("published_at", 1), ("seq", 1)])
    await db["audit_log"].create_index([("at", -1)])
    await db["audit_log"].create_index([("actor_account_id", 1), ("at", -1)])
    await db["worker_items"].create_index([("worker", 1)])
    await db["parked_events"].create_index([("next_try_at", 1)])
    await db["parked_events"].create_index([("aggregate", 1)])
    await db["dead_letters"].create_index([("first_seen", -1)])
    with contextlib.suppress(
        PyMongoError
    ):  # a server without TTL indexes: the middleware checks expiry itself
        await db["idempotency_keys"].create_index([("expires_at", 1)], expireAfterSeconds=0)
        await db[effects.EFFECTS].create_index([("at", 1)], expireAfterSeconds=2 * 86400)


async def ping(client: AsyncMongoClient[Doc]) -> None:
    await client.admin.command("ping")
