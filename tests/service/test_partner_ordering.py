"""partner and the order of events across topics (issue 10): an event about an order whose order.paid has not
arrived yet is parked (NotYetKnown, aggregate: the order id) and handled again once order.paid arrives, unless
partner handles it already by merging whichever fact comes first into the order's record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.partner.calls import MerchantCall
from shared.platform.errors import NotYetKnown
from shared.schemas import DeliveryType, OrderStatus, OrderStatusChanged, OrderStatusChangedPayload
from tests.factories import acceptance_done, order_paid, parties, rid
from tests.service.rig import Rig
from tests.service.test_partner_events import ledger, refund_decided, status_changed


class FakeParking:
    """Records what the consumer parks and which orders arrived; the test hands parked events back, as the
    parking worker would."""

    def __init__(self) -> None:
        self.parked: list[tuple[Any, NotYetKnown]] = []
        self.arrivals: list[str] = []

    async def park(self, record: Any, exc: NotYetKnown, group: str) -> None:
        self.parked.append((record, exc))

    async def arrived(self, *aggregates: str) -> None:
        self.arrivals.extend(aggregates)

    async def retry(self, rig: Rig) -> None:
        """The parking worker's second try of every parked event, through the same subscriber."""
        parked, self.parked = self.parked, []
        for record, _ in parked:
            topic = record.topic.removeprefix(f"{rig.settings.topic_namespace}.")
            await rig.publish_raw(json.loads(record.value), topic, key=record.key.decode())


def parked_in(rig: Rig) -> FakeParking:
    parking = FakeParking()
    rig.policy.parking = parking
    rig.broker.context.set_global("parking", parking)
    return parking


def calls(rig: Rig) -> dict[str, MerchantCall]:
    return {k: MerchantCall.model_validate(v) for k, v in rig.state.tables.get("merchant_calls", {}).items()}


async def test_a_saas_validity_end_before_order_paid_is_parked_then_schedules_the_expiry(
    partner_rig: Rig,
) -> None:
    paid = order_paid(parties(None), delivery_type=DeliveryType.SAAS_INSTANT)
    ends = datetime(2027, 1, 1, tzinfo=UTC)
    parking = parked_in(partner_rig)
    async with partner_rig.running() as rig:
        await rig.publish(
            status_changed(paid, ends)
        )  # orders emits both together; partner sees this one first
        [(_, waiting)] = parking.parked
        assert waiting.aggregate == paid.order_id
        await rig.publish(paid)
        assert parking.arrivals == [paid.order_id]
        await parking.retry(rig)

    expiry = calls(rig)[f"expireInstance:{paid.order_id}"]
    assert expiry.due_at == ends
    assert rig.dead == []


async def test_an_approved_refund_before_order_paid_is_parked_then_releases_the_instance(
    partner_rig: Rig,
) -> None:
    paid = order_paid(parties(), delivery_type=DeliveryType.SAAS_INSTANT)
    parking = parked_in(partner_rig)
    async with partner_rig.running() as rig:
        await rig.publish(refund_decided(paid, "100.00"))
        assert [exc.aggregate for _, exc in parking.parked] == [paid.order_id]
        await rig.publish(paid)
        await parking.retry(rig)

    assert sorted(c.endpoint for c in calls(rig).values()) == ["newInstance", "releaseInstance"]
    assert rig.dead == []


async def test_a_partial_refund_seen_before_order_paid_reverses_only_its_share(partner_rig: Rig) -> None:
    """Accepted, then partly refunded, with order.paid late: the earning accrues and the refunded share is reversed,
    as when the events come in order (it used to cancel the whole earning)."""
    p = parties(rid("prov"))
    paid = order_paid(p, amount="100.00", ratio="0.10")
    parking = parked_in(partner_rig)
    async with partner_rig.running() as rig:
        await rig.publish(
            acceptance_done(p, paid.payload.order_id)
        )  # merged into the order's record, not parked
        await rig.publish(refund_decided(paid, "50.00"))
        assert len(parking.parked) == 1
        await rig.publish(paid)
        await parking.retry(rig)

    earning, reversal = ledger(rig)
    assert (earning.kind, earning.amount) == ("commission", Decimal("10.00"))
    assert (reversal.kind, reversal.amount) == ("reversal", Decimal("-5.00"))
    assert rig.dead == []


async def test_what_partner_merges_or_ignores_is_never_parked(partner_rig: Rig) -> None:
    """acceptance.done first is merged (the commission still accrues once); a cancellation of an order that was
    never paid and the events of an order without a provider are handled at once."""
    provider = rid("prov")
    p, unpaid, plain = parties(provider), parties(provider), parties(None)
    paid, plain_paid = order_paid(p, amount="200.00", ratio="0.10"), order_paid(plain)
    never_paid = order_paid(unpaid)
    cancelled = OrderStatusChanged(
        producer="tests",
        correlation_id=rid("c"),
        order_id=never_paid.order_id,
        payload=OrderStatusChangedPayload(
            order_id=never_paid.order_id,
            from_status=OrderStatus.PENDING_PAYMENT,
            to_status=OrderStatus.CANCELLED,
            reason="not paid",
            parties=unpaid,
            amount=Decimal("100.00"),
            changed_at=datetime.now(UTC) - timedelta(hours=1),
        ),
    )
    parking = parked_in(partner_rig)
    async with partner_rig.running() as rig:
        for event in (
            acceptance_done(p, paid.payload.order_id),
            paid,
            cancelled,
            acceptance_done(plain, plain_paid.payload.order_id),
            plain_paid,
            refund_decided(plain_paid, "100.00"),
        ):
            await rig.publish(event)

    assert parking.parked == []
    [earning] = ledger(rig)
    assert earning.amount == Decimal("20.00")
    assert rig.state.tables["bound_orders"][never_paid.payload.order_id]["cancelled"] is True
    assert set(parking.arrivals) == {paid.order_id, plain_paid.order_id}
    assert rig.dead == []
