"""notification's background work on the shared leased worker, with an in-memory database that can fail:
the dispatcher never loses sending capacity to a database error while claiming, and one failing reminder series
never stops the others."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import AutoReconnect

from services.notification.breaker import CircuitBreaker, Failover
from services.notification.catalogue import Channel
from services.notification.channels import EmailMessage, PermanentSendError, SmsMessage, TransientSendError
from services.notification.deps import Deps
from services.notification.dispatcher import Dispatcher
from services.notification.domain import Delivery
from services.notification.reminder_service import ReminderSource, schedule
from services.notification.settings import NotificationSettings
from services.notification.store import Deliveries, RateLimits, fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.worker import LeasedWorker, WorkerSettings
from shared.schemas import DeadlineKind, DeadlineScheduled, DeadlineScheduledPayload, PartyRole
from tests.factories import parties, rid
from tests.helpers import eventually
from tests.service.notification_memdb import MemDatabase
from tests.service.rig import FAST

NOW = datetime.now(UTC)


def settings(**extra: Any) -> NotificationSettings:
    return NotificationSettings(
        **(
            FAST
            | {
                "dispatch_poll_seconds": 0.01,
                "rate_limit_sms": 0,
                "rate_limit_email": 0,
                "delivery_backoff_seconds": 0.01,
                "delivery_backoff_max_seconds": 0.02,
            }
            | extra
        )
    )


def delivery(channel: Channel = Channel.EMAIL) -> dict[str, Any]:
    d = Delivery(
        delivery_id=rid("d"),
        event_id=rid("e"),
        event_type="order.paid",
        order_id=rid("CS"),
        account_id=rid("acc"),
        message_type="order_paid",
        category="creation_activation",
        channel=channel,
        address="buyer@example.com" if channel is Channel.EMAIL else "+8613800001234",
        title="t",
        body="b",
        next_attempt_at=NOW - timedelta(seconds=1),
        created_at=NOW,
    )
    return {"_id": d.delivery_id, **d.model_dump()}


class Gate:
    """A provider that holds every send until `width` of them are in flight at once (or it is opened)."""

    def __init__(self, width: int) -> None:
        self.width, self.inflight, self.widest, self.sent = width, 0, 0, []  # type: ignore[var-annotated]
        self.open = asyncio.Event()

    async def send(self, msg: EmailMessage | SmsMessage) -> str:
        self.inflight += 1
        self.widest = max(self.widest, self.inflight)
        if self.inflight >= self.width:
            self.open.set()
        try:
            await self.open.wait()
        finally:
            self.inflight -= 1
        self.sent.append(msg)
        return f"ref-{len(self.sent)}"


def dispatcher_on(
    db: MemDatabase, email: Failover[EmailMessage], sms: Failover[SmsMessage], s: NotificationSettings
) -> Dispatcher:
    return Dispatcher(
        Deliveries(db.collection("deliveries")), RateLimits(db.collection("rate_limits")), email, sms, s
    )


def rig(db: MemDatabase, provider: Any, s: NotificationSettings) -> Dispatcher:
    return dispatcher_on(
        db,
        Failover(provider, None, CircuitBreaker(3, 30.0)),
        Failover(provider, None, CircuitBreaker(3, 30.0)),
        s,
    )


@contextlib.asynccontextmanager
async def dispatching(db: MemDatabase, dispatcher: Dispatcher, s: NotificationSettings) -> AsyncIterator[Any]:
    """The dispatcher as the app runs it: a source of the shared leased worker (no change stream here)."""
    worker = LeasedWorker(db, dispatcher, dataclasses.replace(dispatcher.worker_settings(), watch=None))  # type: ignore[arg-type]
    task = worker.start()
    try:
        yield task
    finally:
        await worker.stop()


async def test_database_errors_while_claiming_never_cost_sending_capacity() -> None:
    """Three claims fail (the database is away); then eight deliveries are due: all eight go out at once."""
    db, s = MemDatabase(), settings(delivery_concurrency=8)
    rows = [delivery() for _ in range(8)]
    await db["deliveries"].insert_many(rows)
    db["deliveries"].fail("find", 3, AutoReconnect("database unreachable"))  # the claims' queries
    gate = Gate(width=8)
    dispatcher = rig(db, gate, s)
    async with dispatching(db, dispatcher, s):
        try:
            await eventually(
                lambda: _true(gate.open.is_set()),
                timeout=5,
                what="eight sends in flight at once after three failed claims",
            )
            await eventually(
                lambda: _true(all(d["status"] == "sent" for d in db["deliveries"].docs.values())),
                timeout=5,
                what="every delivery marked sent",
            )
        finally:
            gate.open.set()
    assert gate.widest == 8
    assert len(gate.sent) == 8


async def test_a_database_that_keeps_failing_claims_does_not_stop_sending_for_good() -> None:
    """More failed claims than there are slots (the defect stopped sending after eight)."""
    db, s = MemDatabase(), settings(delivery_concurrency=8)
    await db["deliveries"].insert_many([delivery() for _ in range(2)])
    db["deliveries"].fail("find", 12, AutoReconnect("database unreachable"))
    gate = Gate(width=1)
    dispatcher = rig(db, gate, s)
    async with dispatching(db, dispatcher, s) as task:
        await eventually(lambda: _true(len(gate.sent) == 2), timeout=10, what="both deliveries sent")
        assert not task.done()


class Refusing:
    """A provider that answers every message with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error, self.tries = error, 0

    async def send(self, msg: EmailMessage | SmsMessage) -> str:
        self.tries += 1
        raise self.error


