"""Use cases driven by other services' events: supervision's progress, acceptance and refund decisions, and
partner's final provisioning failures. Each runs through the shared runner's `handle`, which claims the event id in
the same unit of work as its effect."""

from __future__ import annotations

from collections.abc import Callable

from services.orders.aftersales import refund_decided
from services.orders.base import CONSUMER, Base
from services.orders.domain import Order
from services.orders.store import OrdersUnitOfWork
from services.orders.unsubscribe import settle_unsubscribe
from shared.platform.errors import NotYetKnown
from shared.schemas import AcceptanceDone, Event, MerchantCallFailed, MilestoneConfirmed, RefundDecided


class EventCases(Base):
    async def _apply(self, event: Event, order_id: str, change: Callable[[Order], list[Event]]) -> bool:
        """Through the runner's `handle`: claim, load, change, save + emit; False when this event was already
        processed. A decided refund also settles its unsubscribe order in the same unit of work (see
        services.orders.unsubscribe)."""

        async def work(uow: OrdersUnitOfWork) -> bool:
            order = await self._known(uow, order_id)
            uow.emit(*change(order))
            await uow.orders.save(order)
            await self._settle_unsubscribe(uow, order, event)
            return True

        return bool(await self.uow.handle(CONSUMER, event, work))

    @staticmethod
    async def _known(uow: OrdersUnitOfWork, order_id: str) -> Order:
        """The order another service's event is about. One rule for every consumer: an event about an aggregate
        the service has not seen is "not yet known", never poison at once; it is parked, tried again with backoff,
        and dead-lettered with this reason after the parking's bound (a day, shared/platform/parking.py). Orders
        creates its orders itself (an order exists before any event about it), so nothing here announces an
        arrival: such an event is tried again on the parking's backoff until the bound."""
        order = await uow.orders.get(order_id)
        if order is None:
            raise NotYetKnown(order_id, f"order {order_id} is not known to the orders service (yet)")
        return order

    async def _settle_unsubscribe(self, uow: OrdersUnitOfWork, order: Order, event: Event) -> None:
        """The unsubscribe order follows its refund: approved → completed, rejected → cancelled (no-op when
        already settled, so a redelivered or repeated decision changes nothing)."""
        refund = order.refund
        if refund is None or refund.unsubscribe_order_id is None or refund.state == "requested":
            return
        unsubscribe = await uow.orders.get(refund.unsubscribe_order_id)
        if unsubscribe is None:
            return  # [I] opened in the same unit of work as the request, so this only happens on lost data
        at = refund.decided_at or self.clock()
        changed = settle_unsubscribe(unsubscribe, refund, at, event.correlation_id)
        if changed:
            uow.emit(*changed)
            await uow.orders.save(unsubscribe)

    async def on_acceptance_done(self, event: AcceptanceDone) -> bool:
        """Complete the order; validity from the actual activation time, else acceptance (dossier §10)."""
        p = event.payload
        return await self._apply(event, p.order_id, lambda o: list(o.complete_after_acceptance(
            p.accepted_at, p.actual_activation_time, event.correlation_id)))

    async def on_milestone_confirmed(self, event: MilestoneConfirmed) -> bool:
        """Keep the service order's progress on the order (purchased services, dossier §9.2)."""
        p = event.payload

        def change(order: Order) -> list[Event]:
            order.progress = order.progress.confirmed(p.service_order_id, p.node, p.next_node, p.confirmed_at)
            return []

        return await self._apply(event, p.order_id, change)

    async def on_refund_decided(self, event: RefundDecided) -> bool:
        """Approved (merchant, appeal resolution or platform): the order is refunded (dossier §1.4)."""
        p = event.payload
        reason = f"refund {p.refund_id} approved by the {p.decided_by_role.value}: {p.reason}"
        return await self._apply(event, p.order_id, lambda o: refund_decided(
            o, p.approved, p.opinion, reason, p.decided_at, event.correlation_id))

    async def on_merchant_call_failed(self, event: MerchantCallFailed) -> bool:
        """A SaaS new purchase whose provisioning finally failed is refunded (dossier §8.2.2)."""
        p = event.payload
        if not (p.final and p.consequence == "refund" and p.order_id):
            return False
        reason = f"provisioning failed ({p.endpoint}: {p.error}); refunded (dossier §8.2.2)"
        return await self._apply(event, p.order_id, lambda o: o.refunded_by_platform(p.failed_at, reason,
                                                                                   event.correlation_id))
