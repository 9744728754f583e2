"""The orders routes over a bare FastAPI app with test-signed tokens: who may call what (issue 9).

Every route but the public catalogue reads wants a bearer token; the caller and its role come from the token,
never from a header or a body; each refusal is a 403 naming its rule; every operator action lands in the
audit log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.orders import api, api_catalogue, buyer_api
from services.orders.settings import OrdersSettings
from shared.platform.audit import MemoryAuditLog
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.schemas import AccountErased, AccountRegistered, OrderPaid, RefundDecided, links
from tests import tokens
from tests.factories import rid
from tests.service.orders_support import in_memory, one_time, product_cmd
from tests.service.rig import FAST

AUD = "koo-orders"
PRIVATE, PUBLIC = links.new_keypair()
PUBLIC_ROUTES = {("GET", "/products"), ("GET", "/products/{product_id}")}
PHONE = "+8613800001234"


@dataclass(frozen=True)
class Who:
    """A caller: the subject and the one realm role its tokens carry."""

    account_id: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return tokens.bearer(self.account_id, self.role, audience=AUD)


PAYMENT_SYSTEM = Who("service-account-koo-payment", "payment-system")


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def audit() -> MemoryAuditLog:
    return MemoryAuditLog("orders")


@pytest.fixture
def app(state: FakeState, audit: MemoryAuditLog) -> FastAPI:
    app = FastAPI()
    install_security(app, tokens.verifier(AUD), audit)
    for router in (api.router, api_catalogue.router, buyer_api.router):
        app.include_router(router)
    app.state.orders = in_memory(state, OrdersSettings(**FAST, private_link_public_key=PUBLIC))
    return app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as client:
        yield client


async def register(http: httpx.AsyncClient, as_role: str, **body: Any) -> Who:
    who = Who(rid(as_role), as_role)
    resp = await http.post("/accounts", headers=who.headers, json={"bound_phone": PHONE, **body})
    assert resp.status_code == 201, resp.text
    return who


@pytest.fixture
async def people(http: httpx.AsyncClient) -> dict[str, Who]:
    return {role: await register(http, role) for role in ("buyer", "merchant", "provider", "operator")}


async def listed(http: httpx.AsyncClient, merchant: Who, operator: Who, **over: Any) -> str:
    """A product the merchant created and published and the operator approved."""
    product = product_cmd(**over).model_dump(mode="json", exclude_none=True)
    created = await http.post("/products", headers=merchant.headers, json=product)
    assert created.status_code == 201, created.text
    pid = str(created.json()["product_id"])
    assert (await http.post(f"/products/{pid}/publish", headers=merchant.headers)).status_code == 200
    reviewed = await http.post(f"/products/{pid}/review", headers=operator.headers, json={"approve": True})
    assert reviewed.json()["status"] == "listed", reviewed.text
    return pid


async def place(http: httpx.AsyncClient, buyer: Who, pid: str, **body: Any) -> dict[str, Any]:
    resp = await http.post("/orders", headers=buyer.headers, json={"product_id": pid, **body})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def pay(
    http: httpx.AsyncClient, order: dict[str, Any], who: Who = PAYMENT_SYSTEM, **over: Any
) -> httpx.Response:
    body = {"payment_id": rid("pay"), "amount": order["amount"], **over}
    return await http.post(f"/orders/{order['order_id']}/pay", headers=who.headers, json=body)


def refused(resp: httpx.Response, rule: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json()["detail"]["rule"] == rule


def fields(resp: httpx.Response) -> set[str]:
    """The fields a 422 names: a use case's refusal names one, the edge's validation names each by its loc."""
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    if isinstance(detail, dict):
        return {str(detail["field"])}
    return {str(error["loc"][-1]) for error in detail} | {str(part) for e in detail for part in e["loc"]}


# --- no token, no entry --------------------------------------------------------------------------


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every route the app serves, from its OpenAPI document (FastAPI includes routers lazily)."""
    return sorted(
        (method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations
    )


async def test_the_probe_gets_401_with_a_bearer_challenge_from_every_non_public_route(
    app: FastAPI, http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    """Without a token, or with only the `X-Account-Id` header that used to name the caller."""
    routes = [r for r in _routes(app) if r not in PUBLIC_ROUTES]
    assert len(routes) >= 30
    assert {
        ("POST", "/orders/{order_id}/pay"),
        ("POST", "/accounts"),
        ("GET", "/accounts/{account_id}"),
        ("POST", "/products/{product_id}/review"),
        ("GET", "/operator/audit"),
    } <= set(routes)
    answered = {}
    for method, path in routes:
        url = path.replace("{", "").replace("}", "")  # e.g. /orders/order_id
        for headers in ({}, {"X-Account-Id": people["operator"].account_id}):
            resp = await http.request(method, url, headers=headers, json={})
            answered[(method, path, bool(headers))] = resp.status_code
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    assert set(answered.values()) == {401}


async def test_catalogue_reads_are_public_but_a_bad_token_is_still_refused(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    assert [p["product_id"] for p in (await http.get("/products")).json()] == [pid]
    assert (await http.get(f"/products/{pid}")).json()["status"] == "listed"
    bad = await http.get(f"/products/{pid}", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith("Bearer ")


async def test_an_unlisted_product_is_seen_by_its_merchant_and_operators_only(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    merchant = people["merchant"]
    created = await http.post(
        "/products", headers=merchant.headers, json=product_cmd().model_dump(mode="json")
    )
    pid = created.json()["product_id"]
    assert (await http.get(f"/products/{pid}")).status_code == 404
    other = await register(http, "merchant")
    for outsider in (other, people["buyer"]):
        assert (await http.get(f"/products/{pid}", headers=outsider.headers)).status_code == 404
    for insider in (merchant, people["operator"]):
        resp = await http.get(f"/products/{pid}", headers=insider.headers)
        assert resp.json()["status"] == "draft", resp.text


# --- accounts ------------------------------------------------------------------------------------


async def test_a_profile_takes_its_id_role_and_email_from_the_token_and_registering_is_idempotent(
    http: httpx.AsyncClient, state: FakeState
) -> None:
    buyer = Who(rid("buyer"), "buyer")
    body = {
        "bound_phone": PHONE,
        "display_name": "Buyer Co",
        "role": "operator",
        "account_id": "someone-else",
    }

    first = await http.post("/accounts", headers=buyer.headers, json=body)
    again = await http.post("/accounts", headers=buyer.headers, json=body)

    assert (first.status_code, again.status_code) == (201, 200)
    account = first.json()
    assert (account["account_id"], account["role"], account["bound_email"]) == (
        buyer.account_id,
        "buyer",
        f"{buyer.account_id}@example.com",
    )
    assert again.json() == account
    assert "someone-else" not in state.tables["accounts"]
    assert [e.payload.role.value for e in state.outbox if isinstance(e, AccountRegistered)] == ["buyer"]
    me = await http.get("/accounts/me", headers=buyer.headers)
    assert (me.json()["account_id"], me.json()["role"]) == (buyer.account_id, "buyer")


async def test_a_buyer_token_cannot_make_an_operator(http: httpx.AsyncClient, people: dict[str, Who]) -> None:
    """The role comes from the token: the body's `role` changes nothing, and operator routes stay shut."""
    pretender = await register(http, "buyer", role="operator")
    assert (await http.get("/accounts/me", headers=pretender.headers)).json()["role"] == "buyer"
    product = await http.post(
        "/products", headers=people["merchant"].headers, json=product_cmd().model_dump(mode="json")
    )
    pid = product.json()["product_id"]
    await http.post(f"/products/{pid}/publish", headers=people["merchant"].headers)
    refused(
        await http.post(f"/products/{pid}/review", headers=pretender.headers, json={"approve": True}),
        "operators_only",
    )
    assert (await http.get(f"/products/{pid}", headers=people["merchant"].headers)).json()[
        "status"
    ] == "pending_review"


async def test_the_payment_system_has_no_marketplace_profile(http: httpx.AsyncClient) -> None:
    refused(
        await http.post("/accounts", headers=PAYMENT_SYSTEM.headers, json={"bound_phone": PHONE}),
        "marketplace_accounts_only",
    )
    refused(
        await http.get("/accounts/me/export", headers=PAYMENT_SYSTEM.headers), "marketplace_accounts_only"
    )


async def test_a_bound_email_other_than_the_verified_one_is_a_422_naming_it(http: httpx.AsyncClient) -> None:
    who = Who(rid("buyer"), "buyer")
    resp = await http.post(
        "/accounts", headers=who.headers, json={"bound_phone": PHONE, "bound_email": "not.mine@example.com"}
    )
    assert fields(resp) == {"bound_email"}
    assert fields(await http.post("/accounts", headers=who.headers, json={"bound_phone": "call me"})) >= {
        "bound_phone"
    }


async def test_an_account_is_read_by_its_owner_and_operators_only(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    buyer = people["buyer"]
    assert (await http.get(f"/accounts/{buyer.account_id}", headers=buyer.headers)).status_code == 200
    read = await http.get(f"/accounts/{buyer.account_id}", headers=people["operator"].headers)
    assert (read.status_code, read.json()["bound_phone"]) == (200, PHONE)
    for outsider in (people["merchant"], people["provider"], await register(http, "buyer")):
        refused(
            await http.get(f"/accounts/{buyer.account_id}", headers=outsider.headers),
            "parties_and_operators_only",
        )


# --- the catalogue: merchants own their products -------------------------------------------------


async def test_a_merchant_cannot_publish_another_merchants_product(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    created = await http.post(
        "/products", headers=people["merchant"].headers, json=product_cmd().model_dump(mode="json")
    )
    pid = created.json()["product_id"]
    other = await register(http, "merchant")
    refused(await http.post(f"/products/{pid}/publish", headers=other.headers), "own_products_only")
    refused(await http.post(f"/products/{pid}/publish", headers=people["buyer"].headers), "merchants_only")
    assert (await http.get(f"/products/{pid}", headers=people["merchant"].headers)).json()[
        "status"
    ] == "draft"


async def test_a_merchant_cannot_release_another_merchants_asset(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    asset = await http.post("/assets", headers=people["merchant"].headers, json={"name": "pkg.tar.gz"})
    assert asset.status_code == 201, asset.text
    asset_id = asset.json()["asset_id"]
    refused(
        await http.post(f"/assets/{asset_id}/release", headers=(await register(http, "merchant")).headers),
        "own_assets_only",
    )
    released = await http.post(f"/assets/{asset_id}/release", headers=people["merchant"].headers)
    assert released.json()["released"] is True


async def test_products_are_made_by_registered_merchants_only(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    body = product_cmd().model_dump(mode="json")
    refused(await http.post("/products", headers=people["buyer"].headers, json=body), "merchants_only")
    unregistered = await http.post("/products", headers=Who(rid("merchant"), "merchant").headers, json=body)
    assert (unregistered.status_code, unregistered.json()["detail"]["code"]) == (409, "profile_required")


# --- orders: listed products at the catalogue's price ---------------------------------------------


async def test_a_buyer_cannot_order_an_unlisted_product(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    created = await http.post(
        "/products", headers=people["merchant"].headers, json=product_cmd().model_dump(mode="json")
    )
    pid = created.json()["product_id"]
    assert fields(await http.post("/orders", headers=people["buyer"].headers, json={"product_id": pid})) == {
        "product_id"
    }
    assert fields(
        await http.post("/orders", headers=people["buyer"].headers, json={"product_id": "nope"})
    ) == {"product_id"}
    assert state.tables.get("orders", {}) == {}


async def test_the_buyers_own_price_provider_and_terms_have_no_effect(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid = await listed(http, people["merchant"], people["operator"], provider_share_ratio="0.1")
    other = await register(http, "merchant")

    order = await place(
        http,
        people["buyer"],
        pid,
        amount="0.01",
        merchant_account_id=other.account_id,
        provider_id=people["provider"].account_id,
        provider_share_ratio="0.9",
        buyer_company="Forged Ltd",
        buyer_track="base_cloud",
        coupons=[{"kind": "other", "amount": "1199.00"}],
        milestones=[{"milestone_id": "a", "title": "a", "proportion": "1"}],
        product={"product_id": pid, "name": "cheap", "delivery_type": "image"},
        buyer_account_id=other.account_id,
    )

    assert (order["amount"], order["merchant_account_id"], order["buyer_account_id"]) == (
        "1200.00",
        people["merchant"].account_id,
        people["buyer"].account_id,
    )
    assert (order["provider_id"], order["product"]["provider_share_ratio"]) == (None, "0.1")
    assert (order["buyer_company"], order["buyer_track"], order["coupons"], order["milestones"]) == (
        None,
        None,
        [],
        [],
    )
    assert order["product"]["delivery_type"] == "manual_service"


async def test_only_buyers_place_orders(http: httpx.AsyncClient, people: dict[str, Who]) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    for who in ("merchant", "provider", "operator"):
        refused(
            await http.post("/orders", headers=people[who].headers, json={"product_id": pid}), "buyers_only"
        )
    refused(
        await http.post("/orders", headers=PAYMENT_SYSTEM.headers, json={"product_id": pid}), "buyers_only"
    )
    unregistered = await http.post(
        "/orders", headers=Who(rid("buyer"), "buyer").headers, json={"product_id": pid}
    )
    assert (unregistered.status_code, unregistered.json()["detail"]["code"]) == (409, "profile_required")


def _link(private: Any, **claims: Any) -> str:
    base: dict[str, Any] = {
        "link_id": rid("link"),
        "provider_id": "prov-1",
        "expires_at": int(time.time()) + 600,
    }
    return links.sign(links.LinkClaims(**{**base, **claims}), private)


async def test_a_private_links_discount_applies_only_when_its_signature_verifies(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    pid, buyer = await listed(http, people["merchant"], people["operator"]), people["buyer"]
    forger, _ = links.new_keypair()
    claims = {
        "product_id": pid,
        "customer_account_id": buyer.account_id,
        "discount": "0.5",
        "offer_id": "OF-1",
    }

    forged = await http.post(
        "/orders", headers=buyer.headers, json={"product_id": pid, "private_link": _link(forger, **claims)}
    )
    assert fields(forged) == {"private_link"}
    assert "signature" in forged.json()["detail"]["message"]
    assert state.tables.get("orders", {}) == {}

    order = await place(http, buyer, pid, private_link=_link(PRIVATE, **claims))
    assert (order["amount"], order["provider_id"], order["offer_id"]) == ("600.00", "prov-1", "OF-1")
    other = await register(http, "buyer")
    assert fields(
        await http.post(
            "/orders",
            headers=other.headers,
            json={"product_id": pid, "private_link": _link(PRIVATE, **claims)},
        )
    ) == {"private_link"}


async def test_the_verified_company_and_track_land_on_the_order(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid, buyer = await listed(http, people["merchant"], people["operator"]), people["buyer"]
    refused(
        await http.put(
            f"/accounts/{buyer.account_id}/verification",
            headers=buyer.headers,
            json={"company": "Self-declared Ltd", "track": "base_cloud"},
        ),
        "operators_only",
    )
    verified = await http.put(
        f"/accounts/{buyer.account_id}/verification",
        headers=people["operator"].headers,
        json={"company": "Shenzhen Example Co., Ltd.", "track": "empowerment_cloud"},
    )
    assert verified.json()["verified"]["verified_by"] == people["operator"].account_id, verified.text

    order = await place(http, buyer, pid)

    assert (order["buyer_company"], order["buyer_track"]) == (
        "Shenzhen Example Co., Ltd.",
        "empowerment_cloud",
    )


async def test_a_wallet_coupon_is_used_once_and_comes_back_when_the_unpaid_order_is_cancelled(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid, buyer = await listed(http, people["merchant"], people["operator"]), people["buyer"]
    coupon = {"kind": "empowerment_cloud_cash", "amount": "100.00"}
    refused(
        await http.post(f"/accounts/{buyer.account_id}/coupons", headers=buyer.headers, json=coupon),
        "operators_only",
    )
    granted = await http.post(
        f"/accounts/{buyer.account_id}/coupons", headers=people["operator"].headers, json=coupon
    )
    assert granted.status_code == 201, granted.text
    [wallet] = (await http.get("/accounts/me", headers=buyer.headers)).json()["coupons"]
    coupon_id = wallet["coupon_id"]

    order = await place(http, buyer, pid, coupon_ids=[coupon_id])
    assert order["coupons"] == [coupon]
    assert fields(
        await http.post("/orders", headers=buyer.headers, json={"product_id": pid, "coupon_ids": [coupon_id]})
    ) == {"coupon_ids"}
    refused(
        await http.post(
            f"/orders/{order['order_id']}/cancel", headers=(await register(http, "buyer")).headers
        ),
        "own_purchases_only",
    )
    cancelled = await http.post(f"/orders/{order['order_id']}/cancel", headers=buyer.headers)
    assert cancelled.json()["status"] == "cancelled", cancelled.text

    [wallet] = (await http.get("/accounts/me", headers=buyer.headers)).json()["coupons"]
    assert wallet["used_by_order"] is None
    assert (await place(http, buyer, pid, coupon_ids=[coupon_id]))["coupon_ids"] == [coupon_id]


# --- payment: the payment system's service identity confirms it ----------------------------------


async def test_only_the_payment_system_pays(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    order = await place(http, people["buyer"], pid)
    for who in ("buyer", "merchant", "operator"):
        refused(await pay(http, order, people[who]), "payment_system_only")
    assert not [e for e in state.outbox if isinstance(e, OrderPaid)]

    paid = await pay(http, order, payment_id="PAY-1")

    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["payment_id"]) == ("processing", "PAY-1")
    assert [e.order_id for e in state.outbox if isinstance(e, OrderPaid)] == [order["order_id"]]


async def test_a_payment_of_another_amount_is_a_422_naming_amount(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    order = await place(http, people["buyer"], pid)
    assert fields(await pay(http, order, amount="1199.99")) == {"amount"}
    assert "amount" in fields(await pay(http, order, amount="-5"))
    assert "amount" in fields(await pay(http, order, amount="12.345"))
    assert "payment_id" in fields(
        await http.post(
            f"/orders/{order['order_id']}/pay",
            headers=PAYMENT_SYSTEM.headers,
            json={"amount": order["amount"]},
        )
    )
    read = await http.get(f"/orders/{order['order_id']}", headers=people["buyer"].headers)
    assert (read.json()["status"], read.json()["payment_id"]) == ("pending_payment", None)


async def test_a_repeated_payment_confirmation_is_idempotent(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    order = await place(http, people["buyer"], pid)

    first = await pay(http, order, payment_id="PAY-7")
    again = await pay(http, order, payment_id="PAY-7")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert len([e for e in state.outbox if isinstance(e, OrderPaid)]) == 1
    other = await pay(http, order, payment_id="PAY-8")
    assert (other.status_code, other.json()["detail"]["field"]) == (409, "status")


# --- reading orders ------------------------------------------------------------------------------


async def test_an_order_is_read_by_its_parties_and_operators(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    order_id = (await place(http, people["buyer"], pid))["order_id"]
    for who in ("buyer", "merchant", "operator"):
        assert (await http.get(f"/orders/{order_id}", headers=people[who].headers)).status_code == 200
    for outsider in (people["provider"], await register(http, "buyer"), await register(http, "merchant")):
        refused(await http.get(f"/orders/{order_id}", headers=outsider.headers), "parties_and_operators_only")
    stranger = await register(http, "buyer")
    await pay(http, await place(http, people["buyer"], pid))
    refused(await http.get(f"/purchased-services/{order_id}", headers=stranger.headers), "own_purchases_only")
    refused(await http.get("/purchased-services", headers=people["merchant"].headers), "buyers_only")


# --- refunds: the buyer asks, the order's merchant decides (dossier §1.4) ------------------------


async def test_only_the_orders_merchant_decides_a_refund_and_once(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    order = await place(http, buyer, await listed(http, merchant, people["operator"]))
    assert (await pay(http, order)).status_code == 200
    asked = await http.post(
        f"/purchased-services/{order['order_id']}/unsubscribe",
        headers=buyer.headers,
        json={"amount": "300.00", "reason": "plans changed"},
    )
    assert asked.status_code == 200, asked.text
    url = f"/orders/{order['order_id']}/refunds/{asked.json()['refund']['refund_id']}/decision"

    refused(await http.post(url, headers=buyer.headers, json={"approve": True}), "merchants_only")
    refused(
        await http.post(url, headers=(await register(http, "merchant")).headers, json={"approve": True}),
        "merchant_decides_refund",
    )
    assert "opinion" in fields(
        await http.post(url, headers=merchant.headers, json={"approve": True, "opinion": "x" * 2001})
    )
    assert "approve" in fields(await http.post(url, headers=merchant.headers, json={"opinion": "ok"}))
    missing = await http.post(
        f"/orders/{order['order_id']}/refunds/RF-nope/decision",
        headers=merchant.headers,
        json={"approve": True},
    )
    assert (missing.status_code, missing.json()["detail"]["field"]) == (404, "refund_id")
    assert not [e for e in state.outbox if isinstance(e, RefundDecided)]

    decided = await http.post(
        url,
        headers=merchant.headers,
        json={
            "approve": True,
            "opinion": "agreed by phone",
            "agreed_record": {"kind": "document", "ref": "call-2026-11-30"},
        },
    )
    again = await http.post(url, headers=merchant.headers, json={"approve": False})

    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["refund"]["state"]) == ("refunded", "approved")
    assert again.status_code == 409
    [outcome] = [e for e in state.outbox if isinstance(e, RefundDecided)]
    assert (outcome.payload.approved, outcome.payload.amount, outcome.payload.decided_by_account_id) == (
        True,
        Decimal("300.00"),
        merchant.account_id,
    )


# --- operators -----------------------------------------------------------------------------------


OPERATOR_ROUTES = [
    ("PUT", "/accounts/{buyer}/verification", {"company": "Example Ltd"}),
    ("POST", "/accounts/{buyer}/coupons", {"kind": "other", "amount": "5.00"}),
    ("POST", "/orders/{order}/credit-repaid", None),
    ("POST", "/products/{product}/review", {"approve": True}),
    ("POST", "/assets/{asset}/scan", {"passed": True}),
    (
        "POST",
        "/certifications",
        {"merchant_account_id": "{merchant}", "product_id": "{product}", "score": 90},
    ),
    ("GET", "/operator/audit", None),
]


@pytest.mark.parametrize("role", ["buyer", "merchant", "provider"])
async def test_operator_routes_refuse_everyone_else(
    http: httpx.AsyncClient, people: dict[str, Who], audit: MemoryAuditLog, role: str
) -> None:
    merchant = people["merchant"]
    created = await http.post(
        "/products", headers=merchant.headers, json=product_cmd().model_dump(mode="json")
    )
    product = created.json()["product_id"]
    await http.post(f"/products/{product}/publish", headers=merchant.headers)
    asset = (await http.post("/assets", headers=merchant.headers, json={"name": "pkg"})).json()["asset_id"]
    order = (await place(http, people["buyer"], await listed(http, merchant, people["operator"])))["order_id"]
    names = {
        "buyer": people["buyer"].account_id,
        "order": order,
        "product": product,
        "asset": asset,
        "merchant": merchant.account_id,
    }
    before = len(audit.rows)

    for method, path, body in OPERATOR_ROUTES:
        url = path.format(**names)
        json_body = (
            {k: v.format(**names) if isinstance(v, str) else v for k, v in body.items()} if body else None
        )
        refused(
            await http.request(method, url, headers=people[role].headers, json=json_body), "operators_only"
        )

    assert len(audit.rows) == before  # nobody else's call is an operator action
    assert (await http.get(f"/products/{product}", headers=merchant.headers)).json()[
        "status"
    ] == "pending_review"


async def test_billing_eligibility_is_for_operators_and_each_merchant_sees_its_own(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    other = await register(http, "merchant")
    mine, theirs = [
        await place(
            http,
            people["buyer"],
            await listed(http, m, people["operator"], **one_time(delivery_type="api", flow_template=None)),
        )
        for m in (people["merchant"], other)
    ]
    for order in (mine, theirs):
        assert (await pay(http, order)).status_code == 200
    period = {"period": mine["created_at"][:7]}

    own = await http.get("/billing/eligibility", headers=people["merchant"].headers, params=period)
    everything = await http.get("/billing/eligibility", headers=people["operator"].headers, params=period)

    assert [r["order_id"] for r in own.json()] == [mine["order_id"]]
    assert {r["order_id"] for r in everything.json()} == {mine["order_id"], theirs["order_id"]}
    for who in ("buyer", "provider"):
        refused(
            await http.get("/billing/eligibility", headers=people[who].headers, params=period),
            "operators_and_merchants_only",
        )
    assert "period" in fields(
        await http.get(
            "/billing/eligibility", headers=people["operator"].headers, params={"period": "2026-13"}
        )
    )


async def test_operator_actions_appear_in_the_audit_log(
    http: httpx.AsyncClient, people: dict[str, Who]
) -> None:
    operator, buyer = people["operator"], people["buyer"]
    pid = await listed(http, people["merchant"], operator)
    await http.put(
        f"/accounts/{buyer.account_id}/verification",
        headers=operator.headers,
        json={"company": "Example Ltd"},
    )
    again = await http.post(f"/products/{pid}/review", headers=operator.headers, json={"approve": True})
    assert again.status_code == 409  # listed already: refused, and recorded as such

    log = await http.get("/operator/audit", headers=operator.headers)

    rows = log.json()
    assert all(r["actor_account_id"] == operator.account_id for r in rows)
    reviews = [
        (r["resource"], r["outcome"], r["status"])
        for r in rows
        if r["action"] == "POST /products/{product_id}/review"
    ]
    assert sorted(reviews, key=lambda r: r[1]) == [
        ({"product_id": pid}, "allowed", 200),
        ({"product_id": pid}, "refused", 409),
    ]
    [verification] = [r for r in rows if r["action"] == "PUT /accounts/{account_id}/verification"]
    assert (verification["resource"], verification["outcome"]) == (
        {"account_id": buyer.account_id},
        "allowed",
    )
    refused(await http.get("/operator/audit", headers=people["merchant"].headers), "operators_only")


# --- the owner's contact data: export and erasure ------------------------------------------------


async def test_export_and_erasure_of_the_callers_contact_data(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    buyer = people["buyer"]
    pid = await listed(http, people["merchant"], people["operator"], delivery_type="hardware")
    contact = {"name": "Li Lei", "phone": "+8613800001111", "address": "1 Nanshan Road, Shenzhen"}
    order = await place(http, buyer, pid, delivery_contact=contact)

    exported = (await http.get("/accounts/me/export", headers=buyer.headers)).json()
    assert exported["account"]["bound_email"] == f"{buyer.account_id}@example.com"
    assert exported["delivery_contacts"] == [{"order_id": order["order_id"], "delivery_contact": contact}]

    erased = await http.post("/accounts/me/erasure", headers=buyer.headers)

    assert erased.status_code == 200, erased.text
    account = erased.json()
    assert account["bound_email"] == f"{buyer.account_id[0]}***@example.com"
    assert (account["bound_phone"], account["display_name"]) == ("***34", "erased account")
    assert account["erased_at"] is not None
    [event] = [e for e in state.outbox if isinstance(e, AccountErased)]
    assert (event.payload.account_id, event.payload.role.value) == (buyer.account_id, "buyer")
    kept = (await http.get(f"/orders/{order['order_id']}", headers=people["merchant"].headers)).json()
    assert kept["delivery_contact"] == {"name": "***", "phone": "***11", "address": "***"}
    assert (kept["buyer_account_id"], kept["amount"]) == (buyer.account_id, order["amount"])
    assert "Li Lei" not in (await http.get("/accounts/me/export", headers=buyer.headers)).text
    read = await http.get(f"/accounts/{buyer.account_id}", headers=people["operator"].headers)
    assert PHONE not in read.text
    assert Decimal(kept["amount"]) == Decimal("1200.00")
