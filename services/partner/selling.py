"""Use cases of the programme and of selling (dossier §7.2, §7.3, §7.5): applications and their review,
customer associations, product terms, offers, private links and joint-selling demands. Each is a plain
function on the shared runner: load, decide (programme.py), save, commit.

Who the caller is comes from its verified token (`Principal`); what it may touch is checked here against the
records (the provider of the link, the merchant of the demand, the owner of the product's terms).
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

from services.partner import programme
from services.partner.deps import Deps
from services.partner.programme import Application, CustomerAssociation, Demand, Offer, ProductTerms, Provider
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.schemas import AccountRole
from shared.schemas.links import LinkClaims, sign


async def active_provider(uow: PartnerUnitOfWork, provider_id: str) -> Provider:
    return programme.require_active(await uow.providers.get(provider_id))


async def apply(deps: Deps, caller: Principal, company: str, certifications: list[str]) -> Application:
    """A partner account applies for itself (the account the token names)."""

    async def work(uow: PartnerUnitOfWork) -> Application:
        app = programme.apply(f"APP-{uuid.uuid4().hex[:12]}", caller.account_id, company, certifications)
        await uow.applications.add(app)
        await uow.commit()
        return app

    return await deps.uow.run(work)


async def review(
    deps: Deps, operator: Principal, application_id: str, approve: bool, note: str
) -> Application:
    """Platform operations (运营经理) reviews (§7.2); the route admits operators only."""

    async def work(uow: PartnerUnitOfWork) -> Application:
        app = await uow.applications.get(application_id)
        if app is None:
            raise NotFound(f"no application {application_id}")
        provider = programme.review(app, operator.account_id, approve, note, deps.clock())
        if provider is not None:
            await uow.providers.replace(provider)  # an account approved again starts afresh
        await uow.applications.save(app)
        await uow.commit()
        return app

    return await deps.uow.run(work)


async def associate(deps: Deps, assoc: CustomerAssociation) -> CustomerAssociation:
    """Operations staff record a customer's reseller and registration column (the route admits operators)."""

    async def work(uow: PartnerUnitOfWork) -> CustomerAssociation:
        await uow.customers.replace(assoc)
        await uow.commit()
        return assoc

    return await deps.uow.run(work)


async def set_terms(deps: Deps, merchant: Principal, terms: ProductTerms) -> ProductTerms:
    """The product's merchant sets its terms. No event tells partner a product's merchant before its first
    sale, so the first merchant to set a product's terms owns them; another merchant is refused, and terms a
    merchant set for a product another merchant sells never shape that order's earning (earnings.py)."""

    async def work(uow: PartnerUnitOfWork) -> ProductTerms:
        old = await uow.terms.get(terms.product_id)
        if old is not None and old.merchant_id != merchant.account_id:
            raise Forbidden(
                f"product {terms.product_id}'s terms belong to another merchant",
                rule="product_of_another_merchant",
            )
        terms.merchant_id = merchant.account_id
        terms.check()
        await uow.terms.replace(terms)
        await uow.commit()
        return terms

    return await deps.uow.run(work)


async def offer(deps: Deps, caller: Principal, offer: Offer) -> Offer:
    """A provider's exclusive offer (bound to it), or a merchant's private offer on its own products."""
    merchant = caller.role is AccountRole.MERCHANT
    offer.issuer_id = caller.account_id

    async def work(uow: PartnerUnitOfWork) -> Offer:
        if merchant:
            offer.provider_id = None
        else:
            await active_provider(uow, caller.account_id)
            offer.provider_id = caller.account_id
        terms = await uow.terms.of(offer.product_ids)
        if len(terms) != len(offer.product_ids):
            raise InvalidInput("every product needs its terms on record", field="product_ids")
        if merchant and any(t.merchant_id != caller.account_id for t in terms):
            raise Forbidden(
                "a merchant makes offers on its own products only", rule="product_of_another_merchant"
            )
        made = programme.make_offer(offer, terms)
        made.created_at = deps.clock()
        await uow.offers.add(made)
        await uow.commit()
        return made

    return await deps.uow.run(work)


