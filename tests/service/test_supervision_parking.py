"""supervision and events of other topics arriving before the order.paid that opens their service order (issue 10):
a refund.requested about a service order not opened yet is parked ("not yet known"), never dead-lettered as poison;
order.paid tells the parking the order arrived, and the parked request, handled again, is applied."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.supervision.domain import ServiceOrder
from shared.platform.parking import MongoParking, ParkedRecord
from shared.schemas import DeliveryType, OrderPaid, RefundRequested, RefundRequestedPayload
from tests.factories import order_paid, parties, rid
from tests.service.orders_support import FakeParking
from tests.service.rig import Rig


def refund_for(paid: OrderPaid, amount: str = "30.00") -> RefundRequested:
    return RefundRequested(producer="orders", correlation_id=rid("corr"), order_id=paid.order_id,
                           payload=RefundRequestedPayload(refund_id=rid("RF"), order_id=paid.order_id,
                                                          amount=Decimal(amount), reason="no longer needed",
                                                          parties=paid.payload.parties,
                                                          requested_at=datetime.now(UTC)))


def refunds(rig: Rig, paid: OrderPaid) -> list[tuple[str, str]]:
    so = ServiceOrder.model_validate(rig.state.tables["service_orders"][f"SO-{paid.order_id}"])
    return [(r.refund_id, r.status.value) for r in so.refunds]


async def test_a_refund_request_before_its_order_paid_is_parked_then_applied(supervision_rig: Rig) -> None:
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    request = refund_for(paid)
    async with supervision_rig.running() as rig:
        await rig.publish(request)

        assert rig.dead == []
        [(topic, exc, group)] = parking.parked
        assert (topic, group) == ("svc.refund.requested", "supervision.refund.requested")
        assert exc.aggregate == paid.order_id
        assert f"SO-{paid.order_id}" in exc.message
        assert rig.state.processed == set()  # not claimed, so handling it again applies it
        assert parking.arrivals == []

        await rig.publish(paid)
        assert parking.arrivals == [paid.order_id]  # its parked events are tried again at once

        await rig.publish(request)  # as the parking worker hands it to the same handler again

    assert refunds(rig, paid) == [(request.payload.refund_id, "requested")]
    assert f"supervision:{request.event_id}" in rig.state.processed
    assert len(parking.parked) == 1
    assert rig.dead == []


async def test_the_parking_worker_handles_a_parked_refund_request_through_the_subscriber(
        supervision_rig: Rig) -> None:
    """The parking calls the registered subscriber itself (its type hints resolved, its context filled in)."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    request = refund_for(paid)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        worker = MongoParking.__new__(MongoParking)  # only its `handle`, which needs no database
        worker.policy = rig.policy
        record = ParkedRecord(topic=rig.settings.topic("refund.requested"), partition=0, offset=7,
                              key=paid.payload.order_id.encode(), value=request.model_dump_json().encode(), headers=[])
        await worker.handle(record)

    assert refunds(rig, paid) == [(request.payload.refund_id, "requested")]
    assert parking.arrivals == [paid.order_id]
    assert rig.dead == []


async def test_a_refund_request_for_an_unsupervised_order_is_dead_lettered_not_parked(supervision_rig: Rig) -> None:
    """An image, API or instant SaaS order never gets a service order (dossier §1.2): nothing to wait for."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties(), delivery_type=DeliveryType.API)
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(refund_for(paid))

    assert parking.parked == []
    [dead] = rig.dead
    assert dead.topic == "svc.refund.requested.dlt"
    assert dead.headers["x-exception"] == "NotSupervised"
    assert "not supervised" in dead.headers["x-reason"]


async def test_order_paid_tells_the_parking_even_when_redelivered(supervision_rig: Rig) -> None:
    """A crash between the commit and the announcement must not leave parked events waiting for their backoff."""
    parking = FakeParking().install(supervision_rig)
    paid = order_paid(parties())
    async with supervision_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(paid)

    assert parking.arrivals == [paid.order_id, paid.order_id]
    assert list(rig.state.tables["service_orders"]) == [f"SO-{paid.order_id}"]
