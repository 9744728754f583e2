"""License 2.0 on the four running services and the real broker (issue 14, item 5): a License order is paid →
partner lists its code to the buyer → the merchant's software activates it with a signed open-API call →
supervision passes the activation node by itself, with the activation time as the actual activation time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from devstack.stack import Stack
from services.partner import signing
from tests.e2e.journey import Journey
from tests.helpers import eventually
from tests.identity import IdentityProvider
from tests.integration.test_partner_receiver import rsa_pair

ACCESS_KEY = "merchant-ak-license-01"


async def test_a_paid_license_code_is_listed_activated_by_signed_call_and_the_node_passes(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = Journey(e2e, http, idp)
    for role in ("buyer", "merchant", "operator"):
        j.people[role] = await j.person(role)
    j.product = await j.suite.list_license(
        j.merchant,
        j.operator,
        name="CAD licence",
        specifications=[
            {"spec_id": "perpetual", "name": "Perpetual", "billing_mode": "one_time", "price": "2000.00"}
        ],
    )
    await j.call(
        "PUT",
        "partner",
        f"/merchants/{j.merchant.account_id}/endpoint",
        j.merchant,
        json={
            "production_url": "http://127.0.0.1:9/isv",
            "access_key": ACCESS_KEY,
            "public_key_pem": rsa_pair()[1],
        },
    )
    await j.buy()

    async def listed() -> dict[str, Any] | None:
        resp = await http.get(
            j.url("partner", f"/licenses?order_id={j.order_id}"), headers=await j.buyer.headers()
        )
        return resp.json() if resp.status_code == 200 and resp.json()["codes"] else None

    licenses = await eventually(listed, timeout=30, what="the buyer's authorization code")
    [code] = licenses["codes"]
    assert code["status"] == "issued"

    await j.service_order()
    await j.act(j.merchant, "implement")
    await j.act(j.buyer, "claim")

    raw = json.dumps({"code": code["code"], "device_id": "ws-0042", "device_info": {"os": "linux"}}).encode()
    headers = {"x-merchant-id": j.merchant.account_id, **signing.sign_headers(ACCESS_KEY, raw)}
    forged = {**headers, "x-sign": signing.sign_headers("not-the-key", raw)["x-sign"]}
    refused = await http.post(j.url("partner", "/open/license/activate"), content=raw, headers=forged)
    assert (refused.status_code, refused.json()["resultCode"]) == (401, "MKT.0102")
    resp = await http.post(j.url("partner", "/open/license/activate"), content=raw, headers=headers)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert (answer["resultCode"], answer["status"]) == ("MKT.0000", "active")
    signing.verify(ACCESS_KEY, dict(resp.headers), resp.content)

    async def passed() -> dict[str, Any] | None:
        so: dict[str, Any] = await j.call("GET", "supervision", f"/service-orders/{j.so_id}", j.buyer)
        return so if so["node"] == "delivery_proof" else None

    so = await eventually(passed, timeout=30, what="the activation node passed by the system")
    assert datetime.fromisoformat(so["actual_activation_time"]) == datetime.fromisoformat(
        answer["activatedAt"]
    )
    listed_again = await listed()
    assert listed_again is not None
    assert listed_again["codes"][0]["status"] == "active"
    assert listed_again["codes"][0]["device_id"] == "ws-0042"
