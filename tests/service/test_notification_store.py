"""notification's repositories on the in-memory collection (the same code runs on the database in the integration
tests), and the subscriber tables."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.notification import handlers, services
from services.notification.catalogue import CATALOGUE, Channel
from services.notification.domain import Contact, Delivery, DeliveryStatus
from services.notification.inbox import InboxMessage
from services.notification.reminders import Series
from services.notification.store import Contacts, Deliveries, Inbox, RateLimits, ReminderSeries
from services.notification.store.deliveries import LAPSED_EVERY, Result
from shared.platform.collection import Doc, MemoryCollection, Sort
from shared.schemas import AccountRole, Topic
from shared.schemas.acl import GRANTS
from tests.factories import order_paid, parties, rid

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def delivery(status: DeliveryStatus = DeliveryStatus.PENDING, **fields: Any) -> Delivery:
    return Delivery(
        delivery_id=rid("d"),
        event_id=rid("e"),
        event_type="order.paid",
        order_id="CS-1",
        account_id=rid("acc"),
        message_type="order_paid",
        category="creation_activation",
        channel=Channel.EMAIL,
        address="a@example.com",
        title="t",
        body="b",
        status=status,
        next_attempt_at=NOW - timedelta(seconds=1),
        created_at=NOW,
        **fields,
    )


async def test_an_event_parked_for_an_account_is_taken_by_its_registration() -> None:
    contacts = Contacts(MemoryCollection({}))
    buyer = rid("buyer")
    event = order_paid(parties())
    await contacts.park(buyer, event)
    assert await contacts.get(buyer) is None
    contact = Contact(
        account_id=buyer,
        role=AccountRole.BUYER,
        display_name="B",
        bound_email="b@example.com",
        bound_phone="+8613800001234",
    )
    assert await contacts.register(contact) == [event]
    assert await contacts.register(contact) == []  # taken once
    assert await contacts.get(buyer) == contact


async def test_an_erasure_mark_is_kept_without_a_contact_and_operators_are_found_by_role() -> None:
    rows: dict[str, Doc] = {}
    contacts = Contacts(MemoryCollection(rows))
    await contacts.erase("acc-1", None, NOW)
    assert (await contacts.erased_at("acc-1"), await contacts.get("acc-1")) == (NOW, None)
    for account_id, role in (
        ("op-2", AccountRole.OPERATOR),
        ("b-1", AccountRole.BUYER),
        ("op-1", AccountRole.OPERATOR),
    ):
        await contacts.register(
            Contact(
                account_id=account_id,
                role=role,
                display_name=account_id,
                bound_email=f"{account_id}@example.com",
                bound_phone="+8613800001234",
            )
        )
    assert await contacts.operators() == ["op-1", "op-2"]


async def test_claims_take_due_deliveries_first_then_expired_leases_and_leave_out_the_excluded() -> None:
    rows: dict[str, Doc] = {}
    deliveries = Deliveries(MemoryCollection(rows))
    late, early, excluded = delivery(), delivery(), delivery()
    early = early.model_copy(update={"next_attempt_at": NOW - timedelta(minutes=5)})
    future = delivery().model_copy(update={"next_attempt_at": NOW + timedelta(minutes=5)})
    stuck = delivery(DeliveryStatus.SENDING)
    live = delivery(DeliveryStatus.SENDING)
    await deliveries.add_all([late, early, excluded, future, stuck, live])
    rows[stuck.delivery_id]["lease_until"] = NOW - timedelta(seconds=1)  # its sender died
    rows[live.delivery_id]["lease_until"] = NOW + timedelta(seconds=30)  # a send under way
    lease = NOW + timedelta(seconds=60)

    claimed = await deliveries.claim_due(NOW, lease, 10, frozenset({excluded.delivery_id}))

    assert [c["_id"] for c in claimed] == [early.delivery_id, late.delivery_id, stuck.delivery_id]
    for row in claimed:
        assert row == {**rows[row["_id"]], "_id": row["_id"]}  # as stored after the claim
        assert (row["status"], row["lease_until"], row["attempts"]) == (DeliveryStatus.SENDING, lease, 1)
    assert await deliveries.claim_due(NOW, lease, 10) == [
        {**rows[excluded.delivery_id], "_id": excluded.delivery_id}
    ]
    assert await deliveries.claim_due(NOW, lease, 10) == []


async def test_rows_whose_sender_died_are_looked_for_at_most_once_a_second() -> None:
    """Each round looks for due rows; lapsed leases are looked for once per LAPSED_EVERY (a round per queued
    delivery would otherwise pay that query for rows that almost never exist)."""
    rows: dict[str, Doc] = {}
    deliveries = Deliveries(MemoryCollection(rows))
    lease = NOW + timedelta(seconds=60)
    assert await deliveries.claim_due(NOW, lease, 10) == []  # looked for both
    stuck = delivery(DeliveryStatus.SENDING)
    await deliveries.add_all([stuck])
    rows[stuck.delivery_id]["lease_until"] = NOW - timedelta(seconds=1)
    soon = NOW + LAPSED_EVERY / 2
    assert await deliveries.claim_due(soon, lease, 10) == []  # not looked for yet
    fresh = delivery()
    await deliveries.add_all([fresh])
    assert [c["_id"] for c in await deliveries.claim_due(soon, lease, 10)] == [fresh.delivery_id]
    later = NOW + LAPSED_EVERY
    assert [c["_id"] for c in await deliveries.claim_due(later, lease, 10)] == [stuck.delivery_id]


class Overtaken:
    """A collection on which another dispatcher claims every row between this one's query and its claim."""

    def __init__(self, rows: dict[str, Doc], lease: datetime) -> None:
        self.col, self.other, self.lease = MemoryCollection(rows), Deliveries(MemoryCollection(rows)), lease

    def __getattr__(self, name: str) -> Any:
        return getattr(self.col, name)

    async def find(
        self,
        query: Doc,
        *,
        sort: Sort | None = None,
        limit: int = 0,
        projection: Doc | None = None,
        skip: int = 0,
    ) -> list[Doc]:
        found = await self.col.find(query, sort=sort, limit=limit, projection=projection, skip=skip)
        await self.other.claim_due(NOW, self.lease, 10)
        return found


