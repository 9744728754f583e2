"""The provider programme, exclusive offers, joint-selling demands and bills (dossier §7.2–§7.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from services.partner import billing, programme
from services.partner.domain import LedgerEntry
from services.partner.programme import Demand, Offer, ProductTerms
from shared.platform.errors import DomainError, InvalidInput
from shared.workdays import BEIJING

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize("certs", [["Software"], ["service"], ["SI", "other"]])
def test_an_application_with_a_software_service_or_si_certification_is_accepted(certs: list[str]) -> None:
    assert programme.apply("A1", "acc", "ACME", certs).status == "pending"


def test_an_application_without_a_qualifying_certification_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        programme.apply("A1", "acc", "ACME", ["cloud_architect"])
    assert err.value.field == "certifications"


def test_approval_makes_an_active_provider_with_its_rights_and_cannot_be_repeated() -> None:
    app = programme.apply("A1", "acc", "ACME", ["software"])
    provider = programme.review(app, "op", True, "ok", NOW)
    assert provider is not None
    assert provider.status == "active"
    assert provider.provider_id == "acc"
    assert "product_basic_incentive" in provider.rights
    assert "dedicated_business_development_manager" in provider.rights
    assert app.status == "approved"
    assert app.reviewed_by == "op"
    with pytest.raises(DomainError):
        programme.review(app, "op", False, "", NOW)


def test_rejection_makes_no_provider() -> None:
    app = programme.apply("A1", "acc", "ACME", ["software"])
    assert programme.review(app, "op", False, "no", NOW) is None
    assert app.status == "rejected"


def terms(authorized: str | None = "0.15", partner: str | None = "0.20") -> ProductTerms:
    return ProductTerms(
        product_id="p1",
        merchant_id="m",
        share_ratio=D("0.1"),
        authorized_discount=D(authorized) if authorized else None,
        product_discount=D("0.30"),
        partner_discount=D(partner) if partner else None,
    )


def offer(discount: str, days: int = 30) -> Offer:
    return Offer(
        offer_id="O1",
        name="自拓优惠",
        issuer_id="prov",
        customer_account_id="buyer",
        product_ids=["p1"],
        discount=D(discount),
        valid_from=NOW,
        valid_until=NOW + timedelta(days=days),
        status="new",
    )


def test_an_offer_within_the_authorized_discount_takes_effect_for_that_customer_product_and_window() -> None:
    made = programme.make_offer(offer("0.10"), [terms()])
    assert made.status == "effective"
    assert made.usable("buyer", "p1", NOW + timedelta(days=1))
    assert not made.usable("someone-else", "p1", NOW + timedelta(days=1))
    assert not made.usable("buyer", "p2", NOW + timedelta(days=1))
    assert not made.usable("buyer", "p1", NOW + timedelta(days=31))


def test_an_offer_of_0_18_beyond_the_authorized_0_15_goes_to_manual_handling() -> None:
    made = programme.make_offer(offer("0.18"), [terms()])
    assert made.status == "manual_handling"
    assert not made.usable("buyer", "p1", NOW)


def test_an_offer_of_0_25_above_the_partner_discount_0_20_breaks_the_level_order() -> None:
    with pytest.raises(InvalidInput):
        programme.make_offer(offer("0.25"), [terms(authorized="0.5")])


def test_an_offer_whose_window_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput):
        programme.make_offer(offer("0.1", days=-1), [terms()])


def test_a_demand_goes_submitted_offered_won_and_wins_once() -> None:
    demand = Demand(
        demand_id="D1", provider_id="prov", merchant_id="m", customer_account_id="buyer", product_id="p1"
    )
    assert not demand.win("CS0")  # no offer yet
    demand.answer("O1")
    with pytest.raises(DomainError):
        demand.answer("O2")
    assert demand.win("CS1")
    assert demand.status == "won"
    assert demand.won_order_id == "CS1"
    assert not demand.win("CS2")


def entry(eid: str, amount: str, at: datetime, fee: str = "0.06") -> LedgerEntry:
    return LedgerEntry(
        entry_id=eid,
        provider_id="prov",
        order_id=eid,
        kind="commission",
        base=D("1"),
        ratio=D("0.1"),
        fee_tax_rate=D(fee),
        amount=D(amount),
        currency="CNY",
        at=at,
    )


def test_the_monthly_basic_bill_covers_the_month_and_earlier_unbilled_entries_per_tax_rate() -> None:
    entries = [
        entry("a", "10.00", datetime(2026, 10, 5, tzinfo=UTC)),
        entry("b", "20.00", datetime(2026, 11, 3, tzinfo=UTC)),
        entry("c", "-5.00", datetime(2026, 11, 9, tzinfo=UTC)),
        entry("d", "7.00", datetime(2026, 11, 9, tzinfo=UTC), fee="0.03"),
        entry("e", "99.00", datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    bills = billing.basic_bills("prov", "202611", entries, NOW)
    assert [(b.fee_tax_rate, b.amount, b.entry_ids) for b in bills] == [
        (D("0.03"), D("7.00"), ["d"]),
        (D("0.06"), D("25.00"), ["a", "b", "c"]),
    ]
    assert bills[1].bill_id == "basic:prov:202611:0.06"
    assert entries[4].bill_id is None  # December is not in November's bill
    assert billing.basic_bills("prov", "202611", entries, NOW) == []  # nothing billed twice


def test_the_quarterly_performance_bill_is_the_rate_times_the_quarter_net_earnings() -> None:
    entries = [
        entry("a", "100.00", datetime(2026, 10, 5, tzinfo=UTC)),
        entry("b", "33.33", datetime(2026, 12, 31, tzinfo=UTC)),
        entry("c", "500.00", datetime(2026, 9, 30, tzinfo=UTC)),
    ]
    [bill] = billing.performance_bills("prov", "2026Q4", entries, D("0.05"), NOW)
    assert bill.net_earnings == D("133.33")
    assert bill.amount == D("6.67")
    assert bill.entry_ids == ["a", "b"]


@pytest.mark.parametrize("period", ["2026-11", "202613x", "2026Q5", "0000Q1", "999912", "000001"])
def test_malformed_periods_are_refused(period: str) -> None:
    with pytest.raises(InvalidInput):
        billing.performance_bills(
            "prov", period, [], D("0.05"), NOW
        ) if "Q" in period else billing.basic_bills("prov", period, [], NOW)


def test_an_invoice_must_match_the_bill_and_is_recorded_once() -> None:
    [bill] = billing.basic_bills("prov", "202611", [entry("a", "10.00", NOW)], NOW)
    with pytest.raises(InvalidInput):
        billing.record_invoice(bill, "INV-1", D("9.99"), NOW)
    billing.record_invoice(bill, "INV-1", D("10.00"), NOW)
    assert bill.invoice is not None
    assert bill.invoice.invoice_no == "INV-1"
    with pytest.raises(DomainError):
        billing.record_invoice(bill, "INV-2", D("10.00"), NOW)


@pytest.mark.parametrize(
    ("now", "month", "quarter"),
    [
        (datetime(2026, 11, 3, tzinfo=UTC), "202610", "2026Q3"),  # the 3rd: October is billed
        (datetime(2026, 11, 2, 23, 59, tzinfo=BEIJING), "202609", "2026Q3"),  # the 2nd: still September's
        # 16:00 UTC on the 2nd is midnight of the 3rd in Beijing: October is billed (Beijing months, §4.3)
        (datetime(2026, 11, 2, 16, 0, tzinfo=UTC), "202610", "2026Q3"),
        (datetime(2026, 11, 2, 15, 59, tzinfo=UTC), "202609", "2026Q3"),
        (datetime(2027, 1, 3, tzinfo=UTC), "202612", "2026Q4"),
        (datetime(2027, 1, 1, tzinfo=UTC), "202611", "2026Q3"),
        (datetime(2026, 2, 10, tzinfo=UTC), "202601", "2025Q4"),
    ],
    ids=[
        "nov-3rd-bills-october",
        "nov-2nd-still-september",
        "beijing-midnight-of-the-3rd",
        "one-minute-before-it",
        "jan-3rd-bills-december-and-q4",
        "jan-1st-still-november",
        "feb-bills-january-q4-of-last-year",
    ],
)
def test_the_bill_run_day_is_the_3rd_of_the_next_month(now: datetime, month: str, quarter: str) -> None:
    from services.partner.bill_runs import due_month, due_quarter

    assert due_month(now) == month
    assert due_quarter(now) == quarter


def test_months_and_quarters_are_beijing_months() -> None:
    """Dossier §4.3/§7.6, as orders bills: 23:00 UTC on 30 November is already 1 December in Beijing."""
    start, end = billing.month_bounds("202611")
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=BEIJING), datetime(2026, 12, 1, tzinfo=BEIJING))
    assert datetime(2026, 11, 30, 15, 59, tzinfo=UTC) < end <= datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    q_start, q_end = billing.quarter_bounds("2026Q4")
    assert (q_start, q_end) == (datetime(2026, 10, 1, tzinfo=BEIJING), datetime(2027, 1, 1, tzinfo=BEIJING))


@pytest.mark.parametrize("status", ["effective", "rejected", "withdrawn"])
def test_only_an_offer_in_manual_handling_is_decided(status: str) -> None:
    offer = Offer(
        offer_id="OF-1",
        name="n",
        issuer_id="prov",
        customer_account_id="c",
        product_ids=["p"],
        discount=D("0.2"),
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        status=status,
    )
    for decide in (
        lambda: offer.approve("op", "", NOW),
        lambda: offer.reject("op", "no", NOW),
        lambda: offer.withdraw("prov", NOW),
    ):
        with pytest.raises(DomainError) as refused:
            decide()
        assert refused.value.rule == "offer_not_in_manual_handling"
    assert offer.status == status
    assert offer.decided_by is None
