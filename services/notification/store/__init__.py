"""Persistence of the notification service: one repository per aggregate, written once over `Collection`
(Mongo in a transaction in production, memory in tests), and the one unit of work that binds them.

| repository       | collection           | what                                                            |
|------------------|----------------------|-----------------------------------------------------------------|
| `contacts`       | `contacts`           | an account's bound contact, events parked for it, erasure mark  |
| `recipients`     | `recipients`         | the message centre's recipients                                 |
| `changes`        | `recipient_changes`  | recipient additions / changes per account and day (the limit)   |
| `deliveries`     | `deliveries`         | the delivery queue and log (e-mail, SMS, in-site)               |
| `inbox`          | `inbox`              | in-site messages                                                |
| `rate_limits`    | `rate_limits`        | per-address send slots (the rate limit's windows)               |
| `series`         | `reminders`          | deadline reminder series                                        |
| `clearings`      | `deadline_clearings` | the latest clearing of each deadline                            |

Use cases reach them through `NotificationUnitOfWork`. The dispatcher uses `Deliveries` and `RateLimits` on
plain collections, outside any transaction: its claims and results are conditional writes, each on one row's
status, sent a round at a time (one `update_many`, one bulk write: store/bulk.py), and a send must not hold a
transaction open while a provider answers.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.notification.store.accounts import ChangeCounters, Contacts, Recipients
from services.notification.store.deliveries import Deliveries, Inbox
from services.notification.store.rate_limits import RateLimits
from services.notification.store.reminders import Clearings, ReminderSeries
from shared.platform.collection import Doc
from shared.platform.mongo import UnitOfWork
from shared.platform.uow import in_memory, on_mongo

__all__ = [
    "ChangeCounters",
    "Clearings",
    "Contacts",
    "Deliveries",
    "Inbox",
    "NotificationUnitOfWork",
    "RateLimits",
    "Recipients",
    "ReminderSeries",
    "ensure_indexes",
    "fake_uow",
    "mongo_uow",
]


class NotificationUnitOfWork(UnitOfWork):
    contacts: Contacts
    recipients: Recipients
    changes: ChangeCounters
    deliveries: Deliveries
    inbox: Inbox
    rate_limits: RateLimits
    series: ReminderSeries
    clearings: Clearings

    def bind(self) -> None:
        self.contacts = Contacts(self.collection("contacts"))
        self.recipients = Recipients(self.collection("recipients"))
        self.changes = ChangeCounters(self.collection("recipient_changes"))
        self.deliveries = Deliveries(self.collection("deliveries"))
        self.inbox = Inbox(self.collection("inbox"))
        self.rate_limits = RateLimits(self.collection("rate_limits"))
        self.series = ReminderSeries(self.collection("reminders"))
        self.clearings = Clearings(self.collection("deadline_clearings"))


mongo_uow = on_mongo(NotificationUnitOfWork)  # (client, db, on_commit) -> factory: the app's
fake_uow = in_memory(NotificationUnitOfWork)  # (FakeState) -> factory: unit and service tests'


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
    await db["rate_limits"].create_index("key")  # an erasure deletes an address's slots
