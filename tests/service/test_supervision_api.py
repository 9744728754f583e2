"""The supervision HTTP routes and use cases over in-memory fakes, called with tokens: roles (403), appeals resolved
by operators, refunds decided by the orders service (refund.decided), timers fired by the worker's use case,
evidence upload, download, export and the verify command."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.supervision import api, event_cases, flow_cases, verify
from services.supervision.checkpoints import TimelineKeys
from shared.platform.auth import Principal
from shared.platform.errors import DomainError
from shared.schemas import (
    AppealResolved,
    DeadlineCleared,
    DeadlineScheduled,
    DeliveryType,
    OrderPaid,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
)
from tests.factories import order_paid, parties, rid
from tests.service.rig import Rig
from tests.service.supervision_env import PHONE, Env, People


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    async with e.http:
        yield e


async def test_only_the_parties_and_operators_read_a_service_order(env: Env) -> None:
    paid = await env.open()
    so_path = f"/service-orders/SO-{paid.order_id}"
    who = People.of(paid.payload.parties)
    assert (await env.call("GET", so_path, who.buyer))["node"] == "submit_request"
    assert (await env.call("GET", f"/service-orders/by-order/{paid.order_id}", who.merchant))["node"]
    refused = await env.call("GET", so_path, who.other_merchant, expect=403)
    assert refused["detail"]["code"] == "forbidden"
    assert refused["detail"]["rule"] == "parties_and_operators_only"
    assert (await env.call("GET", so_path, who.operator))["service_order_id"] == f"SO-{paid.order_id}"
    await env.call("GET", so_path, who.other_buyer, expect=403)
    # The operator's read is in the audit log; nothing keeps a registry of operators any more.
    [record] = await env.audit.records(None, None, 10)
    assert (record.action, record.outcome) == ("GET /service-orders/{service_order_id}", "allowed")
    assert "operators" not in env.state.tables


async def test_the_deadlines_say_what_happens_next_and_when(env: Env) -> None:
    paid = await env.open(DeliveryType.HARDWARE)
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    waybill = await env.evidence(f"SO-{paid.order_id}", who.merchant, "logistics", "sf.pdf")
    await env.call("POST", f"{so_path}/actions/ship", who.merchant, json={"evidence": [waybill]})
    so = await env.call(
        "POST", f"{so_path}/actions/courier_signed", who.merchant, json={"recipient_phone": PHONE}
    )
    assert so["next_step"]["actor"] == "buyer"
    assert so["next_step"]["actions"] == {"accept": "buyer", "reject": "buyer", "courier_signed": "merchant"}
    [auto] = [d for d in so["deadlines"] if d["kind"] == "auto_acceptance"]
    assert auto["party"] == "buyer"
    assert auto["consequence"] == "the system accepts the delivery"
    assert datetime.fromisoformat(auto["due_at"]) == env.clock.now + timedelta(days=10)
    await env.refused("POST", f"{so_path}/actions/accept", who.merchant, "node_actor_only")

    env.clock.now += timedelta(days=10)
    assert await env.fire_due() >= 1
    so = await env.call("GET", so_path, who.buyer)
    assert so["status"] == "completed"
    assert so["timeline"][-1]["action"] == "auto_accept"
    assert all(r["kind"] != "auto_acceptance" for r in env.state.tables["timers"].values())


def refund_decided(
    paid: OrderPaid,
    approved: bool,
    *,
    refund_id: str | None = None,
    role: PartyRole = PartyRole.MERCHANT,
    amount: str = "40.00",
) -> RefundDecided:
    """The orders service's decision on a refund of `paid` (it owns refunds)."""
    p = paid.payload
    return RefundDecided(
        producer="orders",
        correlation_id=rid("corr"),
        order_id=p.order_id,
        payload=RefundDecidedPayload(
            refund_id=refund_id or rid("RF"),
            order_id=p.order_id,
            approved=approved,
            amount=Decimal(amount),
            reason="half the scope",
            opinion="agreed",
            decided_by_role=role,
            decided_by_account_id=p.parties.merchant_account_id,
            parties=p.parties,
            decided_at=datetime.now(UTC),
        ),
    )


