"""An account's contact data at its owner's request: erase it (`account.erased`) and export it (issue 9).

What notification holds about an account's contact data: its bound contact (from `account.registered`), its
message-centre recipients, the addresses in its delivery log, and per-address rate-limit windows.
Erasure deletes the recipients and the rate-limit windows, masks the bound contact and the delivery log's
addresses (`a***@example.com`, `***34`), and cancels what was not sent yet. Kept as it is:
- the in-site inbox: its messages name orders and amounts, never an address, and they are the owner's record
  of what the marketplace told it (the owner can delete them one by one);
- the masked contact itself, so later events still reach the inbox in the account's locale and nothing is
  parked for it forever; e-mail and SMS are not sent to it again (`domain.resolve`);
- deadline reminders, the daily change counters and processed-event ids: account ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel

from services.notification.catalogue import Channel
from services.notification.centre import RecipientView
from services.notification.domain import Contact
from services.notification.ratelimit import RateLimiter
from services.notification.services import CONSUMER
from services.notification.store import NotificationUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountErased

log = logging.getLogger("notification.privacy")
EXPORT_LIMIT = 1000  # per list: an export is bounded; `truncated` says when there was more


class DeliveryAddresses(BaseModel):
    email: list[str]
    sms: list[str]


class AccountExport(BaseModel):
    """The contact data notification holds for one account (no verification secrets)."""

    account_id: str
    contact: Contact | None
    recipients: list[RecipientView]
    delivery_addresses: DeliveryAddresses
    truncated: bool
    exported_at: AwareDatetime


class PrivacyService:
    def __init__(self, uow: UnitOfWorkFactory[NotificationUnitOfWork],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.uow, self.clock = uow, clock

    async def on_account_erased(self, event: AccountErased) -> bool:
        """Erase the account's contact data in one unit of work with the event's claim (idempotent)."""
        account_id, at = event.payload.account_id, event.payload.erased_at

        async def work(uow: NotificationUnitOfWork) -> bool:
            contact = await uow.store.contact(account_id)
            held: set[tuple[str, str]] = set()
            if contact is not None and contact.erased_at is None:
                held |= {(Channel.EMAIL.value, contact.bound_email), (Channel.SMS.value, contact.bound_phone)}
            # A mark even without a contact: a registration published before the erasure may still be on its way.
            await uow.store.erase_contact(account_id, contact.erased(at) if contact else None, at)
            for r in await uow.store.recipients(account_id):
                held |= {(Channel.EMAIL.value, r.email), (Channel.SMS.value, r.phone)}
                await uow.store.delete_recipient(r.recipient_id)
            held |= await uow.store.erase_deliveries(account_id, at)
            await uow.store.forget_rate_limits({RateLimiter.key(channel, address) for channel, address in held})
            return True

        done = await self.uow.handle(CONSUMER, event, work) is not None
        log.info("contact data erased" if done else "duplicate erasure ignored",
                 extra={"event_id": event.event_id, "event_type": event.event_type})
        return done

    async def export(self, account_id: str) -> AccountExport:
        """One consistent read (a transaction that commits nothing) of what `on_account_erased` would erase."""

        async def read(uow: NotificationUnitOfWork) -> AccountExport:
            recipients = sorted(await uow.store.recipients(account_id), key=lambda r: r.recipient_id)
            emails = await uow.store.delivery_addresses(account_id, Channel.EMAIL, EXPORT_LIMIT + 1)
            phones = await uow.store.delivery_addresses(account_id, Channel.SMS, EXPORT_LIMIT + 1)
            truncated = max(len(recipients), len(emails), len(phones)) > EXPORT_LIMIT
            return AccountExport(account_id=account_id, contact=await uow.store.contact(account_id),
                                 recipients=[r.view() for r in recipients[:EXPORT_LIMIT]],
                                 delivery_addresses=DeliveryAddresses(email=emails[:EXPORT_LIMIT],
                                                                      sms=phones[:EXPORT_LIMIT]),
                                 truncated=truncated, exported_at=self.clock())

        return await self.uow.run(read)
