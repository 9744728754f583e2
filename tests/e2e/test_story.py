"""The story end to end: four processes, a real broker, a real database, real SMTP and the twilio SDK."""

from __future__ import annotations

import httpx

from devstack.stack import Stack
from tests.e2e.journey import Journey
from tests.helpers import eventually
from tests.identity import IdentityProvider


async def test_an_order_walks_from_payment_to_completion_and_everyone_hears_of_it(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(price="1288.00", ratio="0.12")
    await j.become_provider()
    await j.buy(private_link=await j.private_link())
    so = await j.service_order()
    assert so["node"] == "submit_request"
    await j.walk_to_acceptance()

    order = await j.completed()
    assert order["validity_starts_at"].startswith("2026-11-20T01:00:00")  # the merchant's activation time

    async def ledger() -> dict[str, object] | None:
        body = await j.call("GET", "partner", f"/providers/{j.provider.account_id}/ledger", j.provider)
        return body if body["entries"] else None

    earned = await eventually(ledger, what="the provider's commission")
    assert earned["total"] == "154.56"  # 1288.00 × 0.12

    # paid, request confirmed, delivered, completed: four messages to the buyer on every channel
    async def buyer_heard_everything() -> bool:
        return len(await j.mail(j.buyer)) == 4 and len(await j.sms("+8613811110001")) == 4

    await eventually(buyer_heard_everything, what="four emails and four SMS to the buyer")
    subjects = sorted(m["subject"] for m in await j.mail(j.buyer))
    assert subjects[0].startswith(f"Order {j.order_id} completed")
    assert any(m["html"] and "<h2>" in m["html"] for m in await j.mail(j.buyer))
    assert all(m["message_id"].endswith("@koo-suite.local>") for m in await j.mail(j.buyer))
    inbox = await j.inbox(j.buyer)
    assert sum(j.order_id in m["title"] for m in inbox["items"]) == 4

    async def merchant_texted_twice() -> bool:  # new paid order, accepted (sent on their own schedule)
        return len(await j.sms("+8613811110002")) == 2

    await eventually(merchant_texted_twice, what="two SMS to the merchant")
    trace = await j.call(
        "GET",
        "notification",
        f"/accounts/{j.merchant.account_id}/deliveries",
        j.merchant,
        params={"order_id": j.order_id},
    )
    assert all(d["status"] == "sent" for d in trace)
    assert any(
        "fell back to the account's bound email and phone" in line for d in trace for line in d["trace"]
    )


async def test_an_appeal_freezes_the_flow_for_both_parties(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(provider=False)
    await j.buy()
    await j.service_order()
    await j.act(j.buyer, "submit")
    await j.act(j.merchant, "confirm")
    proof = await j.suite.upload(j.merchant, j.so_id, "delivery_proof", "delivery-proof.pdf")
    appealed = await j.call(
        "POST",
        "supervision",
        f"/service-orders/{j.so_id}/appeals",
        j.merchant,
        expect=201,
        json={
            "reason": "the buyer stopped answering",
            "demands": "close the order",
            "attachments": [proof["file_id"]],
        },
    )
    assert appealed["status"] == "frozen"

    sow = await j.suite.upload(j.merchant, j.so_id, "sow", "s.pdf")  # uploads stay open while frozen
    refused = await j.act(j.merchant, "deliver", {"evidence": [sow]}, expect=409)
    assert refused["detail"]["code"] == "frozen_by_appeal"
    refused = await j.act(j.buyer, "accept", expect=409)
    assert refused["detail"]["code"] == "frozen_by_appeal"
    again = await j.call(
        "POST",
        "supervision",
        f"/service-orders/{j.so_id}/appeals",
        j.buyer,
        expect=409,
        json={"reason": "me too", "demands": "refund"},
    )
    assert again["detail"]["code"] == "frozen_by_appeal"
    someone_else = await idp.user("buyer")
    outsider = await j.call(
        "POST",
        "supervision",
        f"/service-orders/{j.so_id}/appeals",
        someone_else,
        expect=403,
        json={"reason": "x", "demands": "y"},
    )
    assert outsider["detail"]["code"] == "forbidden"
    anonymous = await http.post(
        j.url("supervision", f"/service-orders/{j.so_id}/appeals"),
        headers={"X-Account-Id": j.buyer.account_id},
        json={"reason": "x", "demands": "y"},
    )
    assert anonymous.status_code == 401

    async def both_told() -> bool:
        titles = [[m["title"] for m in (await j.inbox(a))["items"]] for a in (j.buyer, j.merchant)]
        return all(any("Appeal raised" in t and j.order_id in t for t in ts) for ts in titles)

    await eventually(both_told, what="appeal message in both inboxes")
    order = await j.order()
    assert order["status"] == "processing"  # nothing completed behind the appeal's back
    timeline = (await j.call("GET", "supervision", f"/service-orders/{j.so_id}", j.buyer))["timeline"]
    # The proof uploaded before the appeal; the SOW uploaded while frozen (uploads stay open), its delivery refused.
    assert [e["action"] for e in timeline] == ["open", "submit", "confirm", "upload", "appeal", "upload"]
