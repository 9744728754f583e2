"""Kafka subscribers: one per event in event_cases.EVENT_HANDLERS, all of the same shape (decode the event,
run its handlers through `event_cases.handle`, log), made from that table; each is described by its handlers'
docstrings."""

from __future__ import annotations

import inspect
import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.orders import event_cases
from services.orders.context import OrdersContext
from shared.platform.kafka import batch_subscriber, declare_publishers
from shared.platform.logs import event_fields
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AccountErased,
    AccountRegistered,
    Event,
    NoticeRequested,
    OrderPaid,
    OrderStatusChanged,
    RefundDecided,
    RefundRequested,
)

log = logging.getLogger("orders.handlers")


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(
        broker,
        settings,
        AccountRegistered,
        AccountErased,
        OrderPaid,
        OrderStatusChanged,
        RefundRequested,
        RefundDecided,
        NoticeRequested,  # notices.py, statements.py
    )
    for event_type in event_cases.EVENT_HANDLERS:
        _subscribe(broker, settings, event_type)


def _subscribe(broker: KafkaBroker, settings: ServiceSettings, event_type: type[Event]) -> None:
    async def on_event(event: Event, orders: OrdersContext = Context("orders")) -> None:
        _logged(event, await event_cases.handle(orders, event))

    async def on_events(events: list[Event], orders: OrdersContext = Context("orders")) -> None:
        for event, applied in zip(events, await event_cases.handle_all(orders, events), strict=True):
            _logged(event, applied)

    # A parked event is decoded as this subscription's event type (the parameter's annotation).
    on_event.__annotations__ = {**on_event.__annotations__, "event": event_type}
    on_event.__name__ = on_event.__qualname__ = f"on_{event_type.topic.replace('.', '_')}"
    description = _description(event_cases.EVENT_HANDLERS[event_type])
    batch_subscriber(broker, settings, event_type.topic, description, event_type)(on_event, on_events)


def _logged(event: Event, applied: bool) -> None:
    outcome = "applied" if applied else "ignored (a duplicate)"
    log.info("%s %s", event.event_type, outcome, extra=event_fields(event))


def _description(handlers: list[event_cases.Handler]) -> str:
    """A subscription's description in the AsyncAPI document: the first paragraph of its handlers'
    docstrings."""
    return " ".join(" ".join((inspect.getdoc(h) or h.__name__).split("\n\n")[0].split()) for h in handlers)
