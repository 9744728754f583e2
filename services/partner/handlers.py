"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.partner.domain import LedgerEntry
from services.partner.services import PartnerService
from shared.platform.kafka import declare_publishers, subscriber
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
    Topic,
)

log = logging.getLogger("partner.handlers")
SVC = Context("partner")
PARKING = Context("parking", default=None)  # None where no parking runs (service tests with fakes)


def _logged(event: Event, entry: LedgerEntry | None) -> None:
    log.info(f"{entry.kind} {entry.amount} for {entry.provider_id}" if entry else "no ledger entry",
             extra={"event_id": event.event_id, "event_type": event.event_type, "order_id": event.order_id,
                    "correlation_id": event.correlation_id})


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, MerchantCallFailed)

    @subscriber(broker, settings, Topic.ORDER_PAID,
                "Learn the provider binding, amount and share ratio; close joint-selling demands; start SaaS calls.")
    async def on_paid(event: OrderPaid, svc: PartnerService = SVC, parking: Parking | None = PARKING) -> None:
        _logged(event, await svc.on_order_paid(event))
        if parking is not None:  # the order's events that came first and wait for it are tried again now
            await parking.arrived(event.payload.order_id)

    @subscriber(broker, settings, Topic.ACCEPTANCE_DONE, "Accrue the provider's earning on acceptance.")
    async def on_accepted(event: AcceptanceDone, svc: PartnerService = SVC) -> None:
        _logged(event, await svc.on_acceptance_done(event))

    @subscriber(broker, settings, Topic.REFUND_DECIDED, "An approved refund reverses the provider's earning.")
    async def on_refund(event: RefundDecided, svc: PartnerService = SVC) -> None:
        _logged(event, await svc.on_refund_decided(event))

    @subscriber(broker, settings, Topic.ORDER_STATUS_CHANGED, "An order cancelled before acceptance never earns.")
    async def on_status(event: OrderStatusChanged, svc: PartnerService = SVC) -> None:
        await svc.on_status_changed(event)

    @subscriber(broker, settings, Topic.ACCOUNT_ERASED,
                "Mask the buyer's enterprise users' contact data in its Kit calls; such a call is never sent again.")
    async def on_erased(event: AccountErased, svc: PartnerService = SVC) -> None:
        changed = await svc.on_account_erased(event)
        log.info("erased contact data from %d merchant calls", changed,
                 extra={"event_id": event.event_id, "event_type": event.event_type,
                        "correlation_id": event.correlation_id})
