"""The centres' pages: thin adapters that call the services with the user's token and render what they answer.

Form posts follow post/redirect/get: the step is taken, then the browser is sent back to the page, with the
service's own words as a flash message when it refused (its 4xx's field and reason, never a stack trace).
Every post carries the session's CSRF token (with SameSite=Lax on the session cookie).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.console.backend import ServiceError, Services
from services.console.i18n import DELIVERY_TYPES, SO_STATUSES
from services.console.web import (
    BEIJING_OFFSET,
    back,
    beijing_day,
    check_csrf,
    page_url,
    render,
    services_of,
    token_of,
    user_of,
)

router = APIRouter()


# --- one order and its service order, for each of its parties ------------------------------------------
@router.get("/service-orders", response_class=HTMLResponse)
async def service_orders(request: Request, order_id: str = "") -> Response:
    """Dossier §2.1, §9.2: the caller's service orders (a buyer's purchases, a merchant's sales, every one for
    operators), newest first, filtered and paged by supervision; an order id opens that one."""
    user_of(request)
    if order_id.strip():
        return RedirectResponse(f"/orders/{order_id.strip()}", status_code=303)
    q = request.query_params
    filters = {k: str(q.get(k) or "") for k in ("status", "delivery_type", "created_from", "created_to")}
    kept = {**filters, "limit": str(q.get("limit") or "")}  # a page size given in the URL stays on the next
    cursor = str(q.get("cursor") or "")
    page: dict[str, Any] = {"service_orders": [], "next_cursor": None}
    error: ServiceError | None = None
    try:
        params = {
            "status": filters["status"],
            "delivery_type": filters["delivery_type"],
            "created_from": beijing_day(filters["created_from"], "created_from"),
            "created_to": beijing_day(filters["created_to"], "created_to", after=True),
            "cursor": cursor,
            "limit": kept["limit"] or "20",
        }
        page = await services_of(request).call(
            await token_of(request),
            "GET",
            "supervision",
            "/service-orders",
            params={k: v for k, v in params.items() if v},
        )
    except ServiceError as exc:
        error = exc
    return render(
        request,
        "service_orders.html",
        page=page,
        filters=filters,
        statuses=SO_STATUSES,
        delivery_types=DELIVERY_TYPES,
        next_url=page_url("/service-orders", kept, cursor=page["next_cursor"] or "")
        if page.get("next_cursor")
        else "",
        first_url=page_url("/service-orders", kept) if cursor else "",
        error=error,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str) -> Response:
    user = user_of(request)
    token, services = await token_of(request), services_of(request)
    try:
        order = await services.find(token, "orders", f"/orders/{order_id}")
        so = await services.find(token, "supervision", f"/service-orders/by-order/{order_id}")
    except ServiceError as exc:
        return render(request, "order.html", status=exc.status, order=None, so=None, error=exc)
    if order is None and so is None:
        return render(request, "order.html", status=404, order=None, so=None, not_found=True)
    return render(request, "order.html", order=order, so=so, steps=steps_for(so, user["role"]))


def steps_for(so: dict[str, Any] | None, role: str) -> list[dict[str, Any]]:
    """The current node's actions this role takes, with what each needs (evidence kinds, activation time)."""
    if not so or not so.get("next_step"):
        return []
    node = so["template"]["nodes"][so["next_step"]["node"]]
    steps = []
    for name, actor in so["next_step"]["actions"].items():
        if actor != role:
            continue
        transition = node["actions"][name]
        steps.append(
            {
                "action": name,
                "evidence": list(transition.get("requires_evidence") or []),
                "activation": bool(transition.get("records_activation_time")),
            }
        )
    return steps


