"""The buyer center's own pages: purchased services (filtered), a refund / unsubscribe request, favourites,
and the message centre (the people who receive the account's messages, and their verification). Its service
orders are the shared list (pages.py `/service-orders`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import ServiceError
from services.console.i18n import DELIVERY_TYPES, ORDER_STATUSES
from services.console.web import (
    back,
    check_csrf,
    idempotency_key,
    render,
    services_of,
    token_of,
    user_of,
)

router = APIRouter()


# --- purchased services -------------------------------------------------------------------------------
@router.get("/buyer/orders", response_class=HTMLResponse)
async def my_orders(request: Request) -> Response:
    """Dossier §9.2 (已购服务): the buyer's orders, filtered by orders `GET /purchased-services`."""
    user_of(request)
    filters = {k: str(request.query_params.get(k) or "") for k in ("status", "delivery_type", "name")}
    ctx: dict[str, Any] = {"filters": filters, "statuses": ORDER_STATUSES, "delivery_types": DELIVERY_TYPES}
    try:
        orders = await services_of(request).call(
            await token_of(request),
            "GET",
            "orders",
            "/purchased-services",
            params={k: v for k, v in filters.items() if v},
        )
    except ServiceError as exc:
        return render(request, "orders.html", orders=[], error=exc, **ctx)
    orders.sort(key=lambda o: o.get("created_at", ""), reverse=True)
    return render(request, "orders.html", orders=orders, **ctx)


@router.post("/orders/{order_id}/unsubscribe")
async def unsubscribe(request: Request, order_id: str) -> Response:
    """Ask for a refund (unsubscribe): a negotiated refund the merchant decides for a supervised service, the
    no-reason refund in its first days otherwise (dossier §1.4, §4; orders decides which applies)."""
    await check_csrf(request)
    form = await request.form()
    body: dict[str, Any] = {"reason": str(form.get("reason") or "")}
    if str(form.get("amount") or "").strip():
        body["amount"] = str(form.get("amount")).strip()
    to = f"/orders/{order_id}"
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "orders",
            f"/purchased-services/{order_id}/unsubscribe",
            json=body,
            key=await idempotency_key(request, order_id),
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


# --- favourites ---------------------------------------------------------------------------------------
@router.get("/buyer/favourites", response_class=HTMLResponse)
async def favourites(request: Request) -> Response:
    """Dossier §9.2 (我的收藏): each kept product with its name and status as orders shows it now."""
    user_of(request)
    token, services = await token_of(request), services_of(request)
    try:
        kept = await services.call(token, "GET", "orders", "/favourites")
        for fav in kept:
            fav["product"] = await services.find(token, "orders", f"/products/{fav['product_id']}")
    except ServiceError as exc:
        return render(request, "favourites.html", favourites=[], error=exc)
    return render(request, "favourites.html", favourites=kept)


@router.post("/buyer/favourites")
async def add_favourite(request: Request) -> Response:
    await check_csrf(request)
    form = await request.form()
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "orders",
            "/favourites",
            json={"product_id": str(form.get("product_id") or "").strip()},
        )
    except ServiceError as exc:
        return back(request, "/buyer/favourites", exc)
    return back(request, "/buyer/favourites")


@router.post("/buyer/favourites/{product_id}/remove")
async def remove_favourite(request: Request, product_id: str) -> Response:
    await check_csrf(request)
    try:
        await services_of(request).call(
            await token_of(request), "DELETE", "orders", f"/favourites/{product_id}"
        )
    except ServiceError as exc:
        return back(request, "/buyer/favourites", exc)
    return back(request, "/buyer/favourites")


@router.post("/buyer/favourites/{product_id}/buy")
async def buy_favourite(request: Request, product_id: str) -> Response:
    """Order the kept product (its default specification); the new order's page follows, to pay it."""
    await check_csrf(request)
    try:
        order = await services_of(request).call(
            await token_of(request),
            "POST",
            "orders",
            f"/favourites/{product_id}/buy",
            json={},
            key=await idempotency_key(request, product_id),
        )
    except ServiceError as exc:
        return back(request, "/buyer/favourites", exc)
    return back(request, f"/orders/{order['order_id']}")


# --- the message centre -----------------------------------------------------------------------------------
def _recipients_path(user: dict[str, Any], rest: str = "") -> str:
    return f"/accounts/{user['sub']}/recipients{rest}"


@router.get("/messages/recipients", response_class=HTMLResponse)
async def recipients(request: Request) -> Response:
    """Dossier §9.2 (消息接收管理): who receives the account's messages, and whether their email and phone
    are verified (a message goes only to verified addresses)."""
    user = user_of(request)
    try:
        found = await services_of(request).call(
            await token_of(request), "GET", "notification", _recipients_path(user), params={"limit": 100}
        )
    except ServiceError as exc:
        return render(request, "recipients.html", recipients=[], error=exc)
    return render(request, "recipients.html", recipients=found)


@router.post("/messages/recipients")
async def add_recipient(request: Request) -> Response:
    """A new recipient: notification sends it an email link and an SMS code to verify each address."""
    await check_csrf(request)
    user, form = user_of(request), await request.form()
    new = {k: str(form.get(k) or "").strip() for k in ("name", "email", "phone")}
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "notification",
            _recipients_path(user),
            json={"recipients": [new]},
            key=await idempotency_key(request, "add"),
        )
    except ServiceError as exc:
        return back(request, "/messages/recipients", exc)
    return back(request, "/messages/recipients")


@router.post("/messages/recipients/{recipient_id}/verify-phone")
async def verify_phone(request: Request, recipient_id: str) -> Response:
    """The code the recipient received by SMS."""
    await check_csrf(request)
    user, form = user_of(request), await request.form()
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "notification",
            _recipients_path(user, f"/{recipient_id}/verify-phone"),
            params={"code": str(form.get("code") or "").strip()},
        )
    except ServiceError as exc:
        return back(request, "/messages/recipients", exc)
    return back(request, "/messages/recipients")


@router.post("/messages/recipients/{recipient_id}/resend")
async def resend(request: Request, recipient_id: str) -> Response:
    """Send the verification email and SMS again (notification limits how often)."""
    await check_csrf(request)
    user = user_of(request)
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "notification",
            _recipients_path(user, f"/{recipient_id}/resend"),
            key=await idempotency_key(request, recipient_id),
        )
    except ServiceError as exc:
        return back(request, "/messages/recipients", exc)
    return back(request, "/messages/recipients")
