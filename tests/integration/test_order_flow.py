"""Orders and supervision in-process on the real broker and database: the order completes through the flow."""

from __future__ import annotations

import httpx
import pytest

from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from tests.conftest import Infra
from tests.helpers import eventually, running


def _settings(cls, infra: Infra, namespace: str):  # type: ignore[no-untyped-def]
    return cls(kafka_bootstrap_servers=infra.bootstrap, mongodb_uri=infra.mongo_uri, topic_namespace=namespace,
               mongodb_database=f"{namespace}_{cls.model_fields['service_name'].default}",
               consumer_backoff_seconds=0.05)


async def _account(client: httpx.AsyncClient, role: str, name: str) -> str:
    resp = await client.post("/accounts", json={"role": role, "display_name": name,
                                                "bound_email": f"{name}@example.com",
                                                "bound_phone": "+8613800001234", "locale": "en-US"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["account_id"])


@pytest.fixture
def product() -> dict[str, object]:
    return {"product_id": "p-1", "name": "Site migration", "delivery_type": "manual_service",
            "billing_mode": "one_time"}


async def test_paid_order_completes_through_supervision(infra: Infra, namespace: str,
                                                        product: dict[str, object]) -> None:
    async with running(orders_app(_settings(OrdersSettings, infra, namespace))) as orders, \
            running(supervision_app(_settings(SupervisionSettings, infra, namespace))) as supervision:
        buyer, merchant = await _account(orders, "buyer", "buyer1"), await _account(orders, "merchant", "m1")
        created = await orders.post("/orders", headers={"X-Account-Id": buyer},
                                    json={"merchant_account_id": merchant, "product": product, "amount": "100.00"})
        assert created.status_code == 201, created.text
        order_id = created.json()["order_id"]
        paid = await orders.post(f"/orders/{order_id}/pay", headers={"X-Account-Id": buyer})
        assert paid.json()["status"] == "processing"

        async def service_order() -> dict[str, object] | None:
            r = await supervision.get(f"/service-orders/by-order/{order_id}", headers={"X-Account-Id": buyer})
            return r.json() if r.status_code == 200 else None

        so = await eventually(service_order, what="service order opened from order.paid")
        so_id = so["service_order_id"]
        steps = [(buyer, "submit", {}), (merchant, "confirm", {}),
                 (merchant, "deliver", {"evidence": [{"kind": "sow", "name": "sow.pdf"},
                                                     {"kind": "acceptance_document", "name": "acc.pdf"}],
                                        "actual_activation_time": "2026-11-01T08:00:00+08:00"}),
                 (buyer, "accept", {})]
        for actor, action, body in steps:
            r = await supervision.post(f"/service-orders/{so_id}/actions/{action}", json=body,
                                       headers={"X-Account-Id": actor})
            assert r.status_code == 200, (action, r.text)

        async def completed() -> dict[str, object] | None:
            r = await orders.get(f"/orders/{order_id}", headers={"X-Account-Id": buyer})
            return r.json() if r.json()["status"] == "completed" else None

        order = await eventually(completed, what="order completed from acceptance.done")
        assert order["validity_starts_at"].startswith("2026-11-01T00:00:00")  # the activation time, in UTC
        assert [h["status"] for h in order["history"]] == ["pending_payment", "processing", "completed"]
