"""Hardware unsubscribes and their clocks (services/orders/returns.py, dossier §1.4): 7 working days to review
(Chinese statutory calendar), 15 days to accept returned goods; and the negative amount of an unsubscribe in a
renewal period (§8.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.orders import returns
from services.orders.domain import Order
from services.orders.refunds import decide_refund, request_refund
from services.orders.unsubscribe import unsubscribe_requested
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    DeliveryType,
    NoticeKind,
    NoticeRequested,
    OrderStatus,
    PartyRole,
    ProductSnapshot,
    RefundDecided,
)
from shared.workdays import BEIJING, WorkdayCalendar

# Wednesday 30 September 2026, 10:00 Beijing: the National Day holiday (1-7 October) follows.
ASKED = datetime(2026, 9, 30, 10, tzinfo=BEIJING)
CALENDAR = WorkdayCalendar()


def hardware(delivery: DeliveryType = DeliveryType.HARDWARE) -> Order:
    o = Order(
        order_id="CS1",
        buyer_account_id="b",
        merchant_account_id="m",
        amount=Decimal("500.00"),
        product=ProductSnapshot(product_id="p", name="Router", delivery_type=delivery),
        created_at=ASKED - timedelta(days=3),
    )
    o.pay("pay-1", o.amount, ASKED - timedelta(days=3), "c")
    return o


def asked(return_goods: bool = True) -> Order:
    o = hardware()
    request_refund(o, "b", Decimal("450.00"), "faulty", ASKED, 0, "c", CALENDAR, return_goods)
    return o


def notices(events: list[object]) -> list[NoticeRequested]:
    return [e for e in events if isinstance(e, NoticeRequested)]


def test_the_review_is_due_seven_working_days_later_on_the_statutory_calendar() -> None:
    o = asked(return_goods=False)
    assert o.refund is not None
    # 30 Sep + 7 working days: 1-7 October are days off; 8, 9 and Saturday 10 October (a make-up working
    # day, 调休) are working days, Sunday is not, then 12-15 October: due Thursday 15 October 10:00.
    assert o.refund.review_by == datetime(2026, 10, 15, 10, tzinfo=BEIJING)
    assert o.refund.next_clock_at == o.refund.review_by
    assert o.refund.goods_return is None
    assert not o.refund.buyer_may_contact_merchant


def test_an_unreviewed_request_lets_the_buyer_contact_the_merchant_once() -> None:
    o = asked(return_goods=False)
    assert o.refund is not None
    assert o.refund.review_by is not None
    assert returns.on_clock(o, o.refund.review_by - timedelta(seconds=1), "c") == []
    [told] = notices(returns.on_clock(o, o.refund.review_by, "c"))
    assert told.payload.kind is NoticeKind.RETURN_REVIEW_OVERDUE
    assert [r.account_id for r in told.payload.recipients] == ["b"]
    assert told.payload.notice_id == f"unsubscribe:{o.refund.refund_id}:review_overdue"
    assert o.refund.buyer_may_contact_merchant
    assert o.refund.next_clock_at is None  # nothing else is pending
    assert returns.on_clock(o, o.refund.review_by + timedelta(days=1), "c") == []  # fires once
    assert o.model_dump(mode="json")["refund"]["buyer_may_contact_merchant"] is True


def test_returned_goods_are_accepted_by_the_system_after_fifteen_days_and_the_unsubscribe_executes() -> None:
    o = asked()
    assert o.refund is not None
    refund_id = o.refund.refund_id
    with pytest.raises(DomainError, match="awaiting_shipment"):
        returns.accept(o, "m", refund_id, True, "", ASKED, "c")  # nothing shipped yet
    shipped_at = ASKED + timedelta(days=1)
    returns.ship(o, "b", refund_id, "SF", "SF123", shipped_at)
    assert o.refund.goods_return is not None
    assert o.refund.goods_return.state == "pending_acceptance"
    assert o.refund.goods_return.accept_by == shipped_at + timedelta(days=15)
    due = shipped_at + timedelta(days=15)  # Friday 16 October 10:00
    assert o.refund.next_clock_at == o.refund.review_by == datetime(2026, 10, 15, 10, tzinfo=BEIJING)
    [overdue] = notices(returns.on_clock(o, due - timedelta(seconds=1), "c"))  # the review clock came first
    assert overdue.payload.kind is NoticeKind.RETURN_REVIEW_OVERDUE
    assert (o.status, o.refund.next_clock_at) == (OrderStatus.PROCESSING, due)

    events = returns.on_clock(o, due, "c")

    assert o.status is OrderStatus.REFUNDED
    assert (o.refund.state, o.refund.goods_return.state) == ("approved", "accepted")
    assert o.refund.goods_return.decided_by_system
    [decided] = [e for e in events if isinstance(e, RefundDecided)]
    assert (decided.payload.approved, decided.payload.amount, decided.payload.decided_by_role) == (
        True,
        Decimal("450.00"),
        PartyRole.SYSTEM,
    )
    assert notices(events) == []  # refund.decided tells the buyer; no second message for the same fact
    assert returns.on_clock(o, due + timedelta(days=1), "c") == []  # executed once


def test_the_merchant_confirms_the_goods_or_reports_an_exception_with_its_description() -> None:
    o = asked()
    assert o.refund is not None
    refund_id = o.refund.refund_id
    returns.ship(o, "b", refund_id, "SF", "SF123", ASKED)
    with pytest.raises(Forbidden):
        returns.accept(o, "b", refund_id, True, "", ASKED, "c")
    with pytest.raises(InvalidInput) as missing:
        returns.accept(o, "m", refund_id, False, " ", ASKED, "c")
    assert missing.value.field == "note"
    with pytest.raises(DomainError, match="confirming the returned goods"):
        decide_refund(o, "m", refund_id, True, "", ASKED, "c", None)  # type: ignore[arg-type]

    events = returns.accept(o, "m", refund_id, False, "casing cracked", ASKED, "c")

    assert o.status is OrderStatus.PROCESSING
    assert (o.refund.state, o.refund.opinion) == ("rejected", "casing cracked")
    assert o.refund.goods_return is not None
    assert o.refund.goods_return.state == "exception"
    assert o.refund.next_clock_at is None
    assert [type(e) for e in events] == [RefundDecided]  # refund.decided tells the buyer
    assert returns.on_clock(o, ASKED + timedelta(days=30), "c") == []


def test_only_hardware_returns_goods() -> None:
    o = hardware(DeliveryType.MANUAL_SERVICE)
    with pytest.raises(InvalidInput) as refused:
        request_refund(o, "b", None, "x", ASKED, 0, "c", CALENDAR, True)
    assert refused.value.field == "return_goods"


def test_an_unsubscribe_in_a_renewal_period_is_negative_and_refers_to_the_renewal_order() -> None:
    now = datetime(2026, 11, 10, tzinfo=UTC)
    new = Order(
        order_id="CS-NEW",
        buyer_account_id="b",
        merchant_account_id="m",
        amount=Decimal("100.00"),
        product=ProductSnapshot(product_id="p", name="x", delivery_type=DeliveryType.SAAS_INSTANT),
        created_at=now,
    )
    new.pay("pay-1", new.amount, now, "c")
    renewal = new.follow_up("renewal", now, new.product, Decimal("120.00"))
    renewal.pay("pay-2", renewal.amount, now, "c")
    request_refund(renewal, "b", None, "not needed", now + timedelta(days=1), 0, "c")

    unsub, events = unsubscribe_requested(renewal, now + timedelta(days=1), "c")

    assert (unsub.order_type, unsub.original_order_id, unsub.amount) == (
        "unsubscribe",
        "CS-NEW" if False else renewal.order_id,
        Decimal("-120.00"),
    )
    assert [e.payload.amount for e in events] == [Decimal("-120.00")] * len(events)
    request_refund(new, "b", Decimal("100.00"), "x", now, 0, "c")
    assert unsubscribe_requested(new, now, "c")[0].amount == Decimal("100.00")  # not a renewal: positive
    with pytest.raises(ValidationError, match="only an unsubscribe order"):
        new.follow_up("renewal", now, new.product, Decimal("-1.00"))
    with pytest.raises(InvalidInput) as zero:
        request_refund(new, "b", Decimal("0"), "x", now, 0, "c")
    assert zero.value.field == "amount"


def test_the_system_does_not_refund_once_the_guarantee_period_is_over() -> None:
    o = asked()
    assert o.refund is not None
    returns.ship(o, "b", o.refund.refund_id, "SF", "SF5", ASKED)
    o.complete_after_acceptance(ASKED + timedelta(days=2), None)  # supervision completed meanwhile
    due = ASKED + timedelta(days=15)

    events = returns.on_clock(o, due, "c")

    assert not [e for e in events if isinstance(e, RefundDecided)]
    assert (o.status, o.refund.state) == (OrderStatus.COMPLETED, "requested")
    assert o.refund.goods_return is not None
    assert (o.refund.goods_return.state, o.refund.next_clock_at) == ("pending_acceptance", None)
    assert returns.on_clock(o, due + timedelta(days=1), "c") == []
