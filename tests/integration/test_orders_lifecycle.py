"""Orders in-process on the real broker, database and identity provider: every status change reaches
order.status_changed in order, the durable sweeper cancels an unpaid order, the merchant's decision refunds an
order and publishes refund.decided, and supervision's appeal events freeze it and refund it once. The people
are Keycloak users with real tokens; the payment system confirms the payment with its own client-credentials
token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from devstack.marketplace import Suite
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from shared.platform.mongo import Doc, connect
from shared.schemas import AppealOutcome, Parties, Topic
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, read_topic, running
from tests.identity import User
from tests.service.orders_support import appeal_raised, appeal_resolved

PRICE = "10.00"


async def _shop(client: httpx.AsyncClient, infra: Infra) -> tuple[Suite, User, User, str]:
    """A buyer and a merchant with their profiles, and the merchant's product listed by an operator."""
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    shop = Suite({"orders": ""}, client)
    await shop.profile(buyer, "+8613800001234")
    await shop.profile(merchant, "+8613800005678")
    product = await shop.list_product(
        merchant,
        operator,
        specifications=[{"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": PRICE}],
    )
    assert product["status"] == "listed"
    return shop, buyer, merchant, str(product["product_id"])


async def _pay(
    client: httpx.AsyncClient, infra: Infra, order: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        f"/orders/{order['order_id']}/pay",
        headers=headers or await infra.idp.payment_headers(),
        json={"payment_id": f"PAY-{order['order_id']}", "amount": order["amount"]},
    )


async def _changes(
    infra: Infra, namespace: str, order_id: str, at_least: int
) -> list[tuple[str | None, str, str]]:
    records = await read_topic(
        infra.kafka_client(), f"{namespace}.{Topic.ORDER_STATUS_CHANGED}", at_least=at_least
    )
    payloads = [json.loads(r.value)["payload"] for r in records if r.key == order_id.encode()]
    return [(p["from_status"], p["to_status"], p["reason"]) for p in payloads]


