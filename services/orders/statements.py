"""Merchant settlement statements (结算单, dossier §4.3): pure.

- When: "the statement is generated on the 7th (next working day if a holiday) for the previous month" [R21],
  after the bill run on the 3rd (billing.py). Working days are the Chinese statutory calendar
  (shared/workdays); months are Beijing months. [I] The dossier gives the day, not the hour: the service's
  `statement_hour` (10:00 Beijing by default).
- What: one statement per merchant with a line per eligible order of the month, i.e. the orders the month's
  bill run takes (billing.py: paid, effective, credit repaid; supervised types only once their service order
  is completed, §4.3 "settlement only for completed service orders"), and their totals per currency.
- Then: review → sent → paid, moved by operators ("reviewed and sent by ops within 3 wd", [R21]; paid after
  the payment approval, [R99]); [I] since 2024-12-24 the merchant no longer confirms it [R100], so no
  confirmation step. The merchant is told at each step (statement_status).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.orders.billing import BEIJING, Period, eligibility
from services.orders.domain import PRODUCER, Order
from shared.platform.errors import DomainError
from shared.schemas import (
    AccountRole,
    Money,
    NoticeKind,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
)
from shared.workdays import WorkdayCalendar

STATEMENT_DAY = 7  # dossier §4.3 [R21]
State = Literal["review", "sent", "paid"]
NEXT: dict[State, State] = {"review": "sent", "sent": "paid"}


class StatementLine(BaseModel):
    order_id: str
    order_type: str
    product_name: str
    amount: Money
    currency: str
    effective_at: AwareDatetime | None


class StatementStep(BaseModel):
    state: State
    at: AwareDatetime
    by: str | None = None  # the operator who moved it; None when the system produced it


class Statement(BaseModel):
    statement_id: str
    merchant_account_id: str
    period: str  # YYYY-MM, a Beijing month
    lines: list[StatementLine]
    totals: dict[str, Money]  # currency -> amount
    state: State = "review"
    created_at: AwareDatetime
    history: list[StatementStep] = Field(default_factory=list)
    version: int = 0

    @staticmethod
    def key(merchant: str, period: Period) -> str:
        return f"ST-{period.year:04d}{period.month:02d}-{merchant}"


class StatementRun(BaseModel):
    """A month whose statements were produced (`statements:<YYYY-MM>`), so a rerun makes none again."""

    run_id: str
    merchants: int
    at: AwareDatetime


def previous(period: Period) -> Period:
    return Period(year=period.year - (period.month == 1), month=12 if period.month == 1 else period.month - 1)


def statement_date(period: Period, calendar: WorkdayCalendar, hour: int) -> datetime:
    """The 7th of the month after `period`, or the next working day when the 7th is not one, at `hour`
    Beijing time."""
    after = period.next()
    day = datetime(after.year, after.month, STATEMENT_DAY, hour, tzinfo=BEIJING)
    while not calendar.is_workday(day.date()):
        day += timedelta(days=1)
    return day


def due_period(now: datetime, calendar: WorkdayCalendar, hour: int) -> Period:
    """The latest month whose statement date has come at `now`."""
    last = previous(Period.of(now))
    return last if statement_date(last, calendar, hour) <= now else previous(last)


def produce(merchant: str, period: Period, orders: list[Order], now: datetime) -> Statement | None:
    """The merchant's statement of `period`: its orders the period's bill run takes; None when there are
    none."""
    lines = [
        StatementLine(
            order_id=o.order_id,
            order_type=o.order_type,
            product_name=o.product.name,
            amount=o.amount,
            currency=o.currency,
            effective_at=e.effective_at,
        )
        for o in orders
        if o.merchant_account_id == merchant and (e := eligibility(o, period)).billable
    ]
    if not lines:
        return None
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in lines:
        totals[line.currency] += line.amount
    return Statement(
        statement_id=Statement.key(merchant, period),
        merchant_account_id=merchant,
        period=str(period),
        lines=lines,
        totals=dict(totals),
        created_at=now,
        history=[StatementStep(state="review", at=now)],
    )


def move(statement: Statement, to: State, operator: str, now: datetime) -> None:
    """review → sent → paid, one step at a time; anything else is refused."""
    if NEXT.get(statement.state) != to:
        raise DomainError(
            f"statement {statement.statement_id} is {statement.state}; it cannot be {to} now "
            "(review → sent → paid)",
            field="state",
        )
    statement.state = to
    statement.history.append(StatementStep(state=to, at=now, by=operator))


def status_notice(statement: Statement, correlation_id: str) -> NoticeRequested:
    """To the merchant: its statement is in review, sent, or paid (`statement:{id}:{state}`)."""
    params = {
        "statement_id": statement.statement_id,
        "period": statement.period,
        "state": statement.state,
        "status": statement.state,  # the word the text shows
        "orders": str(len(statement.lines)),
        "totals": ", ".join(f"{amount} {cur}" for cur, amount in sorted(statement.totals.items())),
    }
    if len(statement.totals) == 1:  # one currency: its total is the statement's amount
        [(currency, total)] = statement.totals.items()
        params |= {"amount": str(total), "currency": currency}
    return NoticeRequested(
        producer=PRODUCER,
        correlation_id=correlation_id,
        payload=NoticeRequestedPayload(
            notice_id=f"statement:{statement.statement_id}:{statement.state}",
            kind=NoticeKind.STATEMENT_STATUS,
            recipients=[NoticeRecipient(role=AccountRole.MERCHANT, account_id=statement.merchant_account_id)],
            subject_id=statement.statement_id,
            params=params,
        ),
    )
