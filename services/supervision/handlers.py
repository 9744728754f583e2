"""Kafka subscribers: one per consumed topic, made from `SUBSCRIPTIONS`, each running the use cases that
event_cases.EVENT_HANDLERS lists for its event.

Their annotations are resolved at run time (the parking calls a subscriber again for a parked event, with its
model and its context), so every name they use is imported here, not only for type checking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from faststream import Context
from faststream.kafka import KafkaBroker

from services.supervision.event_cases import BATCH_HANDLERS, EVENT_HANDLERS
from services.supervision.services import SupervisionService
from shared.platform.kafka import batch_subscriber, declare_publishers, subscriber
from shared.platform.parking import MongoParking
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    AppealRaised,
    AppealResolved,
    DeadlineCleared,
    DeadlineScheduled,
    Event,
    LicenseActivated,
    MilestoneConfirmed,
    NoticeRequested,
    OrderPaid,
    RefundDecided,
    SupervisionOverdue,
)

PUBLISHES = (
    MilestoneConfirmed,
    AppealRaised,
    AppealResolved,
    AcceptanceDone,
    DeadlineScheduled,
    DeadlineCleared,
    NoticeRequested,  # escalated appeals, the 180-day reminder (service_order/notices.py)
    SupervisionOverdue,  # legacy orders unsubscribed by the system (dossier §1.5)
)


@dataclass(frozen=True)
class Subscription:
    event: type[Event]
    description: str
    # The order whose parked events may now be handled (events of other topics that came first wait for it).
    arrived: Callable[[Event], str] | None = None


SUBSCRIPTIONS = (
    Subscription(
        OrderPaid, "Open the service order of a paid supervised order.", arrived=lambda e: e.partition_key
    ),
    Subscription(
        AccountErased,
        "Mask the delivery contact of the account's service orders as the buyer (the timeline stays).",
    ),
    Subscription(
        RefundDecided,
        "End the service order as refunded when the orders service approves its refund; a rejection goes on "
        "record (parked until the order's order.paid arrived).",
    ),
    Subscription(
        LicenseActivated, "Pass the License 2.0 activation node as the system, with the activation time."
    ),
)


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    declare_publishers(broker, settings, *PUBLISHES)
    for subscription in SUBSCRIPTIONS:
        _subscribe(broker, settings, subscription)


def _subscribe(broker: KafkaBroker, settings: ServiceSettings, s: Subscription) -> None:
    async def handle(
        event: Event,
        supervision: SupervisionService = Context("supervision"),
        parking: MongoParking | None = Context("parking", default=None),
    ) -> None:
        for use_case in EVENT_HANDLERS[s.event]:  # looked up per event, so a test can swap a use case
            await use_case(supervision, event)
        if s.arrived is not None and parking is not None:
            # Also after a redelivery: the process may have died between the commit and this call.
            await parking.arrived(s.arrived(event))

    handle.__annotations__ = {**handle.__annotations__, "event": s.event}  # the model FastStream parses into
    handle.__name__ = handle.__qualname__ = f"on_{s.event.topic.replace('.', '_')}"
    if s.event not in BATCH_HANDLERS:
        subscriber(broker, settings, s.event.topic, s.description)(handle)
        return

    async def handle_all(
        events: list[Event],
        supervision: SupervisionService = Context("supervision"),
        parking: MongoParking | None = Context("parking", default=None),
    ) -> None:
        await BATCH_HANDLERS[s.event](supervision, events)
        if s.arrived is not None and parking is not None:
            await parking.arrived(*(s.arrived(event) for event in events))

    batch_subscriber(broker, settings, s.event.topic, s.description, s.event)(handle, handle_all)
