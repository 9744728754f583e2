"""Deadline reminder series, and the latest clearing of each deadline."""

from __future__ import annotations

from datetime import datetime

from services.notification.reminders import Clearing, Series
from services.notification.store.base import WrittenWhole


class ReminderSeries(WrittenWhole[Series]):
    model = Series
    id_field = "series_id"

    async def of_deadline(self, deadline_id: str) -> list[Series]:
        """Every series of the deadline, whatever its status (none: its scheduling has not arrived)."""
        return await self._find({"deadline_id": deadline_id})

    async def active(self, deadline_id: str) -> list[Series]:
        return await self._find({"deadline_id": deadline_id, "status": "active"})

    async def due(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Active series with a step due, the most overdue first, leaving out `exclude` (the worker's)."""
        return await self._ids(
            {"status": "active", "next_at": {"$lte": now}},
            sort=[("next_at", 1)],
            limit=limit,
            exclude=exclude,
        )


class Clearings(WrittenWhole[Clearing]):
    model = Clearing
    id_field = "deadline_id"
