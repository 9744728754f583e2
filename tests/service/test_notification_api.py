"""notification's HTTP routes with tokens: 401 without one, 403 naming the rule for another account's inbox,
recipients and deliveries and for a non-operator at the operator desk, the owner and operators served, and
request validation at the edge (422 naming the field).

The app is the service's own (`create_app`, every route it serves), without its lifespan: the use cases (the
message centre, the inbox's marks, the export, replays and provider callbacks) run on the in-memory unit of work;
the read side is a recording stub.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from services.notification.app import create_app
from services.notification.catalogue import Channel
from services.notification.centre_service import AddRecipients, add_recipients
from services.notification.deps import Deps
from services.notification.domain import Delivery, DeliveryStatus
from services.notification.inbox import InboxMessage
from services.notification.providers import providers
from services.notification.queries import InboxPage
from services.notification.settings import NotificationSettings
from services.notification.store import fake_uow
from shared.platform.audit import MemoryAuditLog
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from tests import tokens
from tests.service.rig import FAST, Counter

AUD = "koo-notification"
OWNER, OTHER, OPERATOR = "acc-owner", "acc-other", "op-1"
EXEMPT = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/asyncapi.json",
    "/verify/email",
    "/callbacks/sms/{delivery_id}",
}
SAMPLE = {
    "account_id": OWNER,
    "message_id": "m1",
    "delivery_id": "d1",
    "recipient_id": "rcp-1",
    "dead_letter_id": "dl-1",
}


def bearer(sub: str, *roles: str) -> dict[str, str]:
    return tokens.bearer(sub, *roles, audience=AUD)


class Recorder:
    """The read side: records who was served, answers with empty data."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        answers: dict[str, Any] = {
            "inbox": InboxPage(total=0, unread=0, items=[]),
            "unread": 0,
            "deliveries": [],
            "reminders": [],
            "recipients": [],
            "dead": [],
        }
        if name not in answers:
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            return answers[name]

        return call


def settings(**extra: Any) -> NotificationSettings:
    return NotificationSettings(
        **FAST,
        environment="dev",
        oidc_issuer_url=tokens.ISSUER,
        public_base_url="http://notify.test",
        **extra,
    )


def service_app(state: FakeState) -> FastAPI:
    s = settings()
    app = create_app(s)
    app.state.verifier = tokens.verifier(AUD)  # the test key instead of the issuer's JWKS
    app.state.audit = MemoryAuditLog("notification")
    email, sms, _ = providers(s)
    app.state.notification = Deps(
        UnitOfWorkFactory(fake_uow(state)),
        Counter(),
        clock=lambda: datetime(2026, 3, 1, 10, tzinfo=UTC),
        settings=s,
    )
    app.state.queries = Recorder()
    app.state.dispatcher = SimpleNamespace(email=email, sms=sms)
    return app


def delivery(delivery_id: str, account_id: str, channel: Channel, status: DeliveryStatus) -> dict[str, Any]:
    now = datetime.now(UTC)
    return Delivery(
        delivery_id=delivery_id,
        event_id="e1",
        event_type="order.paid",
        order_id="CS-1",
        account_id=account_id,
        message_type="order_paid",
        category="creation_activation",
        channel=channel,
        address="+8613900000001",
        title="t",
        body="b",
        status=status,
        next_attempt_at=now,
        created_at=now,
    ).model_dump()


@pytest.fixture
def state() -> FakeState:
    """The owner's in-site message `m1`, and a dead SMS delivery `d1`."""
    s = FakeState()
    s.table("inbox")["m1"] = InboxMessage(
        message_id="m1",
        account_id=OWNER,
        category="supervision",
        title="t",
        body="b",
        created_at=datetime.now(UTC),
    ).model_dump()
    s.table("deliveries")["d1"] = delivery("d1", OWNER, Channel.SMS, DeliveryStatus.DEAD)
    return s


@pytest.fixture
def app(state: FakeState) -> FastAPI:
    return service_app(state)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify.test") as c:
        yield c


def routes(app: FastAPI, prefix: str = "/") -> list[tuple[str, str]]:
    """Every (method, path) the service publishes in its OpenAPI document, path parameters filled in."""
    out = []
    for template, ops in app.openapi()["paths"].items():
        if template in EXEMPT or not template.startswith(prefix):
            continue
        for method in ops:
            out.append((method.upper(), template.format(**SAMPLE)))
    return out


