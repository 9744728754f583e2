"""supervision and events of other topics arriving before the order.paid that opens their service order (issue 10):
a refund.decided about a service order not opened yet is parked ("not yet known"), never dead-lettered as poison;
order.paid tells the parking the order arrived, and the parked decision, handled again, is applied."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.supervision.service_order import ServiceOrder
from shared.platform.parking import MongoParking, ParkedRecord
from shared.schemas import DeliveryType, OrderPaid, PartyRole, RefundDecided, RefundDecidedPayload
from tests.factories import order_paid, parties, rid
from tests.service.orders_support import FakeParking
from tests.service.rig import Rig


def refund_for(paid: OrderPaid, amount: str = "30.00") -> RefundDecided:
    return RefundDecided(
        producer="orders",
        correlation_id=rid("corr"),
        order_id=paid.order_id,
        payload=RefundDecidedPayload(
            refund_id=rid("RF"),
            order_id=paid.order_id,
            approved=True,
            amount=Decimal(amount),
            reason="no longer needed",
            decided_by_role=PartyRole.MERCHANT,
            decided_by_account_id=paid.payload.parties.merchant_account_id,
            parties=paid.payload.parties,
            decided_at=datetime.now(UTC),
        ),
    )


def refunds(rig: Rig, paid: OrderPaid) -> list[tuple[str, str, str]]:
    so = ServiceOrder.model_validate(rig.state.tables["service_orders"][f"SO-{paid.order_id}"])
    return [(r.refund_id, r.status.value, so.status.value) for r in so.refunds]


async def test_a_refund_decided_before_its_order_paid_is_parked_then_applied(supervision_rig: Rig) -> None:
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    decided = refund_for(paid)
    async with supervision_rig.running() as rig:
        await rig.publish(decided)

        assert rig.dead == []
        [(topic, exc, group)] = parking.parked
        assert (topic, group) == ("svc.refund.decided", "supervision.refund.decided")
        assert exc.aggregate == paid.order_id
        assert f"SO-{paid.order_id}" in exc.message
        assert rig.state.processed == set()  # not claimed, so handling it again applies it
        assert parking.arrivals == []

        await rig.publish(paid)
        assert parking.arrivals == [paid.order_id]  # its parked events are tried again at once

        await rig.publish(decided)  # as the parking worker hands it to the same handler again

    assert refunds(rig, paid) == [(decided.payload.refund_id, "approved", "refunded")]
    assert f"supervision:{decided.event_id}" in rig.state.processed
    assert len(parking.parked) == 1
    assert rig.dead == []


async def test_the_parking_worker_handles_a_parked_refund_decided_through_the_subscriber(
    supervision_rig: Rig,
) -> None:
    """The parking calls the registered subscriber itself (its type hints resolved, its context filled in)."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    decided = refund_for(paid)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        worker = MongoParking.__new__(MongoParking)  # only its `handle`, which needs no database
        worker.policy = rig.policy
        record = ParkedRecord(
            topic=rig.settings.topic("refund.decided"),
            partition=0,
            offset=7,
            key=paid.payload.order_id.encode(),
            value=decided.model_dump_json().encode(),
            headers=[],
        )
        await worker.handle(record)

    assert refunds(rig, paid) == [(decided.payload.refund_id, "approved", "refunded")]
    assert parking.arrivals == [paid.order_id]
    assert rig.dead == []


async def test_a_refund_decided_for_an_unsupervised_order_is_neither_parked_nor_dead_lettered(
    supervision_rig: Rig,
) -> None:
    """An image, API or instant SaaS order never gets a service order (dossier §1.2): nothing to wait for, and
    nothing wrong with the event either (orders refunds those orders too)."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties(), delivery_type=DeliveryType.API)
    decided = refund_for(paid)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(decided)

    assert parking.parked == []
    assert rig.dead == []
    assert f"supervision:{decided.event_id}" in rig.state.processed
    assert rig.state.tables.get("service_orders", {}) == {}


async def test_order_paid_tells_the_parking_even_when_redelivered(supervision_rig: Rig) -> None:
    """A crash between the commit and the announcement must not leave parked events waiting for their backoff."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(paid)

    assert parking.arrivals == [paid.order_id, paid.order_id]
    assert list(rig.state.tables["service_orders"]) == [f"SO-{paid.order_id}"]
