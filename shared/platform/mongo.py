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

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.platform.errors import DomainError
from shared.schemas import Event

Doc = dict[str, Any]
T = TypeVar("T")
U = TypeVar("U", bound="UnitOfWork")

OUTBOX = "outbox"
INBOX = "processed_events"
_last_seq = 0


def connect(uri: str) -> AsyncMongoClient[Doc]:
    """Create the client inside the running event loop (PyMongo's async client must not cross loops)."""
    return AsyncMongoClient(uri, tz_aware=True, uuidRepresentation="standard",
                            serverSelectionTimeoutMS=5000, appname="koo-suite")


def next_seq() -> int:
    """Monotonic within a process and roughly time-ordered across processes.

    One order's events come from transactions serialised on that order's document (optimistic version
    check), so ordering them by this number keeps their causal order; clock skew between replicas only
    matters for the same order written by two replicas within the skew.
    """
    global _last_seq
    _last_seq = max(_last_seq + 1, time.time_ns())  # fits BSON's int64 until the year 2262
    return _last_seq


def outbox_document(event: Event) -> Doc:
    return {
        "_id": str(event.event_id),
        "seq": next_seq(),
        "topic": event.topic,
        "key": event.partition_key,
        "event_type": event.event_type,
        "body": event.model_dump_json(),
        "created_at": datetime.now(UTC),
        "published_at": None,
    }


class UnitOfWork:
    """What use cases see. Subclasses add the service's repositories."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.committed = False

    def emit(self, *events: Event) -> None:
        self.pending.extend(events)

    async def claim(self, consumer: str, event: Event) -> bool:
        """Record that `consumer` processed `event`; False if it already had (then do nothing)."""
        raise NotImplementedError

    async def commit(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class MongoUnitOfWork(UnitOfWork):
    def __init__(self, client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
                 on_commit: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.client, self.db, self._on_commit = client, db, on_commit
        self.session: AsyncClientSession

    async def __aenter__(self) -> Self:
        self.session = self.client.start_session()
        await self.session.start_transaction()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.session.in_transaction:
                await self.session.abort_transaction()
        finally:
            await self.session.end_session()

    async def claim(self, consumer: str, event: Event) -> bool:
        try:
            await self.db[INBOX].insert_one(
                {"_id": f"{consumer}:{event.event_id}", "event_type": event.event_type,
                 "processed_at": datetime.now(UTC)},
                session=self.session)
        except DuplicateKeyError:
            return False
        return True

    async def commit(self) -> None:
        if self.pending:
            await self.db[OUTBOX].insert_many([outbox_document(e) for e in self.pending], session=self.session)
        await self.session.commit_transaction()
        self.committed = True
        if self.pending:
            self._on_commit()


class UnitOfWorkFactory(Generic[U]):
    """Opens units of work and reruns a use case on transient transaction errors.

    Reruns pause with jittered exponential backoff (concurrent writers of one document fall out of lockstep)
    and keep going for `patience` seconds. The budget is longer than the database's transaction lifetime
    (60 s in mongod and SecantusDB) on purpose: a replica killed in the middle of a transaction leaves its
    writes locked until the server reaps that transaction, and giving up sooner would dead-letter an event
    that succeeds a minute later. `attempts` caps the reruns instead (tests).
    """

    def __init__(self, make: Callable[[], U], attempts: int | None = None, patience: float = 75.0) -> None:
        self._make, self._attempts, self._patience = make, attempts, patience

    def __call__(self) -> U:
        return self._make()

    async def run(self, work: Callable[[U], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self._patience
        for attempt in itertools.count(1):
            try:
                async with self._make() as uow:
                    return await work(uow)
            except (PyMongoError, DomainError) as exc:
                spent = attempt >= self._attempts if self._attempts is not None else time.monotonic() > deadline
                if not _transient(exc) or spent:
                    raise
            await asyncio.sleep(random.uniform(0.005, min(2.0, 0.01 * 2 ** attempt)))
        raise AssertionError("unreachable")


def _transient(exc: PyMongoError | DomainError) -> bool:
    if isinstance(exc, DomainError):
        return exc.transient
    return exc.has_error_label("TransientTransactionError") or exc.has_error_label(
        "UnknownTransactionCommitResult")


async def ensure_platform_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[OUTBOX].create_index([("published_at", 1), ("seq", 1)])
    await db["audit_log"].create_index([("at", -1)])
    await db["audit_log"].create_index([("actor_account_id", 1), ("at", -1)])


async def ping(client: AsyncMongoClient[Doc]) -> None:
    await client.admin.command("ping")
