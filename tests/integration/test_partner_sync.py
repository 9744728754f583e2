"""The signed merchant calls on the real broker and database, against the reference merchant receiver."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import AccountRole, DeliveryType, Event, Topic
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, read_topic, running
from tests.integration.test_partner_receiver import Receiver, serving

FAST = {"call_worker_poll_seconds": 0.1, "long_retry_interval_seconds": 0.4, "long_retry_window_seconds": 0.8,
        "short_retry_interval_seconds": 0.2, "short_retry_window_seconds": 0.3}


async def publish(infra: Infra, namespace: str, event: Event) -> None:
    await produce(infra.bootstrap, f"{namespace}.{event.topic}", event.model_dump_json().encode(),
                  key=event.partition_key)


async def saas_order(infra: Infra, namespace: str, client: httpx.AsyncClient, r: Receiver) -> tuple[str, f.Parties]:
    p = f.parties(None)
    await publish(infra, namespace, f.account_registered(p.merchant_account_id, AccountRole.MERCHANT))
    resp = await client.put(f"/merchants/{p.merchant_account_id}/endpoint",
                            headers={"X-Account-Id": p.merchant_account_id},
                            json={"production_url": r.url, "access_key": r.access_key, "public_key_pem": r.public_pem})
    assert resp.status_code == 200, resp.text
    paid = f.order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    await publish(infra, namespace, paid)
    return paid.order_id, p


async def calls_of(client: httpx.AsyncClient, merchant: str) -> dict[str, Any]:
    resp = await client.get(f"/merchants/{merchant}/console", headers={"X-Account-Id": merchant})
    assert resp.status_code == 200, resp.text
    endpoints: dict[str, Any] = resp.json()["endpoints"]
    return endpoints


async def test_kit_syncs_are_signed_encrypted_split_and_a_failed_one_is_replayed_exactly_once(
        infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra.bootstrap, infra.mongo_uri, namespace, **FAST)
    with serving(Receiver()) as r:
        async with running(create_app(settings)) as client:
            order_id, p = await saas_order(infra, namespace, client, r)
            await eventually(lambda: _newinstance_ok(client, p.merchant_account_id), what="new instance recorded")
            buyer = {"X-Account-Id": p.buyer_account_id}

            resp = await client.post(f"/orders/{order_id}/kit/bind", headers=buyer, json={
                "tenant": {"tenantId": "t1", "tenantCode": "acme", "name": "ACME", "domainName": "acme.example"},
                "app": {"appId": "a1", "clientId": "c1", "clientSecret": "plain-secret"},
                "orgs": [{"orgCode": "o1", "orgName": "HQ"}, {"orgCode": "o2", "orgName": "R&D", "parentCode": "o1"}]})
            assert resp.status_code == 202, resp.text
            sent = [c["body"] for c in resp.json()]
            assert "plain-secret" not in json.dumps(sent)
            users = [{"userName": f"u{i}", "name": f"U {i}", "orgCode": "o1", "role": "user", "enable": "true"}
                     for i in range(1001)]
            resp = await client.post(f"/orders/{order_id}/kit/users", headers=buyer,
                                     json={"tenant_id": "t1", "app_id": "a1", "users": users})
            assert [len(c["body"]["userList"]) for c in resp.json()] == [500, 500, 1]

            await eventually(lambda: _true(len(r.users) == 1001 and r.apps and len(r.orgs) == 2), what="synced")
            instance = r.instances[order_id]
            assert r.apps[(instance, "t1", "a1")]["clientSecret"] == "plain-secret"  # decrypted by the merchant
            assert r.tenants[(instance, "t1")]["orderId"] == order_id

            r.failing = True
            resp = await client.post(f"/orders/{order_id}/kit/departments", headers=buyer,
                                     json={"tenant_id": "t1", "org": {"orgCode": "o3", "orgName": "Sales"}})
            call_id = resp.json()[0]["call_id"]
            records = await read_topic(infra.bootstrap, f"{namespace}.{Topic.MERCHANT_CALL_FAILED}")
            failed = json.loads(records[0].value)["payload"]
            assert failed["call_id"] == call_id
            assert failed["final"] is True
            assert failed["consequence"] == "none"
            assert failed["endpoint"] == "singleOrgSync"
            assert failed["merchant_account_id"] == p.merchant_account_id

            r.failing = False
            merchant = {"X-Account-Id": p.merchant_account_id}
            assert (await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)).status_code == 202
            again = await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)
            assert again.status_code == 409  # queued already: no second delivery
            await eventually(lambda: _true(r.count("singleOrgSync") == 1), what="replayed")
            late = await client.post(f"/merchant-calls/{call_id}/replay", headers=merchant)
            assert late.status_code == 409  # succeeded: never delivered twice

            console = await calls_of(client, p.merchant_account_id)
            assert console["singleOrgSync"]["failures"] == 1
            assert console["singleOrgSync"]["success_rate"] == 0.5
            assert console["authSync"]["success_rate"] == 1.0
            assert console["authSync"]["calls"] == 3
            assert r.count("singleOrgSync") == 1
            assert r.rejected == []


async def test_a_new_purchase_failing_past_its_window_is_given_up_for_a_refund(infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra.bootstrap, infra.mongo_uri, namespace, **FAST)
    with serving(Receiver(failing=True)) as r:
        async with running(create_app(settings)) as client:
            order_id, p = await saas_order(infra, namespace, client, r)
            records = await read_topic(infra.bootstrap, f"{namespace}.{Topic.MERCHANT_CALL_FAILED}", at_least=3)
            payloads = [json.loads(x.value)["payload"] for x in records]
            assert [(x["attempt"], x["final"], x["consequence"]) for x in payloads] == [
                (1, False, "none"), (2, False, "none"), (3, True, "refund")]
            assert {x["order_id"] for x in payloads} == {order_id}
            console = await calls_of(client, p.merchant_account_id)
            assert console["newInstance"]["failures"] == 3
            assert console["newInstance"]["success_rate"] == 0.0


async def _true(value: object) -> bool:
    return bool(value)


async def _newinstance_ok(client: httpx.AsyncClient, merchant: str) -> bool:
    return bool((await calls_of(client, merchant)).get("newInstance", {}).get("success_rate") == 1.0)
