"""HTTP routes: the inbox, the message centre's recipients, and the delivery log with its traces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from services.notification.domain import Delivery
from services.notification.queries import InboxPage, Queries
from services.notification.reminders import Series
from shared.platform.errors import Forbidden
from shared.platform.http import AccountId

router = APIRouter(prefix="/accounts/{account_id}")


def own(account_id: str, caller: str) -> None:
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
    own(account_id, caller)
    return await _q(request).inbox(account_id, unread_only=unread_only, category=category, limit=limit,
                                   offset=offset)


@router.get("/inbox/unread-count", tags=["inbox"])
async def unread_count(account_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Count unread in-site messages."""
    own(account_id, caller)
    return {"unread": await _q(request).unread(account_id)}


@router.post("/inbox/{message_id}/read", tags=["inbox"])
async def mark_read(account_id: str, message_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Mark one in-site message read."""
    own(account_id, caller)
    return {"marked": await _q(request).mark_read(account_id, message_id)}


@router.post("/inbox/read-all", tags=["inbox"])
async def mark_all_read(account_id: str, caller: AccountId, request: Request) -> dict[str, int]:
    """Mark every in-site message read."""
    own(account_id, caller)
    return {"marked": await _q(request).mark_read(account_id, None)}


@router.get("/deliveries", tags=["deliveries"])
async def deliveries(account_id: str, caller: AccountId, request: Request, order_id: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[Delivery]:
    """The delivery log of the account's messages, each with its status and resolution trace."""
    own(account_id, caller)
    return await _q(request).deliveries(account_id, order_id, limit)


@router.get("/deliveries/{delivery_id}", tags=["deliveries"])
async def delivery(account_id: str, delivery_id: str, caller: AccountId, request: Request) -> Delivery:
    """One delivery with its resolution trace: why this address, why this channel, what was skipped."""
    own(account_id, caller)
    return await _q(request).delivery(account_id, delivery_id)


@router.delete("/inbox/{message_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["inbox"])
async def delete_message(account_id: str, message_id: str, caller: AccountId, request: Request) -> None:
    """Delete one in-site message."""
    own(account_id, caller)
    await _q(request).delete_message(account_id, message_id)


@router.get("/reminders", tags=["reminders"])
async def reminders(account_id: str, caller: AccountId, request: Request, order_id: str | None = None) -> list[Series]:
    """The deadline reminder series addressed to this account: steps, what was sent, and why they stopped."""
    own(account_id, caller)
    return await _q(request).reminders(account_id, order_id)
