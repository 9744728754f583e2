"""Ports and adapters of the notification service (Mongo, and in-memory twins for handler tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.domain import Contact, Delivery, Recipient
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import Doc, MongoUnitOfWork, UnitOfWork
from shared.schemas import EVENT_TYPES, Event


class InboxMessage(BaseModel):
    """An in-site message (站内信) in an account's inbox."""

    message_id: str
    account_id: str
    category: str
    title: str
    body: str
    order_id: str | None = None
    read: bool = False
    created_at: AwareDatetime


class Port(Protocol):
    """Contacts and the events parked for them share one document per account (`contacts/<account>`).

    An event for an account whose registration has not arrived is parked on that document; the registration
    writes the same document and takes what was parked. Both transactions write one document, so when they
    run concurrently the database reports a write conflict and one of them reruns: an event is either sent
    with the contact or parked where the registration finds it, never lost in between.
    """

    async def contact(self, account_id: str) -> Contact | None: ...
    async def save_contact_and_unpark(self, contact: Contact) -> list[Event]: ...
    async def park(self, account_id: str, event: Event) -> None: ...
    async def recipients(self, account_id: str) -> list[Recipient]: ...
    async def add_recipient(self, recipient: Recipient) -> None: ...
    async def add_inbox(self, message: InboxMessage) -> None: ...
    async def add_deliveries(self, deliveries: list[Delivery]) -> None: ...


def _events(parked: list[dict[str, str]]) -> list[Event]:
    return [EVENT_TYPES[p["event_type"]].model_validate_json(p["body"]) for p in parked]


class NotificationUnitOfWork(UnitOfWork):
    store: Port


class _MongoPort:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.db, self.s = uow.db, uow.session

    async def contact(self, account_id: str) -> Contact | None:
        doc = await self.db["contacts"].find_one({"_id": account_id}, session=self.s)
        return None if doc is None or not doc.get("contact") else Contact.model_validate(doc["contact"])

    async def save_contact_and_unpark(self, contact: Contact) -> list[Event]:
        before = await self.db["contacts"].find_one_and_update(
            {"_id": contact.account_id}, {"$set": {"contact": contact.model_dump(), "parked": []}}, upsert=True,
            session=self.s)
        return _events((before or {}).get("parked", []))

    async def park(self, account_id: str, event: Event) -> None:
        await self.db["contacts"].update_one(
            {"_id": account_id},
            {"$push": {"parked": {"event_type": event.event_type, "body": event.model_dump_json()}}},
            upsert=True, session=self.s)

    async def recipients(self, account_id: str) -> list[Recipient]:
        docs = await self.db["recipients"].find({"account_id": account_id}, session=self.s).to_list(None)
        return [Recipient.model_validate(d) for d in docs]

    async def add_inbox(self, message: InboxMessage) -> None:
        await self.db["inbox"].insert_one({"_id": message.message_id, **message.model_dump()}, session=self.s)

    async def add_deliveries(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            await self.db["deliveries"].insert_many(
                [{"_id": d.delivery_id, **d.model_dump()} for d in deliveries], session=self.s)


    async def add_recipient(self, recipient: Recipient) -> None:
        await self.db["recipients"].insert_one({"_id": recipient.recipient_id, **recipient.model_dump()},
                                               session=self.s)


class MongoNotificationUnitOfWork(MongoUnitOfWork, NotificationUnitOfWork):
    async def __aenter__(self) -> MongoNotificationUnitOfWork:
        await super().__aenter__()
        self.store = _MongoPort(self)
        return self


class _FakePort:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.t = uow.table

    async def contact(self, account_id: str) -> Contact | None:
        row = self.t("contacts").get(account_id, {})
        return Contact.model_validate(row["contact"]) if row.get("contact") else None

    async def save_contact_and_unpark(self, contact: Contact) -> list[Event]:
        row = self.t("contacts").setdefault(contact.account_id, {})
        parked, row["parked"], row["contact"] = row.get("parked", []), [], contact.model_dump()
        return _events(parked)

    async def park(self, account_id: str, event: Event) -> None:
        row = self.t("contacts").setdefault(account_id, {})
        row.setdefault("parked", []).append({"event_type": event.event_type, "body": event.model_dump_json()})

    async def recipients(self, account_id: str) -> list[Recipient]:
        return [Recipient.model_validate(r) for r in self.t("recipients").values() if r["account_id"] == account_id]

    async def add_inbox(self, message: InboxMessage) -> None:
        self.t("inbox")[message.message_id] = message.model_dump()

    async def add_deliveries(self, deliveries: list[Delivery]) -> None:
        rows: dict[str, Any] = self.t("deliveries")
        for d in deliveries:
            if d.delivery_id in rows:
                raise ValueError(f"duplicate delivery {d.delivery_id}")
            rows[d.delivery_id] = d.model_dump()


    async def add_recipient(self, recipient: Recipient) -> None:
        self.t("recipients")[recipient.recipient_id] = recipient.model_dump()


class FakeNotificationUnitOfWork(FakeUnitOfWork, NotificationUnitOfWork):
    async def __aenter__(self) -> FakeNotificationUnitOfWork:
        await super().__aenter__()
        self.store = _FakePort(self)
        return self


def mongo_uow(client: AsyncMongoClient[Doc], db: AsyncDatabase[Doc],
              on_commit: Callable[[], None]) -> Callable[[], NotificationUnitOfWork]:
    return lambda: MongoNotificationUnitOfWork(client, db, on_commit)


def fake_uow(state: FakeState) -> Callable[[], NotificationUnitOfWork]:
    return lambda: FakeNotificationUnitOfWork(state)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["recipients"].create_index("account_id")
    await db["inbox"].create_index([("account_id", 1), ("created_at", -1)])
    await db["deliveries"].create_index([("status", 1), ("next_attempt_at", 1)])
    await db["deliveries"].create_index("order_id")
