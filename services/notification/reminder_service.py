"""Use cases of the deadline-aware reminders, and the durable worker that sends them when due.

Series live in Mongo (`reminders`) with their next due time; a worker under a Lease (one replica) sends each due
step in a unit of work that also marks it sent, so a restart resumes where it stopped and a step is planned
once (its delivery key is series + step). A stop and a send touch the same document: if they race, the database
reports a write conflict, one reruns, and a stopped series sends nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pymongo.errors import PyMongoError

from services.notification.catalogue import DEADLINE_REMINDER
from services.notification.reminders import Series, Step
from services.notification.services import CONSUMER, plan_message
from services.notification.store import NotificationUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.relay import Lease
from shared.schemas import DeadlineCleared, DeadlineScheduled, PartyRole

log = logging.getLogger("notification.reminders")
BEIJING = ZoneInfo("Asia/Shanghai")


def _due_text(due: datetime, locale: str) -> str:
    if locale == "zh-CN":  # the marketplace's users read Beijing time
        return due.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S 北京时间")
    return due.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ReminderService:
    def __init__(self, uow: UnitOfWorkFactory[NotificationUnitOfWork], on_queued: Callable[[], None],
                 fractions: tuple[float, ...], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.uow, self._on_queued, self.fractions, self.clock = uow, on_queued, fractions, clock

    async def on_scheduled(self, event: DeadlineScheduled) -> bool:
        async def work(uow: NotificationUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            for old in await uow.store.active_series(event.payload.deadline_id):  # replaced by the new schedule
                await uow.store.save_series(old.stop("re-scheduled"))
            await uow.store.save_series(Series.plan(event, self.fractions, self.clock()))
            await uow.commit()
            return True

        return await self.uow.run(work)

    async def on_cleared(self, event: DeadlineCleared) -> bool:
        async def work(uow: NotificationUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            for series in await uow.store.active_series(event.payload.deadline_id):
                await uow.store.save_series(series.stop(event.payload.reason))
            await uow.commit()
            return True

        return await self.uow.run(work)

    async def tick(self, limit: int = 50) -> int:
        """Send every due step; returns how many series advanced."""
        async def due(uow: NotificationUnitOfWork) -> list[str]:
            return await uow.store.due_series(self.clock(), limit)

        advanced = 0
        for series_id in await self.uow.run(due):
            advanced += await self.uow.run(lambda uow, sid=series_id: self._advance(uow, sid))  # type: ignore[misc]
        if advanced:
            self._on_queued()
        return advanced

    async def _advance(self, uow: NotificationUnitOfWork, series_id: str) -> int:
        series = await uow.store.series(series_id)
        if series is None:
            return 0
        series, step = series.take_due(self.clock())
        if step is not None:
            await self._send(uow, series, step)
        await uow.store.save_series(series)
        await uow.commit()
        return 1

    async def _send(self, uow: NotificationUnitOfWork, series: Series, step: Step) -> None:
        if series.party is PartyRole.OPERATOR:
            accounts = await uow.store.operators()
        else:
            p = series.parties
            accounts = [{PartyRole.BUYER: p.buyer_account_id, PartyRole.MERCHANT: p.merchant_account_id}
                        .get(series.party, "")]
        index = next(i for i, s in enumerate(series.steps) if s.at == step.at)
        for account_id in filter(None, accounts):
            contact = await uow.store.contact(account_id)
            if contact is None:
                continue  # no registration, no address: the in-site inbox needs none, but a locale; skip [I]
            ctx = {"order_id": series.order_id, "due": _due_text(series.due_at, contact.locale),
                   "consequence": series.consequence, "kind": series.kind, "node": series.node or ""}
            await plan_message(uow, event_id=f"{series.series_id}:{index}", event_type="deadline.reminder",
                               order_id=series.order_id, contact=contact, message=DEADLINE_REMINDER, ctx=ctx,
                               now=self.clock(), channels=(step.channel,),
                               note=f"reminder {index + 1} of {len(series.steps)} for deadline "
                                    f"{series.deadline_id} ({series.kind}), due {series.due_at.isoformat()}: "
                                    f"escalation step {step.channel.value}")


async def run_reminders(svc: ReminderService, lease: Lease, poll: float) -> None:
    """The durable worker: one replica (the Lease holder) sends due reminders every `poll` seconds."""
    while True:
        try:
            if await lease.acquire():
                await svc.tick()
        except PyMongoError as exc:
            log.warning("reminder worker cannot reach the database, will retry: %s", exc)
        await asyncio.sleep(poll)

