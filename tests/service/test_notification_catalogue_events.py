"""notification on the in-memory broker: every catalogue event reaches the right roles; reminders escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.notification.catalogue import Channel
from services.notification.deps import Deps
from services.notification.domain import Delivery
from services.notification.reminder_service import ReminderSource
from services.notification.settings import NotificationSettings
from services.notification.store import fake_uow
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    AccountRole,
    AppealRaised,
    AppealRaisedPayload,
    DeadlineCleared,
    DeadlineScheduled,
    MerchantCallFailed,
    MerchantCallFailedPayload,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    Parties,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
    Topic,
)
from tests import factories as f
from tests.factories import account_registered, parties, rid
from tests.service.rig import FAST, Rig

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def deliveries(rig: Rig, account_id: str) -> list[Delivery]:
    rows = [Delivery.model_validate(r) for r in rig.state.tables.get("deliveries", {}).values()]
    return [d for d in rows if d.account_id == account_id]


def channels(rig: Rig, account_id: str, message_type: str | None = None) -> set[Channel]:
    return {d.channel for d in deliveries(rig, account_id) if message_type in (None, d.message_type)}


async def register(rig: Rig, p: Parties, *operators: str) -> None:
    await rig.publish(account_registered(p.buyer_account_id, AccountRole.BUYER))
    await rig.publish(account_registered(p.merchant_account_id, AccountRole.MERCHANT, locale="zh-CN"))
    for op in operators:
        await rig.publish(account_registered(op, AccountRole.OPERATOR))


def appeal(p: Parties) -> AppealRaised:
    oid = rid("CS")
    return AppealRaised(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=AppealRaisedPayload(
            appeal_id=rid("ap"),
            service_order_id="SO",
            order_id=oid,
            raised_by_role=PartyRole.BUYER,
            raised_by_account_id=p.buyer_account_id,
            node="deliver",
            reason="late",
            demands="refund",
            parties=p,
            raised_at=NOW,
        ),
    )


def status_changed(
    p: Parties, to: OrderStatus, before: OrderStatus = OrderStatus.PROCESSING
) -> OrderStatusChanged:
    oid = rid("CS")
    return OrderStatusChanged(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=OrderStatusChangedPayload(
            order_id=oid,
            from_status=before,
            to_status=to,
            reason="buyer cancelled",
            parties=p,
            amount=Decimal("10.00"),
            changed_at=NOW,
        ),
    )


async def test_an_appeal_reaches_both_parties_and_every_operator(notification_rig: Rig) -> None:
    p, op1, op2 = parties(), rid("op"), rid("op")
    async with notification_rig.running() as rig:
        await register(rig, p, op1, op2)
        await rig.publish(appeal(p))

    assert channels(rig, p.buyer_account_id, "appeal_raised") == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert channels(rig, p.merchant_account_id, "appeal_raised") == {
        Channel.IN_SITE,
        Channel.EMAIL,
        Channel.SMS,
    }
    for op in (op1, op2):
        assert channels(rig, op, "appeal_to_review") == {Channel.IN_SITE, Channel.EMAIL}
    [zh] = [d for d in deliveries(rig, p.merchant_account_id) if d.channel is Channel.IN_SITE]
    assert "用户发起了申诉" in zh.body  # the role in Chinese, never "buyer"
    assert "buyer" not in zh.body


async def test_a_failed_merchant_call_reaches_the_merchant_by_sms_and_email(notification_rig: Rig) -> None:
    p = parties()
    event = MerchantCallFailed(
        producer="t",
        correlation_id="c",
        payload=MerchantCallFailedPayload(
            call_id=rid("call"),
            merchant_account_id=p.merchant_account_id,
            endpoint="newInstance",
            attempt=3,
            final=True,
            consequence="refund",
            error="HTTP 500",
            failed_at=NOW,
        ),
    )
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(event)

    planned = deliveries(rig, p.merchant_account_id)
    assert {d.channel for d in planned} == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert {d.category for d in planned} == {"om_reminder"}
    assert "newInstance" in planned[0].title
    assert deliveries(rig, p.buyer_account_id) == []


async def test_only_a_cancellation_is_told_from_status_changes(notification_rig: Rig) -> None:
    p = parties()
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(status_changed(p, OrderStatus.COMPLETED))  # acceptance.done says it already
        await rig.publish(status_changed(p, OrderStatus.REFUNDED))  # refund.decided says it already
        assert deliveries(rig, p.buyer_account_id) == []
        await rig.publish(status_changed(p, OrderStatus.CANCELLED))

    # optional message, no subscribed recipient: the inbox only (the trace says why)
    [d] = deliveries(rig, p.buyer_account_id)
    assert d.channel is Channel.IN_SITE
    assert any("optional" in line for line in d.trace)
    assert channels(rig, p.merchant_account_id) == {Channel.IN_SITE}


async def test_a_status_change_no_message_speaks_of_writes_nothing_not_even_its_claim(
    notification_rig: Rig,
) -> None:
    """Handling it again would change nothing either, so it costs no transaction; a cancellation is claimed."""
    p = parties()
    paid = status_changed(p, OrderStatus.PROCESSING, before=OrderStatus.PENDING_PAYMENT)
    cancelled = status_changed(p, OrderStatus.CANCELLED)
    async with notification_rig.running() as rig:
        await register(rig, p)
        claimed = set(rig.state.processed)
        await rig.publish(paid)
        await rig.publish_batch(paid, topic=Topic.ORDER_STATUS_CHANGED)
        assert rig.state.processed == claimed
        assert deliveries(rig, p.buyer_account_id) == []
        await rig.publish_batch(paid, cancelled, topic=Topic.ORDER_STATUS_CHANGED)

    assert rig.state.processed == claimed | {f"notification:{cancelled.event_id}"}
    assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE}


async def test_an_unpaid_cancellation_is_not_told_to_the_merchant(notification_rig: Rig) -> None:
    p = parties()
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(status_changed(p, OrderStatus.CANCELLED, before=OrderStatus.PENDING_PAYMENT))

    assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE}
    assert deliveries(rig, p.merchant_account_id) == []


async def test_a_rejected_unsubscribe_order_is_not_told_as_a_cancellation(notification_rig: Rig) -> None:
    p = parties()
    rejected = status_changed(p, OrderStatus.CANCELLED)
    rejected = rejected.model_copy(
        update={"payload": rejected.payload.model_copy(update={"order_type": "unsubscribe"})}
    )
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(rejected)

    assert deliveries(rig, p.buyer_account_id) == []
    assert deliveries(rig, p.merchant_account_id) == []


async def test_a_refund_decided_by_the_merchant_is_told_to_the_buyer_only(notification_rig: Rig) -> None:
    p = parties()
    oid = rid("CS")
    event = RefundDecided(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=RefundDecidedPayload(
            refund_id=rid("rf"),
            order_id=oid,
            approved=True,
            amount=Decimal("5.00"),
            reason="r",
            decided_by_role=PartyRole.MERCHANT,
            parties=p,
            decided_at=NOW,
        ),
    )
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(event)

    assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert "approved" in deliveries(rig, p.buyer_account_id)[0].title
    assert deliveries(rig, p.merchant_account_id) == []


def deadline(p: Parties, deadline_id: str, due_in: timedelta) -> DeadlineScheduled:
    return f.deadline_scheduled(p, deadline_id, rid("CS"), NOW + due_in, "the system accepts the delivery")


def cleared(p: Parties, deadline_id: str, order_id: str) -> DeadlineCleared:
    return f.deadline_cleared(p, deadline_id, order_id, NOW)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def reminders_on(rig: Rig, clock: Clock) -> ReminderSource:
    """The rig's use cases on a test clock (reminder steps at half, a quarter and a tenth of the time left)."""
    deps = Deps(
        UnitOfWorkFactory(fake_uow(rig.state)),
        clock=clock,
        settings=NotificationSettings(**FAST, reminder_fractions=(0.5, 0.25, 0.1)),
    )
    rig.broker.context.set_global("notification", deps)
    return ReminderSource(deps)


