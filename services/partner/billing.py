"""Bills, statements and invoices of providers (dossier §7.6, §4.3): pure.

- Basic-incentive bill: monthly, for the previous natural month plus anything earlier never billed.
- Performance-assessment incentive bill: quarterly, over the previous natural quarter ([I] the incentive is
  the configured performance rate × the quarter's net earnings; the real policy is yearly and not in the
  dossier).
- Separate bills per tax rate (the service-fee tax rate the provider invoices with).
- A bill goes review → sent → paid (§7.6: generated, reviewed and sent to the provider, paid after the payment
  approval; the same states as the merchants' settlement statements in orders), moved by operators.
Only completed service orders are billed: ledger entries exist only for accepted (or unsupervised, paid)
orders, so every entry is billable; a reversal is billed in the bill of the month it happened in (§7.6).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.partner.domain import LedgerEntry
from services.partner.incentives import cents
from shared.platform.errors import DomainError, InvalidInput
from shared.schemas import (
    AccountRole,
    Money,
    NoticeKind,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
)
from shared.workdays import BEIJING


class Invoice(BaseModel):
    invoice_no: str
    amount: Money
    issued_at: AwareDatetime


BillState = Literal["review", "sent", "paid"]
NEXT_STATE: dict[BillState, BillState] = {"review": "sent", "sent": "paid"}


class BillStep(BaseModel):
    state: BillState
    at: AwareDatetime
    by: str | None = None  # the operator who moved it; None when the bill run made it


class Bill(BaseModel):
    """A provider's bill (§7.6 [R49]): generated (in review), reviewed and sent to the provider, then paid
    after the payment approval; the provider is told at each step (bill_status)."""

    bill_id: str
    kind: str  # basic | performance
    provider_id: str
    period: str  # 202611 (month) or 2026Q4
    fee_tax_rate: Money
    entry_ids: list[str]
    net_earnings: Money
    amount: Money
    currency: str = "CNY"
    created_at: AwareDatetime
    invoice: Invoice | None = None
    state: BillState = "review"
    history: list[BillStep] = Field(default_factory=list)
    version: int = 0


class BillRun(BaseModel):
    """A scheduled bill run that is done (bill_runs.py): `basic:<yyyymm>` or `performance:<yyyy>Q<n>`."""

    run_id: str
    providers: int
    at: AwareDatetime


def month_bounds(period: str) -> tuple[datetime, datetime]:
    try:
        year, month = int(period[:4]), int(period[4:])
        start = datetime(year, month, 1, tzinfo=BEIJING)  # Beijing months, as in orders (§4.3)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BEIJING)
    except ValueError as exc:
        raise InvalidInput("a month is written yyyymm, e.g. 202611", field="period") from exc
    return start, end


def quarter_bounds(period: str) -> tuple[datetime, datetime]:
    if len(period) != 6 or period[4] != "Q" or period[5] not in "1234" or not period[:4].isdigit():
        raise InvalidInput("a quarter is written yyyyQn, e.g. 2026Q4", field="period")
    year, q = int(period[:4]), int(period[5])
    if year < 1:
        raise InvalidInput("a quarter is written yyyyQn, e.g. 2026Q4", field="period")
    start = datetime(year, 3 * q - 2, 1, tzinfo=BEIJING)
    return start, month_bounds(f"{year}{3 * q:02d}")[1]


def _by_rate(entries: list[LedgerEntry]) -> dict[Decimal, list[LedgerEntry]]:
    groups: dict[Decimal, list[LedgerEntry]] = defaultdict(list)
    for e in entries:
        groups[e.fee_tax_rate].append(e)
    return groups


def basic_bills(provider_id: str, period: str, entries: list[LedgerEntry], now: datetime) -> list[Bill]:
    """Unbilled entries up to the end of the month, one bill per tax rate."""
    _, end = month_bounds(period)
    due = [e for e in entries if e.bill_id is None and e.at < end and e.provider_id == provider_id]
    bills = []
    for tax, group in sorted(_by_rate(due).items()):
        bill = _bill("basic", provider_id, period, tax, group, None, now)
        for e in group:
            e.bill_id = bill.bill_id
        bills.append(bill)
    return bills


def performance_bills(
    provider_id: str, period: str, entries: list[LedgerEntry], rate: Decimal, now: datetime
) -> list[Bill]:
    start, end = quarter_bounds(period)
    due = [e for e in entries if start <= e.at < end and e.provider_id == provider_id]
    return [
        _bill("performance", provider_id, period, tax, group, rate, now)
        for tax, group in sorted(_by_rate(due).items())
    ]


def _bill(
    kind: str,
    provider_id: str,
    period: str,
    tax: Decimal,
    group: list[LedgerEntry],
    incentive: Decimal | None,
    now: datetime,
) -> Bill:
    """The bill of the entries of one tax rate: their net earnings, or the incentive rate's share of them."""
    net = sum((e.amount for e in group), Decimal("0.00"))
    return Bill(
        kind=kind,
        provider_id=provider_id,
        period=period,
        bill_id=f"{kind}:{provider_id}:{period}:{tax}",
        fee_tax_rate=tax,
        entry_ids=[e.entry_id for e in group],
        net_earnings=net,
        amount=net if incentive is None else cents(net * incentive),
        currency=group[0].currency,
        created_at=now,
        history=[BillStep(state="review", at=now)],
    )


def move(bill: Bill, to: BillState, operator: str, now: datetime) -> None:
    """§7.6: review → sent → paid, one step at a time; anything else is refused."""
    if NEXT_STATE.get(bill.state) != to:
        raise DomainError(
            f"bill {bill.bill_id} is {bill.state}; it cannot be {to} now (review → sent → paid)",
            field="state",
        )
    bill.state = to
    bill.history.append(BillStep(state=to, at=now, by=operator))


def status_notice(bill: Bill, correlation_id: str) -> NoticeRequested:
    """To the provider: its bill is in review, sent (§6.3 "bill sent") or paid (`bill:{id}:{state}`)."""
    return NoticeRequested(
        producer="partner",
        correlation_id=correlation_id,
        payload=NoticeRequestedPayload(
            notice_id=f"bill:{bill.bill_id}:{bill.state}",
            kind=NoticeKind.BILL_STATUS,
            recipients=[NoticeRecipient(role=AccountRole.PROVIDER, account_id=bill.provider_id)],
            subject_id=bill.bill_id,
            params={
                "bill_id": bill.bill_id,
                "kind": bill.kind,
                "period": bill.period,
                "state": bill.state,
                "status": bill.state,  # the word the text shows
                "amount": str(bill.amount),
                "currency": bill.currency,
                "fee_tax_rate": str(bill.fee_tax_rate),
            },
        ),
    )


def record_invoice(bill: Bill, invoice_no: str, amount: Decimal, now: datetime) -> None:
    """§7.6: the provider invoices the bill's amount once it is sent; one invoice per bill."""
    if bill.invoice is not None:
        raise DomainError(f"bill {bill.bill_id} already has invoice {bill.invoice.invoice_no}")
    if cents(amount) != bill.amount:
        raise InvalidInput(f"the invoice must be for the bill's amount {bill.amount}", field="amount")
    bill.invoice = Invoice(invoice_no=invoice_no, amount=cents(amount), issued_at=now)
