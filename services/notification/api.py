"""HTTP routes: the inbox, the message centre's recipients, and the delivery log with its traces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from services.notification.domain import Delivery, Recipient
from services.notification.queries import InboxPage, Queries
from services.notification.services import AddRecipient, NotificationService
from shared.platform.errors import Forbidden
from shared.platform.http import AccountId

router = APIRouter(prefix="/accounts/{account_id}")


def _own(account_id: str, caller: str) -> None:
    if account_id != caller:
        raise Forbidden("an account's messages, recipients and deliveries are visible to that account only")


def _q(request: Request) -> Queries:
    queries: Queries = request.app.state.queries
    return queries


@router.get("/inbox", tags=["inbox"])
async def inbox(account_id: str, caller: AccountId, request: Request, unread_only: bool = False,
                category: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                offset: Annotated[int, Query(ge=0)] = 0) -> InboxPage:
    """List in-site messages, newest first, with the unread count."""
    _own(account_id, caller)
    return await _q(request).inbox(account_id, unread_only=unread_only, category=category, limit=limit,
                                   offset=offset)


@router.get("/inbox/unread-count", tags=["inbox"])
async def unread_count(account_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Count unread in-site messages."""
    _own(account_id, caller)
    return {"unread": await _q(request).unread(account_id)}


@router.post("/inbox/{message_id}/read", tags=["inbox"])
async def mark_read(account_id: str, message_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Mark one in-site message read."""
    _own(account_id, caller)
    return {"marked": await _q(request).mark_read(account_id, message_id)}


@router.post("/inbox/read-all", tags=["inbox"])
async def mark_all_read(account_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Mark every in-site message read."""
    _own(account_id, caller)
    return {"marked": await _q(request).mark_read(account_id, None)}


@router.post("/recipients", status_code=status.HTTP_201_CREATED, tags=["message centre"])
async def add_recipient(account_id: str, body: AddRecipient, caller: AccountId, request: Request) -> Recipient:
    """Add a message recipient (inactive until its email and phone are verified)."""
    _own(account_id, caller)
    svc: NotificationService = request.app.state.notification
    return await svc.add_recipient(account_id, body)


@router.get("/recipients", tags=["message centre"])
async def recipients(account_id: str, caller: AccountId, request: Request) -> list[Recipient]:
    """List the account's message recipients."""
    _own(account_id, caller)
    return await _q(request).recipients(account_id)


@router.get("/deliveries", tags=["deliveries"])
async def deliveries(account_id: str, caller: AccountId, request: Request, order_id: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[Delivery]:
    """The delivery log of the account's messages, each with its status and resolution trace."""
    _own(account_id, caller)
    return await _q(request).deliveries(account_id, order_id, limit)
