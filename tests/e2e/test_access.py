"""The route × role table (tests/access_table.py, shown in the README) walked on the four running services with
real tokens from the running Keycloak: every "yes" works (2xx) on a resource of the caller's own, every "no" is
refused (401 without a token, 403 naming a rule with one), a stranger of the party's role included.

Each route has a builder that makes what the call needs (a fresh order, service order, recipient, bill ...) and
says how to call it; a "yes" gets a fresh resource, so a call that changes state never sees another's leftovers.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.identity import Login, User
from devstack.marketplace import Suite, eventually
from devstack.stack import SERVICES, Stack
from tests.access_table import RULES, Rule, refusal
from tests.identity import IdentityProvider

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MONTH = f"{datetime.now(UTC) + timedelta(hours=8):%Y%m}"  # bills are per Beijing month


@dataclass
class Call:
    path: str
    kw: dict[str, Any] = field(default_factory=dict)
    caller: Login | None = None  # a fresh person instead of the world's (erasure, registration, endpoint)


@dataclass
class World:
    """The people every row shares, and the products they buy."""

    stack: Stack
    http: httpx.AsyncClient
    idp: IdentityProvider
    suite: Suite
    people: dict[str, User] = field(default_factory=dict)
    strangers: dict[str, User] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    public_pem: str = ""
    n: int = 0

    @property
    def payment(self) -> Login:
        return self.idp.payment

    def who(self, role: str) -> Login:
        return self.payment if role == "payment" else self.people[role]

    def id(self, role: str) -> str:
        return self.people[role].account_id

    def phone(self) -> str:
        self.n += 1
        return f"+86137{uuid.uuid4().int % 10**6:06d}{self.n % 100:02d}"

    async def call(
        self, method: str, service: str, path: str, who: Login, expect: int | set[int] = 200, **kw: Any
    ) -> Any:
        return await self.suite.call(method, service, path, who, expect=expect, **kw)

    # --- things to act on -------------------------------------------------------------------------------
    async def order(self, kind: str = "supervised", **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.suite.order(
            self.people["buyer"], self.products[kind]["product_id"], **body
        )
        return result

    async def paid(self, kind: str = "supervised", credit: bool = False, **body: Any) -> dict[str, Any]:
        order = await self.order(kind, **body)
        result: dict[str, Any] = await self.suite.pay(self.payment, order, credit=credit)
        return result

    async def service_order(self) -> dict[str, Any]:
        order = await self.paid()
        so: dict[str, Any] = await self.suite.service_order(self.people["buyer"], order["order_id"])
        return so

    async def link(self, kind: str = "image") -> str:
        link = await self.call(
            "POST",
            "partner",
            f"/providers/{self.id('provider')}/private-links",
            self.people["provider"],
            expect=201,
            json={"product_id": self.products[kind]["product_id"], "customer_account_id": self.id("buyer")},
        )
        return str(link["token"])

    async def person(self, role: str) -> User:
        user = await self.idp.user(role)
        await self.suite.profile(user, self.phone())
        return user

    async def provider(self, user: User) -> None:
        app = await self.call(
            "POST",
            "partner",
            "/programme/applications",
            user,
            expect=201,
            json={"company": "Reseller Inc", "certifications": ["Service"]},
        )
        await self.call(
            "POST",
            "partner",
            f"/programme/applications/{app['application_id']}/review",
            self.people["operator"],
            json={"approve": True},
        )


async def build_world(stack: Stack, http: httpx.AsyncClient, idp: IdentityProvider) -> World:
    w = World(stack, http, idp, Suite({s: stack.url(s) for s in SERVICES}, http))
    for role in ("buyer", "merchant", "provider", "operator"):
        w.people[role] = await w.person(role)
    for role in ("buyer", "merchant", "provider"):
        w.strangers[role] = await w.person(role)
    await w.provider(w.people["provider"])
    await w.provider(w.strangers["provider"])
    merchant, operator = w.people["merchant"], w.people["operator"]

    def spec(**over: Any) -> dict[str, Any]:
        return {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": "100.00", **over}

    listings = {
        "supervised": {"provider_share_ratio": "0.10"},
        "image": {
            "name": "OS image",
            "delivery_type": "image",
            "flow_template": None,
            "provider_share_ratio": "0.10",
        },
        "periodic": {
            "name": "Data API",
            "delivery_type": "api",
            "flow_template": None,
            "specifications": [spec(billing_mode="periodic_yearly", period_months=12)],
        },
        "saas": {"name": "CRM", "delivery_type": "saas_instant", "flow_template": None},
        "hardware": {"name": "Edge router", "delivery_type": "hardware"},
    }
    for kind, over in listings.items():
        w.products[kind] = await w.suite.list_product(
            merchant, operator, **{"specifications": [spec()], **over}
        )
    w.products["license"] = await w.suite.list_license(merchant, operator, specifications=[spec()])
    w.products["license_identifier"] = await w.suite.list_license(
        merchant,
        operator,
        delivery_type="license_identifier",
        flow_template="license.identifier",
        specifications=[spec()],
    )
    await w.call(
        "PUT",
        "partner",
        f"/products/{w.products['supervised']['product_id']}/terms",
        merchant,
        json={"share_ratio": "0.10", "authorized_discount": "0.3"},
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    w.public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return w


Builder = Callable[[World, str], Awaitable[Call]]
BUILDERS: dict[tuple[str, str, str], Builder] = {}


def builds(service: str, method: str, path: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        BUILDERS[(service, method, path)] = fn
        return fn

    return register


def _own(role: str) -> str:
    """The party whose resource a refused caller is pointed at: the role itself, or the buyer's."""
    return role if role in {"buyer", "merchant", "provider", "operator"} else "buyer"


# --- orders ------------------------------------------------------------------------------------------------
@builds("orders", "POST", "/accounts")
async def _register(w: World, role: str) -> Call:
    return Call("/accounts", {"json": {"bound_phone": w.phone(), "locale": "en-US"}})


