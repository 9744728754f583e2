"""Message-centre use cases: add / edit / delete recipients, verify them, resend; the daily limit.

Verification messages go out through the same delivery queue as everything else (idempotent, retried): the
e-mail carries a link to `GET /verify/email?token=...`, the SMS a 6-digit code the account enters through
`POST .../recipients/{id}/verify-phone` (dossier §6.2).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from services.notification.catalogue import CATEGORIES, VERIFY_EMAIL, VERIFY_PHONE
from services.notification.centre import MAX_PER_REQUEST, Recipient, RecipientView, check_daily_quota
from services.notification.deps import Deps
from services.notification.domain import Cause, Contact
from services.notification.planning import plan_message
from services.notification.settings import NotificationSettings
from services.notification.store import NotificationUnitOfWork
from services.notification.texts import TEXTS
from shared.platform.errors import InvalidInput, NotFound
from shared.platform.validation import E164Phone
from shared.schemas import AccountRole

T = TypeVar("T")
DEFAULT_CATEGORIES = ["supervision", "appeal", "creation_activation"]


def _check_categories(categories: list[str] | None) -> list[str] | None:
    """A recipient subscribes to whole categories (dossier §6.3) or to single message types (§6.2)."""
    known = set(CATEGORIES) | set(TEXTS["en-US"])
    unknown = sorted(set(categories or []) - known)
    if unknown:
        raise InvalidInput(
            f"unknown message categories or types {unknown}; categories: "
            f"{sorted(CATEGORIES)}, types: {sorted(TEXTS['en-US'])}",
            field="categories",
        )
    return categories


# A category (`supervision`) or a message type (`order_paid`): checked against the catalogue in the use case.
CategoryKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Categories = Annotated[list[CategoryKey], Field(max_length=50)]
# A name is printed in the verification messages: no control characters (line breaks, NUL).
RecipientName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class NewRecipient(BaseModel):
    name: RecipientName
    email: EmailStr
    phone: E164Phone
    categories: Categories = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))


AddRecipient = NewRecipient  # the single-recipient body of the first version


class AddRecipients(BaseModel):
    recipients: list[NewRecipient] = Field(min_length=1, max_length=MAX_PER_REQUEST)


class EditRecipient(BaseModel):
    name: RecipientName | None = None
    email: EmailStr | None = None
    phone: E164Phone | None = None
    categories: Categories | None = None


async def add_recipients(deps: Deps, account_id: str, cmd: AddRecipients) -> list[RecipientView]:
    for r in cmd.recipients:
        _check_categories(r.categories)
    now = deps.clock()

    async def work(uow: NotificationUnitOfWork) -> list[RecipientView]:
        await _count(uow, deps.settings, account_id, len(cmd.recipients), now)
        out = []
        for r in cmd.recipients:
            rcp = Recipient(
                recipient_id=f"rcp-{uuid.uuid4().hex[:12]}",
                account_id=account_id,
                updated_at=now,
                **r.model_dump(),
            )
            out.append((await _challenge(uow, deps.settings, rcp, now)).view())
        await uow.commit()
        return out

    return await _queueing(deps, work)


async def edit_recipient(deps: Deps, account_id: str, recipient_id: str, cmd: EditRecipient) -> RecipientView:
    _check_categories(cmd.categories)
    now = deps.clock()

    async def work(uow: NotificationUnitOfWork) -> RecipientView:
        before = await _own(uow, account_id, recipient_id)
        await _count(uow, deps.settings, account_id, 1, now)
        after = before.edit(
            name=cmd.name, email=cmd.email, phone=cmd.phone, categories=cmd.categories, now=now
        )
        if after.active != before.active or (after.email, after.phone) != (before.email, before.phone):
            after = await _challenge(uow, deps.settings, after, now)  # a changed address is verified again
        else:
            await uow.recipients.put(after)
        await uow.commit()
        return after.view()

    return await _queueing(deps, work)


async def delete_recipient(deps: Deps, account_id: str, recipient_id: str) -> None:
    async def work(uow: NotificationUnitOfWork) -> None:
        await _own(uow, account_id, recipient_id)
        await uow.recipients.remove(recipient_id)
        await uow.commit()

    await deps.uow.run(work)


async def resend(deps: Deps, account_id: str, recipient_id: str) -> RecipientView:
    """New messages cost one of the day's 40 changes (SMS pumping, issue 9); the wrong-code count stays."""
    now = deps.clock()

    async def work(uow: NotificationUnitOfWork) -> RecipientView:
        r = await _own(uow, account_id, recipient_id)
        if not r.active:  # an active recipient is sent nothing, so nothing is counted
            await _count(uow, deps.settings, account_id, 1, now)
        r = await _challenge(uow, deps.settings, r, now)
        await uow.commit()
        return r.view()

    return await _queueing(deps, work)


