"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.partner.domain import LedgerEntry
from services.partner.services import PartnerService
from shared.platform.kafka import subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import AcceptanceDone, Event, OrderPaid, Topic

log = logging.getLogger("partner.handlers")
SVC = Context("partner")


def _logged(event: Event, entry: LedgerEntry | None) -> None:
    log.info(f"commission {entry.amount} accrued to {entry.provider_id}" if entry else "no earning accrued",
             extra={"event_id": event.event_id, "event_type": event.event_type, "order_id": event.order_id,
                    "correlation_id": event.correlation_id})


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    @subscriber(broker, settings, Topic.ORDER_PAID, "Learn the order's provider binding, amount and share ratio.")
    async def on_paid(event: OrderPaid, svc: PartnerService = SVC) -> None:
        _logged(event, await svc.on_order_paid(event))

    @subscriber(broker, settings, Topic.ACCEPTANCE_DONE, "Accrue the provider's earning on acceptance.")
    async def on_accepted(event: AcceptanceDone, svc: PartnerService = SVC) -> None:
        _logged(event, await svc.on_acceptance_done(event))
