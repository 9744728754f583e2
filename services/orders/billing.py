"""Billing eligibility (出账条件, dossier §4.3): which orders a month's bill run takes, and why not the
others.

The marketplace runs the bill on the 3rd of the next month [R36]. Our cut: the 3rd of the month after the
period, 00:00 Beijing time (UTC+8) — [I] the dossier gives the day, not the hour; midnight at the start of
that day is what a merchant reading "on the 3rd" expects. An order belongs to the first period whose end is at
or after its effective time and at whose cut every condition already held; a condition met only after the cut
moves it to the next period (dossier §4.3: "completed after the next-month bill run → billed next period").
Effective time (settlement entry time, §4.3): supervised new purchases at supervision completion; renewals
when the renewal takes effect; everything else on payment (activation).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

from services.orders.domain import Order
from shared.platform.errors import InvalidInput
from shared.schemas import OrderStatus

BEIJING = timezone(timedelta(hours=8))
BILL_DAY = 3


class Period(BaseModel):
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        # Years 2000-2099: the marketplace's bill runs, and far from datetime's limits at year 1 and 9999.
        if not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", text):
            raise InvalidInput(f"period {text!r} is not YYYY-MM of the years 2000-2099", field="period")
        return cls(year=int(text[:4]), month=int(text[5:]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(year=self.year + self.month // 12, month=self.month % 12 + 1)

    @property
    def end(self) -> datetime:
        """Exclusive end: the first instant of the next month, Beijing time."""
        n = self.next()
        return datetime(n.year, n.month, 1, tzinfo=BEIJING)

    @property
    def cut(self) -> datetime:
        """The bill run: the 3rd of the next month, 00:00 Beijing time."""
        n = self.next()
        return datetime(n.year, n.month, BILL_DAY, tzinfo=BEIJING)

    @classmethod
    def of(cls, moment: datetime) -> Period:
        local = moment.astimezone(BEIJING)
        return cls(year=local.year, month=local.month)


class Eligibility(BaseModel):
    order_id: str
    merchant_account_id: str
    order_type: str
    status: OrderStatus
    billable: bool
    reasons: list[str]
    effective_at: datetime | None
    billing_period: str | None  # the period whose bill takes this order, when it can be known


def effective_at(order: Order) -> datetime | None:
    if order.order_type == "renewal":
        return order.validity_starts_at
    if order.supervised:
        return order.completed_at
    return order.paid_at


def _ready_at(order: Order) -> tuple[datetime | None, list[str]]:
    """When every condition first held, or the reasons that still block it."""
    blockers: list[str] = []
    if order.order_type == "unsubscribe":  # a refund of another order, nothing is sold (dossier §1.3)
        return None, [f"an unsubscribe order (a refund of order {order.original_order_id}), not billable"]
    if order.paid_at is None or order.status in {OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED}:
        blockers.append("not paid")
    if order.status is OrderStatus.REFUNDED:
        blockers.append("refunded")
    if not order.credit_repaid:
        blockers.append("paid with credit and not repaid yet (后付费客户还款状态 must be 已还款)")
    if order.supervised and order.completed_at is None:
        blockers.append("supervision not completed")
    effective = effective_at(order)
    if effective is None and not blockers:
        blockers.append("not effective yet")
    if blockers or effective is None or order.paid_at is None:
        return None, blockers
    moments = [order.paid_at, effective] + ([order.credit_repaid_at] if order.credit_repaid_at else [])
    return max(moments), []


def billing_period(order: Order) -> Period | None:
    ready, _ = _ready_at(order)
    effective = effective_at(order)
    if ready is None or effective is None:
        return None
    period = Period.of(effective)
    while period.cut <= ready:  # conditions met after this period's cut: the next bill takes it
        period = period.next()
    return period


def eligibility(order: Order, period: Period) -> Eligibility:
    ready, blockers = _ready_at(order)
    effective = effective_at(order)
    target = billing_period(order)
    reasons = list(blockers)
    if target is not None and str(target) != str(period):
        if effective is not None and effective >= period.end:
            reasons.append(f"effective {effective.isoformat()}, after the period; billed in {target}")
        elif (target.year, target.month) > (period.year, period.month):
            reasons.append(
                f"conditions met at {ready.isoformat() if ready else '?'}, after the billing cut "
                f"{period.cut.isoformat()}; billed in {target}"
            )
        else:
            reasons.append(f"billed in an earlier period ({target})")
    return Eligibility(
        order_id=order.order_id,
        merchant_account_id=order.merchant_account_id,
        order_type=order.order_type,
        status=order.status,
        billable=not reasons,
        reasons=reasons,
        effective_at=effective,
        billing_period=str(target) if target else None,
    )
