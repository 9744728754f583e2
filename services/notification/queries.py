"""Read side of the notification service (inbox, recipients, delivery log); plain queries, no transaction."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.centre import Recipient, RecipientView
from services.notification.domain import Delivery
from services.notification.reminders import Series
from services.notification.store import InboxMessage
from shared.platform.errors import NotFound
from shared.platform.mongo import Doc


class InboxPage(BaseModel):
    total: int
    unread: int
    items: list[InboxMessage]


class Queries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def inbox(self, account_id: str, *, unread_only: bool, category: str | None, limit: int,
                    offset: int) -> InboxPage:
        query: dict[str, Any] = {"account_id": account_id}
        if unread_only:
            query["read"] = False
        if category:
            query["category"] = category
        docs = await self.db["inbox"].find(query).sort("created_at", -1).skip(offset).limit(limit).to_list(None)
        return InboxPage(total=await self.db["inbox"].count_documents(query),
                         unread=await self.unread(account_id),
                         items=[InboxMessage.model_validate(d) for d in docs])

    async def unread(self, account_id: str) -> int:
        return await self.db["inbox"].count_documents({"account_id": account_id, "read": False})

    async def mark_read(self, account_id: str, message_id: str | None) -> int:
        query: dict[str, Any] = {"account_id": account_id, "read": False}
        if message_id is not None:
            if await self.db["inbox"].count_documents({"_id": message_id, "account_id": account_id}) == 0:
                raise NotFound(f"message {message_id} is not in this inbox")
            query["_id"] = message_id
        result = await self.db["inbox"].update_many(query, {"$set": {"read": True}})
        return result.modified_count

    async def recipients(self, account_id: str, *, limit: int = 100, offset: int = 0) -> list[RecipientView]:
        docs = await self.db["recipients"].find({"account_id": account_id}).sort("_id", 1).skip(offset) \
            .limit(limit).to_list(None)
        return [Recipient.model_validate(d).view() for d in docs]

    async def delivery(self, account_id: str, delivery_id: str) -> Delivery:
        doc = await self.db["deliveries"].find_one({"_id": delivery_id, "account_id": account_id})
        if doc is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return _redacted(Delivery.model_validate(doc))

    async def reminders(self, account_id: str, order_id: str | None, limit: int = 100) -> list[Series]:
        query: dict[str, Any] = {"$or": [{"party": "buyer", "parties.buyer_account_id": account_id},
                                         {"party": "merchant", "parties.merchant_account_id": account_id}]}
        if order_id:
            query["order_id"] = order_id
        docs = await self.db["reminders"].find(query).sort("due_at", -1).limit(limit).to_list(None)
        return [Series.model_validate(d) for d in docs]

    async def delete_message(self, account_id: str, message_id: str) -> None:
        result = await self.db["inbox"].delete_one({"_id": message_id, "account_id": account_id})
        if result.deleted_count == 0:
            raise NotFound(f"message {message_id} is not in this inbox")

    async def deliveries(self, account_id: str, order_id: str | None, limit: int) -> list[Delivery]:
        query: dict[str, Any] = {"account_id": account_id}
        if order_id:
            query["order_id"] = order_id
        docs = await self.db["deliveries"].find(query).sort("created_at", -1).limit(limit).to_list(None)
        return [_redacted(Delivery.model_validate(d)) for d in docs]


def _redacted(d: Delivery) -> Delivery:
    """A verification message's secret is for the recipient's mailbox or phone, not for the account's API."""
    if d.event_type != "recipient.verification":
        return d
    return d.model_copy(update={"body": "(verification secret withheld)", "html": None})