async def test_an_appeal_is_resolved_by_an_operator_only(env: Env) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    so = await env.call(
        "POST",
        f"{so_path}/appeals",
        who.buyer,
        expect=201,
        json={"reason": "no contact", "demands": "refund"},
    )
    appeal_id = so["open_appeal"]["appeal_id"]
    assert so["open_appeal"]["respond_by"] is not None
    body = {"outcome": "refund", "note": "merchant unreachable"}
    for headers in (who.buyer, who.merchant, who.other_buyer):
        await env.refused(
            "POST", f"{so_path}/appeals/{appeal_id}/resolution", headers, "operators_only", json=body
        )
    so = await env.call("POST", f"{so_path}/appeals/{appeal_id}/resolution", who.operator, json=body)
    assert so["appeals"][0]["resolved_by_account_id"] == who.operator_id  # the token's subject
    # The orders service carries the refund out (it owns refunds): appeal.resolved says so, and no refund.decided
    # comes from supervision; meanwhile the service order says it is being refunded.
    [resolved] = [e for e in env.state.outbox if isinstance(e, AppealResolved)]
    assert resolved.payload.outcome.value == "refund"
    assert [e for e in env.state.outbox if isinstance(e, RefundDecided)] == []
    assert (so["status"], so["next_step"], so["open_appeal"]) == ("refunding", None, None)
    refused = await env.call("POST", f"{so_path}/actions/submit", who.buyer, expect=409)
    assert "being refunded" in refused["detail"]["message"]

    await event_cases.on_refund_decided(
        env.service, refund_decided(paid, True, refund_id=f"RF-{appeal_id}", role=PartyRole.OPERATOR)
    )
    so = await env.call("GET", so_path, who.buyer)
    assert (so["status"], so["node"], so["deadlines"]) == ("refunded", None, [])
    assert so["timeline"][-1]["action"] == "refund_approved"


async def test_an_approved_refund_ends_the_service_order(supervision_rig: Rig) -> None:
    paid = order_paid(parties())
    approved = refund_decided(paid, True)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(approved)
        after = copy.deepcopy(rig.state.tables)
        outbox = len(rig.state.outbox)
        await rig.publish(approved)  # redelivered: nothing changes again

    row = rig.state.tables["service_orders"][f"SO-{paid.order_id}"]
    assert (row["status"], row["node"], row["deadlines"]) == ("refunded", None, [])
    assert [(r["refund_id"], r["amount"], r["status"]) for r in row["refunds"]] == [
        (approved.payload.refund_id, "40.00", "approved")
    ]
    assert row["timeline"][-1]["action"] == "refund_approved"
    assert rig.state.tables["timers"] == {}
    cleared = [e for e in rig.state.outbox if isinstance(e, DeadlineCleared)]
    assert sorted((e.payload.kind.value, e.payload.reason) for e in cleared) == [
        ("idle", "cancelled"),
        ("long_running", "cancelled"),
    ]
    assert [e for e in rig.state.outbox if isinstance(e, RefundDecided)] == []
    assert rig.state.tables == after
    assert len(rig.state.outbox) == outbox
    assert f"supervision:{approved.event_id}" in rig.state.processed
    assert rig.dead == []


async def test_a_rejected_refund_changes_nothing_but_the_record(supervision_rig: Rig) -> None:
    paid = order_paid(parties())
    rejected = refund_decided(paid, False)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        before = copy.deepcopy(rig.state.tables["service_orders"][f"SO-{paid.order_id}"])
        timers = copy.deepcopy(rig.state.tables["timers"])
        outbox = len(rig.state.outbox)
        await rig.publish(rejected)

    row = rig.state.tables["service_orders"][f"SO-{paid.order_id}"]
    assert (row["status"], row["node"], row["deadlines"]) == (
        before["status"],
        before["node"],
        before["deadlines"],
    )
    assert rig.state.tables["timers"] == timers
    assert len(rig.state.outbox) == outbox
    assert row["timeline"][:-1] == before["timeline"]
    assert (row["timeline"][-1]["action"], row["refunds"][0]["status"]) == ("refund_rejected", "rejected")
    assert rig.dead == []


