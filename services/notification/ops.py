"""Operations on deliveries after the fact: provider status callbacks, and an operator's replay of dead ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.notification.domain import DeliveryStatus
from shared.platform.errors import NotFound
from shared.platform.logs import mask
from shared.platform.mongo import Doc

# Twilio's message statuses in the order they happen; a late callback never moves a status backwards.
SMS_PROGRESS = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "undelivered": 4,
                "failed": 4, "read": 5}


class Ops:
    def __init__(self, db: AsyncDatabase[Doc], on_queued: Callable[[], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db, self._on_queued, self.clock = db, on_queued, clock

    async def sms_status(self, delivery_id: str, sid: str, status: str) -> bool:
        """Record the provider's status for the delivery it was sent for; False if it was stale."""
        rank = SMS_PROGRESS.get(status, -1)
        lower = [s for s, r in SMS_PROGRESS.items() if r < rank]
        result = await self.db["deliveries"].update_one(
            {"_id": delivery_id, "channel": "sms",
             "$or": [{"provider_status": None}, {"provider_status": {"$in": lower}}]},
            {"$set": {"provider_status": status, "provider_ref": sid},
             "$push": {"trace": f"provider status {status} at {self.clock().isoformat()}"}})
        return result.modified_count == 1

    async def dead(self, order_id: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"status": {"$in": [DeliveryStatus.DEAD, DeliveryStatus.FAILED]}}
        if order_id:
            query["order_id"] = order_id
        docs = await self.db["deliveries"].find(query, {"body": 0, "html": 0}).sort("created_at", -1) \
            .limit(limit).to_list(None)
        # An operator sees what failed and why, not whom it was for: provider errors can quote the address.
        return [{"delivery_id": d["_id"], "last_error": mask(str(d.get("last_error") or "")),
                 **{k: d.get(k) for k in ("account_id", "order_id", "channel", "message_type", "status", "attempts")}}
                for d in docs]

    async def replay(self, operator_id: str, delivery_id: str) -> str:
        """A dead (or refused) delivery goes back to the queue with fresh attempts; its key stays the same,
        so the e-mail keeps its Message-ID and a replay can never create a second row."""
        now = self.clock()
        result = await self.db["deliveries"].update_one(
            {"_id": delivery_id, "status": {"$in": [DeliveryStatus.DEAD, DeliveryStatus.FAILED]}},
            {"$set": {"status": DeliveryStatus.PENDING, "attempts": 0, "next_attempt_at": now},
             "$inc": {"replays": 1},
             "$push": {"trace": f"replayed by operator {operator_id} at {now.isoformat()}"}})
        if result.modified_count == 0:
            doc = await self.db["deliveries"].find_one({"_id": delivery_id}, {"status": 1})
            if doc is None:
                raise NotFound(f"delivery {delivery_id} not found")
            return str(doc["status"])  # not dead: nothing to replay (a second click is harmless)
        self._on_queued()
        return DeliveryStatus.PENDING.value