async def test_a_row_another_dispatcher_claimed_meanwhile_is_left_to_it() -> None:
    rows: dict[str, Doc] = {}
    lease = NOW + timedelta(seconds=60)
    await Deliveries(MemoryCollection(rows)).add_all([delivery(), delivery()])
    assert await Deliveries(Overtaken(rows, lease)).claim_due(NOW, lease, 10) == []  # type: ignore[arg-type]
    assert {row["attempts"] for row in rows.values()} == {1}  # claimed once, by the other


async def test_a_result_is_written_only_while_the_row_is_sending() -> None:
    rows: dict[str, Doc] = {}
    deliveries = Deliveries(MemoryCollection(rows))
    sending, cancelled = delivery(DeliveryStatus.SENDING, attempts=2), delivery(DeliveryStatus.CANCELLED)
    await deliveries.add_all([sending, cancelled])
    await deliveries.record(
        [
            Result.deferred(sending.delivery_id, NOW + timedelta(minutes=1), "rate limit"),
            Result.sent(cancelled.delivery_id, "ref-1", "primary", NOW),  # an erasure cancelled it meanwhile
        ]
    )
    assert (rows[sending.delivery_id]["status"], rows[sending.delivery_id]["attempts"]) == (
        DeliveryStatus.PENDING,
        1,
    )
    assert rows[cancelled.delivery_id]["status"] == DeliveryStatus.CANCELLED
    await deliveries.record([Result.deferred(sending.delivery_id, NOW, "again")])  # a retried write
    assert rows[sending.delivery_id]["attempts"] == 1  # matched nothing: the attempt is given back once


class Counted:
    """A collection that counts its calls (the claim's round trips)."""

    def __init__(self, rows: dict[str, Doc]) -> None:
        self.col, self.calls = MemoryCollection(rows), Counter[str]()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.col, name)


async def test_a_round_is_claimed_in_a_few_round_trips_however_many_rows() -> None:
    rows: dict[str, Doc] = {}
    await Deliveries(MemoryCollection(rows)).add_all([delivery() for _ in range(50)])
    counted = Counted(rows)
    claimed = await Deliveries(counted).claim_due(NOW, NOW + timedelta(seconds=60), 40)  # type: ignore[arg-type]
    assert len(claimed) == 40
    assert sum(counted.calls.values()) <= 4  # two candidate queries, one claim, one read-back
    assert counted.calls["update_many"] == 1
    assert len({row["claim"] for row in claimed}) == 1  # the round's token


class ClaimLost:
    """A collection whose claim is answered with an error (the connection dropped), applied or not."""

    def __init__(self, rows: dict[str, Doc], *, applied: bool) -> None:
        self.col, self.applied = MemoryCollection(rows), applied

    def __getattr__(self, name: str) -> Any:
        return getattr(self.col, name)

    async def update_many(self, query: Doc, update: Doc) -> int:
        if self.applied:
            await self.col.update_many(query, update)
        raise AutoReconnect("connection closed")


async def test_rows_claimed_by_a_write_answered_with_an_error_are_sent_now_not_after_their_lease() -> None:
    rows: dict[str, Doc] = {}
    await Deliveries(MemoryCollection(rows)).add_all([delivery(), delivery()])
    lease = NOW + timedelta(seconds=60)
    with pytest.raises(AutoReconnect):  # nothing was claimed: the round fails, the worker backs off
        await Deliveries(ClaimLost(rows, applied=False)).claim_due(NOW, lease, 10)  # type: ignore[arg-type]
    assert {row["status"] for row in rows.values()} == {DeliveryStatus.PENDING}
    claimed = await Deliveries(ClaimLost(rows, applied=True)).claim_due(NOW, lease, 10)  # type: ignore[arg-type]
    assert len(claimed) == 2


