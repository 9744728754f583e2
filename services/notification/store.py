"""Ports and adapters of the notification service (Mongo, and in-memory twins for handler tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel
from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.catalogue import Channel
from services.notification.centre import Recipient
from services.notification.domain import Contact, Delivery, erased
from services.notification.reminders import Clearing, Series
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
    async def recipient(self, recipient_id: str) -> Recipient | None: ...
    async def save_recipient(self, recipient: Recipient) -> None: ...
    async def delete_recipient(self, recipient_id: str) -> None: ...
    async def changes(self, account_id: str, day: str, add: int = 0) -> int:
        """Recipient changes counted for `day` after adding `add` (the daily limit's counter)."""
    async def operators(self) -> list[str]:
        """Accounts registered with the operator role (they review appeals)."""
    async def save_series(self, series: Series) -> None: ...
    async def active_series(self, deadline_id: str) -> list[Series]: ...
    async def deadline_series(self, deadline_id: str) -> list[Series]:
        """Every series of the deadline, whatever its status (none: its scheduling has not arrived)."""
    async def series(self, series_id: str) -> Series | None: ...
    async def due_series(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Active series with a step due, the most overdue first, leaving out `exclude` (the worker's)."""
    async def clearing(self, deadline_id: str) -> Clearing | None: ...
    async def save_clearing(self, clearing: Clearing) -> None: ...
    async def add_inbox(self, message: InboxMessage) -> None: ...
    async def add_deliveries(self, deliveries: list[Delivery]) -> None: ...
    async def erased_at(self, account_id: str) -> datetime | None:
        """When the account's contact data was erased (a mark kept even if its registration is still to come)."""
    async def erase_contact(self, account_id: str, masked: Contact | None, at: datetime) -> None: ...
    async def erase_deliveries(self, account_id: str, at: datetime) -> set[tuple[str, str]]:
        """Mask and cancel the account's e-mail / SMS deliveries (`domain.erased`); the (channel, address)
        pairs they held before."""
    async def forget_rate_limits(self, keys: set[str]) -> None: ...
    async def delivery_addresses(self, account_id: str, channel: Channel, limit: int) -> list[str]:
        """The distinct addresses the account's deliveries on `channel` went to (at most `limit`)."""


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

    async def recipient(self, recipient_id: str) -> Recipient | None:
        doc = await self.db["recipients"].find_one({"_id": recipient_id}, session=self.s)
        return None if doc is None else Recipient.model_validate(doc)

    async def save_recipient(self, recipient: Recipient) -> None:
        await self.db["recipients"].replace_one({"_id": recipient.recipient_id},
                                                {"_id": recipient.recipient_id, **recipient.model_dump()},
                                                upsert=True, session=self.s)

    async def delete_recipient(self, recipient_id: str) -> None:
        await self.db["recipients"].delete_one({"_id": recipient_id}, session=self.s)

    async def changes(self, account_id: str, day: str, add: int = 0) -> int:
        doc = await self.db["recipient_changes"].find_one_and_update(
            {"_id": f"{account_id}|{day}"}, {"$inc": {"count": add}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=self.s)
        return int(doc["count"]) if doc else add

    async def operators(self) -> list[str]:
        docs = await self.db["contacts"].find({"contact.role": "operator"}, {"_id": 1},
                                              session=self.s).to_list(None)
        return sorted(str(d["_id"]) for d in docs)

    async def save_series(self, series: Series) -> None:
        await self.db["reminders"].replace_one({"_id": series.series_id},
                                               {"_id": series.series_id, **series.model_dump()},
                                               upsert=True, session=self.s)

    async def active_series(self, deadline_id: str) -> list[Series]:
        docs = await self.db["reminders"].find({"deadline_id": deadline_id, "status": "active"},
                                               session=self.s).to_list(None)
        return [Series.model_validate(d) for d in docs]

    async def deadline_series(self, deadline_id: str) -> list[Series]:
        docs = await self.db["reminders"].find({"deadline_id": deadline_id}, session=self.s).to_list(None)
        return [Series.model_validate(d) for d in docs]

    async def series(self, series_id: str) -> Series | None:
        doc = await self.db["reminders"].find_one({"_id": series_id}, session=self.s)
        return None if doc is None else Series.model_validate(doc)

    async def due_series(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        query: dict[str, Any] = {"status": "active", "next_at": {"$lte": now}}
        if exclude:
            query["_id"] = {"$nin": sorted(exclude)}
        docs = await self.db["reminders"].find(query, {"_id": 1}, session=self.s).sort("next_at", 1) \
            .limit(limit).to_list(None)
        return [str(d["_id"]) for d in docs]

    async def clearing(self, deadline_id: str) -> Clearing | None:
        doc = await self.db["deadline_clearings"].find_one({"_id": deadline_id}, session=self.s)
        return None if doc is None else Clearing.model_validate(doc)

    async def save_clearing(self, clearing: Clearing) -> None:
        await self.db["deadline_clearings"].replace_one({"_id": clearing.deadline_id},
                                                        {"_id": clearing.deadline_id, **clearing.model_dump()},
                                                        upsert=True, session=self.s)

    async def erased_at(self, account_id: str) -> datetime | None:
        doc = await self.db["contacts"].find_one({"_id": account_id}, {"erased_at": 1}, session=self.s)
        at: datetime | None = (doc or {}).get("erased_at")
        return at

    async def erase_contact(self, account_id: str, masked: Contact | None, at: datetime) -> None:
        fields: dict[str, Any] = {"erased_at": at}
        if masked is not None:
            fields["contact"] = masked.model_dump()
        await self.db["contacts"].update_one({"_id": account_id}, {"$set": fields}, upsert=True, session=self.s)

    async def erase_deliveries(self, account_id: str, at: datetime) -> set[tuple[str, str]]:
        docs = await self.db["deliveries"].find(
            {"account_id": account_id, "channel": {"$in": [Channel.EMAIL, Channel.SMS]}},
            session=self.s).to_list(None)
        held, updates = set(), []
        for doc in docs:
            before = Delivery.model_validate(doc)
            after = erased(before, at)
            held.add((before.channel.value, before.address))
            updates.append(UpdateOne({"_id": before.delivery_id}, {"$set": after.model_dump(
                include={"address", "trace", "last_error", "body", "html", "status"})}))
        if updates:
            await self.db["deliveries"].bulk_write(updates, ordered=False, session=self.s)
        return held

    async def forget_rate_limits(self, keys: set[str]) -> None:
        if keys:
            await self.db["rate_limits"].delete_many({"_id": {"$in": sorted(keys)}}, session=self.s)

    async def delivery_addresses(self, account_id: str, channel: Channel, limit: int) -> list[str]:
        found = await self.db["deliveries"].distinct("address", {"account_id": account_id, "channel": channel},
                                                     session=self.s)
        return sorted(str(a) for a in found)[:limit]


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

    async def recipient(self, recipient_id: str) -> Recipient | None:
        row = self.t("recipients").get(recipient_id)
        return None if row is None else Recipient.model_validate(row)

    async def save_recipient(self, recipient: Recipient) -> None:
        self.t("recipients")[recipient.recipient_id] = recipient.model_dump()

    async def delete_recipient(self, recipient_id: str) -> None:
        self.t("recipients").pop(recipient_id, None)

    async def changes(self, account_id: str, day: str, add: int = 0) -> int:
        rows = self.t("recipient_changes")
        rows[f"{account_id}|{day}"] = rows.get(f"{account_id}|{day}", 0) + add
        return int(rows[f"{account_id}|{day}"])

    async def operators(self) -> list[str]:
        return sorted(k for k, row in self.t("contacts").items()
                      if row.get("contact", {}).get("role") == "operator")

    async def save_series(self, series: Series) -> None:
        self.t("reminders")[series.series_id] = series.model_dump()

    async def active_series(self, deadline_id: str) -> list[Series]:
        return [Series.model_validate(r) for r in self.t("reminders").values()
                if r["deadline_id"] == deadline_id and r["status"] == "active"]

    async def deadline_series(self, deadline_id: str) -> list[Series]:
        return [Series.model_validate(r) for r in self.t("reminders").values() if r["deadline_id"] == deadline_id]

    async def series(self, series_id: str) -> Series | None:
        row = self.t("reminders").get(series_id)
        return None if row is None else Series.model_validate(row)

    async def due_series(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        rows = [r for r in self.t("reminders").values()
                if r["status"] == "active" and r["next_at"] <= now and r["series_id"] not in exclude]
        return [r["series_id"] for r in sorted(rows, key=lambda r: r["next_at"])][:limit]

    async def clearing(self, deadline_id: str) -> Clearing | None:
        row = self.t("deadline_clearings").get(deadline_id)
        return None if row is None else Clearing.model_validate(row)

    async def save_clearing(self, clearing: Clearing) -> None:
        self.t("deadline_clearings")[clearing.deadline_id] = clearing.model_dump()

    async def erased_at(self, account_id: str) -> datetime | None:
        at: datetime | None = self.t("contacts").get(account_id, {}).get("erased_at")
        return at

    async def erase_contact(self, account_id: str, masked: Contact | None, at: datetime) -> None:
        row = self.t("contacts").setdefault(account_id, {})
        row["erased_at"] = at
        if masked is not None:
            row["contact"] = masked.model_dump()

    async def erase_deliveries(self, account_id: str, at: datetime) -> set[tuple[str, str]]:
        held = set()
        for key, row in self.t("deliveries").items():
            before = Delivery.model_validate(row)
            if before.account_id == account_id and before.channel in (Channel.EMAIL, Channel.SMS):
                held.add((before.channel.value, before.address))
                self.t("deliveries")[key] = erased(before, at).model_dump()
        return held

    async def forget_rate_limits(self, keys: set[str]) -> None:
        for key in keys:
            self.t("rate_limits").pop(key, None)

    async def delivery_addresses(self, account_id: str, channel: Channel, limit: int) -> list[str]:
        rows = self.t("deliveries").values()
        return sorted({r["address"] for r in rows if r["account_id"] == account_id and r["channel"] == channel})[:limit]


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
    await db["deliveries"].create_index([("status", 1), ("lease_until", 1)])
    await db["deliveries"].create_index("order_id")
    await db["reminders"].create_index([("status", 1), ("next_at", 1)])
    await db["reminders"].create_index("deadline_id")
    await db["contacts"].create_index("contact.role")
    await db["deliveries"].create_index([("account_id", 1), ("channel", 1)])
