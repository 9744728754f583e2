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
  opened later from an older order.paid is masked at once;
- `appeal_queue`: one row per appeal (open, escalated or resolved) with its SLA due time and assignee,
  rewritten with its service order, so the operators' queue (GET /appeals) is an indexed query, not a scan
  of every service order's embedded appeals.
The Mongo filter syntax is written here and nowhere else in the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pymongo.asynchronous.database import AsyncDatabase

from services.supervision.service_order import ServiceOrder
from services.supervision.unsupervised import NoServiceOrder
from shared.platform.collection import Collection, Doc, Sort
from shared.platform.mongo import UnitOfWork
from shared.platform.repository import AggregateRepository
from shared.platform.uow import in_memory, on_mongo

SERVICE_ORDERS, TIMERS, FILES = "service_orders", "timers", "evidence_files"
UNSUPERVISED, ERASED, APPEAL_QUEUE = "unsupervised_orders", "erased_accounts", "appeal_queue"


def running(so: ServiceOrder) -> dict[str, datetime]:
    """The service order's running deadlines (a paused one is not due): what its rows in `timers` hold."""
    return {d.deadline_id: d.due_at for d in so.deadlines if d.running}


class ServiceOrders(AggregateRepository[ServiceOrder]):
    model = ServiceOrder
    id_field = "service_order_id"

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self.timers_at_load: dict[str, dict[str, datetime]] = {}  # what `timers` held when it was loaded
        self.appeals_at_load: dict[str, dict[str, Doc]] = {}  # and `appeal_queue`

    def load(self, doc: Doc) -> ServiceOrder:
        so = super().load(doc)
        self.timers_at_load[so.service_order_id] = running(so)
        self.appeals_at_load[so.service_order_id] = appeal_rows(so)
        return so

    async def add(self, item: ServiceOrder) -> None:
        await super().add(item)
        self.timers_at_load[item.service_order_id] = {}  # a new service order has no rows yet
        self.appeals_at_load[item.service_order_id] = {}

    async def of_order(self, order_id: str) -> ServiceOrder | None:
        return await self.get(ServiceOrder.id_for(order_id))

    NEWEST: ClassVar[Sort] = [("created_at", -1), ("_id", -1)]
    # What a list row shows: never the timeline or the evidence (they grow with the order).
    LISTED: ClassVar[Doc] = {
        k: 1 for k in ("order_id", "parties", "product", "status", "node", "amount", "currency", "created_at")
    } | {"deadlines": 1}

    async def page(self, f: ServiceOrderFilter, limit: int) -> list[Doc]:
        """A page of service orders matching `f`, newest first."""
        terms: list[Doc] = []
        for field, value in (
            ("parties.buyer_account_id", f.buyer_account_id),
            ("parties.merchant_account_id", f.merchant_account_id),
            ("status", f.status),
            ("node", f.node),
            ("product.delivery_type", f.delivery_type),
            ("order_id", f.order_id),
        ):
            if value is not None:
                terms.append({field: value})
        if f.created_from:
            terms.append({"created_at": {"$gte": f.created_from}})
        if f.created_to:
            terms.append({"created_at": {"$lt": f.created_to}})
        if f.before:
            at, so_id = f.before
            terms.append({"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": so_id}}]})
        query: Doc = {"$and": terms} if terms else {}
        return await self.collection.find(query, sort=self.NEWEST, limit=limit, projection=self.LISTED)

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


def appeal_status(row: Doc) -> str:
    return "resolved" if row.get("resolved_at") else "escalated" if row.get("escalated_at") else "open"


def appeal_rows(so: ServiceOrder) -> dict[str, Doc]:
    """The service order's rows in `appeal_queue`: each appeal, as the operators' queue shows it."""
    rows = {}
    for a in [*so.appeals, *([so.open_appeal] if so.open_appeal else [])]:
        row: Doc = {
            "service_order_id": so.service_order_id,
            "order_id": so.order_id,
            "appeal_id": a.appeal_id,
            "raised_by_role": a.raised_by_role.value,
            "raised_by_account_id": a.raised_by_account_id,
            "reason": a.reason,
            "node": a.node,
            "raised_at": a.raised_at,
            "due_at": a.respond_by or a.raised_at,
            "assignee_account_id": a.assignee_account_id,
            "escalated_at": a.escalated_at,
            "resolved_at": a.resolved_at,
            "outcome": a.outcome.value if a.outcome else None,
        }
        rows[a.appeal_id] = {**row, "status": appeal_status(row)}
    return rows


@dataclass(frozen=True)
class ServiceOrderFilter:
    """A service-order list's filters (all optional; the party's own account is set by the read side) and the
    cursor: the (created_at, service_order_id) of the last row already seen, newest first."""

    buyer_account_id: str | None = None
    merchant_account_id: str | None = None
    status: str | None = None
    node: str | None = None
    delivery_type: str | None = None
    order_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before: tuple[datetime, str] | None = None


