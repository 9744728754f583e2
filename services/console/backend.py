"""The four services, called with the user's own bearer token: the services decide what the user may see and
do (the console holds no rule of its own about it), and their 4xx answers become readable messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class ServiceError(Exception):
    """A service refused or failed: what to show the user (never a stack trace)."""

    status: int
    message: str
    field: str = ""
    code: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def error_of(resp: httpx.Response) -> ServiceError:
    """The service's own words: `{"detail": {"code", "message", "field"}}` for a domain error, FastAPI's
    `{"detail": [{"loc", "msg"}]}` for a body that failed validation."""
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict):
        return ServiceError(
            resp.status_code,
            str(detail.get("message") or detail.get("code") or resp.reason_phrase),
            str(detail.get("field") or ""),
            str(detail.get("code") or ""),
        )
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path")]
        return ServiceError(resp.status_code, str(first.get("msg", "invalid")), ".".join(loc), "invalid")
    if isinstance(detail, str):
        return ServiceError(resp.status_code, detail)
    return ServiceError(resp.status_code, f"{resp.status_code} {resp.reason_phrase}")


class Services:
    """One shared HTTP client (made in the lifespan) for calls on behalf of whoever is logged in."""

    def __init__(self, urls: dict[str, str], http: httpx.AsyncClient) -> None:
        self.urls, self.http = urls, http

    async def call(self, token: str, method: str, service: str, path: str, key: str = "", **kw: Any) -> Any:
        """`key`, when given, goes as the Idempotency-Key: a form sent twice (a double click, a resent post)
        applies its step once (shared/platform/effects.py)."""
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        try:
            resp = await self.http.request(method, self.urls[service] + path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise ServiceError(503, f"the {service} service does not answer ({type(exc).__name__})") from exc
        if resp.status_code >= 400:
            raise error_of(resp)
        return resp.json() if resp.content else None

    async def find(self, token: str, service: str, path: str) -> Any:
        """The resource, or None when the service answers 404 (not there yet, or not this user's)."""
        try:
            return await self.call(token, "GET", service, path)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
