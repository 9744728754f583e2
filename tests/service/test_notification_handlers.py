"""notification: events become inbox messages and queued deliveries; events for unknown accounts wait for them."""

from __future__ import annotations

import copy
from typing import Any

from services.notification.catalogue import Channel
from services.notification.domain import Delivery, DeliveryStatus, Recipient
from shared.schemas import AccountRole, Parties
from tests.factories import account_registered, order_paid, parties, rid
from tests.service.rig import Counter, Rig

FALLBACK = "fell back to the account's bound email and phone"


def deliveries(rig: Rig, account_id: str | None = None) -> list[Delivery]:
    rows = rig.state.tables.get("deliveries", {}).values()
    found = [Delivery.model_validate(r) for r in rows]
    return [d for d in found if account_id is None or d.account_id == account_id]


def inbox(rig: Rig, account_id: str) -> list[dict[str, Any]]:
    return [m for m in rig.state.tables.get("inbox", {}).values() if m["account_id"] == account_id]


def parked(rig: Rig, account_id: str) -> list[dict[str, str]]:
    return list(rig.state.tables.get("contacts", {}).get(account_id, {}).get("parked", []))


async def register_both(rig: Rig, p: Parties, buyer_locale: str = "en-US") -> None:
    await rig.publish(account_registered(p.buyer_account_id, AccountRole.BUYER, locale=buyer_locale))
    await rig.publish(account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone="+8613800005678"))


async def test_order_paid_reaches_both_parties_on_every_channel(
    notification_rig: Rig, queued: Counter
) -> None:
    p = parties()
    event = order_paid(p)
    async with notification_rig.running() as rig:
        await register_both(rig, p)
        await rig.publish(event)

    for account_id, message_type in (
        (p.buyer_account_id, "order_paid"),
        (p.merchant_account_id, "order_received"),
    ):
        planned = {d.channel: d for d in deliveries(rig, account_id)}
        assert set(planned) == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
        assert planned[Channel.IN_SITE].status is DeliveryStatus.SENT
        assert planned[Channel.EMAIL].status is DeliveryStatus.PENDING
        assert planned[Channel.SMS].status is DeliveryStatus.PENDING
        assert planned[Channel.EMAIL].address == f"{account_id}@example.com"
        assert planned[Channel.EMAIL].html is not None
        assert all(d.message_type == message_type and d.order_id == event.order_id for d in planned.values())
        assert all(d.event_id == str(event.event_id) for d in planned.values())
        assert all(FALLBACK in d.trace[0] for d in planned.values())
        [message] = inbox(rig, account_id)
        assert message["message_id"] == planned[Channel.IN_SITE].delivery_id
        assert event.order_id in message["title"]
    assert planned[Channel.SMS].address == "+8613800005678"
    assert queued.calls == 3  # two registrations and the event: the dispatcher is nudged after each commit
    assert rig.dead == []


async def test_the_buyers_locale_picks_the_language(notification_rig: Rig) -> None:
    p = parties()
    event = order_paid(p)
    async with notification_rig.running() as rig:
        await register_both(rig, p, buyer_locale="zh-CN")
        await rig.publish(event)

    [message] = inbox(rig, p.buyer_account_id)
    assert message["title"] == f"订单 {event.order_id} 支付成功"
    [merchant_message] = inbox(rig, p.merchant_account_id)
    assert merchant_message["title"] == f"New paid order {event.order_id}"


async def test_a_verified_subscribed_recipient_receives_instead_of_the_bound_contact(
    notification_rig: Rig,
) -> None:
    p = parties()
    ops = Recipient(
        recipient_id=rid("rcp"),
        account_id=p.buyer_account_id,
        name="ops",
        email="ops@example.com",
        phone="+8613900000001",
        categories=["creation_activation"],
        email_verified=True,
        phone_verified=True,
    )
    notification_rig.state.table("recipients")[ops.recipient_id] = ops.model_dump()
    async with notification_rig.running() as rig:
        await register_both(rig, p)
        await rig.publish(order_paid(p))

    addresses = {(d.channel, d.address) for d in deliveries(rig, p.buyer_account_id)}
    assert addresses == {
        (Channel.IN_SITE, p.buyer_account_id),
        (Channel.EMAIL, "ops@example.com"),
        (Channel.SMS, "+8613900000001"),
    }