async def test_provider_failures_stay_the_deliverys_own_retries_not_the_workers() -> None:
    """Transient: an attempt with backoff, then dead after the last one; permanent: failed at once. Never a
    failed item of the worker, so never quarantined by it: operators replay dead deliveries."""
    db, s = MemDatabase(), settings(delivery_max_attempts=3)
    transient, permanent = delivery(Channel.EMAIL), delivery(Channel.SMS)
    await db["deliveries"].insert_many([transient, permanent])
    email: Failover[EmailMessage] = Failover(
        Refusing(TransientSendError("SMTP 451: try later")), None, CircuitBreaker(100, 30.0)
    )
    sms: Failover[SmsMessage] = Failover(
        Refusing(PermanentSendError("Twilio HTTP 400: not a number")), None, CircuitBreaker(100, 30.0)
    )
    dispatcher = dispatcher_on(db, email, sms, s)
    rows = db["deliveries"].docs
    async with dispatching(db, dispatcher, s):
        await eventually(
            lambda: _true(rows[transient["_id"]]["status"] == "dead"),
            timeout=5,
            what="the e-mail dead after its attempts",
        )
        await eventually(
            lambda: _true(rows[permanent["_id"]]["status"] == "failed"),
            timeout=5,
            what="the refused SMS failed",
        )
    assert rows[transient["_id"]]["attempts"] == 3
    assert "451" in rows[transient["_id"]]["last_error"]
    assert rows[permanent["_id"]]["attempts"] == 1
    assert db["worker_items"].docs == {}


async def test_a_row_that_does_not_validate_is_the_workers_and_never_blocks_the_others() -> None:
    db, s = MemDatabase(), settings()
    bad, good = delivery(), delivery()
    del bad["address"]  # a bug wrote it so
    bad["next_attempt_at"] = NOW - timedelta(minutes=1)  # first in line
    await db["deliveries"].insert_many([bad, good])
    gate = Gate(width=1)
    dispatcher = rig(db, gate, s)
    async with dispatching(db, dispatcher, s) as task:
        await eventually(
            lambda: _true(db["deliveries"].docs[good["_id"]]["status"] == "sent"),
            timeout=5,
            what="the good delivery sent",
        )
        record = await eventually(
            lambda: db["worker_items"].find_one({"key": bad["_id"]}),
            timeout=5,
            what="the bad row recorded by the worker",
        )
        assert "ValidationError" in record["last_error"]
        assert not task.done()


async def test_a_claim_failing_is_logged_as_the_rounds_error_and_the_worker_stays_alive() -> None:
    db, s = MemDatabase(), settings()
    db["deliveries"].fail("find", 2, AutoReconnect("database unreachable"))
    dispatcher = rig(db, Gate(width=1), s)
    worker = LeasedWorker(db, dispatcher, dataclasses.replace(dispatcher.worker_settings(), watch=None))  # type: ignore[arg-type]
    worker.start()
    try:
        await eventually(
            lambda: _true(db["deliveries"].calls.get("find", 0) >= 4),
            timeout=5,
            what="claims tried again after the failures",
        )
        health = worker.health()
        assert health.alive
        assert "AutoReconnect" in (health.last_error or "")
    finally:
        await worker.stop()


