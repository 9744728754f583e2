"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.supervision.services import SupervisionService
from shared.platform.kafka import declare_publishers, subscriber
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
    async def on_order_paid(event: OrderPaid, supervision: SupervisionService = Context("supervision")) -> None:
        so = await supervision.on_order_paid(event)
        log.info("service order opened" if so else "no service order (unsupervised or duplicate)", extra=_ctx(event))

    @subscriber(broker, settings, Topic.ACCOUNT_ERASED,
                "Mask the delivery contact of the account's service orders as the buyer (the timeline stays).")
    async def on_account_erased(event: AccountErased, supervision: SupervisionService = Context("supervision")) -> None:
        masked = await supervision.on_account_erased(event)
        log.info("contact data erased on %d service order(s)", masked, extra=_ctx(event))

    @subscriber(broker, settings, Topic.REFUND_REQUESTED, "Record a buyer's refund request for the merchant.")
    async def on_refund_requested(event: RefundRequested,
                                  supervision: SupervisionService = Context("supervision")) -> None:
        await supervision.on_refund_requested(event)
        log.info("refund request recorded", extra=_ctx(event))
