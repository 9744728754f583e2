"""Use cases: turn an event into in-site messages and queued email / SMS deliveries, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from services.notification.catalogue import CATALOGUE, Channel, render
from services.notification.domain import Contact, Delivery, Recipient, resolve
from services.notification.store import InboxMessage, NotificationUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.validation import E164Phone
from shared.schemas import AccountRegistered, AccountRole, Event, Parties

CONSUMER = "notification"


class AddRecipient(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    email: EmailStr
    phone: E164Phone
    categories: list[str] = Field(default_factory=lambda: ["supervision", "appeal", "creation_activation"])


def _parties(event: Event) -> Parties:
    parties: Parties = event.payload.parties
    return parties


def _account_for(role: AccountRole, parties: Parties) -> str | None:
    return {AccountRole.BUYER: parties.buyer_account_id, AccountRole.MERCHANT: parties.merchant_account_id,
            AccountRole.PROVIDER: parties.provider_id}.get(role)


def _context(event: Event) -> dict[str, Any]:
    p = event.payload
    return {
        "order_id": event.order_id,
        "amount": getattr(p, "amount", ""),
        "currency": getattr(p, "currency", ""),
        "product": getattr(getattr(p, "product", None), "name", ""),
        "node": getattr(p, "node", ""),
        "next_node": getattr(p, "next_node", None),
        "raised_by": getattr(getattr(p, "raised_by_role", None), "value", ""),
        "reason": getattr(p, "reason", ""),
        "outcome": getattr(getattr(p, "outcome", None), "value", ""),
    }


class NotificationService:
    def __init__(self, uow: UnitOfWorkFactory[NotificationUnitOfWork], on_queued: Callable[[], None]) -> None:
        self.uow, self._on_queued = uow, on_queued

    async def on_account_registered(self, event: AccountRegistered) -> bool:
        """Keep the account's bound contact; then send what was waiting for it."""

        async def work(uow: NotificationUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            contact = Contact(**event.payload.model_dump())
            for parked in await uow.store.save_contact_and_unpark(contact):
                await self._notify(uow, parked, only_account=contact.account_id)
            await uow.commit()
            return True

        done = await self.uow.run(work)
        self._on_queued()
        return done

    async def on_event(self, event: Event) -> bool:
        """Plan every message the catalogue names for this event; False if it was already processed."""

        async def work(uow: NotificationUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            await self._notify(uow, event)
            await uow.commit()
            return True

        done = await self.uow.run(work)
        self._on_queued()
        return done

    async def _notify(self, uow: NotificationUnitOfWork, event: Event, only_account: str | None = None) -> None:
        now = datetime.now(UTC)
        parties, context = _parties(event), _context(event)
        for rule in CATALOGUE.get(event.event_type, ()):
            account_id = _account_for(rule.role, parties)
            if account_id is None or (only_account and account_id != only_account):
                continue
            contact = await uow.store.contact(account_id)
            if contact is None:
                # The account's registration has not reached us yet (another topic): keep the event for it.
                await uow.store.park(account_id, event)
                continue
            targets, trace = resolve(contact, await uow.store.recipients(account_id), rule.message)
            text = render(rule.message.key, contact.locale, context)
            deliveries = [Delivery.plan(event_id=str(event.event_id), event_type=event.event_type,
                                        order_id=event.order_id, account_id=account_id, message=rule.message,
                                        target=t, text=text, trace=trace, now=now) for t in targets]
            for d in deliveries:
                if d.channel is Channel.IN_SITE:
                    await uow.store.add_inbox(InboxMessage(message_id=d.delivery_id, account_id=account_id,
                                                           category=d.category, title=d.title, body=d.body,
                                                           order_id=event.order_id, created_at=now))
            await uow.store.add_deliveries(deliveries)

    async def add_recipient(self, account_id: str, cmd: AddRecipient) -> Recipient:
        recipient = Recipient(recipient_id=f"rcp-{uuid.uuid4().hex[:12]}", account_id=account_id,
                              **cmd.model_dump())

        async def work(uow: NotificationUnitOfWork) -> Recipient:
            await uow.store.add_recipient(recipient)
            await uow.commit()
            return recipient

        return await self.uow.run(work)
