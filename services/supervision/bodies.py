"""Request bodies are bounded before they are read, not after.

FastAPI reads a route's body (JSON, or a multipart form into spooled files) before the route runs, and with no
limit of its own. These route classes put the limit under it: a declared `Content-Length` above the route's
limit is refused before anything is read, and a body without one (chunked) is counted as it arrives and
refused the moment it passes the limit. Either way the answer is 413, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

JSON_MAX = 256 * 1024  # far above the largest valid command (2000-character notes, 20 evidence items)
FORM_OVERHEAD = 16 * 1024  # multipart boundaries, part headers and the short `kind` field around the file


def too_large(limit: int, field: str) -> HTTPException:
    return HTTPException(
        status_code=413,
        detail={
            "code": "too_large",
            "field": field,
            "message": f"the request body has more than {limit} bytes; the {field} may have at most "
            f"{limit if field == 'body' else limit - FORM_OVERHEAD} bytes",
        },
    )


def counting(receive: Receive, limit: int, field: str) -> Receive:
    """`receive`, refusing the body once more than `limit` bytes have come (raised inside FastAPI's body
    parsing; it lets an HTTPException through as it is)."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit, field)
        return message

    return bounded


class BoundedBody(APIRoute):
    """A route whose body may have at most `limit(request)` bytes."""

    field = "body"

    def limit(self, request: Request) -> int:
        return JSON_MAX

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            limit = self.limit(request)
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large(limit, self.field)
            return await handler(Request(request.scope, counting(request.receive, limit, self.field)))

        return bounded


class BoundedUpload(BoundedBody):
    """The evidence upload: the file's own limit (`Limits.max_bytes`) plus the form around it. The exact limit
    is then applied to the file's bytes as they are read (`evidence.receive`)."""

    field = "file"

    def limit(self, request: Request) -> int:
        service: Any = request.app.state.supervision
        return int(service.limits.max_bytes) + FORM_OVERHEAD
