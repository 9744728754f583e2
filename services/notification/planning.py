"""One message for one account, planned: its targets resolved, its text rendered, the in-site copy written to
the inbox and the e-mail / SMS deliveries queued, in the caller's unit of work. Every use case that tells
someone something comes through here (events, reminder steps, verification messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notification.catalogue import Channel, MessageType, render
from services.notification.centre import Recipient
from services.notification.domain import Cause, Contact, Delivery, Outgoing, resolve
from services.notification.inbox import InboxMessage
from services.notification.store import NotificationUnitOfWork


async def plan_message(
    uow: NotificationUnitOfWork,
    cause: Cause,
    contact: Contact,
    message: MessageType,
    ctx: dict[str, Any],
    now: datetime,
    *,
    channels: tuple[Channel, ...] | None = None,
    recipients: list[Recipient] | None = None,
    note: str | None = None,
) -> list[Delivery]:
    """Resolve, render and store one message for one account: the inbox row now, e-mail / SMS queued."""
    if recipients is None:
        recipients = await uow.recipients.of_account(contact.account_id)
    targets, trace = resolve(contact, recipients, message)
    if note:
        trace = [note, *trace]
    if channels is not None:
        skipped = [t for t in targets if t.channel not in channels]
        targets = [t for t in targets if t.channel in channels]
        trace += [
            f"{t.channel.value} to {t.address} skipped: not this reminder's channel" for t in skipped[:1]
        ]
    outgoing = Outgoing(cause, contact.account_id, message, render(message.key, contact.locale, ctx), trace)
    deliveries = [Delivery.plan(outgoing, t, now) for t in targets]
    for d in deliveries:
        if d.channel is Channel.IN_SITE:
            await uow.inbox.add(InboxMessage.of(d))
    if deliveries:
        await uow.deliveries.add_all(deliveries)
    return deliveries
