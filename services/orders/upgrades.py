"""Upgrades (升级) between SKUs of a spec, prorated over the days left (dossier §8.2.6). Pure.

§8.2.6: "Fee = new price × remaining days × discount − old price × remaining days × discount". The prices
there are daily prices ([I]: the formula multiplies them by days; a period's price is spread evenly over its
days), so a period price P of a period of D days is P / D a day. Remaining days are whole days from the
upgrade's payment to the instance's expiry, a started day counting as a day left ([I]: the seed does not
say how a part day is counted). The fee is rounded to the cent, half up, once, at the end, and is never
negative: an upgrade to a cheaper SKU is not an upgrade (§8.2.6: "upgrade rules become invalid if …
prices invert").
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from shared.platform.errors import DomainError

CENT = Decimal("0.01")
DAYS_PER_MONTH = 30  # [I] a month's period counted as 30 days when a period is given in months


def remaining_days(paid_at: datetime, expires_at: datetime) -> int:
    """Whole days left of the instance's period; a started day counts."""
    seconds = (expires_at - paid_at).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def period_days(period_months: int) -> int:
    return period_months * DAYS_PER_MONTH


def upgrade_fee(
    old_period_price: Decimal,
    new_period_price: Decimal,
    days_in_period: int,
    days_left: int,
    discount: Decimal = Decimal(1),
) -> Decimal:
    """§8.2.6: new daily price × remaining days × discount − old daily price × remaining days × discount."""
    if days_in_period <= 0:
        raise DomainError("an upgrade needs the period's length in days", field="period_months")
    if new_period_price < old_period_price:
        raise DomainError(
            "the new SKU is cheaper than the old one: prices inverted, not an upgrade (dossier §8.2.6)",
            field="amount",
        )
    if not Decimal(0) < discount <= Decimal(1):
        raise DomainError("a discount is a factor in (0, 1]", field="discount")
    days = Decimal(max(0, min(days_left, days_in_period)))
    new_daily, old_daily = new_period_price / days_in_period, old_period_price / days_in_period
    fee = new_daily * days * discount - old_daily * days * discount
    return fee.quantize(CENT, ROUND_HALF_UP)