@builds("orders", "GET", "/accounts/me")
async def _me(w: World, role: str) -> Call:
    return Call("/accounts/me")


@builds("orders", "GET", "/accounts/me/export")
async def _export(w: World, role: str) -> Call:
    return Call("/accounts/me/export")


@builds("orders", "POST", "/accounts/me/erasure")
async def _erase(w: World, role: str) -> Call:
    fresh = await w.person(role) if role in w.people else None  # erasing the world's people would spoil it
    return Call("/accounts/me/erasure", caller=fresh)


@builds("orders", "GET", "/accounts/{account_id}")
async def _account(w: World, role: str) -> Call:
    return Call(f"/accounts/{w.id('buyer')}")


@builds("orders", "PUT", "/accounts/{account_id}/verification")
async def _verify(w: World, role: str) -> Call:
    return Call(
        f"/accounts/{w.id('buyer')}/verification", {"json": {"company": "ACME Ltd", "track": "base_cloud"}}
    )


@builds("orders", "POST", "/accounts/{account_id}/coupons")
async def _coupon(w: World, role: str) -> Call:
    return Call(f"/accounts/{w.id('buyer')}/coupons", {"json": {"kind": "other", "amount": "5.00"}})


@builds("orders", "POST", "/assets")
async def _asset(w: World, role: str) -> Call:
    return Call("/assets", {"json": {"name": "pkg.tgz"}})


async def _new_asset(w: World) -> str:
    asset = await w.call(
        "POST", "orders", "/assets", w.people["merchant"], expect=201, json={"name": "pkg.tgz"}
    )
    return str(asset["asset_id"])


@builds("orders", "POST", "/assets/{asset_id}/release")
async def _release(w: World, role: str) -> Call:
    return Call(f"/assets/{await _new_asset(w)}/release")


@builds("orders", "POST", "/assets/{asset_id}/scan")
async def _scan(w: World, role: str) -> Call:
    return Call(f"/assets/{await _new_asset(w)}/scan", {"json": {"passed": True}})


@builds("orders", "GET", "/billing/eligibility")
async def _eligibility(w: World, role: str) -> Call:
    return Call("/billing/eligibility", {"params": {"period": f"{datetime.now(UTC):%Y-%m}"}})


@builds("orders", "POST", "/certifications")
async def _certify(w: World, role: str) -> Call:
    return Call(
        "/certifications",
        {
            "json": {
                "merchant_account_id": w.id("merchant"),
                "product_id": w.products["saas"]["product_id"],
                "score": 90,
            }
        },
    )


@builds("orders", "GET", "/favourites")
async def _favourites(w: World, role: str) -> Call:
    return Call("/favourites")


@builds("orders", "POST", "/favourites")
async def _favourite(w: World, role: str) -> Call:
    return Call("/favourites", {"json": {"product_id": w.products["image"]["product_id"]}})


async def _kept(w: World, kind: str) -> str:
    """A favourite of the buyer (rows running at once keep different products: one removes its favourite)."""
    pid = str(w.products[kind]["product_id"])
    await w.call("POST", "orders", "/favourites", w.people["buyer"], expect=201, json={"product_id": pid})
    return pid


@builds("orders", "DELETE", "/favourites/{product_id}")
async def _unfavourite(w: World, role: str) -> Call:
    return Call(f"/favourites/{await _kept(w, 'image')}")


@builds("orders", "POST", "/favourites/{product_id}/buy")
async def _buy_favourite(w: World, role: str) -> Call:
    return Call(f"/favourites/{await _kept(w, 'periodic')}/buy", {"json": {}})


@builds("orders", "POST", "/orders")
async def _place(w: World, role: str) -> Call:
    return Call("/orders", {"json": {"product_id": w.products["supervised"]["product_id"]}})


@builds("orders", "GET", "/orders/{order_id}")
async def _get_order(w: World, role: str) -> Call:
    return Call(f"/orders/{(await w.order())['order_id']}")


@builds("orders", "POST", "/orders/{order_id}/cancel")
async def _cancel(w: World, role: str) -> Call:
    return Call(f"/orders/{(await w.order())['order_id']}/cancel")


@builds("orders", "POST", "/orders/{order_id}/credit-repaid")
async def _credit(w: World, role: str) -> Call:
    return Call(f"/orders/{(await w.paid('image', credit=True))['order_id']}/credit-repaid")


@builds("orders", "POST", "/orders/{order_id}/pay")
async def _pay(w: World, role: str) -> Call:
    order = await w.order()
    return Call(
        f"/orders/{order['order_id']}/pay",
        {"json": {"payment_id": f"PAY-{uuid.uuid4().hex}", "amount": order["amount"]}},
    )


@builds("orders", "GET", "/orders")
async def _orders(w: World, role: str) -> Call:
    return Call("/orders", {"params": {"limit": 5}})


@builds("orders", "POST", "/orders/{order_id}/reminders")
async def _remind(w: World, role: str) -> Call:
    return Call(f"/orders/{(await w.paid())['order_id']}/reminders", {"json": {"message": "any news?"}})


@builds("orders", "POST", "/orders/{order_id}/invoice-requests")
async def _invoice_request(w: World, role: str) -> Call:
    body = {"title": "Acme Ltd", "tax_id": "91110000MA01ABCD2X"}
    return Call(f"/orders/{(await w.paid('image'))['order_id']}/invoice-requests", {"json": body})


@builds("orders", "GET", "/operator/product-reviews")
async def _review_queue(w: World, role: str) -> Call:
    return Call("/operator/product-reviews")


def _milestone_offer_body(w: World) -> dict[str, Any]:
    return {
        "name": f"offer-{uuid.uuid4().hex[:8]}",
        "buyer_account_id": w.id("buyer"),
        "product_id": w.products["supervised"]["product_id"],
        "milestones": [
            {"milestone_id": "design", "title": "Design", "proportion": "0.4"},
            {"milestone_id": "build", "title": "Build", "proportion": "0.6"},
        ],
        "valid_until": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    }


