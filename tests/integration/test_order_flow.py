"""Orders and supervision in-process on the real broker and database, with real tokens: the order completes
through the flow."""

from __future__ import annotations

from devstack.marketplace import Suite
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import running


async def test_paid_order_completes_through_supervision(infra: Infra, namespace: str) -> None:
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    async with (
        running(orders_app(f.settings(OrdersSettings, infra, namespace))) as orders,
        running(supervision_app(f.settings(SupervisionSettings, infra, namespace))) as supervision,
    ):
        shop = Suite({"orders": ""}, orders)
        await shop.profile(buyer, "+8613800001234")
        await shop.profile(merchant, "+8613800005678")
        product = await shop.list_product(
            merchant,
            operator,
            specifications=[
                {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": "100.00"}
            ],
        )
        created = await shop.order(buyer, product["product_id"])
        assert created["amount"] == "100.00"  # the catalogue's price
        paid = await shop.pay(infra.idp.payment, created)
        assert paid["status"] == "processing"

        flow = Suite({"supervision": ""}, supervision)
        so = await flow.service_order(buyer, created["order_id"])
        evidence = await flow.delivery(
            merchant, so["service_order_id"], actual_activation_time="2026-11-01T08:00:00+08:00"
        )
        for actor, action, body in [
            (buyer, "submit", {}),
            (merchant, "confirm", {}),
            (merchant, "deliver", evidence),
            (buyer, "accept", {}),
        ]:
            await flow.act(actor, so["service_order_id"], action, body)

        order = await shop.completed(buyer, created["order_id"])
        assert order["validity_starts_at"].startswith("2026-11-01T00:00:00")  # the activation time, in UTC
        assert [h["status"] for h in order["history"]] == ["pending_payment", "processing", "completed"]
