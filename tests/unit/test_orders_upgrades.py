"""Upgrade proration (dossier §8.2.6): what an upgrade order costs for the days left of the order it upgrades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.upgrades import remaining_days, upgrade_fee
from shared.platform.errors import DomainError

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def test_an_upgrade_costs_the_price_difference_for_the_days_left() -> None:
    # 300 → 600 a 30-day period: 10 → 20 a day; 10 days left: 20 × 10 − 10 × 10 = 100
    assert upgrade_fee(Decimal("300"), Decimal("600"), 30, 10) == Decimal("100.00")


def test_the_discount_applies_to_both_prices() -> None:
    # (20 × 10 × 0.8) − (10 × 10 × 0.8) = 80
    assert upgrade_fee(Decimal("300"), Decimal("600"), 30, 10, Decimal("0.8")) == Decimal("80.00")


def test_the_fee_is_rounded_once_to_the_cent() -> None:
    # a year of 365 days: (1000 − 500) / 365 × 100 = 136.986… → 136.99
    assert upgrade_fee(Decimal("500"), Decimal("1000"), 365, 100) == Decimal("136.99")


def test_no_days_left_costs_nothing_and_days_beyond_the_period_are_capped() -> None:
    assert upgrade_fee(Decimal("300"), Decimal("600"), 30, 0) == Decimal("0.00")
    assert upgrade_fee(Decimal("300"), Decimal("600"), 30, 45) == Decimal("300.00")


def test_inverted_prices_are_not_an_upgrade() -> None:
    with pytest.raises(DomainError, match="inverted"):
        upgrade_fee(Decimal("600"), Decimal("300"), 30, 10)


def test_a_started_day_counts_as_a_day_left() -> None:
    assert remaining_days(NOW, NOW + timedelta(days=9, hours=1)) == 10
    assert remaining_days(NOW, NOW + timedelta(days=10)) == 10
    assert remaining_days(NOW, NOW - timedelta(days=1)) == 0
