"""Billing eligibility (dossier §4.3): paid (and repaid), supervision completed or not applicable, effective;
the bill runs on the 3rd of the next month and what is ready only after it goes to the next period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.billing import BEIJING, Period, billing_period, eligibility
from services.orders.domain import Order
from shared.platform.errors import InvalidInput
from shared.schemas import BillingMode, DeliveryType, OrderStatus, ProductSnapshot

NOV = Period.parse("2026-11")


def at(day: int, month: int = 11, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BEIJING)


def order(delivery: DeliveryType = DeliveryType.MANUAL_SERVICE, order_type: str = "new") -> Order:
    product = ProductSnapshot(
        product_id="p",
        name="x",
        delivery_type=delivery,
        billing_mode=BillingMode.PERIODIC_YEARLY,
        period_months=12,
    )
    return Order(
        order_id="CS1",
        order_type=order_type,
        buyer_account_id="b",
        merchant_account_id="m",  # type: ignore[arg-type]
        product=product,
        amount=Decimal("10"),
        created_at=at(1),
    )


def completed(accepted: datetime, paid: datetime | None = None) -> Order:
    o = order()
    o.pay("pay-1", o.amount, paid or at(1), "c")
    o.complete_after_acceptance(accepted, None)
    return o


def test_the_period_cut_is_the_third_of_the_next_month_beijing_time() -> None:
    assert NOV.cut == datetime(2026, 12, 3, tzinfo=BEIJING)
    assert NOV.end == datetime(2026, 12, 1, tzinfo=BEIJING)
    assert Period.parse("2026-12").cut == datetime(2027, 1, 3, tzinfo=BEIJING)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "november", "0000-01", "9999-12"])
def test_a_malformed_period_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        Period.parse(bad)


def test_a_supervised_order_completed_in_the_period_is_billable() -> None:
    e = eligibility(completed(at(20)), NOV)
    assert (e.billable, e.reasons, e.billing_period) == (True, [], "2026-11")


def test_a_supervised_order_not_completed_is_not_billable() -> None:
    o = order()
    o.pay("pay-1", o.amount, at(2), "c")
    e = eligibility(o, NOV)
    assert not e.billable
    assert e.reasons == ["supervision not completed"]


def test_an_unpaid_order_is_not_billable() -> None:
    e = eligibility(order(), NOV)
    assert not e.billable
    assert "not paid" in e.reasons


def test_an_unsupervised_order_is_billable_from_payment() -> None:
    o = order(DeliveryType.IMAGE)
    o.pay("pay-1", o.amount, at(5), "c")
    e = eligibility(o, NOV)
    assert e.billable
    assert e.effective_at == at(5)


def test_a_credit_order_needs_repayment_and_a_late_repayment_moves_it_to_the_next_period() -> None:
    o = order(DeliveryType.API)
    o.pay("pay-1", o.amount, at(5), "c", credit=True)
    assert eligibility(o, NOV).reasons == [
        "paid with credit and not repaid yet (后付费客户还款状态 must be 已还款)"
    ]

    o.credit_repaid_at = at(10, month=12)  # after the 3 December cut
    e = eligibility(o, NOV)
    assert not e.billable
    assert "after the billing cut" in e.reasons[0]
    assert e.billing_period == "2026-12"
    assert eligibility(o, Period.parse("2026-12")).billable


def test_completed_after_the_month_is_billed_in_the_month_it_completed() -> None:
    o = completed(at(2, month=12))
    e = eligibility(o, NOV)
    assert not e.billable
    assert "after the period" in e.reasons[0]
    assert billing_period(o) == Period.parse("2026-12")


def test_an_order_already_billed_is_not_billed_again() -> None:
    e = eligibility(completed(at(20, month=10)), NOV)
    assert not e.billable
    assert e.reasons == ["billed in an earlier period (2026-10)"]


def test_a_refunded_order_is_not_billable() -> None:
    o = completed(at(20))
    o.refunded(at(21), "approved", "c")
    e = eligibility(o, NOV)
    assert not e.billable
    assert "refunded" in e.reasons


def test_a_renewal_is_billed_when_it_takes_effect() -> None:
    o = order(order_type="renewal")
    o.pay("pay-1", o.amount, at(25, month=10), "c", renewal_starts=at(5))
    assert o.status is OrderStatus.COMPLETED
    assert eligibility(o, Period.parse("2026-10")).reasons[0].startswith("effective")
    assert eligibility(o, NOV).billable


def test_utc_times_are_bucketed_in_beijing_time() -> None:
    # 30 Nov 17:00 UTC is 1 Dec 01:00 in Beijing: December's order.
    o = completed(datetime(2026, 11, 30, 17, tzinfo=UTC), paid=datetime(2026, 11, 1, tzinfo=UTC))
    assert billing_period(o) == Period.parse("2026-12")
    assert billing_period(completed(datetime(2026, 11, 30, 15, tzinfo=UTC) - timedelta(hours=1))) == NOV
