"""HTTP routes: thin adapters onto the use cases. The caller is the verified bearer token's account; what it
may do is decided by the service order (its buyer and merchant, from order.paid) and, for operators, by the
token's operator role: operators read service orders, evidence and exports, resolve appeals and do the
platform review (dossier §5.3, §3.5), and never act as the buyer or the merchant. Every refusal is a 403
naming its rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime

from services.supervision import evidence, flow_cases
from services.supervision.bodies import BoundedBody, BoundedUpload
from services.supervision.commands import ActionRequest, AppealRequest, AssignAppeal, ResolveAppeal
from services.supervision.queries import QueueFilter, ServiceOrderFilter, SupervisionQueries
from services.supervision.service_order import ServiceOrder
from services.supervision.service_order.state import Status
from services.supervision.services import SupervisionService
from shared.platform.auth import Operator, Party, Principal, require_role
from shared.platform.errors import InvalidInput
from shared.schemas import AccountRole, DeliveryType

router = APIRouter(tags=["service orders"], route_class=BoundedBody)
uploads = APIRouter(tags=["service orders"], route_class=BoundedUpload)

Action = Annotated[
    str, Path(pattern=r"^[a-z_]{1,32}$", description="e.g. submit, confirm, send_back, deliver")
]
OrderId = Annotated[str, Path(min_length=1, max_length=128)]
ServiceOrderId = Annotated[str, Path(min_length=1, max_length=128, description="SO-<order id>")]
AppealId = Annotated[str, Path(min_length=1, max_length=64)]
FileId = Annotated[str, Path(min_length=1, max_length=64)]
# Dossier §5.1: the buyer or the merchant appeals; operators resolve, they do not appeal.
Appellant = Annotated[
    Principal, require_role(AccountRole.BUYER, AccountRole.MERCHANT, rule="buyers_and_merchants_only")
]
EXPORT_SCHEMA: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export document (format koo-supervision-export/1), streamed",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _svc(request: Request) -> SupervisionService:
    """The use cases' ground (app.py puts it in the app's state)."""
    return cast(SupervisionService, request.app.state.supervision)


def _queries(request: Request) -> SupervisionQueries:
    """The read side."""
    return cast(SupervisionQueries, request.app.state.queries)


@router.get("/timeline-keys")
async def timeline_keys(request: Request) -> dict[str, Any]:
    """The public keys of the timeline's signed checkpoints, by key id (public, like a JWKS: no token)."""
    return _queries(request).timeline_keys()


@router.get("/service-orders")
async def list_service_orders(
    caller: Party,
    request: Request,
    status: Annotated[Status | None, Query()] = None,
    node: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    delivery_type: Annotated[DeliveryType | None, Query()] = None,
    order_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="Created at or after")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="Created before")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> dict[str, Any]:
    """Dossier §9.2, §2.1: the caller's service orders, newest first, filtered and paged (`next_cursor`): a
    buyer's purchases, a merchant's sales, every one for operators. Each row says where the flow waits and
    its nearest deadline."""
    if created_from and created_to and created_from >= created_to:
        raise InvalidInput("created_from must be before created_to", field="created_from")
    f = ServiceOrderFilter(
        status=status.value if status else None,
        node=node,
        delivery_type=delivery_type.value if delivery_type else None,
        order_id=order_id,
        created_from=created_from,
        created_to=created_to,
    )
    return await _queries(request).service_orders_page(caller, f, limit, cursor)


@router.get("/service-orders/by-order/{order_id}")
async def get_by_order(order_id: OrderId, caller: Party, request: Request) -> ServiceOrder:
    """Read the service order of a purchase order (404 not_supervised for an unsupervised product)."""
    return await _queries(request).of_order(order_id, caller)


@router.get("/service-orders/{service_order_id}")
async def get_service_order(
    service_order_id: ServiceOrderId, caller: Party, request: Request
) -> ServiceOrder:
    """Read a service order: node, timeline, what happens next and when (its parties and operators)."""
    return await _queries(request).service_order(service_order_id, caller)


@router.post("/service-orders/{service_order_id}/actions/{action}")
async def act(
    service_order_id: ServiceOrderId,
    action: Action,
    caller: Party,
    request: Request,
    body: ActionRequest | None = None,
) -> ServiceOrder:
    """Do the current node's step as its actor (refused with 409 while an appeal is open)."""
    return await flow_cases.act(_svc(request), service_order_id, caller, action, body or ActionRequest())


