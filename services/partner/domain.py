"""Provider earnings: pure rules over Decimal money.

The revenue-share model (dossier §7.4): earning = share base × the product's provider share ratio. The tax
terms of the full settlement formula and the other incentive scenarios come with the partner programme; here
the share base is the paid amount. Money is rounded half-up to the cent, once, at the end.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import AwareDatetime, BaseModel

from shared.platform.errors import DomainError
from shared.schemas import Money

CENT = Decimal("0.01")


class BoundOrder(BaseModel):
    """What the partner service knows of an order: its provider binding, and whether it was accepted.

    order.paid and acceptance.done travel on different topics, so either can arrive first; the earning
    accrues when both are known, exactly once. An unsupervised order (image, API, instant-use SaaS) has no
    acceptance: its supervision status is "not applicable" and it counts as accepted when paid (§4.3)."""

    order_id: str
    provider_id: str | None = None
    amount: Money | None = None
    currency: str = "CNY"
    share_ratio: Money | None = None
    accepted_at: AwareDatetime | None = None
    accrued: bool = False
    version: int = 0

    def ready_to_accrue(self) -> bool:
        return (not self.accrued and self.accepted_at is not None and self.provider_id is not None
                and self.amount is not None and self.share_ratio is not None)


class LedgerEntry(BaseModel):
    entry_id: str
    provider_id: str
    order_id: str
    kind: str  # "commission"
    base: Money
    ratio: Money
    amount: Money
    currency: str
    at: AwareDatetime


def commission(base: Decimal, ratio: Decimal) -> Decimal:
    return (base * ratio).quantize(CENT, rounding=ROUND_HALF_UP)


class NotReady(DomainError):
    code = "not_ready_to_accrue"


def accrue(order: BoundOrder, now: datetime) -> LedgerEntry:
    if not order.ready_to_accrue() or order.provider_id is None or order.amount is None or order.share_ratio is None:
        raise NotReady(f"order {order.order_id} has no earning to accrue (already accrued, or facts missing)")
    order.accrued = True
    return LedgerEntry(entry_id=f"commission:{order.order_id}", provider_id=order.provider_id,
                       order_id=order.order_id, kind="commission", base=order.amount, ratio=order.share_ratio,
                       amount=commission(order.amount, order.share_ratio), currency=order.currency, at=now)
