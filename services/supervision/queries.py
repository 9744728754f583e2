"""Read side: a service order, the service order of an order, an evidence file, an export. Plain reads outside
any transaction, through the same repositories the use cases write with; each checks who is asking."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from services.supervision import checkpoints, evidence
from services.supervision.access import admit, admit_to_marker
from services.supervision.checkpoints import TimelineKeys
from services.supervision.service_order import ServiceOrder
from services.supervision.store import (
    APPEAL_QUEUE,
    FILES,
    SERVICE_ORDERS,
    UNSUPERVISED,
    AppealQueue,
    Files,
    QueueFilter,
    ServiceOrderFilter,
    ServiceOrders,
    UnsupervisedOrders,
)
from shared.platform.auth import Principal
from shared.platform.collection import Collections, Doc
from shared.platform.errors import Forbidden, InvalidInput, NotFound
from shared.schemas import AccountRole

__all__ = ["QueueFilter", "ServiceOrderFilter", "SupervisionQueries"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SupervisionQueries:
    def __init__(
        self, collections: Collections, keys: TimelineKeys, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.collections, self.keys, self.clock = collections, keys, clock

    # The repositories over the collections as they are now (a fake's committed tables are replaced on
    # commit).
    @property
    def service_orders(self) -> ServiceOrders:
        return ServiceOrders(self.collections.collection(SERVICE_ORDERS))

    @property
    def unsupervised(self) -> UnsupervisedOrders:
        return UnsupervisedOrders(self.collections.collection(UNSUPERVISED))

    @property
    def files(self) -> Files:
        return Files(self.collections.collection(FILES))

    @property
    def appeal_queue(self) -> AppealQueue:
        return AppealQueue(self.collections.collection(APPEAL_QUEUE))

    async def service_orders_page(
        self, viewer: Principal, f: ServiceOrderFilter, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """Dossier §9.2 (buyers and merchants manage their service orders), §2.1 (the seller center's list): a
        page of the caller's service orders, newest first, and the cursor of the next page (None on the
        last). A buyer sees those it bought, a merchant those it sells, an operator every one."""
        if viewer.role is AccountRole.BUYER:
            f = dataclasses.replace(f, buyer_account_id=viewer.account_id)
        elif viewer.role is AccountRole.MERCHANT:
            f = dataclasses.replace(f, merchant_account_id=viewer.account_id)
        elif not viewer.is_operator:
            raise Forbidden(
                "service orders are listed to their buyers, merchants and operators", rule="parties"
            )
        if cursor:
            f = dataclasses.replace(f, before=decode_cursor(cursor))
        rows = await self.service_orders.page(f, limit + 1)
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "service_orders": [_listed(r) for r in page],
            "next_cursor": encode_cursor(page[-1]["created_at"], str(page[-1]["_id"])) if more else None,
        }

    async def appeals(
        self, viewer: Principal, f: QueueFilter, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """The operators' appeal queue (dossier §5.3, §9.2): a page of appeals, oldest SLA first, and the
        cursor of the next page (None on the last)."""
        if not viewer.is_operator:
            raise Forbidden("only platform operators see the appeal queue", rule="operators_only")
        if cursor:
            f = dataclasses.replace(f, after=decode_cursor(cursor))
        rows = await self.appeal_queue.find(f, limit + 1)
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "appeals": [_queue_row(r, f.now) for r in page],
            "next_cursor": encode_cursor(page[-1]["due_at"], page[-1]["appeal_id"]) if more else None,
        }

    async def service_order(self, so_id: str, viewer: Principal) -> ServiceOrder:
        """Its parties and operators only."""
        so = await self.service_orders.get(so_id)
        if so is None:
            raise NotFound(f"service order {so_id} does not exist")
        admit(so, viewer, operators=True)
        return so

    async def of_order(self, order_id: str, viewer: Principal) -> ServiceOrder:
        """The order's service order; for an order that has none, a 404 that says why (not_supervised for a
        product that is not supervised)."""
        so = await self.service_orders.of_order(order_id)
        if so is not None:
            admit(so, viewer, operators=True)
            return so
        marker = await self.unsupervised.get(order_id)
        if marker is None:
            raise NotFound(f"order {order_id} has no service order (yet)")
        admit_to_marker(marker, viewer)
        raise marker.why()

    async def file(self, so_id: str, file_id: str, viewer: Principal) -> Doc:
        """An evidence file with its bytes."""
        await self.service_order(so_id, viewer)
        doc = await self.files.get(file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {file_id} is not attached to service order {so_id}")
        return doc

    async def export(self, so_id: str, viewer: Principal) -> AsyncIterator[bytes]:
        """Check who asks, then the export document as a stream: the files are read one at a time."""
        so = await self.service_order(so_id, viewer)
        return evidence.export(so, await self.files.of(so_id), self._content, self.signing(so))

    def signing(self, so: ServiceOrder) -> dict[str, Any]:
        """The export's checkpoints: the timeline's periodic ones and a new one over its last entry, signed
        now; the key id and the public keys come with them (trust them only as far as they match
        GET /timeline-keys)."""
        hashes = [e.hash for e in so.timeline]
        periodic = [e.details for e in so.timeline if e.action == checkpoints.ACTION]
        final = self.keys.sign(checkpoints.EXPORT, so.service_order_id, hashes, self.clock())
        return {
            "checkpoints": [*periodic, final],
            "signing": {
                "alg": checkpoints.ALG,
                "key_id": self.keys.key_id,
                "public_keys": self.keys.public_keys,
                "keys_route": "/timeline-keys",
            },
        }

    def timeline_keys(self) -> dict[str, Any]:
        """The public keys checkpoints are signed with, by key id (current and retired)."""
        return {"keys": self.keys.published()}

    async def _content(self, file_id: str) -> bytes:
        doc = await self.files.get(file_id)
        if doc is None:  # files are never deleted: only a broken database gets here
            raise NotFound(f"file {file_id} is gone")
        return bytes(doc["data"])


def _listed(row: Doc) -> dict[str, Any]:
    """A service order as a list shows it (§2.1: order id, product name, amount, status, order time), with
    the node it waits at and the earliest running deadline: what happens next, and when."""
    running = [d for d in row.get("deadlines") or [] if d.get("paused_remaining") is None and d.get("due_at")]
    nearest = min(running, key=lambda d: d["due_at"], default=None)
    product = row.get("product") or {}
    return {
        "service_order_id": str(row["_id"]),
        "order_id": row["order_id"],
        "product_id": product.get("product_id"),
        "product_name": product.get("name"),
        "delivery_type": product.get("delivery_type"),
        "amount": str(row.get("amount", "")),
        "currency": row.get("currency", "CNY"),
        "status": row["status"],
        "node": row.get("node"),
        "buyer_account_id": row["parties"]["buyer_account_id"],
        "merchant_account_id": row["parties"]["merchant_account_id"],
        "created_at": _aware(row["created_at"]),
        "next_deadline": (
            {"kind": nearest["kind"], "party": nearest.get("party"), "due_at": _aware(nearest["due_at"])}
            if nearest
            else None
        ),
    }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _queue_row(row: Doc, now: datetime) -> dict[str, Any]:
    due: datetime = row["due_at"]
    open_ = row["status"] != "resolved"
    return {
        "appeal_id": row["appeal_id"],
        "service_order_id": row["service_order_id"],
        "order_id": row["order_id"],
        "raised_by": {"role": row["raised_by_role"], "account_id": row["raised_by_account_id"]},
        "reason": row["reason"],
        "node": row["node"],
        "raised_at": row["raised_at"],
        "due_at": due,
        # Seconds left of the SLA (negative once overdue); none for a resolved appeal.
        "remaining_seconds": round((due - now).total_seconds()) if open_ else None,
        "assignee_account_id": row["assignee_account_id"],
        "status": row["status"],
        "escalated_at": row["escalated_at"],
        "resolved_at": row["resolved_at"],
    }


def encode_cursor(due_at: datetime, appeal_id: str) -> str:
    """Where a page ended: the last row's place in the queue's order, opaque to the caller."""
    raw = json.dumps([due_at.isoformat(), appeal_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        due, appeal_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(due)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("the cursor is not one this queue gave", field="cursor") from exc
    if at.tzinfo is None or not isinstance(appeal_id, str):
        raise InvalidInput("the cursor is not one this queue gave", field="cursor")
    return at, appeal_id
