"""HTTP routes: the inbox, the delivery log with its traces, reminders, and the owner's export.

Everything under `/accounts/{account_id}` belongs to that account: only a token whose subject is that account
may read or change it (`own_account_only`); nobody else, operators included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query, Request, status

from services.notification import services
from services.notification.deps import Deps
from services.notification.domain import Delivery
from services.notification.privacy import AccountExport, export_account
from services.notification.queries import InboxPage, Queries
from services.notification.reminders import Series
from shared.platform.auth import Party, Principal
from shared.platform.errors import Forbidden
from shared.platform.waits import InsertWatch

router = APIRouter(prefix="/accounts/{account_id}")

AccountPath = Annotated[
    str, Path(min_length=1, max_length=128, description="The account: the token's subject")
]
# Inbox message, delivery and recipient ids: hex keys and `rcp-...`; bounded so nothing odd reaches a query.
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# A waiting read holds its request at most this long: well under the usual 60 s proxy read timeouts.
MAX_WAIT_SECONDS = 25.0
OrderFilter = Annotated[str | None, Query(min_length=1, max_length=64, description="Only this order's")]


def own(account_id: str, caller: Principal) -> None:
    if account_id != caller.account_id:
        raise Forbidden(
            f"account {caller.account_id} may not use account {account_id}'s messages, "
            "recipients or deliveries: they are visible to that account only",
            rule="own_account_only",
        )


async def _owner(account_id: AccountPath, caller: Party) -> Principal:
    own(account_id, caller)
    return caller


Owner = Annotated[Principal, Depends(_owner)]


def _q(request: Request) -> Queries:
    return cast(Queries, request.app.state.queries)


def deps(request: Request) -> Deps:
    """What the use cases run on (app.py provides it as `notification`)."""
    return cast(Deps, request.app.state.notification)


@dataclass(frozen=True)
class Listing:
    """A listing of the caller's own account (`own_account_only` checked): `?order_id=` and `?limit=`."""

    account_id: str
    order_id: str | None
    limit: int
    queries: Queries


def listing_of(default: int, most: int) -> Any:
    """The dependency of a listing route whose `limit` is `default` unless given, and at most `most`."""

    async def listing(
        account_id: AccountPath,
        owner: Owner,
        request: Request,
        order_id: OrderFilter = None,
        limit: int = default,
    ) -> Listing:
        return Listing(account_id, order_id, limit, _q(request))

    # FastAPI resolves string annotations in this module's names; the bound, a local, is set as an object.
    listing.__annotations__["limit"] = Annotated[int, Query(ge=1, le=most)]
    return Depends(listing)


@router.get("/inbox", tags=["inbox"])
async def inbox(
    account_id: AccountPath,
    owner: Owner,
    request: Request,
    unread_only: bool = False,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for the page's newest message to be another than `seen` (a new "
            "message); 0 answers at once",
        ),
    ] = 0,
    seen: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="The id of the newest message the caller has (none: it has no message yet)",
        ),
    ] = None,
) -> InboxPage:
    """List in-site messages, newest first, with the unread count; with `wait`, once there is a new one."""

    queries = _q(request)

    async def page() -> InboxPage:
        return await queries.inbox(
            account_id, unread_only=unread_only, category=category, limit=limit, offset=offset
        )

    looks = 0

    async def look() -> InboxPage | None:
        # The first look (and each while the change stream is away, on the poll) reads only the id the page
        # would begin with, one indexed read; the page and its counts once that id is another than `seen`. A
        # look after a wake-up, which an insert for this account caused, reads the page at once.
        nonlocal looks
        looks += 1
        if looks == 1 or not (watch and watch.streaming):
            first = await queries.first_on_page(
                account_id, unread_only=unread_only, category=category, offset=offset
            )
            if first == seen:
                return None
        return await page()

    def news(p: InboxPage | None) -> bool:
        return p is not None and (p.items[0].message_id if p.items else None) != seen

    watch: InsertWatch | None = getattr(request.app.state, "inbox_watch", None)
    if watch is None or wait <= 0:
        return await page()
    found = await watch.wait_for(account_id, look, news, wait)
    return found if found is not None else await page()  # the wait is over with nothing new: the page as is


@router.get("/inbox/unread-count", tags=["inbox"])
async def unread_count(account_id: AccountPath, owner: Owner, request: Request) -> dict[str, int]:
    """Count unread in-site messages."""
    return {"unread": await _q(request).unread(account_id)}


@router.post("/inbox/{message_id}/read", tags=["inbox"])
async def mark_read(
    account_id: AccountPath, message_id: IdPath, owner: Owner, request: Request
) -> dict[str, int]:
    """Mark one in-site message read."""
    return {"marked": await services.mark_read(deps(request), account_id, message_id)}


@router.post("/inbox/read-all", tags=["inbox"])
async def mark_all_read(account_id: AccountPath, owner: Owner, request: Request) -> dict[str, int]:
    """Mark every in-site message read."""
    return {"marked": await services.mark_read(deps(request), account_id, None)}


@router.delete("/inbox/{message_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["inbox"])
async def delete_message(account_id: AccountPath, message_id: IdPath, owner: Owner, request: Request) -> None:
    """Delete one in-site message."""
    await services.delete_message(deps(request), account_id, message_id)


@router.get("/deliveries", tags=["deliveries"])
async def deliveries(listing: Annotated[Listing, listing_of(50, most=200)]) -> list[Delivery]:
    """The delivery log of the account's messages, each with its status and resolution trace."""
    return await listing.queries.deliveries(listing.account_id, listing.order_id, listing.limit)


@router.get("/deliveries/{delivery_id}", tags=["deliveries"])
async def delivery(account_id: AccountPath, delivery_id: IdPath, owner: Owner, request: Request) -> Delivery:
    """One delivery with its resolution trace: why this address, why this channel, what was skipped."""
    return await _q(request).delivery(account_id, delivery_id)


@router.get("/reminders", tags=["reminders"])
async def reminders(listing: Annotated[Listing, listing_of(100, most=100)]) -> list[Series]:
    """The deadline reminder series addressed to this account: steps, what was sent, and why they stopped."""
    return await listing.queries.reminders(listing.account_id, listing.order_id, listing.limit)


@router.get("/export", tags=["privacy"])
async def export(account_id: AccountPath, owner: Owner, request: Request) -> AccountExport:
    """The contact data held for the account: bound contact, recipients, addresses its deliveries went to."""
    return await export_account(deps(request), account_id)
