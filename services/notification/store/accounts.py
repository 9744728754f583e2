"""What notification keeps about accounts: contact records, recipients, daily change counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notification.centre import Recipient
from services.notification.domain import Contact
from services.notification.store.base import WrittenWhole
from shared.platform.collection import Collection
from shared.schemas import EVENT_TYPES, AccountRole, Event


class Contacts:
    """Contacts and the events parked for them share one document per account (`contacts/<account>`).

    An event for an account whose registration has not arrived is parked on that document; the registration
    writes the same document and takes what was parked. Both transactions write one document, so when they
    run concurrently the database reports a write conflict and one of them reruns: an event is either sent
    with the contact or parked where the registration finds it, never lost in between. The document also keeps
    when its owner had the contact data erased, even before the registration arrives.
    """

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def get(self, account_id: str) -> Contact | None:
        doc = await self.collection.find_one({"_id": account_id})
        return None if doc is None or not doc.get("contact") else Contact.model_validate(doc["contact"])

    async def register(self, contact: Contact) -> list[Event]:
        """Keep the account's contact; the events parked for it, taken off the document."""
        doc = await self.collection.find_one({"_id": contact.account_id}, projection={"parked": 1})
        await self.collection.update_one(
            {"_id": contact.account_id},
            {"$set": {"contact": contact.model_dump(), "parked": []}},
            upsert=True,
        )
        parked: list[dict[str, str]] = (doc or {}).get("parked", [])
        return [EVENT_TYPES[p["event_type"]].model_validate_json(p["body"]) for p in parked]

    async def park(self, account_id: str, event: Event) -> None:
        parked = {"event_type": event.event_type, "body": event.model_dump_json()}
        await self.collection.update_one({"_id": account_id}, {"$push": {"parked": parked}}, upsert=True)

    async def erased_at(self, account_id: str) -> datetime | None:
        """When the account's contact data was erased (a mark kept even before its registration comes)."""
        doc = await self.collection.find_one({"_id": account_id}, projection={"erased_at": 1})
        at: datetime | None = (doc or {}).get("erased_at")
        return at

    async def erase(self, account_id: str, masked: Contact | None, at: datetime) -> None:
        fields: dict[str, Any] = {"erased_at": at}
        if masked is not None:
            fields["contact"] = masked.model_dump()
        await self.collection.update_one({"_id": account_id}, {"$set": fields}, upsert=True)

    async def operators(self) -> list[str]:
        """Accounts registered with the operator role (they review appeals)."""
        docs = await self.collection.find({"contact.role": AccountRole.OPERATOR.value}, projection={"_id": 1})
        return sorted(str(d["_id"]) for d in docs)


class Recipients(WrittenWhole[Recipient]):
    """The message centre's recipients (消息接收人) of each account."""

    model = Recipient
    id_field = "recipient_id"

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self._of: dict[str, list[Recipient]] = {}  # prefetched, by account (forgotten on any write)

    async def put(self, item: Recipient) -> None:
        self._of.clear()
        await super().put(item)

    async def remove(self, key: str) -> None:
        self._of.clear()
        await super().remove(key)

    async def of_account(self, account_id: str) -> list[Recipient]:
        if account_id in self._of:
            return list(self._of[account_id])
        return await self._find({"account_id": account_id})

    async def prefetch(self, account_ids: list[str]) -> None:
        """The recipients of these accounts in one query, for a batch of events that only reads them (a use
        case that changes recipients runs alone, in a unit of work of its own)."""
        wanted = sorted(set(account_ids) - set(self._of))
        if not wanted:
            return
        found: dict[str, list[Recipient]] = {a: [] for a in wanted}
        for r in await self._find({"account_id": {"$in": wanted}}):
            found[r.account_id].append(r)
        self._of.update(found)


class ChangeCounters:
    """Recipient additions and changes an account made on a day (`<account>|<day>`): the daily limit's."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def used(self, account_id: str, day: str) -> int:
        doc = await self.collection.find_one({"_id": f"{account_id}|{day}"})
        return int(doc["count"]) if doc else 0

    async def add(self, account_id: str, day: str, n: int) -> None:
        await self.collection.update_one({"_id": f"{account_id}|{day}"}, {"$inc": {"count": n}}, upsert=True)