async def _milestone_offer(w: World) -> str:
    made = await w.call(
        "POST", "orders", "/milestone-offers", w.people["merchant"], expect=201, json=_milestone_offer_body(w)
    )
    return str(made["offer_id"])


@builds("orders", "POST", "/milestone-offers")
async def _make_milestone_offer(w: World, role: str) -> Call:
    return Call("/milestone-offers", {"json": _milestone_offer_body(w)})


@builds("orders", "GET", "/milestone-offers")
async def _milestone_offers(w: World, role: str) -> Call:
    return Call("/milestone-offers")


@builds("orders", "GET", "/milestone-offers/{offer_id}")
async def _get_milestone_offer(w: World, role: str) -> Call:
    return Call(f"/milestone-offers/{await _milestone_offer(w)}")


@builds("orders", "POST", "/milestone-offers/{offer_id}/orders")
async def _order_milestone_offer(w: World, role: str) -> Call:
    return Call(f"/milestone-offers/{await _milestone_offer(w)}/orders")


@builds("orders", "POST", "/milestone-offers/{offer_id}/withdraw")
async def _withdraw_milestone_offer(w: World, role: str) -> Call:
    return Call(f"/milestone-offers/{await _milestone_offer(w)}/withdraw")


@builds("orders", "GET", "/products")
async def _products(w: World, role: str) -> Call:
    return Call("/products")


@builds("orders", "GET", "/products/{product_id}")
async def _product(w: World, role: str) -> Call:
    return Call(f"/products/{w.products['image']['product_id']}")


@builds("orders", "POST", "/products")
async def _create_product(w: World, role: str) -> Call:
    from devstack.marketplace import product

    return Call("/products", {"json": product()})


async def _draft(w: World) -> str:
    from devstack.marketplace import product

    draft = await w.call("POST", "orders", "/products", w.people["merchant"], expect=201, json=product())
    return str(draft["product_id"])


@builds("orders", "POST", "/products/{product_id}/publish")
async def _publish(w: World, role: str) -> Call:
    return Call(f"/products/{await _draft(w)}/publish")


@builds("orders", "POST", "/products/{product_id}/review")
async def _review(w: World, role: str) -> Call:
    pid = await _draft(w)
    await w.call("POST", "orders", f"/products/{pid}/publish", w.people["merchant"])
    return Call(f"/products/{pid}/review", {"json": {"approve": True}})


@builds("orders", "GET", "/purchased-services")
async def _purchased(w: World, role: str) -> Call:
    return Call("/purchased-services")


@builds("orders", "GET", "/purchased-services/{order_id}")
async def _details(w: World, role: str) -> Call:
    return Call(f"/purchased-services/{(await w.paid('image'))['order_id']}")


@builds("orders", "GET", "/purchased-services/{order_id}/progress")
async def _progress(w: World, role: str) -> Call:
    return Call(f"/purchased-services/{(await w.paid('image'))['order_id']}/progress")


@builds("orders", "POST", "/purchased-services/{order_id}/rating")
async def _rate(w: World, role: str) -> Call:
    return Call(
        f"/purchased-services/{(await w.paid('image'))['order_id']}/rating",
        {"json": {"quality": 5, "after_sales": 5, "delivery_speed": 5}},
    )


@builds("orders", "POST", "/purchased-services/{order_id}/renew")
async def _renew(w: World, role: str) -> Call:
    return Call(f"/purchased-services/{(await w.paid('periodic'))['order_id']}/renew", {"json": {}})


@builds("orders", "POST", "/orders/{order_id}/refunds/{refund_id}/decision")
async def _decide(w: World, role: str) -> Call:
    """The merchant decides the buyer's refund request of a supervised order in its guarantee period."""
    so = await w.service_order()
    requested = await w.call(
        "POST",
        "orders",
        f"/purchased-services/{so['order_id']}/unsubscribe",
        w.people["buyer"],
        json={"amount": "10.00", "reason": "scope reduced"},
    )
    return Call(
        f"/orders/{so['order_id']}/refunds/{requested['refund']['refund_id']}/decision",
        {"json": {"approve": True, "agreed_record": {"kind": "document", "ref": "call notes"}}},
    )


@builds("orders", "POST", "/purchased-services/{order_id}/unsubscribe")
async def _unsubscribe(w: World, role: str) -> Call:
    return Call(
        f"/purchased-services/{(await w.paid('image'))['order_id']}/unsubscribe",
        {"json": {"reason": "wrong edition"}},
    )


SHIP_TO = {"name": "Li Lei", "phone": "+8613800001234", "address": "1 Science Road, Shenzhen"}


async def _returning(w: World, shipped: bool) -> tuple[str, str]:
    """A paid hardware order whose buyer unsubscribes and returns the goods (dossier §1.4), shipped back or
    not yet: (order id, refund id)."""
    order = await w.paid("hardware", delivery_contact=SHIP_TO)
    asked = await w.call(
        "POST",
        "orders",
        f"/purchased-services/{order['order_id']}/unsubscribe",
        w.people["buyer"],
        json={"amount": "50.00", "reason": "arrived broken", "return_goods": True},
    )
    refund_id = asked["refund"]["refund_id"]
    if shipped:
        await w.call(
            "POST",
            "orders",
            f"/purchased-services/{order['order_id']}/unsubscribe/{refund_id}/shipment",
            w.people["buyer"],
            json={"carrier": "SF", "tracking_no": "SF1"},
        )
    return order["order_id"], refund_id


@builds("orders", "POST", "/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment")
async def _ship_return(w: World, role: str) -> Call:
    order_id, refund_id = await _returning(w, shipped=False)
    return Call(
        f"/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment",
        {"json": {"carrier": "SF", "tracking_no": "SF1"}},
    )


@builds("orders", "POST", "/orders/{order_id}/refunds/{refund_id}/return")
async def _accept_return(w: World, role: str) -> Call:
    order_id, refund_id = await _returning(w, shipped=True)
    return Call(f"/orders/{order_id}/refunds/{refund_id}/return", {"json": {"accept": True}})


