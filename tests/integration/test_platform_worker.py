"""The shared leased worker and the outbox relay on the real database and broker: one bad item never blocks the
others, the lease is renewed while a round takes long, a poison outbox row is quarantined instead of blocking
the outbox, and a key's events keep their order whatever the replicas' clocks say."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.orders.settings import OrdersSettings
from shared.platform import mongo
from shared.platform.kafka import make_broker
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWorkFactory, connect
from shared.platform.relay import OutboxRelay
from shared.platform.worker import Blocked, LeasedWorker, WorkerSettings, not_blocked
from shared.schemas import AccountRegistered, AccountRegisteredPayload, AccountRole
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, read_topic


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[AsyncDatabase[Doc]]:
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    database = client[f"w{uuid.uuid4().hex[:10]}"]
    await mongo.ensure_platform_indexes(database)
    yield database
    await client.drop_database(database.name)
    await client.close()


class Jobs:
    """Rows in a collection; a row named in `failing` raises when processed, `slow` rows take a while."""

    def __init__(
        self, db: AsyncDatabase[Doc], name: str, failing: frozenset[str] = frozenset(), slow: float = 0.0
    ) -> None:
        self.db, self.name, self.failing, self.slow = db, name, set(failing), slow
        self.done: list[str] = []

    def key(self, item: Doc) -> str:
        return str(item["_id"])

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        return (
            await self.db["jobs"].find({"done": False, **not_blocked(blocked)}).sort("_id", 1).to_list(limit)
        )

    async def process(self, item: Doc) -> None:
        if self.slow:
            await asyncio.sleep(self.slow)
        if item["_id"] in self.failing:
            raise RuntimeError(f"cannot do {item['_id']}")
        await self.db["jobs"].update_one({"_id": item["_id"]}, {"$set": {"done": True}})
        self.done.append(item["_id"])


async def test_one_failing_item_is_quarantined_and_never_blocks_the_others(db: AsyncDatabase[Doc]) -> None:
    await db["jobs"].insert_many([{"_id": f"job-{i:02d}", "done": False} for i in range(12)])
    jobs = Jobs(db, "jobs", failing={"job-00"})  # first in line every round
    worker = LeasedWorker(
        db,
        jobs,
        WorkerSettings(
            poll_seconds=0.05, batch=5, max_attempts=3, backoff_seconds=0.05, backoff_max_seconds=0.1
        ),
    )
    worker.start()
    try:
        await eventually(lambda: _true(len(jobs.done) == 11), timeout=20, what="the eleven good jobs done")
        await eventually(
            lambda: _true(worker.health().quarantined == 1), timeout=20, what="the bad one quarantined"
        )
    finally:
        await worker.stop()
    row = await db["worker_items"].find_one({"_id": "jobs:job-00"})
    assert row is not None
    assert (row["attempts"], "cannot do job-00" in row["last_error"]) == (3, True)
    assert row["quarantined_at"] is not None
    health = worker.health()
    assert (health.quarantined, health.processed) == (1, 11)
    assert health.last_success_at is not None


async def test_the_lease_is_renewed_while_a_long_round_runs(db: AsyncDatabase[Doc]) -> None:
    """A round longer than the lease: the holder keeps it, so a second replica never takes the same items."""
    await db["jobs"].insert_many([{"_id": f"job-{i}", "done": False} for i in range(3)])
    first, second = Jobs(db, "jobs", slow=1.2), Jobs(db, "jobs", slow=1.2)
    settings = WorkerSettings(poll_seconds=0.05, batch=10, lease_seconds=1.5)
    a, b = LeasedWorker(db, first, settings), LeasedWorker(db, second, settings)
    a.start()
    await eventually(lambda: _true(a.holding), what="the first replica holds the lease")
    b.start()
    try:
        await eventually(lambda: _true(len(first.done) == 3), timeout=20, what="all jobs done by the holder")
    finally:
        await a.stop()
        await b.stop()
    assert second.done == []  # 3.6 s of work under a 1.5 s lease: renewed while busy, never stolen
    assert (a.health().alive, b.health().holding_lease) == (False, False)


async def test_a_change_wakes_the_worker_before_its_poll(db: AsyncDatabase[Doc]) -> None:
    jobs = Jobs(db, "jobs")
    worker = LeasedWorker(db, jobs, WorkerSettings(poll_seconds=30, watch="jobs"))
    worker.start()
    try:
        await eventually(lambda: _true(worker.holding), what="the lease")
        await asyncio.sleep(1.0)  # the change stream is open
        started = time.monotonic()
        await db["jobs"].insert_one({"_id": "job-late", "done": False})
        await eventually(lambda: _true(jobs.done == ["job-late"]), timeout=20, what="the new job done")
        assert time.monotonic() - started < 20  # long before the 30 s poll
    finally:
        await worker.stop()


async def test_the_news_of_an_insert_the_worker_already_took_wakes_no_round(db: AsyncDatabase[Doc]) -> None:
    """A commit's nudge usually has the worker take a row before the change stream tells of its insert; that
    news then would cost a round that finds nothing."""
    jobs = Jobs(db, "jobs")
    rounds: list[datetime] = []
    due = jobs.due

    async def counted(now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        rounds.append(now)
        return await due(now, limit, blocked)

    jobs.due = counted  # type: ignore[method-assign]
    worker = LeasedWorker(db, jobs, WorkerSettings(poll_seconds=30, watch="jobs"))
    worker.start()
    try:
        await eventually(lambda: _true(worker.holding), what="the lease")
        await asyncio.sleep(1.0)  # the change stream is open
        worker._remember(["job-taken"])  # as a nudge's round would have, before the stream's news
        before = len(rounds)
        await db["jobs"].insert_one({"_id": "job-taken", "done": True})
        await asyncio.sleep(2.0)
        assert len(rounds) == before  # no round for it (the next poll is 30 s away)
        await db["jobs"].insert_one({"_id": "job-new", "done": False})
        await eventually(lambda: _true(jobs.done == ["job-new"]), timeout=20, what="the new job done")
        assert len(rounds) > before
    finally:
        await worker.stop()


async def test_woken_with_a_gather_time_one_round_takes_what_was_queued_meanwhile(
    db: AsyncDatabase[Doc],
) -> None:
    jobs = Jobs(db, "jobs")
    rounds: list[list[str]] = []
    due = jobs.due

    async def counted(now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        items = await due(now, limit, blocked)
        if items:
            rounds.append([str(i["_id"]) for i in items])
        return items

    jobs.due = counted  # type: ignore[method-assign]
    worker = LeasedWorker(db, jobs, WorkerSettings(poll_seconds=30, gather_seconds=0.5))
    worker.start()
    try:
        await eventually(lambda: _true(worker.holding), what="the lease")
        await asyncio.sleep(0.5)
        await db["jobs"].insert_one({"_id": "job-1", "done": False})
        worker.nudge()
        await asyncio.sleep(0.1)
        await db["jobs"].insert_one({"_id": "job-2", "done": False})
        worker.nudge()
        await eventually(lambda: _true(len(jobs.done) == 2), timeout=20, what="both jobs done")
        assert rounds == [["job-1", "job-2"]]
    finally:
        await worker.stop()


async def _true(value: object) -> bool:
    return bool(value)


# --- the outbox relay --------------------------------------------------------------------------------------
def _event(account: str, display_name: str = "n") -> AccountRegistered:
    return AccountRegistered(
        producer="orders",
        correlation_id="c",
        payload=AccountRegisteredPayload(
            account_id=account,
            role=AccountRole.BUYER,
            display_name=display_name,
            bound_email="a@example.com",
            bound_phone="+8613800001234",
        ),
    )


async def _emit(uow: UnitOfWorkFactory[MongoUnitOfWork], *events: AccountRegistered) -> None:
    async def work(u: MongoUnitOfWork) -> None:
        u.emit(*events)
        await u.commit()

    await uow.run(work)


async def test_a_poison_row_is_quarantined_and_the_other_keys_flow(
    infra: Infra, namespace: str, db: AsyncDatabase[Doc]
) -> None:
    settings = f.settings(OrdersSettings, infra, namespace, relay_poll_seconds=0.05)
    broker, _ = make_broker(settings)
    relay = OutboxRelay(db, broker, settings)
    relay.worker.settings.max_attempts, relay.worker.settings.backoff_seconds = 2, 0.05
    client: AsyncMongoClient[Doc] = db.client
    uow = UnitOfWorkFactory(lambda: MongoUnitOfWork(client, db, relay.nudge))
    huge = _event("acc-huge", display_name="x" * 2_000_000)  # over the broker's message size limit
    await _emit(uow, huge)
    await _emit(uow, _event("acc-huge"), _event("acc-ok-1"), _event("acc-ok-2"))  # acc-huge's next waits
    async with broker:
        await broker.start()
        relay.worker.start()
        try:

            async def flowed() -> list[Any]:
                records = await read_topic(
                    infra.kafka_client(), settings.topic("account.registered"), timeout=1
                )
                return records if len(records) >= 3 else []

            records = await eventually(flowed, timeout=60, what="the other keys and acc-huge's later row")
        finally:
            await relay.worker.stop()
    keys = [r.key.decode() for r in records]
    assert sorted(keys) == [
        "acc-huge",
        "acc-ok-1",
        "acc-ok-2",
    ]  # acc-huge's later event went out once quarantined
    row = await db["worker_items"].find_one({"_id": f"{relay.source.name}:{huge.event_id}"})
    assert row is not None
    assert row["quarantined_at"] is not None
    assert "MessageSizeTooLarge" in row["last_error"] or "too large" in row["last_error"].lower()
    assert relay.worker.health().quarantined == 1
    assert await db["outbox"].count_documents({"published_at": None}) == 1  # only the poison row


async def test_a_keys_sequence_increases_even_when_a_replicas_clock_goes_back(
    db: AsyncDatabase[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    client: AsyncMongoClient[Doc] = db.client
    uow = UnitOfWorkFactory(lambda: MongoUnitOfWork(client, db))
    await _emit(uow, _event("acc-1"))
    monkeypatch.setattr(mongo.time, "time_ns", lambda: 1_000)  # another replica, its clock far behind
    later = [_event("acc-1"), _event("acc-2"), _event("acc-1")]  # two of one key in one transaction
    await _emit(uow, *later)
    rows = await db["outbox"].find({"key": "acc-1"}).sort("seq", 1).to_list(None)
    assert len(rows) == 3
    assert rows[0]["seq"] < rows[1]["seq"] < rows[2]["seq"]  # committed first, published first
    assert [r["_id"] for r in rows[1:]] == [str(later[0].event_id), str(later[2].event_id)]  # emitted order
    assert json.loads(rows[1]["body"])["payload"]["account_id"] == "acc-1"
    other = await db["outbox"].find_one({"key": "acc-2"})
    assert other is not None
    assert other["seq"] == 1_000  # another key: its own sequence
    assert datetime.now(UTC) > other["created_at"]


class _SlowBroker:
    """Stands in for the producer: every publish takes a while and is counted (by event id)."""

    def __init__(self, delay: float) -> None:
        self.delay, self.published = delay, []  # type: ignore[var-annotated]

    async def publish(
        self, body: bytes, *, topic: str, key: bytes, headers: dict[str, str], no_confirm: bool
    ) -> asyncio.Future[None]:
        await asyncio.sleep(self.delay)
        self.published.append(headers["event-id"])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_two_relays_never_publish_the_same_rows_when_a_round_outlasts_the_lease(
    infra: Infra, db: AsyncDatabase[Doc]
) -> None:
    """The relay used to renew its lease once per round: a round longer than the lease let a second replica
    take it and publish the same rows again. Now the lease is renewed while the round runs."""
    settings = f.settings(OrdersSettings, infra, "relays", relay_poll_seconds=0.05, relay_lease_seconds=1.5)
    client: AsyncMongoClient[Doc] = db.client
    await _emit(
        UnitOfWorkFactory(lambda: MongoUnitOfWork(client, db)), *(_event(f"acc-{i}") for i in range(40))
    )
    brokers = [_SlowBroker(0.1), _SlowBroker(0.1)]  # 40 rows × 0.1 s: a 4 s round under a 1.5 s lease
    relays = [OutboxRelay(db, b, settings) for b in brokers]  # type: ignore[arg-type]
    relays[0].worker.start()
    await eventually(lambda: _true(relays[0].worker.holding), what="the first relay holds the lease")
    relays[1].worker.start()
    try:
        await eventually(
            lambda: _true(len(brokers[0].published) + len(brokers[1].published) >= 40),
            timeout=30,
            what="every row published",
        )
        await asyncio.sleep(2.0)  # a second relay that took over would publish now
    finally:
        for relay in relays:
            await relay.worker.stop()
    everything = brokers[0].published + brokers[1].published
    assert (
        len(everything) == len(set(everything)) == 40
    )  # each row published once, by whichever held the lease
    assert await db["outbox"].count_documents({"published_at": None}) == 0