async def test_every_route_but_the_exempt_ones_refuses_a_call_without_a_token(
    app: FastAPI, http: httpx.AsyncClient, state: FakeState
) -> None:
    before = copy.deepcopy(state.tables)
    walked = routes(app)
    assert len(walked) >= 18  # inbox, deliveries, reminders, export, recipients, operator desk, audit log
    for method, path in walked:
        for headers in ({}, {"X-Account-Id": OWNER}, {"Authorization": "Bearer not-a-jwt"}):
            resp = await http.request(method, path, headers=headers)
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    assert app.state.queries.calls == []
    assert state.tables == before  # no use case ran


async def test_another_accounts_inbox_recipients_deliveries_and_export_are_refused(
    app: FastAPI, http: httpx.AsyncClient, state: FakeState
) -> None:
    before = copy.deepcopy(state.tables)
    walked = routes(app, "/accounts/")
    assert {p for _, p in walked} >= {
        f"/accounts/{OWNER}/{x}" for x in ("inbox", "deliveries", "recipients", "reminders", "export")
    }
    for role in ("buyer", "merchant", "provider", "operator"):  # operators too: an inbox is its owner's
        for method, path in walked:
            resp = await http.request(method, path, headers=bearer(OTHER, role))
            assert resp.status_code == 403, (role, method, path, resp.text)
            assert resp.json()["detail"]["rule"] == "own_account_only"
    assert app.state.queries.calls == []
    assert state.tables == before  # no use case ran


async def test_a_token_without_a_marketplace_role_has_no_inbox(http: httpx.AsyncClient) -> None:
    resp = await http.get(f"/accounts/{OWNER}/inbox", headers=bearer(OWNER, "payment-system"))
    assert resp.status_code == 403
    assert resp.json()["detail"]["rule"] == "marketplace_accounts_only"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/inbox"),
        ("GET", "/inbox/unread-count"),
        ("GET", "/deliveries"),
        ("GET", "/reminders"),
        ("GET", "/recipients"),
    ],
)
async def test_the_owner_is_served_its_own(
    app: FastAPI, http: httpx.AsyncClient, method: str, path: str
) -> None:
    resp = await http.request(method, f"/accounts/{OWNER}{path}", headers=bearer(OWNER, "merchant"))
    assert resp.status_code in (200, 204), resp.text
    [(_, args)] = app.state.queries.calls
    assert args[0] == OWNER  # the read side is asked for the path's account, which is the token's


@pytest.mark.parametrize(
    ("method", "path", "marked"),
    [("POST", "/inbox/m1/read", 1), ("POST", "/inbox/read-all", 1), ("DELETE", "/inbox/m1", None)],
)
async def test_the_owner_changes_its_own_inbox(
    state: FakeState, http: httpx.AsyncClient, method: str, path: str, marked: int | None
) -> None:
    resp = await http.request(method, f"/accounts/{OWNER}{path}", headers=bearer(OWNER, "merchant"))
    assert resp.status_code in (200, 204), resp.text
    if marked is None:
        assert "m1" not in state.table("inbox")
    else:
        assert resp.json() == {"marked": marked}
        assert state.table("inbox")["m1"]["read"] is True


async def test_a_message_not_in_the_inbox_is_not_found(state: FakeState, http: httpx.AsyncClient) -> None:
    state.table("inbox")["m2"] = {**state.table("inbox")["m1"], "message_id": "m2", "account_id": OTHER}
    for method, path in (("POST", "/inbox/m2/read"), ("DELETE", "/inbox/m2"), ("POST", "/inbox/m3/read")):
        resp = await http.request(method, f"/accounts/{OWNER}{path}", headers=bearer(OWNER, "merchant"))
        assert resp.status_code == 404, (method, path, resp.text)
    assert state.table("inbox")["m2"]["read"] is False  # another account's message stays as it was


