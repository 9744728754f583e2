"""notification on the in-memory broker: `notice.requested` becomes one notice per recipient, on its kind's
channels; operators as a group; the same notice id told twice is one notice; a bad notice is dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.notification.catalogue import Channel
from services.notification.domain import Delivery, DeliveryStatus
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
)
from shared.schemas.enums import NoticeKind
from tests.factories import account_registered, rid
from tests.service.rig import Rig

M, OP = AccountRole.MERCHANT, AccountRole.OPERATOR


def notice(
    kind: NoticeKind,
    *recipients: tuple[AccountRole, str | None],
    notice_id: str | None = None,
    params: dict[str, str] | None = None,
) -> NoticeRequested:
    return NoticeRequested(
        producer="orders",
        correlation_id=rid("corr"),
        payload=NoticeRequestedPayload(
            notice_id=notice_id or rid("statement") + ":sent",
            kind=kind,
            recipients=[NoticeRecipient(role=role, account_id=account) for role, account in recipients],
            subject_id=rid("ST"),
            params=params or {},
        ),
    )


def deliveries(rig: Rig, account_id: str) -> list[Delivery]:
    rows = [Delivery.model_validate(r) for r in rig.state.tables.get("deliveries", {}).values()]
    return [d for d in rows if d.account_id == account_id]


def inbox(rig: Rig, account_id: str) -> list[dict[str, Any]]:
    return [m for m in rig.state.tables.get("inbox", {}).values() if m["account_id"] == account_id]


async def test_a_notice_to_a_merchant_lands_in_its_inbox_and_queues_its_kinds_channels(
    notification_rig: Rig,
) -> None:
    merchant = rid("mer")
    statement = notice(
        NoticeKind.STATEMENT_STATUS,
        (M, merchant),
        params={"statement_id": "ST-202610-7", "period": "2026-10", "status": "sent", "amount": "99.00"},
    )
    frozen = notice(NoticeKind.PRODUCT_FROZEN, (M, merchant), params={"product": "Backup as a service"})
    async with notification_rig.running() as rig:
        await rig.publish(account_registered(merchant, AccountRole.MERCHANT, locale="zh-CN"))
        await rig.publish(statement)
        await rig.publish(frozen)

    assert rig.dead == []
    by_type: dict[str, dict[Channel, Delivery]] = {}
    for d in deliveries(rig, merchant):
        by_type.setdefault(d.message_type, {})[d.channel] = d
    # statements: e-mail and in-site (dossier §6.3); a frozen product: in-site, e-mail and SMS (501)
    assert set(by_type["statement_status"]) == {Channel.IN_SITE, Channel.EMAIL}
    assert set(by_type["product_frozen"]) == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert by_type["statement_status"][Channel.EMAIL].status is DeliveryStatus.PENDING  # queued
    assert by_type["product_frozen"][Channel.SMS].status is DeliveryStatus.PENDING
    assert by_type["product_frozen"][Channel.IN_SITE].category == "om_reminder"
    assert by_type["statement_status"][Channel.IN_SITE].event_id == f"notice:{statement.payload.notice_id}"
    titles = sorted(m["title"] for m in inbox(rig, merchant))
    assert titles == ["结算单 ST-202610-7 已发送", "运维提醒:Backup as a service 已冻结交易"]
    email = by_type["statement_status"][Channel.EMAIL]
    assert "2026-10" in email.body
    assert "99.00 CNY" in email.body


async def test_an_operator_recipient_without_an_account_is_every_operator(notification_rig: Rig) -> None:
    buyer, merchant, op1, op2 = rid("buy"), rid("mer"), rid("op"), rid("op")
    escalated = notice(
        NoticeKind.APPEAL_ESCALATED,
        (AccountRole.BUYER, buyer),
        (M, merchant),
        (OP, None),
        params={"order_id": "CS1", "node": "deliver"},
    )
    to_one = notice(
        NoticeKind.LISTING_REVIEW_RESULT, (OP, op2), params={"product": "P", "result": "approved"}
    )
    async with notification_rig.running() as rig:
        await rig.publish(account_registered(buyer, AccountRole.BUYER))
        await rig.publish(account_registered(merchant, AccountRole.MERCHANT))
        for op in (op1, op2):
            await rig.publish(account_registered(op, OP))
        await rig.publish(escalated)
        await rig.publish(to_one)

    for account in (buyer, merchant, op1, op2):
        told = {d.channel for d in deliveries(rig, account) if d.message_type == "appeal_escalated"}
        assert told == {Channel.IN_SITE, Channel.EMAIL}, account
    [en] = [m for m in inbox(rig, buyer)]
    assert en["title"] == "Appeal on order CS1 escalated"
    # an operator named by its account: that one only
    assert [d.message_type for d in deliveries(rig, op1)] == ["appeal_escalated"] * 2
    assert {d.channel for d in deliveries(rig, op2) if d.message_type == "listing_review_result"} == {
        Channel.IN_SITE,
        Channel.SMS,
    }


async def test_the_same_notice_told_by_two_events_is_one_notice(notification_rig: Rig) -> None:
    merchant, notice_id = rid("mer"), rid("bill") + ":paid"
    first = notice(NoticeKind.BILL_STATUS, (M, merchant), notice_id=notice_id, params={"bill_id": "B1"})
    again = notice(NoticeKind.BILL_STATUS, (M, merchant), notice_id=notice_id, params={"bill_id": "B1"})
    assert first.event_id != again.event_id
    in_one_poll = notice(NoticeKind.RENEWAL, (M, merchant), (M, merchant), notice_id=rid("renewal"))
    async with notification_rig.running() as rig:
        await rig.publish(account_registered(merchant, AccountRole.MERCHANT))
        await rig.publish(first)
        await rig.publish(again)  # another event id, the same fact
        await rig.publish(first)  # and a redelivery
        # the same fact twice in one poll (a batch), naming the merchant twice
        await rig.publish_batch(
            in_one_poll, in_one_poll.model_copy(update={"event_id": uuid.uuid4()}), topic=in_one_poll.topic
        )

    assert rig.dead == []
    told = sorted((d.message_type, d.channel.value) for d in deliveries(rig, merchant))
    assert told == [
        ("bill_status", "email"),
        ("bill_status", "in_site"),
        ("renewal", "email"),
        ("renewal", "in_site"),
    ]
    assert len(inbox(rig, merchant)) == 2


async def test_a_notice_waits_for_its_recipients_registration_and_spares_an_erased_contact(
    notification_rig: Rig,
) -> None:
    early, erased = rid("mer"), rid("buy")
    expiry = notice(
        NoticeKind.EXPIRY_REMINDER,
        (M, early),
        (AccountRole.BUYER, erased),
        params={"product": "P", "days_left": "3"},
    )
    async with notification_rig.running() as rig:
        await rig.publish(account_registered(erased, AccountRole.BUYER))
        await rig.publish(
            AccountErased(
                producer="orders",
                correlation_id=rid("corr"),
                payload=AccountErasedPayload(
                    account_id=erased, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
                ),
            )
        )
        await rig.publish(expiry)
        assert deliveries(rig, early) == []  # its registration has not arrived: parked
        await rig.publish(account_registered(early, AccountRole.MERCHANT))

    assert {d.channel for d in deliveries(rig, early)} == {Channel.IN_SITE, Channel.EMAIL, Channel.SMS}
    assert {d.channel for d in deliveries(rig, erased)} == {Channel.IN_SITE}  # its contact data is gone


async def test_a_bad_notice_is_dead_lettered_with_its_reason(notification_rig: Rig) -> None:
    unknown = notice(NoticeKind.RENEWAL, (M, rid("mer"))).model_dump(mode="json")
    unknown["payload"]["kind"] = "lottery_win"
    nameless = notice(NoticeKind.RENEWAL, (OP, None)).model_dump(mode="json")
    nameless["payload"]["recipients"] = [{"role": "merchant"}]  # only operators are a group
    async with notification_rig.running() as rig:
        await rig.publish_raw(unknown, "notice.requested")
        await rig.publish_raw(nameless, "notice.requested")

    first, second = rig.dead
    assert {first.topic, second.topic} == {"svc.notice.requested.dlt"}
    assert first.headers["x-exception"] == "ValidationError"
    assert "payload.kind" in first.headers["x-reason"]
    assert "needs its account_id" in second.headers["x-reason"]
    assert rig.state.tables.get("deliveries", {}) == {}
