"""Merchant settlement statements (services/orders/statements.py, dossier §4.3): the statement date (the 7th,
or the next working day of the Chinese statutory calendar), which orders a statement takes, and review → sent
→ paid."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.billing import Period
from services.orders.domain import Order
from services.orders.statements import due_period, move, produce, statement_date, status_notice
from shared.platform.errors import DomainError
from shared.schemas import AccountRole, DeliveryType, NoticeKind, ProductSnapshot
from shared.workdays import BEIJING, WorkdayCalendar

CALENDAR = WorkdayCalendar()


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # 7 October 2026 is in the National Day holiday (1-7 October): Thursday the 8th.
        ("2026-09", datetime(2026, 10, 8, 10, tzinfo=BEIJING)),
        # 2025: the holiday runs to the 8th (National Day with the Mid-Autumn Festival): Thursday the 9th.
        ("2025-09", datetime(2025, 10, 9, 10, tzinfo=BEIJING)),
        # 7 February 2026 is a Saturday: Monday the 9th.
        ("2026-01", datetime(2026, 2, 9, 10, tzinfo=BEIJING)),
        # 7 December 2026 is a Monday, a working day: the 7th itself.
        ("2026-11", datetime(2026, 12, 7, 10, tzinfo=BEIJING)),
    ],
)
def test_statements_come_on_the_7th_or_the_next_working_day(period: str, expected: datetime) -> None:
    assert statement_date(Period.parse(period), CALENDAR, 10) == expected


def test_an_override_moves_the_date_too() -> None:
    holiday = WorkdayCalendar({datetime(2026, 12, 7).date(): False})
    assert statement_date(Period.parse("2026-11"), holiday, 9) == datetime(2026, 12, 8, 9, tzinfo=BEIJING)


def test_the_due_month_turns_at_the_statement_date_in_beijing_time() -> None:
    date = datetime(2026, 10, 8, 10, tzinfo=BEIJING)
    assert str(due_period(date - timedelta(seconds=1), CALENDAR, 10)) == "2026-08"
    assert str(due_period(date, CALENDAR, 10)) == "2026-09"
    assert str(due_period(datetime(2026, 1, 20, tzinfo=BEIJING), CALENDAR, 10)) == "2025-12"


def order(
    order_id: str, merchant: str, amount: str, at: datetime, delivery: DeliveryType, accepted: bool = False
) -> Order:
    o = Order(
        order_id=order_id,
        buyer_account_id="b",
        merchant_account_id=merchant,
        amount=Decimal(amount),
        product=ProductSnapshot(product_id="p", name=f"product {order_id}", delivery_type=delivery),
        created_at=at,
    )
    o.pay(f"pay-{order_id}", o.amount, at, "c")
    if accepted:
        o.complete_after_acceptance(at + timedelta(days=1), None)
    return o


def test_a_statement_takes_the_merchants_eligible_orders_of_the_month_and_totals_them() -> None:
    oct_ = datetime(2026, 10, 10, tzinfo=BEIJING)
    orders = [
        order("A", "m1", "100.00", oct_, DeliveryType.IMAGE),  # unsupervised: on payment
        order("B", "m1", "250.50", oct_, DeliveryType.MANUAL_SERVICE, accepted=True),  # completed
        order("C", "m1", "999.00", oct_, DeliveryType.MANUAL_SERVICE),  # supervision not completed
        order("D", "m1", "10.00", datetime(2026, 11, 1, tzinfo=BEIJING), DeliveryType.IMAGE),  # November
        order("E", "m2", "70.00", oct_, DeliveryType.IMAGE),  # another merchant
        # 31 October 23:30 Beijing is still October though it is 15:30 UTC
        order("F", "m1", "1.00", datetime(2026, 10, 31, 23, 30, tzinfo=BEIJING), DeliveryType.IMAGE),
    ]
    now = datetime(2026, 11, 9, 10, tzinfo=BEIJING)

    statement = produce("m1", Period.parse("2026-10"), orders, now)

    assert statement is not None
    assert statement.statement_id == "ST-202610-m1"
    assert [line.order_id for line in statement.lines] == ["A", "B", "F"]
    assert statement.totals == {"CNY": Decimal("351.50")}
    assert (statement.state, [s.state for s in statement.history]) == ("review", ["review"])
    assert produce("m3", Period.parse("2026-10"), orders, now) is None  # nothing to settle: no statement


def test_a_statement_goes_review_sent_paid_one_step_at_a_time_with_a_notice_each() -> None:
    at = datetime(2026, 10, 10, tzinfo=BEIJING)
    statement = produce("m1", Period.parse("2026-10"), [order("A", "m1", "5.00", at, DeliveryType.IMAGE)], at)
    assert statement is not None
    with pytest.raises(DomainError, match="review → sent → paid"):
        move(statement, "paid", "op", at)
    ids = [status_notice(statement, "c").payload.notice_id]
    move(statement, "sent", "op", at)
    ids.append(status_notice(statement, "c").payload.notice_id)
    with pytest.raises(DomainError):
        move(statement, "sent", "op", at)  # sent twice
    move(statement, "paid", "op", at)
    notice = status_notice(statement, "c")
    ids.append(notice.payload.notice_id)

    assert ids == [f"statement:ST-202610-m1:{state}" for state in ("review", "sent", "paid")]
    assert [(s.state, s.by) for s in statement.history] == [("review", None), ("sent", "op"), ("paid", "op")]
    assert notice.payload.kind is NoticeKind.STATEMENT_STATUS
    assert [(r.role, r.account_id) for r in notice.payload.recipients] == [(AccountRole.MERCHANT, "m1")]
    assert notice.payload.params == {
        "statement_id": "ST-202610-m1",
        "period": "2026-10",
        "state": "paid",
        "status": "paid",
        "orders": "1",
        "totals": "5.00 CNY",
        "amount": "5.00",
        "currency": "CNY",
    }
    with pytest.raises(DomainError):
        move(statement, "sent", "op", at)
