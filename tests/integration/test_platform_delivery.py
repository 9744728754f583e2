"""Delivery you can act on, on the real broker, database and identity provider: a retried POST creates nothing
twice (Idempotency-Key), the producing service keeps its topics' dead letters and an operator replays them
(changing nothing twice), and a database outage longer than the retries loses nothing and dead-letters nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pymongo.errors import AutoReconnect

from devstack.marketplace import Suite
from devstack.mongo import SecantusNode
from devstack.procs import free_port
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from shared.platform.mongo import MongoUnitOfWork
from shared.schemas import Topic, dead_letter
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, read_topic, running


async def _shop(infra: Infra, orders: httpx.AsyncClient) -> tuple[Suite, Any, Any, dict[str, Any]]:
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    suite = Suite({"orders": "", "supervision": ""}, orders)
    await suite.profile(buyer, "+8613800001234")
    await suite.profile(merchant, "+8613800005678")
    product = await suite.list_product(merchant, operator)
    return suite, buyer, operator, product


async def test_a_retried_post_with_its_idempotency_key_creates_nothing_twice(
    infra: Infra, namespace: str
) -> None:
    async with running(orders_app(f.settings(OrdersSettings, infra, namespace))) as orders:
        _, buyer, _, product = await _shop(infra, orders)
        body = {"product_id": product["product_id"]}
        headers = {**await buyer.headers(), "Idempotency-Key": "checkout-7f3a"}
        first = await orders.post("/orders", json=body, headers=headers)
        again = await orders.post("/orders", json=body, headers=headers)
        other_body = await orders.post("/orders", json={**body, "coupon_ids": []}, headers=headers)
        without = [await orders.post("/orders", json=body, headers=await buyer.headers()) for _ in range(2)]
        mine = await orders.get(
            "/purchased-services", params={"status": "pending_payment"}, headers=await buyer.headers()
        )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.json()["detail"]["field"] == "Idempotency-Key"
    assert len({r.json()["order_id"] for r in without}) == 2  # no key: two orders, as asked
    assert len(mine.json()) == 3


async def test_a_retry_after_the_replica_died_mid_request_takes_the_key_over_and_never_applies_twice(
    infra: Infra, namespace: str
) -> None:
    """A replica killed while it ran a keyed POST leaves the key "running" (a chaos run saw three orders stuck on
    409 `idempotency_key_in_use` for good). Once the claim's lease is over, a retry takes the key over: if the
    first attempt never committed, the request runs; if it committed, the retry gets its result back (the effect
    marker written in the same transaction), or, when that result was lost too, a 409 saying it was applied."""
    app = orders_app(f.settings(OrdersSettings, infra, namespace))
    async with running(app) as orders:
        _, buyer, _, product = await _shop(infra, orders)
        db = app.state.runtime.db
        body = {"product_id": product["product_id"]}

        async def post(key: str) -> httpx.Response:
            return await orders.post(
                "/orders", json=body, headers={**await buyer.headers(), "Idempotency-Key": key}
            )

        async def died_mid_request(key_doc: dict[str, Any]) -> None:
            """As a replica killed after its claim: the key running, its lease over, no answer kept."""
            await db["idempotency_keys"].update_one(
                {"_id": key_doc["_id"]},
                {
                    "$set": {"state": "running", "lease_until": key_doc["created_at"]},
                    "$unset": {"status": "", "body": "", "headers": ""},
                },
            )

        async def key_of(order_id: str) -> dict[str, Any]:
            docs = [d async for d in db["idempotency_keys"].find({"state": "done"})]
            return next(d for d in docs if order_id.encode() in bytes(d["body"]))

        # 1. Died after committing; its result was kept with the effect marker: the retry answers the same order.
        first = await post("died-after-commit")
        await died_mid_request(await key_of(first.json()["order_id"]))
        retry = await post("died-after-commit")
        # 2. Died after committing, and the result was lost as well: 409 applied, never a second order.
        second = await post("died-after-commit-no-result")
        marker = await db["idempotency_effects"].find_one({"result.order_id": second.json()["order_id"]})
        await db["idempotency_effects"].update_one(
            {"_id": marker["_id"]}, {"$unset": {"result": "", "type": ""}}
        )
        await died_mid_request(await key_of(second.json()["order_id"]))
        lost = await post("died-after-commit-no-result")
        # 3. Died before committing: the retry runs the request (one order).
        third = await post("died-before-commit")
        doc = await key_of(third.json()["order_id"])
        await db["orders"].delete_one({"_id": third.json()["order_id"]})
        await db["idempotency_effects"].delete_many({"_id": {"$regex": f"^{doc['_id']}#"}})
        await died_mid_request(doc)
        rerun = await post("died-before-commit")
        # A claim whose lease is not over is still 409 in use.
        fresh = await post("still-running")
        doc = await key_of(fresh.json()["order_id"])
        await db["idempotency_keys"].update_one({"_id": doc["_id"]}, {"$set": {"state": "running"}})
        in_use = await post("still-running")
        mine = await orders.get(
            "/purchased-services", params={"status": "pending_payment"}, headers=await buyer.headers()
        )
    assert first.status_code == 201
    assert (retry.status_code, retry.json()["order_id"]) == (201, first.json()["order_id"])
    assert (lost.status_code, lost.json()["detail"]["code"]) == (409, "idempotency_key_applied"), lost.text
    assert rerun.status_code == 201
    assert rerun.json()["order_id"] != third.json()["order_id"]
    assert (in_use.status_code, in_use.json()["detail"]["code"]) == (409, "idempotency_key_in_use")
    ids = {o["order_id"] for o in mine.json()}
    assert ids == {
        first.json()["order_id"],
        second.json()["order_id"],
        rerun.json()["order_id"],
        fresh.json()["order_id"],
    }


async def test_a_database_failure_mid_request_is_a_503_and_its_retry_applies_nothing_twice(
    infra: Infra, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops once before a commit (nothing applied: the retry creates the order) and once right
    after one (applied, its answer lost: the retry gets the first order back and creates nothing). Both first
    answers are 503."""
    app = orders_app(f.settings(OrdersSettings, infra, namespace))
    commit, finish = MongoUnitOfWork.commit, MongoUnitOfWork.finish
    drop: list[str] = []

    async def flaky_commit(uow: MongoUnitOfWork) -> None:
        if drop == ["before"]:
            drop.clear()
            raise AutoReconnect("127.0.0.1:27017: [Errno 104] Connection reset by peer")
        await commit(uow)

    async def flaky_finish(uow: MongoUnitOfWork) -> None:
        await finish(uow)  # committed for real: the order, its outbox row and its effect marker
        if drop == ["after"]:
            drop.clear()
            raise AutoReconnect("127.0.0.1:27017: [Errno 104] Connection reset by peer")

    async with running(app) as orders:
        _, buyer, _, product = await _shop(infra, orders)
        monkeypatch.setattr(MongoUnitOfWork, "commit", flaky_commit)
        monkeypatch.setattr(MongoUnitOfWork, "finish", flaky_finish)
        body = {"product_id": product["product_id"]}

        async def post(key: str) -> httpx.Response:
            return await orders.post(
                "/orders", json=body, headers={**await buyer.headers(), "Idempotency-Key": key}
            )

        drop.append("before")
        before = [await post("drop-before"), await post("drop-before")]
        drop.append("after")
        after = [await post("drop-after"), await post("drop-after")]
        mine = await orders.get(
            "/purchased-services", params={"status": "pending_payment"}, headers=await buyer.headers()
        )
    assert [r.status_code for r in before] == [503, 201], [r.text for r in before]
    assert [r.status_code for r in after] == [503, 201], [r.text for r in after]
    assert after[1].json()["order_id"] in {o["order_id"] for o in mine.json()}
    assert (
        after[1].headers.get("idempotent-replayed") is None
    )  # the first attempt's result, not a kept answer
    assert len(mine.json()) == 2  # one from each key: the dropped-after-commit order once, not twice


