"""Kafka subscribers: thin adapters, one per topic, made from one table (topic's event → what partner does
with it, as the AsyncAPI document says). Each hands its event to `PartnerService.handle` (services.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker

from services.partner.domain import LedgerEntry
from services.partner.services import PartnerService
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.logs import event_fields
from shared.platform.parking import MongoParking as Parking
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    Event,
    MerchantCallFailed,
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


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, MerchantCallFailed)
    for kind, description in SUBSCRIBERS.items():
        subscriber(broker, settings, kind.topic, description)(_subscriber(kind))
