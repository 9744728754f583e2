"""Orders in-process on the real broker and database: every status change reaches order.status_changed in
order, the durable sweeper cancels an unpaid order, and an approved refund on refund.decided refunds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from shared.schemas import Parties, PartyRole, RefundDecided, RefundDecidedPayload, Topic
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, read_topic, running


async def _account(client: httpx.AsyncClient, role: str) -> str:
    resp = await client.post("/accounts", json={"role": role, "display_name": role, "bound_email": f"{role}@example.com",
                                                "bound_phone": "+8613800001234"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["account_id"])


async def _order(client: httpx.AsyncClient, buyer: str, merchant: str) -> str:
    resp = await client.post("/orders", headers={"X-Account-Id": buyer}, json={
        "merchant_account_id": merchant, "amount": "10.00",
        "product": {"product_id": "p", "name": "n", "delivery_type": "manual_service"}})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["order_id"])


async def _changes(infra: Infra, namespace: str, order_id: str, at_least: int) -> list[tuple[str | None, str, str]]:
    records = await read_topic(infra.bootstrap, f"{namespace}.{Topic.ORDER_STATUS_CHANGED}", at_least=at_least)
    payloads = [json.loads(r.value)["payload"] for r in records if r.key == order_id.encode()]
    return [(p["from_status"], p["to_status"], p["reason"]) for p in payloads]


async def test_an_unpaid_order_is_cancelled_by_the_sweeper_and_every_change_is_published(
        infra: Infra, namespace: str) -> None:
    settings = f.settings(OrdersSettings, infra.bootstrap, infra.mongo_uri, namespace,
                          unpaid_cancel_minutes=0.01, sweeper_poll_seconds=0.2)
    async with running(orders_app(settings)) as orders:
        buyer, merchant = await _account(orders, "buyer"), await _account(orders, "merchant")
        order_id = await _order(orders, buyer, merchant)

        async def cancelled() -> dict[str, object] | None:
            body = (await orders.get(f"/orders/{order_id}", headers={"X-Account-Id": buyer})).json()
            return body if body["status"] == "cancelled" else None

        order = await eventually(cancelled, timeout=15, what="the unpaid order cancelled by the sweeper")
        assert [h["status"] for h in order["history"]] == ["pending_payment", "cancelled"]  # type: ignore[index]
        late = await orders.post(f"/orders/{order_id}/pay", headers={"X-Account-Id": buyer})
        assert late.status_code == 409
        assert await _changes(infra, namespace, order_id, at_least=2) == [
            (None, "pending_payment", "new order placed"),
            ("pending_payment", "cancelled", "not paid within 0.01 minutes")]


async def test_an_approved_refund_decision_refunds_the_paid_order(infra: Infra, namespace: str) -> None:
    settings = f.settings(OrdersSettings, infra.bootstrap, infra.mongo_uri, namespace)
    async with running(orders_app(settings)) as orders:
        buyer, merchant = await _account(orders, "buyer"), await _account(orders, "merchant")
        order_id = await _order(orders, buyer, merchant)
        paid = await orders.post(f"/orders/{order_id}/pay", headers={"X-Account-Id": buyer})
        assert paid.json()["status"] == "processing"
        requested = await orders.post(f"/purchased-services/{order_id}/unsubscribe", headers={"X-Account-Id": buyer},
                                      json={"reason": "plans changed"})
        assert requested.status_code == 200, requested.text
        refund_id = requested.json()["refund"]["refund_id"]
        decided = RefundDecided(producer="supervision", correlation_id="c", order_id=order_id,
                                payload=RefundDecidedPayload(
                                    refund_id=refund_id, order_id=order_id, approved=True, amount=Decimal("10.00"),
                                    reason="plans changed", decided_by_role=PartyRole.MERCHANT,
                                    parties=Parties(buyer_account_id=buyer, merchant_account_id=merchant),
                                    decided_at=datetime.now(UTC)))
        await produce(infra.bootstrap, f"{namespace}.{Topic.REFUND_DECIDED}", decided.model_dump_json().encode(),
                      key=order_id)

        async def refunded() -> bool:
            body = (await orders.get(f"/orders/{order_id}", headers={"X-Account-Id": buyer})).json()
            return bool(body["status"] == "refunded" and body["refund"]["state"] == "approved")

        await eventually(refunded, what="the order refunded from refund.decided")
        unsubscribe_id = requested.json()["unsubscribe_order_id"]
        unsubscribe = (await orders.get(f"/orders/{unsubscribe_id}", headers={"X-Account-Id": merchant})).json()
        assert (unsubscribe["order_type"], unsubscribe["status"], unsubscribe["original_order_id"]) == (
            "unsubscribe", "completed", order_id)
        assert [c[1] for c in await _changes(infra, namespace, unsubscribe_id, at_least=5)] == [
            "processing", "completed"]
        requests = await read_topic(infra.bootstrap, f"{namespace}.{Topic.REFUND_REQUESTED}")
        assert [json.loads(r.value)["payload"]["refund_id"] for r in requests] == [refund_id]
        assert [c[1] for c in await _changes(infra, namespace, order_id, at_least=3)] == [
            "pending_payment", "processing", "refunded"]
