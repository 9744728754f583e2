"""The batch runner on the real database: a batch's claims, loads, saves and outbox rows cost a handful of round
trips however many events it holds, a repeat is a no-op, a concurrent writer makes the batch rerun, and what
the handlers read is what the transaction wrote (staging.py, mongo.UnitOfWorkFactory.handle_batch)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from shared.platform import mongo
from shared.platform.collection import MongoCollection
from shared.platform.deadletter import is_transient
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWorkFactory
from shared.platform.repository import AggregateRepository
from shared.platform.staging import StagedCollection, StagedSaveLost
from shared.schemas import AccountRegistered, AccountRegisteredPayload, AccountRole
from tests.conftest import Infra

pytestmark = pytest.mark.integration


class Counter(BaseModel):
    counter_id: str
    seen: list[str] = []
    version: int = 0


class Counters(AggregateRepository[Counter]):
    model = Counter
    id_field = "counter_id"


class CounterUnitOfWork(MongoUnitOfWork):
    counters: Counters

    def bind(self) -> None:
        self.counters = Counters(self.collection("counters"))


class Commands(monitoring.CommandListener):
    """Counts the commands the client sends by name (find, insert, update, ...)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def rig(infra: Infra) -> AsyncIterator[tuple[AsyncDatabase[Doc], Commands]]:
    commands = Commands()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        infra.mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    database = client[f"b{uuid.uuid4().hex[:10]}"]
    await mongo.ensure_platform_indexes(database)
    yield database, commands
    await client.drop_database(database.name)
    await client.close()


def _event(account_id: str) -> AccountRegistered:
    return AccountRegistered(
        producer="tests",
        correlation_id="c",
        payload=AccountRegisteredPayload(
            account_id=account_id,
            role=AccountRole.BUYER,
            display_name="x",
            bound_email=f"{account_id}@example.com",
            bound_phone="+8613800000000",
        ),
    )


def _factory(db: AsyncDatabase[Doc]) -> UnitOfWorkFactory[CounterUnitOfWork]:
    return UnitOfWorkFactory(lambda: CounterUnitOfWork(db.client, db), attempts=3)


async def _count_into(uow: CounterUnitOfWork, event: AccountRegistered) -> str:
    """Load the event's counter (created beforehand), note the event, save it, emit the event on."""
    counter = await uow.counters.get(event.payload.account_id)
    assert counter is not None
    counter.seen.append(str(event.event_id))
    await uow.counters.save(counter)
    uow.emit(event)
    return counter.counter_id


async def _prefetch(uow: CounterUnitOfWork, events: list[Any]) -> None:
    await uow.prefetch("counters", [e.payload.account_id for e in events])


async def test_a_batch_costs_a_handful_of_round_trips_however_many_events_it_holds(
    rig: tuple[AsyncDatabase[Doc], Commands],
) -> None:
    db, commands = rig
    ids = [f"acc-{i}" for i in range(40)]
    await db["counters"].insert_many([{"_id": i, "counter_id": i, "seen": [], "version": 0} for i in ids])
    events = [_event(i) for i in ids] + [_event("acc-0")]  # acc-0 twice: two events of one key
    commands.names.clear()

    results = await _factory(db).handle_batch("tests", events, _count_into, _prefetch)

    assert results == [*ids, "acc-0"]
    data = [n for n in commands.names if n not in {"commitTransaction", "abortTransaction", "endSessions"}]
    # inbox: find + insert; prefetch: find; saves: one bulk update; outbox keys: find + bulk update; outbox
    # rows: one insert. Handled one by one, the same batch took 6 commands per event (246).
    assert len(data) <= 8, data
    assert commands.names.count("commitTransaction") == 1
    stored = {d["_id"]: d for d in await db["counters"].find().to_list(None)}
    assert stored["acc-0"]["seen"] == [
        str(events[0].event_id),
        str(events[-1].event_id),
    ]  # read its own write
    assert stored["acc-0"]["version"] == 2
    assert stored["acc-1"]["version"] == 1
    rows = await db["outbox"].find({"key": "acc-0"}).sort("seq", 1).to_list(None)
    assert [r["_id"] for r in rows] == [str(events[0].event_id), str(events[-1].event_id)]
    assert await db["processed_events"].count_documents({}) == 41


async def test_a_repeated_batch_changes_nothing_and_a_repeat_within_a_batch_counts_once(
    rig: tuple[AsyncDatabase[Doc], Commands],
) -> None:
    db, _ = rig
    await db["counters"].insert_many([{"_id": i, "counter_id": i, "seen": [], "version": 0} for i in "ab"])
    a, b = _event("a"), _event("b")
    runner = _factory(db)

    assert await runner.handle_batch("tests", [a, a], _count_into, _prefetch) == ["a", None]
    assert await runner.handle_batch("tests", [a, b], _count_into, _prefetch) == [None, "b"]

    stored = {d["_id"]: d["seen"] for d in await db["counters"].find().to_list(None)}
    assert stored == {"a": [str(a.event_id)], "b": [str(b.event_id)]}
    assert await db["outbox"].count_documents({}) == 2


