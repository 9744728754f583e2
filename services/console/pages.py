"""The centres' pages: thin adapters that call the services with the user's token and render what they answer.

Form posts follow post/redirect/get: the step is taken, then the browser is sent back to the page, with the
service's own words as a flash message when it refused (its 4xx's field and reason, never a stack trace).
Every post carries the session's CSRF token (with SameSite=Lax on the session cookie).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.console.backend import ServiceError, Services
from services.console.oidc import LoginRequired, access_token

router = APIRouter()
BEIJING_OFFSET = "+08:00"  # a datetime-local input is Beijing wall-clock time (dossier §4.3)


class CsrfRefused(Exception):
    pass


async def check_csrf(request: Request) -> None:
    form = await request.form()
    sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    expected = str(request.session.get("csrf") or "")
    if not expected or not secrets.compare_digest(sent, expected):
        raise CsrfRefused


def _user(request: Request) -> dict[str, Any]:
    user = request.session.get("user")
    if not user:
        raise LoginRequired("not logged in")
    return dict(user)


async def _token(request: Request) -> str:
    return await access_token(request, request.app.state.oidc, request.app.state.settings)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    response: Response = request.app.state.render(request, name, status, **ctx)
    return response


def _back(request: Request, to: str, error: ServiceError | None = None) -> Response:
    request.session["flash"] = (
        {"message": error.message, "field": error.field, "kind": "error"} if error else {"kind": "done"}
    )
    return RedirectResponse(to, status_code=303)


# --- buyer ------------------------------------------------------------------------------------------------
@router.get("/buyer/orders", response_class=HTMLResponse)
async def my_orders(request: Request) -> Response:
    _user(request)
    try:
        orders = await _services(request).call(await _token(request), "GET", "orders", "/purchased-services")
    except ServiceError as exc:
        return _render(request, "orders.html", orders=[], error=exc)
    orders.sort(key=lambda o: o.get("created_at", ""), reverse=True)
    return _render(request, "orders.html", orders=orders)


# --- one order and its service order, for each of its parties ------------------------------------------
@router.get("/service-orders", response_class=HTMLResponse)
async def find_service_order(request: Request, order_id: str = "") -> Response:
    _user(request)
    if order_id.strip():
        return RedirectResponse(f"/orders/{order_id.strip()}", status_code=303)
    return _render(request, "find.html")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str) -> Response:
    user = _user(request)
    token, services = await _token(request), _services(request)
    try:
        order = await services.find(token, "orders", f"/orders/{order_id}")
        so = await services.find(token, "supervision", f"/service-orders/by-order/{order_id}")
    except ServiceError as exc:
        return _render(request, "order.html", status=exc.status, order=None, so=None, error=exc)
    if order is None and so is None:
        return _render(request, "order.html", status=404, order=None, so=None, not_found=True)
    return _render(request, "order.html", order=order, so=so, steps=steps_for(so, user["role"]))


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
    token, services, form = await _token(request), _services(request), await request.form()
    back = f"/orders/{order_id}"
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
        return _back(request, back, exc)
    return _back(request, back)


@router.post("/orders/{order_id}/appeals")
async def appeal(request: Request, order_id: str) -> Response:
    await check_csrf(request)
    token, services, form = await _token(request), _services(request), await request.form()
    back = f"/orders/{order_id}"
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
        return _back(request, back, exc)
    return _back(request, back)


@router.post("/orders/{order_id}/appeals/{appeal_id}/resolution")
async def resolve(request: Request, order_id: str, appeal_id: str) -> Response:
    await check_csrf(request)
    token, services, form = await _token(request), _services(request), await request.form()
    back = f"/orders/{order_id}"
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
        return _back(request, back, exc)
    return _back(request, back)


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
    user = _user(request)
    try:
        page = await _services(request).call(
            await _token(request),
            "GET",
            "notification",
            f"/accounts/{user['sub']}/inbox",
            params={"limit": 50},
        )
    except ServiceError as exc:
        return _render(request, "inbox.html", page={"items": [], "unread": 0, "total": 0}, error=exc)
    return _render(request, "inbox.html", page=page)


@router.get("/inbox/unread", response_class=HTMLResponse)
async def unread_badge(request: Request) -> Response:
    """The menu's unread count (htmx loads it after the page and refreshes it)."""
    user = _user(request)
    try:
        counts = await _services(request).call(
            await _token(request), "GET", "notification", f"/accounts/{user['sub']}/inbox/unread-count"
        )
    except ServiceError:
        return HTMLResponse("")
    return _render(request, "_badge.html", unread=int(counts.get("unread", 0)))


