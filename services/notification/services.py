"""Use cases of messages: an event becomes in-site messages and queued e-mail / SMS deliveries, in one
transaction with the event's id claimed; an event for an account whose registration has not arrived waits for
it (parked on its contact record); and the inbox's read marks and deletions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from services.notification.catalogue import Channel, MessageType, rules_for
from services.notification.deps import CONSUMER, Deps
from services.notification.domain import Cause, Contact, Delivery
from services.notification.message_context import accounts_in_role, context, every_operator
from services.notification.planning import plan_message
from services.notification.store import NotificationUnitOfWork
from shared.platform.errors import NotFound
from shared.schemas import AccountRegistered, AccountRole, Event, NoticeRequested


async def notify(deps: Deps, event: Event) -> bool:
    """Plan every message the catalogue names for this event; False if it was already processed."""
    if not rules_for(event):
        # No message speaks of it (a status change other than a cancellation): nothing to write or claim.
        return True

    async def work(uow: NotificationUnitOfWork) -> bool:
        await _notify(uow, event, deps.clock())
        return True

    return await _handled(deps, event, work)


async def notify_all(deps: Deps, events: list[Event]) -> list[bool]:
    """`notify` for a batch of events in one unit of work: the contacts and recipients of every account they
    name loaded in two queries, the in-site messages and deliveries written together; False for each event
    processed before."""
    now = deps.clock()

    async def work(uow: NotificationUnitOfWork, event: Event) -> bool:
        await _notify(uow, event, now)
        return True

    async def prefetch(uow: NotificationUnitOfWork, fresh: list[Event]) -> None:
        named = sorted({a for e in fresh for rule in rules_for(e) for a in accounts_in_role(e, rule.role)})
        await uow.prefetch("contacts", named)
        await uow.recipients.prefetch(named)
        # the notices' marks (their in-site deliveries): whether each named account was told already
        told = {
            _told_key(_cause(e), a, rule.message)
            for e in fresh
            if isinstance(e, NoticeRequested)
            for rule in rules_for(e)
            for a in accounts_in_role(e, rule.role)
        }
        if told:
            await uow.prefetch("deliveries", sorted(told))

    # An event no message speaks of (e.g. a status change other than a cancellation) writes nothing, so it
    # is not claimed either: a transaction less per such event, and handling it again changes nothing.
    spoken = [bool(rules_for(e)) for e in events]
    told = [e for e, s in zip(events, spoken, strict=True) if s]
    if not told:
        return [True] * len(events)
    results = iter(await deps.uow.handle_batch(CONSUMER, told, work, prefetch))
    deps.queued()
    return [next(results) is not None if s else True for s in spoken]


async def register_account(deps: Deps, event: AccountRegistered) -> bool:
    """Keep the account's bound contact; then send what was waiting for it."""

    async def work(uow: NotificationUnitOfWork) -> bool:
        contact = Contact(**event.payload.model_dump())
        erased_at = await uow.contacts.erased_at(contact.account_id)
        if erased_at is not None and event.occurred_at <= erased_at:
            # Published before its owner's erasure but read after it (another topic): it brings nothing back.
            contact = contact.erased(erased_at)
        for parked in await uow.contacts.register(contact):
            await _notify(uow, parked, deps.clock(), only_account=contact.account_id)
        return True

    return await _handled(deps, event, work)


async def _handled(
    deps: Deps, event: Event, work: Callable[[NotificationUnitOfWork], Awaitable[bool]]
) -> bool:
    done = await deps.uow.handle(CONSUMER, event, work) is not None
    deps.queued()
    return done


async def _notify(
    uow: NotificationUnitOfWork, event: Event, now: datetime, only_account: str | None = None
) -> None:
    ctx, cause = context(event), _cause(event)
    for rule in rules_for(event):
        accounts = accounts_in_role(event, rule.role)
        if rule.role is AccountRole.OPERATOR and every_operator(event):
            accounts = sorted({*accounts, *await uow.contacts.operators()})  # appeals: every operator reviews
        for account_id in accounts:
            if only_account and account_id != only_account:
                continue
            contact = await uow.contacts.get(account_id)
            if contact is None:
                # The account's registration has not reached us yet (another topic): keep the event for it.
                await uow.contacts.park(account_id, event)
                continue
            if isinstance(event, NoticeRequested) and await _told(uow, cause, account_id, rule.message):
                continue  # the same notice, told again by another event: one notice per recipient
            await plan_message(uow, cause, contact, rule.message, ctx, now)


def _cause(event: Event) -> Cause:
    """What the deliveries are keyed on: the event, or for a notice the producer's notice id (the same fact
    told by two events, e.g. a producer's retry that wrote a second outbox row, is one notice)."""
    if isinstance(event, NoticeRequested):
        return Cause(f"notice:{event.payload.notice_id}", event.event_type, event.order_id)
    return Cause(str(event.event_id), event.event_type, event.order_id)


async def _told(uow: NotificationUnitOfWork, cause: Cause, account_id: str, message: MessageType) -> bool:
    """Whether this notice was told to this account already: its in-site delivery, keyed on the notice id,
    exists (every notice type is in-site; the delivery log is kept even when the inbox copy is deleted)."""
    return await uow.deliveries.get(_told_key(cause, account_id, message)) is not None


def _told_key(cause: Cause, account_id: str, message: MessageType) -> str:
    return Delivery.key(cause.event_id, account_id, message.key, Channel.IN_SITE, account_id)


# --- the inbox -------------------------------------------------------------------------------------------
async def mark_read(deps: Deps, account_id: str, message_id: str | None) -> int:
    """Mark one in-site message (or all of them) read; how many were unread."""

    async def work(uow: NotificationUnitOfWork) -> int:
        if message_id is not None and not await uow.inbox.holds(account_id, message_id):
            raise NotFound(f"message {message_id} is not in this inbox")
        marked = await uow.inbox.mark_read(account_id, message_id)
        await uow.commit()
        return marked

    return await deps.uow.run(work)


async def delete_message(deps: Deps, account_id: str, message_id: str) -> None:
    async def work(uow: NotificationUnitOfWork) -> None:
        if not await uow.inbox.delete(account_id, message_id):
            raise NotFound(f"message {message_id} is not in this inbox")
        await uow.commit()

    await deps.uow.run(work)
