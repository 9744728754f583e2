"""Who receives a message and on which channel, the delivery's idempotency key, and the retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.catalogue import MILESTONE, ORDER_PAID_BUYER, Channel, MessageType, render
from services.notification.domain import (
    Cause,
    Contact,
    Delivery,
    DeliveryStatus,
    Outgoing,
    Recipient,
    Target,
    next_attempt,
    resolve,
)
from shared.schemas import AccountRole
from tests.factories import rid

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def contact() -> Contact:
    account_id = rid("buyer")
    return Contact(
        account_id=account_id,
        role=AccountRole.BUYER,
        display_name="Buyer",
        bound_email=f"{account_id}@example.com",
        bound_phone="+8613800001234",
    )


def recipient(
    c: Contact,
    name: str,
    *,
    verified: bool = True,
    categories: tuple[str, ...] = ("supervision",),
    email: str | None = None,
    phone: str = "+8613900005678",
) -> Recipient:
    return Recipient(
        recipient_id=rid("rcp"),
        account_id=c.account_id,
        name=name,
        email=email or f"{name}@example.com",
        phone=phone,
        categories=list(categories),
        email_verified=verified,
        phone_verified=verified,
    )


def addresses(targets: list[Target]) -> list[tuple[Channel, str]]:
    return [(t.channel, t.address) for t in targets]


# --- resolve ------------------------------------------------------------------------------------


def test_without_recipients_the_bound_email_and_phone_are_used() -> None:
    c = contact()

    targets, trace = resolve(c, [], MILESTONE)

    assert addresses(targets) == [
        (Channel.IN_SITE, c.account_id),
        (Channel.EMAIL, c.bound_email),
        (Channel.SMS, c.bound_phone),
    ]
    assert trace == [
        "no active recipient subscribed to supervision: fell back to the account's bound email and phone"
    ]
    assert "no recipient configured" in targets[1].why


@pytest.mark.parametrize(("email_verified", "phone_verified"), [(False, False), (True, False), (False, True)])
def test_an_unverified_recipient_is_skipped_with_a_trace(email_verified: bool, phone_verified: bool) -> None:
    c = contact()
    r = recipient(c, "ops").model_copy(
        update={"email_verified": email_verified, "phone_verified": phone_verified}
    )

    targets, trace = resolve(c, [r], MILESTONE)

    assert r.email not in [t.address for t in targets]
    assert c.bound_email in [t.address for t in targets]
    assert trace[0] == "recipient ops skipped: not verified yet"
    assert "fell back" in trace[1]


def test_a_recipient_not_subscribed_to_the_category_is_skipped() -> None:
    c = contact()
    r = recipient(c, "finance", categories=("billing",))

    targets, trace = resolve(c, [r], MILESTONE)

    assert r.email not in [t.address for t in targets]
    assert trace[0] == "recipient finance skipped: subscribed to neither supervision nor milestone_confirmed"


def test_a_recipient_may_subscribe_to_a_single_message_type() -> None:
    c = contact()
    r = recipient(c, "pm", categories=("milestone_confirmed",))

    targets, _ = resolve(c, [r], MILESTONE)

    assert r.email in [t.address for t in targets]
    assert c.bound_email not in [t.address for t in targets]


def test_verified_subscribed_recipients_replace_the_bound_contact() -> None:
    c = contact()
    ops = recipient(c, "ops", phone="+8613900000001")
    pm = recipient(c, "pm", phone="+8613900000002")
    skipped = recipient(c, "intern", verified=False)

    targets, trace = resolve(c, [ops, skipped, pm], MILESTONE)

    assert addresses(targets) == [
        (Channel.IN_SITE, c.account_id),
        (Channel.EMAIL, ops.email),
        (Channel.SMS, ops.phone),
        (Channel.EMAIL, pm.email),
        (Channel.SMS, pm.phone),
    ]
    assert c.bound_email not in [t.address for t in targets]
    assert trace == [
        "recipient intern skipped: not verified yet",
        "2 active recipient(s) subscribed to supervision: the bound contact is not used",
    ]
    assert targets[1].why == "recipient ops is verified and subscribed to supervision"


def test_the_in_site_message_always_goes_to_the_account() -> None:
    c = contact()
    targets, _ = resolve(c, [recipient(c, "ops")], MILESTONE)
    in_site = [t for t in targets if t.channel is Channel.IN_SITE]
    assert addresses(in_site) == [(Channel.IN_SITE, c.account_id)]


def test_channels_follow_the_message_type() -> None:
    c = contact()
    email_only = MessageType("digest", "supervision", channels=(Channel.EMAIL,))
    targets, _ = resolve(c, [], email_only)
    assert addresses(targets) == [(Channel.EMAIL, c.bound_email)]


def test_recipients_sharing_an_address_get_one_message_per_channel() -> None:
    c = contact()
    a = recipient(c, "a", email="Shared@Example.com", phone="+8613900000009")
    b = recipient(c, "b", email="shared@example.com", phone="+8613900000009")

    targets, _ = resolve(c, [a, b], MILESTONE)

    assert addresses(targets) == [
        (Channel.IN_SITE, c.account_id),
        (Channel.EMAIL, "Shared@Example.com"),
        (Channel.SMS, "+8613900000009"),
    ]


# --- Delivery -----------------------------------------------------------------------------------


def test_the_delivery_key_is_stable() -> None:
    args = ("ev-1", "acc-1", "order_paid", Channel.EMAIL, "a@example.com")
    assert Delivery.key(*args) == Delivery.key(*args)
    assert Delivery.key(*args) == Delivery.key("ev-1", "acc-1", "order_paid", Channel.EMAIL, "A@Example.com")
    assert len(Delivery.key(*args)) == 32


@pytest.mark.parametrize(
    "changed",
    [
        ("ev-2", "acc-1", "order_paid", Channel.EMAIL, "a@example.com"),
        ("ev-1", "acc-2", "order_paid", Channel.EMAIL, "a@example.com"),
        ("ev-1", "acc-1", "order_completed", Channel.EMAIL, "a@example.com"),
        ("ev-1", "acc-1", "order_paid", Channel.SMS, "a@example.com"),
        ("ev-1", "acc-1", "order_paid", Channel.EMAIL, "b@example.com"),
    ],
)
def test_the_delivery_key_differs_per_event_account_message_channel_and_address(
    changed: tuple[str, str, str, Channel, str],
) -> None:
    assert Delivery.key(*changed) != Delivery.key(
        "ev-1", "acc-1", "order_paid", Channel.EMAIL, "a@example.com"
    )


@pytest.mark.parametrize(
    ("channel", "status", "sent", "html", "body"),
    [
        (Channel.IN_SITE, DeliveryStatus.SENT, True, False, "body"),
        (Channel.EMAIL, DeliveryStatus.PENDING, False, True, "body"),
        (Channel.SMS, DeliveryStatus.PENDING, False, False, "sms"),
    ],
)
def test_plan_sends_in_site_at_once_and_queues_email_and_sms(
    channel: Channel, status: DeliveryStatus, sent: bool, html: bool, body: str
) -> None:
    text = render(
        "order_paid", "en-US", {"order_id": "CS1", "amount": "1.00", "currency": "CNY", "product": "P"}
    )
    target = Target(channel=channel, address="addr", why="because")

    outgoing = Outgoing(Cause("ev", "order.paid", "CS1"), "acc", ORDER_PAID_BUYER, text, ["t1"])

    d = Delivery.plan(outgoing, target, NOW)

    assert d.status is status
    assert (d.sent_at == NOW) is sent
    assert (d.html is not None) is html
    assert d.body == getattr(text, body)
    assert d.trace == ["t1", f"channel {channel.value}: a default channel of order_paid", "because"]
    assert d.delivery_id == Delivery.key("ev", "acc", "order_paid", channel, "addr")
    assert d.next_attempt_at == NOW
    assert d.category == "creation_activation"
    assert (d.event_id, d.event_type, d.order_id, d.account_id) == ("ev", "order.paid", "CS1", "acc")


# --- backoff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (0, 7.5, 15),
        (1, 7.5, 15),
        (2, 15, 30),
        (3, 30, 60),
        (5, 120, 240),
        (7, 450, 900),
        (30, 450, 900),
    ],
)
def test_next_attempt_grows_exponentially_with_jitter_and_is_capped(
    attempts: int, low: float, high: float
) -> None:
    waits = [(next_attempt(attempts, NOW, base=15, cap=900) - NOW).total_seconds() for _ in range(300)]
    assert all(low <= w <= high for w in waits)
    assert max(waits) - min(waits) > (high - low) / 10  # jittered, not a fixed delay


def test_next_attempt_is_in_the_future() -> None:
    assert next_attempt(1, NOW, base=0.5, cap=1) > NOW
    assert next_attempt(1, NOW, base=0.5, cap=1) <= NOW + timedelta(seconds=0.5)
