"""Kafka subscribers: every event type the catalogue speaks about, plus account registrations and erasures."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from faststream import Context
from faststream.kafka import KafkaBroker

from services.notification.privacy import PrivacyService
from services.notification.reminder_service import ReminderService
from services.notification.services import NotificationService
from shared.platform.kafka import subscriber
from shared.platform.settings import ServiceSettings
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    AccountRegistered,
    AppealRaised,
    AppealResolved,
    DeadlineCleared,
    DeadlineScheduled,
    Event,
    MerchantCallFailed,
    MilestoneConfirmed,
    OrderPaid,
    OrderStatusChanged,
    RefundDecided,
    RefundRequested,
    Topic,
)

log = logging.getLogger("notification.handlers")
Handler = Callable[..., Awaitable[None]]
SVC = Context("notification")
REMINDERS = Context("reminders")
PRIVACY = Context("privacy")


def _logged(event: Event, planned: bool) -> None:
    log.info("messages planned" if planned else "duplicate event ignored",
             extra={"event_id": event.event_id, "event_type": event.event_type, "order_id": event.order_id,
                    "correlation_id": event.correlation_id})


def register(broker: KafkaBroker, settings: ServiceSettings) -> None:
    def sub(topic: Topic, what: str) -> Callable[[Handler], Handler]:
        return subscriber(broker, settings, topic, what)

    @sub(Topic.ACCOUNT_REGISTERED, "Keep each account's bound email, phone and locale.")
    async def on_account(event: AccountRegistered, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_account_registered(event))

    @sub(Topic.ACCOUNT_ERASED, "Erase the account's contact data at its owner's request: recipients deleted, "
                               "bound contact and delivery log masked, unsent e-mail and SMS cancelled.")
    async def on_erased(event: AccountErased, privacy: PrivacyService = PRIVACY) -> None:
        await privacy.on_account_erased(event)

    @sub(Topic.ORDER_PAID, "Tell the buyer the payment arrived and the merchant a paid order is waiting.")
    async def on_paid(event: OrderPaid, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.MILESTONE_CONFIRMED, "Tell the buyer the merchant confirmed a step.")
    async def on_milestone(event: MilestoneConfirmed, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.APPEAL_RAISED, "Tell both parties an appeal froze the service order.")
    async def on_appeal(event: AppealRaised, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.APPEAL_RESOLVED, "Tell both parties how the appeal was resolved.")
    async def on_resolved(event: AppealResolved, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.ORDER_STATUS_CHANGED, "Tell buyer and merchant an order was cancelled (other statuses are told "
                                     "by the events that caused them).")
    async def on_status(event: OrderStatusChanged, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.REFUND_REQUESTED, "Tell the merchant a refund awaits its decision.")
    async def on_refund_requested(event: RefundRequested, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.REFUND_DECIDED, "Tell the buyer (and the merchant, unless it decided) how a refund was decided.")
    async def on_refund_decided(event: RefundDecided, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.MERCHANT_CALL_FAILED, "Tell the merchant by SMS and e-mail that a call to its interface failed "
                                     "(O&M reminder 501, mandatory).")
    async def on_call_failed(event: MerchantCallFailed, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))

    @sub(Topic.DEADLINE_SCHEDULED, "Start escalating reminders toward the deadline for the party that must act.")
    async def on_deadline(event: DeadlineScheduled, reminders: ReminderService = REMINDERS) -> None:
        _logged(event, await reminders.on_scheduled(event))

    @sub(Topic.DEADLINE_CLEARED, "Stop the deadline's reminders (the party acted, or it was paused or cancelled).")
    async def on_deadline_cleared(event: DeadlineCleared, reminders: ReminderService = REMINDERS) -> None:
        _logged(event, await reminders.on_cleared(event))

    @sub(Topic.ACCEPTANCE_DONE, "Tell the merchant the delivery was accepted and the buyer the order completed.")
    async def on_accepted(event: AcceptanceDone, svc: NotificationService = SVC) -> None:
        _logged(event, await svc.on_event(event))
