"""Supervision on the real broker, database and identity provider, with events of different topics arriving out of
order (issue 10): the orders service's refund.decided handled before its order's order.paid is parked, not
dead-lettered, and applied as soon as order.paid opens the service order (which then reads as refunded)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.schemas import Parties, PartyRole, RefundDecided, RefundDecidedPayload, Topic, dead_letter
from tests.conftest import Infra
from tests.factories import order_paid, rid, settings
from tests.helpers import eventually, produce, read_topic, running


async def test_a_refund_decided_before_its_order_paid_is_parked_then_applied(
    infra: Infra, namespace: str
) -> None:
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    paid = order_paid(p, amount="100.00")
    order_id = paid.payload.order_id
    so_id = f"SO-{order_id}"
    refund = RefundDecided(
        producer="orders",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=RefundDecidedPayload(
            refund_id=rid("RF"),
            order_id=order_id,
            approved=True,
            amount=Decimal("40.00"),
            reason="plans changed",
            opinion="agreed",
            decided_by_role=PartyRole.MERCHANT,
            decided_by_account_id=merchant.account_id,
            parties=p,
            decided_at=datetime.now(UTC),
        ),
    )
    cfg = settings(SupervisionSettings, infra, namespace)
    admin = infra.kafka_client()
    async with running(create_app(cfg)) as sv:
        await produce(admin, cfg.topic(Topic.REFUND_DECIDED), refund.model_dump(mode="json"), order_id)

        async def parked(min_attempts: int) -> dict[str, Any] | None:
            rows = (await sv.get("/operator/parked", headers=await operator.headers())).json()
            mine = [r for r in rows if r["aggregate"] == order_id]
            return mine[0] if mine and mine[0]["attempts"] >= min_attempts else None

        row = await eventually(lambda: parked(0), timeout=15, what="the early refund decision parked")
        assert row["topic"] == cfg.topic(Topic.REFUND_DECIDED)
        assert row["key"] == order_id
        assert row["reason"].startswith("NotYetKnown"), row
        assert so_id in row["reason"]
        stranger = await sv.get("/operator/parked", headers=await buyer.headers())
        assert stranger.status_code == 403
        # Tried again with backoff meanwhile (1 s, 2 s, 4 s, then 8 s to the next try) ...
        await eventually(lambda: parked(3), timeout=20, what="the parked decision tried again with backoff")

        # ... and at once when order.paid opens the service order (`parking.arrived`), not after the 8 s.
        await produce(admin, cfg.topic(Topic.ORDER_PAID), paid.model_dump(mode="json"), order_id)

        async def applied() -> dict[str, Any] | None:
            r = await sv.get(f"/service-orders/{so_id}", headers=await buyer.headers())
            return r.json() if r.status_code == 200 and r.json()["refunds"] else None

        so = await eventually(
            applied, timeout=5, what="the parked refund decision applied once order.paid arrived"
        )
        assert [(r["refund_id"], r["amount"], r["status"]) for r in so["refunds"]] == [
            (refund.payload.refund_id, "40.00", "approved")
        ]
        assert [t["action"] for t in so["timeline"]] == ["open", "refund_approved"]
        assert (so["status"], so["node"], so["deadlines"]) == ("refunded", None, [])

        async def unparked() -> bool:
            rows = (await sv.get("/operator/parked", headers=await operator.headers())).json()
            return not [r for r in rows if r["aggregate"] == order_id]

        await eventually(unparked, timeout=10, what="the parked event gone once handled")
    for topic in (Topic.REFUND_DECIDED, Topic.ORDER_PAID):
        assert await read_topic(admin, dead_letter(cfg.topic(topic)), timeout=3) == [], (
            f"{topic} dead-lettered"
        )
