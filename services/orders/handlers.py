"""Kafka subscribers: one per event in event_cases.EVENT_HANDLERS, all of the same shape (decode the event, run
its handlers through `event_cases.handle`, log), made from that table and the descriptions below."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.orders import event_cases
from services.orders.context import OrdersContext
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    AccountRegistered,
    AppealRaised,
    AppealResolved,
    Event,
    MerchantCallFailed,
    MilestoneConfirmed,
    OrderPaid,
    OrderStatusChanged,
    RefundDecided,
    RefundRequested,
)

log = logging.getLogger("orders.handlers")

# What each subscription does, in its AsyncAPI channel's words.
DESCRIPTIONS: dict[type[Event], str] = {
    AcceptanceDone: "Complete the order once its service order is accepted.",
    MilestoneConfirmed: "Keep the service order's progress on the order.",
    AppealRaised: "Freeze the order's refunds while the appeal is open (dossier §5.3).",
    AppealResolved: "Unfreeze the order; an appeal resolved with a refund refunds it in full (dossier §5.3).",
    MerchantCallFailed: "Refund a new purchase whose provisioning finally failed (dossier §8.2.2).",
}


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, AccountRegistered, AccountErased, OrderPaid, OrderStatusChanged,
                       RefundRequested, RefundDecided)
    for event_type in event_cases.EVENT_HANDLERS:
        _subscribe(broker, settings, event_type)


def _subscribe(broker: KafkaBroker, settings: ServiceSettings, event_type: type[Event]) -> None:
    async def on_event(event: Event, orders: OrdersContext = Context("orders")) -> None:
        applied = await event_cases.handle(orders, event)
        log.info("%s %s", event.event_type, "applied" if applied else "ignored (a duplicate)",
                 extra={"event_id": event.event_id, "order_id": event.order_id,
                        "correlation_id": event.correlation_id, "event_type": event.event_type})

    # The body is decoded as this subscription's event type (FastStream reads the parameter's annotation).
    on_event.__annotations__ = {**on_event.__annotations__, "event": event_type}
    subscriber(broker, settings, event_type.topic, DESCRIPTIONS[event_type])(on_event)
