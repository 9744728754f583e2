"""Kafka subscribers: thin adapters from an event to one use case."""

from __future__ import annotations

import logging

from faststream import Context
from faststream.kafka import KafkaBroker

from services.orders.services import OrdersService
from shared.platform.kafka import declare_publishers, subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    AccountRegistered,
    Event,
    MerchantCallFailed,
    MilestoneConfirmed,
    OrderPaid,
    OrderStatusChanged,
    RefundDecided,
    RefundRequested,
    Topic,
)

log = logging.getLogger("orders.handlers")


def _logged(event: Event, applied: bool) -> None:
    log.info("%s %s", event.event_type, "applied" if applied else "ignored (duplicate or not ours)",
             extra={"event_id": event.event_id, "order_id": event.order_id,
                    "correlation_id": event.correlation_id, "event_type": event.event_type})


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, AccountRegistered, AccountErased, OrderPaid, OrderStatusChanged,
                       RefundRequested, RefundDecided)

    @subscriber(broker, settings, Topic.ACCEPTANCE_DONE, "Complete the order once its service order is accepted.")
    async def on_acceptance_done(event: AcceptanceDone, orders: OrdersService = Context("orders")) -> None:
        _logged(event, await orders.on_acceptance_done(event))

    @subscriber(broker, settings, Topic.MILESTONE_CONFIRMED, "Keep the service order's progress on the order.")
    async def on_milestone_confirmed(event: MilestoneConfirmed, orders: OrdersService = Context("orders")) -> None:
        _logged(event, await orders.on_milestone_confirmed(event))

    @subscriber(broker, settings, Topic.REFUND_DECIDED, "Refund the order when its refund is approved.")
    async def on_refund_decided(event: RefundDecided, orders: OrdersService = Context("orders")) -> None:
        _logged(event, await orders.on_refund_decided(event))

    @subscriber(broker, settings, Topic.MERCHANT_CALL_FAILED,
                "Refund a new purchase whose provisioning finally failed (dossier §8.2.2).")
    async def on_merchant_call_failed(event: MerchantCallFailed, orders: OrdersService = Context("orders")) -> None:
        _logged(event, await orders.on_merchant_call_failed(event))