async def test_the_owner_manages_its_recipients_and_exports_them(
    state: FakeState, http: httpx.AsyncClient
) -> None:
    mine = bearer(OWNER, "merchant")
    added = await http.post(
        f"/accounts/{OWNER}/recipients",
        headers=mine,
        json={
            "recipients": [
                {
                    "name": "ops",
                    "email": "ops@example.com",
                    "phone": "+8613900000001",
                    "categories": ["appeal"],
                }
            ]
        },
    )
    assert added.status_code == 201, added.text
    [r] = added.json()
    assert (r["account_id"], r["active"]) == (OWNER, False)
    resent = await http.post(f"/accounts/{OWNER}/recipients/{r['recipient_id']}/resend", headers=mine)
    assert resent.status_code == 200
    assert (
        state.table("recipient_changes")[f"{OWNER}|2026-03-01"]["count"] == 2
    )  # the addition and the resend
    stranger = await http.post(
        f"/accounts/{OTHER}/recipients/{r['recipient_id']}/resend", headers=bearer(OTHER, "merchant")
    )
    assert stranger.status_code == 404  # its own path, someone else's recipient: reported absent
    exported = await http.get(f"/accounts/{OWNER}/export", headers=mine)
    assert exported.status_code == 200
    body = exported.json()
    assert [x["email"] for x in body["recipients"]] == ["ops@example.com"]
    assert body["delivery_addresses"] == {"email": ["ops@example.com"], "sms": ["+8613900000001"]}
    assert "phone_code_hash" not in str(body)
    assert "email_token_hash" not in str(body)
    deleted = await http.delete(f"/accounts/{OWNER}/recipients/{r['recipient_id']}", headers=mine)
    assert deleted.status_code == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/operator/deliveries/dead"),
        ("POST", "/operator/deliveries/d1/replay"),
        ("GET", "/operator/providers"),
        ("GET", "/operator/audit"),
    ],
)
async def test_the_operator_desk_is_for_operators_only(
    app: FastAPI, http: httpx.AsyncClient, state: FakeState, method: str, path: str
) -> None:
    for role in ("buyer", "merchant", "provider"):
        refused = await http.request(method, path, headers=bearer(OPERATOR, role))
        assert refused.status_code == 403
        assert refused.json()["detail"]["rule"] == "operators_only"
    assert app.state.queries.calls == []
    assert state.table("deliveries")["d1"]["status"] == DeliveryStatus.DEAD  # nothing replayed
    served = await http.request(method, path, headers=bearer(OPERATOR, "operator"))
    assert served.status_code == 200, served.text


async def test_an_operators_replay_is_recorded_with_its_account_and_in_the_audit_log(
    app: FastAPI, http: httpx.AsyncClient, state: FakeState
) -> None:
    resp = await http.post("/operator/deliveries/d1/replay", headers=bearer(OPERATOR, "operator"))
    assert resp.json() == {"delivery_id": "d1", "status": "pending"}
    replayed = state.table("deliveries")["d1"]
    assert (replayed["status"], replayed["replays"]) == (DeliveryStatus.PENDING, 1)
    assert replayed["trace"][-1].startswith(f"replayed by operator {OPERATOR} at ")
    [record] = app.state.audit.rows.values()
    assert (record.actor_account_id, record.action, record.outcome) == (
        OPERATOR,
        "POST /operator/deliveries/{delivery_id}/replay",
        "allowed",
    )
    providers_view = (await http.get("/operator/providers", headers=bearer(OPERATOR, "operator"))).json()
    assert set(providers_view) == {"email", "sms"}


async def test_the_twilio_callback_needs_the_providers_signature_not_a_token(
    http: httpx.AsyncClient, state: FakeState
) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    unsigned = await http.post("/callbacks/sms/d1", data=form)
    assert unsigned.status_code == 403
    assert unsigned.json()["detail"]["rule"] == "twilio_signature"
    forged = await http.post(
        "/callbacks/sms/d1",
        data=form,
        headers={
            "X-Twilio-Signature": RequestValidator("not-our-token").compute_signature(
                "http://notify.test/callbacks/sms/d1", form
            )
        },
    )
    assert forged.status_code == 403
    assert state.table("deliveries")["d1"]["provider_status"] is None
    signed = await http.post(
        "/callbacks/sms/d1",
        data=form,
        headers={
            "X-Twilio-Signature": RequestValidator("dev-token").compute_signature(
                "http://notify.test/callbacks/sms/d1", form
            )
        },
    )
    assert signed.status_code == 204
    recorded = state.table("deliveries")["d1"]
    assert (recorded["provider_status"], recorded["provider_ref"]) == ("delivered", "SM1")