async def test_rate_limit_slots_of_a_round_are_reserved_together_and_never_overshoot() -> None:
    rows: dict[str, Doc] = {}
    limits = RateLimits(MemoryCollection(rows), window_seconds=60)
    a, b = "+8613800000001", "+8613800000002"
    # Four messages to a, one to b, a limit of 3: a's fourth waits until a's first slot frees up.
    assert await limits.reserve_all("sms", [a, a, b, a, a], 3, NOW) == [None] * 4 + [
        NOW + timedelta(seconds=60)
    ]
    # Another round within the window: a is full, b has two slots left.
    assert await limits.reserve_all("sms", [a, b, b, b], 3, NOW + timedelta(seconds=10)) == [
        NOW + timedelta(seconds=60),
        None,
        None,
        NOW + timedelta(seconds=60),
    ]
    # A window later a's slots are free again.
    assert await limits.reserve_all("sms", [a], 3, NOW + timedelta(seconds=61)) == [None]
    assert await limits.reserve_all("sms", [a] * 3, 0, NOW) == [None] * 3  # off
    await limits.forget({("sms", a)})
    assert {r["key"] for r in rows.values()} == {RateLimits.key("sms", b)}


class Raced:
    """Another replica takes the same free slots between this one's read and its writes."""

    def __init__(self, rows: dict[str, Doc]) -> None:
        self.col, self.other, self.done = MemoryCollection(rows), RateLimits(MemoryCollection(rows)), False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.col, name)

    async def find(self, query: Doc, **options: Any) -> list[Doc]:
        found = await self.col.find(query, **options)
        if not self.done:
            self.done = True
            await self.other.reserve_all("sms", ["+8613800000001"] * 2, 2, NOW)
        return found


async def test_a_slot_another_replica_took_first_is_not_counted_twice() -> None:
    rows: dict[str, Doc] = {}
    limits = RateLimits(Raced(rows))  # type: ignore[arg-type]
    answers = await limits.reserve_all("sms", ["+8613800000001"] * 2, 2, NOW)
    assert None not in answers  # both slots went to the other replica: these wait
    assert len(rows) == 2


async def test_due_series_come_most_overdue_first() -> None:
    rows: dict[str, Doc] = {}
    series = ReminderSeries(MemoryCollection(rows))
    p = parties()

    def one(next_at: datetime | None, status: str = "active") -> Series:
        return Series(
            series_id=rid("s"),
            deadline_id=rid("dl"),
            kind="auto_acceptance",
            order_id="CS-1",
            node=None,
            party="buyer",
            due_at=NOW + timedelta(days=1),
            consequence="c",
            parties=p,
            steps=[],
            status=status,
            next_at=next_at,
        )  # type: ignore[arg-type]

    later, sooner, stopped, excluded = (
        one(NOW - timedelta(minutes=1)),
        one(NOW - timedelta(hours=1)),
        one(NOW - timedelta(hours=2), "stopped"),
        one(NOW - timedelta(hours=3)),
    )
    for s in (later, sooner, stopped, excluded, one(NOW + timedelta(minutes=1))):
        await series.put(s)
    assert await series.due(NOW, 10, frozenset({excluded.series_id})) == [sooner.series_id, later.series_id]
    assert await series.due(NOW, 1) == [excluded.series_id]


async def test_marking_read_counts_the_unread_messages_of_the_inbox_only() -> None:
    inbox = Inbox(MemoryCollection({}))
    for message_id, account_id in (("m1", "acc-1"), ("m2", "acc-1"), ("m3", "acc-2")):
        await inbox.add(
            InboxMessage(
                message_id=message_id,
                account_id=account_id,
                category="supervision",
                title="t",
                body="b",
                created_at=NOW,
            )
        )
    assert await inbox.mark_read("acc-1", "m1") == 1
    assert await inbox.mark_read("acc-1", None) == 1  # m2; m1 was read already
    assert not await inbox.holds("acc-1", "m3")
    assert not await inbox.delete("acc-1", "m3")
    assert await inbox.delete("acc-2", "m3")


def test_every_topic_is_subscribed_with_a_description_and_handled() -> None:
    assert set(handlers.SUBSCRIPTIONS) == GRANTS["notification"].consumes == set(handlers.EVENT_HANDLERS)
    assert all(handlers.SUBSCRIPTIONS.values())
    # Each use case claims the event as consumer `notification`: a second one on a topic would find it claimed.
    assert all(len(use_cases) == 1 for use_cases in handlers.EVENT_HANDLERS.values())
    for event_type in CATALOGUE:  # every event the catalogue speaks about is told
        assert services.notify in handlers.EVENT_HANDLERS[Topic(event_type)]
