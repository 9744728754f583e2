"""Use cases: load the service order, let the domain decide, save it with its events."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field

from services.supervision.domain import Evidence, ServiceOrder
from services.supervision.flows import template_for
from services.supervision.store import SupervisionUnitOfWork
from shared.platform.errors import NotFound, PermanentError
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import OrderPaid

CONSUMER = "supervision"
log = logging.getLogger("supervision.services")


class ActionRequest(BaseModel):
    note: str = Field("", max_length=2000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    actual_activation_time: AwareDatetime | None = Field(
        None, description="When the service really started (deliver only); the order's validity starts here")


class AppealRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    demands: str = Field(min_length=1, max_length=2000)
    attachments: list[str] = Field(default_factory=list, max_length=20)


class SupervisionService:
    def __init__(self, uow: UnitOfWorkFactory[SupervisionUnitOfWork]) -> None:
        self.uow = uow

    async def on_order_paid(self, event: OrderPaid) -> ServiceOrder | None:
        """Open the service order of a supervised new purchase. None if not supervised or a duplicate."""
        p = event.payload
        if not p.product.delivery_type.supervised:
            return None  # image, API, instant-use SaaS: no service order (dossier §1.2)
        if p.order_type != "new":
            return None  # a renewal of a supervised order creates no new supervision flow (dossier §1.6)
        template = template_for(p.product.delivery_type)
        if template is None:
            raise PermanentError(f"no flow template for delivery type {p.product.delivery_type.value}")

        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder | None:
            if not await uow.claim(CONSUMER, event):
                return None
            so = ServiceOrder.open(p.order_id, p.parties, p.product, template, datetime.now(UTC))
            await uow.service_orders.add(so)
            await uow.commit()
            return so

        return await self.uow.run(work)

    async def act(self, service_order_id: str, account_id: str, action: str, req: ActionRequest) -> ServiceOrder:
        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so = await self._load(uow, service_order_id)
            uow.emit(*so.act(account_id, action, datetime.now(UTC), uuid.uuid4().hex, evidence=req.evidence,
                             activation_time=req.actual_activation_time, note=req.note))
            await uow.service_orders.save(so)
            await uow.commit()
            return so

        return await self.uow.run(work)

    async def raise_appeal(self, service_order_id: str, account_id: str, req: AppealRequest) -> ServiceOrder:
        async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
            so = await self._load(uow, service_order_id)
            uow.emit(*so.raise_appeal(account_id, req.reason, req.demands, req.attachments, datetime.now(UTC),
                                      uuid.uuid4().hex))
            await uow.service_orders.save(so)
            await uow.commit()
            return so

        return await self.uow.run(work)

    async def get(self, service_order_id: str, viewer: str) -> ServiceOrder:
        async with self.uow() as uow:
            so = await self._load(uow, service_order_id)
        so.role_of(viewer)
        return so

    @staticmethod
    async def _load(uow: SupervisionUnitOfWork, service_order_id: str) -> ServiceOrder:
        so = await uow.service_orders.get(service_order_id)
        if so is None:
            raise NotFound(f"service order {service_order_id} does not exist")
        return so