async def test_an_unpaid_order_is_cancelled_by_the_sweeper_and_every_change_is_published(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(
        OrdersSettings, infra, namespace, unpaid_cancel_minutes=0.01, sweeper_poll_seconds=0.2
    )
    async with running(orders_app(settings)) as orders:
        shop, buyer, _, product_id = await _shop(orders, infra)
        placed = await shop.order(buyer, product_id)
        assert placed["amount"] == PRICE  # the catalogue's price
        order_id = placed["order_id"]

        async def cancelled() -> dict[str, Any] | None:
            body = (await orders.get(f"/orders/{order_id}", headers=await buyer.headers())).json()
            return body if body["status"] == "cancelled" else None

        order = await eventually(cancelled, timeout=15, what="the unpaid order cancelled by the sweeper")
        assert [h["status"] for h in order["history"]] == ["pending_payment", "cancelled"]
        by_buyer = await _pay(orders, infra, placed, await buyer.headers())
        assert (by_buyer.status_code, by_buyer.json()["detail"]["rule"]) == (403, "payment_system_only")
        late = await _pay(orders, infra, placed)
        assert late.status_code == 409
        assert await _changes(infra, namespace, order_id, at_least=2) == [
            (None, "pending_payment", "new order placed"),
            ("pending_payment", "cancelled", "not paid within 0.01 minutes"),
        ]


async def test_a_failing_cancellation_is_quarantined_and_the_other_unpaid_orders_are_cancelled(
    infra: Infra, namespace: str
) -> None:
    """Issue 10: the sweeper cancelled in one batch, so one order it could not cancel stopped every
    cancellation. Each overdue order is now an item of the shared leased worker: the bad one is recorded,
    retried with backoff and quarantined, and the others are cancelled meanwhile."""
    settings = f.settings(
        OrdersSettings,
        infra,
        namespace,
        unpaid_cancel_minutes=0.01,
        sweeper_poll_seconds=0.2,
        sweeper_max_attempts=2,
        sweeper_backoff_seconds=0.1,
    )
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    try:
        # Overdue and first in line, but not an order this code can load (say, written by an older version).
        await client[settings.database]["orders"].insert_one(
            {
                "_id": "CS-broken",
                "order_id": "CS-broken",
                "status": "pending_payment",
                "pay_by": datetime(2020, 1, 1, tzinfo=UTC),
            }
        )
        async with running(orders_app(settings)) as orders:
            shop, buyer, _, product_id = await _shop(orders, infra)
            order_id = (await shop.order(buyer, product_id))["order_id"]

            async def cancelled() -> bool:
                body = (await orders.get(f"/orders/{order_id}", headers=await buyer.headers())).json()
                return bool(body["status"] == "cancelled")

            await eventually(
                cancelled, timeout=15, what="the good unpaid order cancelled despite the broken one"
            )

            async def quarantined() -> dict[str, Any] | None:
                ready = (await orders.get("/readyz")).json()
                sweeper = [w for name, w in ready["workers"].items() if "unpaid" in name]
                return ready if sweeper and sweeper[0]["quarantined"] == 1 else None

            ready = await eventually(quarantined, timeout=15, what="the broken order quarantined")
            assert (
                ready["ready"] is True
            )  # reported, but a quarantined item does not make the service unready
        row = await client[settings.database]["worker_items"].find_one({"key": "CS-broken"})
        assert row is not None
        assert (row["attempts"], row["quarantined_at"] is not None) == (2, True)
        assert "ValidationError" in row["last_error"]
    finally:
        await client.close()


async def test_the_merchant_decides_a_refund_at_orders_which_publishes_it(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(OrdersSettings, infra, namespace)
    async with running(orders_app(settings)) as orders:
        shop, buyer, merchant, product_id = await _shop(orders, infra)
        placed = await shop.order(buyer, product_id)
        order_id = placed["order_id"]
        paid = await _pay(orders, infra, placed)
        assert paid.json()["status"] == "processing", paid.text
        again = await _pay(orders, infra, placed)  # the payment system confirms the same payment again
        assert again.status_code == 200, again.text
        assert again.json() == (await orders.get(f"/orders/{order_id}", headers=await buyer.headers())).json()
        assert [(o["status"], o["payment_id"], len(o["history"])) for o in (paid.json(), again.json())] == [
            ("processing", f"PAY-{order_id}", 2)
        ] * 2
        requested = await orders.post(
            f"/purchased-services/{order_id}/unsubscribe",
            headers=await buyer.headers(),
            json={"reason": "plans changed"},
        )
        assert requested.status_code == 200, requested.text
        refund_id = requested.json()["refund"]["refund_id"]
        url = f"/orders/{order_id}/refunds/{refund_id}/decision"
        by_buyer = await orders.post(url, headers=await buyer.headers(), json={"approve": True})
        assert (by_buyer.status_code, by_buyer.json()["detail"]["rule"]) == (403, "merchants_only")

        decided = await orders.post(
            url,
            headers=await merchant.headers(),
            json={
                "approve": True,
                "opinion": "ok",
                "agreed_record": {"kind": "document", "ref": "call-2026-11-30"},
            },
        )

        assert decided.status_code == 200, decided.text
        assert (decided.json()["status"], decided.json()["refund"]["state"]) == ("refunded", "approved")
        unsubscribe_id = requested.json()["unsubscribe_order_id"]
        unsubscribe = (await orders.get(f"/orders/{unsubscribe_id}", headers=await merchant.headers())).json()
        assert (unsubscribe["order_type"], unsubscribe["status"], unsubscribe["original_order_id"]) == (
            "unsubscribe",
            "completed",
            order_id,
        )
        assert [c[1] for c in await _changes(infra, namespace, unsubscribe_id, at_least=5)] == [
            "processing",
            "completed",
        ]
        requests = await read_topic(infra.kafka_client(), f"{namespace}.{Topic.REFUND_REQUESTED}")
        assert [json.loads(r.value)["payload"]["refund_id"] for r in requests] == [refund_id]
        [outcome] = [
            json.loads(r.value)["payload"]
            for r in await read_topic(infra.kafka_client(), f"{namespace}.{Topic.REFUND_DECIDED}")
        ]
        assert (outcome["refund_id"], outcome["approved"], outcome["decided_by_role"]) == (
            refund_id,
            True,
            "merchant",
        )
        assert outcome["decided_by_account_id"] == merchant.account_id
        assert [c[1] for c in await _changes(infra, namespace, order_id, at_least=3)] == [
            "pending_payment",
            "processing",
            "refunded",
        ]


async def test_an_appeal_freezes_refunds_and_its_refund_is_carried_out_once(
    infra: Infra, namespace: str
) -> None:
    """Supervision's appeal.raised and appeal.resolved on the real broker: the order is frozen for refunds,
    then refunded in full once, however often the resolution is delivered."""
    settings = f.settings(OrdersSettings, infra, namespace)
    async with running(orders_app(settings)) as orders:
        shop, buyer, merchant, product_id = await _shop(orders, infra)
        placed = await shop.order(buyer, product_id)
        order_id = placed["order_id"]
        assert (await _pay(orders, infra, placed)).status_code == 200
        parties = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
        kafka = infra.kafka_client()
        raised = appeal_raised(parties, order_id)
        await produce(
            kafka, f"{namespace}.{Topic.APPEAL_RAISED}", raised.model_dump_json().encode(), key=order_id
        )

        async def frozen() -> dict[str, Any] | None:
            body = (await orders.get(f"/orders/{order_id}", headers=await buyer.headers())).json()
            return body if body["progress"]["appeal"] else None

        await eventually(frozen, what="the order frozen by appeal.raised")
        refused = await orders.post(
            f"/purchased-services/{order_id}/unsubscribe", headers=await buyer.headers(), json={"reason": "x"}
        )
        assert (refused.status_code, refused.json()["detail"]["code"]) == (409, "frozen_by_appeal")
        resolved = appeal_resolved(parties, order_id, AppealOutcome.REFUND, operator="op-1")
        for _ in range(2):  # delivered twice
            body = resolved.model_dump_json().encode()
            await produce(kafka, f"{namespace}.{Topic.APPEAL_RESOLVED}", body, key=order_id)

        async def refunded() -> dict[str, Any] | None:
            body = (await orders.get(f"/orders/{order_id}", headers=await buyer.headers())).json()
            return body if body["status"] == "refunded" else None

        order = await eventually(refunded, what="the order refunded by appeal.resolved")
        assert order["progress"]["appeal"] is None
        assert [c[1] for c in await _changes(infra, namespace, order_id, at_least=3)] == [
            "pending_payment",
            "processing",
            "refunded",
        ]
        records = await read_topic(kafka, f"{namespace}.{Topic.REFUND_DECIDED}")
        assert [
            (p["refund_id"], p["approved"], p["decided_by_role"], p["decided_by_account_id"])
            for p in (json.loads(r.value)["payload"] for r in records)
        ] == [("RF-AP-1", True, "operator", "op-1")]
