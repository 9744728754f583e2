"""What every page module shares: the logged-in user, their access token, the services' client, rendering, the
CSRF check and post/redirect/get with the service's own words as the flash message."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import ServiceError, Services
from services.console.oidc import LoginRequired, access_token

BEIJING_OFFSET = "+08:00"  # a date or datetime-local input is Beijing wall-clock time (dossier §4.3)


class CsrfRefused(Exception):
    pass


async def check_csrf(request: Request) -> None:
    form = await request.form()
    sent = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
    expected = str(request.session.get("csrf") or "")
    if not expected or not secrets.compare_digest(sent, expected):
        raise CsrfRefused


def user_of(request: Request) -> dict[str, Any]:
    user = request.session.get("user")
    if not user:
        raise LoginRequired("not logged in")
    return dict(user)


async def token_of(request: Request) -> str:
    return await access_token(request, request.app.state.oidc, request.app.state.settings)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    response: Response = request.app.state.render(request, name, status, **ctx)
    return response


def back(request: Request, to: str, error: ServiceError | None = None) -> Response:
    request.session["flash"] = (
        {"message": error.message, "field": error.field, "kind": "error"} if error else {"kind": "done"}
    )
    return RedirectResponse(to, status_code=303)


async def idempotency_key(request: Request, what: str) -> str:
    """A form's own key (made when the page was rendered) and what it acts on: sent as the Idempotency-Key, so
    the same form posted twice applies once, while each row's button is a request of its own."""
    form = await request.form()
    nonce = str(form.get("key") or "")
    return f"console:{nonce}:{what}"[:200] if nonce else ""


def back_to(request: Request, prefix: str) -> str:
    """The list page (with its filters) a row's button was posted from; only a page under `prefix`."""
    sent = str(request.query_params.get("back") or "")
    return sent if sent.startswith(prefix) and not sent.startswith("//") else prefix


def page_url(path: str, params: dict[str, str], **more: str) -> str:
    """A list's own URL with its filters (and, say, the next page's cursor); empty filters left out."""
    query = {k: v for k, v in {**params, **more}.items() if v}
    return f"{path}?{urlencode(query)}" if query else path


def beijing_day(value: str, field: str, after: bool = False) -> str:
    """A date input (YYYY-MM-DD) as the start of that Beijing day, or of the next one for an inclusive end
    ("created to 30 Nov" keeps what was created on 30 Nov); a date that is none is the field's 422."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ServiceError(422, "expected a date like 2026-11-30", field, "invalid") from exc
    return f"{day + timedelta(days=1 if after else 0)}T00:00:00{BEIJING_OFFSET}"
