"""Supervision in-process on the real broker and database: a hardware auto-acceptance timer that survives a
restart of the service, operators learned from account.registered, and evidence stored in the real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.schemas import AccountRole, DeliveryContact, DeliveryType
from tests.conftest import Infra
from tests.factories import account_registered, order_paid, parties, settings
from tests.helpers import eventually, produce, read_topic, running

PHONE = "+8613811110001"


def _settings(infra: Infra, namespace: str, auto_accept: float) -> SupervisionSettings:
    return settings(SupervisionSettings, infra.bootstrap, infra.mongo_uri, namespace,
                    hardware_auto_accept_seconds=auto_accept, timer_poll_seconds=0.2, timer_lease_seconds=2)


async def _get(client: httpx.AsyncClient, so_id: str, account: str) -> dict[str, object] | None:
    r = await client.get(f"/service-orders/{so_id}", headers={"X-Account-Id": account})
    return r.json() if r.status_code == 200 else None


async def test_auto_acceptance_survives_a_restart_of_the_service(infra: Infra, namespace: str) -> None:
    event = order_paid(parties(), delivery_type=DeliveryType.HARDWARE, amount="880.00")
    event = event.model_copy(update={"payload": event.payload.model_copy(update={
        "delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen")})})
    p = event.payload.parties
    so_id = f"SO-{event.order_id}"
    cfg = _settings(infra, namespace, auto_accept=4.0)
    async with running(create_app(cfg)) as sv:
        await produce(infra.bootstrap, cfg.topic("order.paid"), event.model_dump(mode="json"), event.order_id)
        await produce(infra.bootstrap, cfg.topic("account.registered"),
                      account_registered("op-it", AccountRole.OPERATOR).model_dump(mode="json"), "op-it")
        await eventually(lambda: _get(sv, so_id, p.buyer_account_id), what="service order opened")
        upload = await sv.post(f"/service-orders/{so_id}/files", headers={"X-Account-Id": p.merchant_account_id},
                               files={"file": ("waybill.pdf", b"%PDF waybill SF123", "application/pdf")},
                               data={"kind": "logistics"})
        assert upload.status_code == 201, upload.text
        file_id = upload.json()["file_id"]
        r = await sv.post(f"/service-orders/{so_id}/actions/ship", headers={"X-Account-Id": p.merchant_account_id},
                          json={"evidence": [{"kind": "logistics", "name": "waybill.pdf", "file_id": file_id}]})
        assert r.status_code == 200, r.text
        r = await sv.post(f"/service-orders/{so_id}/actions/courier_signed",
                          headers={"X-Account-Id": p.merchant_account_id}, json={"recipient_phone": PHONE})
        assert r.status_code == 200, r.text
    # The service stops here with the timer running; it must fire after the restart, from the database alone.
    async with running(create_app(cfg)) as sv:
        async def accepted() -> dict[str, object] | None:
            so = await _get(sv, so_id, p.buyer_account_id)
            return so if so and so["status"] == "completed" else None

        so = await eventually(accepted, timeout=20, what="auto-acceptance after the restart")
        timeline = so["timeline"]
        assert isinstance(timeline, list)
        assert timeline[-1]["action"] == "auto_accept"
        download = await sv.get(f"/service-orders/{so_id}/files/{file_id}",
                                headers={"X-Account-Id": p.buyer_account_id})
        assert download.content == b"%PDF waybill SF123"
        exported = (await sv.get(f"/service-orders/{so_id}/export",
                                 headers={"X-Account-Id": "op-it"})).json()
    from services.supervision.verify import problems
    assert problems(json.loads(json.dumps(exported))) == []

    done = [json.loads(r.value) for r in await read_topic(infra.bootstrap, cfg.topic("acceptance.done"))]
    [mine] = [d for d in done if d["order_id"] == event.order_id]
    assert mine["payload"]["accepted_by"] == "system"
    cleared = [json.loads(r.value) for r in await read_topic(infra.bootstrap, cfg.topic("deadline.cleared"),
                                                              at_least=2)]
    assert any(c["payload"]["kind"] == "auto_acceptance" and c["payload"]["reason"] == "expired" for c in cleared)
    assert datetime.fromisoformat(mine["payload"]["accepted_at"]) <= datetime.now(UTC)
