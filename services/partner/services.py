"""Use cases driven by events: learn each order's provider binding and acceptance, accrue the earning once both
are known, reverse it on a refund, close joint-selling demands, and start the SaaS lifecycle calls.

Each runs in the shared runner (`UnitOfWorkFactory.handle`: the event claimed in the same transaction as its
effect). Events of different topics arrive in any order; each use case says what it does when the order's
order.paid has not arrived yet: merge the fact into the order's record, or wait for it (`NotYetKnown`: the
consumer parks the event and it is handled again once order.paid arrives)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel

from services.partner.calls import LIFECYCLE, Sale, erase_contacts
from services.partner.domain import BoundOrder, LedgerEntry, accrue, refund
from services.partner.incentives import scenario_for
from services.partner.merchant import expiry_call, lifecycle_call
from services.partner.store import PartnerUnitOfWork
from shared.platform.errors import NotYetKnown
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    AcceptanceDone,
    AccountErased,
    Money,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    RefundDecided,
)

CONSUMER = "partner"
Clock = Callable[[], datetime]


class ProviderLedger(BaseModel):
    provider_id: str
    total: Money
    currency: str
    entries: list[LedgerEntry]


def _now() -> datetime:
    return datetime.now(UTC)


class PartnerService:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork], clock: Clock = _now) -> None:
        self.uow, self.clock = uow, clock

    async def on_order_paid(self, event: OrderPaid) -> LedgerEntry | None:
        """Learn the order's provider binding and amount, close a joint-selling demand, start the SaaS calls. Every
        payment is remembered (`remember_paid`), so events of other topics about the order know it arrived; the
        handler then tells the parking, whose events about the order are tried again at once."""
        p = event.payload
        saas = p.product.delivery_type in {"saas_supervised", "saas_instant"}
        if p.parties.provider_id is None and not saas and p.offer_id is None:
            # No provider, no offer, no merchant call: only the payment is remembered, an idempotent write that
            # needs no inbox claim.
            async def remember(uow: PartnerUnitOfWork) -> None:
                await uow.remember_paid(p.order_id, p.paid_at)
                await uow.commit()
            await self.uow.run(remember)
            return None

        async def work(uow: PartnerUnitOfWork) -> LedgerEntry | None:
            await uow.remember_paid(p.order_id, p.paid_at)
            provider = p.parties.provider_id
            if p.offer_id is not None and (offer := await uow.offers.get(p.offer_id)) is not None:
                provider = provider or offer.provider_id  # a merchant's private offer from joint selling
                demand = await uow.demands.get(offer.demand_id) if offer.demand_id else None
                usable = offer.usable(p.parties.buyer_account_id, p.product.product_id, p.paid_at)
                if demand is not None and usable and demand.win(p.order_id):  # §7.5 step 3: 需求成交
                    await uow.demands.save(demand)
            if saas and await uow.sales.get(p.order_id) is None:
                sale = Sale(order_id=p.order_id, buyer_id=p.parties.buyer_account_id,
                            merchant_id=p.parties.merchant_account_id, product_id=p.product.product_id,
                            delivery_type=p.product.delivery_type, sale_mode=p.product.sale_mode,
                            original_order_id=p.original_order_id)
                await uow.sales.add(sale)
                if p.order_type in LIFECYCLE:
                    await lifecycle_call(uow, sale, p.order_type, p.original_order_id, self.clock())
            if provider is None:
                return None
            terms = await uow.terms.get(p.product.product_id)
            if terms is not None and terms.merchant_id != p.parties.merchant_account_id:
                terms = None  # terms another merchant claimed for this product never shape this order's earning

            def learn(order: BoundOrder) -> None:
                order.provider_id, order.amount, order.currency = provider, p.amount, p.currency
                order.customer_id, order.product_id = p.parties.buyer_account_id, p.product.product_id
                order.share_ratio = p.product.provider_share_ratio
                if order.share_ratio is None and terms is not None:
                    order.share_ratio = terms.share_ratio
                if terms is not None:
                    order.floor_price = terms.floor_price
                    order.vat_rate = terms.vat_rate if terms.vat_rate is not None else order.vat_rate
                    order.fee_tax_rate = (terms.service_fee_tax_rate if terms.service_fee_tax_rate is not None
                                          else order.fee_tax_rate)
                if not p.product.delivery_type.supervised:
                    order.accepted_at = p.paid_at  # §4.3: supervision "not applicable" counts as complete

            return await self._learn(uow, p.order_id, learn)

        return await self.uow.handle(CONSUMER, event, work)

    async def on_acceptance_done(self, event: AcceptanceDone) -> LedgerEntry | None:
        """Ordering: acceptance.done before order.paid needs no parking. It carries the order's parties: with a
        provider, the fact is merged into the order's record (created on first sight) and the earning accrues
        once order.paid brings the amount, whichever comes first; without one there is nothing to earn (an offer's
        provider comes with a private link, which puts it in the parties), unless order.paid bound one already."""
        payload = event.payload

        def learn(order: BoundOrder) -> None:
            order.accepted_at = payload.accepted_at
            order.customer_id = order.customer_id or payload.parties.buyer_account_id

        async def bound(uow: PartnerUnitOfWork) -> bool:
            return await uow.orders.get(payload.order_id) is not None

        if payload.parties.provider_id is None and not await self.uow.run(bound):
            return None  # nothing to earn: not even claimed

        async def work(uow: PartnerUnitOfWork) -> LedgerEntry | None:
            return await self._learn(uow, payload.order_id, learn)

        return await self.uow.handle(CONSUMER, event, work)

    async def on_refund_decided(self, event: RefundDecided) -> LedgerEntry | None:
        """An approved refund reverses the earning and releases a SaaS instance. Ordering: it waits for the
        order's order.paid (NotYetKnown), so it reverses the earning that order.paid and acceptance.done make, in
        the same way whichever order the three come in, and finds the SaaS sale it releases."""
        p = event.payload

        async def reverse(uow: PartnerUnitOfWork) -> LedgerEntry | None:
            if not await uow.known_paid(p.order_id):
                raise NotYetKnown(p.order_id, f"refund {p.refund_id} of order {p.order_id} came before the "
                                              "order's order.paid")
            sale = await uow.sales.get(p.order_id)
            if sale is not None and await uow.calls.get(f"releaseInstance:{sale.order_id}") is None:
                # A successful unsubscribe releases the SaaS instance (dossier §8.2.5); the unsubscribe order
                # itself publishes no order.paid, so the approved refund is what tells us.
                await lifecycle_call(uow, sale, "unsubscribe", sale.order_id, self.clock())
            order = await uow.orders.get(p.order_id)
            if order is None and p.parties.provider_id is None:
                return None
            order = order or await uow.order(p.order_id)
            entry = refund(order, p.refund_id, p.amount, self.clock())
            if entry is not None:
                await uow.ledger.add(entry)
            await uow.orders.save(order)
            return entry

        if not p.approved:
            return None
        return await self.uow.handle(CONSUMER, event, reverse)

    async def on_status_changed(self, event: OrderStatusChanged) -> None:
        """An order cancelled before acceptance never earns (its acceptance cannot come any more); a SaaS
        order's validity end schedules the instance's expiry call (§8.2.4) — a renewal moves it.

        Ordering: a cancellation needs no parking (only an unpaid order is cancelled, so no order.paid follows;
        the record it leaves keeps a provider's earning from ever accruing). A validity end waits for the order's
        order.paid (NotYetKnown): orders publishes both at once, and the expiry call needs the sale it makes."""
        p = event.payload
        cancelled = p.to_status == OrderStatus.CANCELLED and p.parties.provider_id is not None
        if not cancelled and p.validity_ends_at is None:
            return

        async def cancel(uow: PartnerUnitOfWork) -> None:
            if p.validity_ends_at is not None:
                sale = await uow.sales.get(p.order_id)
                if sale is None and not await uow.known_paid(p.order_id):
                    raise NotYetKnown(p.order_id, f"order {p.order_id}'s validity end came before its order.paid")
                if sale is not None:
                    await expiry_call(uow, sale, p.validity_ends_at)
            if cancelled:
                order = await uow.order(p.order_id)
                if not order.accrued:
                    order.cancelled = True
                    await uow.orders.save(order)

        await self.uow.handle(CONSUMER, event, cancel)

    async def on_account_erased(self, event: AccountErased) -> int:
        """The buyer's enterprise users' contact data in its Kit calls is masked (the calls themselves stay, for
        the merchant's console); a masked call is never sent again. Returns how many calls changed."""
        async def erase(uow: PartnerUnitOfWork) -> int:
            changed = 0
            for call in await uow.lists.kit_calls_of_buyer(event.payload.account_id):
                if erase_contacts(call, event.payload.erased_at):
                    await uow.calls.save(call)
                    changed += 1
            return changed

        return await self.uow.handle(CONSUMER, event, erase) or 0

    async def _learn(self, uow: PartnerUnitOfWork, order_id: str,
                     learn: Callable[[BoundOrder], None]) -> LedgerEntry | None:
        order = await uow.order(order_id)
        learn(order)
        entry = None
        if order.ready_to_accrue() and order.provider_id is not None:
            assoc = await uow.customers.get(order.customer_id) if order.customer_id else None
            order.scenario = scenario_for(order.provider_id, assoc.reseller_id if assoc else None,
                                          assoc.registration_column if assoc else None)
            entry = accrue(order, self.clock())
            await uow.ledger.add(entry)
        await uow.orders.save(order)
        await uow.commit()
        return entry


def ledger_of(provider_id: str, entries: list[LedgerEntry]) -> ProviderLedger:
    """A provider's live ledger, newest first (the marketplace itself only shows it monthly)."""
    entries = sorted(entries, key=lambda e: e.at, reverse=True)
    total = sum((e.amount for e in entries), start=Decimal("0.00"))
    return ProviderLedger(provider_id=provider_id, total=total,
                          currency=entries[0].currency if entries else "CNY", entries=entries)