async def test_reminders_escalate_and_stop_when_the_party_acts(notification_rig: Rig) -> None:
    p, clock, dl = parties(), Clock(), rid("dl")
    reminders = reminders_on(notification_rig, clock)
    scheduled = deadline(p, dl, timedelta(days=10))
    async with notification_rig.running() as rig:
        await register(rig, p)
        await rig.publish(scheduled)
        await rig.publish(scheduled)  # redelivered: still one series

        assert await reminders.tick() == 0  # nothing due yet
        clock.now = NOW + timedelta(days=5, minutes=1)  # half the time left: in-site
        assert await reminders.tick() == 1
        assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE}
        clock.now = NOW + timedelta(days=7, hours=13)  # a quarter left: e-mail
        await reminders.tick()
        assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE, Channel.EMAIL}
        email = next(d for d in deliveries(rig, p.buyer_account_id) if d.channel is Channel.EMAIL)
        assert "2026-03-11 10:00:00 UTC" in email.title
        assert any("escalation step email" in line for line in email.trace)

        await rig.publish(cleared(p, dl, scheduled.order_id or ""))  # the buyer accepted
        clock.now = NOW + timedelta(days=9, hours=23)
        assert await reminders.tick() == 0

    assert channels(rig, p.buyer_account_id) == {Channel.IN_SITE, Channel.EMAIL}  # never the SMS
    [series] = rig.state.tables["reminders"].values()
    assert (series["status"], series["stopped_reason"]) == ("stopped", "acted")


async def test_a_rescheduled_deadline_starts_a_new_series(notification_rig: Rig) -> None:
    p, clock, dl = parties(), Clock(), rid("dl")
    reminders = reminders_on(notification_rig, clock)
    async with notification_rig.running() as rig:
        await register(rig, p)
        first = deadline(p, dl, timedelta(hours=10))
        await rig.publish(first)
        clock.now = NOW + timedelta(hours=6)
        await reminders.tick()
        await rig.publish(deadline(p, dl, timedelta(hours=20)))  # resumed after an appeal: a new schedule
        clock.now = NOW + timedelta(hours=14)  # half of the new remaining 14 h has passed
        await reminders.tick()

    in_site = [d for d in deliveries(rig, p.buyer_account_id) if d.channel is Channel.IN_SITE]
    assert len(in_site) == 2  # one per series, with distinct keys
    statuses = sorted(s["status"] for s in rig.state.tables["reminders"].values())
    assert statuses == ["active", "stopped"]
