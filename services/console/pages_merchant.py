"""The seller center's own pages: products and their publishing status, and the endpoint console (the
marketplace's calls to the merchant's endpoints, their failures, and replay). Its service orders are the
shared list (pages.py `/service-orders`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import ServiceError
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


# --- products and their publishing status --------------------------------------------------------
@router.get("/merchant/products", response_class=HTMLResponse)
async def my_products(request: Request) -> Response:
    """The merchant's listed products (the catalogue lists only those), and a new product's form."""
    user = user_of(request)
    try:
        listed = await services_of(request).call(await token_of(request), "GET", "orders", "/products")
    except ServiceError as exc:
        return render(request, "products.html", products=[], error=exc)
    mine = [p for p in listed if p.get("merchant_account_id") == user["sub"]]
    return render(request, "products.html", products=mine)


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
        product = await services_of(request).call(
            await token_of(request), "POST", "orders", "/products", json=body
        )
    except ServiceError as exc:
        return back(request, "/merchant/products", exc)
    return back(request, f"/merchant/products/{product['product_id']}")


@router.get("/merchant/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, product_id: str) -> Response:
    user_of(request)
    try:
        product = await services_of(request).find(
            await token_of(request), "orders", f"/products/{product_id}"
        )
    except ServiceError as exc:
        return render(request, "product.html", product=None, error=exc)
    return render(request, "product.html", product=product, status=200 if product else 404)


@router.post("/merchant/products/{product_id}/publish")
async def publish(request: Request, product_id: str) -> Response:
    """Submit the product for the operators' review (dossier §9.1)."""
    await check_csrf(request)
    to = f"/merchant/products/{product_id}"
    try:
        await services_of(request).call(
            await token_of(request), "POST", "orders", f"/products/{product_id}/publish"
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


# --- the endpoint console ---------------------------------------------------------------------------------
@router.get("/merchant/console", response_class=HTMLResponse)
async def endpoint_console(request: Request) -> Response:
    """Dossier §8: per endpoint the calls, attempts, failed attempts and success rate, and the recent calls
    with their last attempt; a failed call has its replay button (the console's "重新启动")."""
    user = user_of(request)
    try:
        found = await services_of(request).call(
            await token_of(request), "GET", "partner", f"/merchants/{user['sub']}/console"
        )
    except ServiceError as exc:
        return render(request, "endpoints.html", endpoints={}, error=exc)
    endpoints: dict[str, Any] = found.get("endpoints") or {}
    for stats in endpoints.values():
        for call in stats.get("recent") or []:
            attempts = call.get("attempts") or []
            call["last_attempt"] = attempts[-1] if attempts else None
    return render(request, "endpoints.html", endpoints=endpoints)


@router.post("/merchant/calls/{call_id}/replay")
async def replay_call(request: Request, call_id: str) -> Response:
    await check_csrf(request)
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "partner",
            f"/merchant-calls/{call_id}/replay",
            key=await idempotency_key(request, call_id),
        )
    except ServiceError as exc:
        return back(request, "/merchant/console", exc)
    return back(request, "/merchant/console")


# --- a buyer's refund request -----------------------------------------------------------------------------
@router.post("/orders/{order_id}/refunds/{refund_id}/decision")
async def decide_refund(request: Request, order_id: str, refund_id: str) -> Response:
    """Dossier §1.4: the merchant agrees (with the agreed record: a document it keeps, by its reference) or
    refuses with its opinion, within its review time."""
    await check_csrf(request)
    form = await request.form()
    approve = str(form.get("decision") or "") == "approve"
    body: dict[str, Any] = {"approve": approve, "opinion": str(form.get("opinion") or "").strip()}
    record = str(form.get("agreed_record") or "").strip()
    if approve and record:
        body["agreed_record"] = {"kind": "document", "ref": record}
    to = f"/orders/{order_id}"
    try:
        await services_of(request).call(
            await token_of(request),
            "POST",
            "orders",
            f"/orders/{order_id}/refunds/{refund_id}/decision",
            json=body,
            key=await idempotency_key(request, refund_id),
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)
