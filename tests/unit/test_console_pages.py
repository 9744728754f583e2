"""The console's pages against stand-in services (httpx's MockTransport answering as the services' contracts
say): what each page asks the services for (filters, pages, Idempotency-Key), and what it shows of the
answers (the appeal queue's SLA countdown, a failing service's own section, replay buttons)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.backend import Services
from services.console.i18n import countdown, translator
from services.console.oidc import session_from_tokens
from services.console.session import COOKIE, SessionCodec
from services.console.settings import ConsoleSettings

KEY = Fernet.generate_key().decode()
Answer = Callable[[httpx.Request], httpx.Response]


@dataclass
class Stand:
    """The four services as one transport: answers by (method, service, path), and what was asked."""

    answers: dict[tuple[str, str, str], Answer] = field(default_factory=dict)
    asked: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, service: str, path: str, answer: Any, status: int = 200) -> None:
        self.answers[(method, service, path)] = (
            answer if callable(answer) else lambda _: httpx.Response(status, json=answer)
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        service = {8001: "orders", 8002: "supervision", 8003: "notification", 8004: "partner"}[
            request.url.port or 0
        ]
        answer = self.answers.get((request.method, service, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"detail": {"code": "not_found", "message": "no such thing"}})
        return answer(request)

    def query(self, path: str) -> dict[str, list[str]]:
        [request] = [r for r in self.asked if r.url.path == path]
        return parse_qs(request.url.query.decode())


def cookies_for(role: str, sub: str) -> dict[str, str]:
    access = jwt.encode({"sub": sub, "realm_access": {"roles": [role]}}, "k" * 32, algorithm="HS256")
    session = {**session_from_tokens({"access_token": access, "expires_in": 600}, "realm_access.roles")}
    session["csrf"] = "c1"
    return {f"{COOKIE}.{i}": c for i, c in enumerate(SessionCodec(KEY, 3600).encode(session))}


@pytest.fixture
def stand() -> Stand:
    return Stand()


@pytest.fixture
def as_role(stand: Stand) -> Iterator[Callable[[str, str], TestClient]]:
    settings = ConsoleSettings(
        SUITE_ENV="dev", OIDC_ISSUER_URL="http://idp.example/realms/koogallery", session_key=KEY
    )
    clients: list[TestClient] = []

    def make(role: str, sub: str = "u1") -> TestClient:
        client = TestClient(create_app(settings), base_url="http://127.0.0.1:8005")
        client.__enter__()
        client.app.state.services = Services(  # type: ignore[attr-defined]
            settings.service_urls, httpx.AsyncClient(transport=httpx.MockTransport(stand))
        )
        client.cookies.update(cookies_for(role, sub))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def form_key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found, "the form carries its Idempotency-Key"
    return found.group(1)


# --- the SLA countdown ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "en", "zh", "late"),
    [
        (3 * 86400 + 5 * 3600 + 59, "3 d 5 h left", "剩余 3天 5小时", False),
        (86400, "1 d left", "剩余 1天", False),
        (2 * 3600 + 60 * 15, "2 h 15 min left", "剩余 2小时 15分钟", False),
        (59, "1 min left", "剩余 1分钟", False),  # time left is rounded up: not "0 min" with a minute to go
        (0, "0 min left", "剩余 0分钟", False),
        (-1, "overdue by 1 min", "已超时 1分钟", True),
        (-(26 * 3600), "overdue by 1 d 2 h", "已超时 1天 2小时", True),
        (None, "closed", "已结束", False),  # a resolved appeal has no remaining time
    ],
)
def test_the_countdown_says_what_is_left_or_how_late_in_both_locales(
    seconds: int | None, en: str, zh: str, late: bool
) -> None:
    assert countdown(seconds, translator("en-US")) == (en, late)
    assert countdown(seconds, translator("zh-CN")) == (zh, late)


# --- the appeal queue ---------------------------------------------------------------------------------
def queue_row(appeal_id: str, order_id: str, remaining: int | None, assignee: str | None) -> dict[str, Any]:
    return {
        "appeal_id": appeal_id,
        "service_order_id": f"SO-{order_id}",
        "order_id": order_id,
        "raised_by": {"role": "buyer", "account_id": "b1"},
        "reason": f"reason of {order_id}",
        "node": "deliver",
        "raised_at": "2026-11-27T02:00:00Z",
        "due_at": "2026-12-02T16:00:00Z",
        "remaining_seconds": remaining,
        "assignee_account_id": assignee,
        "status": "resolved" if remaining is None else "open",
        "escalated_at": None,
        "resolved_at": None,
    }


def test_the_queue_asks_supervision_with_its_filters_and_shows_each_rows_countdown(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    rows = [
        queue_row("A1", "O1", -7200, None),
        queue_row("A2", "O2", 3 * 86400 + 5 * 3600, "op-1"),
        queue_row("A3", "O3", 600, "op-2"),
    ]
    stand.on("GET", "supervision", "/appeals", {"appeals": rows, "next_cursor": "CUR2"})
    page = as_role("operator", "op-1").get(
        "/operator/appeals",
        params={"status": "open", "overdue": "1", "who": "mine", "due_within_hours": "12"},
    )
    assert page.status_code == 200
    assert stand.query("/appeals") == {
        "status": ["open"],
        "overdue": ["true"],
        "due_within_hours": ["12"],
        "assignee": ["op-1"],  # "mine" is the logged-in operator
    }
    html = page.text
    a1 = html[html.index('data-appeal="A1"') : html.index('data-appeal="A2"')]
    a2 = html[html.index('data-appeal="A2"') : html.index('data-appeal="A3"')]
    a3 = html[html.index('data-appeal="A3"') :]
    assert 'class="overdue"' in a1
    assert "overdue by 2 h" in a1
    assert "Unassigned" in a1
    assert "Assign to me" in a1
    assert "3 d 5 h left" in a2
    assert ">you<" in a2
    assert "Assign to me" not in a2  # already this operator's
    assert "Assign to me" in a3  # another operator's: it can be taken over
    assert 'href="/orders/O1"' in a1  # resolved on its service order's page
    # The next page keeps the filters.
    nxt = re.search(r'href="([^"]+)" rel="next"', html)
    assert nxt
    assert parse_qs(urlsplit(nxt.group(1).replace("&amp;", "&")).query) == {
        "status": ["open"],
        "overdue": ["1"],
        "due_within_hours": ["12"],
        "who": ["mine"],
        "cursor": ["CUR2"],
    }


def test_the_unassigned_filter_and_the_queue_in_chinese(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on(
        "GET", "supervision", "/appeals", {"appeals": [queue_row("A1", "O1", 90, None)], "next_cursor": None}
    )
    client = as_role("operator", "op-1")
    client.cookies.set("koo_lang", "zh-CN")
    html = client.get("/operator/appeals", params={"who": "unassigned"}).text
    assert stand.query("/appeals") == {"unassigned": ["true"]}
    assert "申诉队列" in html
    assert "剩余 2分钟" in html
    assert 'rel="next"' not in html


def test_assign_to_me_posts_with_an_idempotency_key_and_goes_back_to_the_filtered_queue(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on(
        "GET", "supervision", "/appeals", {"appeals": [queue_row("A1", "O1", 600, None)], "next_cursor": None}
    )
    stand.on("POST", "supervision", "/appeals/A1/assign", {"service_order_id": "SO-O1"})
    client = as_role("operator", "op-1")
    key = form_key(client.get("/operator/appeals").text)
    resp = client.post(
        "/operator/appeals/A1/assign",
        params={"back": "/operator/appeals?who=unassigned"},
        data={"csrf": "c1", "key": key},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/operator/appeals?who=unassigned"
    [assign] = [r for r in stand.asked if r.method == "POST"]
    assert assign.headers["idempotency-key"] == f"console:{key}:A1"
    assert assign.content in (b"", b"null")  # no body: supervision assigns it to the caller
    # A back address elsewhere is not followed.
    resp = client.post(
        "/operator/appeals/A1/assign",
        params={"back": "https://evil.example/"},
        data={"csrf": "c1", "key": key},
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/operator/appeals"


def test_a_refused_assignment_says_why_on_the_queue(stand: Stand, as_role: Callable[..., TestClient]) -> None:
    stand.on("GET", "supervision", "/appeals", {"appeals": [], "next_cursor": None})
    stand.on(
        "POST",
        "supervision",
        "/appeals/A9/assign",
        {"detail": {"code": "conflict", "message": "appeal A9 is resolved"}},
        status=409,
    )
    client = as_role("operator", "op-1")
    resp = client.post("/operator/appeals/A9/assign", data={"csrf": "c1"})
    assert resp.status_code == 200
    assert 'role="alert"' in resp.text
    assert "appeal A9 is resolved" in resp.text


# --- service orders ---------------------------------------------------------------------------------------
def listed(order_id: str) -> dict[str, Any]:
    return {
        "service_order_id": f"SO-{order_id}",
        "order_id": order_id,
        "product_id": "P1",
        "product_name": "Cloud migration",
        "delivery_type": "manual_service",
        "amount": "1288.00",
        "currency": "CNY",
        "status": "active",
        "node": "deliver",
        "buyer_account_id": "b1",
        "merchant_account_id": "m1",
        "created_at": "2026-11-30T01:00:00Z",
        "next_deadline": {"kind": "idle", "party": "merchant", "due_at": "2026-12-30T01:00:00Z"},
    }


def test_the_service_orders_filters_are_beijing_days_and_the_end_day_is_included(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on("GET", "supervision", "/service-orders", {"service_orders": [listed("O1")], "next_cursor": "C2"})
    html = (
        as_role("merchant", "m1")
        .get(
            "/service-orders",
            params={
                "status": "active",
                "delivery_type": "manual_service",
                "created_from": "2026-11-01",
                "created_to": "2026-11-30",
            },
        )
        .text
    )
    assert stand.query("/service-orders") == {
        "status": ["active"],
        "delivery_type": ["manual_service"],
        "created_from": ["2026-11-01T00:00:00+08:00"],
        "created_to": ["2026-12-01T00:00:00+08:00"],
        "limit": ["20"],
    }
    assert 'href="/orders/O1"' in html
    assert "Idle limit" in html  # the row's nearest deadline
    assert "2026-12-30 09:00 (UTC+8)" in html
    nxt = re.search(r'href="([^"]+)" rel="next"', html)
    assert nxt
    assert "cursor=C2" in nxt.group(1)
    assert "created_to=2026-11-30" in nxt.group(1)


def test_a_date_that_is_none_is_refused_naming_its_field_without_asking_supervision(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    html = as_role("buyer", "b1").get("/service-orders", params={"created_from": "30/11/2026"}).text
    assert stand.asked == []
    assert 'role="alert"' in html
    assert "<code>created_from</code>" in html


def test_an_order_id_opens_its_service_order(as_role: Callable[..., TestClient]) -> None:
    resp = as_role("operator").get("/service-orders", params={"order_id": " O7 "}, follow_redirects=False)
    assert (resp.status_code, resp.headers["location"]) == (303, "/orders/O7")


# --- product reviews --------------------------------------------------------------------------------------
def test_a_rejection_carries_the_note_and_no_decision_is_refused(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    row = {
        "product_id": "P1",
        "name": "Cloud migration",
        "merchant_account_id": "m1",
        "merchant_name": "ACME",
        "delivery_type": "manual_service",
        "submitted_at": "2026-11-30T01:00:00Z",
    }
    stand.on("GET", "orders", "/operator/product-reviews", {"items": [row], "next_cursor": None})
    stand.on("POST", "orders", "/products/P1/review", {"product_id": "P1", "status": "rejected"})
    client = as_role("operator", "op-1")
    html = client.get("/operator/products").text
    assert "Cloud migration" in html
    assert "ACME" in html
    client.post(
        "/operator/products/P1/review",
        data={"csrf": "c1", "key": form_key(html), "decision": "reject", "note": "no acceptance standard"},
    )
    [posted] = [r for r in stand.asked if r.method == "POST"]
    assert json.loads(posted.content) == {"approve": False, "note": "no acceptance standard"}
    refused = client.post("/operator/products/P1/review", data={"csrf": "c1", "decision": "maybe"})
    assert "<code>decision</code>" in refused.text
    assert len([r for r in stand.asked if r.method == "POST"]) == 1


# --- dead deliveries and dead letters ---------------------------------------------------------------------
def dead_letter(dead_letter_id: str) -> dict[str, Any]:
    return {
        "dead_letter_id": dead_letter_id,
        "topic": "order.paid",
        "consumer_group": "partner",
        "key": "O1",
        "event_id": "E1",
        "event_type": "order.paid",
        "reason": "handler failed",
        "exception": "ValueError",
        "first_seen": "2026-11-30T01:00:00Z",
        "last_seen": "2026-11-30T01:05:00Z",
        "seen": 3,
        "replays": 0,
        "replayed_at": None,
        "replayed_by": None,
    }


def test_each_service_has_its_own_section_and_one_that_fails_hides_only_its_own(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    delivery = {"delivery_id": "D1", "order_id": "O1", "channel": "sms", "message_type": "order.paid"}
    stand.on(
        "GET", "notification", "/operator/deliveries/dead", [{**delivery, "status": "dead", "attempts": 5}]
    )
    stand.on("GET", "partner", "/operator/dead-letters", [dead_letter("DL1")])
    stand.on("GET", "orders", "/operator/dead-letters", [])
    stand.on("GET", "supervision", "/operator/dead-letters", lambda _: httpx.Response(503))
    html = as_role("operator").get("/operator/dead").text
    assert 'action="/operator/deliveries/D1/replay' in html
    assert 'action="/operator/dead-letters/partner/DL1/replay' in html
    supervision = html[html.index('id="dl-supervision"') : html.index('id="dl-partner"')]
    assert 'role="alert"' in supervision
    assert "503" in supervision
    orders = html[html.index('id="dl-orders"') : html.index('id="dl-supervision"')]
    assert "No dead letter." in orders
    asked = [parse_qs(r.url.query.decode()) for r in stand.asked if r.url.path == "/operator/dead-letters"]
    assert asked == [{"not_replayed_only": ["true"]}] * 3


def test_a_replay_goes_to_the_dead_letters_own_service_only(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on("POST", "partner", "/operator/dead-letters/DL1/replay", dead_letter("DL1"))
    client = as_role("operator")
    resp = client.post(
        "/operator/dead-letters/partner/DL1/replay", data={"csrf": "c1", "key": "k1"}, follow_redirects=False
    )
    assert resp.headers["location"] == "/operator/dead"
    [replay] = stand.asked
    assert (replay.url.port, replay.headers["idempotency-key"]) == (8004, "console:k1:partner:DL1")
    assert client.post("/operator/dead-letters/billing/DL1/replay", data={"csrf": "c1"}).status_code == 404
    assert len(stand.asked) == 1


# --- the merchant's endpoint console --------------------------------------------------------------------
def test_only_a_failed_call_has_a_replay_button(stand: Stand, as_role: Callable[..., TestClient]) -> None:
    def call(call_id: str, status: str, ok: bool) -> dict[str, Any]:
        attempt = {"at": "2026-11-30T01:00:00Z", "ok": ok, "status_code": 200 if ok else 500}
        attempt |= {"error": "" if ok else "server_error", "detail": "", "replay": False}
        return {
            "call_id": call_id,
            "kind": "saas.instance.create",
            "order_id": "O1",
            "status": status,
            "created_at": "2026-11-30T01:00:00Z",
            "attempts": [attempt],
            "replays": 0,
        }

    stand.on(
        "GET",
        "partner",
        "/merchants/m1/console",
        {
            "merchant_id": "m1",
            "endpoints": {
                "saas": {
                    "calls": 2,
                    "attempts": 2,
                    "failures": 1,
                    "success_rate": 0.5,
                    "recent": [call("C1", "failed", False), call("C2", "succeeded", True)],
                }
            },
        },
    )
    html = as_role("merchant", "m1").get("/merchant/console").text
    assert "50.0%" in html
    assert 'action="/merchant/calls/C1/replay"' in html
    assert 'action="/merchant/calls/C2/replay"' not in html
    assert "HTTP 500 server_error" in html


def test_the_pages_need_a_login() -> None:
    settings = ConsoleSettings(
        SUITE_ENV="dev", OIDC_ISSUER_URL="http://idp.example/realms/k", session_key=KEY
    )
    with TestClient(create_app(settings)) as client:
        for path in ("/operator/appeals", "/operator/products", "/operator/dead", "/merchant/console"):
            assert client.get(path, follow_redirects=False).headers["location"] == "/login"


def test_the_order_page_tells_the_operator_whose_the_open_appeal_is(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    appeal = {
        "appeal_id": "A1",
        "raised_by_role": "buyer",
        "reason": "no answer",
        "demands": "a refund",
        "attachments": [],
        "respond_by": "2026-12-03T16:00:00Z",
        "assignee_account_id": "op-1",
        "outcome": None,
    }
    so = {
        "service_order_id": "SO-O1",
        "order_id": "O1",
        "status": "frozen",
        "node": None,
        "next_step": None,
        "deadlines": [],
        "open_appeal": appeal,
        "appeals": [appeal],
        "timeline": [],
    }
    stand.on("GET", "supervision", "/service-orders/by-order/O1", so)
    mine = as_role("operator", "op-1").get("/orders/O1").text
    assert re.search(r'data-testid="appeal-assignee">you<', mine)
    assert 'action="/orders/O1/appeals/A1/resolution"' in mine
    theirs = as_role("operator", "op-2").get("/orders/O1").text
    assert re.search(r'data-testid="appeal-assignee"><code>op-1</code><', theirs)
    buyer = as_role("buyer", "b1").get("/orders/O1").text
    assert "appeal-assignee" not in buyer
    assert "/resolution" not in buyer


# --- the buyer: purchased services, refunds, favourites, the message centre ----------------------------
def test_purchased_services_are_filtered_by_orders(stand: Stand, as_role: Callable[..., TestClient]) -> None:
    order = {"order_id": "O1", "status": "processing", "amount": "1288.00", "currency": "CNY"}
    stand.on("GET", "orders", "/purchased-services", [{**order, "product": {"name": "Cloud migration"}}])
    html = as_role("buyer", "b1").get("/buyer/orders", params={"status": "processing", "name": "cloud"}).text
    assert stand.query("/purchased-services") == {"status": ["processing"], "name": ["cloud"]}
    assert "In service" in html
    assert 'href="/orders/O1"' in html


def test_a_refund_request_carries_the_reason_and_the_amount_only_when_given(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on("POST", "orders", "/purchased-services/O1/unsubscribe", {"order_id": "O1"})
    client = as_role("buyer", "b1")
    for amount, body in (
        ("", {"reason": "not what was promised"}),
        (" 100.50 ", {"reason": "not what was promised", "amount": "100.50"}),
    ):
        resp = client.post(
            "/orders/O1/unsubscribe",
            data={"csrf": "c1", "reason": "not what was promised", "amount": amount},
            follow_redirects=False,
        )
        assert resp.headers["location"] == "/orders/O1"
        assert json.loads(stand.asked[-1].content) == body


def test_the_order_page_offers_the_refund_until_one_is_asked_then_shows_it(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    order = {"order_id": "O1", "status": "processing", "amount": "1288.00", "currency": "CNY"}
    order |= {"product": {"name": "Cloud migration"}, "refund": None}
    stand.on("GET", "orders", "/orders/O1", order)
    client = as_role("buyer", "b1")
    assert 'action="/orders/O1/unsubscribe"' in client.get("/orders/O1").text
    refund = {
        "state": "requested",
        "amount": "1288.00",
        "reason": "late",
        "review_by": "2026-12-04T16:00:00Z",
    }
    stand.on("GET", "orders", "/orders/O1", {**order, "refund": refund})
    html = client.get("/orders/O1").text
    assert 'action="/orders/O1/unsubscribe"' not in html
    assert re.search(r'data-testid="refund-state">Requested<', html)
    assert "2026-12-05 00:00 (UTC+8)" in html
    assert 'action="/orders/O1/unsubscribe"' not in as_role("merchant", "m1").get("/orders/O1").text


def test_the_message_centre_adds_a_recipient_and_verifies_its_phone_with_the_code(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    view = {"recipient_id": "R1", "name": "Li", "email": "li@example.com", "phone": "+8613800000001"}
    view |= {"email_verified": True, "phone_verified": False, "categories": [], "active": True}
    stand.on("GET", "notification", "/accounts/b1/recipients", [view])
    stand.on("POST", "notification", "/accounts/b1/recipients", [view], status=201)
    stand.on("POST", "notification", "/accounts/b1/recipients/R1/verify-phone", view)
    client = as_role("buyer", "b1")
    html = client.get("/messages/recipients").text
    assert 'action="/messages/recipients/R1/verify-phone"' in html
    assert re.search(r'data-testid="phone-verified">not verified<', html)
    client.post(
        "/messages/recipients",
        data={"csrf": "c1", "name": " Li ", "email": "li@example.com", "phone": "+8613800000001"},
    )
    added = next(r for r in stand.asked if r.method == "POST" and r.url.path.endswith("/recipients"))
    assert json.loads(added.content) == {
        "recipients": [{"name": "Li", "email": "li@example.com", "phone": "+8613800000001"}]
    }
    client.post("/messages/recipients/R1/verify-phone", data={"csrf": "c1", "code": "123456"})
    assert stand.query("/accounts/b1/recipients/R1/verify-phone") == {"code": ["123456"]}


def test_buying_a_favourite_opens_the_new_orders_page(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on("GET", "orders", "/favourites", [{"product_id": "P1", "added_at": "2026-11-30T01:00:00Z"}])
    stand.on(
        "GET", "orders", "/products/P1", {"product_id": "P1", "name": "Cloud migration", "status": "listed"}
    )
    stand.on("POST", "orders", "/favourites/P1/buy", {"order_id": "O9"}, status=201)
    client = as_role("buyer", "b1")
    html = client.get("/buyer/favourites").text
    assert "Cloud migration" in html
    resp = client.post(
        "/buyer/favourites/P1/buy", data={"csrf": "c1", "key": form_key(html)}, follow_redirects=False
    )
    assert resp.headers["location"] == "/orders/O9"


# --- the provider's selling ---------------------------------------------------------------------------
def test_an_offer_sends_its_products_discount_and_beijing_validity_and_lands_on_its_page(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    offer = {"offer_id": "OF1", "name": "Spring", "status": "manual_handling", "customer_account_id": "b1"}
    offer |= {"product_ids": ["P1", "P2"], "discount": "0.70"}
    offer |= {"valid_from": "2026-11-30T16:00:00Z", "valid_until": "2026-12-31T16:00:00Z"}
    stand.on("POST", "partner", "/offers", offer, status=201)
    stand.on("GET", "partner", "/offers/OF1", offer)
    client = as_role("provider", "pv1")
    form = {"csrf": "c1", "name": "Spring", "customer_account_id": "b1", "product_ids": "P1, P2\nP3"}
    form |= {"discount": "0.70", "valid_from": "2026-12-01", "valid_until": "2026-12-31"}
    resp = client.post("/provider/offers", data=form, follow_redirects=False)
    assert resp.headers["location"] == "/provider/offers/OF1"
    assert json.loads(stand.asked[-1].content) == {
        "name": "Spring",
        "customer_account_id": "b1",
        "product_ids": ["P1", "P2", "P3"],
        "discount": "0.70",
        "valid_from": "2026-12-01T00:00:00+08:00",
        "valid_until": "2027-01-01T00:00:00+08:00",
    }
    html = client.get("/provider/offers/OF1").text
    assert re.search(r'data-testid="offer-status">Waiting for an operator&#39;s approval<', html)
    assert 'action="/provider/offers/OF1/withdraw"' in html


def test_a_private_link_is_shown_once_after_it_is_made(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    claims = {"link_id": "L1", "product_id": "P1", "customer_account_id": "b1", "provider_id": "pv1"}
    claims |= {"expires_at": "2026-12-30T01:00:00Z", "offer_id": None, "discount": None}
    stand.on(
        "POST", "partner", "/providers/pv1/private-links", {"token": "tok.en.sig", "claims": claims}, 201
    )
    client = as_role("provider", "pv1")
    client.post(
        "/provider/private-links",
        data={"csrf": "c1", "product_id": "P1", "customer_account_id": "b1", "offer_id": "", "days": "7"},
    )
    [posted] = [r for r in stand.asked if r.method == "POST"]
    assert json.loads(posted.content) == {
        "product_id": "P1",
        "customer_account_id": "b1",
        "offer_id": None,
        "ttl_seconds": 7 * 86400,
    }
    assert "tok.en.sig" not in client.get("/provider/selling").text  # shown on the redirect only
    refused = client.post("/provider/private-links", data={"csrf": "c1", "product_id": "P1", "days": "0"})
    assert "<code>days</code>" in refused.text
    assert len([r for r in stand.asked if r.method == "POST"]) == 1  # refused before asking partner


def test_the_made_link_is_on_the_page_the_post_lands_on(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    claims = {"link_id": "L1", "product_id": "P1", "customer_account_id": None, "expires_at": None}
    stand.on(
        "POST", "partner", "/providers/pv1/private-links", {"token": "tok.en.sig", "claims": claims}, 201
    )
    landed = as_role("provider", "pv1").post(
        "/provider/private-links", data={"csrf": "c1", "product_id": "P1"}
    )
    assert landed.url.path == "/provider/selling"
    assert re.search(r'data-testid="link-token">tok.en.sig<', landed.text)


def test_the_merchant_agrees_to_a_refund_with_its_agreed_record(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    refund = {
        "refund_id": "R1",
        "state": "requested",
        "amount": "100.00",
        "reason": "late",
        "review_by": None,
    }
    order = {"order_id": "O1", "status": "processing", "amount": "1288.00", "currency": "CNY"}
    order |= {"product": {"name": "Cloud migration"}, "refund": refund}
    stand.on("GET", "orders", "/orders/O1", order)
    stand.on("POST", "orders", "/orders/O1/refunds/R1/decision", order)
    client = as_role("merchant", "m1")
    html = client.get("/orders/O1").text
    assert 'action="/orders/O1/refunds/R1/decision"' in html
    assert "refunds/R1/decision" not in as_role("buyer", "b1").get("/orders/O1").text
    form = {"csrf": "c1", "decision": "approve", "agreed_record": " call notes 30 Nov ", "opinion": ""}
    client.post("/orders/O1/refunds/R1/decision", data=form)
    decided = next(r for r in stand.asked if r.method == "POST")
    assert json.loads(decided.content) == {
        "approve": True,
        "opinion": "",
        "agreed_record": {"kind": "document", "ref": "call notes 30 Nov"},
    }


# --- the provider's offers and demands, the operators' offer approvals (issue 15) --------------------------
def listed_offer(offer_id: str, status: str) -> dict[str, Any]:
    return {
        "offer_id": offer_id,
        "name": f"Offer {offer_id}",
        "issuer_id": "pv1",
        "provider_id": "pv1",
        "customer_account_id": "b1",
        "product_ids": ["P1", "P2"],
        "discount": "0.30",
        "valid_from": "2026-11-30T16:00:00Z",
        "valid_until": "2026-12-31T16:00:00Z",
        "status": status,
    }


def test_the_selling_page_lists_the_providers_offers_and_demands_with_their_pages(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    offers = [listed_offer("OF2", "manual_handling"), listed_offer("OF1", "effective")]
    stand.on("GET", "partner", "/offers", {"items": offers, "next_cursor": "c-of"})
    demand = {"demand_id": "DM1", "provider_id": "pv1", "merchant_id": "m1", "customer_account_id": "b1"}
    demand |= {"product_id": "P1", "status": "offered", "offer_id": "OF1"}
    stand.on("GET", "partner", "/demands", {"items": [demand], "next_cursor": None})
    client = as_role("provider", "pv1")
    html = client.get("/provider/selling", params={"demands_cursor": "c-dm"}).text
    assert stand.query("/offers") == {}
    assert stand.query("/demands") == {"cursor": ["c-dm"]}
    rows = re.findall(r'<tr data-offer="(\w+)">.*?</tr>', html, re.S)
    assert rows == ["OF2", "OF1"]  # as partner gives them: newest first
    assert '<a href="/provider/offers/OF2">OF2</a>' in html
    assert "Waiting for an operator&#39;s approval" in html
    assert '<a href="/provider/demands/DM1">DM1</a>' in html
    assert re.search(r'<tr data-demand="DM1">.*?Offered.*?/provider/offers/OF1', html, re.S)
    # the next page of offers keeps the demands' page
    assert 'href="/provider/selling?offers_cursor=c-of&amp;demands_cursor=c-dm" rel="next"' in html
    client.cookies.set("koo_lang", "zh-CN")
    html = client.get("/provider/selling").text
    assert "我的报价" in html
    assert "待运营特批" in html
    assert "已报价" in html


def test_a_list_partner_refuses_says_so_in_its_own_section_only(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on("GET", "partner", "/offers", {"detail": {"code": "invalid", "message": "bad cursor"}}, 422)
    stand.on("GET", "partner", "/demands", {"items": [], "next_cursor": None})
    html = as_role("provider", "pv1").get("/provider/selling").text
    assert "bad cursor" in html
    assert "No demand filed yet." in html
    assert "No offer yet." not in html
    assert 'action="/provider/offers"' in html  # the forms still work


def test_operators_approve_or_reject_the_offers_waiting_in_manual_handling(
    stand: Stand, as_role: Callable[..., TestClient]
) -> None:
    stand.on(
        "GET", "partner", "/offers", {"items": [listed_offer("OF2", "manual_handling")], "next_cursor": "n"}
    )
    stand.on("POST", "partner", "/offers/OF2/approve", listed_offer("OF2", "effective"))
    stand.on("POST", "partner", "/offers/OF2/reject", listed_offer("OF2", "rejected"))
    client = as_role("operator", "op-1")
    home = client.get("/operator/offers").text
    assert 'href="/operator/offers"' in home  # in the operators' menu
    assert stand.query("/offers") == {"status": ["manual_handling"]}
    assert "Offer OF2" in home
    assert "0.30" in home
    assert 'href="/operator/offers?cursor=n" rel="next"' in home
    key = form_key(home)

    refused = client.post(
        "/operator/offers/OF2/decision", data={"csrf": "c1", "key": key, "decision": "reject"}
    )
    assert "<code>note</code>" in refused.text
    assert not [r for r in stand.asked if r.method == "POST"]  # a rejection without a reason is not sent

    resp = client.post(
        "/operator/offers/OF2/decision",
        data={"csrf": "c1", "key": key, "decision": "reject", "note": " too deep "},
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/operator/offers"
    client.post("/operator/offers/OF2/decision", data={"csrf": "c1", "key": key, "decision": "approve"})
    posted = [r for r in stand.asked if r.method == "POST"]
    assert [(r.url.path, json.loads(r.content)) for r in posted] == [
        ("/offers/OF2/reject", {"note": "too deep"}),
        ("/offers/OF2/approve", {"note": ""}),
    ]
    assert posted[0].headers["idempotency-key"] == f"console:{key}:OF2"
    maybe = client.post("/operator/offers/OF2/decision", data={"csrf": "c1", "decision": "maybe"})
    assert "<code>decision</code>" in maybe.text
    client.cookies.set("koo_lang", "zh-CN")
    assert "待运营特批的报价" in client.get("/operator/offers").text
