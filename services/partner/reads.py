"""What the API shows, and to whom: each read loads the record, then checks the caller is one of its parties
(or operations staff, where the dossier gives them the read). Nothing here is public."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.partner.billing import Bill
from services.partner.programme import Demand, Offer, ProductTerms, Provider
from services.partner.selling import active_provider
from services.partner.services import ProviderLedger, ledger_of
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import Forbidden, NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRole


class Reads:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
        self.uow = uow

    async def ledger(self, caller: Principal, provider_id: str) -> ProviderLedger:
        """A provider's ledger: that provider, and operations staff (settlement is theirs, §7.6)."""
        require_party(caller, provider_id, what=f"provider {provider_id}'s ledger", operators=True)

        async def load(uow: PartnerUnitOfWork) -> ProviderLedger:
            return ledger_of(provider_id, await uow.ledger.of(provider_id))
        return await self.uow.run(load)

    async def statement(self, caller: Principal, provider_id: str) -> dict[str, Any]:
        require_party(caller, provider_id, what=f"provider {provider_id}'s statement", operators=True)

        async def load(uow: PartnerUnitOfWork) -> tuple[list[Bill], ProviderLedger]:
            return await uow.lists.bills_of(provider_id), ledger_of(provider_id, await uow.ledger.of(provider_id))
        bills, live = await self.uow.run(load)
        unbilled = sum((e.amount for e in live.entries if e.bill_id is None), Decimal("0.00"))
        return {"provider_id": provider_id, "bills": [b.model_dump(mode="json") for b in bills],
                "billed_basic": str(sum((b.amount for b in bills if b.kind == "basic"), Decimal("0.00"))),
                "unbilled": str(unbilled), "ledger_total": str(live.total)}

    async def provider(self, caller: Principal, provider_id: str) -> Provider:
        require_party(caller, provider_id, what=f"provider {provider_id}'s profile", operators=True)

        async def load(uow: PartnerUnitOfWork) -> Provider | None:
            return await uow.providers.get(provider_id)
        if (found := await self.uow.run(load)) is None:
            raise NotFound(f"no provider {provider_id}")
        return found

    async def terms(self, caller: Principal, product_id: str) -> ProductTerms:
        """§7.5: approved providers query a product's incentive strategy, authorized discount and share ratio;
        the product's merchant and operations staff see them too. Buyers do not (they carry the floor price)."""
        async def load(uow: PartnerUnitOfWork) -> ProductTerms | None:
            terms = await uow.terms.get(product_id)
            if terms is not None and caller.role is AccountRole.PROVIDER:
                await active_provider(uow, caller.account_id)
            return terms
        terms = await self.uow.run(load)
        if terms is None:
            raise NotFound(f"no terms for product {product_id}")
        if caller.role not in {AccountRole.PROVIDER, AccountRole.OPERATOR} and caller.account_id != terms.merchant_id:
            raise Forbidden("a product's terms are for its merchant, approved providers and operators",
                            rule="terms_readers_only")
        return terms

    async def offer(self, caller: Principal, offer_id: str) -> Offer:
        async def load(uow: PartnerUnitOfWork) -> tuple[Offer | None, list[str]]:
            offer = await uow.offers.get(offer_id)
            merchants = [t.merchant_id for pid in (offer.product_ids if offer else [])
                         if (t := await uow.terms.get(pid)) is not None]
            return offer, merchants
        offer, merchants = await self.uow.run(load)
        if offer is None:
            raise NotFound(f"no offer {offer_id}")
        require_party(caller, offer.issuer_id, offer.provider_id, offer.customer_account_id, *merchants,
                      what=f"offer {offer_id}", operators=True)
        return offer

    async def demand(self, caller: Principal, demand_id: str) -> Demand:
        async def load(uow: PartnerUnitOfWork) -> Demand | None:
            return await uow.demands.get(demand_id)
        demand = await self.uow.run(load)
        if demand is None:
            raise NotFound(f"no demand {demand_id}")
        require_party(caller, demand.provider_id, demand.merchant_id, demand.customer_account_id,
                      what=f"demand {demand_id}", operators=True)
        return demand
