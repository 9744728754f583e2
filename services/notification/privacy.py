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

from pydantic import AwareDatetime, BaseModel

from services.notification.catalogue import Channel
from services.notification.centre import RecipientView
from services.notification.deps import CONSUMER, Deps
from services.notification.domain import Contact, erased
from services.notification.store import NotificationUnitOfWork
from shared.schemas import AccountErased

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


async def erase_account(deps: Deps, event: AccountErased) -> bool:
    """Erase the account's contact data in one unit of work with the event's claim (idempotent)."""
    account_id, at = event.payload.account_id, event.payload.erased_at

    async def work(uow: NotificationUnitOfWork) -> bool:
        contact = await uow.contacts.get(account_id)
        held: set[tuple[str, str]] = set()  # (channel, address): their rate-limit windows go too
        if contact is not None and contact.erased_at is None:
            held |= {(Channel.EMAIL.value, contact.bound_email), (Channel.SMS.value, contact.bound_phone)}
        # A mark even without a contact: a registration published before the erasure may still be on its way.
        await uow.contacts.erase(account_id, contact.erased(at) if contact else None, at)
        for r in await uow.recipients.of_account(account_id):
            held |= {(Channel.EMAIL.value, r.email), (Channel.SMS.value, r.phone)}
            await uow.recipients.remove(r.recipient_id)
        for d in await uow.deliveries.addressed_to(account_id):
            held.add((d.channel.value, d.address))
            await uow.deliveries.save_erased(erased(d, at))
        await uow.rate_limits.forget(held)
        return True

    return await deps.uow.handle(CONSUMER, event, work) is not None


async def export_account(deps: Deps, account_id: str) -> AccountExport:
    """One consistent read (a transaction that commits nothing) of what `erase_account` would erase."""

    async def read(uow: NotificationUnitOfWork) -> AccountExport:
        recipients = sorted(await uow.recipients.of_account(account_id), key=lambda r: r.recipient_id)
        emails = await uow.deliveries.addresses(account_id, Channel.EMAIL, EXPORT_LIMIT + 1)
        phones = await uow.deliveries.addresses(account_id, Channel.SMS, EXPORT_LIMIT + 1)
        truncated = max(len(recipients), len(emails), len(phones)) > EXPORT_LIMIT
        return AccountExport(
            account_id=account_id,
            contact=await uow.contacts.get(account_id),
            recipients=[r.view() for r in recipients[:EXPORT_LIMIT]],
            delivery_addresses=DeliveryAddresses(email=emails[:EXPORT_LIMIT], sms=phones[:EXPORT_LIMIT]),
            truncated=truncated,
            exported_at=deps.clock(),
        )

    return await deps.uow.run(read)
