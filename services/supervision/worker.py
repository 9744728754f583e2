"""The timer worker: fires the deadlines whose time has come. The deadlines live in Mongo (the service order
and its `timers` rows), so a restart loses none.

It is a source of the shared leased worker (shared/platform/worker.py), one due `timers` row per item: one
replica fires at a time, under a lease renewed while it works; each firing is its own transaction with its
events in the outbox, and firing a deadline twice does nothing (it is gone after the first). A deadline whose
firing fails is recorded, retried with backoff and finally quarantined (reported in /readyz); the other
deadlines keep firing. It does not watch the `timers` collection: rows are written when a deadline starts,
long before it is due, so a change stream would only wake it for nothing; the poll interval is the timers'
resolution.
"""

from __future__ import annotations

from datetime import datetime

from services.supervision import flow_cases
from services.supervision.services import SupervisionService
from services.supervision.settings import SupervisionSettings
from services.supervision.store import DueDeadline
from shared.platform.worker import Blocked, WorkerSettings


class TimerSource:
    """The due deadlines (read through the `timers` repository), earliest first; an item's key is its
    deadline id."""

    name = "supervision-timers"

    def __init__(self, service: SupervisionService) -> None:
        self.service = service

    def key(self, item: DueDeadline) -> str:
        return item.deadline_id

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[DueDeadline]:
        return await flow_cases.due_deadlines(self.service, now, limit, blocked)

    async def process(self, item: DueDeadline) -> None:
        await flow_cases.fire(self.service, item)


def timer_worker(settings: SupervisionSettings) -> WorkerSettings:
    """A few firings at once (two of one service order conflict, and the runner reruns the loser); a failing
    deadline backs off from `timer_backoff_seconds` doubling to 5 minutes, and is quarantined after
    `timer_max_attempts` (about 13 minutes of failures with the defaults: a database outage does not get
    there)."""
    return WorkerSettings.from_settings(settings, "timer", concurrency=4)