async def _statement_of_merchant(w: World, state: str = "review") -> str:
    """A settlement statement of the world's merchant. The monthly production runs on the 7th (or the next
    working day) for the month before, which the walk cannot wait for: the statement is written to orders'
    database as the production writes it (services/orders/statement_cases.py)."""
    from pymongo import AsyncMongoClient

    from services.orders.statements import Statement, StatementStep

    now = datetime.now(UTC)
    statement = Statement(
        statement_id=f"ST-E2E{uuid.uuid4().hex[:8]}-{w.id('merchant')}",
        merchant_account_id=w.id("merchant"),
        period="2026-10",
        lines=[],
        totals={},
        state=state,  # type: ignore[arg-type]
        created_at=now,
        history=[StatementStep(state="review", at=now)],
    )
    name = f"{w.stack.namespace}_orders" if w.stack.namespace else "orders"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(w.stack.mongo_uri)
    try:
        await client[name]["statements"].insert_one({"_id": statement.statement_id, **statement.model_dump()})
    finally:
        await client.close()
    return statement.statement_id


@builds("orders", "GET", "/statements")
async def _statements(w: World, role: str) -> Call:
    return Call("/statements")


@builds("orders", "GET", "/statements/{statement_id}")
async def _a_statement(w: World, role: str) -> Call:
    return Call(f"/statements/{await _statement_of_merchant(w)}")


@builds("orders", "POST", "/statements/{statement_id}/send")
async def _send_statement(w: World, role: str) -> Call:
    return Call(f"/statements/{await _statement_of_merchant(w)}/send")


@builds("orders", "POST", "/statements/{statement_id}/paid")
async def _statement_paid(w: World, role: str) -> Call:
    return Call(f"/statements/{await _statement_of_merchant(w, 'sent')}/paid")


# --- supervision -------------------------------------------------------------------------------------------
@builds("supervision", "GET", "/service-orders/by-order/{order_id}")
async def _by_order(w: World, role: str) -> Call:
    return Call(f"/service-orders/by-order/{(await w.service_order())['order_id']}")


@builds("supervision", "GET", "/service-orders/{service_order_id}")
async def _so(w: World, role: str) -> Call:
    return Call(f"/service-orders/{(await w.service_order())['service_order_id']}")


