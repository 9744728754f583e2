"""A deadline's clearing and its scheduling come on two topics, so in any order: a clearing that comes first waits
(parked) for its scheduling, and no reminder goes out for a deadline that was cleared; a late clearing stops only
the schedule it was about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notification.catalogue import Channel
from services.notification.deps import Deps
from services.notification.reminder_service import ReminderSource
from services.notification.settings import NotificationSettings
from services.notification.store import fake_uow
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.parking import MongoParking
from shared.platform.worker import Blocked
from shared.schemas import (
    AccountRole,
    DeadlineCleared,
    DeadlineScheduled,
    Parties,
)
from tests import factories as f
from tests.factories import account_registered, parties, rid
from tests.service.notification_memdb import MemDatabase
from tests.service.rig import FAST, Rig

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def scheduled(p: Parties, deadline_id: str, order_id: str, due_in: timedelta) -> DeadlineScheduled:
    return f.deadline_scheduled(p, deadline_id, order_id, NOW + due_in)


def cleared(p: Parties, deadline_id: str, order_id: str, reason: str = "acted") -> DeadlineCleared:
    return f.deadline_cleared(p, deadline_id, order_id, NOW, reason)


class Env:
    """The rig with a real parking (on an in-memory database) and the reminders use cases on a test clock."""

    def __init__(self, rig: Rig) -> None:
        self.rig, self.clock, self.db = rig, Clock(), MemDatabase()
        self.parking = MongoParking(self.db, rig.policy, 86400)  # type: ignore[arg-type]
        rig.policy.parking = self.parking
        rig.broker.context.set_global("parking", self.parking)
        deps = Deps(
            UnitOfWorkFactory(fake_uow(rig.state)),
            clock=self.clock,
            parking=self.parking,
            settings=NotificationSettings(**FAST, reminder_fractions=(0.5, 0.25, 0.1)),
        )
        self.reminders = ReminderSource(deps)
        rig.broker.context.set_global("notification", deps)

    def parked(self) -> list[dict[str, Any]]:
        return list(self.db["parked_events"].docs.values())

    async def retry_parked(self) -> None:
        """What the parking worker does in a round: every due parked event through its own handler again."""
        for doc in await self.parking.due(datetime.now(UTC), 50, Blocked()):
            await self.parking.process(doc)

    def reminders_sent(self, account_id: str) -> list[dict[str, Any]]:
        return [
            d
            for d in self.rig.state.tables.get("deliveries", {}).values()
            if d["account_id"] == account_id and d["message_type"] == "deadline_reminder"
        ]

    def series(self) -> list[dict[str, Any]]:
        return list(self.rig.state.tables.get("reminders", {}).values())


@pytest.fixture
def env(notification_rig: Rig) -> Env:
    return Env(notification_rig)


async def register(rig: Rig, p: Parties) -> None:
    await rig.publish(account_registered(p.buyer_account_id, AccountRole.BUYER))
    await rig.publish(account_registered(p.merchant_account_id, AccountRole.MERCHANT))


async def test_a_clearing_before_its_scheduling_waits_and_no_reminder_goes_out(env: Env) -> None:
    p, dl, oid = parties(), rid("dl"), rid("CS")
    schedule = scheduled(p, dl, oid, timedelta(days=10))
    clearing = cleared(p, dl, oid)  # the buyer acted; supervision's clearing overtook its scheduling
    async with env.rig.running() as rig:
        await register(rig, p)
        await rig.publish(clearing)
        assert [d["aggregate"] for d in env.parked()] == [dl]  # parked for the deadline, not dead-lettered
        assert env.series() == []

        await rig.publish(schedule)
        assert env.parked()[0]["next_try_at"] <= datetime.now(
            UTC
        )  # its scheduling arrived: tried again at once
        await env.retry_parked()
        assert env.parked() == []

        for days in (5, 8, 9.5):  # every step's time passes
            env.clock.now = NOW + timedelta(days=days, minutes=1)
            await env.reminders.tick()

    assert env.reminders_sent(p.buyer_account_id) == []
    [series] = env.series()
    assert (series["status"], series["stopped_reason"]) == ("stopped", "acted")
    assert rig.dead == []


async def test_a_resumed_deadline_cleared_before_its_rescheduling_arrives_sends_nothing(env: Env) -> None:
    """Paused by an appeal, resumed, then acted on; the resumed scheduling is read after the last clearing."""
    p, dl, oid = parties(), rid("dl"), rid("CS")
    first = scheduled(p, dl, oid, timedelta(days=10))
    paused = cleared(p, dl, oid, "paused")
    resumed = scheduled(p, dl, oid, timedelta(days=12))
    acted = cleared(p, dl, oid, "acted")
    async with env.rig.running() as rig:
        await register(rig, p)
        for event in (first, paused, acted, resumed):
            await rig.publish(event)
        for days in (6, 9, 11):
            env.clock.now = NOW + timedelta(days=days, minutes=1)
            await env.reminders.tick()

    assert env.reminders_sent(p.buyer_account_id) == []
    assert sorted(s["status"] for s in env.series()) == ["stopped", "stopped"]
    assert rig.dead == []


async def test_a_late_pause_does_not_stop_the_resumed_schedule(env: Env) -> None:
    """The pause is read after the resumed scheduling: it was about the first schedule only."""
    p, dl, oid = parties(), rid("dl"), rid("CS")
    first = scheduled(p, dl, oid, timedelta(days=10))
    paused = cleared(p, dl, oid, "paused")
    resumed = scheduled(p, dl, oid, timedelta(days=10))
    async with env.rig.running() as rig:
        await register(rig, p)
        for event in (first, resumed, paused):
            await rig.publish(event)
        env.clock.now = NOW + timedelta(days=5, minutes=1)
        await env.reminders.tick()

    assert [d["channel"] for d in env.reminders_sent(p.buyer_account_id)] == [Channel.IN_SITE]
    statuses = sorted((s["status"], s["stopped_reason"]) for s in env.series())
    assert statuses == [("active", None), ("stopped", "re-scheduled")]


async def test_a_batch_of_schedulings_of_one_deadline_keeps_only_the_last_active(env: Env) -> None:
    """Two schedulings of one deadline in one batch: the second sees the first's series (written in the same
    unit of work) and replaces it."""
    p, dl, oid = parties(), rid("dl"), rid("CS")
    first, second = scheduled(p, dl, oid, timedelta(days=10)), scheduled(p, dl, oid, timedelta(days=12))
    async with env.rig.running() as rig:
        await register(rig, p)
        await rig.publish_batch(first, second, topic="deadline.scheduled")
    consumer = env.rig.broker.context.get("batch_consumer:deadline.scheduled")

    assert (consumer.batches, consumer.fallbacks) == (1, 0)
    by_id = {s["series_id"]: s for s in env.series()}
    assert by_id[str(first.event_id)]["status"] == "stopped"
    assert by_id[str(second.event_id)]["status"] == "active"
