"""Use cases behind the HTTP API: the programme, product terms, offers, private links, joint selling, bills.

Who the caller is comes from its verified token (`Principal`); what it may touch is checked here against the
records (the provider of the link, the merchant of the demand, the owner of the product's terms).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from services.partner import billing, programme
from services.partner.billing import Bill
from services.partner.programme import Application, CustomerAssociation, Demand, Offer, ProductTerms, Provider
from services.partner.settings import PartnerSettings
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRole
from shared.schemas.links import LinkClaims, sign


async def active_provider(uow: PartnerUnitOfWork, provider_id: str) -> Provider:
    """Dossier §7.2: a partner account sells only once an operator approved its programme application."""
    provider = await uow.providers.get(provider_id)
    if provider is None or provider.status != "active":
        raise Forbidden("only an approved, active customer service provider may do this (dossier §7.2)",
                        rule="approved_providers_only")
    return provider


class Selling:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork], settings: PartnerSettings,
                 clock: Callable[[], datetime]) -> None:
        self.uow, self.settings, self.clock = uow, settings, clock

    async def apply(self, caller: Principal, company: str, certifications: list[str]) -> Application:
        """A partner account applies for itself (the account the token names)."""
        async def work(uow: PartnerUnitOfWork) -> Application:
            app = programme.apply(f"APP-{uuid.uuid4().hex[:12]}", caller.account_id, company, certifications)
            await uow.applications.add(app)
            await uow.commit()
            return app
        return await self.uow.run(work)

    async def review(self, operator: Principal, application_id: str, approve: bool, note: str) -> Application:
        """Platform operations (运营经理) reviews (§7.2); the route admits operators only."""
        async def work(uow: PartnerUnitOfWork) -> Application:
            app = await uow.applications.get(application_id)
            if app is None:
                raise NotFound(f"no application {application_id}")
            provider = programme.review(app, operator.account_id, approve, note, self.clock())
            if provider is not None:
                await uow.upsert(uow.providers, provider)
            await uow.applications.save(app)
            await uow.commit()
            return app
        return await self.uow.run(work)

    async def associate(self, assoc: CustomerAssociation) -> CustomerAssociation:
        """Operations staff record a customer's reseller and registration column (the route admits operators)."""
        async def work(uow: PartnerUnitOfWork) -> CustomerAssociation:
            old = await uow.customers.get(assoc.customer_id)
            assoc.version = old.version if old else 0
            await uow.upsert(uow.customers, assoc)
            await uow.commit()
            return assoc
        return await self.uow.run(work)

    async def set_terms(self, merchant: Principal, terms: ProductTerms) -> ProductTerms:
        """The product's merchant sets its terms. No event tells partner a product's merchant before its first
        sale, so the first merchant to set a product's terms owns them; another merchant is refused, and terms a
        merchant set for a product another merchant sells never shape that order's earning (services.py)."""
        async def work(uow: PartnerUnitOfWork) -> ProductTerms:
            old = await uow.terms.get(terms.product_id)
            if old is not None and old.merchant_id != merchant.account_id:
                raise Forbidden(f"product {terms.product_id}'s terms belong to another merchant",
                                rule="product_of_another_merchant")
            terms.merchant_id = merchant.account_id
            terms.check()
            terms.version = old.version if old else 0
            await uow.upsert(uow.terms, terms)
            await uow.commit()
            return terms
        return await self.uow.run(work)

    async def offer(self, caller: Principal, offer: Offer) -> Offer:
        """A provider's exclusive offer (bound to it), or a merchant's private offer on its own products."""
        merchant = caller.role is AccountRole.MERCHANT

        async def work(uow: PartnerUnitOfWork) -> Offer:
            if merchant:
                offer.provider_id = None
            else:
                await active_provider(uow, caller.account_id)
                offer.provider_id = caller.account_id
            terms = [t for pid in offer.product_ids if (t := await uow.terms.get(pid)) is not None]
            if len(terms) != len(offer.product_ids):
                raise InvalidInput("every product needs its terms on record", field="product_ids")
            if merchant and any(t.merchant_id != caller.account_id for t in terms):
                raise Forbidden("a merchant makes offers on its own products only", rule="product_of_another_merchant")
            made = programme.make_offer(offer, terms)
            await uow.offers.add(made)
            await uow.commit()
            return made
        offer.issuer_id = caller.account_id
        return await self.uow.run(work)

    async def private_link(self, caller: Principal, provider_id: str, product_id: str | None, customer: str | None,
                           offer_id: str | None, ttl: int | None) -> tuple[LinkClaims, str]:
        require_party(caller, provider_id, what=f"provider {provider_id}'s private links")
        key = self.settings.private_link_private_key
        if key is None:
            raise DomainError("private links are not configured on this deployment")

        async def work(uow: PartnerUnitOfWork) -> LinkClaims:
            await active_provider(uow, provider_id)
            discount: Decimal | None = None
            for_customer = customer
            if offer_id is not None:
                offer = await uow.offers.get(offer_id)
                if offer is None or offer.provider_id != provider_id or offer.status != "effective":
                    raise InvalidInput("the offer is not an effective offer of this provider", field="offer_id")
                if (for_customer not in (None, offer.customer_account_id)
                        or (product_id is not None and product_id not in offer.product_ids)):
                    raise InvalidInput("the offer is for another customer or product", field="offer_id")
                for_customer = offer.customer_account_id  # an exclusive offer is for its one customer only
                discount = offer.discount
            return LinkClaims(link_id=f"PL-{uuid.uuid4().hex[:12]}", provider_id=provider_id, product_id=product_id,
                              customer_account_id=for_customer, offer_id=offer_id, discount=discount,
                              expires_at=int(time.time()) + (ttl or self.settings.private_link_ttl_seconds))
        claims = await self.uow.run(work)
        return claims, sign(claims, key.get_secret_value())

    async def file_demand(self, caller: Principal, demand: Demand) -> Demand:
        async def work(uow: PartnerUnitOfWork) -> Demand:
            await active_provider(uow, caller.account_id)
            demand.provider_id = caller.account_id
            await uow.demands.add(demand)
            await uow.commit()
            return demand
        return await self.uow.run(work)

    async def answer_demand(self, caller: Principal, demand_id: str, offer: Offer) -> tuple[Demand, Offer]:
        """§7.5 step 2: the merchant the demand was filed with answers it with a Private Offer."""
        async def work(uow: PartnerUnitOfWork) -> tuple[Demand, Offer]:
            demand = await uow.demands.get(demand_id)
            if demand is None:
                raise NotFound(f"no demand {demand_id}")
            require_party(caller, demand.merchant_id, what=f"demand {demand_id} (filed with another merchant)")
            terms = [t for pid in offer.product_ids if (t := await uow.terms.get(pid)) is not None]
            offer.provider_id, offer.demand_id, offer.issuer_id = demand.provider_id, demand_id, caller.account_id
            made = programme.make_offer(offer, terms)
            made.status = "effective"  # the merchant's own Private Offer (§7.5 step 2) needs no authorization
            demand.answer(made.offer_id)
            await uow.offers.add(made)
            await uow.demands.save(demand)
            await uow.commit()
            return demand, made
        return await self.uow.run(work)

    async def run_bills(self, provider_id: str, month: str | None, quarter: str | None) -> list[Bill]:
        """An operator runs a provider's bills now (the schedule runs them on the 3rd, see bill_runs.py)."""
        return await self.generate(provider_id, month, quarter)

    async def generate(self, provider_id: str, month: str | None, quarter: str | None) -> list[Bill]:
        async def work(uow: PartnerUnitOfWork) -> list[Bill]:
            entries, now = await uow.ledger.of(provider_id), self.clock()
            bills = billing.basic_bills(provider_id, month, entries, now) if month else []
            if quarter:
                bills += billing.performance_bills(provider_id, quarter, entries,
                                                   self.settings.performance_incentive_rate, now)
            for bill in bills:
                if await uow.bills.get(bill.bill_id) is not None:
                    raise DomainError(f"bill {bill.bill_id} was already generated")
                await uow.bills.add(bill)
                if bill.kind == "basic":
                    await uow.ledger.mark_billed(bill.entry_ids, bill.bill_id)
            await uow.commit()
            return bills
        return await self.uow.run(work)

    async def invoice(self, caller: Principal, provider_id: str, bill_id: str, invoice_no: str,
                      amount: Decimal) -> Bill:
        """§7.6: the provider invoices its own bills."""
        require_party(caller, provider_id, what=f"provider {provider_id}'s bills")

        async def work(uow: PartnerUnitOfWork) -> Bill:
            bill = await uow.bills.get(bill_id)
            if bill is None or bill.provider_id != provider_id:
                raise NotFound(f"no bill {bill_id} of this provider")
            billing.record_invoice(bill, invoice_no, amount, self.clock())
            await uow.bills.save(bill)
            await uow.commit()
            return bill
        return await self.uow.run(work)