async def test_the_email_verification_link_needs_no_token(
    state: FakeState, app: FastAPI, http: httpx.AsyncClient
) -> None:
    [r] = await add_recipients(
        app.state.notification,
        OWNER,
        AddRecipients.model_validate(
            {"recipients": [{"name": "ops", "email": "ops@example.com", "phone": "+8613900000001"}]}
        ),
    )
    [mail] = [d for d in state.table("deliveries").values() if d["channel"] == "email"]
    token = mail["body"].split("token=")[1].split()[0]
    assert (
        await http.get("/verify/email", params={"token": f"{r.recipient_id}.wrong-secret"})
    ).status_code == 422
    resp = await http.get("/verify/email", params={"token": token})
    assert resp.json() == {"email_verified": True, "active": False}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/inbox", {"params": {"limit": 101}}, "limit"),
        ("GET", "/inbox", {"params": {"category": "x" * 65}}, "category"),
        ("GET", "/deliveries", {"params": {"limit": 0}}, "limit"),
        ("GET", "/deliveries", {"params": {"order_id": "o" * 65}}, "order_id"),
        ("GET", "/reminders", {"params": {"limit": 101}}, "limit"),
        ("GET", "/recipients", {"params": {"limit": 501}}, "limit"),
        ("GET", "/deliveries/" + "d" * 65, {}, "delivery_id"),
        ("POST", "/inbox/a%20b/read", {}, "message_id"),
        (
            "POST",
            "/recipients",
            {
                "json": {
                    "recipients": [
                        {
                            "name": "x",
                            "email": "a@example.com",
                            "phone": "+8613900000001",
                            "categories": ["x" * 65],
                        }
                    ]
                }
            },
            "categories",
        ),
        (
            "POST",
            "/recipients",
            {
                "json": {
                    "recipients": [
                        {
                            "name": "x",
                            "email": "a@example.com",
                            "phone": "+8613900000001",
                            "categories": ["appeal"] * 51,
                        }
                    ]
                }
            },
            "categories",
        ),
        (
            "POST",
            "/recipients",
            {
                "json": {
                    "recipients": [{"name": "x" * 65, "email": "a@example.com", "phone": "+8613900000001"}]
                }
            },
            "name",
        ),
        (
            "POST",
            "/recipients",
            {"json": {"recipients": [{"name": "a\nb", "email": "a@example.com", "phone": "+8613900000001"}]}},
            "name",
        ),
        (
            "POST",
            "/recipients",
            {"json": {"recipients": [{"name": "x", "email": "a@example.com", "phone": "1" * 300}]}},
            "phone",
        ),
        ("PATCH", "/recipients/rcp-1", {"json": {"categories": ["Not A Key"]}}, "categories"),
        ("POST", "/recipients/rcp-1/verify-phone", {"params": {"code": "12345"}}, "code"),
    ],
)
async def test_requests_are_validated_at_the_edge(
    http: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    resp = await http.request(method, f"/accounts/{OWNER}{path}", headers=bearer(OWNER, "buyer"), **kwargs)
    assert resp.status_code == 422, resp.text
    assert any(field in [str(p) for p in e["loc"]] for e in resp.json()["detail"]), resp.text


async def test_operator_list_and_path_bounds(http: httpx.AsyncClient) -> None:
    op = bearer(OPERATOR, "operator")
    assert (await http.get("/operator/deliveries/dead", params={"limit": 501}, headers=op)).status_code == 422
    assert (await http.get(f"/accounts/{'a' * 129}/inbox", headers=op)).status_code == 422
    assert (await http.get("/verify/email", params={"token": "short"})).status_code == 422


@pytest.mark.parametrize("role", ["buyer", "merchant", "provider", "operator"])
async def test_every_role_reads_the_message_types_with_their_category_and_channels(
    http: httpx.AsyncClient, role: str
) -> None:
    resp = await http.get("/message-types", headers=bearer(OTHER, role))
    assert resp.status_code == 200, resp.text
    listed = {t["key"]: t for t in resp.json()}
    assert listed["product_frozen"] == {
        "key": "product_frozen",
        "category": "om_reminder",
        "category_code": "501",
        "channels": ["in_site", "email", "sms"],
        "mandatory": True,
        "title": {"en-US": "Product trading frozen", "zh-CN": "商品冻结交易"},
    }
    assert listed["statement_status"]["channels"] == ["in_site", "email"]
    assert listed["listing_review_result"]["channels"] == ["in_site", "sms"]
    assert listed["order_paid"]["category_code"] == "101"  # the existing types are listed too


async def test_the_message_types_need_a_marketplace_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/message-types")).status_code == 401
    resp = await http.get("/message-types", headers=bearer(OWNER, "payment-system"))
    assert resp.status_code == 403
    assert resp.json()["detail"]["rule"] == "marketplace_accounts_only"
