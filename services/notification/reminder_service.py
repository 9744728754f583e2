"""Use cases of the deadline-aware reminders, and the source of the worker that sends them when due.

Series live in Mongo (`reminders`) with their next due time. The shared leased worker (one replica) takes the
due series, one item per series, and sends each due step in a unit of work that also marks it sent, so a
restart resumes where it stopped and a step is planned once (its delivery key is series + step). A series that
fails is recorded, retried with backoff and at last quarantined by the worker; the others go on. A stop and a
send touch the same document: if they race, the database reports a write conflict, one reruns, and a stopped
series sends nothing more.

Schedulings and clearings come on two topics, in any order. A clearing of a deadline not seen yet raises
`NotYetKnown`: it is parked and handled again as soon as its scheduling has been handled (`parking.arrived`).
A clearing stops only the series scheduled before it, and is kept, so a scheduling read after a later clearing
of its deadline (resumed, then acted on) starts stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

from services.notification.catalogue import DEADLINE_REMINDER
from services.notification.deps import CONSUMER, Deps
from services.notification.domain import Cause
from services.notification.planning import plan_message
from services.notification.reminders import Clearing, Series, Step
from services.notification.store import NotificationUnitOfWork
from shared.platform.errors import NotYetKnown
from shared.platform.worker import Blocked, WorkerSettings
from shared.schemas import DeadlineCleared, DeadlineScheduled, Event, PartyRole

BEIJING = ZoneInfo("Asia/Shanghai")


async def schedule(deps: Deps, event: DeadlineScheduled) -> bool:
    """Start the deadline's series (replacing an active one), stopped if a later clearing came first."""
    done = await deps.uow.handle(CONSUMER, event, lambda uow: _schedule(deps, uow, event)) is not None
    if deps.parking is not None:  # after the commit: a parked clearing of it now finds its series
        await deps.parking.arrived(event.payload.deadline_id)
    return done


async def clear(deps: Deps, event: DeadlineCleared) -> bool:
    """Stop the series scheduled before this clearing, and keep the clearing for schedulings still to come."""
    return await deps.uow.handle(CONSUMER, event, lambda uow: _clear(uow, event)) is not None


async def schedule_all(deps: Deps, events: list[DeadlineScheduled]) -> list[bool]:
    """`schedule` for a batch, in one unit of work: the deadlines' series and clearings read in two queries,
    written together."""
    done = await _batch(deps, events, lambda uow, e: _schedule(deps, uow, cast(DeadlineScheduled, e)))
    if deps.parking is not None:
        await deps.parking.arrived(*(event.payload.deadline_id for event in events))
    return done


async def clear_all(deps: Deps, events: list[DeadlineCleared]) -> list[bool]:
    """`clear` for a batch, in one unit of work (a clearing of a deadline not scheduled yet fails the batch,
    and is parked on its own)."""
    return await _batch(deps, events, lambda uow, e: _clear(uow, cast(DeadlineCleared, e)))


async def _batch(
    deps: Deps,
    events: Sequence[DeadlineScheduled | DeadlineCleared],
    work: Callable[[NotificationUnitOfWork, Event], Awaitable[bool]],
) -> list[bool]:
    async def prefetch(uow: NotificationUnitOfWork, fresh: list[Event]) -> None:
        ids = [cast(DeadlineScheduled | DeadlineCleared, e).payload.deadline_id for e in fresh]
        await uow.series.prefetch(ids)
        await uow.prefetch("deadline_clearings", ids)

    results = await deps.uow.handle_batch(CONSUMER, list(events), work, prefetch)
    return [r is not None for r in results]


async def _schedule(deps: Deps, uow: NotificationUnitOfWork, event: DeadlineScheduled) -> bool:
    deadline_id = event.payload.deadline_id
    for old in await uow.series.active(deadline_id):  # replaced by the new schedule
        await uow.series.put(old.stop("re-scheduled"))
    series = Series.plan(event, deps.settings.reminder_fractions, deps.clock())
    clearing = await uow.clearings.get(deadline_id)
    if clearing is not None:  # a clearing made after this scheduling was read first
        series = series.cleared_by(clearing)
    await uow.series.put(series)
    return True


