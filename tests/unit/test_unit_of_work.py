"""The in-memory unit of work and the retry around it: what handler tests rely on behaves like a transaction."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from shared.platform.errors import DomainError
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.repository import ConcurrentUpdate, FakeRepository
from tests.factories import order_paid, parties


class Item(BaseModel):
    key: str
    n: int = 0
    version: int = 0


async def test_nothing_is_written_without_a_commit() -> None:
    state = FakeState()
    async with FakeUnitOfWork(state) as uow:
        uow.table("items")["a"] = {"key": "a"}
        uow.emit(order_paid(parties()))
        assert await uow.claim("c", order_paid(parties()))
    assert state.tables.get("items", {}) == {}
    assert state.outbox == []
    assert state.processed == set()


async def test_a_commit_writes_state_outbox_and_claims_together() -> None:
    state, event = FakeState(), order_paid(parties())
    async with FakeUnitOfWork(state) as uow:
        assert await uow.claim("c", event)
        uow.table("items")["a"] = {"key": "a"}
        uow.emit(event)
        await uow.commit()
    assert state.tables["items"] == {"a": {"key": "a"}}
    assert state.outbox == [event]
    assert state.processed == {f"c:{event.event_id}"}


async def test_a_claimed_event_cannot_be_claimed_again() -> None:
    state, event = FakeState(), order_paid(parties())
    async with FakeUnitOfWork(state) as uow:
        assert await uow.claim("c", event)
        assert not await uow.claim("c", event)
        await uow.commit()
    async with FakeUnitOfWork(state) as uow:
        assert not await uow.claim("c", event)
        assert await uow.claim("other-consumer", event)


async def test_saving_a_stale_version_is_a_conflict() -> None:
    rows: dict[str, dict[str, object]] = {}
    repo = FakeRepository(rows, Item, "key")
    await repo.add(Item(key="a"))
    first, second = await repo.get("a"), await repo.get("a")
    assert first is not None
    assert second is not None
    first.n = 1
    await repo.save(first)
    second.n = 2
    with pytest.raises(ConcurrentUpdate):
        await repo.save(second)
    assert rows["a"] == {"key": "a", "n": 1, "version": 1}
    with pytest.raises(ConcurrentUpdate):
        await repo.add(Item(key="a"))


async def test_the_factory_reruns_work_that_lost_a_race() -> None:
    state, calls = FakeState(), []

    async def work(uow: FakeUnitOfWork) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentUpdate("lost")
        return "done"

    assert await UnitOfWorkFactory(lambda: FakeUnitOfWork(state), attempts=5).run(work) == "done"
    assert len(calls) == 3


async def test_the_factory_gives_up_after_its_attempts() -> None:
    calls = []

    async def work(uow: FakeUnitOfWork) -> None:
        calls.append(1)
        raise ConcurrentUpdate("lost")

    with pytest.raises(ConcurrentUpdate):
        await UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState()), attempts=4).run(work)
    assert len(calls) == 4


@pytest.mark.parametrize("exc", [DomainError("refused"), RuntimeError("boom")], ids=type)
async def test_the_factory_does_not_rerun_other_failures(exc: Exception) -> None:
    calls = []

    async def work(uow: FakeUnitOfWork) -> None:
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        await UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState())).run(work)
    assert len(calls) == 1


async def test_commit_listeners_hear_each_committed_unit_of_work_once_and_no_other() -> None:
    """A rerun attempt and a unit of work that commits nothing are not news; the attempt that committed is."""
    heard: list[FakeUnitOfWork] = []
    factory = UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState()), attempts=3)
    factory.on_commit(heard.append)
    attempts: list[FakeUnitOfWork] = []

    async def work(uow: FakeUnitOfWork) -> str:
        attempts.append(uow)
        uow.table("items")["a"] = {"key": "a"}
        if len(attempts) == 1:
            raise ConcurrentUpdate("lost")
        await uow.commit()
        return "done"

    async def reads(uow: FakeUnitOfWork) -> None:
        uow.table("items").get("a")

    assert await factory.run(work) == "done"
    assert heard == [attempts[1]]
    await factory.run(reads)
    assert heard == [attempts[1]]

    async def fails(uow: FakeUnitOfWork) -> None:
        await uow.commit()
        raise DomainError("refused after its writes")

    with pytest.raises(DomainError):
        await factory.run(fails)
    assert heard == [attempts[1]]


async def test_a_failing_commit_listener_leaves_the_committed_result_standing() -> None:
    state = FakeState()
    factory = UnitOfWorkFactory(lambda: FakeUnitOfWork(state))
    heard: list[FakeUnitOfWork] = []

    def broken(uow: FakeUnitOfWork) -> None:
        raise RuntimeError("listener bug")

    factory.on_commit(broken)
    factory.on_commit(heard.append)

    async def work(uow: FakeUnitOfWork) -> str:
        uow.table("items")["a"] = {"key": "a"}
        await uow.commit()
        return "done"

    assert await factory.run(work) == "done"
    assert state.tables["items"] == {"a": {"key": "a"}}
    assert len(heard) == 1  # the listeners after the failing one are still told
