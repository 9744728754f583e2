"""HTTP conventions: who is calling, and how refusals look (status, stable code, the field, the reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from shared.platform.errors import DomainError

# The gateway in front of the suite authenticates the caller and forwards the account id. Tests and the demo
# set it directly; the services never trust a role the caller claims, only what the order says the account is.
AccountId = Annotated[str, Header(alias="X-Account-Id", min_length=1, max_length=64,
                                  description="Authenticated account making the call (set by the gateway)")]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        detail = {"code": exc.code, "message": exc.message}
        if exc.field:
            detail["field"] = exc.field
        return JSONResponse(status_code=exc.status, content={"detail": detail})
