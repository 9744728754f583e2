"""The waiting read on the real database: its change stream wakes the waiter of the inserted row's key (and only
that one), and a waiter whose stream is gone still sees the insert through its fallback poll."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.mongo import Doc, connect
from shared.platform.waits import InsertWatch
from tests.conftest import Infra


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[AsyncDatabase[Doc]]:
    client = connect(infra.mongo_uri)
    database = client[f"wt{uuid.uuid4().hex[:10]}"]
    yield database
    await client.drop_database(database.name)
    await client.close()


def newest(db: AsyncDatabase[Doc], account: str) -> asyncio.Future[str | None]:
    async def read() -> str | None:
        doc = await db["inbox"].find_one({"account_id": account}, sort=[("n", -1)])
        return None if doc is None else str(doc["_id"])

    return asyncio.ensure_future(read())


async def test_an_insert_wakes_the_waiter_of_its_account_through_the_change_stream(
    db: AsyncDatabase[Doc],
) -> None:
    watch = InsertWatch(db, "inbox", "account_id", fallback_seconds=60)  # a poll would come too late
    streaming = asyncio.create_task(watch.run())
    try:
        while not watch.streaming:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        mine = asyncio.create_task(watch.wait_for("acc-a", lambda: newest(db, "acc-a"), bool, 30))
        other = asyncio.create_task(watch.wait_for("acc-b", lambda: newest(db, "acc-b"), bool, 30))
        while watch.waiting < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await db["inbox"].insert_one({"_id": "m1", "account_id": "acc-a", "n": 1, "title": "paid"})
        assert await asyncio.wait_for(mine, 10) == "m1"
        assert not other.done()  # acc-b's waiter heard nothing of acc-a's message
        watch.close()
        assert await asyncio.wait_for(other, 5) is None
    finally:
        streaming.cancel()
        await asyncio.gather(streaming, return_exceptions=True)


async def test_without_the_stream_the_fallback_poll_finds_the_insert(db: AsyncDatabase[Doc]) -> None:
    watch = InsertWatch(db, "inbox", "account_id", fallback_seconds=0.05)  # its stream never started
    mine = asyncio.create_task(watch.wait_for("acc-a", lambda: newest(db, "acc-a"), bool, 30))
    while watch.waiting < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await db["inbox"].insert_one({"_id": "m2", "account_id": "acc-a", "n": 1})
    assert await asyncio.wait_for(mine, 10) == "m2"
