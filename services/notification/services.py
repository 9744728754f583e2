"""Use cases: turn an event into in-site messages and queued email / SMS deliveries, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.notification.catalogue import Channel, MessageType, render, rules_for
from services.notification.centre import Recipient
from services.notification.domain import Contact, Delivery, resolve
from services.notification.store import InboxMessage, NotificationUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRegistered, AccountRole, Event

CONSUMER = "notification"
T = TypeVar("T")


async def accounts_for(uow: NotificationUnitOfWork, role: AccountRole, event: Event) -> list[str]:
    """The accounts that play `role` in this event: from its parties, or every operator for appeals."""
    if role is AccountRole.OPERATOR:
        return await uow.store.operators()
    payload = event.payload
    if role is AccountRole.MERCHANT and getattr(payload, "merchant_account_id", None):
        return [payload.merchant_account_id]  # merchant_call.failed names it directly; parties may be absent
    parties = getattr(payload, "parties", None)
    if parties is None:
        return []
    found = {AccountRole.BUYER: parties.buyer_account_id, AccountRole.MERCHANT: parties.merchant_account_id,
             AccountRole.PROVIDER: parties.provider_id}.get(role)
    return [found] if found else []


def context(event: Event) -> dict[str, Any]:
    """Everything a template may use; raw keys (roles, nodes) are translated by the locale's filters."""
    p = event.payload
    return {
        "order_id": event.order_id or getattr(p, "order_id", None) or "",
        "amount": getattr(p, "amount", ""),
        "currency": getattr(p, "currency", "CNY"),
        "product": getattr(getattr(p, "product", None), "name", ""),
        "node": getattr(p, "node", "") or "",
        "next_node": getattr(p, "next_node", None),
        "raised_by": getattr(getattr(p, "raised_by_role", None), "value", ""),
        "reason": getattr(p, "reason", ""),
        "outcome": getattr(getattr(p, "outcome", None), "value", ""),
        "approved": getattr(p, "approved", False),
        "opinion": getattr(p, "opinion", ""),
        "endpoint": getattr(p, "endpoint", ""),
        "attempt": getattr(p, "attempt", 1),
        "final": getattr(p, "final", False),
        "consequence": getattr(p, "consequence", ""),
        "error": getattr(p, "error", ""),
    }


async def plan_message(uow: NotificationUnitOfWork, *, event_id: str, event_type: str, order_id: str | None,
                       contact: Contact, message: MessageType, ctx: dict[str, Any], now: datetime,
                       channels: tuple[Channel, ...] | None = None, recipients: list[Recipient] | None = None,
                       note: str | None = None) -> list[Delivery]:
    """Resolve, render and store one message for one account: the inbox row now, e-mail / SMS queued."""
    if recipients is None:
        recipients = await uow.store.recipients(contact.account_id)
    targets, trace = resolve(contact, recipients, message)
    if note:
        trace = [note, *trace]
    if channels is not None:
        skipped = [t for t in targets if t.channel not in channels]
        targets = [t for t in targets if t.channel in channels]
        trace += [f"{t.channel.value} to {t.address} skipped: not this reminder's channel" for t in skipped[:1]]
    text = render(message.key, contact.locale, ctx)
    deliveries = [Delivery.plan(event_id=event_id, event_type=event_type, order_id=order_id,
                                account_id=contact.account_id, message=message, target=t, text=text,
                                trace=trace, now=now) for t in targets]
    for d in deliveries:
        if d.channel is Channel.IN_SITE:
            await uow.store.add_inbox(InboxMessage(message_id=d.delivery_id, account_id=contact.account_id,
                                                   category=d.category, title=d.title, body=d.body,
                                                   order_id=order_id, created_at=now))
    await uow.store.add_deliveries(deliveries)
    return deliveries


class NotificationService:
    def __init__(self, uow: UnitOfWorkFactory[NotificationUnitOfWork], on_queued: Callable[[], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.uow, self._on_queued, self.clock = uow, on_queued, clock

    async def on_account_registered(self, event: AccountRegistered) -> bool:
        """Keep the account's bound contact; then send what was waiting for it."""

        async def work(uow: NotificationUnitOfWork) -> bool:
            contact = Contact(**event.payload.model_dump())
            erased_at = await uow.store.erased_at(contact.account_id)
            if erased_at is not None and event.occurred_at <= erased_at:
                # Published before its owner's erasure but read after it (another topic): it brings nothing back.
                contact = contact.erased(erased_at)
            for parked in await uow.store.save_contact_and_unpark(contact):
                await self._notify(uow, parked, only_account=contact.account_id)
            return True

        done = await self.uow.handle(CONSUMER, event, work) is not None
        self._on_queued()
        return done

    async def on_event(self, event: Event) -> bool:
        """Plan every message the catalogue names for this event; False if it was already processed."""

        async def work(uow: NotificationUnitOfWork) -> bool:
            await self._notify(uow, event)
            return True

        done = await self.uow.handle(CONSUMER, event, work) is not None
        self._on_queued()
        return done

    async def _notify(self, uow: NotificationUnitOfWork, event: Event, only_account: str | None = None) -> None:
        now, ctx = self.clock(), context(event)
        for rule in rules_for(event):
            for account_id in await accounts_for(uow, rule.role, event):
                if only_account and account_id != only_account:
                    continue
                contact = await uow.store.contact(account_id)
                if contact is None:
                    # The account's registration has not reached us yet (another topic): keep the event for it.
                    await uow.store.park(account_id, event)
                    continue
                await plan_message(uow, event_id=str(event.event_id), event_type=event.event_type,
                                   order_id=event.order_id, contact=contact, message=rule.message, ctx=ctx,
                                   now=now)
