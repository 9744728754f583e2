"""Deadline reminder series, and the latest clearing of each deadline."""

from __future__ import annotations

from datetime import datetime

from services.notification.reminders import Clearing, Series
from services.notification.store.base import WrittenWhole
from shared.platform.collection import Collection


class ReminderSeries(WrittenWhole[Series]):
    model = Series
    id_field = "series_id"

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        # deadline id -> its series by id, for a batch that prefetched them; kept up to date by `put`
        self._of: dict[str, dict[str, Series]] = {}

    async def prefetch(self, deadline_ids: list[str]) -> None:
        """The series of these deadlines in one query, for a batch of schedulings and clearings."""
        wanted = sorted(set(deadline_ids) - set(self._of))
        if not wanted:
            return
        for d in wanted:
            self._of[d] = {}
        for series in await self._find({"deadline_id": {"$in": wanted}}):
            self._of[series.deadline_id][series.series_id] = series

    async def put(self, item: Series) -> None:
        if item.deadline_id in self._of:
            self._of[item.deadline_id][item.series_id] = item
        await super().put(item)

    async def of_deadline(self, deadline_id: str) -> list[Series]:
        """Every series of the deadline, whatever its status (none: its scheduling has not arrived)."""
        if deadline_id in self._of:
            return list(self._of[deadline_id].values())
        return await self._find({"deadline_id": deadline_id})

    async def active(self, deadline_id: str) -> list[Series]:
        if deadline_id in self._of:
            return [s for s in self._of[deadline_id].values() if s.status == "active"]
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
