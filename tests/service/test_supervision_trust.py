"""Who may call the supervision routes (issue 9): a token on every route (401 without), the order's parties and
operators per step (403 naming the rule otherwise), uploads bounded while they stream and typed by their content,
and account.erased masking the delivery contact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.supervision import event_cases
from services.supervision.evidence import Limits
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    BuyerTrack,
    DeliveryType,
    SaleMode,
)
from tests.factories import order_paid, parties, rid
from tests.service.rig import Rig
from tests.service.supervision_env import PHONE, Env, People, auth

BOUNDARY = "supervision-test-boundary"


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    async with e.http:
        yield e


# --- 401: every route wants a bearer token --------------------------------------------------------------

ROUTES = [
    ("GET", "/service-orders"),
    ("GET", "/service-orders/by-order/{order_id}"),
    ("GET", "/service-orders/{service_order_id}"),
    ("POST", "/service-orders/{service_order_id}/actions/{action}"),
    ("POST", "/service-orders/{service_order_id}/appeals"),
    ("POST", "/service-orders/{service_order_id}/appeals/{appeal_id}/resolution"),
    ("POST", "/service-orders/{service_order_id}/files"),
    ("GET", "/service-orders/{service_order_id}/files/{file_id}"),
    ("GET", "/service-orders/{service_order_id}/export"),
    ("GET", "/operator/audit"),
    ("GET", "/appeals"),
    ("POST", "/appeals/{appeal_id}/assign"),
]
VALUES = {
    "order_id": "CS-1",
    "service_order_id": "SO-CS-1",
    "action": "submit",
    "appeal_id": "AP-1",
    "file_id": "EV-1",
}


PUBLIC = [("GET", "/timeline-keys")]  # the checkpoints' public keys, like a JWKS


def test_the_table_lists_every_route(env: Env) -> None:
    served = {(m.upper(), path) for path, ops in env.app.openapi()["paths"].items() for m in ops}
    assert served == set(ROUTES) | set(PUBLIC)


async def test_the_timeline_keys_need_no_token(env: Env) -> None:
    keys = await env.call("GET", "/timeline-keys", None)
    assert keys["keys"] == env.service.keys.published()
    assert [k["alg"] for k in keys["keys"]] == ["Ed25519"]


@pytest.mark.parametrize(("method", "template"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Account-Id": "someone"},
        auth("someone", "buyer", audience="koo-orders"),
        {"Authorization": "Bearer not-a-jwt"},
    ],
    ids=["nothing", "x-account-id", "other-audience", "malformed"],
)
async def test_every_route_wants_a_token_for_supervision(
    env: Env, method: str, template: str, headers: dict[str, str]
) -> None:
    resp = await env.http.request(method, template.format(**VALUES), headers=headers)
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    assert resp.json()["detail"]["code"] == "unauthorized"


# --- 403: parties, steps and operators ----------------------------------------------------------------


async def test_strangers_are_refused_naming_the_rule(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    meta = await env.call(
        "POST",
        f"{so_path}/files",
        who.buyer,
        expect=201,
        files={"file": ("a.pdf", b"%PDF a", "application/pdf")},
        data={"kind": "brief"},
    )
    for stranger in (who.other_buyer, who.other_merchant, who.provider):
        for method, path in [
            ("GET", so_path),
            ("GET", f"/service-orders/by-order/{paid.order_id}"),
            ("POST", f"{so_path}/actions/submit"),
            ("GET", f"{so_path}/export"),
            ("GET", f"{so_path}/files/{meta['file_id']}"),
        ]:
            await env.refused(method, path, stranger, "parties_and_operators_only")
        await env.refused(
            "POST",
            f"{so_path}/files",
            stranger,
            "parties_and_operators_only",
            files={"file": ("b.pdf", b"%PDF b", "application/pdf")},
            data={"kind": "x"},
        )
    appeal = {"reason": "r", "demands": "d"}
    await env.refused("POST", f"{so_path}/appeals", who.other_buyer, "parties_only", json=appeal)
    await env.refused("POST", f"{so_path}/appeals", who.provider, "buyers_and_merchants_only", json=appeal)
    await env.refused("GET", so_path, auth("payment", "payment-system"), "marketplace_accounts_only")
    await env.refused(
        "GET",
        so_path,
        auth(paid.payload.parties.buyer_account_id, "buyer", "merchant"),
        "one_marketplace_role",
    )
    so = await env.call("GET", so_path, who.buyer)
    assert so["timeline"][-1]["action"] == "upload"  # nothing a stranger sent is on record


async def test_refunds_are_not_requested_or_decided_here(env: Env) -> None:
    """Refunds are the orders service's (the buyer's request, the merchant's decision): supervision has no
    refund routes any more, whoever asks."""
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    for headers in (who.buyer, who.merchant, who.operator):
        for path, body in (
            (f"{so_path}/refunds", {"amount": "1", "reason": "x"}),
            (f"{so_path}/refunds/RF-1/decision", {"approve": True}),
        ):
            resp = await env.http.post(path, headers=headers, json=body)
            assert resp.status_code == 404, resp.text
    so = await env.call("GET", so_path, who.buyer)
    assert (so["status"], so["refunds"]) == ("active", [])


async def test_the_wrong_partys_step_is_refused(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    await env.refused("POST", f"{so_path}/actions/submit", who.merchant, "node_actor_only")
    await env.call("POST", f"{so_path}/actions/submit", who.buyer)
    await env.refused("POST", f"{so_path}/actions/confirm", who.buyer, "node_actor_only")
    so = await env.call("POST", f"{so_path}/actions/confirm", who.merchant)
    assert so["node"] == "deliver"


async def test_operators_read_and_resolve_but_never_act_as_a_party(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    meta = await env.call(
        "POST",
        f"{so_path}/files",
        who.merchant,
        expect=201,
        files={"file": ("a.pdf", b"%PDF a", "application/pdf")},
        data={"kind": "sow"},
    )
    assert (await env.call("GET", so_path, who.operator))["node"] == "submit_request"
    assert (await env.call("GET", f"/service-orders/by-order/{paid.order_id}", who.operator))["node"]
    assert (await env.call("GET", f"{so_path}/export", who.operator))["files"][0]["file_id"] == meta[
        "file_id"
    ]
    resp = await env.http.get(f"{so_path}/files/{meta['file_id']}", headers=who.operator)
    assert resp.status_code == 200
    assert resp.content == b"%PDF a"

    await env.refused("POST", f"{so_path}/actions/submit", who.operator, "node_actor_only")
    await env.refused(
        "POST",
        f"{so_path}/appeals",
        who.operator,
        "buyers_and_merchants_only",
        json={"reason": "r", "demands": "d"},
    )

    so = await env.call(
        "POST",
        f"{so_path}/appeals",
        who.merchant,
        expect=201,
        json={"reason": "no answer", "demands": "continue"},
    )
    so = await env.call(
        "POST",
        f"{so_path}/appeals/{so['open_appeal']['appeal_id']}/resolution",
        who.operator,
        json={"outcome": "resume", "note": "called both"},
    )
    assert so["status"] == "active"
    assert so["node"] == "submit_request"
    outcomes = {(r.action, r.outcome) for r in await env.audit.records(who.operator_id, None, 100)}
    assert ("POST /service-orders/{service_order_id}/actions/{action}", "refused") in outcomes
    assert ("POST /service-orders/{service_order_id}/appeals/{appeal_id}/resolution", "allowed") in outcomes


async def test_the_operator_does_the_platform_review(env: Env) -> None:
    event = order_paid(parties())
    p = event.payload
    event = event.model_copy(
        update={
            "payload": p.model_copy(
                update={
                    "product": p.product.model_copy(
                        update={"sale_mode": SaleMode.JOINT_OPERATION, "spec_name": "Standard"}
                    ),
                    "buyer_company": "Acme Ltd.",
                    "buyer_track": BuyerTrack.EMPOWERMENT_CLOUD,
                }
            )
        }
    )
    paid = await env.open(event=event)
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    await env.call("POST", f"{so_path}/actions/submit", who.buyer)
    await env.call("POST", f"{so_path}/actions/confirm", who.merchant)
    so = await env.call(
        "POST",
        f"{so_path}/actions/deliver",
        who.merchant,
        json={
            "evidence": [
                await env.evidence(f"SO-{paid.order_id}", who.merchant, "sow", "sow.pdf"),
                await env.evidence(f"SO-{paid.order_id}", who.merchant, "acceptance_document", "acc.pdf"),
            ],
            "acceptance_elements": {
                "order_number": paid.order_id,
                "company_name": "Acme Ltd.",
                "product_name": p.product.name,
                "spec_name": "Standard",
            },
        },
    )
    assert so["node"] == "platform_review"
    await env.refused("POST", f"{so_path}/actions/approve", who.merchant, "node_actor_only")
    await env.refused("POST", f"{so_path}/actions/approve", who.buyer, "node_actor_only")
    so = await env.call("POST", f"{so_path}/actions/approve", who.operator)
    assert so["node"] == "accept"
    assert so["timeline"][-1]["actor_role"] == "operator"
    assert so["timeline"][-1]["actor_account_id"] == who.operator_id


# --- the edge: bounded bodies, files typed by their content ----------------------------------------------


def _multipart_head(filename: str, content_type: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nsow\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


class Feed:
    """A request body that counts how much of it the server pulled."""

    def __init__(self, head: bytes, chunk: bytes, chunks: int) -> None:
        self.head, self.chunk, self.chunks, self.pulled = head, chunk, chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_an_upload_over_the_limit_is_refused_while_it_streams(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    feed = Feed(_multipart_head("big.pdf", "application/pdf"), b"%PDF" + b"x" * (64 * 1024 - 4), chunks=64)
    resp = await env.http.post(
        f"/service-orders/SO-{paid.order_id}/files",
        content=feed.__aiter__(),
        headers={**who.merchant, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert resp.status_code == 413, resp.text
    assert resp.json()["detail"]["field"] == "file"
    assert "at most 1000" in resp.json()["detail"]["message"]
    assert feed.pulled <= 1  # 64 KiB of the 4 MiB: the rest was never read
    assert env.state.tables.get("evidence_files", {}) == {}


async def test_a_declared_length_over_the_limit_is_refused_before_reading(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    feed = Feed(_multipart_head("big.pdf", "application/pdf"), b"x" * 1024, chunks=4096)
    resp = await env.http.post(
        f"/service-orders/SO-{paid.order_id}/files",
        content=feed.__aiter__(),
        headers={
            **who.merchant,
            "Content-Length": str(4096 * 1024 + 300),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    assert resp.status_code == 413, resp.text
    detail = resp.json()["detail"]
    assert (detail["code"], detail["field"]) == ("too_large", "file")
    assert feed.pulled == 0


async def test_a_json_body_over_its_bound_is_refused(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    resp = await env.http.post(
        f"/service-orders/SO-{paid.order_id}/appeals",
        headers=who.buyer,
        json={"reason": "x" * 300_000, "demands": "d"},
    )
    assert resp.status_code == 413
    assert resp.json()["detail"]["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"actual_activation_time": "0001-01-01T00:00:00+23:59"},
            "actual_activation_time",
        ),  # overflows as UTC
        ({"evidence": [{"kind": "sow", "name": "x"}] * 21}, "evidence"),
        ({"note": "n" * 2001}, "note"),
        ({"recipient_phone": "call me"}, "recipient_phone"),
    ],
)
async def test_a_malformed_action_is_a_422_naming_the_field(
    env: Env, body: dict[str, Any], field: str
) -> None:
    paid = await env.open()
    refused = await env.call(
        "POST",
        f"/service-orders/SO-{paid.order_id}/actions/submit",
        People.of(paid.payload.parties).buyer,
        expect=422,
        json=body,
    )
    assert field in str(refused["detail"])


async def test_the_file_type_is_read_from_the_content(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    path = f"/service-orders/SO-{paid.order_id}/files"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    refused = await env.call(
        "POST",
        path,
        who.merchant,
        expect=422,
        files={"file": ("fake.pdf", png, "application/pdf")},
        data={"kind": "sow"},
    )
    assert refused["detail"]["field"] == "file"
    assert "image/png" in refused["detail"]["message"]
    meta = await env.call(
        "POST",
        path,
        who.merchant,
        expect=201,
        files={"file": ("scan.png", b"%PDF-1.7 real pdf", "image/png")},
        data={"kind": "sow"},
    )
    assert meta["content_type"] == "application/pdf"  # what the bytes are, not what the client said
    resp = await env.http.get(f"{path}/{meta['file_id']}", headers=who.buyer)
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        ("delivered on time, 签收 ok".encode(), True),
        (b"BMW delivered", True),
        (b"text\x00with a NUL", False),
        ("caf\u00e9".encode("latin-1"), False),
    ],
)
async def test_text_has_no_magic_number_so_it_must_be_utf8_without_nuls(data: bytes, accepted: bool) -> None:
    env = Env(Limits(max_bytes=1000, content_types=frozenset({"application/pdf", "text/plain"})))
    async with env.http:
        paid = await env.open()
        meta = await env.call(
            "POST",
            f"/service-orders/SO-{paid.order_id}/files",
            People.of(paid.payload.parties).buyer,
            expect=201 if accepted else 422,
            files={"file": ("note.txt", data, "text/plain")},
            data={"kind": "note"},
        )
    if accepted:
        assert meta["content_type"] == "text/plain"
    else:
        assert meta["detail"]["field"] == "file"


# --- account.erased -------------------------------------------------------------------------------------


def _erased(account_id: str) -> AccountErased:
    return AccountErased(
        producer="orders",
        correlation_id=rid("corr"),
        payload=AccountErasedPayload(
            account_id=account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
        ),
    )


async def test_account_erased_masks_the_delivery_contact_once(supervision_rig: Rig) -> None:
    from shared.schemas import DeliveryContact

    def hardware(buyer: str) -> Any:
        event = order_paid(
            parties().model_copy(update={"buyer_account_id": buyer}), delivery_type=DeliveryType.HARDWARE
        )
        return event.model_copy(
            update={
                "payload": event.payload.model_copy(
                    update={"delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen")}
                )
            }
        )

    buyer, other = rid("buyer"), rid("buyer")
    mine, mine_too, theirs = hardware(buyer), hardware(buyer), hardware(other)
    erased = _erased(buyer)
    async with supervision_rig.running() as rig:
        for event in (mine, mine_too, theirs):
            await rig.publish(event)
        rows = rig.state.tables["service_orders"]
        before = {k: (r["version"], [e["hash"] for e in r["timeline"]]) for k, r in rows.items()}
        await rig.publish(erased)
        after_first = {k: r["version"] for k, r in rig.state.tables["service_orders"].items()}
        await rig.publish(erased)  # redelivered: nothing changes again

    rows = rig.state.tables["service_orders"]
    for event in (mine, mine_too):
        row = rows[f"SO-{event.order_id}"]
        assert row["delivery_phone"] == "***01"
        assert row["contact_erased_at"] is not None
        assert [e["hash"] for e in row["timeline"]] == before[f"SO-{event.order_id}"][1]  # evidence stays
        assert PHONE not in str(row)
    assert rows[f"SO-{theirs.order_id}"]["delivery_phone"] == PHONE
    assert rows[f"SO-{theirs.order_id}"]["contact_erased_at"] is None
    assert {k: r["version"] for k, r in rows.items()} == after_first
    assert after_first[f"SO-{mine.order_id}"] == before[f"SO-{mine.order_id}"][0] + 1
    assert f"supervision:{erased.event_id}" in rig.state.processed
    assert set(rig.state.tables["erased_accounts"]) == {buyer}
    assert rig.dead == []


async def test_an_erased_buyers_later_order_is_masked_and_its_courier_phone_is_not_matched(env: Env) -> None:
    buyer = rid("buyer")
    assert await event_cases.on_account_erased(env.service, _erased(buyer)) == 0
    event = order_paid(
        parties().model_copy(update={"buyer_account_id": buyer}), delivery_type=DeliveryType.HARDWARE
    )
    paid = await env.open(event=event)
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    assert (await env.call("GET", so_path, who.buyer))["delivery_phone"] == "***01"
    waybill = await env.evidence(f"SO-{paid.order_id}", who.merchant, "logistics", "sf.pdf")
    await env.call("POST", f"{so_path}/actions/ship", who.merchant, json={"evidence": [waybill]})
    so = await env.call(
        "POST", f"{so_path}/actions/courier_signed", who.merchant, json={"recipient_phone": PHONE}
    )
    assert not [d for d in so["deadlines"] if d["kind"] == "auto_acceptance"]
    assert so["timeline"][-1]["details"]["recipient_phone_matches"] is False
    assert "erased" in so["timeline"][-1]["details"]["auto_acceptance"]