async def test_a_sent_message_is_marked_once_the_database_is_back_and_never_sent_twice() -> None:
    """The provider took it, then the database answered the mark with errors: waited for, within the row's
    lease (an unmarked row would be claimed and sent again once its lease ran out)."""
    db, s = MemDatabase(), settings()
    row = delivery()
    await db["deliveries"].insert_one(row)
    # The marks fail, not the claim: the results' bulk write, each conditional on the row being `sending`.
    db["deliveries"].fail("write_each", 3, AutoReconnect("database restarting"))
    gate = Gate(width=1)
    dispatcher = rig(db, gate, s)
    async with dispatching(db, dispatcher, s):
        await eventually(
            lambda: _true(db["deliveries"].docs[row["_id"]]["status"] == "sent"),
            timeout=10,
            what="the delivery marked sent",
        )
    assert len(gate.sent) == 1
    assert db["worker_items"].docs == {}


async def test_a_send_under_way_at_shutdown_finishes_and_is_marked() -> None:
    """Stopping the worker does not cut a provider call off; the app's stop hook (`drain`) waits for it."""
    db, s = MemDatabase(), settings()
    row = delivery()
    await db["deliveries"].insert_one(row)
    gate = Gate(width=2)  # never opens by itself: the send is under way until the test opens it
    dispatcher = rig(db, gate, s)
    async with dispatching(db, dispatcher, s):
        await eventually(lambda: _true(gate.inflight == 1), timeout=5, what="the send under way")
    asyncio.get_running_loop().call_later(0.1, gate.open.set)  # the provider answers after the worker stopped
    await dispatcher.drain(within=5)
    assert db["deliveries"].docs[row["_id"]]["status"] == "sent"
    assert len(gate.sent) == 1


# --- reminders ------------------------------------------------------------------------------------------------


def scheduled(buyer: str, due_in: timedelta, now: datetime) -> DeadlineScheduled:
    p = parties().model_copy(update={"buyer_account_id": buyer})
    oid = rid("CS")
    return DeadlineScheduled(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=DeadlineScheduledPayload(
            deadline_id=rid("dl"),
            kind=DeadlineKind.AUTO_ACCEPTANCE,
            service_order_id="SO",
            order_id=oid,
            node="accept",
            party=PartyRole.BUYER,
            due_at=now + due_in,
            consequence="accepted",
            parties=p,
        ),
    )