async def test_a_refund_of_an_order_without_a_service_order_is_taken_and_changes_nothing(
    supervision_rig: Rig,
) -> None:
    """The orders service decides refunds of every order: an image product's 5-day refund (dossier §1.4), a
    renewal's (§1.6). Supervision knows from order.paid that they have no service order: nothing to close."""
    image = order_paid(parties(), delivery_type=DeliveryType.IMAGE)
    renewal = order_paid(parties())
    renewal = renewal.model_copy(
        update={"payload": renewal.payload.model_copy(update={"order_type": "renewal"})}
    )
    async with supervision_rig.running() as rig:
        for paid in (image, renewal):
            await rig.publish(paid)
            await rig.publish(refund_decided(paid, True, role=PartyRole.SYSTEM))

    assert rig.state.tables.get("service_orders", {}) == {}
    assert set(rig.state.tables["unsupervised_orders"]) == {image.order_id, renewal.order_id}
    assert len(rig.state.processed) == 4
    assert rig.dead == []


async def test_a_refused_milestone_offer_is_dead_lettered_citing_the_rule(supervision_rig: Rig) -> None:
    from shared.schemas import BillingMode, Milestone

    paid = order_paid(parties())
    p = paid.payload
    paid = paid.model_copy(
        update={
            "payload": p.model_copy(
                update={
                    "product": p.product.model_copy(update={"billing_mode": BillingMode.PAY_PER_USE}),
                    "milestones": [Milestone(milestone_id="m1", title="all", proportion=Decimal(1))],
                }
            )
        }
    )
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
    [dead] = rig.dead
    assert "dossier §4.2" in dead.headers["x-reason"]
    assert rig.state.tables.get("service_orders", {}) == {}


