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

from devstack.marketplace import Suite
from devstack.mongo import SecantusNode
from devstack.procs import free_port
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
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


async def test_a_retried_post_with_its_idempotency_key_creates_nothing_twice(infra: Infra, namespace: str) -> None:
    async with running(orders_app(f.settings(OrdersSettings, infra, namespace))) as orders:
        _, buyer, _, product = await _shop(infra, orders)
        body = {"product_id": product["product_id"]}
        headers = {**await buyer.headers(), "Idempotency-Key": "checkout-7f3a"}
        first = await orders.post("/orders", json=body, headers=headers)
        again = await orders.post("/orders", json=body, headers=headers)
        other_body = await orders.post("/orders", json={**body, "coupon_ids": []}, headers=headers)
        without = [await orders.post("/orders", json=body, headers=await buyer.headers()) for _ in range(2)]
        mine = await orders.get("/purchased-services", params={"status": "pending_payment"},
                                headers=await buyer.headers())
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.json()["detail"]["field"] == "Idempotency-Key"
    assert len({r.json()["order_id"] for r in without}) == 2  # no key: two orders, as asked
    assert len(mine.json()) == 3


async def test_dead_letters_are_kept_by_the_producer_and_a_replay_changes_nothing_twice(
        infra: Infra, namespace: str) -> None:
    """supervision gave up on an order.paid (here: the record a consumer would have dead-lettered); orders, the
    topic's producer, keeps it; an operator replays it as orders; supervision opens the service order once."""
    settings = f.settings(OrdersSettings, infra, namespace)
    async with running(orders_app(settings)) as orders, \
            running(supervision_app(f.settings(SupervisionSettings, infra, namespace))) as supervision:
        _, buyer, operator, product = await _shop(infra, orders)
        parties = f.Parties(buyer_account_id=buyer.account_id, merchant_account_id=product["merchant_account_id"])
        paid = f.order_paid(parties)
        topic = settings.topic(Topic.ORDER_PAID)
        await produce(infra.kafka_client(), dead_letter(topic), paid.model_dump_json().encode(), key=paid.order_id)
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
            r = await supervision.get(f"/service-orders/by-order/{paid.order_id}", headers=await buyer.headers())
            return r.json() if r.status_code == 200 else None

        so = await eventually(opened, what="the replayed order.paid opens the service order")
        records = await read_topic(infra.kafka_client(), topic, at_least=2)
        assert [json.loads(r.value)["event_id"] for r in records].count(str(paid.event_id)) == 2
        await asyncio.sleep(1.0)  # the second replay has been consumed too (same partition, after the first)
        again = await supervision.get(f"/service-orders/{so['service_order_id']}", headers=await buyer.headers())
        assert [e["action"] for e in again.json()["timeline"]] == ["open"]  # opened once
        refused = await orders.get("/operator/dead-letters", headers=await buyer.headers())
        assert refused.status_code == 403


async def test_a_database_outage_longer_than_the_retries_loses_nothing_and_dead_letters_nothing(
        infra: Infra, namespace: str, tmp_path: Path) -> None:
    """The database is down for far longer than the consumer's in-process retries: the event is handed back
    uncommitted again and again, and applied once the database is back."""
    node = SecantusNode(tmp_path / "db", free_port())
    node.start(tmp_path / "logs")
    settings = f.settings(OrdersSettings, infra, namespace, mongodb_uri=node.uri,
                          consumer_outage_window_seconds=1.0, consumer_max_attempts=2)
    try:
        async with running(orders_app(settings)) as orders:
            suite, buyer, _, product = await _shop(infra, orders)
            order = await suite.order(buyer, product["product_id"])
            await suite.pay(infra.idp.payment, order)
            node.stop()  # down: every handler call fails with ServerSelectionTimeoutError
            accepted = f.acceptance_done(f.Parties(buyer_account_id=buyer.account_id,
                                                   merchant_account_id=product["merchant_account_id"]),
                                         order["order_id"])
            await produce(infra.kafka_client(), settings.topic(Topic.ACCEPTANCE_DONE),
                          accepted.model_dump_json().encode(), key=order["order_id"])
            await asyncio.sleep(12)  # several outage windows and retry budgets pass
            node.start(tmp_path / "logs")
            done = await suite.completed(buyer, order["order_id"], timeout=90)
            assert done["status"] == "completed"
        dead = await read_topic(infra.kafka_client(), dead_letter(settings.topic(Topic.ACCEPTANCE_DONE)),
                                at_least=1, timeout=3)
        assert dead == []
    finally:
        node.stop()