@router.post("/orders/{order_id}/actions/{action}")
async def act(request: Request, order_id: str, action: str) -> Response:
    await check_csrf(request)
    token, services, form = await token_of(request), services_of(request), await request.form()
    to = f"/orders/{order_id}"
    try:
        so = await services.call(token, "GET", "supervision", f"/service-orders/by-order/{order_id}")
        so_id = so["service_order_id"]
        evidence = []
        for kind, upload in form.multi_items():
            if isinstance(upload, UploadFile) and upload.filename:
                evidence.append(await _upload(services, token, so_id, kind, upload))
        body: dict[str, Any] = {"note": str(form.get("note") or "")}
        if evidence:
            body["evidence"] = evidence
        if form.get("actual_activation_time"):
            body["actual_activation_time"] = f"{form['actual_activation_time']}:00{BEIJING_OFFSET}"
        await services.call(
            token, "POST", "supervision", f"/service-orders/{so_id}/actions/{action}", json=body
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


@router.post("/orders/{order_id}/appeals")
async def appeal(request: Request, order_id: str) -> Response:
    await check_csrf(request)
    token, services, form = await token_of(request), services_of(request), await request.form()
    to = f"/orders/{order_id}"
    try:
        so = await services.call(token, "GET", "supervision", f"/service-orders/by-order/{order_id}")
        so_id = so["service_order_id"]
        attachments = []
        upload = form.get("attachment")
        if isinstance(upload, UploadFile) and upload.filename:
            attachments.append(
                (await _upload(services, token, so_id, "appeal_attachment", upload))["file_id"]
            )
        body = {
            "reason": str(form.get("reason") or ""),
            "demands": str(form.get("demands") or ""),
            "attachments": attachments,
        }
        await services.call(token, "POST", "supervision", f"/service-orders/{so_id}/appeals", json=body)
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


@router.post("/orders/{order_id}/appeals/{appeal_id}/resolution")
async def resolve(request: Request, order_id: str, appeal_id: str) -> Response:
    await check_csrf(request)
    token, services, form = await token_of(request), services_of(request), await request.form()
    to = f"/orders/{order_id}"
    try:
        so = await services.call(token, "GET", "supervision", f"/service-orders/by-order/{order_id}")
        body = {"outcome": str(form.get("outcome") or ""), "note": str(form.get("note") or "")}
        await services.call(
            token,
            "POST",
            "supervision",
            f"/service-orders/{so['service_order_id']}/appeals/{appeal_id}/resolution",
            json=body,
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


async def _upload(
    services: Services, token: str, so_id: str, kind: str, upload: UploadFile
) -> dict[str, Any]:
    """An evidence file goes to supervision first (it keeps the bytes and their digest); the step names it."""
    content = await upload.read()
    stored = await services.call(
        token,
        "POST",
        "supervision",
        f"/service-orders/{so_id}/files",
        data={"kind": kind},
        files={
            "file": (upload.filename or "file", content, upload.content_type or "application/octet-stream")
        },
    )
    return {"kind": kind, "name": stored["name"], "file_id": stored["file_id"], "sha256": stored["sha256"]}


# --- inbox (every role) -------------------------------------------------------------------------------
@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    user = user_of(request)
    try:
        page = await services_of(request).call(
            await token_of(request),
            "GET",
            "notification",
            f"/accounts/{user['sub']}/inbox",
            params={"limit": 50},
        )
    except ServiceError as exc:
        return render(request, "inbox.html", page={"items": [], "unread": 0, "total": 0}, error=exc)
    return render(request, "inbox.html", page=page)


@router.get("/inbox/unread", response_class=HTMLResponse)
async def unread_badge(request: Request) -> Response:
    """The menu's unread count (htmx loads it after the page and refreshes it)."""
    user = user_of(request)
    try:
        counts = await services_of(request).call(
            await token_of(request), "GET", "notification", f"/accounts/{user['sub']}/inbox/unread-count"
        )
    except ServiceError:
        return HTMLResponse("")
    return render(request, "_badge.html", unread=int(counts.get("unread", 0)))


@router.post("/inbox/{message_id}/read")
async def mark_read(request: Request, message_id: str) -> Response:
    await check_csrf(request)
    user = user_of(request)
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "notification",
            f"/accounts/{user['sub']}/inbox/{message_id}/read",
        )
    except ServiceError as exc:
        return back(request, "/inbox", exc)
    return back(request, "/inbox")


@router.post("/inbox/read-all")
async def read_all(request: Request) -> Response:
    await check_csrf(request)
    user = user_of(request)
    try:
        await services_of(request).call(
            await token_of(request), "POST", "notification", f"/accounts/{user['sub']}/inbox/read-all"
        )
    except ServiceError as exc:
        return back(request, "/inbox", exc)
    return back(request, "/inbox")
