"""Incentive scenarios, settlement formulas and discount rules (dossier §7.4, §7.5) — pure, Decimal money.

Rounding: every formula keeps full Decimal precision, multiplies before it divides (so a tax factor that
cancels out leaves the exact product), and rounds half-up to the cent once, at the end.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from shared.platform.errors import InvalidInput

CENT = Decimal("0.01")
ONE = Decimal(1)
OPERATIONS_BASE = "partner_operations_base"  # 伙伴运营基地: the registration column of scenario 3


class Scenario(StrEnum):
    """Which incentive policy an accepted order's earning falls under (dossier §7.4)."""

    PARTNER_SALES_INCENTIVE = "partner_sales_incentive"  # 华为云伙伴销售激励政策
    PROVIDER_REVENUE_SHARE = "provider_revenue_share"  # 云商店客户服务商分成政策
    OPERATIONS_BASE = "operations_base"  # 伙伴运营基地政策


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def scenario_for(
    order_provider: str, customer_reseller: str | None, registration_column: str | None
) -> Scenario:
    """§7.4: the registration column wins (scenario 3 is defined by it alone); otherwise scenario 1 when the
    order's provider is the customer's associated reseller, else scenario 2 ([I]: the dossier gives no
    conditions for scenario 2; we read it as "every other provider-bound order")."""
    if registration_column == OPERATIONS_BASE:
        return Scenario.OPERATIONS_BASE
    if customer_reseller is not None and customer_reseller == order_provider:
        return Scenario.PARTNER_SALES_INCENTIVE
    return Scenario.PROVIDER_REVENUE_SHARE


def share_by_price(base: Decimal, ratio: Decimal, vat: Decimal, fee_tax: Decimal) -> Decimal:
    """§7.4 share-by-transaction-price: base × ratio ÷ (1 + VAT) × (1 + service-fee tax), tax included."""
    return cents(base * ratio * (ONE + fee_tax) / (ONE + vat))


def floor_price_discount(
    price: Decimal, floor: Decimal, ratio: Decimal, vat: Decimal, fee_tax: Decimal
) -> Decimal:
    """§7.4 floor-price discount: (transaction price − provider floor price) × ratio ÷ (1 + VAT) × (1 + fee
    tax). A price at or below the floor earns nothing ([I]: never a negative earning)."""
    return cents(max(price - floor, Decimal(0)) * ratio * (ONE + fee_tax) / (ONE + vat))


def reversal(earned: Decimal, paid: Decimal, refunded: Decimal) -> Decimal:
    """The negative entry a refund writes: the whole earning for a full refund, else the refunded share of it
    (half-up to the cent) — §7.6: refunds are deducted from the provider's settlement."""
    if paid <= 0 or refunded >= paid:
        return -earned
    return -cents(earned * refunded / paid)


def check_levels(product: Decimal | None, partner: Decimal | None, customer: Decimal | None) -> None:
    """§7.5: product-level discount > partner-level > customer-level, for the levels that are set."""
    levels = [
        (n, v)
        for n, v in (("product", product), ("partner", partner), ("customer", customer))
        if v is not None
    ]
    for (upper, high), (lower, low) in itertools.pairwise(levels):
        if not high > low:
            raise InvalidInput(
                f"the {lower} discount {low} must be below the {upper} discount {high} "
                "(product > partner > customer)",
                field=f"{lower}_discount",
            )


def offer_takes_effect(discount: Decimal, authorized: Decimal | None) -> bool:
    """§7.5: an exclusive offer above the authorized discount goes to manual handling (转人工处理) and does
    not take effect. No authorized discount on record means nothing is authorized."""
    return authorized is not None and discount <= authorized