async def test_a_redelivered_event_plans_nothing_twice(notification_rig: Rig) -> None:
    p = parties()
    event = order_paid(p)
    async with notification_rig.running() as rig:
        await register_both(rig, p)
        await rig.publish(event)
        first = copy.deepcopy(rig.state.tables)

        await rig.publish(event)

    assert rig.state.tables == first
    assert len(deliveries(rig)) == 6
    assert rig.dead == []


async def test_a_batch_of_events_is_planned_in_one_go_and_a_repeat_in_it_once(
    notification_rig: Rig, queued: Counter
) -> None:
    p, stranger = parties(), parties()
    first, second, unknown = order_paid(p), order_paid(p), order_paid(stranger)
    async with notification_rig.running() as rig:
        await register_both(rig, p)
        await rig.publish_batch(first, second, first, unknown, topic="order.paid")
    consumer = rig.broker.context.get("batch_consumer:order.paid")

    assert (consumer.batches, consumer.fallbacks) == (1, 0)
    assert queued.calls == 3  # two registrations, then one commit for the whole batch
    for event in (first, second):
        assert len([d for d in deliveries(rig) if d.event_id == str(event.event_id)]) == 6
    assert len(inbox(rig, p.buyer_account_id)) == 2
    assert [x["event_type"] for x in parked(rig, stranger.buyer_account_id)] == ["order.paid"]
    assert rig.dead == []


async def test_events_for_an_unknown_account_wait_for_its_registration(notification_rig: Rig) -> None:
    p = parties()
    event = order_paid(p)
    async with notification_rig.running() as rig:
        await rig.publish(event)

        assert deliveries(rig) == []
        assert [x["event_type"] for x in parked(rig, p.buyer_account_id)] == ["order.paid"]
        assert [x["event_type"] for x in parked(rig, p.merchant_account_id)] == ["order.paid"]

        await rig.publish(account_registered(p.buyer_account_id, AccountRole.BUYER))

    planned = deliveries(rig)
    assert {d.account_id for d in planned} == {p.buyer_account_id}
    assert {d.channel for d in planned} == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert all(d.event_id == str(event.event_id) and d.message_type == "order_paid" for d in planned)
    assert len(inbox(rig, p.buyer_account_id)) == 1
    assert parked(rig, p.buyer_account_id) == []
    assert len(parked(rig, p.merchant_account_id)) == 1  # still waiting for the merchant
    assert rig.dead == []


async def test_a_redelivered_registration_does_not_send_again(notification_rig: Rig) -> None:
    p = parties()
    registered = account_registered(p.buyer_account_id, AccountRole.BUYER)
    async with notification_rig.running() as rig:
        await rig.publish(order_paid(p))
        await rig.publish(registered)
        first = copy.deepcopy(rig.state.tables)

        await rig.publish(registered)

    assert rig.state.tables == first
    assert len(deliveries(rig, p.buyer_account_id)) == 3


async def test_an_invalid_registration_is_dead_lettered_naming_the_field(notification_rig: Rig) -> None:
    body = account_registered(rid("acc"), AccountRole.BUYER).model_dump(mode="json")
    body["payload"]["locale"] = "fr-FR"
    async with notification_rig.running() as rig:
        await rig.publish_raw(body, "account.registered", key=body["payload"]["account_id"])

    [dead] = rig.dead
    assert dead.topic == "svc.account.registered.dlt"
    assert dead.headers["x-exception"] == "ValidationError"
    assert "payload.locale" in dead.headers["x-reason"]
    assert rig.state.tables.get("contacts", {}) == {}
