"""Supervision in-process on the real broker, database and identity provider: a hardware auto-acceptance timer
that survives a restart of the service, evidence stored in the real database, callers with real Keycloak tokens
(an operator is an operator because its token says so), and account.erased masking the delivery contact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from pymongo import AsyncMongoClient

from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.platform.mongo import Doc, connect
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    DeliveryContact,
    DeliveryType,
    Parties,
)
from tests.conftest import Infra
from tests.factories import order_paid, rid, settings
from tests.helpers import eventually, produce, read_topic, running

PHONE = "+8613811110001"


def _settings(infra: Infra, namespace: str, auto_accept: float) -> SupervisionSettings:
    return settings(
        SupervisionSettings,
        infra,
        namespace,
        hardware_auto_accept_seconds=auto_accept,
        timer_poll_seconds=0.2,
        timer_lease_seconds=2,
    )


async def _get(client: httpx.AsyncClient, so_id: str, headers: dict[str, str]) -> dict[str, object] | None:
    r = await client.get(f"/service-orders/{so_id}", headers=headers)
    return r.json() if r.status_code == 200 else None


async def test_auto_acceptance_survives_a_restart_of_the_service(infra: Infra, namespace: str) -> None:
    buyer, merchant, operator = (
        await infra.idp.user("buyer"),
        await infra.idp.user("merchant"),
        await infra.idp.user("operator"),
    )
    p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    event = order_paid(p, delivery_type=DeliveryType.HARDWARE, amount="880.00")
    event = event.model_copy(
        update={
            "payload": event.payload.model_copy(
                update={"delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen")}
            )
        }
    )
    so_id = f"SO-{event.order_id}"
    cfg = _settings(infra, namespace, auto_accept=4.0)
    async with running(create_app(cfg)) as sv:
        await produce(
            infra.kafka_client(), cfg.topic("order.paid"), event.model_dump(mode="json"), event.order_id
        )
        buyer_h = await buyer.headers()
        await eventually(lambda: _get(sv, so_id, buyer_h), what="service order opened")
        anonymous = await sv.get(f"/service-orders/{so_id}", headers={"X-Account-Id": buyer.account_id})
        assert anonymous.status_code == 401
        merchant_h = await merchant.headers()
        upload = await sv.post(
            f"/service-orders/{so_id}/files",
            headers=merchant_h,
            files={"file": ("waybill.pdf", b"%PDF waybill SF123", "application/pdf")},
            data={"kind": "logistics"},
        )
        assert upload.status_code == 201, upload.text
        file_id = upload.json()["file_id"]
        r = await sv.post(
            f"/service-orders/{so_id}/actions/ship",
            headers=merchant_h,
            json={"evidence": [{"kind": "logistics", "name": "waybill.pdf", "file_id": file_id}]},
        )
        assert r.status_code == 200, r.text
        r = await sv.post(
            f"/service-orders/{so_id}/actions/courier_signed",
            headers=await operator.headers(),
            json={"recipient_phone": PHONE},
        )
        assert r.status_code == 403  # the operator never acts as a party
        assert r.json()["detail"]["rule"] == "node_actor_only"
        r = await sv.post(
            f"/service-orders/{so_id}/actions/courier_signed",
            headers=merchant_h,
            json={"recipient_phone": PHONE},
        )
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
        erased = AccountErased(
            producer="orders",
            correlation_id=rid("corr"),
            payload=AccountErasedPayload(
                account_id=buyer.account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
            ),
        )
        await produce(
            infra.kafka_client(),
            cfg.topic("account.erased"),
            erased.model_dump(mode="json"),
            buyer.account_id,
        )

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
    cleared = [
        json.loads(r.value)
        for r in await read_topic(infra.kafka_client(), cfg.topic("deadline.cleared"), at_least=2)
    ]
    assert any(
        c["payload"]["kind"] == "auto_acceptance" and c["payload"]["reason"] == "expired" for c in cleared
    )
    assert datetime.fromisoformat(mine["payload"]["accepted_at"]) <= datetime.now(UTC)


async def test_a_failing_timer_is_quarantined_and_the_other_timers_keep_firing(
    infra: Infra, namespace: str
) -> None:
    """Issue 10: one failing supervision timer blocked all timers. A deadline whose firing fails (here its service
    order is gone) is recorded, retried with backoff and quarantined; the others fire on time meanwhile."""
    buyer = await infra.idp.user("buyer")
    cfg = settings(
        SupervisionSettings,
        infra,
        namespace,
        idle_seconds=1.0,
        timer_poll_seconds=0.2,
        timer_lease_seconds=2,
        timer_max_attempts=2,
        timer_backoff_seconds=0.1,
    )
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    try:
        # First in line every round: due long ago, about a service order that does not exist.
        await client[cfg.database]["timers"].insert_one(
            {
                "_id": "DL-broken",
                "service_order_id": "SO-gone",
                "kind": "idle",
                "due_at": datetime(2020, 1, 1, tzinfo=UTC),
            }
        )
        event = order_paid(Parties(buyer_account_id=buyer.account_id, merchant_account_id=rid("merchant")))
        so_id = f"SO-{event.order_id}"
        async with running(create_app(cfg)) as sv:
            await produce(
                infra.kafka_client(),
                cfg.topic("order.paid"),
                event.model_dump(mode="json"),
                event.payload.order_id,
            )

            async def idle_fired() -> bool:
                so = await _get(sv, so_id, await buyer.headers())
                timeline = so["timeline"] if so else []
                return isinstance(timeline, list) and any(t["action"] == "idle_due" for t in timeline)

            await eventually(
                idle_fired, timeout=20, what="the buyer's idle deadline fired despite the broken one"
            )

            async def quarantined() -> dict[str, object] | None:
                ready = (await sv.get("/readyz")).json()
                timers = [w for name, w in ready["workers"].items() if "timers" in name]
                return ready if timers and timers[0]["quarantined"] == 1 else None

            ready = await eventually(quarantined, timeout=20, what="the broken timer quarantined")
            assert (
                ready["ready"] is True
            )  # a quarantined item is reported, it does not make the service unready
        row = await client[cfg.database]["worker_items"].find_one({"key": "DL-broken"})
        assert row is not None
        assert row["attempts"] == 2
        assert "SO-gone" in row["last_error"]
        assert row["quarantined_at"] is not None
    finally:
        await client.close()
