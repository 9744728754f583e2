"""The operators' appeal queue and the escalation of an overdue appeal on the real broker, database and identity
provider (issue 14, item 1), and the signed timeline checkpoints as stored and exported (item 11).

An appeal raised with a 4-second SLA shows in the queue, is assigned, and when the SLA passes the timer worker
escalates it once: the queue shows it escalated and one notice.requested (appeal_escalated) reaches the topic
for the operators and both parties. The export, checkpoints included, verifies against GET /timeline-keys."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.supervision import verify
from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.schemas import Parties
from tests.conftest import Infra
from tests.factories import order_paid, settings
from tests.helpers import eventually, produce, read_topic, running


async def _queue(sv: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await sv.get("/appeals", headers=headers, params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["appeals"]
    return rows


async def test_an_appeal_is_queued_assigned_and_escalated_once_when_its_sla_passes(
    infra: Infra, namespace: str
) -> None:
    buyer, merchant, operator = (
        await infra.idp.user("buyer"),
        await infra.idp.user("merchant"),
        await infra.idp.user("operator"),
    )
    cfg = settings(
        SupervisionSettings,
        infra,
        namespace,
        appeal_sla_seconds=4.0,
        timer_poll_seconds=0.2,
        timer_lease_seconds=2,
        timeline_checkpoint_every=3,
    )
    event = order_paid(Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id))
    so_id = f"SO-{event.payload.order_id}"
    async with running(create_app(cfg)) as sv:
        await produce(
            infra.kafka_client(),
            cfg.topic("order.paid"),
            event.model_dump(mode="json"),
            event.payload.order_id,
        )
        buyer_h, op_h = await buyer.headers(), await operator.headers()

        async def opened() -> bool:
            return (await sv.get(f"/service-orders/{so_id}", headers=buyer_h)).status_code == 200

        await eventually(opened, what="service order opened")
        r = await sv.post(
            f"/service-orders/{so_id}/appeals",
            headers=buyer_h,
            json={"reason": "no answer for a week", "demands": "the platform decides"},
        )
        assert r.status_code == 201, r.text
        appeal_id = r.json()["open_appeal"]["appeal_id"]

        [row] = [a for a in await _queue(sv, op_h) if a["appeal_id"] == appeal_id]
        assert (row["service_order_id"], row["raised_by"]["role"]) == (so_id, "buyer")
        assert row["status"] in {"open", "escalated"}  # escalated already if this machine is slow
        assert row["remaining_seconds"] <= 4
        refused = await sv.get("/appeals", headers=buyer_h)
        assert refused.status_code == 403

        r = await sv.post(f"/appeals/{appeal_id}/assign", headers=op_h)
        assert r.status_code == 200, r.text
        mine = await _queue(sv, op_h, assignee=operator.account_id)
        assert [a["appeal_id"] for a in mine] == [appeal_id]

        async def escalated() -> dict[str, Any] | None:
            rows = await _queue(sv, op_h, status="escalated", assignee=operator.account_id)
            return rows[0] if rows else None

        row = await eventually(escalated, timeout=20, what="the overdue appeal escalated")
        assert row["appeal_id"] == appeal_id
        assert row["remaining_seconds"] <= 0
        so = (await sv.get(f"/service-orders/{so_id}", headers=op_h)).json()
        assert so["open_appeal"]["escalated_at"] is not None
        assert [e["action"] for e in so["timeline"]].count("appeal_sla_due") == 1
        # Opening, appeal, assignment: 3 entries, so a checkpoint (every 3) was stored with the assignment.
        assert any(e["action"] == "checkpoint" for e in so["timeline"])

        export = (await sv.get(f"/service-orders/{so_id}/export", headers=op_h)).json()
        keys = await sv.get("/timeline-keys")  # no token: public keys, like a JWKS
        assert keys.status_code == 200
        assert verify.problems(export, verify.trusted_keys(keys.json())) == []

    notices = [
        json.loads(r.value)
        for r in await read_topic(infra.kafka_client(), cfg.topic("notice.requested"), at_least=1)
    ]
    mine_notices = [n for n in notices if n["payload"]["notice_id"] == f"appeal:{appeal_id}:escalated"]
    assert len(mine_notices) == 1  # once
    [notice] = mine_notices
    assert notice["payload"]["kind"] == "appeal_escalated"
    assert {(r["role"], r.get("account_id")) for r in notice["payload"]["recipients"]} == {
        ("operator", None),
        ("buyer", buyer.account_id),
        ("merchant", merchant.account_id),
    }
    assert notice["order_id"] == event.payload.order_id
