"""What the API shows, and to whom: each read loads through the read side (queries.py), then checks the caller
is one of the record's parties (or operations staff, where the dossier gives them the read). Nothing here is
public."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from services.partner.calls import MerchantCall
from services.partner.domain import LedgerEntry
from services.partner.lists import Page, check_limit, decode_cursor, encode_cursor
from services.partner.programme import Demand, Offer, ProductTerms, Provider, require_active
from services.partner.queries import PartnerQueries
from shared.platform.auth import Principal, require_party
from shared.platform.collection import Doc
from shared.platform.errors import Forbidden, NotFound
from shared.schemas import AccountRole, Money


class ProviderLedger(BaseModel):
    provider_id: str
    total: Money
    currency: str
    entries: list[LedgerEntry]


def ledger_of(provider_id: str, entries: list[LedgerEntry]) -> ProviderLedger:
    """A provider's live ledger, newest first (the marketplace itself only shows it monthly)."""
    entries = sorted(entries, key=lambda e: e.at, reverse=True)
    total = sum((e.amount for e in entries), start=Decimal("0.00"))
    return ProviderLedger(
        provider_id=provider_id,
        total=total,
        currency=entries[0].currency if entries else "CNY",
        entries=entries,
    )


async def ledger(q: PartnerQueries, caller: Principal, provider_id: str) -> ProviderLedger:
    """A provider's ledger: that provider, and operations staff (settlement is theirs, §7.6)."""
    require_party(caller, provider_id, what=f"provider {provider_id}'s ledger", operators=True)
    return ledger_of(provider_id, await q.ledger(provider_id))


async def statement(q: PartnerQueries, caller: Principal, provider_id: str) -> dict[str, Any]:
    require_party(caller, provider_id, what=f"provider {provider_id}'s statement", operators=True)
    bills, live = await q.bills(provider_id), ledger_of(provider_id, await q.ledger(provider_id))
    unbilled = sum((e.amount for e in live.entries if e.bill_id is None), Decimal("0.00"))
    billed = sum((b.amount for b in bills if b.kind == "basic"), Decimal("0.00"))
    return {
        "provider_id": provider_id,
        "bills": [b.model_dump(mode="json") for b in bills],
        "billed_basic": str(billed),
        "unbilled": str(unbilled),
        "ledger_total": str(live.total),
    }


async def provider(q: PartnerQueries, caller: Principal, provider_id: str) -> Provider:
    require_party(caller, provider_id, what=f"provider {provider_id}'s profile", operators=True)
    if (found := await q.provider(provider_id)) is None:
        raise NotFound(f"no provider {provider_id}")
    return found


async def terms(q: PartnerQueries, caller: Principal, product_id: str) -> ProductTerms:
    """§7.5: approved providers query a product's incentive strategy, authorized discount and share ratio;
    the product's merchant and operations staff see them too. Buyers do not (they carry the floor price)."""
    found = await q.terms(product_id)
    if found is not None and caller.role is AccountRole.PROVIDER:
        require_active(await q.provider(caller.account_id))
    if found is None:
        raise NotFound(f"no terms for product {product_id}")
    if (
        caller.role not in {AccountRole.PROVIDER, AccountRole.OPERATOR}
        and caller.account_id != found.merchant_id
    ):
        raise Forbidden(
            "a product's terms are for its merchant, approved providers and operators",
            rule="terms_readers_only",
        )
    return found


async def offer(q: PartnerQueries, caller: Principal, offer_id: str) -> Offer:
    found = await q.offer(offer_id)
    if found is None:
        raise NotFound(f"no offer {offer_id}")
    merchants = [t.merchant_id for pid in found.product_ids if (t := await q.terms(pid)) is not None]
    require_party(
        caller,
        found.issuer_id,
        found.provider_id,
        found.customer_account_id,
        *merchants,
        what=f"offer {offer_id}",
        operators=True,
    )
    return found


async def demand(q: PartnerQueries, caller: Principal, demand_id: str) -> Demand:
    found = await q.demand(demand_id)
    if found is None:
        raise NotFound(f"no demand {demand_id}")
    require_party(
        caller,
        found.provider_id,
        found.merchant_id,
        found.customer_account_id,
        what=f"demand {demand_id}",
        operators=True,
    )
    return found


async def offers(
    q: PartnerQueries,
    caller: Principal,
    status: str | None,
    product_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Offer]:
    """Issue 15, dossier §7.5: a provider's own offers (issued by it or bound to it), the offers on a
    merchant's products (and those it issued), every offer for operators; newest first, a page at a time."""
    check_limit(limit)
    at = decode_cursor(cursor)
    parties: list[Doc] | None = None
    if caller.role is AccountRole.PROVIDER:
        parties = [{"issuer_id": caller.account_id}, {"provider_id": caller.account_id}]
    elif caller.role is AccountRole.MERCHANT:
        parties = [{"issuer_id": caller.account_id}]
        if products := await q.product_ids_of(caller.account_id):
            parties.append({"product_ids": {"$in": products}})
    elif not caller.is_operator:
        raise Forbidden(
            "offer lists are for providers, merchants and operators", rule="sellers_and_operators_only"
        )
    rows = await q.offers_page(parties, status, product_id, at, limit)
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows and more else None
    return Page[Offer](
        items=rows, next_cursor=encode_cursor(last.created_at, last.offer_id) if last else None
    )


async def demands(
    q: PartnerQueries, caller: Principal, status: str | None, cursor: str | None, limit: int
) -> Page[Demand]:
    """Issue 15, dossier §7.5 joint selling: a provider's own demands, those filed with a merchant, every
    demand for operators; newest first, a page at a time."""
    check_limit(limit)
    at = decode_cursor(cursor)
    parties: list[Doc] | None = None
    if caller.role is AccountRole.PROVIDER:
        parties = [{"provider_id": caller.account_id}]
    elif caller.role is AccountRole.MERCHANT:
        parties = [{"merchant_id": caller.account_id}]
    elif not caller.is_operator:
        raise Forbidden(
            "demand lists are for providers, merchants and operators", rule="sellers_and_operators_only"
        )
    rows = await q.demands_page(parties, status, at, limit)
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows and more else None
    return Page[Demand](
        items=rows, next_cursor=encode_cursor(last.created_at, last.demand_id) if last else None
    )


async def console(q: PartnerQueries, caller: Principal, merchant_id: str, recent: int = 20) -> dict[str, Any]:
    """Per endpoint: calls, attempts, failed attempts, success rate (of attempts) and the recent calls."""
    require_party(caller, merchant_id, what=f"merchant {merchant_id}'s console")
    by: dict[str, list[MerchantCall]] = defaultdict(list)
    for call in await q.calls(merchant_id):
        by[call.endpoint].append(call)
    out = {}
    for name, group in sorted(by.items()):
        attempts = [a for c in group for a in c.attempts]
        ok = sum(a.ok for a in attempts)
        out[name] = {
            "calls": len(group),
            "attempts": len(attempts),
            "failures": len(attempts) - ok,
            "success_rate": round(ok / len(attempts), 4) if attempts else None,
            "recent": [c.model_dump(mode="json", exclude={"body"}) for c in group[:recent]],
        }
    return {"merchant_id": merchant_id, "endpoints": out}