async def test_a_save_that_lost_to_a_concurrent_writer_fails_the_batch_and_commits_nothing(
    rig: tuple[AsyncDatabase[Doc], Commands],
) -> None:
    db, _ = rig
    await db["counters"].insert_many([{"_id": i, "counter_id": i, "seen": [], "version": 0} for i in "xy"])

    async def meddling(uow: CounterUnitOfWork, event: AccountRegistered) -> str:
        result = await _count_into(uow, event)
        if event.payload.account_id == "y":  # another replica saves x after this batch loaded it
            await db["counters"].update_one({"_id": "x"}, {"$set": {"version": 7}})
        return result

    with pytest.raises((StagedSaveLost, OperationFailure)) as caught:
        await UnitOfWorkFactory(lambda: CounterUnitOfWork(db.client, db), attempts=1).handle_batch(
            "tests", [_event("x"), _event("y")], meddling, _prefetch
        )

    assert is_transient(caught.value)  # a conflict: the runner reruns the batch (here: one attempt only)
    assert await db["processed_events"].count_documents({}) == 0  # nothing of the batch committed
    assert await db["outbox"].count_documents({}) == 0
    assert (await db["counters"].find_one({"_id": "y"}) or {})["seen"] == []


async def test_any_other_operation_reads_the_kept_saves_first(
    rig: tuple[AsyncDatabase[Doc], Commands],
) -> None:
    db, _ = rig
    await db["counters"].insert_many([{"_id": i, "counter_id": i, "seen": [], "version": 0} for i in "pq"])
    client = db.client
    async with client.start_session() as session:
        await session.start_transaction()
        staged = StagedCollection(MongoCollection(db["counters"], session))
        await staged.prefetch(["p", "q", "missing"])
        assert await staged.find_one({"_id": "missing"}) is None  # known absent: no query
        doc = await staged.find_one({"_id": "p"})
        assert doc is not None
        assert await staged.replace_one({"_id": "p", "version": 0}, {**doc, "version": 1, "seen": ["e"]}) == 1
        assert await staged.replace_one({"_id": "q", "version": 3}, {"version": 4}) == 0  # stale version
        await staged.insert_one({"_id": "r", "counter_id": "r", "seen": ["e"], "version": 0})
        trips = staged.round_trips
        assert (await staged.find_one({"_id": "r"}) or {})["seen"] == ["e"]  # its own insert, no query
        assert staged.round_trips == trips
        assert await staged.count({"seen": "e"}) == 2  # the kept insert and save, written before the query
        assert staged.round_trips == trips + 3  # the insert, the save and the count
        assert staged.kept == {}
        assert staged.inserted == []
        # a document written whole by id (WrittenWhole.put) is kept too, and upserted when flushed
        assert await staged.replace_one({"_id": "s"}, {"counter_id": "s", "seen": ["w"]}, upsert=True) == 1
        assert await staged.replace_one({"_id": "p"}, {"counter_id": "p", "seen": ["w"]}, upsert=True) == 1
        assert (await staged.find_one({"_id": "s"}) or {})["seen"] == ["w"]
        await staged.flush()
        assert await staged.count({"seen": "w"}) == 2
        await session.commit_transaction()
    assert (await db["counters"].find_one({"_id": "p"}) or {})["seen"] == ["w"]  # written whole, last


async def test_a_single_document_use_case_runs_without_a_transaction_and_may_emit_nothing(
    rig: tuple[AsyncDatabase[Doc], Commands],
) -> None:
    db, commands = rig
    await db["counters"].insert_one({"_id": "c", "counter_id": "c", "seen": [], "version": 0})
    runner = _factory(db)
    commands.names.clear()

    async def touch(uow: CounterUnitOfWork) -> int:
        matched = await uow.counters.collection.update_one({"_id": "c"}, {"$push": {"seen": "x"}})
        await uow.commit()
        return matched

    assert await runner.run(touch, transaction=False) == 1
    assert "commitTransaction" not in commands.names
    assert (await db["counters"].find_one({"_id": "c"}) or {})["seen"] == ["x"]

    async def emitting(uow: CounterUnitOfWork) -> None:
        uow.emit(_event("c"))
        await uow.commit()

    with pytest.raises(RuntimeError, match="transaction"):
        await runner.run(emitting, transaction=False)
    assert await db["outbox"].count_documents({}) == 0
