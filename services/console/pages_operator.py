"""The operators' desk: the appeal queue with its SLA countdown (dossier §5.3: each appeal answered within 3
working days), product reviews (dossier §9.1), offers waiting for a special approval (§7.5), and what failed
to be delivered (notifications, and the dead letters of each service's consumers) with replay. An appeal is
resolved on its service order's page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import ServiceError
from services.console.i18n import APPEAL_STATUSES
from services.console.web import (
    back,
    back_to,
    check_csrf,
    idempotency_key,
    page_url,
    render,
    services_of,
    token_of,
    user_of,
)

router = APIRouter(prefix="/operator")
DEAD_LETTER_SERVICES = ("orders", "supervision", "partner")  # notification's failures are its dead deliveries


# --- the appeal queue -------------------------------------------------------------------------------------
def queue_params(filters: dict[str, str], me: str) -> dict[str, str]:
    """The queue page's filters as supervision's `GET /appeals` query: who is "unassigned" or "mine"."""
    params = {
        "status": filters["status"],
        "overdue": "true" if filters["overdue"] else "",
        "due_within_hours": filters["due_within_hours"],
        "unassigned": "true" if filters["who"] == "unassigned" else "",
        "assignee": me if filters["who"] == "mine" else "",
    }
    return {k: v for k, v in params.items() if v}


@router.get("/appeals", response_class=HTMLResponse)
async def appeal_queue(request: Request) -> Response:
    user = user_of(request)
    q = request.query_params
    filters = {k: str(q.get(k) or "") for k in ("status", "overdue", "due_within_hours", "who")}
    cursor = str(q.get("cursor") or "")
    page: dict[str, Any] = {"appeals": [], "next_cursor": None}
    error: ServiceError | None = None
    try:
        params = queue_params(filters, user["sub"])
        if cursor:
            params["cursor"] = cursor
        page = await services_of(request).call(
            await token_of(request), "GET", "supervision", "/appeals", params=params
        )
    except ServiceError as exc:
        error = exc
    here = page_url("/operator/appeals", filters, cursor=cursor)
    return render(
        request,
        "appeals.html",
        page=page,
        filters=filters,
        statuses=APPEAL_STATUSES,
        here=here,
        next_url=page_url("/operator/appeals", filters, cursor=page["next_cursor"])
        if page.get("next_cursor")
        else "",
        first_url=page_url("/operator/appeals", filters) if cursor else "",
        error=error,
    )


@router.post("/appeals/{appeal_id}/assign")
async def assign(request: Request, appeal_id: str) -> Response:
    """Take the appeal: supervision assigns it to the caller and puts that on the timeline."""
    await check_csrf(request)
    to = back_to(request, "/operator/appeals")
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "supervision",
            f"/appeals/{appeal_id}/assign",
            key=await idempotency_key(request, appeal_id),
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


# --- product reviews --------------------------------------------------------------------------------------
@router.get("/products", response_class=HTMLResponse)
async def product_reviews(request: Request, cursor: str = "") -> Response:
    """Products submitted for review, oldest first (orders `GET /operator/product-reviews`)."""
    user_of(request)
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    error: ServiceError | None = None
    try:
        page = await services_of(request).call(
            await token_of(request),
            "GET",
            "orders",
            "/operator/product-reviews",
            params={"cursor": cursor} if cursor else {},
        )
    except ServiceError as exc:
        error = exc
    nxt = page.get("next_cursor")
    return render(
        request,
        "reviews.html",
        page=page,
        next_url=page_url("/operator/products", {}, cursor=nxt) if nxt else "",
        first_url="/operator/products" if cursor else "",
        error=error,
    )


@router.post("/products/{product_id}/review")
async def review(request: Request, product_id: str) -> Response:
    """Approve (the product is listed) or reject with a note the merchant reads (dossier §9.1)."""
    await check_csrf(request)
    form = await request.form()
    decision = str(form.get("decision") or "")
    if decision not in ("approve", "reject"):
        return back(request, "/operator/products", ServiceError(422, "approve or reject", "decision"))
    body = {"approve": decision == "approve", "note": str(form.get("note") or "")}
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "orders",
            f"/products/{product_id}/review",
            json=body,
            key=await idempotency_key(request, product_id),
        )
    except ServiceError as exc:
        return back(request, "/operator/products", exc)
    return back(request, "/operator/products")


# --- offers waiting for a special approval ----------------------------------------------------------------
@router.get("/offers", response_class=HTMLResponse)
async def offer_approvals(request: Request, cursor: str = "") -> Response:
    """Offers beyond their products' authorized discount, waiting in manual handling for an operator's
    special approval (dossier §7.5; partner `GET /offers?status=manual_handling`), newest first."""
    user_of(request)
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    error: ServiceError | None = None
    params = {"status": "manual_handling", **({"cursor": cursor} if cursor else {})}
    try:
        page = await services_of(request).call(
            await token_of(request), "GET", "partner", "/offers", params=params
        )
    except ServiceError as exc:
        error = exc
    nxt = page.get("next_cursor")
    return render(
        request,
        "approvals.html",
        page=page,
        next_url=page_url("/operator/offers", {}, cursor=nxt) if nxt else "",
        first_url="/operator/offers" if cursor else "",
        error=error,
    )


@router.post("/offers/{offer_id}/decision")
async def decide_offer(request: Request, offer_id: str) -> Response:
    """Approve the offer (it takes effect) or reject it with the reason its issuer reads (dossier §7.5)."""
    await check_csrf(request)
    form = await request.form()
    decision, note = str(form.get("decision") or ""), str(form.get("note") or "").strip()
    if decision not in ("approve", "reject"):
        return back(request, "/operator/offers", ServiceError(422, "approve or reject", "decision"))
    if decision == "reject" and not note:
        return back(request, "/operator/offers", ServiceError(422, "a rejection says why", "note"))
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "partner",
            f"/offers/{offer_id}/{decision}",
            json={"note": note},
            key=await idempotency_key(request, offer_id),
        )
    except ServiceError as exc:
        return back(request, "/operator/offers", exc)
    return back(request, "/operator/offers")


# --- dead deliveries and dead letters ---------------------------------------------------------------------
@router.get("/dead", response_class=HTMLResponse)
async def dead(request: Request, replayed: str = "") -> Response:
    """Notification's dead and refused deliveries, and each service's dead letters (by default those not
    replayed yet); each section on its own, so one service that does not answer hides only its part."""
    user_of(request)
    token, services = await token_of(request), services_of(request)
    deliveries: dict[str, Any] = {"rows": [], "error": None}
    try:
        deliveries["rows"] = await services.call(token, "GET", "notification", "/operator/deliveries/dead")
    except ServiceError as exc:
        deliveries["error"] = exc
    letters: dict[str, dict[str, Any]] = {}
    for service in DEAD_LETTER_SERVICES:
        letters[service] = {"rows": [], "error": None}
        try:
            letters[service]["rows"] = await services.call(
                token,
                "GET",
                service,
                "/operator/dead-letters",
                params={"not_replayed_only": "false" if replayed else "true"},
            )
        except ServiceError as exc:
            letters[service]["error"] = exc
    return render(request, "dead.html", deliveries=deliveries, letters=letters, replayed=bool(replayed))


@router.post("/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, delivery_id: str) -> Response:
    await check_csrf(request)
    to = back_to(request, "/operator/dead")
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "notification",
            f"/operator/deliveries/{delivery_id}/replay",
            key=await idempotency_key(request, delivery_id),
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


@router.post("/dead-letters/{service}/{dead_letter_id}/replay")
async def replay_dead_letter(request: Request, service: str, dead_letter_id: str) -> Response:
    """Republish a dead letter to its topic (the service's `POST /operator/dead-letters/{id}/replay`)."""
    if service not in DEAD_LETTER_SERVICES:
        raise HTTPException(404)
    await check_csrf(request)
    to = back_to(request, "/operator/dead")
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            service,
            f"/operator/dead-letters/{dead_letter_id}/replay",
            key=await idempotency_key(request, f"{service}:{dead_letter_id}"),
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)
