"""HTTP routes: thin adapters onto the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.supervision.domain import ServiceOrder
from services.supervision.services import ActionRequest, AppealRequest, SupervisionService
from shared.platform.http import AccountId

router = APIRouter(tags=["service orders"])
Action = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$", description="e.g. submit, confirm, send_back, deliver")]


def _svc(request: Request) -> SupervisionService:
    service: SupervisionService = request.app.state.supervision
    return service


@router.get("/service-orders/by-order/{order_id}")
async def get_by_order(order_id: str, viewer: AccountId, request: Request) -> ServiceOrder:
    """Read the service order of a purchase order, with its timeline (its buyer and merchant only)."""
    return await _svc(request).get(ServiceOrder.id_for(order_id), viewer)


@router.get("/service-orders/{service_order_id}")
async def get_service_order(service_order_id: str, viewer: AccountId, request: Request) -> ServiceOrder:
    """Read a service order with its timeline (its buyer and merchant only)."""
    return await _svc(request).get(service_order_id, viewer)


@router.post("/service-orders/{service_order_id}/actions/{action}")
async def act(service_order_id: str, action: Action, actor: AccountId, request: Request,
              body: ActionRequest | None = None) -> ServiceOrder:
    """Do the current node's step as its actor (refused with 409 while an appeal is open)."""
    return await _svc(request).act(service_order_id, actor, action, body or ActionRequest())


@router.post("/service-orders/{service_order_id}/appeals", status_code=201)
async def raise_appeal(service_order_id: str, body: AppealRequest, actor: AccountId,
                       request: Request) -> ServiceOrder:
    """Raise an appeal as the buyer or the merchant, at any node; the flow freezes."""
    return await _svc(request).raise_appeal(service_order_id, actor, body)
