"""Partner stories on the four running services and the real broker (issue 6, "Done when")."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devstack.stack import Stack
from shared.schemas import Topic
from tests.e2e.journey import Journey
from tests.helpers import eventually, read_topic
from tests.identity import IdentityProvider
from tests.integration.test_partner_receiver import Receiver, serving


async def ledger(j: Journey, entries: int) -> dict[str, Any] | None:
    body: dict[str, Any] = await j.call(
        "GET", "partner", f"/providers/{j.provider.account_id}/ledger", j.provider
    )
    return body if len(body["entries"]) == entries else None


async def test_orders_through_private_links_earn_and_a_refund_reverses_the_earning(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(price="1288.00", ratio="0.12")
    await j.become_provider()
    await j.buy(private_link=await j.private_link())
    await j.service_order()
    await j.walk_to_acceptance()

    earned = await eventually(lambda: ledger(j, 1), what="the provider's earning")
    assert earned["entries"][0]["order_id"] == j.order_id  # bound to the provider by the link alone
    assert earned["total"] == "154.56"  # 1288.00 × 0.12 (VAT and service-fee tax at 6 % cancel out)

    # A supervised order can only be refunded within its guarantee period, before acceptance (dossier §1.4).
    # An order whose supervision is "not applicable" counts as accepted when paid and can still take the 5-day
    # no-reason refund: that is the real path on which an accepted, earning order is refunded afterwards.
    image = await j.suite.list_product(
        j.merchant,
        j.operator,
        name="Hardened OS image",
        delivery_type="image",
        flow_template=None,
        provider_share_ratio="0.10",
        specifications=[{"spec_id": "std", "name": "Standard", "price": "500.00"}],
    )
    second = await j.suite.order(
        j.buyer, image["product_id"], private_link=await j.private_link(image["product_id"])
    )
    await j.suite.pay(j.payment, second)
    both = await eventually(lambda: ledger(j, 2), what="the image order's earning at payment")
    assert both["total"] == "204.56"  # 154.56 + 500.00 × 0.10

    await j.call(
        "POST",
        "orders",
        f"/purchased-services/{second['order_id']}/unsubscribe",
        j.buyer,
        json={"reason": "wrong edition"},
    )
    reversed_ = await eventually(lambda: ledger(j, 3), what="the reversal after the refund")
    assert reversed_["total"] == "154.56"
    image_entries = sorted(e["amount"] for e in reversed_["entries"] if e["order_id"] == second["order_id"])
    assert image_entries == ["-50.00", "50.00"]
    refunded = await j.call("GET", "orders", f"/orders/{second['order_id']}", j.buyer)
    assert refunded["status"] == "refunded"


async def test_a_joint_selling_demand_closes_as_won_when_the_customer_orders_with_the_private_offer(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(price="1000.00", ratio="0.10")
    await j.become_provider()
    product_id = j.product["product_id"]
    await j.call(
        "PUT",
        "partner",
        f"/products/{product_id}/terms",
        j.merchant,
        json={"share_ratio": "0.10", "authorized_discount": "0.2"},
    )
    demand = await j.call(
        "POST",
        "partner",
        "/demands",
        j.provider,
        expect=201,
        json={
            "merchant_account_id": j.merchant.account_id,
            "customer_account_id": j.buyer.account_id,
            "product_id": product_id,
            "description": "migrate 3 databases",
        },
    )
    now = datetime.now(UTC)
    answered = await j.call(
        "POST",
        "partner",
        f"/demands/{demand['demand_id']}/offer",
        j.merchant,
        json={
            "name": "自拓优惠-迁移-9折",
            "customer_account_id": j.buyer.account_id,
            "product_ids": [product_id],
            "discount": "0.1",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_until": (now + timedelta(days=7)).isoformat(),
        },
    )
    offer_id = answered["offer"]["offer_id"]
    link = await j.private_link(offer_id=offer_id)
    order = await j.suite.order(j.buyer, product_id, private_link=link)
    assert order["amount"] == "900.00"  # the offer's 10 % off the catalogue's 1,000.00, signed into the link
    await j.suite.pay(j.payment, order)

    async def won() -> Any:
        d = await j.call("GET", "partner", f"/demands/{demand['demand_id']}", j.provider)
        return d if d["status"] == "won" else None

    closed = await eventually(won, what="demand closed as won")
    assert closed["won_order_id"] == order["order_id"]
    assert closed["offer_id"] == offer_id


async def test_a_failed_kit_sync_notifies_and_a_replay_succeeds_exactly_once(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(
        provider=False,
        name="CRM",
        delivery_type="saas_instant",
        flow_template=None,
        sale_mode="joint_operation",
    )
    with serving(Receiver()) as r:
        await j.call(
            "PUT",
            "partner",
            f"/merchants/{j.merchant.account_id}/endpoint",
            j.merchant,
            json={"production_url": r.url, "access_key": r.access_key, "public_key_pem": r.public_pem},
        )
        await j.buy()

        async def instance_recorded() -> bool:  # the merchant answered and partner recorded the instance id
            console = await j.call(
                "GET", "partner", f"/merchants/{j.merchant.account_id}/console", j.merchant
            )
            return bool(console["endpoints"].get("newInstance", {}).get("success_rate") == 1.0)

        await eventually(instance_recorded, timeout=30, what="the SaaS instance")
        assert list(r.instances) == [j.order_id]

        r.failing = True
        calls = await j.call(
            "POST",
            "partner",
            f"/orders/{j.order_id}/kit/bind",
            j.buyer,
            expect=202,
            json={
                "tenant": {
                    "tenantId": "t1",
                    "tenantCode": "acme",
                    "name": "ACME",
                    "domainName": "acme.example",
                },
                "app": {"appId": "a1", "clientId": "c1", "clientSecret": "s3cret"},
                "orgs": [],
            },
        )
        tenant_call = next(c["call_id"] for c in calls if c["endpoint"] == "tenantSync")

        async def failures() -> list[dict[str, Any]]:
            records = await read_topic(
                e2e.kafka_client(), f"{e2e.namespace}.{Topic.MERCHANT_CALL_FAILED}", at_least=1, timeout=2
            )
            found = []
            for x in records:  # read tolerantly: other tests of the session poison this namespace's topics
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    found.append(json.loads(x.value)["payload"])
            return [p for p in found if p.get("call_id") == tenant_call]

        [failed] = await eventually(failures, timeout=30, what="merchant_call.failed for the tenant sync")
        assert failed["merchant_account_id"] == j.merchant.account_id
        assert failed["final"] is True
        assert failed["endpoint"] == "tenantSync"
        assert failed["order_id"] == j.order_id

        async def merchant_mailed() -> list[Any]:  # the notification service tells the merchant (SMS + email)
            return [
                m for m in await e2e.mailbox(j.http).messages(j.merchant.email) if "tenantSync" in m.subject
            ]

        assert await eventually(merchant_mailed, timeout=30, what="the merchant's failure mail")
        assert await eventually(
            lambda: j.sms("+8613811110002"), timeout=30, what="the merchant's failure SMS"
        )

        r.failing = False
        await j.call("POST", "partner", f"/merchant-calls/{tenant_call}/replay", j.merchant, expect=202)
        await j.call("POST", "partner", f"/merchant-calls/{tenant_call}/replay", j.merchant, expect=409)
        await eventually(
            lambda: _true(r.count("tenantSync") == 1), timeout=30, what="the replayed tenant sync"
        )
        await j.call("POST", "partner", f"/merchant-calls/{tenant_call}/replay", j.merchant, expect=409)
        console = await j.call("GET", "partner", f"/merchants/{j.merchant.account_id}/console", j.merchant)
        assert console["endpoints"]["tenantSync"]["failures"] == 1
        assert console["endpoints"]["tenantSync"]["success_rate"] == 0.5
        assert r.count("tenantSync") == 1
        assert r.tenants[(r.instances[j.order_id], "t1")]["name"] == "ACME"


async def _true(value: object) -> bool:
    return bool(value)
