"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.orders.services import OrdersService
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import AcceptanceDone, AccountRegistered, OrderPaid, Topic

log = logging.getLogger("orders.handlers")


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, AccountRegistered, OrderPaid)

    @subscriber(broker, settings, Topic.ACCEPTANCE_DONE, "Complete the order once its service order is accepted.")
    async def on_acceptance_done(event: AcceptanceDone, orders: OrdersService = Context("orders")) -> None:
        applied = await orders.on_acceptance_done(event)
        log.info("acceptance applied" if applied else "duplicate acceptance ignored",
                 extra={"event_id": event.event_id, "order_id": event.order_id,
                        "correlation_id": event.correlation_id, "event_type": event.event_type})