async def test_dead_letters_are_kept_by_the_producer_and_a_replay_changes_nothing_twice(
    infra: Infra, namespace: str
) -> None:
    """supervision gave up on an order.paid (here: the record a consumer would have dead-lettered); orders, the
    topic's producer, keeps it; an operator replays it as orders; supervision opens the service order once."""
    settings = f.settings(OrdersSettings, infra, namespace)
    async with (
        running(orders_app(settings)) as orders,
        running(supervision_app(f.settings(SupervisionSettings, infra, namespace))) as supervision,
    ):
        _, buyer, operator, product = await _shop(infra, orders)
        parties = f.Parties(
            buyer_account_id=buyer.account_id, merchant_account_id=product["merchant_account_id"]
        )
        paid = f.order_paid(parties)
        topic = settings.topic(Topic.ORDER_PAID)
        await produce(
            infra.kafka_client(), dead_letter(topic), paid.model_dump_json().encode(), key=paid.order_id
        )
        ops = await operator.headers()

        async def kept() -> list[dict[str, Any]]:
            rows = (await orders.get("/operator/dead-letters", headers=ops)).json()
            return [r for r in rows if r["key"] == paid.order_id]

        [letter] = await eventually(kept, what="orders keeps the dead letter of its topic")
        assert (letter["topic"], letter["replays"]) == (topic, 0)
        path = f"/operator/dead-letters/{quote(letter['dead_letter_id'], safe='')}/replay"
        for _ in range(2):  # the second replay must change nothing
            replayed = await orders.post(path, headers=ops)
            assert replayed.status_code == 200, replayed.text
        assert replayed.json()["replays"] == 2

        async def opened() -> Any:
            r = await supervision.get(
                f"/service-orders/by-order/{paid.order_id}", headers=await buyer.headers()
            )
            return r.json() if r.status_code == 200 else None

        so = await eventually(opened, what="the replayed order.paid opens the service order")
        records = await read_topic(infra.kafka_client(), topic, at_least=2)
        assert [json.loads(r.value)["event_id"] for r in records].count(str(paid.event_id)) == 2
        await asyncio.sleep(1.0)  # the second replay has been consumed too (same partition, after the first)
        again = await supervision.get(
            f"/service-orders/{so['service_order_id']}", headers=await buyer.headers()
        )
        assert [e["action"] for e in again.json()["timeline"]] == ["open"]  # opened once
        refused = await orders.get("/operator/dead-letters", headers=await buyer.headers())
        assert refused.status_code == 403


