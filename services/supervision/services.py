"""Use cases: load the service order, let the domain decide, save it with its events and its timers.

Every change goes through `_change`: one unit of work that loads the service order, asks the domain, saves the
new state, rewrites its rows in `timers`, and stores the events in the outbox, all in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from services.supervision import evidence as files
from services.supervision.commands import ActionRequest, AppealRequest, RefundDecision, RefundRequest, ResolveAppeal
from services.supervision.domain import ServiceOrder
from services.supervision.rules import Policy, acceptance_rule, check_milestone_offer
from services.supervision.store import SupervisionUnitOfWork
from services.supervision.templates import template_for
from shared.platform.errors import Forbidden, NotFound, PermanentError
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRegistered, AccountRole, Event, OrderPaid, RefundRequested

CONSUMER = "supervision"
log = logging.getLogger("supervision.services")
Decide = Callable[[ServiceOrder, bool], list[Event]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _corr() -> str:
    return uuid.uuid4().hex


class NotSupervised(NotFound):
    code = "not_supervised"


class SupervisionService:
    def __init__(self, uow: UnitOfWorkFactory[SupervisionUnitOfWork], policy: Policy | None = None,
                 clock: Callable[[], datetime] = _utcnow, limits: files.Limits | None = None) -> None:
        self.uow, self.policy, self.clock = uow, policy or Policy(), clock
        self.limits = limits or files.Limits()

    # --- consumed events ----------------------------------------------------------------------------

    async def on_order_paid(self, event: OrderPaid) -> ServiceOrder | None:
        """Open the service order of a supervised new purchase. None if not supervised or a duplicate."""
        p = event.payload
        if not p.product.delivery_type.supervised:
            await self._not_supervised(event)  # image, API, instant-use SaaS: no service order (dossier §1.2)
            return None
        if p.order_type != "new":
            return None  # a renewal of a supervised order creates no new supervision flow (dossier §1.6)
        check_milestone_offer(p)  # refused offers are dead-lettered with the rule in the reason
        template = template_for(p.product.delivery_type, p.product.flow_template)
        if template is None:
            raise PermanentError(f"no flow template for delivery type {p.product.delivery_type.value}")

        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder | None:
            if not await uow.claim(CONSUMER, event):
                return None
            so, events = ServiceOrder.from_order_paid(p, template, acceptance_rule(p), self.clock(),
                                                      event.correlation_id, self.policy)
            await uow.service_orders.add(so)
            await uow.timers.sync(so)
            uow.emit(*events)
            await uow.commit()
            return so

        return await self.uow.run(work)

    async def _not_supervised(self, event: OrderPaid) -> None:
        p = event.payload

        async def work(uow: SupervisionUnitOfWork) -> None:
            if await uow.claim(CONSUMER, event):
                await uow.unsupervised.add(p.order_id, {"delivery_type": p.product.delivery_type.value,
                                                        "parties": p.parties.model_dump()})
                await uow.commit()

        await self.uow.run(work)

    async def on_account_registered(self, event: AccountRegistered) -> bool:
        """Remember platform operators: they resolve appeals and do the platform review."""
        if event.payload.role is not AccountRole.OPERATOR:
            return False

        async def work(uow: SupervisionUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            await uow.operators.add(event.payload.account_id)
            await uow.commit()
            return True

        return await self.uow.run(work)

    async def on_refund_requested(self, event: RefundRequested) -> ServiceOrder | None:
        """The buyer's refund request from the orders service's purchased-services page: the same as ours."""
        p = event.payload
        return await self._change(ServiceOrder.id_for(p.order_id), lambda so, _: self._request(
            so, p.parties.buyer_account_id, p.refund_id, RefundRequest(amount=p.amount, reason=p.reason)),
            claim=event)

    # --- commands -----------------------------------------------------------------------------------

    async def act(self, so_id: str, account_id: str, action: str, req: ActionRequest) -> ServiceOrder:
        async def decide(so: ServiceOrder, operator: bool, uow: SupervisionUnitOfWork) -> list[Event]:
            evidence = await files.resolve(uow, so.service_order_id, req.evidence)
            return so.act(account_id, action, self.clock(), _corr(), evidence=evidence,
                          activation_time=req.actual_activation_time, note=req.note,
                          elements=req.acceptance_elements, recipient_phone=req.recipient_phone,
                          operator=operator, policy=self.policy)

        return await self._change_with_uow(so_id, account_id, decide)

    async def raise_appeal(self, so_id: str, account_id: str, req: AppealRequest) -> ServiceOrder:
        return await self._change(so_id, lambda so, _: so.raise_appeal(
            account_id, req.reason, req.demands, req.attachments, self.clock(), _corr(), self.policy),
            account_id=account_id)

    async def resolve_appeal(self, so_id: str, appeal_id: str, account_id: str, req: ResolveAppeal) -> ServiceOrder:
        return await self._change(so_id, lambda so, op: so.resolve_appeal(
            account_id, appeal_id, req.outcome, self.clock(), _corr(), operator=op, node=req.node, note=req.note,
            policy=self.policy), account_id=account_id)

    async def request_refund(self, so_id: str, account_id: str, req: RefundRequest) -> ServiceOrder:
        refund_id = f"RF-{uuid.uuid4().hex[:12]}"
        return await self._change(so_id, lambda so, _: self._request(so, account_id, refund_id, req))

    async def decide_refund(self, so_id: str, refund_id: str, account_id: str, req: RefundDecision) -> ServiceOrder:
        return await self._change(so_id, lambda so, _: so.decide_refund(
            account_id, refund_id, req.approve, req.opinion, self.clock(), _corr()))

    def _request(self, so: ServiceOrder, account: str, refund_id: str, req: RefundRequest) -> list[Event]:
        so.request_refund(account, refund_id, req.amount, req.reason, self.clock())
        return []

    # --- timers -------------------------------------------------------------------------------------

    async def fire_due(self, limit: int = 100) -> int:
        """Fire every deadline whose time has come; each in its own transaction. The number fired."""
        async with self.uow() as uow:
            due = await uow.timers.due(self.clock(), limit)
        for row in due:
            await self._change(row["service_order_id"], self._firing(row["_id"]))
        return len(due)

    def _firing(self, deadline_id: str) -> Decide:
        return lambda so, _: so.fire(deadline_id, self.clock(), _corr(), self.policy)

    # --- reads --------------------------------------------------------------------------------------

    async def get(self, so_id: str, viewer: str) -> ServiceOrder:
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
            so.role_of(viewer, await uow.operators.is_operator(viewer))
        return so

    async def get_by_order(self, order_id: str, viewer: str) -> ServiceOrder:
        """The order's service order; for an unsupervised product a 404 that says so (code not_supervised)."""
        async with self.uow() as uow:
            so = await uow.service_orders.get(ServiceOrder.id_for(order_id))
            operator = await uow.operators.is_operator(viewer)
            marker = None if so else await uow.unsupervised.get(order_id)
        if so is not None:
            so.role_of(viewer, operator)
            return so
        if marker is not None:
            party = viewer in (marker["parties"]["buyer_account_id"], marker["parties"]["merchant_account_id"])
            if not (party or operator):
                raise Forbidden(f"account {viewer} is not a party of order {order_id}")
            raise NotSupervised(f"order {order_id} is for a {marker['delivery_type']} product, which is not "
                                f"supervised (dossier §1.2): it has no service order")
        raise NotFound(f"order {order_id} has no service order (yet)")

    async def upload(self, so_id: str, account_id: str, kind: str, name: str, content_type: str,
                     data: bytes) -> dict[str, Any]:
        self.limits.check(content_type, len(data))

        async def decide(so: ServiceOrder, operator: bool, uow: SupervisionUnitOfWork) -> list[Event]:
            meta.update(await files.store(uow, so, account_id, operator, kind, name, content_type, data,
                                          self.clock()))
            return []

        meta: dict[str, Any] = {}
        await self._change_with_uow(so_id, account_id, decide)
        return meta

    async def download(self, so_id: str, file_id: str, viewer: str) -> dict[str, Any]:
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
            so.role_of(viewer, await uow.operators.is_operator(viewer))  # parties and operators only
            doc = await uow.files.get(file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {file_id} is not attached to service order {so_id}")
        return doc

    async def export(self, so_id: str, viewer: str) -> dict[str, Any]:
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
            so.role_of(viewer, await uow.operators.is_operator(viewer))
            docs = await uow.files.of(so_id)
        return files.export(so, docs)

    # --- plumbing -----------------------------------------------------------------------------------

    async def _change(self, so_id: str, decide: Decide, *, account_id: str | None = None,
                      claim: Event | None = None) -> ServiceOrder:
        async def with_uow(so: ServiceOrder, operator: bool, _: SupervisionUnitOfWork) -> list[Event]:
            return decide(so, operator)

        return await self._change_with_uow(so_id, account_id, with_uow, claim=claim)

    async def _change_with_uow(
            self, so_id: str, account_id: str | None,
            decide: Callable[[ServiceOrder, bool, SupervisionUnitOfWork], Awaitable[list[Event]]], *,
            claim: Event | None = None) -> ServiceOrder:
        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so = await self._load(uow, so_id)
            if claim is not None and not await uow.claim(CONSUMER, claim):
                return so
            operator = account_id is not None and await uow.operators.is_operator(account_id)
            uow.emit(*await decide(so, operator, uow))
            await uow.service_orders.save(so)
            await uow.timers.sync(so)
            await uow.commit()
            return so

        return await self.uow.run(work)

    @staticmethod
    async def _load(uow: SupervisionUnitOfWork, so_id: str) -> ServiceOrder:
        so = await uow.service_orders.get(so_id)
        if so is None:
            raise NotFound(f"service order {so_id} does not exist")
        return so


__all__ = ["ActionRequest", "AppealRequest", "Forbidden", "SupervisionService"]