async def decide_offer(deps: Deps, caller: Principal, offer_id: str, decision: str, note: str = "") -> Offer:
    """An operator approves or rejects an offer in manual handling (the route admits operators only); its
    issuer withdraws it."""

    async def work(uow: PartnerUnitOfWork) -> Offer:
        offer = await uow.offers.get(offer_id)
        if offer is None:
            raise NotFound(f"no offer {offer_id}")
        now = deps.clock()
        if decision == "withdraw":
            if offer.issuer_id != caller.account_id:
                raise Forbidden(f"offer {offer_id} can be withdrawn by its issuer only", rule="issuer_only")
            offer.withdraw(caller.account_id, now)
        elif decision == "approve":
            offer.approve(caller.account_id, note, now)
        else:
            offer.reject(caller.account_id, note, now)
        await uow.offers.save(offer)
        await uow.commit()
        return offer

    return await deps.uow.run(work)


async def private_link(
    deps: Deps,
    caller: Principal,
    provider_id: str,
    product_id: str | None,
    customer: str | None,
    offer_id: str | None,
    ttl: int | None,
) -> tuple[LinkClaims, str]:
    """A signed, expiring link that binds the order placed through it to the provider (its own only)."""
    require_party(caller, provider_id, what=f"provider {provider_id}'s private links")
    key = deps.settings.private_link_private_key
    if key is None:
        raise DomainError("private links are not configured on this deployment")

    async def work(uow: PartnerUnitOfWork) -> LinkClaims:
        await active_provider(uow, provider_id)
        discount: Decimal | None = None
        for_customer = customer
        if offer_id is not None:
            found = await uow.offers.get(offer_id)
            if found is None or found.provider_id != provider_id or found.status != "effective":
                raise InvalidInput("the offer is not an effective offer of this provider", field="offer_id")
            if for_customer not in (None, found.customer_account_id) or (
                product_id is not None and product_id not in found.product_ids
            ):
                raise InvalidInput("the offer is for another customer or product", field="offer_id")
            for_customer = found.customer_account_id  # an exclusive offer is for its one customer only
            discount = found.discount
        ttl_seconds = ttl or deps.settings.private_link_ttl_seconds
        return LinkClaims(
            link_id=f"PL-{uuid.uuid4().hex[:12]}",
            provider_id=provider_id,
            product_id=product_id,
            customer_account_id=for_customer,
            offer_id=offer_id,
            discount=discount,
            expires_at=int(time.time()) + ttl_seconds,
        )

    claims = await deps.uow.run(work)
    return claims, sign(claims, key.get_secret_value())


async def file_demand(deps: Deps, caller: Principal, demand: Demand) -> Demand:
    """Joint selling: an approved provider files a customer demand with a merchant (§7.5 step 1)."""

    async def work(uow: PartnerUnitOfWork) -> Demand:
        await active_provider(uow, caller.account_id)
        demand.provider_id, demand.created_at = caller.account_id, deps.clock()
        await uow.demands.add(demand)
        await uow.commit()
        return demand

    return await deps.uow.run(work)


async def answer_demand(deps: Deps, caller: Principal, demand_id: str, offer: Offer) -> tuple[Demand, Offer]:
    """§7.5 step 2: the merchant the demand was filed with answers it with a Private Offer."""

    async def work(uow: PartnerUnitOfWork) -> tuple[Demand, Offer]:
        demand = await uow.demands.get(demand_id)
        if demand is None:
            raise NotFound(f"no demand {demand_id}")
        require_party(caller, demand.merchant_id, what=f"demand {demand_id} (filed with another merchant)")
        offer.provider_id, offer.demand_id, offer.issuer_id = demand.provider_id, demand_id, caller.account_id
        made = programme.make_offer(offer, await uow.terms.of(offer.product_ids))
        made.status = "effective"  # the merchant's own Private Offer (§7.5 step 2) needs no authorization
        made.created_at = deps.clock()
        demand.answer(made.offer_id)
        await uow.offers.add(made)
        await uow.demands.save(demand)
        await uow.commit()
        return demand, made

    return await deps.uow.run(work)
