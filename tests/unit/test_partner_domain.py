"""Provider commission: half-up rounding at the cent, and an earning that accrues exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.partner.domain import BoundOrder, accrue, commission

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_1234_56_at_15_percent_is_185_18() -> None:  # 185.184
    assert commission(Decimal("1234.56"), Decimal("0.15")) == Decimal("185.18")


def test_10_01_at_50_percent_is_5_01_half_up_not_half_even() -> None:  # 5.005
    assert commission(Decimal("10.01"), Decimal("0.5")) == Decimal("5.01")


def test_0_05_at_50_percent_is_0_03() -> None:  # 0.025
    assert commission(Decimal("0.05"), Decimal("0.5")) == Decimal("0.03")


def test_100_at_12_5_percent_is_12_50() -> None:
    result = commission(Decimal("100"), Decimal("0.125"))
    assert result == Decimal("12.50")
    assert str(result) == "12.50"  # always two decimals


def test_99_99_at_33_33_percent_is_33_33() -> None:  # 33.326667
    assert commission(Decimal("99.99"), Decimal("0.3333")) == Decimal("33.33")


def test_0_01_at_10_percent_is_0_00() -> None:  # 0.001
    assert commission(Decimal("0.01"), Decimal("0.10")) == Decimal("0.00")


def test_anything_at_zero_percent_is_0_00() -> None:
    assert commission(Decimal("500.00"), Decimal("0")) == Decimal("0.00")


def known() -> BoundOrder:
    return BoundOrder(
        order_id="CS1",
        provider_id="prov-1",
        amount=Decimal("1234.56"),
        share_ratio=Decimal("0.15"),
        accepted_at=NOW,
    )


def test_ready_to_accrue_once_every_fact_is_known() -> None:
    assert known().ready_to_accrue()


@pytest.mark.parametrize("unknown", ["provider_id", "amount", "share_ratio", "accepted_at"])
def test_not_ready_while_a_fact_is_missing(unknown: str) -> None:
    assert not known().model_copy(update={unknown: None}).ready_to_accrue()


def test_accrue_writes_the_commission_and_marks_the_order() -> None:
    order = known()

    entry = accrue(order, NOW)

    assert entry.amount == Decimal("185.18")
    assert entry.base == Decimal("1234.56")
    assert entry.ratio == Decimal("0.15")
    assert entry.provider_id == "prov-1"
    assert entry.entry_id == "commission:CS1"
    assert entry.kind == "commission"
    assert entry.currency == "CNY"
    assert order.accrued
    assert not order.ready_to_accrue()


def test_the_accrued_flag_survives_storage_so_the_order_never_accrues_again() -> None:
    order = known()
    accrue(order, NOW)

    stored = BoundOrder.model_validate(order.model_dump())

    assert stored.accrued
    assert not stored.ready_to_accrue()
    assert stored.amount == Decimal("1234.56")
