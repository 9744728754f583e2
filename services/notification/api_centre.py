"""HTTP routes of the message centre (消息中心): the message types, recipients, their verification, resend
(dossier §6.2, §6.3).

The recipients of an account are its own (`own_account_only`, see `api.Owner`). The e-mail verification link
is the one route without a token: the link's secret identifies the recipient, and it shows no data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel

from services.notification import centre_service as centre
from services.notification.api import AccountPath, IdPath, Owner, deps
from services.notification.catalogue import CATEGORIES, MESSAGE_TYPES, Channel
from services.notification.centre import RecipientView
from services.notification.centre_service import AddRecipients, EditRecipient
from services.notification.queries import Queries
from services.notification.texts import TITLES
from shared.platform.auth import Party

router = APIRouter()
PREFIX = "/accounts/{account_id}/recipients"


class MessageTypeView(BaseModel):
    """A message type as the message centre lists it: what a recipient may subscribe to (by key or
    category)."""

    key: str
    category: str
    category_code: str  # the marketplace's code where the dossier names one (§6.3: 101, 501, 901)
    channels: list[Channel]  # its default channels
    mandatory: bool  # with no subscribed recipient, it still goes to the account's bound e-mail and phone
    title: dict[str, str]  # a short name per locale: zh-CN, en-US


@router.get("/message-types", tags=["message centre"])
async def message_types(caller: Party) -> list[MessageTypeView]:
    """List every message type: its category and code, default channels, whether mandatory, and its name."""
    return [
        MessageTypeView(
            key=m.key,
            category=m.category,
            category_code=CATEGORIES[m.category],
            channels=list(m.channels),
            mandatory=m.mandatory,
            title={locale: titles[m.key] for locale, titles in TITLES.items()},
        )
        for m in sorted(MESSAGE_TYPES.values(), key=lambda m: m.key)
    ]


@router.post(PREFIX, status_code=status.HTTP_201_CREATED, tags=["message centre"])
async def add_recipients(
    account_id: AccountPath, body: AddRecipients, owner: Owner, request: Request
) -> list[RecipientView]:
    """Add up to 10 recipients; each is inactive until its email link and SMS code are verified."""
    return await centre.add_recipients(deps(request), account_id, body)


@router.get(PREFIX, tags=["message centre"])
async def recipients(
    account_id: AccountPath,
    owner: Owner,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[RecipientView]:
    """List the account's message recipients."""
    queries: Queries = request.app.state.queries
    return await queries.recipients(account_id, limit=limit, offset=offset)


@router.patch(PREFIX + "/{recipient_id}", tags=["message centre"])
async def edit_recipient(
    account_id: AccountPath, recipient_id: IdPath, body: EditRecipient, owner: Owner, request: Request
) -> RecipientView:
    """Change a recipient's name, addresses or subscribed categories (a new address is verified again)."""
    return await centre.edit_recipient(deps(request), account_id, recipient_id, body)


@router.delete(PREFIX + "/{recipient_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["message centre"])
async def delete_recipient(
    account_id: AccountPath, recipient_id: IdPath, owner: Owner, request: Request
) -> None:
    """Delete a recipient."""
    await centre.delete_recipient(deps(request), account_id, recipient_id)


@router.post(PREFIX + "/{recipient_id}/resend", tags=["message centre"])
async def resend(
    account_id: AccountPath, recipient_id: IdPath, owner: Owner, request: Request
) -> RecipientView:
    """Send new verification messages for what is not verified yet (older links and codes stop working).

    A resend counts toward the 40 changes a day, and keeps the count of wrong codes (SMS pumping)."""
    return await centre.resend(deps(request), account_id, recipient_id)


@router.post(PREFIX + "/{recipient_id}/verify-phone", tags=["message centre"])
async def verify_phone(
    account_id: AccountPath,
    recipient_id: IdPath,
    code: Annotated[str, Query(pattern=r"^\d{6}$")],
    owner: Owner,
    request: Request,
) -> RecipientView:
    """Verify the recipient's phone with the code it received by SMS."""
    return await centre.verify_phone(deps(request), account_id, recipient_id, code)


@router.get("/verify/email", tags=["message centre"])
async def verify_email(
    token: Annotated[str, Query(min_length=10, max_length=200, pattern=r"^[\w.-]+$")], request: Request
) -> dict[str, bool]:
    """The link in the verification e-mail: the token alone identifies the recipient (no data shown)."""
    view = await centre.verify_email(deps(request), token)
    return {"email_verified": view.email_verified, "active": view.active}
