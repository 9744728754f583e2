"""Kafka subscribers: thin adapters from an event to one use case.

Their annotations are resolved at run time (the parking calls a subscriber again for a parked event, with its model
and its context), so every name they use is imported here, not only for type checking."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.supervision.services import SupervisionService
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.parking import MongoParking
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    AppealRaised,
    AppealResolved,
    DeadlineCleared,
    DeadlineScheduled,
    Event,
    MilestoneConfirmed,
    OrderPaid,
    RefundDecided,
    RefundRequested,
    Topic,
)

log = logging.getLogger("supervision.handlers")


def _ctx(event: Event) -> dict[str, str | None]:
    return {"event_id": str(event.event_id), "order_id": event.order_id, "correlation_id": event.correlation_id,
            "event_type": event.event_type}


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, MilestoneConfirmed, AppealRaised, AppealResolved, AcceptanceDone,
                       RefundDecided, DeadlineScheduled, DeadlineCleared)

    @subscriber(broker, settings, Topic.ORDER_PAID, "Open the service order of a paid supervised order.")
    async def on_order_paid(event: OrderPaid, supervision: SupervisionService = Context("supervision"),
                            parking: MongoParking | None = Context("parking", default=None)) -> None:
        so = await supervision.on_order_paid(event)
        log.info("service order opened" if so else "no service order (unsupervised or duplicate)", extra=_ctx(event))
        if parking is not None:  # events about it that came first are handled again now; also after a redelivery,
            await parking.arrived(event.payload.order_id)  # in case the process died between the commit and this call

    @subscriber(broker, settings, Topic.ACCOUNT_ERASED,
                "Mask the delivery contact of the account's service orders as the buyer (the timeline stays).")
    async def on_account_erased(event: AccountErased, supervision: SupervisionService = Context("supervision")) -> None:
        masked = await supervision.on_account_erased(event)
        log.info("contact data erased on %d service order(s)", masked, extra=_ctx(event))

    @subscriber(broker, settings, Topic.REFUND_REQUESTED,
                "Record a buyer's refund request for the merchant (parked until the order's order.paid arrived).")
    async def on_refund_requested(event: RefundRequested,
                                  supervision: SupervisionService = Context("supervision")) -> None:
        await supervision.on_refund_requested(event)
        log.info("refund request recorded", extra=_ctx(event))
