"""Provider earnings: pure rules over Decimal money.

An accepted, provider-bound order earns under one of three scenarios (dossier §7.4, see incentives.py) with
the share-by-transaction-price formula: base × ratio ÷ (1 + VAT) × (1 + service-fee tax), rounded half-up to
the cent once, at the end. The share base is the paid amount (§7.4: "for Huawei self-service products the
share base is the order cash (paid) amount"); a product whose terms name a provider floor price uses the
floor-price discount model instead: (paid − floor) × ratio ÷ (1 + VAT) × (1 + service-fee tax).
A refund writes a negative entry; nothing is ever deleted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel

from services.partner.incentives import Scenario, cents, floor_price_discount, reversal, share_by_price
from shared.platform.errors import DomainError
from shared.schemas import Money

CENT = Decimal("0.01")
DEFAULT_TAX = Decimal("0.06")


class BoundOrder(BaseModel):
    """What the partner service knows of an order: its provider binding, and whether it was accepted.

    order.paid and acceptance.done travel on different topics, so either can arrive first; the earning
    accrues when both are known, exactly once. An unsupervised order (image, API, instant-use SaaS) has no
    acceptance: its supervision status is "not applicable" and it counts as accepted when paid (§4.3)."""

    order_id: str
    provider_id: str | None = None
    customer_id: str | None = None
    product_id: str | None = None
    amount: Money | None = None
    currency: str = "CNY"
    share_ratio: Money | None = None
    floor_price: Money | None = None  # the provider's floor price: the floor-price discount model applies
    vat_rate: Money = DEFAULT_TAX
    fee_tax_rate: Money = DEFAULT_TAX
    scenario: Scenario | None = None
    accepted_at: AwareDatetime | None = None
    accrued: bool = False
    earned: Money | None = None
    refunded: Money = Decimal("0.00")
    reversed_: Money = Decimal("0.00")  # what refunds have reversed so far (never more than the earning)
    cancelled: bool = False  # cancelled / refunded before acceptance: never accrues
    version: int = 0

    def ready_to_accrue(self) -> bool:
        return (
            not self.accrued
            and not self.cancelled
            and self.accepted_at is not None
            and self.provider_id is not None
            and self.amount is not None
            and self.share_ratio is not None
        )


class PaidOrder(BaseModel):
    """That an order was paid: every order.paid leaves one, provider or not, so an event of another topic
    about the order (a refund, a validity end) can tell "order.paid is still on its way" (it waits) from
    "partner has nothing to do for this order" (it is done)."""

    order_id: str
    paid_at: AwareDatetime
    version: int = 0


class LedgerEntry(BaseModel):
    entry_id: str
    provider_id: str
    order_id: str
    kind: str  # "commission" | "reversal"
    scenario: Scenario = Scenario.PROVIDER_REVENUE_SHARE
    base: Money
    ratio: Money
    vat_rate: Money = DEFAULT_TAX
    fee_tax_rate: Money = DEFAULT_TAX
    amount: Money
    currency: str
    at: AwareDatetime
    bill_id: str | None = None  # the monthly basic-incentive bill that settled it


def commission(base: Decimal, ratio: Decimal) -> Decimal:
    """The tax-neutral case (equal VAT and service-fee rates): base × ratio, half-up to the cent."""
    return cents(base * ratio)


class NotReady(DomainError):
    code = "not_ready_to_accrue"


def accrue(order: BoundOrder, now: datetime) -> LedgerEntry:
    if (
        not order.ready_to_accrue()
        or order.provider_id is None
        or order.amount is None
        or order.share_ratio is None
    ):
        raise NotReady(f"order {order.order_id} has no earning to accrue (already accrued, or facts missing)")
    order.accrued = True
    amount = (
        share_by_price(order.amount, order.share_ratio, order.vat_rate, order.fee_tax_rate)
        if order.floor_price is None
        else floor_price_discount(
            order.amount, order.floor_price, order.share_ratio, order.vat_rate, order.fee_tax_rate
        )
    )
    order.earned = amount
    return _entry(order, order.provider_id, "commission", order.amount, order.share_ratio, amount, now)


def refund(order: BoundOrder, refund_id: str, refunded: Decimal, now: datetime) -> LedgerEntry | None:
    """An approved refund: before accrual the order simply never accrues; after it, a negative entry reverses
    the refunded share of the earning (dossier §1.4 guarantee period, §7.6 refunds deducted)."""
    order.refunded += refunded
    if not order.accrued or order.earned is None or order.provider_id is None or order.amount is None:
        order.cancelled = True
        return None
    amount = max(reversal(order.earned, order.amount, refunded), -(order.earned - order.reversed_))
    order.reversed_ -= amount
    ratio = order.share_ratio or Decimal(0)
    return _entry(order, order.provider_id, "reversal", -refunded, ratio, amount, now, refund_id)


def _entry(
    order: BoundOrder,
    provider_id: str,
    kind: str,
    base: Decimal,
    ratio: Decimal,
    amount: Decimal,
    now: datetime,
    refund_id: str | None = None,
) -> LedgerEntry:
    """One of the order's ledger entries; its id (the kind, the order, the refund) books it once only."""
    return LedgerEntry(
        entry_id=f"{kind}:{order.order_id}" + (f":{refund_id}" if refund_id else ""),
        provider_id=provider_id,
        order_id=order.order_id,
        kind=kind,
        scenario=order.scenario or Scenario.PROVIDER_REVENUE_SHARE,
        base=base,
        ratio=ratio,
        vat_rate=order.vat_rate,
        fee_tax_rate=order.fee_tax_rate,
        amount=amount,
        currency=order.currency,
        at=now,
    )