@router.post("/inbox/{message_id}/read")
async def mark_read(request: Request, message_id: str) -> Response:
    await check_csrf(request)
    user = _user(request)
    try:
        await _services(request).call(
            await _token(request), "POST", "notification", f"/accounts/{user['sub']}/inbox/{message_id}/read"
        )
    except ServiceError as exc:
        return _back(request, "/inbox", exc)
    return _back(request, "/inbox")


@router.post("/inbox/read-all")
async def read_all(request: Request) -> Response:
    await check_csrf(request)
    user = _user(request)
    try:
        await _services(request).call(
            await _token(request), "POST", "notification", f"/accounts/{user['sub']}/inbox/read-all"
        )
    except ServiceError as exc:
        return _back(request, "/inbox", exc)
    return _back(request, "/inbox")


# --- provider ---------------------------------------------------------------------------------------------
@router.get("/provider/ledger", response_class=HTMLResponse)
async def ledger(request: Request) -> Response:
    """The provider's ledger entries and its statement (bills, invoices, billed and unbilled)."""
    user = _user(request)
    token, services = await _token(request), _services(request)
    try:
        book = await services.call(token, "GET", "partner", f"/providers/{user['sub']}/ledger")
        statement = await services.call(token, "GET", "partner", f"/providers/{user['sub']}/statement")
    except ServiceError as exc:
        return _render(request, "ledger.html", book=None, statement=None, error=exc)
    return _render(request, "ledger.html", book=book, statement=statement)


# --- merchant: products and their publishing status --------------------------------------------------
@router.get("/merchant/products", response_class=HTMLResponse)
async def my_products(request: Request) -> Response:
    """The merchant's listed products (the catalogue lists only those), and a new product's form."""
    user = _user(request)
    try:
        listed = await _services(request).call(await _token(request), "GET", "orders", "/products")
    except ServiceError as exc:
        return _render(request, "products.html", products=[], error=exc)
    mine = [p for p in listed if p.get("merchant_account_id") == user["sub"]]
    return _render(request, "products.html", products=mine)


@router.post("/merchant/products")
async def create_product(request: Request) -> Response:
    """A supervised manual service with one one-time specification; it stays a draft until published."""
    await check_csrf(request)
    form = await request.form()
    body = {
        "name": str(form.get("name") or ""),
        "delivery_type": "manual_service",
        "flow_template": "manual_service.standard",
        "promised_delivery_days": int(str(form.get("promised_delivery_days") or "0") or 0) or None,
        "acceptance_standard": str(form.get("acceptance_standard") or "") or None,
        "specifications": [
            {
                "spec_id": "std",
                "name": "Standard",
                "billing_mode": "one_time",
                "price": str(form.get("price")),
            }
        ],
    }
    try:
        product = await _services(request).call(
            await _token(request), "POST", "orders", "/products", json=body
        )
    except ServiceError as exc:
        return _back(request, "/merchant/products", exc)
    return _back(request, f"/merchant/products/{product['product_id']}")


@router.get("/merchant/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, product_id: str) -> Response:
    _user(request)
    try:
        product = await _services(request).find(await _token(request), "orders", f"/products/{product_id}")
    except ServiceError as exc:
        return _render(request, "product.html", product=None, error=exc)
    return _render(request, "product.html", product=product, status=200 if product else 404)


@router.post("/merchant/products/{product_id}/publish")
async def publish(request: Request, product_id: str) -> Response:
    """Submit the product for the operators' review (dossier §9.1)."""
    await check_csrf(request)
    back = f"/merchant/products/{product_id}"
    try:
        await _services(request).call(
            await _token(request), "POST", "orders", f"/products/{product_id}/publish"
        )
    except ServiceError as exc:
        return _back(request, back, exc)
    return _back(request, back)
