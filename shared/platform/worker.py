"""One leased worker for every background loop: the outbox relay, the notification dispatcher and reminders,
the unpaid-order sweeper, supervision's timers, partner's merchant calls and bill runs, parked events.

A `Source` says what work is due and how to do one item; `LeasedWorker` does the rest, the same way
everywhere:
- one replica at a time holds the worker's lease (a document in Mongo), renewed by a keeper task every third
  of its time-to-live *while* the worker is busy, not once per round; a holder that fails to renew stops
  taking items at once, so two replicas never work the same items for longer than the in-flight ones take;
- it wakes when its collection changes (a change stream) or when the process nudges it, and at the latest
  after its poll interval, so new work starts at once without tight polling;
- an item that fails is recorded (attempts, last error, next try, in `worker_items`) and retried with backoff;
  after `max_attempts` it is quarantined: reported and counted, never retried by itself, never in the way of
  the others. One bad item never blocks the rest;
- every exception is logged with the worker and the item;
- `health()` says whether it is alive, whether it holds the lease, its last successful round and how many
  items are quarantined; `/readyz` fails while a worker's task is dead, not for quarantined items.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.platform.deadletter import is_transient
from shared.platform.lease import Lease
from shared.platform.mongo import Doc

log = logging.getLogger("worker")
ITEMS_REFRESH = 5.0  # seconds between reads of a worker's failure records while nothing changed them
ITEMS = "worker_items"
I = TypeVar("I")  # noqa: E741 - the item type


@dataclass(frozen=True)
class Blocked:
    """Items this worker must not take now: backing off after a failure, or quarantined."""

    backing_off: frozenset[str] = frozenset()
    quarantined: frozenset[str] = frozenset()

    @property
    def all(self) -> frozenset[str]:
        return self.backing_off | self.quarantined


class Source(Protocol[I]):
    """What a worker works on. `due` must leave out the keys in `blocked` (they are few)."""

    name: str

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[I]: ...

    def key(self, item: I) -> str: ...

    async def process(self, item: I) -> None: ...


class IdSource:
    """A base for sources whose items are ids: an item is its own key."""

    def key(self, item: str) -> str:
        return item


class BatchSource(Source[I], Protocol[I]):
    """A source that does a whole batch at once (the outbox relay publishes in order, then waits for the
    acks).
    It answers the items that failed, with their errors; the rest succeeded."""

    async def process_batch(self, items: list[I]) -> dict[str, BaseException]: ...


@dataclass
class Health:
    name: str
    alive: bool
    holding_lease: bool
    last_success_at: datetime | None
    last_error: str | None
    quarantined: int
    processed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "alive": self.alive,
            "holding_lease": self.holding_lease,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_error": self.last_error,
            "quarantined": self.quarantined,
            "processed": self.processed,
        }


RECENT_KEYS = 4096  # how many processed keys a worker keeps to recognise the news of their inserts


@dataclass
class WorkerSettings:
    poll_seconds: float = 1.0
    lease_seconds: float = 15.0
    batch: int = 100
    concurrency: int = 1
    max_attempts: int = 8
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    watch: str | None = None  # a collection whose inserts wake the worker
    # Woken while idle, wait this long before the round, so that the work queued meanwhile joins it (fewer,
    # fuller rounds: each costs its claim and its marks in round trips); work queued during a round needs no
    # such wait. 0 where latency counts (the outbox relay).
    gather_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: object, prefix: str, **fixed: Any) -> WorkerSettings:
        """A worker's settings from a service's `<prefix>_poll_seconds`, `<prefix>_lease_seconds`,
        `<prefix>_max_attempts`... (those it has), then `fixed`, then the defaults."""
        configured = {
            f.name: getattr(settings, f"{prefix}_{f.name}")
            for f in fields(cls)
            if hasattr(settings, f"{prefix}_{f.name}")
        }
        return cls(**configured, **fixed)


@dataclass
class LeasedWorker(Generic[I]):
    db: AsyncDatabase[Doc]
    source: Source[I]
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.name = self.source.name
        self.lease = Lease(self.db, f"worker:{self.name}", self.settings.lease_seconds)
        self.holding = False
        self.last_success_at: datetime | None = None
        self.last_error: str | None = None
        self.quarantined = 0
        self.processed = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._helpers: list[asyncio.Task[None]] = []
        # The worker's failure records as last read: while this replica holds the lease it is their only
        # writer, so a round reads them again only after it wrote some, on taking the lease, or every
        # ITEMS_REFRESH seconds (one query less per round: the relay runs a round per commit).
        self._items: list[Doc] | None = None
        self._items_read_at = datetime.min.replace(tzinfo=UTC)
        # The keys this worker processed lately, oldest first: the change stream's news of their inserts
        # (which often comes after the nudge's round took them) wakes no round that would find nothing.
        self._recent: dict[str, None] = {}

    # --- life ---------------------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=f"worker:{self.name}")
        self._helpers = [asyncio.create_task(self._keep_lease(), name=f"worker:{self.name}:lease")]
        if self.settings.watch:
            self._helpers.append(
                asyncio.create_task(self._watch(self.settings.watch), name=f"worker:{self.name}:watch")
            )
        return self._task

    def nudge(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for task in [*self._helpers, *([self._task] if self._task else [])]:
            task.cancel()
        await asyncio.gather(*self._helpers, *([self._task] if self._task else []), return_exceptions=True)
        if self.holding:
            with contextlib.suppress(Exception):
                await self.lease.release()
            self.holding = False

    def health(self) -> Health:
        alive = self._task is not None and not self._task.done()
        return Health(
            self.name,
            alive,
            self.holding,
            self.last_success_at,
            self.last_error,
            self.quarantined,
            self.processed,
        )

    # --- the loop -----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            busy = False
            try:
                if not self.holding:
                    self.holding = await self.lease.acquire()
                    self._items = None  # another replica may have recorded failures meanwhile
                if self.holding:
                    busy = await self.round()
                self.last_success_at, failures = self.clock(), 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down, a source bug: log, back off, go on
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning(
                    "worker %s: round failed (%d in a row), will retry: %s",
                    self.name,
                    failures,
                    self.last_error,
                    exc_info=not isinstance(exc, PyMongoError | OSError | TimeoutError),
                )
                await self._sleep(min(30.0, self.settings.poll_seconds * 2 ** min(failures, 5)))
                continue
            if not busy:
                queued = self._wake.is_set()  # during the round: it gathered while the round ran
                woken = await self._sleep(self.settings.poll_seconds)
                if woken and not queued and self.settings.gather_seconds:
                    await asyncio.sleep(self.settings.gather_seconds)  # woken from idle: a moment for company

    async def _sleep(self, seconds: float) -> bool:
        """Until woken or `seconds` pass; True if woken."""
        woken = False
        with contextlib.suppress(asyncio.TimeoutError):
            woken = await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
        return woken

    async def round(self) -> bool:
        """One round: the due items, processed; True when the batch was full (more may be waiting)."""
        now = self.clock()
        blocked = await self._blocked(now)
        items = await self.source.due(now, self.settings.batch, blocked)
        if not items:
            return False
        process_batch = getattr(self.source, "process_batch", None)
        if process_batch is not None:
            await self._settle(items, await process_batch(items))
        else:
            gate = asyncio.Semaphore(self.settings.concurrency)

            async def one(item: I) -> tuple[str, BaseException | None]:
                async with gate:
                    if not self.holding:  # the lease was lost meanwhile: leave it to the new holder
                        return self.source.key(item), _NotTaken()
                    try:
                        await self.source.process(item)
                        return self.source.key(item), None
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        return self.source.key(item), exc

            results = await asyncio.gather(*(one(i) for i in items))
            await self._settle(items, {k: e for k, e in results if e is not None})
        return len(items) >= self.settings.batch

    def _remember(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._recent[key] = None
        while len(self._recent) > RECENT_KEYS:
            del self._recent[next(iter(self._recent))]

    async def _settle(self, items: Iterable[I], failed: dict[str, BaseException]) -> None:
        self._remember(self.source.key(i) for i in items)  # taken: done, failed (retried on its own) or left
        now = self.clock()
        col = self.db[ITEMS]
        done = [self.source.key(i) for i in items if self.source.key(i) not in failed]
        self.processed += len(done)
        recorded = None if self._items is None else {d["key"] for d in self._items}
        if recorded is not None:  # known: clear only the records that exist (none, in a round that went well)
            done = [key for key in done if key in recorded]
        if any(not isinstance(e, _NotTaken) for e in failed.values()) or done:
            self._items = None  # failure records written or cleared here: read them again next round
        if done:  # their failure records, in one write (a round of many items costs one round trip)
            await col.delete_many(
                {"_id": {"$in": [f"{self.name}:{key}" for key in done]}, "quarantined_at": None}
            )
        for item in items:
            key = self.source.key(item)
            exc = failed.get(key)
            if exc is None:
                continue
            if isinstance(exc, _NotTaken):
                continue
            # An outage (the database stalls mid-item) is not the item's fault: it backs off, but only the
            # item's own failures count toward its quarantine.
            outage = is_transient(exc)
            log.log(
                logging.WARNING if outage else logging.ERROR,
                "worker %s: item %s failed: %s",
                self.name,
                key,
                exc,
                exc_info=None if outage else (type(exc), exc, exc.__traceback__),
                extra={"worker": self.name, "item": key},
            )
            doc = await col.find_one_and_update(
                {"_id": f"{self.name}:{key}"},
                {
                    "$inc": {"outages" if outage else "attempts": 1},
                    "$set": {
                        "worker": self.name,
                        "key": key,
                        "last_error": f"{type(exc).__name__}: {exc}"[:1000],
                        "last_failed_at": now,
                    },
                    "$setOnInsert": {"first_failed_at": now, "quarantined_at": None},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            attempts = int((doc or {}).get("attempts", 0))
            if not outage and attempts >= self.settings.max_attempts:
                await col.update_one(
                    {"_id": f"{self.name}:{key}"}, {"$set": {"quarantined_at": now, "next_try_at": None}}
                )
                log.error(
                    "worker %s: item %s quarantined after %d attempts",
                    self.name,
                    key,
                    attempts,
                    extra={"worker": self.name, "item": key},
                )
            else:
                tries = max(1, attempts if not outage else int((doc or {}).get("outages", 1)))
                delay = min(
                    self.settings.backoff_max_seconds, self.settings.backoff_seconds * 2 ** (tries - 1)
                )
                await col.update_one(
                    {"_id": f"{self.name}:{key}"},
                    {"$set": {"next_try_at": now + timedelta(seconds=delay * random.uniform(1, 1.5))}},
                )

    async def _blocked(self, now: datetime) -> Blocked:
        if self._items is None or (now - self._items_read_at).total_seconds() >= ITEMS_REFRESH:
            self._items = [doc async for doc in self.db[ITEMS].find({"worker": self.name})]
            self._items_read_at = now
        backing, quarantined = set(), set()
        for doc in self._items:
            if doc.get("quarantined_at") is not None:
                quarantined.add(doc["key"])
            elif doc.get("next_try_at") is not None and doc["next_try_at"].replace(tzinfo=UTC) > now:
                backing.add(doc["key"])
        self.quarantined = len(quarantined)
        return Blocked(frozenset(backing), frozenset(quarantined))

    # --- the lease and the wake-ups -----------------------------------------------------------------------
    async def _keep_lease(self) -> None:
        """Renew every third of the lease's life while holding it; lose it loudly when the renewal fails."""
        while not self._stopping.is_set():
            await asyncio.sleep(self.settings.lease_seconds / 3)
            if not self.holding:
                continue
            try:
                self.holding = await self.lease.acquire()
            except Exception as exc:
                self.holding = False
                log.warning("worker %s: lost its lease (%s); stops taking items", self.name, exc)
            if not self.holding:
                log.warning("worker %s: another replica holds the lease now", self.name)

    async def _watch(self, collection: str) -> None:
        """Wake on every insert into the source's collection (new work: an outbox row, a delivery, a call)
        but those of rows this worker has already taken (a nudge's round, sooner than the stream); fall
        back to polling while the stream fails. Updates do not wake it: most are the worker's own marks (a
        published row, a sent delivery), each of which would cost a round that finds nothing (make bench
        counted one wasted round per mark); work that becomes due later is the poll's."""
        # Only the inserted row's key travels (the change's `_id`, its resume token, stays).
        pipeline: list[Doc] = [{"$match": {"operationType": "insert"}}, {"$project": {"documentKey": 1}}]
        while not self._stopping.is_set():
            try:
                async with await self.db[collection].watch(pipeline) as stream:
                    async for change in stream:
                        if str((change.get("documentKey") or {}).get("_id")) not in self._recent:
                            self._wake.set()  # (an insert this worker has already taken is no news)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "worker %s: change stream on %s unavailable, polling (%s)", self.name, collection, exc
                )
                await asyncio.sleep(max(5.0, self.settings.poll_seconds))


class _NotTaken(Exception):
    """An item left for the next lease holder: neither a success nor a failure."""


def not_blocked(blocked: Blocked, field_name: str = "_id") -> Doc:
    """The filter that leaves blocked keys out of a source's due query."""
    return {field_name: {"$nin": sorted(blocked.all)}} if blocked.all else {}
