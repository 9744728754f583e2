"""partner and the order of events across topics on the real stack (issue 10): orders publishes order.paid and the
status change carrying a SaaS order's validity end together, on two topics; when partner consumes the status change
first it parks it (NotYetKnown), and order.paid tells the parking, so the expiry call is scheduled at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import DeliveryType, OrderStatus, OrderStatusChanged, OrderStatusChangedPayload, Parties
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, running
from tests.integration.test_partner_sync import FAST, calls_of, publish


async def test_a_validity_end_before_order_paid_waits_parked_and_schedules_the_expiry_once_paid(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    buyer, merchant = await infra.idp.user("buyer"), await infra.idp.user("merchant")
    p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    paid = f.order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    order_id, ends = paid.payload.order_id, datetime.now(UTC) + timedelta(days=30)
    completed = OrderStatusChanged(
        producer="tests",
        correlation_id=f.rid("c"),
        order_id=order_id,
        payload=OrderStatusChangedPayload(
            order_id=order_id,
            from_status=OrderStatus.PENDING_PAYMENT,
            to_status=OrderStatus.COMPLETED,
            reason="paid",
            parties=p,
            amount=paid.payload.amount,
            validity_starts_at=ends - timedelta(days=30),
            validity_ends_at=ends,
            changed_at=datetime.now(UTC),
        ),
    )
    app = create_app(settings)
    async with running(app) as client:
        db = app.state.runtime.db
        await publish(infra, namespace, completed)
        parked = await eventually(
            lambda: db["parked_events"].find_one({"aggregate": order_id}), what="parked"
        )
        assert "before its order.paid" in parked["reason"]

        await publish(infra, namespace, paid)

        async def expiry() -> dict[str, Any] | None:
            recent = (await calls_of(client, merchant)).get("expireInstance", {}).get("recent", [])
            return recent[0] if recent else None

        call = await eventually(expiry, what="the expiry call", timeout=10)
        assert call["call_id"] == f"expireInstance:{order_id}"
        assert abs(datetime.fromisoformat(call["due_at"]) - ends) < timedelta(milliseconds=1)  # stored in ms
        await eventually(lambda: _gone(db, order_id), what="the parked event handled and removed")


async def _gone(db: Any, order_id: str) -> bool:
    return await db["parked_events"].count_documents({"aggregate": order_id}) == 0
