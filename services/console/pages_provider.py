"""The partner center: the provider's ledger and statement, and its selling (dossier §7.5): private links that
bind an order to the provider, exclusive offers (beyond the authorized discount they wait for an operator's
special approval), and customer demands filed with a merchant. The page lists the provider's offers and
demands (partner `GET /offers`, `GET /demands`, newest first, a page at a time); each opens on its own
page."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.backend import ServiceError
from services.console.web import (
    back,
    beijing_day,
    check_csrf,
    idempotency_key,
    page_url,
    render,
    services_of,
    token_of,
    user_of,
)

router = APIRouter()


# --- provider ---------------------------------------------------------------------------------------------
@router.get("/provider/ledger", response_class=HTMLResponse)
async def ledger(request: Request) -> Response:
    """The provider's ledger entries and its statement (bills, invoices, billed and unbilled)."""
    user = user_of(request)
    token, services = await token_of(request), services_of(request)
    try:
        book = await services.call(token, "GET", "partner", f"/providers/{user['sub']}/ledger")
        statement = await services.call(token, "GET", "partner", f"/providers/{user['sub']}/statement")
    except ServiceError as exc:
        return render(request, "ledger.html", book=None, statement=None, error=exc)
    return render(request, "ledger.html", book=book, statement=statement)


# --- selling: private links, offers, demands ---------------------------------------------------------------
async def listed(request: Request, path: str, cursor: str) -> dict[str, Any]:
    """One page of the provider's offers or demands: `items`, `next_cursor`, and `error` when partner failed
    (that list's section says so, the rest of the page still works)."""
    try:
        page: dict[str, Any] = await services_of(request).call(
            await token_of(request), "GET", "partner", path, params={"cursor": cursor} if cursor else {}
        )
    except ServiceError as exc:
        return {"items": [], "next_cursor": None, "error": exc}
    return page


@router.get("/provider/selling", response_class=HTMLResponse)
async def selling(
    request: Request,
    offer_id: str = "",
    demand_id: str = "",
    offers_cursor: str = "",
    demands_cursor: str = "",
) -> Response:
    user_of(request)
    if offer_id.strip():
        return RedirectResponse(f"/provider/offers/{offer_id.strip()}", status_code=303)
    if demand_id.strip():
        return RedirectResponse(f"/provider/demands/{demand_id.strip()}", status_code=303)
    offers = await listed(request, "/offers", offers_cursor)
    demands = await listed(request, "/demands", demands_cursor)
    here = {"offers_cursor": offers_cursor, "demands_cursor": demands_cursor}
    return render(
        request,
        "selling.html",
        link=request.session.pop("made_link", None),
        offers=offers,
        demands=demands,
        offers_next=page_url("/provider/selling", here, offers_cursor=offers["next_cursor"] or "")
        if offers.get("next_cursor")
        else "",
        demands_next=page_url("/provider/selling", here, demands_cursor=demands["next_cursor"] or "")
        if demands.get("next_cursor")
        else "",
    )


@router.post("/provider/private-links")
async def make_link(request: Request) -> Response:
    """A signed, expiring link for one customer and product (or offer); shown once, to copy and send."""
    await check_csrf(request)
    user, form = user_of(request), await request.form()
    body: dict[str, Any] = {
        k: str(form.get(k) or "").strip() or None for k in ("product_id", "customer_account_id", "offer_id")
    }
    days = str(form.get("days") or "").strip()
    try:
        if days:
            if not days.isdigit() or not 1 <= int(days) <= 365:
                raise ServiceError(422, "a whole number of days from 1 to 365", "days", "invalid")
            body["ttl_seconds"] = int(days) * 86400
        made = await services_of(request).call(
            await token_of(request),
            "POST",
            "partner",
            f"/providers/{user['sub']}/private-links",
            json=body,
            key=await idempotency_key(request, "link"),
        )
    except ServiceError as exc:
        return back(request, "/provider/selling", exc)
    request.session["made_link"] = made
    return back(request, "/provider/selling")


@router.post("/provider/offers")
async def make_offer(request: Request) -> Response:
    """An exclusive offer for one customer: its products, discount (a fraction, 0.85 = 15% off) and validity
    (Beijing days, the last one included)."""
    await check_csrf(request)
    form = await request.form()
    try:
        body = {
            "name": str(form.get("name") or "").strip(),
            "customer_account_id": str(form.get("customer_account_id") or "").strip(),
            "product_ids": [p for p in re.split(r"[\s,]+", str(form.get("product_ids") or "")) if p],
            "discount": str(form.get("discount") or "").strip(),
            "valid_from": beijing_day(str(form.get("valid_from") or ""), "valid_from"),
            "valid_until": beijing_day(str(form.get("valid_until") or ""), "valid_until", after=True),
        }
        offer = await services_of(request).call(
            await token_of(request),
            "POST",
            "partner",
            "/offers",
            json=body,
            key=await idempotency_key(request, "offer"),
        )
    except ServiceError as exc:
        return back(request, "/provider/selling", exc)
    return back(request, f"/provider/offers/{offer['offer_id']}")


@router.get("/provider/offers/{offer_id}", response_class=HTMLResponse)
async def offer_page(request: Request, offer_id: str) -> Response:
    user_of(request)
    try:
        offer = await services_of(request).find(await token_of(request), "partner", f"/offers/{offer_id}")
    except ServiceError as exc:
        return render(request, "offer.html", offer=None, error=exc)
    return render(request, "offer.html", offer=offer, status=200 if offer else 404)


@router.post("/provider/offers/{offer_id}/withdraw")
async def withdraw_offer(request: Request, offer_id: str) -> Response:
    """Its issuer withdraws an offer still waiting for approval."""
    await check_csrf(request)
    to = f"/provider/offers/{offer_id}"
    try:
        await services_of(request).call(
            await token_of(request), "POST", "partner", f"/offers/{offer_id}/withdraw"
        )
    except ServiceError as exc:
        return back(request, to, exc)
    return back(request, to)


@router.post("/provider/demands")
async def file_demand(request: Request) -> Response:
    """A customer's demand filed with the merchant of a product (joint selling); the merchant answers it
    with an offer."""
    await check_csrf(request)
    form = await request.form()
    body = {
        k: str(form.get(k) or "").strip()
        for k in ("merchant_account_id", "customer_account_id", "product_id", "description")
    }
    try:
        demand = await services_of(request).call(
            await token_of(request),
            "POST",
            "partner",
            "/demands",
            json=body,
            key=await idempotency_key(request, "demand"),
        )
    except ServiceError as exc:
        return back(request, "/provider/selling", exc)
    return back(request, f"/provider/demands/{demand['demand_id']}")


@router.get("/provider/demands/{demand_id}", response_class=HTMLResponse)
async def demand_page(request: Request, demand_id: str) -> Response:
    user_of(request)
    try:
        demand = await services_of(request).find(await token_of(request), "partner", f"/demands/{demand_id}")
    except ServiceError as exc:
        return render(request, "demand.html", demand=None, error=exc)
    return render(request, "demand.html", demand=demand, status=200 if demand else 404)