async def verify_email(deps: Deps, token: str) -> RecipientView:
    recipient_id, _, secret = token.partition(".")

    async def work(uow: NotificationUnitOfWork) -> RecipientView:
        r = await uow.recipients.get(recipient_id)
        if r is None:
            raise NotFound("this verification link belongs to no recipient (it may have been deleted)")
        r = r.verify_email(secret, deps.clock())
        await uow.recipients.put(r)
        await uow.commit()
        return r.view()

    return await deps.uow.run(work)


async def verify_phone(deps: Deps, account_id: str, recipient_id: str, code: str) -> RecipientView:
    async def work(uow: NotificationUnitOfWork) -> tuple[Recipient, bool]:
        r, ok = (await _own(uow, account_id, recipient_id)).verify_phone(code, deps.clock())
        await uow.recipients.put(r)
        await uow.commit()  # a wrong code is counted even though the request fails
        return r, ok

    r, ok = await deps.uow.run(work)
    if not ok:
        raise InvalidInput("wrong verification code", field="code")
    return r.view()


async def _queueing(deps: Deps, work: Callable[[NotificationUnitOfWork], Awaitable[T]]) -> T:
    """Run a change that queued verification messages; then wake the dispatcher."""
    result = await deps.uow.run(work)
    deps.queued()
    return result


async def _own(uow: NotificationUnitOfWork, account_id: str, recipient_id: str) -> Recipient:
    r = await uow.recipients.get(recipient_id)
    if r is None or r.account_id != account_id:  # another account's recipient is reported as absent
        raise NotFound(f"recipient {recipient_id} not found")
    return r


async def _count(
    uow: NotificationUnitOfWork, settings: NotificationSettings, account_id: str, n: int, now: datetime
) -> None:
    day = now.astimezone(UTC).date().isoformat()
    check_daily_quota(await uow.changes.used(account_id, day), n, settings.recipient_daily_limit)
    await uow.changes.add(account_id, day, n)


async def _challenge(
    uow: NotificationUnitOfWork, settings: NotificationSettings, r: Recipient, now: datetime
) -> Recipient:
    """New secrets, saved as hashes; the link and the code are queued as ordinary deliveries."""
    if r.active:
        await uow.recipients.put(r)
        return r
    token, code = secrets.token_urlsafe(24), f"{secrets.randbelow(10**6):06d}"
    hours = settings.verification_valid_hours
    r = r.challenge(token, code, now + timedelta(hours=hours), now)
    await uow.recipients.put(r)
    owner = await uow.contacts.get(r.account_id)
    locale = owner.locale if owner else "zh-CN"
    link = f"{settings.public_base_url.rstrip('/')}/verify/email?token={r.recipient_id}.{token}"
    ctx = {"name": r.name, "link": link, "code": code, "valid_hours": f"{hours:g}", "order_id": ""}
    # The recipient is the only target: a contact built from its own addresses, no fallback involved.
    target = Contact(
        account_id=r.account_id,
        role=owner.role if owner else AccountRole.BUYER,
        display_name=r.name,
        bound_email=r.email,
        bound_phone=r.phone,
        locale=locale,
    )
    cause = Cause(f"verify:{r.recipient_id}:{uuid.uuid4().hex[:8]}", "recipient.verification")
    for message, wanted in ((VERIFY_EMAIL, not r.email_verified), (VERIFY_PHONE, not r.phone_verified)):
        if wanted:
            await plan_message(
                uow,
                cause,
                target,
                message,
                ctx,
                now,
                recipients=[],
                note=f"verification of recipient {r.name}: sent to its own address",
            )
    return r