@dataclass(frozen=True)
class QueueFilter:
    """The operators' queue filters (all optional): status, raised before/after, SLA overdue at `now` or due
    within `due_within_hours`, the assignee (or unassigned ones), and the cursor: the (due_at, appeal_id) of
    the last row already seen."""

    now: datetime
    status: str | None = None
    raised_before: datetime | None = None
    raised_after: datetime | None = None
    overdue: bool | None = None
    due_within_hours: float | None = None
    assignee: str | None = None
    unassigned: bool = False
    after: tuple[datetime, str] | None = None


class AppealQueue:
    """Every appeal, for the operators' queue (GET /appeals): oldest SLA first, then by appeal id."""

    ORDER: ClassVar[Sort] = [("due_at", 1), ("_id", 1)]

    def __init__(self, collection: Collection, service_orders: ServiceOrders | None = None) -> None:
        self.collection, self.service_orders = collection, service_orders

    async def sync(self, so: ServiceOrder) -> None:
        """Rewrite the rows of `so` that changed since it was loaded in this unit of work."""
        now = appeal_rows(so)
        before = (self.service_orders.appeals_at_load if self.service_orders else {}).get(so.service_order_id)
        for appeal_id, row in now.items():
            if before is None or before.get(appeal_id) != row:
                await self.collection.replace_one({"_id": appeal_id}, {**row, "_id": appeal_id}, upsert=True)
        if self.service_orders is not None:
            self.service_orders.appeals_at_load[so.service_order_id] = now

    async def get(self, appeal_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": appeal_id})

    async def find(self, f: QueueFilter, limit: int) -> list[Doc]:
        terms: list[Doc] = []
        unresolved: Doc = {"status": {"$in": ["open", "escalated"]}}
        if f.status:
            terms.append({"status": f.status})
        if f.raised_before:
            terms.append({"raised_at": {"$lt": f.raised_before}})
        if f.raised_after:
            terms.append({"raised_at": {"$gte": f.raised_after}})
        if f.overdue is not None:
            terms += [unresolved, {"due_at": {"$lt" if f.overdue else "$gte": f.now}}]
        if f.due_within_hours is not None:
            soon = f.now + timedelta(hours=f.due_within_hours)
            terms += [unresolved, {"due_at": {"$gte": f.now, "$lte": soon}}]
        if f.assignee:
            terms.append({"assignee_account_id": f.assignee})
        if f.unassigned:
            terms.append({"assignee_account_id": None})
        if f.after:
            due, appeal_id = f.after
            terms.append({"$or": [{"due_at": {"$gt": due}}, {"due_at": due, "_id": {"$gt": appeal_id}}]})
        query: dict[str, Any] = {"$and": terms} if terms else {}
        return await self.collection.find(query, sort=self.ORDER, limit=limit)


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
    appeal_queue: AppealQueue

    def bind(self) -> None:
        self.service_orders = ServiceOrders(self.collection(SERVICE_ORDERS))
        self.timers = Timers(self.collection(TIMERS), self.service_orders)
        self.files = Files(self.collection(FILES))
        self.unsupervised = UnsupervisedOrders(self.collection(UNSUPERVISED))
        self.erased = ErasedAccounts(self.collection(ERASED))
        self.appeal_queue = AppealQueue(self.collection(APPEAL_QUEUE), self.service_orders)


mongo_uow = on_mongo(SupervisionUnitOfWork)
fake_uow = in_memory(SupervisionUnitOfWork)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[SERVICE_ORDERS].create_index("order_id", unique=True)
    await db[TIMERS].create_index("due_at")
    await db[TIMERS].create_index("service_order_id")
    await db[FILES].create_index("service_order_id")
    # The lists (GET /service-orders): each party's own, newest first; operators' all.
    await db[SERVICE_ORDERS].create_index([("parties.buyer_account_id", 1), ("created_at", -1), ("_id", -1)])
    await db[SERVICE_ORDERS].create_index(
        [("parties.merchant_account_id", 1), ("created_at", -1), ("_id", -1)]
    )
    await db[SERVICE_ORDERS].create_index([("created_at", -1), ("_id", -1)])
    await db[SERVICE_ORDERS].create_index("parties.buyer_account_id")  # account.erased finds the buyer's
    # The operators' queue: every filter ends in its order (due_at, _id), so each is an index range scan.
    await db[APPEAL_QUEUE].create_index([("due_at", 1), ("_id", 1)])
    await db[APPEAL_QUEUE].create_index([("status", 1), ("due_at", 1), ("_id", 1)])
    await db[APPEAL_QUEUE].create_index([("assignee_account_id", 1), ("due_at", 1), ("_id", 1)])
    await db[APPEAL_QUEUE].create_index([("raised_at", 1)])
