"""Incentive scenarios, the §7.4 settlement formulas, refunds and the §7.5 discount rules, with worked examples."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from services.partner.domain import BoundOrder, accrue, refund
from services.partner.incentives import (
    OPERATIONS_BASE,
    Scenario,
    check_levels,
    floor_price_discount,
    offer_takes_effect,
    reversal,
    scenario_for,
    share_by_price,
)
from shared.platform.errors import InvalidInput

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "reseller", "column", "expected"),
    [
        ("prov-1", "prov-1", None, Scenario.PARTNER_SALES_INCENTIVE),
        ("prov-1", "prov-2", None, Scenario.PROVIDER_REVENUE_SHARE),
        ("prov-1", None, None, Scenario.PROVIDER_REVENUE_SHARE),
        ("prov-1", "prov-1", OPERATIONS_BASE, Scenario.OPERATIONS_BASE),
        ("prov-1", "prov-2", OPERATIONS_BASE, Scenario.OPERATIONS_BASE),
        ("prov-1", "prov-1", "other_column", Scenario.PARTNER_SALES_INCENTIVE),
    ],
    ids=[
        "own-reseller-is-sales-incentive",
        "other-reseller-is-revenue-share",
        "no-reseller-is-revenue-share",
        "operations-base-column-wins",
        "operations-base-for-any-provider",
        "other-column-falls-back",
    ],
)
def test_the_scenario(provider: str, reseller: str | None, column: str | None, expected: Scenario) -> None:
    assert scenario_for(provider, reseller, column) is expected


@pytest.mark.parametrize(
    ("base", "ratio", "vat", "fee", "expected"),
    [
        ("1000.00", "0.10", "0.06", "0.06", "100.00"),  # equal rates cancel out
        ("1000.00", "0.10", "0.13", "0.06", "93.81"),  # 100 × 1.06 / 1.13 = 93.805… → 93.81
        ("1000.00", "0.10", "0.06", "0.00", "94.34"),  # 100 / 1.06 = 94.339… → 94.34
        ("1000.00", "0.10", "0.06", "0.03", "97.17"),  # 100 × 1.03 / 1.06 = 97.169… → 97.17
        ("10.01", "0.5", "0.06", "0.06", "5.01"),  # 5.005 half-up, not lost to a divide-then-multiply error
        ("1234.56", "0.15", "0.00", "0.00", "185.18"),
    ],
)
def test_share_by_transaction_price(base: str, ratio: str, vat: str, fee: str, expected: str) -> None:
    assert share_by_price(D(base), D(ratio), D(vat), D(fee)) == D(expected)


def test_floor_price_model_1200_minus_1000_at_20pct_vat6_fee3_is_38_87() -> (
    None
):  # 40 × 1.03 / 1.06 = 38.867…
    assert floor_price_discount(D("1200"), D("1000"), D("0.2"), D("0.06"), D("0.03")) == D("38.87")


def test_floor_price_model_at_or_below_the_floor_earns_0_00() -> None:
    assert floor_price_discount(D("900"), D("1000"), D("0.2"), D("0.06"), D("0.03")) == D("0.00")


@pytest.mark.parametrize(
    ("earned", "paid", "refunded", "expected"),
    [
        ("185.18", "1234.56", "1234.56", "-185.18"),  # full refund: the exact earning, no rounding drift
        ("100.00", "1000.00", "250.00", "-25.00"),  # a quarter refunded reverses a quarter
        ("10.01", "100.00", "33.33", "-3.34"),  # 3.336333 → 3.34
        ("50.00", "500.00", "900.00", "-50.00"),  # more than paid is capped at the earning
    ],
)
def test_refund_reversal(earned: str, paid: str, refunded: str, expected: str) -> None:
    assert reversal(D(earned), D(paid), D(refunded)) == D(expected)


def test_a_refund_after_accrual_writes_a_negative_entry_of_the_whole_earning() -> None:
    order = BoundOrder(
        order_id="CS9", provider_id="prov", amount=D("1288.00"), share_ratio=D("0.12"), accepted_at=NOW
    )
    accrue(order, NOW)
    entry = refund(order, "R1", D("1288.00"), NOW)
    assert entry is not None
    assert entry.amount == D("-154.56")
    assert entry.kind == "reversal"
    assert entry.entry_id == "reversal:CS9:R1"


def test_a_refund_before_acceptance_means_the_order_never_accrues() -> None:
    order = BoundOrder(order_id="CS8", provider_id="prov", amount=D("100"), share_ratio=D("0.1"))
    assert refund(order, "R1", D("100"), NOW) is None
    order.accepted_at = NOW
    assert not order.ready_to_accrue()


def test_accrual_uses_the_order_tax_rates_vat_13_fee_6_on_1000_at_10pct_is_93_81() -> None:
    order = BoundOrder(
        order_id="CS7",
        provider_id="prov",
        amount=D("1000.00"),
        share_ratio=D("0.10"),
        vat_rate=D("0.13"),
        fee_tax_rate=D("0.06"),
        accepted_at=NOW,
        scenario=Scenario.PARTNER_SALES_INCENTIVE,
    )
    entry = accrue(order, NOW)
    assert entry.amount == D("93.81")
    assert entry.scenario is Scenario.PARTNER_SALES_INCENTIVE


@pytest.mark.parametrize(
    ("product", "partner", "customer"),
    [
        ("0.30", "0.20", "0.10"),
        ("0.30", None, "0.10"),
        (None, "0.20", "0.10"),
        ("0.30", "0.20", None),
        (None, None, "0.10"),
    ],
)
def test_discount_levels_product_over_partner_over_customer_pass(
    product: str | None, partner: str | None, customer: str | None
) -> None:
    check_levels(*(D(v) if v else None for v in (product, partner, customer)))


@pytest.mark.parametrize(
    ("product", "partner", "customer", "field"),
    [
        ("0.20", "0.30", "0.10", "partner_discount"),
        ("0.30", "0.20", "0.20", "customer_discount"),
        ("0.10", None, "0.15", "customer_discount"),
        ("0.30", "0.30", None, "partner_discount"),
    ],
)
def test_discount_levels_out_of_order_are_refused(
    product: str, partner: str | None, customer: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        check_levels(*(D(v) if v else None for v in (product, partner, customer)))
    assert err.value.field == field


@pytest.mark.parametrize(
    ("discount", "authorized", "effective"),
    [("0.10", "0.15", True), ("0.15", "0.15", True), ("0.16", "0.15", False), ("0.05", None, False)],
    ids=[
        "within-takes-effect",
        "at-the-limit-takes-effect",
        "beyond-goes-to-manual-handling",
        "nothing-authorized-goes-to-manual-handling",
    ],
)
def test_offer_against_the_authorized_discount(
    discount: str, authorized: str | None, effective: bool
) -> None:
    assert offer_takes_effect(D(discount), D(authorized) if authorized else None) is effective


def test_accrual_under_the_floor_price_model_1200_paid_floor_1000_at_20pct_vat6_fee3_is_38_87() -> None:
    order = BoundOrder(
        order_id="CS6",
        provider_id="prov",
        amount=D("1200.00"),
        share_ratio=D("0.2"),
        floor_price=D("1000.00"),
        vat_rate=D("0.06"),
        fee_tax_rate=D("0.03"),
        accepted_at=NOW,
    )
    assert accrue(order, NOW).amount == D("38.87")


def test_two_partial_refunds_of_600_on_1000_reverse_60_then_only_the_remaining_40() -> None:
    order = BoundOrder(
        order_id="CS5", provider_id="prov", amount=D("1000.00"), share_ratio=D("0.1"), accepted_at=NOW
    )
    accrue(order, NOW)
    first, second = refund(order, "R1", D("600.00"), NOW), refund(order, "R2", D("600.00"), NOW)
    assert first is not None
    assert second is not None
    assert (first.amount, second.amount) == (D("-60.00"), D("-40.00"))
