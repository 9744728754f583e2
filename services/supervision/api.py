"""HTTP routes: thin adapters onto the use cases. The caller is the X-Account-Id account; what it may do is
decided by the service order (its buyer and merchant) and the operator registry, never by a claimed role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import Response

from services.supervision.commands import (
    ActionRequest,
    AppealRequest,
    RefundDecision,
    RefundRequest,
    ResolveAppeal,
)
from services.supervision.domain import ServiceOrder
from services.supervision.services import SupervisionService
from shared.platform.http import AccountId

router = APIRouter(tags=["service orders"])
Action = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$", description="e.g. submit, confirm, send_back, deliver")]


def _svc(request: Request) -> SupervisionService:
    service: SupervisionService = request.app.state.supervision
    return service


@router.get("/service-orders/by-order/{order_id}")
async def get_by_order(order_id: str, viewer: AccountId, request: Request) -> ServiceOrder:
    """Read the service order of a purchase order (404 not_supervised for a product that is not supervised)."""
    return await _svc(request).get_by_order(order_id, viewer)


@router.get("/service-orders/{service_order_id}")
async def get_service_order(service_order_id: str, viewer: AccountId, request: Request) -> ServiceOrder:
    """Read a service order: node, timeline, what happens next and when (its parties and operators)."""
    return await _svc(request).get(service_order_id, viewer)


@router.post("/service-orders/{service_order_id}/actions/{action}")
async def act(service_order_id: str, action: Action, actor: AccountId, request: Request,
              body: ActionRequest | None = None) -> ServiceOrder:
    """Do the current node's step as its actor (refused with 409 while an appeal is open)."""
    return await _svc(request).act(service_order_id, actor, action, body or ActionRequest())


@router.post("/service-orders/{service_order_id}/appeals", status_code=201)
async def raise_appeal(service_order_id: str, body: AppealRequest, actor: AccountId,
                       request: Request) -> ServiceOrder:
    """Raise an appeal as the buyer or the merchant, at any node; the flow and its clocks freeze."""
    return await _svc(request).raise_appeal(service_order_id, actor, body)


@router.post("/service-orders/{service_order_id}/appeals/{appeal_id}/resolution")
async def resolve_appeal(service_order_id: str, appeal_id: str, body: ResolveAppeal, actor: AccountId,
                         request: Request) -> ServiceOrder:
    """Resolve the open appeal as a platform operator: resume at a node, complete, or refund."""
    return await _svc(request).resolve_appeal(service_order_id, appeal_id, actor, body)


@router.post("/service-orders/{service_order_id}/refunds", status_code=201)
async def request_refund(service_order_id: str, body: RefundRequest, actor: AccountId,
                         request: Request) -> ServiceOrder:
    """Request a negotiated refund as the buyer, in the guarantee period."""
    return await _svc(request).request_refund(service_order_id, actor, body)


@router.post("/service-orders/{service_order_id}/refunds/{refund_id}/decision")
async def decide_refund(service_order_id: str, refund_id: str, body: RefundDecision, actor: AccountId,
                        request: Request) -> ServiceOrder:
    """Approve or reject a refund request as the merchant, with an opinion."""
    return await _svc(request).decide_refund(service_order_id, refund_id, actor, body)


@router.post("/service-orders/{service_order_id}/files", status_code=201)
async def upload(service_order_id: str, actor: AccountId, request: Request, file: Annotated[UploadFile, File()],
                 kind: Annotated[str, Form(min_length=1, max_length=64)]) -> dict[str, Any]:
    """Upload an evidence file (size and type limited); it is stored with its SHA-256 and put on the timeline."""
    data = await file.read()
    meta = await _svc(request).upload(service_order_id, actor, kind, file.filename or "file",
                                      file.content_type or "application/octet-stream", data)
    return {k: v for k, v in meta.items() if k != "data"}


@router.get("/service-orders/{service_order_id}/files/{file_id}")
async def download(service_order_id: str, file_id: str, viewer: AccountId, request: Request) -> Response:
    """Download an evidence file (the order's parties and operators only)."""
    doc = await _svc(request).download(service_order_id, file_id, viewer)
    return Response(doc["data"], media_type=doc["content_type"],
                    headers={"X-Content-SHA256": doc["sha256"],
                             "Content-Disposition": f'attachment; filename="{doc["file_id"]}"'})


@router.get("/service-orders/{service_order_id}/export")
async def export(service_order_id: str, viewer: AccountId, request: Request) -> dict[str, Any]:
    """Export the timeline and evidence; check it with `python -m services.supervision.verify export.json`."""
    return await _svc(request).export(service_order_id, viewer)
