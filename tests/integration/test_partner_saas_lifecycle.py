"""The SaaS lifecycle on the real stack (dossier §8.2): a local merchant that creates instances asynchronously
(`000004`) is polled with queryInstance by the running partner service until the instance is ready; and the
merchant's usage push reaches partner's open API signed with the merchant's key, and is stored once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.partner import signing
from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import BillingMode, DeliveryType, Parties
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, running
from tests.integration.test_partner_receiver import OK, Receiver, serving
from tests.integration.test_partner_sync import FAST, publish
from tests.integration.test_partner_workers import merchant_with

POLLING = {**FAST, "instance_poll_interval_seconds": 0.2, "instance_poll_window_seconds": 30.0}


class SlowMerchant(Receiver):
    """Creates instances asynchronously: newInstance answers 000004, the first queryInstance too, then 000000."""

    queries: int = 0

    def store(self, name: str, b: dict[str, Any]) -> dict[str, Any]:
        if name == "saas" and b["activity"] == "newInstance":
            return {"resultCode": "000004", "resultMsg": "processing", "instanceId": f"inst-{b['orderId']}"}
        if name == "saas" and b["activity"] == "queryInstance":
            self.queries += 1
            if self.queries < 2:
                return {"resultCode": "000004", "resultMsg": "processing"}
            return {**OK, "instanceId": b["instanceId"], "appInfo": {"frontEndUrl": "https://app.example"}}
        return super().store(name, b)


async def test_a_processing_new_purchase_is_polled_until_its_instance_is_ready(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **POLLING)
    app = create_app(settings)
    with serving(SlowMerchant()) as merchant_server:
        async with running(app) as client:
            db = app.state.runtime.db
            merchant = await merchant_with(infra, client, merchant_server)
            buyer = await infra.idp.user("buyer")
            paid = f.order_paid(
                Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id),
                delivery_type=DeliveryType.SAAS_INSTANT,
            )
            await publish(infra, namespace, paid)
            order_id = paid.payload.order_id

            async def polled() -> dict[str, Any] | None:
                call = await db["merchant_calls"].find_one({"_id": f"queryInstance:{order_id}"})
                return call if call and call["status"] == "succeeded" else None

            poll = await eventually(polled, what="the queryInstance polling succeeded")
            assert [a["ok"] for a in poll["attempts"]] == [True, True]  # 000004 once, then ready
            assert poll["attempts"][0]["detail"] == "000004 processing"
            sale = await db["sales"].find_one({"_id": order_id})
            assert sale["instance_id"] == f"inst-{order_id}"
            activities = [b["activity"] for n, b in merchant_server.requests if n == "saas"]
            assert activities == ["newInstance", "queryInstance", "queryInstance"]
            assert await db["outbox"].count_documents({"topic": "merchant_call.failed"}) == 0


async def test_a_signed_usage_push_is_stored_once_and_a_forged_one_refused(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    app = create_app(settings)
    with serving(Receiver()) as merchant_server:
        async with running(app) as client:
            db = app.state.runtime.db
            merchant = await merchant_with(infra, client, merchant_server)
            buyer = await infra.idp.user("buyer")
            paid = f.order_paid(
                Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id),
                delivery_type=DeliveryType.SAAS_INSTANT,
            )
            on_demand = paid.payload.product.model_copy(update={"billing_mode": BillingMode.PAY_PER_USE})
            paid = paid.model_copy(update={"payload": paid.payload.model_copy(update={"product": on_demand})})
            await publish(infra, namespace, paid)
            order_id = paid.payload.order_id

            async def opened() -> dict[str, Any] | None:
                sale = await db["sales"].find_one({"_id": order_id})
                return sale if sale and sale.get("instance_id") else None

            instance = (await eventually(opened, what="the instance opened"))["instance_id"]
            begin = datetime.now(UTC) - timedelta(hours=1)
            body = json.dumps(
                {
                    "usageRecords": [
                        {
                            "recordId": "rec-1",
                            "instanceId": instance,
                            "usageMeasureId": "hour",
                            "usageValue": "3",
                            "beginTime": begin.isoformat(),
                            "endTime": (begin + timedelta(hours=1)).isoformat(),
                        }
                    ]
                }
            ).encode()

            async def push(key: str) -> httpx.Response:
                headers = {**signing.sign_headers(key, body), "x-merchant-id": merchant.account_id}
                return await client.post("/open/saas/usage-data", content=body, headers=headers)

            first, again = await push(merchant_server.access_key), await push(merchant_server.access_key)
            forged = await push("not-the-merchants-key")

            assert (first.status_code, first.json()["records"]) == (
                200,
                [{"recordId": "rec-1", "code": "000"}],
            )
            assert (again.status_code, again.json()["records"]) == (
                200,
                [{"recordId": "rec-1", "code": "005"}],
            )
            assert (forged.status_code, forged.json()["resultCode"]) == (401, "MKT.0102")
            stored = await db["usage_records"].find({"merchant_id": merchant.account_id}).to_list(None)
            assert [(r["record_id"], r["order_id"], r["value"]) for r in stored] == [("rec-1", order_id, "3")]
