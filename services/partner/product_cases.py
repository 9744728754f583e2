"""The measures partner takes on a SaaS product whose merchant interfaces fail (dossier §8.2.2, §8.2.8), in
the unit of work of the fact that decided them: the product's health is saved, and `product.frozen` (orders
applies it to its catalogue: no new purchase) and the merchant's notice go to the outbox with it."""

from __future__ import annotations

from datetime import date, datetime

from services.partner.notices import notice
from services.partner.product_health import Decision, ProductHealth
from services.partner.store import PartnerUnitOfWork
from shared.schemas import AccountRole, NoticeKind, ProductFrozen, ProductFrozenPayload

KINDS = {"frozen": NoticeKind.PRODUCT_FROZEN, "delisted": NoticeKind.PRODUCT_DELISTED}


async def health_of(uow: PartnerUnitOfWork, product_id: str, merchant_id: str) -> tuple[ProductHealth, bool]:
    found = await uow.product_health.get(product_id)
    return (
        (found, False)
        if found is not None
        else (ProductHealth(product_id=product_id, merchant_id=merchant_id), True)
    )


async def _save(uow: PartnerUnitOfWork, health: ProductHealth, new: bool) -> None:
    await (uow.product_health.add(health) if new else uow.product_health.save(health))


def _decided(uow: PartnerUnitOfWork, health: ProductHealth, decision: Decision, now: datetime) -> None:
    key = f"product:{health.product_id}:{decision.measure}"
    uow.emit(
        ProductFrozen(
            producer="partner",
            correlation_id=key,
            payload=ProductFrozenPayload(
                product_id=health.product_id,
                merchant_account_id=health.merchant_id,
                measure=decision.measure,
                cause=decision.cause,
                detail=decision.detail,
                decided_at=now,
            ),
        ),
        notice(
            KINDS[decision.measure],
            key,
            health.product_id,
            {AccountRole.MERCHANT: health.merchant_id},
            {
                "product_id": health.product_id,
                "product": health.product_id,
                "cause": decision.cause,
                "reason": decision.detail,
            },
        ),
    )


async def order_failed(
    uow: PartnerUnitOfWork, product_id: str, merchant_id: str, order_id: str, now: datetime
) -> Decision | None:
    """A new purchase of the product finally failed to open (§8.2.2): counted in its Beijing month."""
    health, new = await health_of(uow, product_id, merchant_id)
    decision = health.order_failed(order_id, now)
    await _save(uow, health, new)
    if decision is not None:
        _decided(uow, health, decision, now)
    return decision


async def dial_tested(
    uow: PartnerUnitOfWork,
    product_id: str,
    merchant_id: str,
    day: date,
    slot: str,
    passed: bool,
    now: datetime,
) -> Decision | None:
    """One dial test's result (§8.2.8); the 5th consecutive failing day freezes trading."""
    health, new = await health_of(uow, product_id, merchant_id)
    decision = health.dial_tested(day, slot, passed)
    await _save(uow, health, new)
    if decision is not None:
        _decided(uow, health, decision, now)
    return decision