@builds("supervision", "POST", "/service-orders/{service_order_id}/actions/{action}")
async def _act(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    if role == "merchant":  # the merchant's step comes after the buyer's
        await w.suite.act(w.people["buyer"], so_id, "submit")
        return Call(f"/service-orders/{so_id}/actions/confirm", {"json": {}})
    return Call(f"/service-orders/{so_id}/actions/submit", {"json": {}})


@builds("supervision", "POST", "/service-orders/{service_order_id}/appeals")
async def _appeal(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    return Call(
        f"/service-orders/{so_id}/appeals",
        {"json": {"reason": "no answer", "demands": "help", "attachments": ["proof.pdf"]}},
    )


@builds("supervision", "POST", "/service-orders/{service_order_id}/appeals/{appeal_id}/resolution")
async def _resolve(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    so = await w.call(
        "POST",
        "supervision",
        f"/service-orders/{so_id}/appeals",
        w.people["buyer"],
        expect=201,
        json={"reason": "no answer", "demands": "help"},
    )
    appeal = so["open_appeal"]["appeal_id"]
    return Call(f"/service-orders/{so_id}/appeals/{appeal}/resolution", {"json": {"outcome": "resume"}})


@builds("supervision", "GET", "/service-orders")
async def _service_orders(w: World, role: str) -> Call:
    return Call("/service-orders", {"params": {"limit": 5}})


@builds("supervision", "GET", "/appeals")
async def _appeal_queue(w: World, role: str) -> Call:
    return Call("/appeals", {"params": {"status": "open", "limit": 10}})


@builds("supervision", "POST", "/appeals/{appeal_id}/assign")
async def _assign(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    so = await w.call(
        "POST",
        "supervision",
        f"/service-orders/{so_id}/appeals",
        w.people["buyer"],
        expect=201,
        json={"reason": "no answer", "demands": "help"},
    )
    return Call(f"/appeals/{so['open_appeal']['appeal_id']}/assign", {"json": {}})


@builds("supervision", "GET", "/timeline-keys")
async def _timeline_keys(w: World, role: str) -> Call:
    return Call("/timeline-keys")


@builds("supervision", "GET", "/service-orders/{service_order_id}/export")
async def _so_export(w: World, role: str) -> Call:
    return Call(f"/service-orders/{(await w.service_order())['service_order_id']}/export")


@builds("supervision", "POST", "/service-orders/{service_order_id}/files")
async def _upload(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    return Call(
        f"/service-orders/{so_id}/files",
        {"files": {"file": ("sow.pdf", PDF, "application/pdf")}, "data": {"kind": "sow"}},
    )


@builds("supervision", "GET", "/service-orders/{service_order_id}/files/{file_id}")
async def _download(w: World, role: str) -> Call:
    so_id = (await w.service_order())["service_order_id"]
    up = await w.call(
        "POST",
        "supervision",
        f"/service-orders/{so_id}/files",
        w.people["merchant"],
        expect=201,
        files={"file": ("sow.pdf", PDF, "application/pdf")},
        data={"kind": "sow"},
    )
    return Call(f"/service-orders/{so_id}/files/{up['file_id']}")


# --- notification: each account's own message centre, inbox and delivery log ---------------------------
def _mine(role: str, w: World, rest: str = "") -> str:
    return f"/accounts/{w.id(_own(role))}{rest}"


for _method, _rest in (
    ("GET", "/deliveries"),
    ("GET", "/export"),
    ("GET", "/inbox"),
    ("POST", "/inbox/read-all"),
    ("GET", "/inbox/unread-count"),
    ("GET", "/recipients"),
    ("GET", "/reminders"),
):

    async def _plain(w: World, role: str, rest: str = _rest) -> Call:
        return Call(_mine(role, w, rest))

    BUILDERS[("notification", _method, "/accounts/{account_id}" + _rest)] = _plain


async def _recipient(w: World, role: str) -> dict[str, Any]:
    body = {
        "recipients": [
            {"name": "Ops desk", "email": f"ops-{uuid.uuid4().hex[:8]}@example.com", "phone": w.phone()}
        ]
    }
    [created] = await w.call(
        "POST", "notification", _mine(role, w, "/recipients"), w.people[_own(role)], expect=201, json=body
    )
    return dict(created)


@builds("notification", "POST", "/accounts/{account_id}/recipients")
async def _add_recipient(w: World, role: str) -> Call:
    return Call(
        _mine(role, w, "/recipients"),
        {
            "json": {
                "recipients": [
                    {
                        "name": "Ops desk",
                        "email": f"ops-{uuid.uuid4().hex[:8]}@example.com",
                        "phone": w.phone(),
                    }
                ]
            }
        },
    )


@builds("notification", "DELETE", "/accounts/{account_id}/recipients/{recipient_id}")
async def _delete_recipient(w: World, role: str) -> Call:
    return Call(_mine(role, w, f"/recipients/{(await _recipient(w, role))['recipient_id']}"))


@builds("notification", "PATCH", "/accounts/{account_id}/recipients/{recipient_id}")
async def _edit_recipient(w: World, role: str) -> Call:
    rid = (await _recipient(w, role))["recipient_id"]
    return Call(_mine(role, w, f"/recipients/{rid}"), {"json": {"name": "Night desk"}})


@builds("notification", "POST", "/accounts/{account_id}/recipients/{recipient_id}/resend")
async def _resend(w: World, role: str) -> Call:
    return Call(_mine(role, w, f"/recipients/{(await _recipient(w, role))['recipient_id']}/resend"))


@builds("notification", "POST", "/accounts/{account_id}/recipients/{recipient_id}/verify-phone")
async def _verify_phone(w: World, role: str) -> Call:
    created = await _recipient(w, role)

    async def code() -> str | None:  # the SMS the recipient got, at the Twilio-compatible endpoint
        sms = (await w.http.get(f"{w.stack.sms_url}/sms", params={"to": created["phone"]})).json()
        found = [m for s in sms if (m := re.search(r"\b(\d{6})\b", s["body"]))]
        return found[-1].group(1) if found else None

    return Call(
        _mine(role, w, f"/recipients/{created['recipient_id']}/verify-phone"),
        {"params": {"code": await eventually(code, what="the verification SMS")}},
    )


async def _delivery(w: World, role: str) -> str:
    await _recipient(w, role)  # its verification messages are the owner's deliveries

    async def first() -> str | None:
        rows = await w.call("GET", "notification", _mine(role, w, "/deliveries"), w.people[_own(role)])
        return str(rows[0]["delivery_id"]) if rows else None

    return await eventually(first, what="a delivery of the account")


@builds("notification", "GET", "/accounts/{account_id}/deliveries/{delivery_id}")
async def _one_delivery(w: World, role: str) -> Call:
    return Call(_mine(role, w, f"/deliveries/{await _delivery(w, role)}"))


async def _message(w: World, role: str) -> str:
    """An in-site message of the account: an order placed through the provider's link tells buyer, merchant
    and provider; an appeal tells the operators."""
    owner = _own(role)
    if owner == "operator":
        so = await w.service_order()
        order_id = so["order_id"]
        await w.call(
            "POST",
            "supervision",
            f"/service-orders/{so['service_order_id']}/appeals",
            w.people["buyer"],
            expect=201,
            json={"reason": "no answer", "demands": "help"},
        )
    else:
        order_id = (await w.paid("image", private_link=await w.link()))["order_id"]

    async def first() -> str | None:  # this order's message: rows running at once each take their own
        page = await w.call(
            "GET", "notification", _mine(role, w, "/inbox"), w.people[owner], params={"limit": 100}
        )
        mine = [m for m in page["items"] if order_id in m["title"] or m.get("order_id") == order_id]
        return str(mine[0]["message_id"]) if mine else None

    return await eventually(first, what=f"an in-site message of the {owner}")


@builds("notification", "DELETE", "/accounts/{account_id}/inbox/{message_id}")
async def _delete_message(w: World, role: str) -> Call:
    return Call(_mine(role, w, f"/inbox/{await _message(w, role)}"))


@builds("notification", "POST", "/accounts/{account_id}/inbox/{message_id}/read")
async def _read_message(w: World, role: str) -> Call:
    return Call(_mine(role, w, f"/inbox/{await _message(w, role)}/read"))


@builds("notification", "GET", "/operator/deliveries/dead")
async def _dead(w: World, role: str) -> Call:
    return Call("/operator/deliveries/dead")


@builds("notification", "POST", "/operator/deliveries/{delivery_id}/replay")
async def _replay_delivery(w: World, role: str) -> Call:
    return Call(f"/operator/deliveries/{await _delivery(w, 'buyer')}/replay")  # a sent one: no change, 200


@builds("notification", "GET", "/operator/providers")
async def _breakers(w: World, role: str) -> Call:
    return Call("/operator/providers")


@builds("notification", "GET", "/message-types")
async def _message_types(w: World, role: str) -> Call:
    return Call("/message-types")


for _service in SERVICES:

    async def _audit(w: World, role: str) -> Call:
        return Call("/operator/audit")

    BUILDERS[(_service, "GET", "/operator/audit")] = _audit


# --- partner -----------------------------------------------------------------------------------------------
@builds("partner", "PUT", "/customers/{customer_id}/association")
async def _associate(w: World, role: str) -> Call:
    return Call(f"/customers/{w.id('buyer')}/association", {"json": {"reseller_id": w.id("provider")}})


def _demand_body(w: World) -> dict[str, Any]:
    return {
        "merchant_account_id": w.id("merchant"),
        "customer_account_id": w.id("buyer"),
        "product_id": w.products["supervised"]["product_id"],
        "description": "3 databases",
    }


@builds("partner", "POST", "/demands")
async def _file_demand(w: World, role: str) -> Call:
    return Call("/demands", {"json": _demand_body(w)})


async def _demand(w: World) -> str:
    demand = await w.call(
        "POST", "partner", "/demands", w.people["provider"], expect=201, json=_demand_body(w)
    )
    return str(demand["demand_id"])


def _offer_body(w: World) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": "spring offer",
        "customer_account_id": w.id("buyer"),
        "product_ids": [w.products["supervised"]["product_id"]],
        "discount": "0.1",
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
    }


@builds("partner", "GET", "/demands")
async def _list_demands(w: World, role: str) -> Call:
    return Call("/demands")


@builds("partner", "GET", "/offers")
async def _list_offers(w: World, role: str) -> Call:
    return Call("/offers?status=manual_handling")


@builds("partner", "GET", "/demands/{demand_id}")
async def _get_demand(w: World, role: str) -> Call:
    return Call(f"/demands/{await _demand(w)}")


@builds("partner", "POST", "/demands/{demand_id}/offer")
async def _answer_demand(w: World, role: str) -> Call:
    return Call(f"/demands/{await _demand(w)}/offer", {"json": _offer_body(w)})


@builds("partner", "POST", "/offers")
async def _make_offer(w: World, role: str) -> Call:
    return Call("/offers", {"json": _offer_body(w)})


@builds("partner", "GET", "/offers/{offer_id}")
async def _get_offer(w: World, role: str) -> Call:
    offer = await w.call("POST", "partner", "/offers", w.people["provider"], expect=201, json=_offer_body(w))
    return Call(f"/offers/{offer['offer_id']}")


async def _offer_in_manual_handling(w: World, issuer: str = "provider") -> str:
    """An offer deeper than the product's authorized discount (0.2 or 0.3): it waits for an operator (§7.5)."""
    body = {**_offer_body(w), "discount": "0.5"}
    offer = await w.call("POST", "partner", "/offers", w.people[issuer], expect=201, json=body)
    assert offer["status"] == "manual_handling", offer
    return str(offer["offer_id"])


@builds("partner", "POST", "/offers/{offer_id}/approve")
async def _approve_offer(w: World, role: str) -> Call:
    return Call(f"/offers/{await _offer_in_manual_handling(w)}/approve", {"json": {"note": "CRM approval"}})


@builds("partner", "POST", "/offers/{offer_id}/reject")
async def _reject_offer(w: World, role: str) -> Call:
    return Call(f"/offers/{await _offer_in_manual_handling(w)}/reject", {"json": {"note": "too deep"}})


@builds("partner", "POST", "/offers/{offer_id}/withdraw")
async def _withdraw_offer(w: World, role: str) -> Call:
    issuer = role if role in ("provider", "merchant") else "provider"
    return Call(f"/offers/{await _offer_in_manual_handling(w, issuer)}/withdraw")


async def _saas(w: World) -> str:
    """A paid SaaS order, once partner knows it (its buyer, from order.paid): its instance call fails (the
    merchant configured no endpoint), so there is a given-up call to replay. Each is of a product of its own:
    more than 5 failed orders of one product in a month delist it (dossier §8.2.2), and the walk makes one
    for each column."""
    kind = f"saas-{uuid.uuid4().hex[:8]}"
    w.products[kind] = await w.suite.list_product(
        w.people["merchant"],
        w.people["operator"],
        name="CRM",
        delivery_type="saas_instant",
        flow_template=None,
        specifications=[
            {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": "100.00"}
        ],
    )
    order_id = str((await w.paid(kind))["order_id"])

    async def known() -> bool:
        console = await w.call(
            "GET", "partner", f"/merchants/{w.id('merchant')}/console", w.people["merchant"]
        )
        return any(
            c["order_id"] == order_id for c in console["endpoints"].get("newInstance", {}).get("recent", [])
        )

    await eventually(known, what="partner knows the SaaS order")
    return order_id


@builds("partner", "POST", "/merchant-calls/{call_id}/replay")
async def _replay_call(w: World, role: str) -> Call:
    order_id = await _saas(w)

    async def failed() -> str | None:
        console = await w.call(
            "GET", "partner", f"/merchants/{w.id('merchant')}/console", w.people["merchant"]
        )
        calls = [
            c
            for c in console["endpoints"].get("newInstance", {}).get("recent", [])
            if c["order_id"] == order_id and c["status"] == "failed"
        ]
        return str(calls[0]["call_id"]) if calls else None

    return Call(f"/merchant-calls/{await eventually(failed, what='a given-up instance call')}/replay")


async def _license(w: World, kind: str) -> str:
    """A paid License order, once partner knows it (from order.paid)."""
    order_id = str((await w.paid(kind))["order_id"])

    async def known() -> bool:
        return await w.suite.find("partner", f"/licenses?order_id={order_id}", w.people["buyer"]) is not None

    await eventually(known, what="partner knows the License order")
    return order_id


@builds("partner", "GET", "/licenses")
async def _licenses(w: World, role: str) -> Call:
    return Call(f"/licenses?order_id={await _license(w, 'license')}")


@builds("partner", "POST", "/orders/{order_id}/license/identifier")
async def _identifier(w: World, role: str) -> Call:
    order_id = await _license(w, "license_identifier")
    return Call(f"/orders/{order_id}/license/identifier", {"json": {"kind": "system"}})


@builds("partner", "GET", "/merchants/{merchant_id}/console")
async def _console(w: World, role: str) -> Call:
    return Call(f"/merchants/{w.id('merchant')}/console")


@builds("partner", "PUT", "/merchants/{merchant_id}/endpoint")
async def _endpoint(w: World, role: str) -> Call:
    merchant = await w.person("merchant") if role == "merchant" else w.people["merchant"]
    return Call(
        f"/merchants/{merchant.account_id}/endpoint",
        {
            "json": {
                "production_url": "http://127.0.0.1:9/saas",
                "access_key": "merchant-ak-0001",
                "public_key_pem": w.public_pem,
            }
        },
        caller=merchant if role == "merchant" else None,
    )


KIT_TENANT = {"tenantId": "t1", "tenantCode": "acme", "name": "ACME", "domainName": "acme.example"}


@builds("partner", "POST", "/orders/{order_id}/kit/bind")
async def _bind(w: World, role: str) -> Call:
    return Call(
        f"/orders/{await _saas(w)}/kit/bind",
        {
            "json": {
                "tenant": KIT_TENANT,
                "app": {"appId": "a1", "clientId": "c1", "clientSecret": "s3cret"},
                "orgs": [],
            }
        },
    )


@builds("partner", "POST", "/orders/{order_id}/kit/departments")
async def _department(w: World, role: str) -> Call:
    return Call(
        f"/orders/{await _saas(w)}/kit/departments",
        {"json": {"tenant_id": "t1", "org": {"orgCode": "d1", "orgName": "Sales"}, "flag": 1}},
    )


@builds("partner", "POST", "/orders/{order_id}/kit/users")
async def _users(w: World, role: str) -> Call:
    return Call(
        f"/orders/{await _saas(w)}/kit/users",
        {
            "json": {
                "tenant_id": "t1",
                "app_id": "a1",
                "flag": 1,
                "users": [
                    {"userName": "li", "name": "Li", "orgCode": "d1", "role": "user", "enable": "true"}
                ],
            }
        },
    )


@builds("partner", "GET", "/products/{product_id}/terms")
async def _terms(w: World, role: str) -> Call:
    return Call(f"/products/{w.products['supervised']['product_id']}/terms")


@builds("partner", "PUT", "/products/{product_id}/terms")
async def _set_terms(w: World, role: str) -> Call:
    # The merchant sets terms of its own product; everyone else is pointed at that same product.
    pid = w.products["image"]["product_id"]
    return Call(f"/products/{pid}/terms", {"json": {"share_ratio": "0.10", "authorized_discount": "0.2"}})


@builds("partner", "POST", "/programme/applications")
async def _apply(w: World, role: str) -> Call:
    fresh = await w.person("provider") if role == "provider" else None
    return Call(
        "/programme/applications",
        {"json": {"company": "New Reseller", "certifications": ["SI"]}},
        caller=fresh,
    )


@builds("partner", "POST", "/programme/applications/{application_id}/review")
async def _review_application(w: World, role: str) -> Call:
    app = await w.call(
        "POST",
        "partner",
        "/programme/applications",
        await w.person("provider"),
        expect=201,
        json={"company": "New Reseller", "certifications": ["Software"]},
    )
    return Call(f"/programme/applications/{app['application_id']}/review", {"json": {"approve": True}})


@builds("partner", "GET", "/providers/{provider_id}")
async def _provider_profile(w: World, role: str) -> Call:
    return Call(f"/providers/{w.id('provider')}")


@builds("partner", "POST", "/providers/{provider_id}/bills")
async def _run_bills(w: World, role: str) -> Call:
    return Call(f"/providers/{w.id('provider')}/bills", {"json": {"month": MONTH}})


@builds("partner", "POST", "/providers/{provider_id}/bills/{bill_id}/invoice")
async def _invoice(w: World, role: str) -> Call:
    """An earning through the provider's link, this month's bill for it, then the provider's invoice."""
    provider = await w.person("provider")
    await w.provider(provider)
    link = await w.call(
        "POST",
        "partner",
        f"/providers/{provider.account_id}/private-links",
        provider,
        expect=201,
        json={"product_id": w.products["image"]["product_id"], "customer_account_id": w.id("buyer")},
    )
    await w.paid("image", private_link=link["token"])

    async def bill() -> dict[str, Any] | None:
        bills = await w.call(
            "POST",
            "partner",
            f"/providers/{provider.account_id}/bills",
            w.people["operator"],
            expect=201,
            json={"month": MONTH},
        )
        return bills[0] if bills else None

    first = await eventually(bill, what="a bill of the provider's earning")
    return Call(
        f"/providers/{provider.account_id}/bills/{first['bill_id']}/invoice",
        {"json": {"invoice_no": f"INV-{uuid.uuid4().hex[:8]}", "amount": first["amount"]}},
        caller=provider if role == "provider" else None,
    )


async def _bill_of_provider(w: World, sent: bool) -> tuple[str, str]:
    """A bill of a fresh provider's earning through its link, reviewed (and sent): (provider id, bill id)."""
    provider = await w.person("provider")
    await w.provider(provider)
    link = await w.call(
        "POST",
        "partner",
        f"/providers/{provider.account_id}/private-links",
        provider,
        expect=201,
        json={"product_id": w.products["image"]["product_id"], "customer_account_id": w.id("buyer")},
    )
    await w.paid("image", private_link=link["token"])

    async def bill() -> dict[str, Any] | None:
        bills = await w.call(
            "POST",
            "partner",
            f"/providers/{provider.account_id}/bills",
            w.people["operator"],
            expect=201,
            json={"month": MONTH},
        )
        return bills[0] if bills else None

    first = await eventually(bill, what="a bill of the provider's earning")
    if sent:
        await w.call(
            "POST",
            "partner",
            f"/providers/{provider.account_id}/bills/{quote(first['bill_id'], safe='')}/send",
            w.people["operator"],
        )
    return provider.account_id, quote(first["bill_id"], safe="")


@builds("partner", "POST", "/providers/{provider_id}/bills/{bill_id}/send")
async def _send_bill(w: World, role: str) -> Call:
    provider_id, bill_id = await _bill_of_provider(w, sent=False)
    return Call(f"/providers/{provider_id}/bills/{bill_id}/send")


@builds("partner", "POST", "/providers/{provider_id}/bills/{bill_id}/paid")
async def _bill_paid(w: World, role: str) -> Call:
    provider_id, bill_id = await _bill_of_provider(w, sent=True)
    return Call(f"/providers/{provider_id}/bills/{bill_id}/paid")


@builds("partner", "GET", "/providers/{provider_id}/ledger")
async def _ledger(w: World, role: str) -> Call:
    return Call(f"/providers/{w.id('provider')}/ledger")


@builds("partner", "POST", "/providers/{provider_id}/private-links")
async def _private_link(w: World, role: str) -> Call:
    return Call(
        f"/providers/{w.id('provider')}/private-links",
        {"json": {"product_id": w.products["image"]["product_id"], "customer_account_id": w.id("buyer")}},
    )


@builds("partner", "GET", "/providers/{provider_id}/statement")
async def _statement(w: World, role: str) -> Call:
    return Call(f"/providers/{w.id('provider')}/statement")


# --- parked events and dead letters ---------------------------------------------------------------------------
POISONED = {"orders": "order.paid", "supervision": "acceptance.done", "partner": "merchant_call.failed"}


for _service in SERVICES:

    async def _parked(w: World, role: str) -> Call:
        return Call("/operator/parked")

    BUILDERS[(_service, "GET", "/operator/parked")] = _parked


async def _dead_letter(w: World, service: str) -> str:
    """A record its consumers cannot read, on a topic `service` produces: they dead-letter it, and the
    producing service keeps it in its dead-letter store."""
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(**w.stack.kafka_client())
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{w.stack.namespace}.{POISONED[service]}", f"not json {marker}".encode(), key=marker.encode()
        )
    finally:
        await producer.stop()

    async def kept() -> str | None:
        rows = await w.call(
            "GET", service, "/operator/dead-letters", w.people["operator"], params={"limit": 1000}
        )
        mine = [r for r in rows if r["key"] == marker]
        return str(mine[0]["dead_letter_id"]) if mine else None

    return await eventually(kept, timeout=60, what=f"a dead letter in {service}'s store")


for _service in POISONED:

    async def _letters(w: World, role: str) -> Call:
        return Call("/operator/dead-letters")

    async def _replay_letter(w: World, role: str, service: str = _service) -> Call:
        return Call(f"/operator/dead-letters/{quote(await _dead_letter(w, service), safe='')}/replay")

    async def _replay_letters(w: World, role: str) -> Call:
        return Call(
            "/operator/dead-letters/replay", {"json": {"reason_contains": "no-such-reason", "limit": 10}}
        )

    BUILDERS[(_service, "GET", "/operator/dead-letters")] = _letters
    BUILDERS[(_service, "POST", "/operator/dead-letters/{dead_letter_id}/replay")] = _replay_letter
    BUILDERS[(_service, "POST", "/operator/dead-letters/replay")] = _replay_letters


# --- the walk ----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    rule: Rule
    column: str
    status: int
    body: str

    def __str__(self) -> str:
        return f"{self.rule.service} {self.rule.method} {self.rule.path} as {self.column}: {self.status} {self.body}"


async def _send(
    w: World, rule: Rule, call: Call, who: Login | None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    hdrs = dict(headers or {})
    if who is not None:
        hdrs.update(await who.headers())
    resp = await w.http.request(rule.method, w.stack.url(rule.service) + call.path, headers=hdrs, **call.kw)
    return resp.status_code, resp.text[:300]


async def walk(w: World, rule: Rule) -> list[Outcome]:
    """Every column of one row: the yes-columns each on a fresh resource of their own, the refusals on one."""
    out: list[Outcome] = []
    build = BUILDERS[rule.key]
    for role in sorted(rule.allowed):
        call = await build(w, role)
        status, body = await _send(w, rule, call, call.caller or w.who(role))
        if not 200 <= status < 300:
            out.append(Outcome(rule, role, status, body))
    target = next(iter(sorted(rule.allowed - {"payment"})), "buyer")
    call = await build(w, "refused")  # the party's resource, for everyone the row refuses
    refused = [
        (role, w.who(role))
        for role in ("buyer", "merchant", "provider", "operator", "payment")
        if role not in rule.allowed
    ]
    if rule.stranger:
        refused.append(("stranger", w.strangers[rule.stranger]))
    for column, who in refused:
        status, body = await _send(w, rule, call, who)
        expected = refusal(rule, column)
        ok = status == expected and (expected == 401 or '"rule"' in body)
        if not ok:
            out.append(Outcome(rule, column, status, body))
    # No token, only a header naming the party's account: that proves nothing (public reads stay open).
    name = w.id(target) if target in w.people else w.id("buyer")
    status, body = await _send(w, rule, call, None, {"X-Account-Id": name})
    if (rule.public and not 200 <= status < 300) or (not rule.public and status != 401):
        out.append(Outcome(rule, "anonymous", status, body))
    return out


@pytest.fixture(scope="module")
async def world(e2e: Stack, idp: IdentityProvider) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield await build_world(e2e, http, idp)


def test_every_rule_has_a_builder() -> None:
    assert {rule.key for rule in RULES} == set(BUILDERS)


@pytest.mark.parametrize("service", SERVICES)
async def test_the_route_by_role_table_holds_on_the_running_services(world: World, service: str) -> None:
    """One service's rows of the table; its rows run a few at a time (each builds its own resources)."""
    gate = asyncio.Semaphore(6)

    async def row(rule: Rule) -> list[Outcome]:
        async with gate:
            try:
                return await walk(world, rule)
            except Exception as exc:  # a builder that could not make its resource fails the row, named
                return [Outcome(rule, "setup", 0, f"{type(exc).__name__}: {exc}"[:400])]

    rows = [rule for rule in RULES if rule.service == service]
    assert rows
    results = await asyncio.gather(*(row(rule) for rule in rows))
    wrong = [str(o) for outcomes in results for o in outcomes]
    assert not wrong, f"{len(wrong)} cells of the table do not hold:\n" + "\n".join(wrong)
