"""The orders issue end to end on the real broker, four processes: a product is refused at publishing without
its prerequisite and listed with it after the operator's review; the buyer buys it from the catalogue, pays, the
order completes through supervision, shows in purchased services with its progress and the merchant's contacts,
is renewed without a new service order, and appears in the month's billing-eligibility answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from devstack.stack import Stack
from tests.e2e.journey import Journey
from tests.factories import rid
from tests.identity import IdentityProvider

BEIJING = timezone(timedelta(hours=8))


def product_body(**over: Any) -> dict[str, Any]:
    return {
        "product_id": rid("prod"),
        "name": "Database migration",
        "delivery_type": "manual_service",
        "promised_delivery_days": 10,
        "acceptance_standard": "SOW and acceptance report signed",
        "specifications": [
            {
                "spec_id": "yearly",
                "name": "Yearly support",
                "billing_mode": "periodic_yearly",
                "price": "1288.00",
                "period_months": 12,
            }
        ],
        **over,
    }


async def test_publish_buy_complete_renew_and_bill(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(provider=False)
    operator = j.operator

    # A License product: refused until its package is released in the asset centre and passed its scan.
    asset = await j.call(
        "POST", "orders", "/assets", j.merchant, expect=201, json={"name": "migrator-2.1.tgz"}
    )
    lic = await j.call(
        "POST",
        "orders",
        "/products",
        j.merchant,
        expect=201,
        json=product_body(
            delivery_type="license_package", flow_template="license.package", asset_id=asset["asset_id"]
        ),
    )
    refused = await j.call("POST", "orders", f"/products/{lic['product_id']}/publish", j.merchant, expect=409)
    assert refused["detail"]["field"] == "asset_id"
    assert "not released" in refused["detail"]["message"]
    await j.call("POST", "orders", f"/assets/{asset['asset_id']}/release", j.merchant)
    await j.call("POST", "orders", f"/assets/{asset['asset_id']}/scan", operator, json={"passed": True})
    published = await j.call("POST", "orders", f"/products/{lic['product_id']}/publish", j.merchant)
    assert published["status"] == "pending_review"

    # A supervised manual service: refused without a service-flow template, listed with one after review.
    draft = await j.call("POST", "orders", "/products", j.merchant, expect=201, json=product_body())
    pid = draft["product_id"]
    refused = await j.call("POST", "orders", f"/products/{pid}/publish", j.merchant, expect=409)
    assert refused["detail"]["field"] == "flow_template"
    fixed = await j.call(
        "POST",
        "orders",
        "/products",
        j.merchant,
        expect=201,
        json=product_body(flow_template="manual_service.standard"),
    )
    pid = fixed["product_id"]
    await j.call("POST", "orders", f"/products/{pid}/publish", j.merchant)
    await j.call("POST", "orders", f"/products/{pid}/review", j.merchant, expect=403, json={"approve": True})
    listed = await j.call("POST", "orders", f"/products/{pid}/review", operator, json={"approve": True})
    assert listed["status"] == "listed"

    # Buy from the catalogue (through the favourites), pay, complete through supervision.
    await j.call("POST", "orders", "/favourites", j.buyer, expect=201, json={"product_id": pid})
    order = await j.call(
        "POST", "orders", f"/favourites/{pid}/buy", j.buyer, expect=201, json={"spec_id": "yearly"}
    )
    assert (order["amount"], order["product"]["spec_name"]) == ("1288.00", "Yearly support")
    j.order_id = order["order_id"]
    refused = await j.call(
        "POST",
        "orders",
        f"/orders/{j.order_id}/pay",
        j.buyer,
        expect=403,
        json={"payment_id": "self-paid", "amount": order["amount"]},
    )
    assert refused["detail"]["rule"] == "payment_system_only"  # only the payment system confirms payments
    paid = await j.suite.pay(j.payment, order)
    assert paid["status"] == "processing"
    await j.service_order()
    await j.walk_to_acceptance()
    done = await j.completed()
    assert [h["status"] for h in done["history"]] == ["pending_payment", "processing", "completed"]
    assert done["validity_ends_at"].startswith("2027-11-20T01:00:00")  # activation + 12 months, in UTC

    # Purchased services: the order, its progress and the merchant's contacts; nobody else sees it.
    mine = await j.call("GET", "orders", "/purchased-services?status=completed", j.buyer)
    assert [o["order_id"] for o in mine] == [j.order_id]
    details = await j.call("GET", "orders", f"/purchased-services/{j.order_id}", j.buyer)
    assert details["merchant"]["email"] == j.merchant.email
    assert details["progress"]["current_node"] == "service_complete"
    assert "confirm_request" in details["progress"]["confirmed_nodes"]
    stranger = await j.person("buyer", "+8613811110008")
    await j.call("GET", "orders", f"/purchased-services/{j.order_id}", stranger, expect=403)

    # Renew: completes on payment, no new service order, the validity continues from the first year.
    renewal = await j.call("POST", "orders", f"/purchased-services/{j.order_id}/renew", j.buyer, expect=201)
    renewed = await j.suite.pay(j.payment, renewal)
    assert (renewed["order_type"], renewed["status"]) == ("renewal", "completed")
    assert renewed["validity_starts_at"] == done["validity_ends_at"]

    # Billing eligibility for this month: the completed new purchase is billable; the renewal takes effect
    # next year, so it is not, and the answer says why.
    period = f"{datetime.now(UTC).astimezone(BEIJING):%Y-%m}"
    rows = {
        r["order_id"]: r
        for r in await j.call("GET", "orders", f"/billing/eligibility?period={period}", j.merchant)
    }
    assert rows[j.order_id]["billable"] is True
    assert rows[j.order_id]["reasons"] == []
    assert rows[renewal["order_id"]]["billable"] is False
    assert "after the period" in rows[renewal["order_id"]]["reasons"][0]
    await j.call("GET", "orders", f"/billing/eligibility?period={period}", j.buyer, expect=403)

    rated = await j.call(
        "POST",
        "orders",
        f"/purchased-services/{j.order_id}/rating",
        j.buyer,
        json={"quality": 5, "after_sales": 4, "delivery_speed": 5, "tags": ["fast"], "text": "ok"},
    )
    assert rated["rating"]["quality"] == 5
    no_flow = await http.get(
        j.url("supervision", f"/service-orders/by-order/{renewal['order_id']}"),
        headers=await j.buyer.headers(),
    )
    assert no_flow.status_code == 404  # a renewal opens no service order (dossier §1.6)
