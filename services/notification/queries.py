"""Read side of the notification service: the inbox, recipients, the delivery log, reminders and the
operators' list of dead deliveries. Plain queries outside any transaction (cosmicpython's `views.py`); changes
are use cases.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from services.notification.centre import Recipient, RecipientView
from services.notification.domain import Delivery, DeliveryStatus
from services.notification.inbox import InboxMessage
from services.notification.reminders import Series
from shared.platform.collection import Collections, Doc
from shared.platform.errors import NotFound
from shared.platform.logs import mask

NEWEST_FIRST = [("created_at", -1)]


class InboxPage(BaseModel):
    total: int
    unread: int
    items: list[InboxMessage]


class Queries:
    def __init__(self, collections: Collections) -> None:
        self.inbox_messages = collections.collection("inbox")
        self.recipient_rows = collections.collection("recipients")
        self.delivery_rows = collections.collection("deliveries")
        self.series_rows = collections.collection("reminders")

    async def inbox(
        self, account_id: str, *, unread_only: bool, category: str | None, limit: int, offset: int
    ) -> InboxPage:
        query = _inbox_query(account_id, unread_only, category)
        docs, total, unread = await asyncio.gather(  # at once: none waits for another
            self.inbox_messages.find(query, sort=NEWEST_FIRST, skip=offset, limit=limit),
            self.inbox_messages.count(query),
            self.unread(account_id),
        )
        return InboxPage(total=total, unread=unread, items=[InboxMessage.model_validate(d) for d in docs])

    async def first_on_page(
        self, account_id: str, *, unread_only: bool, category: str | None, offset: int
    ) -> str | None:
        """The id of the message a page at `offset` would begin with: one indexed read of one id, what a
        waiting read asks while nothing has changed (the whole page and its counts once something has)."""
        docs = await self.inbox_messages.find(
            _inbox_query(account_id, unread_only, category),
            sort=NEWEST_FIRST,
            projection={"_id": 1},
            skip=offset,
            limit=1,
        )
        return str(docs[0]["_id"]) if docs else None

    async def unread(self, account_id: str) -> int:
        return await self.inbox_messages.count({"account_id": account_id, "read": False})

    async def recipients(self, account_id: str, *, limit: int = 100, offset: int = 0) -> list[RecipientView]:
        docs = await self.recipient_rows.find(
            {"account_id": account_id}, sort=[("_id", 1)], skip=offset, limit=limit
        )
        return [Recipient.model_validate(d).view() for d in docs]

    async def delivery(self, account_id: str, delivery_id: str) -> Delivery:
        doc = await self.delivery_rows.find_one({"_id": delivery_id, "account_id": account_id})
        if doc is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return _redacted(Delivery.model_validate(doc))

    async def deliveries(self, account_id: str, order_id: str | None, limit: int) -> list[Delivery]:
        query: Doc = {"account_id": account_id}
        if order_id:
            query["order_id"] = order_id
        docs = await self.delivery_rows.find(query, sort=NEWEST_FIRST, limit=limit)
        return [_redacted(Delivery.model_validate(d)) for d in docs]

    async def reminders(self, account_id: str, order_id: str | None, limit: int = 100) -> list[Series]:
        query: Doc = {
            "$or": [
                {"party": "buyer", "parties.buyer_account_id": account_id},
                {"party": "merchant", "parties.merchant_account_id": account_id},
            ]
        }
        if order_id:
            query["order_id"] = order_id
        docs = await self.series_rows.find(query, sort=[("due_at", -1)], limit=limit)
        return [Series.model_validate(d) for d in docs]

    async def dead(self, order_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Dead and refused deliveries for the operators' desk: what failed and why, not whom it was for
        (provider errors can quote the address)."""
        query: Doc = {"status": {"$in": [DeliveryStatus.DEAD, DeliveryStatus.FAILED]}}
        if order_id:
            query["order_id"] = order_id
        docs = await self.delivery_rows.find(
            query, sort=NEWEST_FIRST, limit=limit, projection={"body": 0, "html": 0}
        )
        shown = ("account_id", "order_id", "channel", "message_type", "status", "attempts")
        return [
            {
                "delivery_id": d["_id"],
                "last_error": mask(str(d.get("last_error") or "")),
                **{k: d.get(k) for k in shown},
            }
            for d in docs
        ]


def _redacted(d: Delivery) -> Delivery:
    """A verification message's secret is for the recipient's mailbox or phone, not for the account's API."""
    if d.event_type != "recipient.verification":
        return d
    return d.model_copy(update={"body": "(verification secret withheld)", "html": None})


def _inbox_query(account_id: str, unread_only: bool, category: str | None) -> Doc:
    query: Doc = {"account_id": account_id}
    if unread_only:
        query["read"] = False
    if category:
        query["category"] = category
    return query
