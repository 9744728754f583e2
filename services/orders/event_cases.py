"""Use cases driven by other services' events: supervision's progress, acceptance and refund decisions, and
partner's final provisioning failures. Each claims the event id in the same unit of work as its effect."""

from __future__ import annotations

from collections.abc import Callable

from services.orders.aftersales import refund_decided
from services.orders.base import CONSUMER, Base
from services.orders.domain import Order
from services.orders.store import OrdersUnitOfWork
from shared.schemas import AcceptanceDone, Event, MerchantCallFailed, MilestoneConfirmed, RefundDecided


class EventCases(Base):
    async def _apply(self, event: Event, order_id: str, change: Callable[[Order], list[Event]]) -> bool:
        """Claim, load, change, save + emit; False when this event was already processed."""

        async def work(uow: OrdersUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            order = await self._load(uow, order_id)
            uow.emit(*change(order))
            await uow.orders.save(order)
            await uow.commit()
            return True

        return await self.uow.run(work)

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