async def test_evidence_upload_download_export_and_verify(env: Env, tmp_path: Path) -> None:
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_path = f"/service-orders/SO-{paid.order_id}"
    pdf = b"%PDF-1.7 statement of work"
    meta = await env.call(
        "POST",
        f"{so_path}/files",
        who.merchant,
        expect=201,
        files={"file": ("sow.pdf", pdf, "application/pdf")},
        data={"kind": "sow"},
    )
    assert len(meta["sha256"]) == 64
    too_big = await env.call(
        "POST",
        f"{so_path}/files",
        who.merchant,
        expect=413,
        files={"file": ("big.pdf", b"x" * 1001, "application/pdf")},
        data={"kind": "sow"},
    )
    assert "at most 1000" in too_big["detail"]["message"]
    assert too_big["detail"]["field"] == "file"
    await env.call(
        "POST",
        f"{so_path}/files",
        who.merchant,
        expect=422,
        files={"file": ("x.exe", b"MZ", "application/x-msdownload")},
        data={"kind": "sow"},
    )
    await env.refused(
        "POST",
        f"{so_path}/files",
        who.other_buyer,
        "parties_and_operators_only",
        files={"file": ("s.pdf", pdf, "application/pdf")},
        data={"kind": "sow"},
    )
    second = await env.call(
        "POST",
        f"{so_path}/files",
        who.buyer,
        expect=201,
        files={"file": ("brief.pdf", b"%PDF-1.4 the brief", "application/pdf")},
        data={"kind": "brief"},
    )

    resp = await env.http.get(f"{so_path}/files/{meta['file_id']}", headers=who.buyer)
    assert resp.status_code == 200
    assert resp.content == pdf
    assert resp.headers["X-Content-SHA256"] == meta["sha256"]
    resp = await env.http.get(f"{so_path}/files/{meta['file_id']}", headers=who.other_buyer)
    assert resp.status_code == 403

    await env.call("POST", f"{so_path}/actions/submit", who.buyer)
    await env.call("POST", f"{so_path}/actions/confirm", who.merchant)
    unstored = {"kind": "acceptance_document", "name": "acc.pdf"}  # a name with no stored file behind it
    sow = {"kind": "sow", "name": "sow.pdf", "file_id": meta["file_id"]}
    refused = await env.call(
        "POST", f"{so_path}/actions/deliver", who.merchant, expect=422, json={"evidence": [sow, unstored]}
    )
    assert refused["detail"]["field"] == "evidence[1].file_id"
    acceptance = await env.evidence(f"SO-{paid.order_id}", who.merchant, "acceptance_document", "acc.pdf")
    so = await env.call(
        "POST", f"{so_path}/actions/deliver", who.merchant, json={"evidence": [sow, acceptance]}
    )
    assert so["evidence"][0]["sha256"] == meta["sha256"]
    # The evidence entry on the timeline names each stored file by its id and content hash.
    [delivered] = [e for e in so["timeline"] if e["action"] == "deliver"]
    assert [(ev["file_id"], ev["sha256"]) for ev in delivered["details"]["evidence"]] == [
        (meta["file_id"], meta["sha256"]),
        (acceptance["file_id"], so["evidence"][1]["sha256"]),
    ]

    exported = await env.call("GET", f"{so_path}/export", who.buyer)
    assert [f["file_id"] for f in exported["files"]] == [
        meta["file_id"],
        second["file_id"],
        acceptance["file_id"],
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    assert verify.main([str(path)]) == 0
    # Against the keys the service publishes (GET /timeline-keys, no token), and against someone else's.
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(await env.call("GET", "/timeline-keys", None)))
    assert verify.main([str(path), str(keys)]) == 0
    other = tmp_path / "other-keys.json"
    other.write_text(json.dumps({"keys": TimelineKeys.generate(exported["signing"]["key_id"]).published()}))
    assert verify.main([str(path), str(other)]) == 1

    forged = json.loads(path.read_text())
    forged["service_order"]["timeline"][2]["note"] = "edited"
    path.write_text(json.dumps(forged))
    assert verify.main([str(path)]) == 1
    assert any("timeline entry 3" in line for line in verify.problems(forged))

    swapped = json.loads(json.dumps(exported))
    swapped["files"][0]["content_base64"] = "Zm9yZ2Vk"
    assert any("content digest" in line for line in verify.problems(swapped))


async def test_evidence_naming_another_orders_file_is_refused(env: Env) -> None:
    first, second = await env.open(), await env.open()
    meta = await env.call(
        "POST",
        f"/service-orders/SO-{first.order_id}/files",
        People.of(first.payload.parties).merchant,
        expect=201,
        files={"file": ("a.pdf", b"%PDF a", "application/pdf")},
        data={"kind": "sow"},
    )
    who = People.of(second.payload.parties)
    so_path = f"/service-orders/SO-{second.order_id}"
    await env.call("POST", f"{so_path}/actions/submit", who.buyer)
    await env.call("POST", f"{so_path}/actions/confirm", who.merchant)
    refused = await env.call(
        "POST",
        f"{so_path}/actions/deliver",
        who.merchant,
        expect=404,
        json={
            "evidence": [
                {"kind": "sow", "name": "a.pdf", "file_id": meta["file_id"]},
                {"kind": "acceptance_document", "name": "b.pdf"},
            ]
        },
    )
    assert refused["detail"]["code"] == "not_found"


async def test_opening_schedules_the_deadlines_in_the_outbox(env: Env) -> None:
    await env.open()
    assert {e.payload.kind.value for e in env.state.outbox if isinstance(e, DeadlineScheduled)} == {
        "idle",
        "long_running",
    }
    with pytest.raises(DomainError):
        await flow_cases.act(
            env.service, "SO-missing", Principal("x", frozenset({"buyer"})), "submit", api.ActionRequest()
        )
