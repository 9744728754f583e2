"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.supervision.services import SupervisionService
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import AcceptanceDone, AppealRaised, MilestoneConfirmed, OrderPaid, Topic

log = logging.getLogger("supervision.handlers")


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, MilestoneConfirmed, AppealRaised, AcceptanceDone)

    @subscriber(broker, settings, Topic.ORDER_PAID, "Open the service order of a paid supervised order.")
    async def on_order_paid(event: OrderPaid, supervision: SupervisionService = Context("supervision")) -> None:
        so = await supervision.on_order_paid(event)
        log.info("service order opened" if so else "no service order (unsupervised or duplicate)",
                 extra={"event_id": event.event_id, "order_id": event.order_id,
                        "correlation_id": event.correlation_id, "event_type": event.event_type})
