"""The one in-memory fake answers as the real database does: the same documents, the same queries, the same
updates against SecantusDB and against `MemoryCollection`, and the answers compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from shared.platform.collection import Collection, MemoryCollection, MongoCollection
from shared.platform.mongo import Doc, connect
from tests.conftest import Infra

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DOCS: list[Doc] = [
    {
        "_id": f"o{i}",
        "status": s,
        "due": T0 + timedelta(hours=i),
        "amount": a,
        "parties": {"buyer": b},
        "tags": tags,
        **({"note": "x"} if i % 2 else {}),
    }
    for i, (s, a, b, tags) in enumerate(
        [
            ("paid", 10, "b1", ["vip"]),
            ("unpaid", 20, "b2", []),
            ("paid", 30, "b1", ["vip", "eu"]),
            ("refunded", 5, "b3", ["eu"]),
            ("unpaid", 15, "b1", []),
        ]
    )
]
QUERIES: list[tuple[Doc, Any]] = [
    ({}, None),
    ({"status": "paid"}, None),
    ({"parties.buyer": "b1"}, [("due", DESCENDING)]),
    ({"due": {"$lte": T0 + timedelta(hours=2)}}, [("due", ASCENDING)]),
    ({"amount": {"$gt": 10, "$lt": 30}}, [("amount", ASCENDING)]),
    ({"status": {"$in": ["paid", "refunded"]}, "_id": {"$nin": ["o0"]}}, [("_id", ASCENDING)]),
    ({"status": {"$ne": "paid"}}, [("amount", DESCENDING)]),
    ({"note": {"$exists": True}}, None),
    ({"tags": "eu"}, None),
    ({"tags": {"$in": ["vip"]}}, None),
    ({"$or": [{"status": "refunded"}, {"amount": {"$gte": 30}}]}, None),
    ({"$and": [{"status": "unpaid"}, {"parties.buyer": "b1"}]}, None),
    ({"status": "unpaid"}, [("parties.buyer", ASCENDING), ("amount", DESCENDING)]),
]


@pytest.fixture
async def pair(infra: Infra, namespace: str) -> Any:
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    mongo = MongoCollection(client[f"{namespace}_collection"]["things"])
    memory = MemoryCollection({})
    for col in (mongo, memory):
        await col.insert_many([dict(d) for d in DOCS])
    yield mongo, memory
    await client.close()


def _ids(docs: list[Doc]) -> list[str]:
    return [d["_id"] for d in docs]


@pytest.mark.parametrize(("query", "sort"), QUERIES, ids=[str(q) for q, _ in QUERIES])
async def test_the_same_query_finds_the_same_documents(
    pair: tuple[Collection, Collection], query: Doc, sort: Any
) -> None:
    mongo, memory = pair
    real, fake = await mongo.find(query, sort=sort), await memory.find(query, sort=sort)
    assert (_ids(real) if sort else sorted(_ids(real))) == (_ids(fake) if sort else sorted(_ids(fake)))
    assert await mongo.count(query) == await memory.count(query) == len(real)


async def test_limits_skips_and_projections_agree(pair: tuple[Collection, Collection]) -> None:
    mongo, memory = pair
    for col in pair:
        page = await col.find({}, sort=[("amount", ASCENDING)], skip=1, limit=2, projection={"amount": 1})
        assert page == [{"_id": "o0", "amount": 10}, {"_id": "o4", "amount": 15}]
    real = await mongo.find_one({"_id": "o2"}, {"tags": 0, "due": 0})
    assert real == await memory.find_one({"_id": "o2"}, {"tags": 0, "due": 0})


async def test_the_same_updates_leave_the_same_documents(pair: tuple[Collection, Collection]) -> None:
    for col in pair:
        assert (
            await col.update_one(
                {"_id": "o1"},
                {
                    "$set": {"status": "paid", "parties.seller": "m1"},
                    "$inc": {"amount": 5},
                    "$push": {"tags": "new"},
                    "$unset": {"note": ""},
                },
            )
            == 1
        )
        assert (
            await col.update_one(
                {"_id": "o9"}, {"$set": {"status": "new"}, "$setOnInsert": {"amount": 1}}, upsert=True
            )
            == 1
        )
        assert await col.update_one({"_id": "o2"}, {"$pull": {"tags": "vip"}}) == 1
        assert await col.update_one({"_id": "o0"}, {"$push": {"tags": 3}}) == 1
        assert await col.update_one({"_id": "o0"}, {"$pull": {"tags": {"$lte": 5}}}) == 1
        assert await col.update_many({"status": "paid"}, {"$set": {"seen": True}}) == 3
        assert await col.replace_one({"_id": "o3", "status": "refunded"}, {"status": "gone"}) == 1
        assert await col.replace_one({"_id": "o3", "status": "refunded"}, {"status": "again"}) == 0
        assert await col.delete_many({"amount": {"$lt": 15}}) == 2
        with pytest.raises(DuplicateKeyError):
            await col.insert_one({"_id": "o2"})
    mongo, memory = pair
    real = await mongo.find({}, sort=[("_id", ASCENDING)])
    assert real == await memory.find({}, sort=[("_id", ASCENDING)])
    assert [d["_id"] for d in real] == ["o1", "o2", "o3", "o4"]