async def test_a_database_outage_longer_than_the_retries_loses_nothing_and_dead_letters_nothing(
    infra: Infra, namespace: str, tmp_path: Path
) -> None:
    """The database is down for far longer than the consumer's in-process retries: the event is handed back
    uncommitted again and again, and applied once the database is back."""
    node = SecantusNode(tmp_path / "db", free_port())
    node.start(tmp_path / "logs")
    settings = f.settings(
        OrdersSettings,
        infra,
        namespace,
        mongodb_uri=node.uri,
        consumer_outage_window_seconds=1.0,
        consumer_max_attempts=2,
    )
    try:
        async with running(orders_app(settings)) as orders:
            suite, buyer, _, product = await _shop(infra, orders)
            order = await suite.order(buyer, product["product_id"])
            await suite.pay(infra.idp.payment, order)
            node.stop()  # down: every handler call fails with ServerSelectionTimeoutError
            accepted = f.acceptance_done(
                f.Parties(
                    buyer_account_id=buyer.account_id, merchant_account_id=product["merchant_account_id"]
                ),
                order["order_id"],
            )
            await produce(
                infra.kafka_client(),
                settings.topic(Topic.ACCEPTANCE_DONE),
                accepted.model_dump_json().encode(),
                key=order["order_id"],
            )
            await asyncio.sleep(12)  # several outage windows and retry budgets pass
            node.start(tmp_path / "logs")
            done = await suite.completed(buyer, order["order_id"], timeout=90)
            assert done["status"] == "completed"
        dead = await read_topic(
            infra.kafka_client(), dead_letter(settings.topic(Topic.ACCEPTANCE_DONE)), at_least=1, timeout=3
        )
        assert dead == []
    finally:
        node.stop()
