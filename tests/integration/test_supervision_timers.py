"""Supervision in-process on the real broker, database and identity provider: a hardware auto-acceptance timer
that survives a restart of the service, evidence stored in the real database, callers with real Keycloak tokens
(an operator is an operator because its token says so), and account.erased masking the delivery contact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.schemas import AccountErased, AccountErasedPayload, AccountRole, DeliveryContact, DeliveryType, Parties
from tests.conftest import Infra
from tests.factories import order_paid, rid, settings
from tests.helpers import eventually, produce, read_topic, running

PHONE = "+8613811110001"


def _settings(infra: Infra, namespace: str, auto_accept: float) -> SupervisionSettings:
    return settings(SupervisionSettings, infra, namespace,
                    hardware_auto_accept_seconds=auto_accept, timer_poll_seconds=0.2, timer_lease_seconds=2)


async def _get(client: httpx.AsyncClient, so_id: str, headers: dict[str, str]) -> dict[str, object] | None:
    r = await client.get(f"/service-orders/{so_id}", headers=headers)
    return r.json() if r.status_code == 200 else None


async def test_auto_acceptance_survives_a_restart_of_the_service(infra: Infra, namespace: str) -> None:
    buyer, merchant, operator = (await infra.idp.user("buyer"), await infra.idp.user("merchant"),
                                 await infra.idp.user("operator"))
    p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    event = order_paid(p, delivery_type=DeliveryType.HARDWARE, amount="880.00")
    event = event.model_copy(update={"payload": event.payload.model_copy(update={
        "delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen")})})
    so_id = f"SO-{event.order_id}"
    cfg = _settings(infra, namespace, auto_accept=4.0)
    async with running(create_app(cfg)) as sv:
        await produce(infra.kafka_client(), cfg.topic("order.paid"), event.model_dump(mode="json"), event.order_id)
        buyer_h = await buyer.headers()
        await eventually(lambda: _get(sv, so_id, buyer_h), what="service order opened")
        anonymous = await sv.get(f"/service-orders/{so_id}", headers={"X-Account-Id": buyer.account_id})
        assert anonymous.status_code == 401
        merchant_h = await merchant.headers()
        upload = await sv.post(f"/service-orders/{so_id}/files", headers=merchant_h,
                               files={"file": ("waybill.pdf", b"%PDF waybill SF123", "application/pdf")},
                               data={"kind": "logistics"})
        assert upload.status_code == 201, upload.text
        file_id = upload.json()["file_id"]
        r = await sv.post(f"/service-orders/{so_id}/actions/ship", headers=merchant_h,
                          json={"evidence": [{"kind": "logistics", "name": "waybill.pdf", "file_id": file_id}]})
        assert r.status_code == 200, r.text
        r = await sv.post(f"/service-orders/{so_id}/actions/courier_signed", headers=await operator.headers(),
                          json={"recipient_phone": PHONE})
        assert r.status_code == 403  # the operator never acts as a party
        assert r.json()["detail"]["rule"] == "node_actor_only"
        r = await sv.post(f"/service-orders/{so_id}/actions/courier_signed", headers=merchant_h,
                          json={"recipient_phone": PHONE})
        assert r.status_code == 200, r.text
    # The service stops here with the timer running; it must fire after the restart, from the database alone.
    async with running(create_app(cfg)) as sv:
        async def accepted() -> dict[str, object] | None:
            so = await _get(sv, so_id, await buyer.headers())
            return so if so and so["status"] == "completed" else None

        so = await eventually(accepted, timeout=20, what="auto-acceptance after the restart")
        timeline = so["timeline"]
        assert isinstance(timeline, list)
        assert timeline[-1]["action"] == "auto_accept"
        download = await sv.get(f"/service-orders/{so_id}/files/{file_id}", headers=await buyer.headers())
        assert download.content == b"%PDF waybill SF123"
        exported = (await sv.get(f"/service-orders/{so_id}/export", headers=await operator.headers())).json()

        # The buyer has its contact data erased: the delivery phone is masked, the timeline kept as it was.
        erased = AccountErased(producer="orders", correlation_id=rid("corr"), payload=AccountErasedPayload(
            account_id=buyer.account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)))
        await produce(infra.kafka_client(), cfg.topic("account.erased"), erased.model_dump(mode="json"),
                      buyer.account_id)

        async def masked() -> dict[str, object] | None:
            so = await _get(sv, so_id, await buyer.headers())
            return so if so and so["delivery_phone"] == "***01" else None

        after = await eventually(masked, timeout=15, what="the delivery contact masked")
        assert after["timeline"] == timeline
    from services.supervision.verify import problems
    assert problems(json.loads(json.dumps(exported))) == []

    done = [json.loads(r.value) for r in await read_topic(infra.kafka_client(), cfg.topic("acceptance.done"))]
    [mine] = [d for d in done if d["order_id"] == event.order_id]
    assert mine["payload"]["accepted_by"] == "system"
    cleared = [json.loads(r.value) for r in await read_topic(infra.kafka_client(), cfg.topic("deadline.cleared"),
                                                              at_least=2)]
    assert any(c["payload"]["kind"] == "auto_acceptance" and c["payload"]["reason"] == "expired" for c in cleared)
    assert datetime.fromisoformat(mine["payload"]["accepted_at"]) <= datetime.now(UTC)
