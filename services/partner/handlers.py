"""Kafka subscribers: thin adapters, one per topic, made from one table (topic's event → what partner does
with it, as the AsyncAPI document says). Each takes what a poll fetched to `PartnerService.handle_all` (one
unit of work for the batch), and an event at a time to `PartnerService.handle` when a batch fails
(services.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker

from services.partner.domain import LedgerEntry
from services.partner.services import PartnerService
from shared.platform.kafka import batch_subscriber, declare_publishers
from shared.platform.logs import event_fields
from shared.platform.parking import MongoParking as Parking
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    Event,
    MerchantCallFailed,
    NoticeRequested,
    OrderPaid,
    OrderStatusChanged,
    RefundDecided,
)

log = logging.getLogger("partner.handlers")
SVC = Context("partner")
PARKING = Context("parking", default=None)  # None where no parking runs (service tests with fakes)

SUBSCRIBERS: dict[type[Event], str] = {
    OrderPaid: (
        "Learn the provider binding, amount and share ratio; close joint-selling demands; start SaaS calls."
    ),
    AcceptanceDone: "Accrue the provider's earning on acceptance.",
    RefundDecided: "An approved refund reverses the provider's earning.",
    OrderStatusChanged: "An order cancelled before acceptance never earns.",
    AccountErased: (
        "Mask the buyer's enterprise users' contact data in its Kit calls; such a call is never sent again."
    ),
}


def _logged(event: Event, results: list[Any]) -> None:
    entries = [f"{r.kind} {r.amount} for {r.provider_id}" for r in results if isinstance(r, LedgerEntry)]
    log.info(
        "; ".join(entries) or "no ledger entry",
        extra=event_fields(event),
    )


def _subscriber(kind: type[Event]) -> Callable[..., Awaitable[None]]:
    async def handle(event: Event, svc: PartnerService = SVC, parking: Parking | None = PARKING) -> None:
        _logged(event, await svc.handle(event))
        if isinstance(event, OrderPaid) and parking is not None:
            # the order's events that came first and wait for it are tried again now
            await parking.arrived(event.payload.order_id)

    # FastStream parses the event into (and the AsyncAPI document names) the annotated type: the topic's own.
    handle.__annotations__ = {**handle.__annotations__, "event": kind}
    handle.__name__ = handle.__qualname__ = f"on_{kind.topic.replace('.', '_')}"
    return handle


def _batch_subscriber(kind: type[Event]) -> Callable[..., Awaitable[None]]:
    async def handle_all(
        events: list[Event], svc: PartnerService = SVC, parking: Parking | None = PARKING
    ) -> None:
        for event, results in zip(events, await svc.handle_all(events), strict=True):
            _logged(event, results)
        paid = [event.payload.order_id for event in events if isinstance(event, OrderPaid)]
        if paid and parking is not None:  # the orders' events that came first and wait for them
            await parking.arrived(*paid)

    handle_all.__name__ = handle_all.__qualname__ = f"on_{kind.topic.replace('.', '_')}_batch"
    return handle_all


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, MerchantCallFailed, NoticeRequested)  # notices: bill states (§7.6)
    for kind, description in SUBSCRIBERS.items():
        batch_subscriber(broker, settings, kind.topic, description, kind)(
            _subscriber(kind), _batch_subscriber(kind)
        )
