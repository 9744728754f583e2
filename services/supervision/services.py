"""Use cases: load the service order, let the domain decide, save it with its events and its timers.

Every change goes through `_change`: one unit of work that loads the service order, asks the domain, saves the
new state, rewrites its rows in `timers`, and stores the events in the outbox, all in one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from services.supervision import evidence as files
from services.supervision.commands import ActionRequest, AppealRequest, RefundDecision, RefundRequest, ResolveAppeal
from services.supervision.domain import ServiceOrder
from services.supervision.rules import Policy, acceptance_rule, check_milestone_offer
from services.supervision.store import SupervisionUnitOfWork
from services.supervision.templates import template_for
from shared.platform.auth import Principal, require_party
from shared.platform.errors import Forbidden, NotFound, NotYetKnown, PermanentError
from shared.platform.mongo import Doc, UnitOfWorkFactory
from shared.schemas import AccountErased, Event, OrderPaid, RefundRequested

CONSUMER = "supervision"
log = logging.getLogger("supervision.services")
Decide = Callable[[ServiceOrder], list[Event]]


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

    # --- consumed events: each through the runner's `handle` (its id claimed in the same transaction) ---------

    async def on_order_paid(self, event: OrderPaid) -> ServiceOrder | None:
        """Open the service order of a supervised new purchase. None if not supervised or a duplicate."""
        p = event.payload
        if not p.product.delivery_type.supervised:
            # Image, API, instant-use SaaS: no service order (dossier §1.2); a marker says why there is none.
            await self.uow.handle(CONSUMER, event, lambda uow: uow.unsupervised.add(p.order_id, {
                "delivery_type": p.product.delivery_type.value, "parties": p.parties.model_dump()}))
            return None
        if p.order_type != "new":
            return None  # a renewal of a supervised order creates no new supervision flow (dossier §1.6)
        check_milestone_offer(p)  # refused offers are dead-lettered with the rule in the reason
        template = template_for(p.product.delivery_type, p.product.flow_template)
        if template is None:
            raise PermanentError(f"no flow template for delivery type {p.product.delivery_type.value}")

        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so, events = ServiceOrder.from_order_paid(p, template, acceptance_rule(p), self.clock(),
                                                      event.correlation_id, self.policy)
            if await uow.erasures.erased(p.parties.buyer_account_id):
                so.erase_contact(self.clock())  # the buyer erased its contact data before this order reached us
            await uow.service_orders.add(so)
            await uow.timers.sync(so)
            uow.emit(*events)
            return so

        return await self.uow.handle(CONSUMER, event, work)

    async def on_account_erased(self, event: AccountErased) -> int:
        """Mask the contact data supervision holds for the account: the hardware delivery contact of the service
        orders where it is the buyer (of which supervision keeps only the phone; name and address are never
        stored). The timeline is evidence and stays as it is: what a record must keep is kept. The number of
        service orders masked; a redelivered event masks nothing again (its id is claimed in the same
        transaction as the masking)."""
        p = event.payload

        async def work(uow: SupervisionUnitOfWork) -> int:
            await uow.erasures.record(p.account_id, p.erased_at)  # an order.paid that arrives later is masked too
            masked = 0
            for so_id in await uow.erasures.holding_contact(p.account_id):
                so = await self._load(uow, so_id)
                if so.erase_contact(p.erased_at):
                    await uow.service_orders.save(so)
                    masked += 1
            return masked

        return await self.uow.handle(CONSUMER, event, work) or 0

    async def on_refund_requested(self, event: RefundRequested) -> ServiceOrder | None:
        """The buyer's refund request from the orders service's purchased-services page: the same as ours. It may
        come before the order.paid that opens the service order (another topic): then it waits, parked."""
        p = event.payload

        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so = await self._opened(uow, p.order_id)
            await self._save(uow, so, self._request(so, p.parties.buyer_account_id, p.refund_id,
                                                    RefundRequest(amount=p.amount, reason=p.reason)))
            return so

        return await self.uow.handle(CONSUMER, event, work)

    # --- commands (the caller is the verified token's account; operators per step, dossier §5.3) --------------

    async def act(self, so_id: str, caller: Principal, action: str, req: ActionRequest) -> ServiceOrder:
        """The current node's step. Operators only at the steps that are theirs (the platform review, §3.5)."""
        async def decide(so: ServiceOrder, uow: SupervisionUnitOfWork) -> list[Event]:
            _admit(so, caller, operators=True)
            evidence = await files.resolve(uow, so.service_order_id, req.evidence)
            return so.act(caller.account_id, action, self.clock(), _corr(), evidence=evidence,
                          activation_time=req.actual_activation_time, note=req.note,
                          elements=req.acceptance_elements, recipient_phone=req.recipient_phone,
                          operator=caller.is_operator, policy=self.policy)

        return await self._change_with_uow(so_id, decide)

    async def raise_appeal(self, so_id: str, caller: Principal, req: AppealRequest) -> ServiceOrder:
        def decide(so: ServiceOrder) -> list[Event]:
            _admit(so, caller, operators=False)  # the buyer or the merchant (dossier §5.1)
            return so.raise_appeal(caller.account_id, req.reason, req.demands, req.attachments, self.clock(),
                                   _corr(), self.policy)

        return await self._change(so_id, decide)

    async def resolve_appeal(self, so_id: str, appeal_id: str, caller: Principal,
                             req: ResolveAppeal) -> ServiceOrder:
        return await self._change(so_id, lambda so: so.resolve_appeal(
            caller.account_id, appeal_id, req.outcome, self.clock(), _corr(), operator=caller.is_operator,
            node=req.node, note=req.note, policy=self.policy))

    async def request_refund(self, so_id: str, caller: Principal, req: RefundRequest) -> ServiceOrder:
        refund_id = f"RF-{uuid.uuid4().hex[:12]}"

        def decide(so: ServiceOrder) -> list[Event]:
            _admit(so, caller, operators=False)
            return self._request(so, caller.account_id, refund_id, req)

        return await self._change(so_id, decide)

    async def decide_refund(self, so_id: str, refund_id: str, caller: Principal,
                            req: RefundDecision) -> ServiceOrder:
        def decide(so: ServiceOrder) -> list[Event]:
            _admit(so, caller, operators=False)
            return so.decide_refund(caller.account_id, refund_id, req.approve, req.opinion, self.clock(), _corr())

        return await self._change(so_id, decide)

    def _request(self, so: ServiceOrder, account: str, refund_id: str, req: RefundRequest) -> list[Event]:
        so.request_refund(account, refund_id, req.amount, req.reason, self.clock())
        return []

    # --- timers: the use cases of the timer worker's source (services/supervision/worker.py) ---------------

    async def due_timers(self, now: datetime, limit: int, exclude: frozenset[str] = frozenset()) -> list[Doc]:
        """Deadlines whose time has come, earliest first, but for `exclude` (backing off after a failure, or
        quarantined)."""
        async with self.uow() as uow:
            return await uow.timers.due(now, limit, exclude)

    async def fire(self, timer: Doc) -> ServiceOrder:
        """Fire one deadline in its own transaction; firing it twice does nothing (it is gone after the first)."""
        deadline_id = str(timer["_id"])
        return await self._change(timer["service_order_id"],
                                  lambda so: so.fire(deadline_id, self.clock(), _corr(), self.policy))

    # --- reads (the order's parties and operators) -------------------------------------------------------

    async def get(self, so_id: str, caller: Principal) -> ServiceOrder:
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
        _admit(so, caller, operators=True)
        return so

    async def get_by_order(self, order_id: str, caller: Principal) -> ServiceOrder:
        """The order's service order; for an unsupervised product a 404 that says so (code not_supervised)."""
        async with self.uow() as uow:
            so = await uow.service_orders.get(ServiceOrder.id_for(order_id))
            marker = None if so else await uow.unsupervised.get(order_id)
        if so is not None:
            _admit(so, caller, operators=True)
            return so
        if marker is not None:
            parties = marker["parties"]
            require_party(caller, parties["buyer_account_id"], parties["merchant_account_id"],
                          what=f"order {order_id}", operators=True)
            raise NotSupervised(f"order {order_id} is for a {marker['delivery_type']} product, which is not "
                                f"supervised (dossier §1.2): it has no service order")
        raise NotFound(f"order {order_id} has no service order (yet)")

    async def upload(self, so_id: str, caller: Principal, kind: str, name: str,
                     upload: files.Received) -> dict[str, Any]:
        async def decide(so: ServiceOrder, uow: SupervisionUnitOfWork) -> list[Event]:
            _admit(so, caller, operators=True)
            meta.update(await files.store(uow, so, caller.account_id, caller.is_operator, kind, name, upload,
                                          self.clock()))
            return []

        meta: dict[str, Any] = {}
        await self._change_with_uow(so_id, decide)
        return meta

    async def admit_upload(self, so_id: str, caller: Principal) -> None:
        """Refuse a stranger before reading what it sends (the upload itself checks again, in its transaction)."""
        await self.get(so_id, caller)

    async def download(self, so_id: str, file_id: str, caller: Principal) -> dict[str, Any]:
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
            _admit(so, caller, operators=True)
            doc = await uow.files.get(file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {file_id} is not attached to service order {so_id}")
        return doc

    async def export(self, so_id: str, caller: Principal) -> AsyncIterator[bytes]:
        """Check who asks, then the export document as a stream: the files are read one at a time."""
        async with self.uow() as uow:
            so = await self._load(uow, so_id)
            _admit(so, caller, operators=True)
            metas = await uow.files.of(so_id)
        return files.export(so, metas, self._content)

    async def _content(self, file_id: str) -> bytes:
        async with self.uow() as uow:
            doc = await uow.files.get(file_id)
        if doc is None:  # files are never deleted: only a broken database gets here
            raise NotFound(f"file {file_id} is gone")
        return bytes(doc["data"])

    # --- plumbing -----------------------------------------------------------------------------------

    async def _change(self, so_id: str, decide: Decide) -> ServiceOrder:
        async def with_uow(so: ServiceOrder, _: SupervisionUnitOfWork) -> list[Event]:
            return decide(so)

        return await self._change_with_uow(so_id, with_uow)

    async def _change_with_uow(
            self, so_id: str,
            decide: Callable[[ServiceOrder, SupervisionUnitOfWork], Awaitable[list[Event]]]) -> ServiceOrder:
        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so = await self._load(uow, so_id)
            await self._save(uow, so, await decide(so, uow))
            await uow.commit()
            return so

        return await self.uow.run(work)

    @staticmethod
    async def _save(uow: SupervisionUnitOfWork, so: ServiceOrder, events: list[Event]) -> None:
        """The service order, its rows in `timers` and its events in the outbox: one transaction (committed by
        the runner or the caller)."""
        uow.emit(*events)
        await uow.service_orders.save(so)
        await uow.timers.sync(so)

    @staticmethod
    async def _load(uow: SupervisionUnitOfWork, so_id: str) -> ServiceOrder:
        so = await uow.service_orders.get(so_id)
        if so is None:
            raise NotFound(f"service order {so_id} does not exist")
        return so

    @staticmethod
    async def _opened(uow: SupervisionUnitOfWork, order_id: str) -> ServiceOrder:
        """The service order an event of another topic is about. Events of different topics arrive in any order:
        before its order.paid it is not known *yet* (the event is parked and handled again once order.paid opens
        it); an order of a product supervision never supervises will never have one (refused for good)."""
        so_id = ServiceOrder.id_for(order_id)
        so = await uow.service_orders.get(so_id)
        if so is not None:
            return so
        if await uow.unsupervised.get(order_id) is not None:
            raise NotSupervised(f"order {order_id} is not supervised (dossier §1.2): it has no service order")
        raise NotYetKnown(order_id, f"service order {so_id} is not open yet: the order.paid of order {order_id} "
                                    "has not arrived")


def _admit(so: ServiceOrder, caller: Principal, *, operators: bool) -> None:
    """403 unless the caller is the order's buyer or merchant (or, where `operators`, a platform operator)."""
    require_party(caller, so.parties.buyer_account_id, so.parties.merchant_account_id,
                  what=f"service order {so.service_order_id}", operators=operators)


__all__ = ["ActionRequest", "AppealRequest", "Forbidden", "SupervisionService"]
