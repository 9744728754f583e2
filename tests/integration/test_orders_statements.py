"""Merchant settlement statements on the real broker, database and identity provider (dossier §4.3): the
monthly production, run by the orders service's statement worker source on the statement date (the 7th or the
next working day), makes one statement per merchant however often it runs; operators send it and record it
paid over HTTP with real tokens; each step's notice reaches notice.requested on Kafka."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from devstack.marketplace import Suite
from services.orders.app import create_app as orders_app
from services.orders.billing import Period
from services.orders.clocks import StatementRuns
from services.orders.context import OrdersContext
from services.orders.settings import OrdersSettings
from services.orders.statements import statement_date
from shared.platform.worker import Blocked
from shared.schemas import Topic
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import read_topic, running


async def test_the_monthly_statements_are_made_once_sent_and_paid_and_each_step_is_told(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(OrdersSettings, infra, namespace)
    app = orders_app(settings)
    async with running(app) as orders:
        buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
        shop = Suite({"orders": ""}, orders)
        await shop.profile(buyer, "+8613800001234")
        await shop.profile(merchant, "+8613800005678")
        product = await shop.list_product(
            merchant,
            operator,
            name="OS image",
            delivery_type="image",
            flow_template=None,
            specifications=[{"spec_id": "std", "name": "Std", "billing_mode": "one_time", "price": "10.00"}],
        )
        payment = await infra.idp.payment_headers()
        for _ in range(2):  # unsupervised: effective, and billable, on payment (§4.3)
            placed = await shop.order(buyer, product["product_id"])
            paid = await orders.post(
                f"/orders/{placed['order_id']}/pay",
                headers=payment,
                json={"payment_id": f"PAY-{placed['order_id']}", "amount": placed["amount"]},
            )
            assert paid.json()["status"] == "completed", paid.text

        # This month's statements come on next month's statement date: the worker's source, on that day.
        ctx: OrdersContext = app.state.orders
        month = Period.of(datetime.now(UTC))
        day = statement_date(month, settings.workday_calendar(), settings.statement_hour)
        runs = StatementRuns(dataclasses.replace(ctx, clock=lambda: day), settings.workday_calendar())
        [item] = await runs.due(day, 5, Blocked())
        assert item == f"statements:{month}"
        await runs.process(item)
        await runs.process(item)  # a second run of the month makes nothing new
        assert await runs.due(day, 5, Blocked()) == []

        listed = await orders.get("/statements", headers=await merchant.headers())
        assert listed.status_code == 200, listed.text
        [statement] = listed.json()
        assert (statement["period"], statement["state"], statement["totals"]) == (
            str(month),
            "review",
            {"CNY": "20.00"},
        )
        assert len(statement["lines"]) == 2
        sid = statement["statement_id"]
        base = f"/statements/{sid}"
        refused = await orders.post(f"{base}/send", headers=await merchant.headers())
        assert refused.status_code == 403, refused.text
        sent = await orders.post(f"{base}/send", headers=await operator.headers())
        paid_statement = await orders.post(f"{base}/paid", headers=await operator.headers())
        assert (sent.json()["state"], paid_statement.json()["state"]) == ("sent", "paid"), paid_statement.text

        records = await read_topic(
            infra.kafka_client(), f"{namespace}.{Topic.NOTICE_REQUESTED}", at_least=3, timeout=90
        )
        told = [json.loads(r.value)["payload"] for r in records if r.key == sid.encode()]
        assert [n["notice_id"] for n in told] == [f"statement:{sid}:{s}" for s in ("review", "sent", "paid")]
        assert {n["kind"] for n in told} == {"statement_status"}
        assert [[r["account_id"] for r in n["recipients"]] for n in told] == [[merchant.account_id]] * 3
