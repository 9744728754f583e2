"""Kafka subscribers: every event type the catalogue speaks about, plus account registrations and erasures,
and the deadlines that drive the reminders.

Every subscriber has the same shape, so they are made from two tables rather than written one by one:
`SUBSCRIPTIONS` says what each topic is consumed for (its AsyncAPI description), and `EVENT_HANDLERS` which
use cases handle it (cosmicpython's `EVENT_HANDLERS`). Each use case claims the event's id in its own
transaction, as consumer `notification`; so a topic has one use case (a second would claim under a name of its
own, or find the event claimed). The topics whose use case has a batch form (`BATCHED`: the messages, the
deadlines) take what a poll fetched in one transaction, and fall back to one event at a time when a batch
fails.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker

from services.notification import privacy, reminder_service, services
from services.notification.catalogue import CATALOGUE
from services.notification.deps import Deps
from shared.platform.kafka import batch_subscriber, subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import EVENT_TYPES, Event, Topic

log = logging.getLogger("notification.handlers")
UseCase = Callable[[Deps, Any], Awaitable[bool]]  # (deps, event) -> False if the event was handled before
DEPS = Context("notification")

SUBSCRIPTIONS: dict[Topic, str] = {
    Topic.ACCOUNT_REGISTERED: "Keep each account's bound email, phone and locale.",
    Topic.ACCOUNT_ERASED: "Erase the account's contact data at its owner's request: recipients deleted, "
    "bound contact and delivery log masked, unsent e-mail and SMS cancelled.",
    Topic.ORDER_PAID: "Tell the buyer the payment arrived and the merchant a paid order is waiting.",
    Topic.MILESTONE_CONFIRMED: "Tell the buyer the merchant confirmed a step.",
    Topic.APPEAL_RAISED: "Tell both parties an appeal froze the service order.",
    Topic.APPEAL_RESOLVED: "Tell both parties how the appeal was resolved.",
    Topic.ORDER_STATUS_CHANGED: "Tell buyer and merchant an order was cancelled (other statuses are told by "
    "the events that caused them).",
    Topic.REFUND_REQUESTED: "Tell the merchant a refund awaits its decision.",
    Topic.REFUND_DECIDED: "Tell the buyer (and the merchant, unless it decided) how a refund was decided.",
    Topic.MERCHANT_CALL_FAILED: "Tell the merchant by SMS and e-mail that a call to its interface failed "
    "(O&M reminder 501, mandatory).",
    Topic.DEADLINE_SCHEDULED: "Start escalating reminders toward the deadline for the party that must act.",
    Topic.DEADLINE_CLEARED: "Stop the deadline's reminders (the party acted, or it was paused or cancelled).",
    Topic.ACCEPTANCE_DONE: "Tell the merchant the delivery was accepted and the buyer the order completed.",
    Topic.NOTICE_REQUESTED: "Tell the recipients a notice names what another service's flow decided (a "
    "statement sent, a product frozen, an expiry ahead): its kind's message type, category and channels; "
    "the same notice id told twice is one notice.",
}

EVENT_HANDLERS: dict[Topic, list[UseCase]] = {
    Topic.ACCOUNT_REGISTERED: [services.register_account],
    Topic.ACCOUNT_ERASED: [privacy.erase_account],
    Topic.DEADLINE_SCHEDULED: [reminder_service.schedule],
    Topic.DEADLINE_CLEARED: [reminder_service.clear],
    **{Topic(event_type): [services.notify] for event_type in CATALOGUE},  # the messages the catalogue names
}


# The use cases that take a batch (what a poll fetched, in one unit of work) as well as one event.
BATCHED: dict[UseCase, Callable[[Deps, Any], Awaitable[list[bool]]]] = {
    services.notify: services.notify_all,
    reminder_service.schedule: reminder_service.schedule_all,
    reminder_service.clear: reminder_service.clear_all,
}


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    for topic, description in SUBSCRIPTIONS.items():
        [use_case] = EVENT_HANDLERS[topic]
        if use_case in BATCHED:
            batch_subscriber(broker, settings, topic, description, EVENT_TYPES[topic])(
                _subscriber(topic), _batch_subscriber(topic, use_case)
            )
        else:
            subscriber(broker, settings, topic, description)(_subscriber(topic))


def _batch_subscriber(topic: Topic, use_case: UseCase) -> Callable[..., Awaitable[None]]:
    async def handle_all(events: list[Event], deps: Deps = DEPS) -> None:
        # Looked up per batch, as EVENT_HANDLERS is per event: a test swapping a use case swaps its batch too.
        for event, done in zip(events, await BATCHED[use_case](deps, events), strict=True):
            name = use_case.__name__
            log.info("%s: %s", name, "done" if done else "duplicate event ignored", extra=_ids(event))

    handle_all.__name__ = handle_all.__qualname__ = f"on_{topic.replace('.', '_')}_batch"
    return handle_all


def _subscriber(topic: Topic) -> Callable[..., Awaitable[None]]:
    """A subscriber of `topic`: the event, decoded as its own type, through each of the topic's use cases."""

    async def handle(event: Event, deps: Deps = DEPS) -> None:
        ids = _ids(event)
        for use_case in EVENT_HANDLERS[topic]:
            done = await use_case(deps, event)
            log.info("%s: %s", use_case.__name__, "done" if done else "duplicate event ignored", extra=ids)

    # FastStream decodes the message as the first parameter's annotation: the topic's event class.
    handle.__annotations__ = {**handle.__annotations__, "event": EVENT_TYPES[topic]}
    handle.__name__ = handle.__qualname__ = f"on_{topic.replace('.', '_')}"
    return handle


def _ids(event: Event) -> dict[str, object]:
    """What a log line says of the event it is about: its ids, which trace it across the services."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "order_id": event.order_id,
        "correlation_id": event.correlation_id,
    }