async def _clear(uow: NotificationUnitOfWork, event: DeadlineCleared) -> bool:
    p = event.payload
    clearing = Clearing(deadline_id=p.deadline_id, reason=p.reason, at=event.occurred_at)
    known = await uow.series.of_deadline(p.deadline_id)
    if not known:
        raise NotYetKnown(
            p.deadline_id,
            f"deadline {p.deadline_id} cleared ({p.reason}) before its deadline.scheduled arrived",
        )
    for series in known:
        if series.status == "active":
            await uow.series.put(series.cleared_by(clearing))
    latest = await uow.clearings.get(p.deadline_id)
    if latest is None or latest.at <= clearing.at:
        await uow.clearings.put(clearing)
    return True


@dataclass
class ReminderSource:
    """The source of the reminders' leased worker: one due series per item (its id is its key)."""

    deps: Deps
    name: str = "reminders:notification"

    def worker_settings(self) -> WorkerSettings:
        """Up to 50 due series a round, 4 at a time."""
        return WorkerSettings(
            poll_seconds=self.deps.settings.reminder_poll_seconds,
            lease_seconds=self.deps.settings.worker_lease,
            batch=50,
            concurrency=4,
            max_attempts=8,
            backoff_seconds=1.0,
            backoff_max_seconds=300.0,
        )

    @staticmethod
    def key(item: str) -> str:
        return item

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        return await self.deps.uow.run(lambda uow: uow.series.due(now, limit, blocked.all))

    async def process(self, series_id: str) -> None:
        """Send the series' due step (if any) and mark it, in one unit of work; then wake the dispatcher."""
        if await self.deps.uow.run(lambda uow: self._advance(uow, series_id)):
            self.deps.queued()

    async def tick(self, limit: int = 50) -> int:
        """One round without the worker (tests): every due series advanced; returns how many were."""
        advanced = 0
        for series_id in await self.due(self.deps.clock(), limit, Blocked()):
            advanced += await self.deps.uow.run(lambda uow, sid=series_id: self._advance(uow, sid))  # type: ignore[misc]
        if advanced:
            self.deps.queued()
        return advanced

    async def _advance(self, uow: NotificationUnitOfWork, series_id: str) -> int:
        series = await uow.series.get(series_id)
        if series is None:
            return 0
        now = self.deps.clock()
        series, step = series.take_due(now)
        if step is not None:
            await _remind(uow, series, step, now)
        await uow.series.put(series)
        await uow.commit()
        return 1


async def _remind(uow: NotificationUnitOfWork, series: Series, step: Step, now: datetime) -> None:
    if series.party is PartyRole.OPERATOR:
        accounts = await uow.contacts.operators()
    else:
        p = series.parties
        accounts = [
            {PartyRole.BUYER: p.buyer_account_id, PartyRole.MERCHANT: p.merchant_account_id}.get(
                series.party, ""
            )
        ]
    index = next(i for i, s in enumerate(series.steps) if s.at == step.at)
    cause = Cause(f"{series.series_id}:{index}", "deadline.reminder", series.order_id)
    for account_id in filter(None, accounts):
        contact = await uow.contacts.get(account_id)
        if contact is None:
            continue  # no registration, no address: the in-site inbox needs none, but a locale; skip [I]
        ctx = {
            "order_id": series.order_id,
            "due": _due_text(series.due_at, contact.locale),
            "consequence": series.consequence,
            "kind": series.kind,
            "node": series.node or "",
        }
        await plan_message(
            uow,
            cause,
            contact,
            DEADLINE_REMINDER,
            ctx,
            now,
            channels=(step.channel,),
            note=f"reminder {index + 1} of {len(series.steps)} for deadline "
            f"{series.deadline_id} ({series.kind}), due {series.due_at.isoformat()}: "
            f"escalation step {step.channel.value}",
        )


def _due_text(due: datetime, locale: str) -> str:
    if locale == "zh-CN":  # the marketplace's users read Beijing time
        return due.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S 北京时间")
    return due.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
