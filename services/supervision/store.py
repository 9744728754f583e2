"""Persistence: one repository per thing supervision keeps, written once over a `Collection` (Mongo in a
transaction, or memory in tests), and the unit of work that binds them.

Besides the service orders it keeps small collections, written in the same transaction:
- `timers`: one row per running deadline of a service order (due_at, kind), rewritten on every save, so the
  timer worker (a source of the shared leased worker, services/supervision/worker.py) finds what is due with
  one indexed query and a restart loses nothing;
- `evidence_files`: uploaded attachments with their SHA-256 (a document each; the size limit keeps them far
  below BSON's 16 MB);
- `unsupervised_orders`: paid orders that have no service order, and why (unsupervised.py);
- `erased_accounts`: accounts whose owner had their contact data erased (account.erased), so a service order
  opened later from an older order.paid is masked at once.
The Mongo filter syntax is written here and nowhere else in the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.supervision.service_order import ServiceOrder
from services.supervision.unsupervised import NoServiceOrder
from shared.platform.collection import Collection, Doc
from shared.platform.mongo import UnitOfWork
from shared.platform.repository import AggregateRepository
from shared.platform.uow import in_memory, on_mongo

SERVICE_ORDERS, TIMERS, FILES = "service_orders", "timers", "evidence_files"
UNSUPERVISED, ERASED = "unsupervised_orders", "erased_accounts"


def running(so: ServiceOrder) -> dict[str, datetime]:
    """The service order's running deadlines (a paused one is not due): what its rows in `timers` hold."""
    return {d.deadline_id: d.due_at for d in so.deadlines if d.running}


class ServiceOrders(AggregateRepository[ServiceOrder]):
    model = ServiceOrder
    id_field = "service_order_id"

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self.timers_at_load: dict[str, dict[str, datetime]] = {}  # what `timers` held when it was loaded

    def load(self, doc: Doc) -> ServiceOrder:
        so = super().load(doc)
        self.timers_at_load[so.service_order_id] = running(so)
        return so

    async def add(self, item: ServiceOrder) -> None:
        await super().add(item)
        self.timers_at_load[item.service_order_id] = {}  # a new service order has no rows yet

    async def of_order(self, order_id: str) -> ServiceOrder | None:
        return await self.get(ServiceOrder.id_for(order_id))

    async def holding_contact(self, buyer_account_id: str) -> list[str]:
        """Ids of the buyer's service orders that still hold a delivery contact."""
        query = {
            "parties.buyer_account_id": buyer_account_id,
            "contact_erased_at": None,
            "delivery_phone": {"$ne": None},
        }
        return await self._ids(query)


@dataclass(frozen=True)
class DueDeadline:
    """A row of `timers`: a running deadline of a service order, and when it is due."""

    deadline_id: str
    service_order_id: str
    kind: str
    due_at: datetime


class Timers:
    """The running deadlines of every service order, for the timer worker (worker.py)."""

    def __init__(self, collection: Collection, service_orders: ServiceOrders | None = None) -> None:
        self.collection, self.service_orders = collection, service_orders

    async def sync(self, so: ServiceOrder) -> None:
        """Make the rows of `so` its running deadlines (a paused one is not due). Only what changed since the
        service order was loaded in this unit of work is written (most steps end one deadline and start
        another, or none); a service order not loaded here has its rows rewritten whole."""
        now = running(so)
        before = (self.service_orders.timers_at_load if self.service_orders else {}).get(so.service_order_id)
        if before is None:
            await self.collection.delete_many({"service_order_id": so.service_order_id})
            gone, new = [], list(now)
        else:
            gone = sorted(k for k in before if now.get(k) != before[k])
            new = [k for k in now if before.get(k) != now[k]]
        if gone:
            await self.collection.delete_many({"_id": {"$in": gone}})
        kinds = {d.deadline_id: d.kind.value for d in so.deadlines}
        rows = [
            {"_id": k, "service_order_id": so.service_order_id, "kind": kinds[k], "due_at": now[k]}
            for k in new
        ]
        if rows:
            await self.collection.insert_many(rows)
        if self.service_orders is not None:
            self.service_orders.timers_at_load[so.service_order_id] = now

    async def due(
        self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[DueDeadline]:
        """The deadlines due at `now`, earliest first, but for the deadline ids in `exclude`."""
        query: Doc = {"due_at": {"$lte": now}, **({"_id": {"$nin": sorted(exclude)}} if exclude else {})}
        rows = await self.collection.find(query, sort=[("due_at", 1)], limit=limit)
        return [DueDeadline(str(r["_id"]), r["service_order_id"], r["kind"], r["due_at"]) for r in rows]


class Files:
    """Evidence files: their metadata and their bytes, a document each."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def add(self, doc: Doc) -> None:
        await self.collection.insert_one({**doc, "_id": doc["file_id"], "data": bytes(doc["data"])})

    async def get(self, file_id: str) -> Doc | None:
        doc = await self.collection.find_one({"_id": file_id})
        if doc is None:
            return None
        return {**{k: v for k, v in doc.items() if k != "_id"}, "data": bytes(doc["data"])}

    async def of(self, service_order_id: str) -> list[Doc]:
        """The files of a service order in upload order: their metadata, without the bytes (an export reads
        the files one at a time, never all of them at once)."""
        docs = await self.collection.find(
            {"service_order_id": service_order_id},
            sort=[("uploaded_at", 1)],
            projection={"data": 0, "_id": 0},
        )
        return docs


class UnsupervisedOrders:
    """Paid orders without a service order, so a lookup (or a refund.decided) can tell why there is none."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def add(self, marker: NoServiceOrder) -> None:
        doc = {**marker.model_dump(mode="json", exclude={"order_id"}), "_id": marker.order_id}
        await self.collection.replace_one({"_id": marker.order_id}, doc, upsert=True)

    async def get(self, order_id: str) -> NoServiceOrder | None:
        doc = await self.collection.find_one({"_id": order_id})
        if doc is None:
            return None
        return NoServiceOrder.model_validate({**doc, "order_id": order_id})


class ErasedAccounts:
    """Accounts whose owner had their contact data erased."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def record(self, account_id: str, erased_at: datetime) -> None:
        await self.collection.replace_one({"_id": account_id}, {"erased_at": erased_at}, upsert=True)

    async def includes(self, account_id: str) -> bool:
        return await self.collection.find_one({"_id": account_id}) is not None


class SupervisionUnitOfWork(UnitOfWork):
    service_orders: ServiceOrders
    timers: Timers
    files: Files
    unsupervised: UnsupervisedOrders
    erased: ErasedAccounts

    def bind(self) -> None:
        self.service_orders = ServiceOrders(self.collection(SERVICE_ORDERS))
        self.timers = Timers(self.collection(TIMERS), self.service_orders)
        self.files = Files(self.collection(FILES))
        self.unsupervised = UnsupervisedOrders(self.collection(UNSUPERVISED))
        self.erased = ErasedAccounts(self.collection(ERASED))


mongo_uow = on_mongo(SupervisionUnitOfWork)
fake_uow = in_memory(SupervisionUnitOfWork)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[SERVICE_ORDERS].create_index("order_id", unique=True)
    await db[TIMERS].create_index("due_at")
    await db[TIMERS].create_index("service_order_id")
    await db[FILES].create_index("service_order_id")
    await db[SERVICE_ORDERS].create_index("parties.buyer_account_id")  # account.erased finds the buyer's