class Clock:
    """The real clock moved forward by `ahead` (time runs: the worker's backoffs pass)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@contextlib.asynccontextmanager
async def reminding(db: MemDatabase, svc: ReminderSource, clock: Clock) -> AsyncIterator[Any]:
    """The reminders as the app runs them: a source of the shared leased worker, one series per item."""
    worker = LeasedWorker(
        db,
        svc,
        WorkerSettings(
            poll_seconds=0.01,
            max_attempts=3,
            backoff_seconds=0.01,  # type: ignore[arg-type]
            backoff_max_seconds=0.02,
        ),
        clock=clock,
    )
    task = worker.start()
    try:
        yield task
    finally:
        await worker.stop()


async def test_one_failing_reminder_series_never_stops_the_others() -> None:
    state, clock = FakeState(), Clock()
    svc = ReminderSource(Deps(UnitOfWorkFactory(fake_uow(state)), clock=clock, settings=settings()))
    broken, fine = rid("acc-broken"), rid("acc-fine")
    # The broken account's stored contact no longer validates (a bug or a bad migration): its series fails.
    state.table("contacts")[broken] = {"contact": {"account_id": broken}}
    state.table("contacts")[fine] = {
        "contact": {
            "account_id": fine,
            "role": "buyer",
            "display_name": "F",
            "bound_email": "f@example.com",
            "bound_phone": "+8613800001234",
            "locale": "en-US",
        }
    }
    await schedule(svc.deps, scheduled(broken, timedelta(hours=10), NOW))  # due first: it fails first
    await schedule(svc.deps, scheduled(fine, timedelta(hours=12), NOW))
    clock.ahead = timedelta(hours=7)  # both first steps are due
    db = MemDatabase()
    async with reminding(db, svc, clock) as task:
        await eventually(
            lambda: _true(any(d["account_id"] == fine for d in state.table("deliveries").values())),
            timeout=5,
            what="the healthy series' reminder",
        )
        assert not task.done()
        [failing] = [
            sid
            for sid, row in state.table("reminders").items()
            if row["parties"]["buyer_account_id"] == broken
        ]
        record = await eventually(
            lambda: db["worker_items"].find_one({"key": failing, "quarantined_at": {"$ne": None}}),
            timeout=5,
            what="the failing series quarantined after its attempts",
        )
        assert record["attempts"] == 3
        assert "ValidationError" in record["last_error"]
        assert not task.done()
    assert state.table("reminders")[failing]["status"] == "active"  # untouched: retried once the bug is fixed


async def _true(value: object) -> bool:
    return bool(value)


async def test_a_message_the_provider_took_before_its_sender_died_is_marked_sent_not_sent_again() -> None:
    """A replica sent an SMS and was killed before marking it; the provider's status callback reached another
    replica and recorded the message's id. When the row's lease runs out and it is claimed again, it is marked
    sent with that id instead of being sent a second time (a full fault-matrix run once texted one twice)."""
    db, s = MemDatabase(), settings()
    row = delivery(Channel.SMS)
    lapsed = NOW - timedelta(seconds=5)
    row |= {
        "status": "sending",
        "lease_until": lapsed,
        "attempts": 1,
        "provider_ref": "SM-earlier",
        "provider_status": "delivered",
    }
    fresh = delivery(Channel.SMS)
    await db["deliveries"].insert_many([row, fresh])
    gate = Gate(width=1)
    gate.open.set()
    async with dispatching(db, rig(db, gate, s), s):
        await eventually(
            lambda: _true(all(d["status"] == "sent" for d in db["deliveries"].docs.values())),
            timeout=5,
            what="both deliveries marked sent",
        )
    stored = db["deliveries"].docs[row["_id"]]
    assert (stored["provider_ref"], stored["provider"]) == ("SM-earlier", "primary")
    assert len(gate.sent) == 1  # only the fresh one went to the provider
    assert gate.sent[0].to == fresh["address"]


async def test_a_round_is_claimed_and_recorded_in_bulk_and_an_idle_rate_limit_costs_nothing() -> None:
    """Thirty deliveries, sent at once: claimed by one conditional update, their results written in bulk writes
    (never one write per row), and with both limits off the rate-limit collection is never asked."""
    db, s = MemDatabase(), settings(delivery_concurrency=30)
    await db["deliveries"].insert_many([delivery(c) for c in [Channel.EMAIL, Channel.SMS] * 15])
    gate = Gate(width=30)
    async with dispatching(db, rig(db, gate, s), s):
        await eventually(
            lambda: _true(all(d["status"] == "sent" for d in db["deliveries"].docs.values())),
            timeout=5,
            what="every delivery marked sent",
        )
    calls = db["deliveries"].calls
    assert gate.widest == 30
    assert calls["update_many"] == 1
    assert calls.get("update_one", 0) == 0
    assert 1 <= calls["write_each"] < 30
    assert db.faults_of("rate_limits").calls == {}


async def test_a_rate_limit_defers_the_excess_of_a_round_without_counting_an_attempt() -> None:
    db, s = MemDatabase(), settings(rate_limit_sms=2)
    rows = [delivery(Channel.SMS) for _ in range(3)]  # one phone number
    await db["deliveries"].insert_many(rows)
    gate = Gate(width=2)
    async with dispatching(db, rig(db, gate, s), s):
        await eventually(
            lambda: _true(
                sorted(d["status"] for d in db["deliveries"].docs.values()) == ["pending", "sent", "sent"]
            ),
            timeout=5,
            what="two sent, one deferred",
        )
    [deferred] = [d for d in db["deliveries"].docs.values() if d["status"] == "pending"]
    assert deferred["attempts"] == 0
    assert "rate limit" in deferred["last_error"]
    assert deferred["next_attempt_at"] > datetime.now(UTC) + timedelta(seconds=30)
    assert len(gate.sent) == 2
    assert db.faults_of("rate_limits").calls["find"] == 2  # the slots, then the winners: once for the round
