"""Orders and supervision in-process on the real broker and database, with real tokens: the order of a
milestone offer (dossier §4.2) reaches supervision, whose service order carries the offer's milestones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devstack.marketplace import Suite
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import running

MILESTONES = [
    {"milestone_id": "design", "title": "Design", "proportion": "0.25"},
    {"milestone_id": "build", "title": "Build", "proportion": "0.75"},
]


async def test_the_order_of_a_milestone_offer_is_supervised_milestone_by_milestone(
    infra: Infra, namespace: str
) -> None:
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    async with (
        running(orders_app(f.settings(OrdersSettings, infra, namespace))) as orders,
        running(supervision_app(f.settings(SupervisionSettings, infra, namespace))) as supervision,
    ):
        shop = Suite({"orders": ""}, orders)
        await shop.profile(buyer, "+8613800001234")
        await shop.profile(merchant, "+8613800005678")
        product = await shop.list_product(merchant, operator)  # a one-time supervised manual service
        offer = await shop.call(
            "POST",
            "orders",
            "/milestone-offers",
            merchant,
            expect=201,
            json={
                "name": f.rid("offer"),
                "buyer_account_id": buyer.account_id,
                "product_id": product["product_id"],
                "quantity": 2,
                "amount": "5000.00",
                "milestones": MILESTONES,
                "valid_until": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
        )
        order = await shop.call(
            "POST", "orders", f"/milestone-offers/{offer['offer_id']}/orders", buyer, expect=201
        )
        assert (order["offer_id"], order["amount"]) == (offer["offer_id"], "5000.00")
        await shop.call("POST", "orders", f"/milestone-offers/{offer['offer_id']}/orders", buyer, expect=409)
        assert (await shop.pay(infra.idp.payment, order))["status"] == "processing"

        flow = Suite({"supervision": ""}, supervision)
        so = await flow.service_order(buyer, order["order_id"])
        assert [(m["milestone_id"], m["proportion"]) for m in so["milestones"]] == [
            ("design", "0.25"),
            ("build", "0.75"),
        ]
        assert all(m["accepted_at"] is None for m in so["milestones"])