@router.post("/service-orders/{service_order_id}/appeals", status_code=201)
async def raise_appeal(
    service_order_id: ServiceOrderId, body: AppealRequest, caller: Appellant, request: Request
) -> ServiceOrder:
    """Raise an appeal as the buyer or the merchant, at any node; the flow and its clocks freeze."""
    return await flow_cases.raise_appeal(_svc(request), service_order_id, caller, body)


@router.post("/service-orders/{service_order_id}/appeals/{appeal_id}/resolution")
async def resolve_appeal(
    service_order_id: ServiceOrderId,
    appeal_id: AppealId,
    body: ResolveAppeal,
    caller: Operator,
    request: Request,
) -> ServiceOrder:
    """Resolve the open appeal as a platform operator: resume at a node, complete, or refund."""
    return await flow_cases.resolve_appeal(_svc(request), service_order_id, appeal_id, caller, body)


# Dossier §5.3 (the platform's operations manager handles each appeal within 3 working days) and §9.2
# (operators list appeals): the queue, oldest SLA first.
@router.get("/appeals")
async def appeal_queue(
    caller: Operator,
    request: Request,
    status: Annotated[Literal["open", "escalated", "resolved"] | None, Query()] = None,
    raised_before: Annotated[AwareDatetime | None, Query()] = None,
    raised_after: Annotated[AwareDatetime | None, Query()] = None,
    overdue: Annotated[bool | None, Query(description="true: the SLA has passed, unresolved")] = None,
    due_within_hours: Annotated[
        float | None, Query(gt=0, le=24 * 30, description="Unresolved, the SLA due within this many hours")
    ] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    unassigned: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> dict[str, Any]:
    """The operators' appeal queue, oldest SLA first, filtered and paged (next_cursor)."""
    f = QueueFilter(
        now=_svc(request).clock(),
        status=status,
        raised_before=raised_before,
        raised_after=raised_after,
        overdue=overdue,
        due_within_hours=due_within_hours,
        assignee=assignee,
        unassigned=unassigned,
    )
    return await _queries(request).appeals(caller, f, limit, cursor)


@router.post("/appeals/{appeal_id}/assign")
async def assign_appeal(
    appeal_id: AppealId, caller: Operator, request: Request, body: AssignAppeal | None = None
) -> ServiceOrder:
    """Assign an open appeal to an operator (default: the caller); a reassignment is on the timeline too."""
    assignee = body.assignee_account_id if body else None
    return await flow_cases.assign_appeal(_svc(request), appeal_id, caller, assignee)


@uploads.post("/service-orders/{service_order_id}/files", status_code=201)
async def upload(
    service_order_id: ServiceOrderId,
    caller: Party,
    request: Request,
    file: Annotated[
        UploadFile, File(description="PDF, image, text or office document; its type is read from its content")
    ],
    kind: Annotated[str, Form(min_length=1, max_length=64)],
) -> dict[str, Any]:
    """Upload an evidence file (size and type limited), stored with its SHA-256 and put on the timeline."""
    svc = _svc(request)
    await _queries(request).service_order(service_order_id, caller)  # a stranger is refused before it sends
    received = await evidence.receive(_chunks(file), svc.limits)
    return await flow_cases.upload(
        svc, service_order_id, caller, kind, evidence.safe_name(file.filename), received
    )


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(evidence.CHUNK):
        yield chunk


@router.get("/service-orders/{service_order_id}/files/{file_id}")
async def download(
    service_order_id: ServiceOrderId, file_id: FileId, caller: Party, request: Request
) -> Response:
    """Download an evidence file (the order's parties and operators only)."""
    doc = await _queries(request).file(service_order_id, file_id, caller)
    return Response(
        doc["data"],
        media_type=doc["content_type"],
        headers={
            "X-Content-SHA256": doc["sha256"],
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{doc["file_id"]}"',
        },
    )


@router.get(
    "/service-orders/{service_order_id}/export", response_class=StreamingResponse, responses=EXPORT_SCHEMA
)
async def export(service_order_id: ServiceOrderId, caller: Party, request: Request) -> StreamingResponse:
    """Export the timeline and evidence; check it with `python -m services.supervision.verify export.json`."""
    body = await _queries(request).export(service_order_id, caller)
    return StreamingResponse(body, media_type="application/json")


router.include_router(uploads)
