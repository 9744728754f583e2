"""notification and `account.erased`: the account's contact data erased (masked or deleted) once, idempotently;
a registration that arrives after the erasure brings nothing back; the owner's export."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from services.notification import handlers
from services.notification.catalogue import Channel
from services.notification.centre import Recipient
from services.notification.deps import Deps
from services.notification.domain import Delivery, DeliveryStatus
from services.notification.privacy import export_account
from services.notification.settings import NotificationSettings
from services.notification.store import RateLimits, fake_uow
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountErased, AccountErasedPayload, AccountRole
from tests.factories import account_registered, order_paid, parties, rid
from tests.service.rig import FAST, Counter, Rig, make_rig

PHONE = "+8613800001234"


def erased(account_id: str, at: datetime | None = None) -> AccountErased:
    return AccountErased(
        producer="tests",
        correlation_id=rid("corr"),
        payload=AccountErasedPayload(
            account_id=account_id, role=AccountRole.BUYER, erased_at=at or datetime.now(UTC)
        ),
    )


@pytest.fixture
def rig() -> Rig:
    settings = NotificationSettings(**FAST)
    return make_rig(
        settings,
        handlers.register,
        "notification",
        lambda state: Deps(UnitOfWorkFactory(fake_uow(state)), Counter(), settings=settings),
    )


def deliveries(rig: Rig, account_id: str) -> list[Delivery]:
    return [
        Delivery.model_validate(d)
        for d in rig.state.table("deliveries").values()
        if d["account_id"] == account_id
    ]


async def test_erasure_masks_deletes_and_cancels_once(rig: Rig) -> None:
    p = parties()
    buyer = p.buyer_account_id
    mine = Recipient(
        recipient_id=rid("rcp"),
        account_id=buyer,
        name="ops",
        email="ops@example.com",
        phone="+8613900000001",
        categories=["supervision"],
        email_verified=True,
        phone_verified=True,
    )
    rig.state.table("recipients")[mine.recipient_id] = mine.model_dump()
    rig.state.table("rate_limits")[RateLimits.key("sms", PHONE)] = {"stamps": []}
    first, second = order_paid(p), order_paid(p)
    async with rig.running():
        await rig.publish(account_registered(buyer, AccountRole.BUYER, phone=PHONE))
        await rig.publish(first)
        await rig.publish(second)
        sent = next(
            d for d in deliveries(rig, buyer) if d.channel is Channel.EMAIL and d.order_id == first.order_id
        )
        rig.state.table("deliveries")[sent.delivery_id]["status"] = (
            DeliveryStatus.SENT
        )  # the first e-mail went out
        inbox_before = copy.deepcopy(rig.state.table("inbox"))

        erasure = erased(buyer)
        await rig.publish(erasure)
        after = copy.deepcopy(rig.state.tables)
        await rig.publish(erasure)  # redelivered: nothing changes
        assert rig.state.tables == after

        contact = rig.state.table("contacts")[buyer]["contact"]
        assert (contact["bound_email"], contact["bound_phone"], contact["display_name"]) == (
            f"{buyer[0]}***@example.com",
            "***34",
            "(erased)",
        )
        assert contact["erased_at"] is not None
        assert rig.state.table("recipients") == {}
        assert rig.state.table("rate_limits") == {}
        assert rig.state.table("inbox") == inbox_before  # kept: it holds no contact data
        addressed = [d for d in deliveries(rig, buyer) if d.channel is not Channel.IN_SITE]
        assert len(addressed) == 4
        assert {d.address for d in addressed} == {f"{buyer[0]}***@example.com", "***34"}
        assert not any(buyer + "@example.com" in line or PHONE in line for d in addressed for line in d.trace)
        assert {d.delivery_id: d.status for d in addressed if d.status is not DeliveryStatus.CANCELLED} == {
            sent.delivery_id: DeliveryStatus.SENT
        }  # what was sent stays sent; the rest is never sent now

        later = order_paid(p)
        await rig.publish(later)  # the erased account still gets its in-site message, and nothing else
        planned = [d for d in deliveries(rig, buyer) if d.order_id == later.order_id]
        assert [d.channel for d in planned] == [Channel.IN_SITE]
        assert any("erased at its owner's request" in line for line in planned[0].trace)
    assert rig.dead == []


async def test_a_registration_read_after_the_erasure_brings_nothing_back(rig: Rig) -> None:
    buyer = rid("buyer")
    registered = account_registered(buyer, AccountRole.BUYER, phone=PHONE)  # published first...
    async with rig.running():
        at = registered.occurred_at + timedelta(seconds=1)
        await rig.publish(erased(buyer, at))
        assert rig.state.table("contacts")[buyer].get("contact") is None  # only the mark: nothing to mask yet
        await rig.publish(registered)  # ...but read after the erasure (another topic)
        contact = rig.state.table("contacts")[buyer]["contact"]
        assert (contact["bound_email"], contact["bound_phone"]) == (f"{buyer[0]}***@example.com", "***34")

        again = account_registered(buyer, AccountRole.BUYER, phone="+8613800005678").model_copy(
            update={"occurred_at": at + timedelta(seconds=1)}
        )  # the owner registers anew, after the erasure
        await rig.publish(again)
        contact = rig.state.table("contacts")[buyer]["contact"]
        assert (contact["bound_phone"], contact["erased_at"]) == ("+8613800005678", None)
    assert rig.dead == []


async def test_the_export_shows_what_erasure_would_erase(rig: Rig) -> None:
    p = parties()
    buyer = p.buyer_account_id
    deps: Deps = rig.service
    async with rig.running():
        await rig.publish(account_registered(buyer, AccountRole.BUYER, phone=PHONE))
        await rig.publish(order_paid(p))
        exported = await export_account(deps, buyer)
        assert exported.contact is not None
        assert exported.contact.bound_phone == PHONE
        assert exported.delivery_addresses.model_dump() == {"email": [f"{buyer}@example.com"], "sms": [PHONE]}
        assert exported.truncated is False
        await rig.publish(erased(buyer))
        after = await export_account(deps, buyer)
        assert after.contact is not None
        assert after.contact.bound_phone == "***34"
        assert after.delivery_addresses.model_dump() == {
            "email": [f"{buyer[0]}***@example.com"],
            "sms": ["***34"],
        }
        assert (await export_account(deps, rid("nobody"))).contact is None
