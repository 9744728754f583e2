"""What partner does with each event it consumes: EVENT_HANDLERS, its table of event → handlers (as
cosmicpython's message bus), and `PartnerService`, which runs an event's handlers on the shared runner.

One event, one unit of work: the handlers it concerns run in the table's order, and the event is claimed in
the inbox in the same transaction as their effects, so a redelivered event changes nothing and an earning is
booked exactly once. A handler says when an event concerns it (`when`, asked before anything is claimed: an
event that concerns partner in no way leaves no trace), and whether it needs the claim at all (`claims`:
remembering a payment is idempotent by itself, so an order.paid without a provider, an offer or a SaaS product
claims nothing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from services.partner import earnings, license_cases, saas
from services.partner.ordering import remember_payment
from services.partner.store import PartnerUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AcceptanceDone, AccountErased, Event, OrderPaid, OrderStatusChanged, RefundDecided

CONSUMER = "partner"
E = TypeVar("E", bound=Event)
Clock = Callable[[], datetime]


async def always(uow: PartnerUnitOfWork, event: Event) -> bool:
    return True


def anything(event: Event) -> bool:
    return True


@dataclass(frozen=True)
class Handler(Generic[E]):
    does: Callable[[PartnerUnitOfWork, E, datetime], Awaitable[Any]]
    when: Callable[[PartnerUnitOfWork, E], Awaitable[bool]] = always
    claims: bool = True
    # What the event alone says, before any read: False where `when` could not be True (an event no handler
    # may concern costs no transaction at all, e.g. an order.status_changed of every payment).
    may: Callable[[E], bool] = anything


EVENT_HANDLERS: dict[type[Event], list[Handler[Any]]] = {
    OrderPaid: [
        Handler(remember_payment, claims=False),
        Handler(saas.open_sale, saas.sold_as_saas),
        Handler(earnings.bind_provider, earnings.binds_a_provider),
        Handler(license_cases.open_license, license_cases.sold_as_license),
    ],
    AcceptanceDone: [Handler(earnings.accrue_on_acceptance, earnings.may_earn)],
    RefundDecided: [
        Handler(saas.release_instance, earnings.approved),
        Handler(license_cases.release_codes, license_cases.license_refunded),
        Handler(earnings.reverse_earning, earnings.approved),
    ],
    OrderStatusChanged: [
        Handler(saas.schedule_expiry, saas.validity_ends, may=saas.has_validity_end),
        Handler(license_cases.extend_validity, license_cases.license_validity, may=saas.has_validity_end),
        Handler(earnings.forgo_earning, earnings.cancelled, may=earnings.is_cancellation),
    ],
    AccountErased: [Handler(saas.erase_kit_contacts)],
}


def _may_concern(event: Event) -> bool:
    return any(h.may(event) for h in EVENT_HANDLERS[type(event)])


def _now() -> datetime:
    return datetime.now(UTC)


class PartnerService:
    """The subscribers' one way in (handlers.py): an event's handlers, in one unit of work on the runner."""

    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork], clock: Clock = _now) -> None:
        self.uow, self.clock = uow, clock

    async def handle(self, event: Event) -> list[Any]:
        """What the handlers returned (ledger entries, counts, None); nothing when the event concerns partner
        in no way, or was handled before."""
        if not _may_concern(event):
            return []

        async def work(uow: PartnerUnitOfWork) -> list[Any]:
            results = await self._handled(uow, event, self.clock())
            if results is None:  # handled before: the failed claim aborted the transaction; nothing to commit
                return []
            await uow.commit()
            return results

        return await self.uow.run(work)

    async def handle_all(self, events: list[Event]) -> list[list[Any]]:
        """`handle` for a batch in one unit of work: the orders they are about loaded in one query, saved in
        one write (the shared runner's staging); each event still asked, claimed and handled in turn, so one
        sees what the batch's earlier events did."""

        concerned = [e for e in events if _may_concern(e)]  # the others cost no transaction

        async def work(uow: PartnerUnitOfWork) -> dict[str, list[Any]]:
            await uow.prefetch("bound_orders", sorted({e.order_id for e in concerned if e.order_id}))
            fresh = await uow.unclaimed(CONSUMER, concerned)  # a claim must not fail inside the transaction
            now = self.clock()
            results: dict[str, list[Any]] = {}
            for event in concerned:
                done = await self._handled(uow, event, now, str(event.event_id) in fresh)
                results.setdefault(str(event.event_id), done or [])
                fresh.discard(str(event.event_id))  # a repeat within the batch is a duplicate
            await uow.commit()
            return results

        found = await self.uow.run(work, batched=True) if concerned else {}
        seen: set[str] = set()
        out: list[list[Any]] = []
        for event in events:  # a repeat within the batch has nothing of its own
            key = str(event.event_id)
            out.append(found.get(key, []) if key not in seen else [])
            seen.add(key)
        return out

    async def _handled(
        self, uow: PartnerUnitOfWork, event: Event, now: datetime, fresh: bool | None = None
    ) -> list[Any] | None:
        """What the event's handlers returned; None when it was handled before. `fresh`: whether the event is
        unclaimed, when a batch looked it up (else the claim finds out, and a claim that finds the event
        taken leaves the transaction aborted on the database: the caller must not go on with it)."""
        due = [h for h in EVENT_HANDLERS[type(event)] if await h.when(uow, event)]
        if not due:
            return []
        if any(h.claims for h in due) and (fresh is False or not await uow.claim(CONSUMER, event)):
            return None
        return [await h.does(uow, event, now) for h in due]
