"""notification's repositories on the in-memory collection (the same code runs on the database in the integration
tests), and the subscriber tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notification import handlers, services
from services.notification.catalogue import CATALOGUE, Channel
from services.notification.domain import Contact, Delivery, DeliveryStatus
from services.notification.inbox import InboxMessage
from services.notification.reminders import Series
from services.notification.store import Contacts, Deliveries, Inbox, ReminderSeries
from shared.platform.collection import Doc, MemoryCollection, Sort
from shared.schemas import AccountRole, Topic
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
    await deliveries.defer(sending.delivery_id, NOW + timedelta(minutes=1), "rate limit")
    assert (rows[sending.delivery_id]["status"], rows[sending.delivery_id]["attempts"]) == (
        DeliveryStatus.PENDING,
        1,
    )
    await deliveries.mark_sent(
        cancelled.delivery_id, "ref-1", "primary", NOW
    )  # an erasure cancelled it meanwhile
    assert rows[cancelled.delivery_id]["status"] == DeliveryStatus.CANCELLED


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
    assert set(handlers.SUBSCRIPTIONS) == set(Topic) == set(handlers.EVENT_HANDLERS)
    assert all(handlers.SUBSCRIPTIONS.values())
    # Each use case claims the event as consumer `notification`: a second one on a topic would find it claimed.
    assert all(len(use_cases) == 1 for use_cases in handlers.EVENT_HANDLERS.values())
    for event_type in CATALOGUE:  # every event the catalogue speaks about is told
        assert services.notify in handlers.EVENT_HANDLERS[Topic(event_type)]
