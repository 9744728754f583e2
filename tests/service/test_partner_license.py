"""License products on partner's real subscribers and routes over in-memory fakes (dossier §2.2): order.paid →
codes; the buyer's list; the signed open API (activate → license.activated, query, heartbeat, refusals); the
validity from order.status_changed (freeze, unfreeze by renewal, release); unsubscribe; License 1.0 identifiers
and getLicense; and supervision passing the activation node on license.activated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.partner import api_license, signing
from services.partner.calls import MerchantCall, MerchantEndpoint, RetryTimes
from services.partner.deps import Deps
from services.partner.merchant import CallRunner
from services.partner.queries import PartnerQueries
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.partner.store import fake_uow
from services.supervision import flow_cases
from services.supervision.commands import ActionRequest
from services.supervision.license_activation import on_license_activated
from services.supervision.service_order import ServiceOrder
from services.supervision.services import SupervisionService
from shared.platform.audit import MemoryAuditLog
from shared.platform.auth import Principal
from shared.platform.errors import NotYetKnown
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    DeliveryType,
    LicenseActivated,
    LicenseActivatedPayload,
    MerchantCallFailed,
    MilestoneConfirmed,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    OrderType,
    Parties,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
)
from tests import tokens
from tests.factories import order_paid, parties, rid
from tests.service.rig import FAST, Rig

AUD = "koo-partner"
KEY = "merchant-ak-0001"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class Licensing:
    """Partner's event handlers and License routes on one fake state, with a clock the test moves."""

    def __init__(self) -> None:
        self.state, self.clock = FakeState(), Clock()
        uow = UnitOfWorkFactory(fake_uow(self.state))
        self.service = PartnerService(uow, self.clock)
        self.app = FastAPI()
        self.app.include_router(api_license.router)
        self.app.state.deps = Deps(uow, PartnerSettings(**FAST), self.clock)
        self.app.state.queries = PartnerQueries(self.state.collections())
        install_security(self.app, tokens.verifier(AUD), MemoryAuditLog("partner"))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://partner")

    def merchant(self, merchant_id: str) -> None:
        self.state.table("merchant_endpoints")[merchant_id] = MerchantEndpoint(
            merchant_id=merchant_id, production_url="https://isv.example", access_key=KEY, public_key_pem="-"
        ).model_dump()

    async def paid(
        self, p: Parties, quantity: int = 1, kind: DeliveryType = DeliveryType.LICENSE_CODE
    ) -> OrderPaid:
        event = order_paid(p, delivery_type=kind, ratio=None)
        event = event.model_copy(update={"payload": event.payload.model_copy(update={"quantity": quantity})})
        await self.service.handle(event)
        self.merchant(p.merchant_account_id)
        return event

    def codes(self, order_id: str) -> list[dict[str, Any]]:
        rows = [
            {"code": k, **v} for k, v in self.state.table("licenses").items() if v["order_id"] == order_id
        ]
        return sorted(rows, key=lambda r: r["seq"])

    async def open(
        self,
        path: str,
        merchant: str,
        body: dict[str, Any],
        key: str = KEY,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = json.dumps(body).encode()
        signed = {"x-merchant-id": merchant, **signing.sign_headers(key, raw), **(headers or {})}
        return await self.http.post(f"/open/license/{path}", content=raw, headers=signed)

    async def buyer(self, method: str, path: str, who: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=tokens.bearer(who, "buyer", audience=AUD), **kw)


@pytest.fixture
def lic() -> Licensing:
    return Licensing()


def status_changed(paid: OrderPaid, ends: datetime, order_type: OrderType = "new") -> OrderStatusChanged:
    p = paid.payload
    return OrderStatusChanged(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=p.order_id,
        payload=OrderStatusChangedPayload(
            order_id=p.order_id,
            order_type=order_type,
            from_status=OrderStatus.PROCESSING,
            to_status=OrderStatus.COMPLETED,
            reason="accepted",
            parties=p.parties,
            amount=p.amount,
            validity_starts_at=ends - timedelta(days=30),
            validity_ends_at=ends,
            changed_at=ends - timedelta(days=30),
        ),
    )


def renewal_of(paid: OrderPaid) -> OrderPaid:
    event = order_paid(paid.payload.parties, delivery_type=DeliveryType.LICENSE_CODE, ratio=None)
    payload = event.payload.model_copy(update={"order_type": "renewal", "original_order_id": paid.order_id})
    return event.model_copy(update={"payload": payload})


# --- order.paid → codes -------------------------------------------------------------------------------------
async def test_a_paid_license_order_gets_one_code_per_resource_once(lic: Licensing) -> None:
    paid = await lic.paid(parties(), quantity=3)
    await lic.service.handle(paid)  # redelivered: nothing new
    codes = lic.codes(paid.payload.order_id)
    assert [c["seq"] for c in codes] == [1, 2, 3]
    assert len({c["code"] for c in codes}) == 3


async def test_the_buyer_lists_its_codes_and_nobody_else_does(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p, quantity=2)
    resp = await lic.buyer("GET", f"/licenses?order_id={paid.order_id}", p.buyer_account_id)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [c["code"] for c in body["codes"]] == [c["code"] for c in lic.codes(paid.payload.order_id)]
    assert {c["status"] for c in body["codes"]} == {"issued"}
    stranger = await lic.buyer("GET", f"/licenses?order_id={paid.order_id}", rid("buyer"))
    assert stranger.status_code == 403
    assert (await lic.http.get(f"/licenses?order_id={paid.order_id}")).status_code == 401


# --- the open API -------------------------------------------------------------------------------------------
async def test_a_signed_activation_binds_the_code_and_emits_license_activated_once(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p)
    [row] = lic.codes(paid.payload.order_id)
    for _ in range(2):
        resp = await lic.open(
            "activate", p.merchant_account_id, {"code": row["code"].lower(), "device_id": "d1"}
        )
        assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["resultCode"] == "MKT.0000"
    assert body["status"] == "active"
    # the answer is signed for the merchant's software
    signing.verify(KEY, dict(resp.headers), resp.content)
    [event] = [e for e in lic.state.outbox if isinstance(e, LicenseActivated)]
    assert event.payload.order_id == paid.order_id
    assert event.payload.activated_at == lic.clock.now
    assert event.payload.parties == p
    assert row["code"] not in event.model_dump_json()  # the code is a credential; events carry its reference


async def test_refusals_of_the_open_api(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p)
    [row] = lic.codes(paid.payload.order_id)
    m, code = p.merchant_account_id, row["code"]
    forged = await lic.open("query", m, {"code": code}, key="not-the-merchants-key")
    assert (forged.status_code, forged.json()["resultCode"]) == (401, "MKT.0102")
    unsigned = await lic.http.post("/open/license/query", json={"code": code}, headers={"x-merchant-id": m})
    assert (unsigned.status_code, unsigned.json()["resultCode"]) == (401, "MKT.0102")
    unknown = await lic.open("query", rid("merchant"), {"code": code})
    assert (unknown.status_code, unknown.json()["resultCode"]) == (401, "MKT.0150")
    other = rid("merchant")
    lic.merchant(other)
    theirs = await lic.open("query", other, {"code": code})
    assert (theirs.status_code, theirs.json()["resultCode"]) == (404, "LIC.0101")
    typo = await lic.open("query", m, {"code": code[:-1] + ("0" if code[-1] != "0" else "1")})
    assert (typo.status_code, typo.json()["field"]) == (422, "code")
    missing = await lic.open("activate", m, {"code": code})
    assert (missing.status_code, missing.json()["field"]) == (422, "device_id")
    raw = json.dumps({"code": code}).encode()
    once = {"x-merchant-id": m, **signing.sign_headers(KEY, raw)}
    assert (await lic.http.post("/open/license/query", content=raw, headers=once)).status_code == 200
    again = await lic.http.post("/open/license/query", content=raw, headers=once)
    assert (again.status_code, again.json()["resultCode"]) == (401, "MKT.0102")
    assert "replayed" in again.json()["resultMsg"]


async def test_heartbeat_records_usage_and_reports_the_state(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p)
    [row] = lic.codes(paid.payload.order_id)
    m = p.merchant_account_id
    early = await lic.open("heartbeat", m, {"code": row["code"], "device_id": "d1"})
    assert (early.status_code, early.json()["resultCode"]) == (409, "LIC.0105")
    await lic.open("activate", m, {"code": row["code"], "device_id": "d1"})
    lic.clock.now += timedelta(minutes=5)
    beat = await lic.open("heartbeat", m, {"code": row["code"], "device_id": "d1", "usage": {"users": "4"}})
    assert beat.status_code == 200, beat.text
    assert beat.json()["lastSeenAt"] == lic.clock.now.isoformat()
    [stored] = lic.codes(paid.payload.order_id)
    assert (stored["heartbeats"], stored["usage"]) == (1, {"users": "4"})


# --- validity, renewal, unsubscribe -------------------------------------------------------------------------
async def test_frozen_at_expiry_unfrozen_by_a_renewal_within_the_grace_period(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p)
    [row] = lic.codes(paid.payload.order_id)
    m, ends = p.merchant_account_id, lic.clock.now + timedelta(days=30)
    await lic.open("activate", m, {"code": row["code"], "device_id": "d1"})
    await lic.service.handle(status_changed(paid, ends))
    lic.clock.now = ends + timedelta(days=2)
    frozen = await lic.open("query", m, {"code": row["code"]})
    assert frozen.json()["status"] == "frozen"
    renewal = renewal_of(paid)
    await lic.service.handle(renewal)
    await lic.service.handle(status_changed(renewal, ends + timedelta(days=365), "renewal"))
    again = await lic.open("query", m, {"code": row["code"]})
    assert again.json()["status"] == "active"
    assert again.json()["validUntil"] == (ends + timedelta(days=365)).isoformat()
    lic.clock.now = ends + timedelta(days=365 + 15)
    assert (await lic.open("query", m, {"code": row["code"]})).json()["status"] == "released"


async def test_an_approved_unsubscribe_releases_the_codes(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p, quantity=2)
    refund = RefundDecided(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=paid.order_id,
        payload=RefundDecidedPayload(
            refund_id=rid("R"),
            order_id=paid.order_id,
            approved=True,
            amount=Decimal("100.00"),
            reason="unsubscribe",
            decided_by_role=PartyRole.MERCHANT,
            parties=p,
            decided_at=lic.clock.now,
        ),
    )
    await lic.service.handle(refund)
    assert [c["release_reason"] for c in lic.codes(paid.payload.order_id)] == ["unsubscribed", "unsubscribed"]
    release = calls(lic)[f"licenseRelease:{paid.payload.order_id}"]
    assert (release.endpoint, release.due_at, len(release.body["codes"])) == (
        "releaseLicense",
        lic.clock.now,
        2,
    )
    [first, _] = lic.codes(paid.payload.order_id)
    refused = await lic.open("activate", p.merchant_account_id, {"code": first["code"], "device_id": "d1"})
    assert (refused.status_code, refused.json()["resultCode"]) == (409, "LIC.0103")


def calls(lic: Licensing) -> dict[str, MerchantCall]:
    return {k: MerchantCall.model_validate(v) for k, v in lic.state.table("merchant_calls").items()}


async def test_the_merchant_is_told_of_validity_freeze_unfreeze_and_release(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p, quantity=2)
    root, ends = paid.payload.order_id, lic.clock.now + timedelta(days=30)
    await lic.service.handle(status_changed(paid, ends))
    told = calls(lic)
    assert told[f"licenseStatus:{root}:freeze"].due_at == ends
    assert told[f"licenseStatus:{root}:freeze"].body["status"] == "frozen"
    assert told[f"licenseRelease:{root}"].due_at == ends + timedelta(days=15)
    assert told[f"licenseValidity:{root}:{int(ends.timestamp())}"].body["codes"] == [
        c["code"] for c in lic.codes(root)
    ]
    # the freeze went out at expiry; a renewal within the grace period unfreezes and moves the rest
    freeze = told[f"licenseStatus:{root}:freeze"]
    freeze.succeeded(ends, 200, {"resultCode": "000000"}, replay=False)
    lic.state.table("merchant_calls")[freeze.call_id] = freeze.model_dump()
    lic.clock.now = ends + timedelta(days=2)
    renewal = renewal_of(paid)
    await lic.service.handle(renewal)
    new_end = ends + timedelta(days=365)
    await lic.service.handle(status_changed(renewal, new_end, "renewal"))
    told, stamp = calls(lic), int(new_end.timestamp())
    assert told[f"licenseStatus:{root}:unfreeze:{stamp}"].body["status"] == "active"
    assert told[f"licenseStatus:{root}:unfreeze:{stamp}"].due_at == lic.clock.now
    assert told[f"licenseStatus:{root}:freeze:{stamp}"].due_at == new_end
    assert told[f"licenseRelease:{root}"].due_at == new_end + timedelta(days=15)
    assert told[f"licenseValidity:{root}:{stamp}"].body["validUntil"] == new_end.isoformat()


# --- License 1.0 and getLicense -----------------------------------------------------------------------------
async def test_the_buyers_hardware_identifier_is_validated_and_asks_the_merchant_once(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p, kind=DeliveryType.LICENSE_IDENTIFIER)
    path, b = f"/orders/{paid.order_id}/license/identifier", p.buyer_account_id
    bad = await lic.buyer("POST", path, b, json={"kind": "hardware", "hardware_identifier": "00:00:00:00"})
    assert (bad.status_code, bad.json()["detail"]["field"]) == (422, "hardware_identifier")
    body = {"kind": "hardware", "hardware_identifier": "00:1A:2B:3C:4D:5E"}
    assert (await lic.buyer("POST", path, rid("buyer"), json=body)).status_code == 403
    for _ in range(2):
        ok = await lic.buyer("POST", path, b, json=body)
        assert ok.status_code == 200, ok.text
    [call] = [MerchantCall.model_validate(c) for c in lic.state.table("merchant_calls").values()]
    assert call.call_id == f"getLicense:{paid.order_id}"
    assert (call.policy, call.endpoint, call.merchant_id) == ("long", "getLicense", p.merchant_account_id)
    assert call.body["requestId"] == f"GL-{paid.order_id}"
    assert call.body["identifier"] == "00:1A:2B:3C:4D:5E"


async def test_an_asynchronous_license_is_delivered_once_per_request(lic: Licensing) -> None:
    p = parties()
    paid = await lic.paid(p, kind=DeliveryType.LICENSE_IDENTIFIER)
    ok = await lic.buyer(
        "POST", f"/orders/{paid.order_id}/license/identifier", p.buyer_account_id, json={"kind": "system"}
    )
    assert ok.json()["identifier"].startswith("SID-")
    request_id, m = ok.json()["request_id"], p.merchant_account_id
    first = await lic.open("deliver", m, {"request_id": request_id, "license": "KEY-ONE"})
    second = await lic.open("deliver", m, {"request_id": request_id, "license": "KEY-TWO"})
    assert first.json()["license"] == second.json()["license"] == "KEY-ONE"
    listed = await lic.buyer("GET", f"/licenses?order_id={paid.order_id}", p.buyer_account_id)
    assert (listed.json()["license"], listed.json()["license_request"]) == ("KEY-ONE", "pending")
    stranger = rid("merchant")
    lic.merchant(stranger)
    theirs = await lic.open("deliver", stranger, {"request_id": request_id, "license": "KEY-X"})
    assert theirs.status_code == 404


# --- supervision: license.activated passes the activation node ---------------------------------------------
async def test_license_activated_passes_the_activation_node_as_the_system(supervision_rig: Rig) -> None:
    p = parties()
    paid = order_paid(p, delivery_type=DeliveryType.LICENSE_CODE, ratio=None)
    sv: SupervisionService = supervision_rig.service
    merchant = Principal(p.merchant_account_id, frozenset({"merchant"}))
    buyer = Principal(p.buyer_account_id, frozenset({"buyer"}))
    activated_at = datetime.now(UTC) - timedelta(minutes=3)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        so_id = ServiceOrder.id_for(paid.payload.order_id)
        await flow_cases.act(sv, so_id, merchant, "implement", ActionRequest())
        await flow_cases.act(sv, so_id, buyer, "claim", ActionRequest())
        event = _activated(paid, p, activated_at)
        await rig.publish(event)
        await rig.publish(event)  # redelivered: passes nothing twice
    so = ServiceOrder.model_validate(rig.state.tables["service_orders"][so_id])
    assert so.node == "delivery_proof"
    assert so.actual_activation_time == activated_at
    assert [e.action for e in so.log.entries].count("activate") == 1
    assert any(isinstance(e, MilestoneConfirmed) for e in rig.state.outbox)
    assert rig.dead == []


def _activated(paid: OrderPaid, p: Parties, at: datetime) -> LicenseActivated:
    return LicenseActivated(
        producer="partner",
        correlation_id=rid("corr"),
        order_id=paid.order_id,
        payload=LicenseActivatedPayload(
            order_id=paid.order_id, code_id="LIC-…ABCDE", activated_at=at, device_id="d1", parties=p
        ),
    )


class LicensingMerchant:
    """The merchant's getLicense endpoint: checks partner's signature, answers signed (or fails)."""

    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        signed = {
            "x-sign": params["signature"],
            "x-timestamp": params["timestamp"],
            "x-nonce": params["nonce"],
        }
        signing.verify(KEY, signed, body)
        self.asked.append(json.loads(body))
        if self.answer is None:
            return 503, {}, b"unavailable"
        raw = json.dumps(self.answer).encode()
        return 200, signing.sign_headers(KEY, raw), raw


TIMES = RetryTimes(long_interval=3600, long_window=3 * 3600, short_interval=600, short_window=3600)


async def identified(lic: Licensing) -> tuple[OrderPaid, str]:
    p = parties()
    paid = await lic.paid(p, kind=DeliveryType.LICENSE_IDENTIFIER)
    path = f"/orders/{paid.payload.order_id}/license/identifier"
    await lic.buyer("POST", path, p.buyer_account_id, json={"kind": "system"})
    return paid, f"getLicense:{paid.payload.order_id}"


async def test_get_license_on_the_call_worker_records_the_merchants_license(lic: Licensing) -> None:
    paid, call_id = await identified(lic)
    merchant = LicensingMerchant({"resultCode": "000000", "license": "LICENSE-FILE-B64"})
    call = await CallRunner(UnitOfWorkFactory(fake_uow(lic.state)), merchant, TIMES, lic.clock).attempt(
        call_id
    )
    assert call.status == "succeeded"
    [asked] = merchant.asked
    assert asked["activity"] == "getLicense"
    assert asked["requestId"] == f"GL-{paid.payload.order_id}"
    listed = await lic.buyer(
        "GET", f"/licenses?order_id={paid.payload.order_id}", paid.payload.parties.buyer_account_id
    )
    assert (listed.json()["license"], listed.json()["license_request"]) == ("LICENSE-FILE-B64", "succeeded")
    # a later push for the same request returns the License already given, not a second one
    again = await lic.open(
        "deliver",
        paid.payload.parties.merchant_account_id,
        {"request_id": asked["requestId"], "license": "OTHER"},
    )
    assert again.json()["license"] == "LICENSE-FILE-B64"


async def test_get_license_is_retried_hourly_for_three_hours_then_given_up(lic: Licensing) -> None:
    _, call_id = await identified(lic)
    merchant = LicensingMerchant(None)
    start = lic.clock.now
    run = CallRunner(UnitOfWorkFactory(fake_uow(lic.state)), merchant, TIMES, lic.clock)
    dues = []
    for hour in range(4):
        lic.clock.now = start + timedelta(hours=hour)
        call = await run.attempt(call_id)
        dues.append(call.due_at)
    assert dues == [start + timedelta(hours=h) for h in (1, 2, 3)] + [None]
    assert call.status == "failed"
    assert len(merchant.asked) == 4
    assert {a["requestId"] for a in merchant.asked} == {call.body["requestId"]}  # every retry asks the same
    failed = [e for e in lic.state.outbox if isinstance(e, MerchantCallFailed)]
    assert [e.payload.final for e in failed] == [False, False, False, True]


async def test_an_activation_before_the_claim_waits_for_the_node_then_passes(supervision_rig: Rig) -> None:
    p = parties()
    paid = order_paid(p, delivery_type=DeliveryType.LICENSE_CODE, ratio=None)
    sv: SupervisionService = supervision_rig.service
    so_id = ServiceOrder.id_for(paid.payload.order_id)
    activated_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    event = _activated(paid, p, activated_at)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
    with pytest.raises(NotYetKnown, match="at implement"):
        await on_license_activated(sv, event)  # parked by the consumer, tried again later
    await flow_cases.act(
        sv, so_id, Principal(p.merchant_account_id, frozenset({"merchant"})), "implement", ActionRequest()
    )
    await flow_cases.act(
        sv, so_id, Principal(p.buyer_account_id, frozenset({"buyer"})), "claim", ActionRequest()
    )
    passed = await on_license_activated(sv, event)
    assert passed is not None
    assert (passed.node, passed.actual_activation_time) == ("delivery_proof", activated_at)
