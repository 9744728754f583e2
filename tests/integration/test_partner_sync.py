"""The signed merchant calls on the real broker, database and identity provider, against the reference merchant
receiver. The receiver listens on http://127.0.0.1, which the default settings refuse (SSRF, issue 9): these tests
run with the dev allow-list for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    DeliveryType,
    Event,
    Parties,
    Topic,
)
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, read_topic, running
from tests.identity import User
from tests.integration.test_partner_receiver import Receiver, serving

FAST = {
    "call_worker_poll_seconds": 0.1,
    "long_retry_interval_seconds": 0.4,
    "long_retry_window_seconds": 0.8,
    "short_retry_interval_seconds": 0.2,
    "short_retry_window_seconds": 0.3,
    # the reference merchant: plain http on 127.0.0.1, allowed in dev and tests only
    "merchant_endpoint_allow_http": True,
    "merchant_endpoint_allow_hosts": ["127.0.0.1"],
}


async def publish(infra: Infra, namespace: str, event: Event) -> None:
    await produce(
        infra.kafka_client(),
        f"{namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=event.partition_key,
    )


async def saas_order(
    infra: Infra, namespace: str, client: httpx.AsyncClient, r: Receiver
) -> tuple[str, User, User]:
    buyer, merchant = await infra.idp.user("buyer"), await infra.idp.user("merchant")
    endpoint = {"production_url": r.url, "access_key": r.access_key, "public_key_pem": r.public_pem}
    stranger = await client.put(
        f"/merchants/{merchant}/endpoint", headers=await buyer.headers(), json=endpoint
    )
    assert stranger.status_code == 403, stranger.text
    resp = await client.put(
        f"/merchants/{merchant}/endpoint", headers=await merchant.headers(), json=endpoint
    )
    assert resp.status_code == 200, resp.text
    p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    paid = f.order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    await publish(infra, namespace, paid)
    return paid.order_id, buyer, merchant


async def calls_of(client: httpx.AsyncClient, merchant: User) -> dict[str, Any]:
    resp = await client.get(f"/merchants/{merchant}/console", headers=await merchant.headers())
    assert resp.status_code == 200, resp.text
    endpoints: dict[str, Any] = resp.json()["endpoints"]
    return endpoints


async def test_kit_syncs_are_signed_encrypted_split_and_a_failed_one_is_replayed_exactly_once(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    with serving(Receiver()) as r:
        async with running(create_app(settings)) as client:
            order_id, buyer_user, merchant_user = await saas_order(infra, namespace, client, r)
            await eventually(lambda: _newinstance_ok(client, merchant_user), what="new instance recorded")
            buyer = await buyer_user.headers()
            bind = {
                "tenant": {
                    "tenantId": "t1",
                    "tenantCode": "acme",
                    "name": "ACME",
                    "domainName": "acme.example",
                },
                "app": {"appId": "a1", "clientId": "c1", "clientSecret": "plain-secret"},
                "orgs": [
                    {"orgCode": "o1", "orgName": "HQ"},
                    {"orgCode": "o2", "orgName": "R&D", "parentCode": "o1"},
                ],
            }
            other = await client.post(
                f"/orders/{order_id}/kit/bind",
                headers=await (await infra.idp.user("buyer")).headers(),
                json=bind,
            )
            assert other.status_code == 403, other.text
            assert other.json()["detail"]["rule"] == "parties_only"

            resp = await client.post(f"/orders/{order_id}/kit/bind", headers=buyer, json=bind)
            assert resp.status_code == 202, resp.text
            sent = [c["body"] for c in resp.json()]
            assert "plain-secret" not in json.dumps(sent)
            users = [
                {"userName": f"u{i}", "name": f"U {i}", "orgCode": "o1", "role": "user", "enable": "true"}
                for i in range(1001)
            ]
            resp = await client.post(
                f"/orders/{order_id}/kit/users",
                headers=buyer,
                json={"tenant_id": "t1", "app_id": "a1", "users": users},
            )
            assert [len(c["body"]["userList"]) for c in resp.json()] == [500, 500, 1]

            await eventually(
                lambda: _true(len(r.users) == 1001 and r.apps and len(r.orgs) == 2), what="synced"
            )
            instance = r.instances[order_id]
            assert (
                r.apps[(instance, "t1", "a1")]["clientSecret"] == "plain-secret"
            )  # decrypted by the merchant
            assert r.tenants[(instance, "t1")]["orderId"] == order_id

            r.failing = True
            resp = await client.post(
                f"/orders/{order_id}/kit/departments",
                headers=buyer,
                json={"tenant_id": "t1", "org": {"orgCode": "o3", "orgName": "Sales"}},
            )
            call_id = resp.json()[0]["call_id"]
            records = await read_topic(infra.kafka_client(), f"{namespace}.{Topic.MERCHANT_CALL_FAILED}")
            failed = json.loads(records[0].value)["payload"]
            assert failed["call_id"] == call_id
            assert failed["final"] is True
            assert failed["consequence"] == "none"
            assert failed["endpoint"] == "singleOrgSync"
            assert failed["merchant_account_id"] == merchant_user.account_id
            assert failed["error"].startswith("http_5xx: HTTP 503")

            r.failing = False
            merchant = await merchant_user.headers()
            assert (
                await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)
            ).status_code == 202
            again = await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)
            assert again.status_code == 409  # queued already: no second delivery
            await eventually(lambda: _true(r.count("singleOrgSync") == 1), what="replayed")
            late = await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)
            assert late.status_code == 409  # succeeded: never delivered twice

            console = await calls_of(client, merchant_user)
            assert console["singleOrgSync"]["failures"] == 1
            failed_attempt = console["singleOrgSync"]["recent"][0]["attempts"][0]
            assert (failed_attempt["error"], failed_attempt["status_code"]) == ("http_5xx", 503)
            assert console["singleOrgSync"]["success_rate"] == 0.5
            assert console["authSync"]["success_rate"] == 1.0
            assert console["authSync"]["calls"] == 3
            assert r.count("singleOrgSync") == 1
            assert r.rejected == []


async def test_a_new_purchase_failing_past_its_window_is_given_up_for_a_refund(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    with serving(Receiver(failing=True)) as r:
        async with running(create_app(settings)) as client:
            order_id, _, merchant = await saas_order(infra, namespace, client, r)
            records = await read_topic(
                infra.kafka_client(), f"{namespace}.{Topic.MERCHANT_CALL_FAILED}", at_least=3
            )
            payloads = [json.loads(x.value)["payload"] for x in records]
            assert [(x["attempt"], x["final"], x["consequence"]) for x in payloads] == [
                (1, False, "none"),
                (2, False, "none"),
                (3, True, "refund"),
            ]
            assert {x["order_id"] for x in payloads} == {order_id}
            console = await calls_of(client, merchant)
            assert console["newInstance"]["failures"] == 3
            assert console["newInstance"]["success_rate"] == 0.0


async def test_an_erased_buyers_failed_user_sync_is_never_sent_again(infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    with serving(Receiver()) as r:
        async with running(create_app(settings)) as client:
            order_id, buyer, merchant = await saas_order(infra, namespace, client, r)
            await eventually(lambda: _newinstance_ok(client, merchant), what="new instance recorded")
            r.failing = True
            resp = await client.post(
                f"/orders/{order_id}/kit/users",
                headers=await buyer.headers(),
                json={
                    "tenant_id": "t1",
                    "app_id": "a1",
                    "users": [
                        {
                            "userName": "zhang.san",
                            "name": "张三",
                            "orgCode": "o1",
                            "role": "admin",
                            "enable": "true",
                            "mobile": "+8613800001234",
                            "email": "zhang@acme.example",
                        }
                    ],
                },
            )
            call_id = resp.json()[0]["call_id"]
            await eventually(lambda: _failed(client, merchant, "authSync"), what="the failed user sync")
            r.failing = False

            await publish(
                infra,
                namespace,
                AccountErased(
                    producer="tests",
                    correlation_id=f.rid("c"),
                    payload=AccountErasedPayload(
                        account_id=buyer.account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
                    ),
                ),
            )

            async def erased() -> bool:  # the console shows when a call's contact data was erased
                recent = (await calls_of(client, merchant))["authSync"]["recent"]
                return any(c["call_id"] == call_id and c["erased_at"] for c in recent)

            await eventually(erased, what="the buyer's contact data erased")
            again = await client.post(f"/merchant-calls/{call_id}/replay", headers=await merchant.headers())
            assert again.status_code == 409, again.text
            assert "erased" in again.json()["detail"]["message"]
            assert r.count("authSync") == 0


async def _failed(client: httpx.AsyncClient, merchant: User, endpoint: str) -> bool:
    return bool((await calls_of(client, merchant)).get(endpoint, {}).get("failures"))


async def _true(value: object) -> bool:
    return bool(value)


async def _newinstance_ok(client: httpx.AsyncClient, merchant: User) -> bool:
    return bool((await calls_of(client, merchant)).get("newInstance", {}).get("success_rate") == 1.0)
